//! Binance USDⓈ-M futures: maintenance brackets with maintenance amount,
//! Binance's published liquidation-price formula, one IOC order for the whole
//! position at the bankruptcy price, then the insurance fund takes over, and
//! the ADL queue.
//!
//! The brackets are the instrument's own ([`crate::risk::instrument`]); the
//! liquidation price is [`crate::risk::margin::trigger`], Binance's
//! `LP = (WB − TMM₁ + UPNL₁ + cum − side·pos·EP) / (pos·MMR − side·pos)`
//! solved bracket by bracket (one-way mode: a position is long or short, so
//! the formula's `cumB + cumL − cumS` has one term), already checked against
//! that formula in `engine/tests/risk_margin.rs`. Nothing is duplicated here.

use super::{full_bankruptcy_price, Decision, PositionState};
use crate::risk::decimal::div_floor;
use crate::risk::instrument::{Instrument, RATE_SCALE};
use crate::risk::margin;

/// Binance has no liquidation parameters beyond the instrument's brackets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BinanceParams;

/// Binance's liquidation price (ticks) of `p` with the rest of its unit fixed,
/// rounded to the side that liquidates first; `None` if not a positive price.
pub fn liquidation_price(ins: &Instrument, p: &PositionState) -> Option<i64> {
    let base_scaled = RATE_SCALE * p.other_balance - p.other_maintenance_scaled;
    margin::trigger(ins, p.size, p.entry_notional, base_scaled).and_then(|t| t.price())
}

/// ADL sequence (Binance's published ranking): with
/// `PnL% = (mark value − entry value) / |entry value|` (sign flipped for a
/// short) and effective leverage `|mark value| / (mark value − bankruptcy value)`,
/// the rank is `PnL% × leverage` in profit and `PnL% ÷ leverage` at a loss,
/// in units of 10^-8 rounded down. `None` when the unit is at or below
/// bankruptcy (no leverage is defined).
pub fn adl_sequence_e8(ins: &Instrument, p: &PositionState) -> Option<i128> {
    let entry = p.entry_notional.abs();
    let mark_value = p.notional(ins);
    let pnl = p.unrealized(ins);
    // mark value − bankruptcy value = the unit's equity (distance to bankruptcy).
    let equity = p.equity(ins);
    if entry == 0 || equity <= 0 {
        return None;
    }
    Some(if pnl >= 0 {
        // (pnl / entry) · (mark_value / equity)
        div_floor(pnl.checked_mul(mark_value)?.checked_mul(RATE_SCALE)?, entry.checked_mul(equity)?)
    } else {
        // (pnl / entry) / (mark_value / equity)
        div_floor(pnl.checked_mul(equity)?.checked_mul(RATE_SCALE)?, entry.checked_mul(mark_value.max(1))?)
    })
}

/// Binance's "LeveragePnl" from its ADL FAQ:
/// `max(0, UPnL) / max(1, WB) × MM / (WB + UPnL)` (0 when `WB + UPnL ≤ 0`),
/// in 10^-8 rounded down. Money in quote units; `one` is one quote asset.
pub fn leverage_pnl_e8(wallet: i128, upnl: i128, maintenance: i128, one: i128) -> i128 {
    let margin = wallet + upnl;
    if margin <= 0 || upnl <= 0 {
        return 0;
    }
    let wb = wallet.max(one);
    div_floor(upnl * maintenance * RATE_SCALE, wb * margin)
}

/// The Binance decision: liquidatable iff margin balance `<` maintenance
/// (brackets); one IOC for the whole position at the bankruptcy price.
pub fn decide(_params: &BinanceParams, ins: &Instrument, p: &PositionState) -> Decision {
    let bankruptcy_price = full_bankruptcy_price(ins, p);
    if !p.health(ins).liquidatable() {
        return Decision::none(bankruptcy_price);
    }
    Decision {
        liquidatable: true,
        bankruptcy_price,
        limit_price: bankruptcy_price,
        size_to_liquidate: p.size.abs(),
    }
}
