//! Hyperliquid (documentation: `hyperliquid-docs/trading/liquidations`,
//! `.../auto-deleveraging`; no public source or test vectors).
//!
//! Maintenance margin is half the initial margin at the asset's max leverage:
//! `MM = notional / MAINTENANCE_LEVERAGE` with `MAINTENANCE_LEVERAGE = 2 ×
//! max_leverage`. Liquidation starts when equity `< MM`; orders are market
//! orders, 20 % of a position above 100 000 USDC unless a partial liquidation
//! happened in the last 30 s (then the whole position); below 2/3 of `MM` the
//! liquidator vault takes the position over at the mark (backstop).
//! Hyperliquid computes in floating point; gavel keeps every formula exact.

use super::{full_bankruptcy_price, positive, ticks, Decision, PositionState};
use crate::risk::instrument::{Instrument, QUOTE_SCALE, RATE_SCALE};

/// Nanoseconds per second.
const NS: i64 = 1_000_000_000;

/// Hyperliquid parameters; defaults are the documented values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HyperliquidParams {
    /// The asset's max leverage (required: it is per asset, 3–50 on mainnet).
    pub max_leverage: u32,
    /// Positions above this notional (quote units) are liquidated in slices.
    pub partial_threshold_notional: i128,
    /// Share of the position in one slice, in `RATE_SCALE` parts (0.2).
    pub partial_fraction: i128,
    /// Seconds after a partial liquidation during which orders are full size.
    pub partial_cooldown_s: u32,
}

impl HyperliquidParams {
    /// Documented defaults with the given max leverage.
    pub fn with_max_leverage(max_leverage: u32) -> Self {
        HyperliquidParams {
            max_leverage,
            partial_threshold_notional: 100_000 * QUOTE_SCALE,
            partial_fraction: RATE_SCALE / 5,
            partial_cooldown_s: 30,
        }
    }

    /// Validation ranges; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_leverage == 0 {
            return Err(("max_leverage", "must be >= 1".into()));
        }
        if self.partial_threshold_notional < 0 {
            return Err(("partial_threshold_notional", "must be >= 0".into()));
        }
        if self.partial_fraction <= 0 || self.partial_fraction > RATE_SCALE {
            return Err(("partial_fraction", "must be in (0, 1]".into()));
        }
        Ok(())
    }

    /// `MAINTENANCE_LEVERAGE = 2 × max_leverage` (`l = 1 / MAINTENANCE_LEVERAGE`).
    pub fn maintenance_leverage(&self) -> i128 {
        2 * i128::from(self.max_leverage)
    }
}

/// Liquidatable iff `equity < notional / maintenance_leverage` (exact).
pub fn is_liquidatable(equity: i128, notional: i128, maintenance_leverage: i128) -> bool {
    notional > 0 && equity * maintenance_leverage < notional
}

/// Backstop iff `equity < 2/3 · notional / maintenance_leverage` (exact).
pub fn is_backstop(equity: i128, notional: i128, maintenance_leverage: i128) -> bool {
    notional > 0 && 3 * equity * maintenance_leverage < 2 * notional
}

/// Documented liquidation price
/// `price − side · margin_available / position_size / (1 − l · side)` with
/// `margin_available = account_value − notional / ML` (cross: the account,
/// isolated: the isolated margin plus the position's PnL), in ticks, rounded
/// toward the side that liquidates first (up for a long, down for a short).
/// `size` in lots (signed), `mult` quote units per tick·lot, `ml` the
/// maintenance leverage. `None` for a flat position or a non-positive price.
pub fn liquidation_price(mark: i64, size: i64, mult: i128, account_value: i128, ml: i128) -> Option<i64> {
    if size == 0 || ml <= 0 {
        return None;
    }
    let abs = i128::from(size).abs();
    let notional = abs * i128::from(mark) * mult;
    // margin_available · ML = account_value · ML − notional.
    let avail_ml = account_value * ml - notional;
    let t = if size > 0 {
        // mark − avail / (s·m) / (1 − 1/ML) = mark − avail·ML / (s·m·(ML − 1))
        let den = abs * mult * (ml - 1);
        if den <= 0 {
            return None;
        }
        ticks(i128::from(mark) * den - avail_ml, den, true)
    } else {
        // mark + avail / (s·m) / (1 + 1/ML) = mark + avail·ML / (s·m·(ML + 1))
        let den = abs * mult * (ml + 1);
        ticks(i128::from(mark) * den + avail_ml, den, false)
    };
    positive(t)
}

/// Lots sent in one liquidation order: the whole position within
/// `partial_cooldown_s` after a partial liquidation (`since_partial_ns`) or
/// when the notional is at most the threshold; otherwise
/// `floor(|size| · partial_fraction)` (at least one lot).
pub fn size_to_liquidate(params: &HyperliquidParams, size: i64, notional: i128, since_partial_ns: Option<i64>) -> i64 {
    let abs = size.unsigned_abs() as i128;
    let cooling = since_partial_ns.is_some_and(|t| t < i64::from(params.partial_cooldown_s) * NS);
    if cooling || notional <= params.partial_threshold_notional {
        return abs as i64;
    }
    (abs * params.partial_fraction / RATE_SCALE).clamp(1, abs) as i64
}

/// The documented ADL sorting index of a position in profit,
/// `(mark_price / entry_price) · (notional_position / account_value)`, as an
/// exact fraction `(num, den)` (`den > 0`), or `None` without equity.
/// Compare two indices by cross-multiplication (see [`adl_cmp`]).
pub fn adl_index(mark: i64, size: i64, entry_notional: i128, mult: i128, account_value: i128) -> Option<(i128, i128)> {
    if size == 0 || account_value <= 0 || entry_notional == 0 {
        return None;
    }
    let abs = i128::from(size).abs();
    let notional = abs * i128::from(mark) * mult;
    // mark/entry = notional / |entry_notional| (same size on both sides).
    Some((notional.checked_mul(notional)?, entry_notional.abs().checked_mul(account_value)?))
}

/// Orders two ADL indices: `Greater` means `a` is deleveraged first.
pub fn adl_cmp(a: (i128, i128), b: (i128, i128)) -> std::cmp::Ordering {
    use crate::auction::fixed::mul_wide;
    let l = mul_wide(a.0.max(0) as u128, b.1.max(0) as u128);
    let r = mul_wide(b.0.max(0) as u128, a.1.max(0) as u128);
    l.cmp(&r)
}

/// The Hyperliquid decision for `p`: other positions of a cross unit keep
/// gavel's maintenance (the rules TOML holds one asset's max leverage).
pub fn decide(params: &HyperliquidParams, ins: &Instrument, p: &PositionState) -> Decision {
    let ml = params.maintenance_leverage();
    let notional = p.notional(ins);
    let equity = p.equity(ins);
    let bankruptcy_price = full_bankruptcy_price(ins, p);
    // equity < notional/ML + other_mm  ⇔  equity·ML·RATE < notional·RATE + other_mm·ML
    let lhs = equity * ml * RATE_SCALE;
    let mm = notional * RATE_SCALE + p.other_maintenance_scaled * ml;
    if notional == 0 || lhs >= mm {
        return Decision::none(bankruptcy_price);
    }
    if 3 * lhs < 2 * mm {
        // Backstop: the vault takes the whole position at the mark.
        return Decision {
            liquidatable: true,
            bankruptcy_price,
            limit_price: Some(p.mark),
            size_to_liquidate: p.size.abs(),
        };
    }
    let since = (p.elapsed_ns > 0).then_some(p.elapsed_ns);
    Decision {
        liquidatable: true,
        bankruptcy_price,
        limit_price: None,
        size_to_liquidate: size_to_liquidate(params, p.size, notional, since),
    }
}
