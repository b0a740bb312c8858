//! Drift protocol v2 perps (`drift-labs/protocol-v2`,
//! `programs/drift/src/math/liquidation.rs`), in Drift's own precisions:
//! prices and quote in 10^-6, base in 10^-9, margin ratios in 10^-4, fees in
//! 10^-6, liquidation percentages in 10^-4, time in slots (400 ms).

use super::{full_bankruptcy_price, Decision, PositionState};
use crate::risk::decimal::div_ceil;
use crate::risk::instrument::{Instrument, RATE_SCALE};

/// Margin ratios: 10^4 = 100 %.
pub const MARGIN_PRECISION: u128 = 10_000;
/// Fees: 10^6 = 100 %.
pub const LIQUIDATION_FEE_PRECISION: u128 = 1_000_000;
/// Margin ratio (10^-4) to fee precision (10^-6).
pub const LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO: u128 = 100;
/// Prices: 10^-6.
pub const PRICE_PRECISION: u128 = 1_000_000;
/// Base amounts: 10^-9.
pub const BASE_PRECISION: u128 = 1_000_000_000;
/// `PRICE_PRECISION × AMM_TO_QUOTE_PRECISION_RATIO` (10^6 × 10^3).
pub const PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO: u128 = 1_000_000_000;
/// Liquidation percentages: 10^4 = 100 %.
pub const LIQUIDATION_PCT_PRECISION: u128 = 10_000;
/// Slots before the liquidator fee starts to ramp (~10 minutes).
pub const LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS: u64 = 1_500;
/// Liquidator-fee increase per slot after the grace period (0.01 bp).
pub const LIQUIDATION_FEE_INCREASE_PER_SLOT: u64 = 1;
/// One Solana slot in nanoseconds (Drift's 400 ms calibration).
pub const SLOT_NS: i64 = 400_000_000;

/// Drift parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriftParams {
    /// Base liquidator fee, 10^-6 (per market; required).
    pub liquidator_fee: u32,
    /// Largest liquidator fee the ramp reaches, 10^-6.
    pub max_liquidator_fee: u32,
    /// Insurance-fund fee, 10^-6 (per market; required).
    pub if_liquidation_fee: u32,
    /// Extra margin a liquidation must restore, 10^-4 (default 200 = 2 %).
    pub liquidation_margin_buffer_ratio: u32,
    /// Share of the shortage freeable at once, 10^-4 (default 1000 = 10 %).
    pub initial_pct_to_liquidate: u32,
    /// Slots until 100 % is freeable (default 150 ≈ 1 minute).
    pub liquidation_duration: u32,
}

impl DriftParams {
    /// Defaults around the two per-market fees (`max_liquidator_fee` =
    /// 3 × `liquidator_fee`, gavel's reading of Drift's liquidation multiplier).
    pub fn with_fees(liquidator_fee: u32, if_liquidation_fee: u32) -> Self {
        DriftParams {
            liquidator_fee,
            max_liquidator_fee: liquidator_fee.saturating_mul(3),
            if_liquidation_fee,
            liquidation_margin_buffer_ratio: 200,
            initial_pct_to_liquidate: 1_000,
            liquidation_duration: 150,
        }
    }

    /// Validation ranges; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let fee_max = LIQUIDATION_FEE_PRECISION as u32;
        if self.liquidator_fee >= fee_max {
            return Err(("liquidator_fee", "must be < 1000000".into()));
        }
        if self.max_liquidator_fee < self.liquidator_fee || self.max_liquidator_fee >= fee_max {
            return Err(("max_liquidator_fee", "must be in [liquidator_fee, 1000000)".into()));
        }
        if self.if_liquidation_fee >= fee_max {
            return Err(("if_liquidation_fee", "must be < 1000000".into()));
        }
        if u128::from(self.liquidation_margin_buffer_ratio) >= MARGIN_PRECISION {
            return Err(("liquidation_margin_buffer_ratio", "must be < 10000".into()));
        }
        if u128::from(self.initial_pct_to_liquidate) > LIQUIDATION_PCT_PRECISION {
            return Err(("initial_pct_to_liquidate", "must be <= 10000".into()));
        }
        Ok(())
    }
}

/// `calculate_base_asset_amount_to_cover_margin_shortage`: base (10^-9) whose
/// closing frees `margin_shortage` (10^-6) net of the liquidator and IF fees,
/// with Drift's truncations. `u64::MAX` when the margin ratio does not exceed
/// the fee or the price is zero (Drift's "liquidate everything"); `None` when
/// Drift's arithmetic would fail (denominator ≤ 0).
pub fn base_to_cover_margin_shortage(
    margin_shortage: u128,
    margin_ratio: u32,
    liquidation_fee: u32,
    if_liquidation_fee: u32,
    oracle_price: i64,
    quote_oracle_price: i64,
) -> Option<u64> {
    let margin_ratio = u128::from(margin_ratio) * LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO;
    let fee = u128::from(liquidation_fee);
    if oracle_price == 0 || margin_ratio <= fee {
        return Some(u64::MAX);
    }
    let price = u128::try_from(oracle_price).ok()?;
    let quote = u128::try_from(quote_oracle_price).ok()?;
    let freed = price.checked_mul(quote)? / PRICE_PRECISION * (margin_ratio - fee) / LIQUIDATION_FEE_PRECISION;
    let if_cost = price * u128::from(if_liquidation_fee) / LIQUIDATION_FEE_PRECISION;
    let den = freed.checked_sub(if_cost).filter(|d| *d > 0)?;
    u64::try_from(margin_shortage.checked_mul(PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO)? / den).ok()
}

/// `calculate_max_pct_to_liquidate` (10^-4): the share of the current
/// shortage a call may free, growing linearly from `initial_pct` to 100 %
/// over `liquidation_duration` slots since the user's last active slot, minus
/// what earlier calls already freed (`margin_freed`). A zero duration means
/// 100 %. `None` when `margin_shortage` is zero.
pub fn max_pct_to_liquidate(
    margin_shortage: u128,
    margin_freed: u128,
    slots_elapsed: u64,
    initial_pct: u128,
    liquidation_duration: u128,
) -> Option<u128> {
    let ramp = u128::from(slots_elapsed)
        .checked_mul(LIQUIDATION_PCT_PRECISION)?
        .checked_div(liquidation_duration)
        .unwrap_or(LIQUIDATION_PCT_PRECISION);
    let pct_freeable = ramp.saturating_add(initial_pct).min(LIQUIDATION_PCT_PRECISION);
    let total = margin_shortage.checked_add(margin_freed)?;
    let max_freed = total.checked_mul(pct_freeable)? / LIQUIDATION_PCT_PRECISION;
    let freeable = max_freed.saturating_sub(margin_freed);
    freeable.checked_mul(LIQUIDATION_PCT_PRECISION)?.checked_div(margin_shortage)
}

/// The liquidator fee after `slots_elapsed` slots: the base fee during the
/// grace period, then `base + slots_elapsed × LIQUIDATION_FEE_INCREASE_PER_SLOT`
/// capped at `max_fee`.
pub fn liquidator_fee(base_fee: u32, max_fee: u32, slots_elapsed: u64) -> u32 {
    if slots_elapsed < LIQUIDATION_FEE_ADJUST_GRACE_PERIOD_SLOTS {
        return base_fee;
    }
    let add = slots_elapsed.saturating_mul(LIQUIDATION_FEE_INCREASE_PER_SLOT);
    let fee = u64::from(base_fee).saturating_add(add).min(u64::from(u32::MAX)) as u32;
    fee.min(max_fee)
}

/// Margin shortage (10^-6) of a unit: `requirement + buffer − collateral`,
/// where the buffer is `buffer_ratio` (10^-4) of the notional; 0 if none.
pub fn margin_shortage(total_collateral: i128, maintenance: i128, notional: i128, buffer_ratio: u32) -> u128 {
    let buffer = div_ceil(notional * i128::from(buffer_ratio), MARGIN_PRECISION as i128);
    (maintenance + buffer - total_collateral).max(0) as u128
}

/// The Drift decision for `p`: liquidatable iff collateral `<` maintenance
/// (gavel's brackets as the market's margin ratio); the base to liquidate
/// covers the buffered shortage, scaled by the per-call limit and rounded up
/// to whole lots; the limit price is the oracle price moved by the
/// (ramped) liquidator fee against the liquidated user.
pub fn decide(params: &DriftParams, ins: &Instrument, p: &PositionState) -> Decision {
    let bankruptcy_price = full_bankruptcy_price(ins, p);
    let notional = p.notional(ins);
    let equity = p.equity(ins);
    let mm_scaled = p.maintenance_scaled(ins);
    if !(mm_scaled > 0 && equity * RATE_SCALE < mm_scaled) {
        return Decision::none(bankruptcy_price);
    }
    let slots = (p.elapsed_ns.max(0) / SLOT_NS) as u64;
    let fee = liquidator_fee(params.liquidator_fee, params.max_liquidator_fee, slots);
    let shortage = margin_shortage(equity, div_ceil(mm_scaled, RATE_SCALE), notional, params.liquidation_margin_buffer_ratio);
    // The market's margin ratio (10^-4) from the bracket rate (10^-8), plus the buffer.
    let rate = ins.bracket_for(notional).maintenance_rate;
    let margin_ratio = (rate / (RATE_SCALE / MARGIN_PRECISION as i128)) as u32 + params.liquidation_margin_buffer_ratio;
    // Drift prices are quote (10^-6) per whole base unit: price = notional of the
    // position / its size in base units (exact for the shipped instruments).
    let abs = i128::from(p.size).abs();
    let lot = ins.lot_size;
    let base_units_e9 = abs * lot.mantissa * 10i128.pow(9) / 10i128.pow(lot.scale);
    let price = (notional * BASE_PRECISION as i128 / base_units_e9.max(1)) as i64;
    let base = base_to_cover_margin_shortage(shortage, margin_ratio, fee, params.if_liquidation_fee, price, PRICE_PRECISION as i64)
        .unwrap_or(u64::MAX);
    let pct = max_pct_to_liquidate(
        shortage,
        0,
        slots,
        u128::from(params.initial_pct_to_liquidate),
        u128::from(params.liquidation_duration),
    )
    .unwrap_or(LIQUIDATION_PCT_PRECISION);
    let base = u128::from(base).saturating_mul(pct) / LIQUIDATION_PCT_PRECISION;
    // base (10^-9) to lots, rounded up: lots = base / (lot_size × 10^9).
    let per_lot_e9 = (lot.mantissa * 10i128.pow(9) / 10i128.pow(lot.scale)).max(1) as u128;
    let lots = base.div_ceil(per_lot_e9).min(abs as u128).max(1) as i64;
    let mark = i128::from(p.mark);
    let f = i128::from(fee);
    let one = LIQUIDATION_FEE_PRECISION as i128;
    // A long is sold at most `fee` below the oracle, a short bought at most `fee` above.
    let limit = if p.size > 0 {
        div_ceil(mark * (one - f), one)
    } else {
        (mark * (one + f)) / one
    };
    Decision {
        liquidatable: true,
        bankruptcy_price,
        limit_price: Some(limit.max(1) as i64),
        size_to_liquidate: lots,
    }
}
