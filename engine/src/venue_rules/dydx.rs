//! dYdX v4 (`dydxprotocol/v4-chain`, `protocol/x/clob/keeper/liquidations.go`).
//!
//! Money is in quote quantums (10^-6 USDC), which are gavel's quote units, so
//! the venue functions below take and return gavel money unchanged. Names
//! follow dYdX: TNC total net collateral, TMMR total maintenance margin
//! requirement, PNNV / PMMR the position's net notional / maintenance, PS its
//! size, DNNV / DMMR their change when the position shrinks by the delta.

use super::{full_bankruptcy_price, positive, ticks, Decision, PositionState};
use crate::auction::fixed::mul_div_floor;
use crate::risk::decimal::{div_ceil, div_floor};
use crate::risk::instrument::{Instrument, RATE_SCALE};

/// dYdX's parts-per-million unit.
pub const ONE_MILLION: u64 = 1_000_000;

/// The liquidation parameters (`LiquidationsConfig`); defaults are dYdX's
/// `LiquidationsConfig_Default` (`protocol/x/clob/types/liquidations_config.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DydxParams {
    /// `BA`: scales how fast the fillable price moves toward bankruptcy (≥ 10^6).
    pub bankruptcy_adjustment_ppm: u32,
    /// `SMMR`: largest liquidation spread as a fraction of PMMR (> 0).
    pub spread_to_maintenance_margin_ratio_ppm: u32,
    /// Cap of the fee the insurance fund takes, as a fraction of the fill (0, 10^6].
    pub max_liquidation_fee_ppm: u32,
    /// Smallest notional (quote quantums) an attempt may liquidate.
    pub min_position_notional_liquidated: u64,
    /// Largest share of a position an attempt may liquidate (0, 10^6].
    pub max_position_portion_liquidated_ppm: u32,
    /// Subaccount block limit: most notional (quote quantums) liquidated per
    /// block (> 0); gavel assumes nothing was liquidated earlier in the block.
    pub max_notional_liquidated: u64,
}

impl Default for DydxParams {
    fn default() -> Self {
        DydxParams {
            bankruptcy_adjustment_ppm: 1_000_000,
            spread_to_maintenance_margin_ratio_ppm: 100_000,
            max_liquidation_fee_ppm: 5_000,
            min_position_notional_liquidated: 1_000,
            max_position_portion_liquidated_ppm: 1_000_000,
            max_notional_liquidated: 100_000_000_000_000,
        }
    }
}

impl DydxParams {
    /// dYdX's `LiquidationsConfig.Validate` ranges; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if u64::from(self.bankruptcy_adjustment_ppm) < ONE_MILLION {
            return Err(("bankruptcy_adjustment_ppm", "must be >= 1000000".into()));
        }
        if self.spread_to_maintenance_margin_ratio_ppm == 0 {
            return Err(("spread_to_maintenance_margin_ratio_ppm", "must be > 0".into()));
        }
        if self.max_liquidation_fee_ppm == 0 || u64::from(self.max_liquidation_fee_ppm) > ONE_MILLION {
            return Err(("max_liquidation_fee_ppm", "must be in (0, 1000000]".into()));
        }
        let portion = u64::from(self.max_position_portion_liquidated_ppm);
        if portion == 0 || portion > ONE_MILLION {
            return Err(("max_position_portion_liquidated_ppm", "must be in (0, 1000000]".into()));
        }
        if self.max_notional_liquidated == 0 {
            return Err(("max_notional_liquidated", "must be > 0".into()));
        }
        Ok(())
    }
}

/// Liquidatable iff the requirement is non-zero and `TNC < TMMR`.
pub fn is_liquidatable(tnc: i128, tmmr: i128) -> bool {
    tmmr > 0 && tnc < tmmr
}

/// Deleveraging happens at the bankruptcy price only when `TNC < 0`
/// (`CanDeleverageSubaccount`); otherwise the fund or the book absorbs it.
pub fn deleverage_at_bankruptcy_price(tnc: i128) -> bool {
    tnc < 0
}

/// The bankruptcy price of a position delta in quote quantums (signed: what the
/// subaccount must at least receive, negative when it pays):
/// `−DNNV − floor(TNC·|DMMR| / TMMR)`, which rounds the result toward +∞.
/// `None` when `TMMR ≤ 0` (dYdX divides by it).
pub fn bankruptcy_quote(dnnv: i128, tnc: i128, dmmr: i128, tmmr: i128) -> Option<i128> {
    (tmmr > 0).then(|| -dnnv - div_floor(tnc * dmmr.abs(), tmmr))
}

/// `floor(ABR·SMMR·PMMR)` in quote quantums with
/// `ABR = clamp(BA·(1 − TNC/TMMR), 0, 1)`: the spread between the oracle
/// notional and the fillable price (`pmmr ≥ 0`, `tmmr > 0`).
pub fn spread_floor(params: &DydxParams, pmmr: i128, tnc: i128, tmmr: i128) -> i128 {
    if tnc >= tmmr || pmmr <= 0 || tmmr <= 0 {
        return 0;
    }
    let smmr = u128::from(params.spread_to_maintenance_margin_ratio_ppm);
    let abr_num = u128::from(params.bankruptcy_adjustment_ppm) * (tmmr - tnc) as u128;
    let abr_den = u128::from(ONE_MILLION) * tmmr as u128;
    let spread = if abr_num >= abr_den {
        mul_div_floor(pmmr as u128, smmr, u128::from(ONE_MILLION))
    } else {
        mul_div_floor(abr_num, smmr * pmmr as u128, abr_den * u128::from(ONE_MILLION))
    };
    spread.and_then(|s| i128::try_from(s).ok()).unwrap_or(i128::MAX)
}

/// The fillable price `(PNNV − ABR·SMMR·PMMR) / PS` as an exact reduced
/// fraction (quote quantums per base quantum); `None` on `PS = 0`,
/// `TMMR ≤ 0` or when the exact fraction does not fit `i128`.
pub fn fillable_price(params: &DydxParams, pnnv: i128, ps: i128, pmmr: i128, tnc: i128, tmmr: i128) -> Option<(i128, i128)> {
    if ps == 0 || tmmr <= 0 {
        return None;
    }
    let ba = i128::from(params.bankruptcy_adjustment_ppm);
    let smmr = i128::from(params.spread_to_maintenance_margin_ratio_ppm);
    let m = i128::from(ONE_MILLION);
    // ABR as num/den, clamped to [0, 1].
    let (abr_num, abr_den) = if tnc >= tmmr {
        (0, 1)
    } else {
        let n = ba.checked_mul(tmmr - tnc)?;
        let d = m.checked_mul(tmmr)?;
        if n >= d {
            (1, 1)
        } else {
            (n, d)
        }
    };
    let spread_den = abr_den.checked_mul(m)?;
    let spread_num = abr_num.checked_mul(smmr)?.checked_mul(pmmr)?;
    let num = pnnv.checked_mul(spread_den)?.checked_sub(spread_num)?;
    let den = spread_den.checked_mul(ps)?;
    let g = gcd(num.unsigned_abs(), den.unsigned_abs()).max(1) as i128;
    let (num, den) = (num / g, den / g);
    Some(if den < 0 { (-num, -den) } else { (num, den) })
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The insurance-fund delta of a liquidation fill (positive: the subaccount
/// pays the fund): `delta_quote − bankruptcy_quote`, where a positive value is
/// capped at `|delta_quote| · max_liquidation_fee_ppm / 10^6` (floor).
/// `delta_quote` is what the subaccount receives for the fill (negative for a buy).
pub fn insurance_fund_delta(delta_quote: i128, bankruptcy_quote: i128, max_liquidation_fee_ppm: u32) -> i128 {
    let d = delta_quote - bankruptcy_quote;
    if d <= 0 {
        return d;
    }
    let cap = delta_quote.abs() * i128::from(max_liquidation_fee_ppm) / i128::from(ONE_MILLION);
    d.min(cap)
}

/// `(min, max)` notional an attempt may liquidate from a position of
/// `abs_notional` (`GetMaxAndMinPositionNotionalLiquidatable`).
pub fn position_notional_limits(params: &DydxParams, abs_notional: i128) -> (i128, i128) {
    let min = i128::from(params.min_position_notional_liquidated).min(abs_notional);
    let max = abs_notional * i128::from(params.max_position_portion_liquidated_ppm) / i128::from(ONE_MILLION);
    (min, max.max(min))
}

/// Base amount to liquidate in one attempt (`GetLiquidatablePositionSizeDelta`):
/// the limit is the least of the position limit and `max_notional_liquidated`;
/// the whole position when its notional is within the limit or it is one step
/// or less; otherwise the largest multiple of `step` whose notional fits,
/// clamped to `[step, |size|]`.
/// `notional_per_unit` is the quote value of one base unit at the oracle price.
pub fn size_to_liquidate(params: &DydxParams, size: i128, notional_per_unit: i128, step: i128) -> i128 {
    let abs = size.abs();
    let abs_notional = abs * notional_per_unit;
    let (_, max) = position_notional_limits(params, abs_notional);
    let max = max.min(i128::from(params.max_notional_liquidated));
    if abs_notional <= max || abs <= step || notional_per_unit <= 0 {
        return abs;
    }
    let units = max / notional_per_unit;
    (units - units % step).clamp(step, abs)
}

/// The dYdX decision for `p`, with gavel's maintenance brackets standing in
/// for dYdX's liquidity tiers (PMMR rounded up to a quote unit).
pub fn decide(params: &DydxParams, ins: &Instrument, p: &PositionState) -> Decision {
    let m = ins.quote_per_tick_lot;
    let tnc = p.equity(ins);
    let pmmr = ins.maintenance(p.notional(ins));
    let tmmr = pmmr + div_ceil(p.other_maintenance_scaled, RATE_SCALE);
    let liquidatable = is_liquidatable(tnc, tmmr);
    let per_lot = i128::from(p.mark) * m;
    let lots = if liquidatable {
        size_to_liquidate(params, i128::from(p.size), per_lot, 1)
    } else {
        i128::from(p.size).abs()
    };
    let long = p.size > 0;
    let delta = if long { -lots } else { lots };
    let new_size = i128::from(p.size) + delta;
    let new_notional = new_size.abs() * per_lot;
    let dmmr = ins.maintenance(new_notional) - pmmr;
    let bankruptcy_price = match bankruptcy_quote(delta * per_lot, tnc, dmmr, tmmr) {
        Some(bq) if long => positive(ticks(bq, lots * m, true)),
        Some(bq) => positive(ticks(-bq, lots * m, false)),
        None => full_bankruptcy_price(ins, p),
    };
    if !liquidatable {
        return Decision::none(bankruptcy_price);
    }
    let pnnv = p.signed_notional(ins);
    let spread = spread_floor(params, pmmr, tnc, tmmr);
    let ps_m = i128::from(p.size).abs() * m;
    // The spread's fraction below one quote unit cannot move a ceiling (long)
    // or a floor (short) of a whole-unit numerator, so floor(spread) is exact.
    let limit = if long {
        ticks(pnnv - spread, ps_m, true)
    } else {
        ticks(-pnnv + spread, ps_m, false)
    };
    Decision {
        liquidatable,
        bankruptcy_price,
        limit_price: Some(limit.max(1)),
        size_to_liquidate: lots as i64,
    }
}
