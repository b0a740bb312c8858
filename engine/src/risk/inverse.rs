//! Inverse (coin-margined) contracts: the liquidation trigger and the
//! bankruptcy price in the coin amount.
//!
//! A position of `s` contracts (lots) at `P` ticks is worth the coin amount
//! `x = |s| × K ÷ P` units, `K` = [`Instrument::inverse_value`]. That amount is
//! rounded once, `c = ⌈x⌉` for a long and `⌊x⌋` for a short
//! ([`Instrument::notional`]); it is both the notional (maintenance
//! `c × rate − cum`) and the mark value (`−c` for a long, `+c` for a short;
//! unrealised PnL = value − entry). So, with `R` = [`RATE_SCALE`] and `base` the
//! rest of the margin unit (`R × balance + Σ others (R × upnl − MM)`):
//!
//! * long: liquidatable iff `base − R·entry + R·cum < c·(R + rate)`;
//! * short: liquidatable iff `c·(R − rate) + R·cum < R·entry − base`.
//!
//! Both sides are monotone in `c` (maintenance is continuous across brackets)
//! and `c` is monotone in `P`, so each position has one exact threshold: the
//! smallest (long) or largest (short) `c` that is liquidatable, turned into a
//! tick by exact integer division. Rounding `c` against the holder makes
//! `R × equity − MM` never larger than with the exact `x`: gavel liquidates no
//! later than exact arithmetic would, by at most one coin unit of equity.

use super::decimal::{div_ceil, div_floor};
use super::instrument::{Instrument, RATE_SCALE};
use super::margin::clamp_i64;
use super::trigger_price::Trigger;

/// Far enough that no mark reaches it (as the linear solver clamps).
const NEVER_LONG: i64 = i64::MIN / 2;
const ALWAYS_LONG: i64 = i64::MAX / 2;
const NEVER_SHORT: i64 = i64::MAX / 2;

/// Trigger of an inverse position of `size` lots with `entry_notional`
/// (Σ fill values, opposite in sign to `size`), the rest of its unit
/// contributing `base_scaled` (see [`super::margin::trigger`]); `size ≠ 0`.
pub fn trigger(ins: &Instrument, size: i64, entry_notional: i128, base_scaled: i128) -> Trigger {
    let s = i128::from(size).abs() * ins.inverse_value;
    let last = ins.brackets.len() - 1;
    let mut floor_cap = 0i128;
    if size > 0 {
        // Smallest liquidatable c: in the first bracket whose range reaches it.
        for (i, b) in ins.brackets.iter().enumerate() {
            let a = base_scaled - RATE_SCALE * entry_notional + RATE_SCALE * b.maintenance_amount;
            let c_min = div_floor(a, RATE_SCALE + b.maintenance_rate) + 1;
            if c_min <= b.notional_cap || i == last {
                let c = c_min.max(floor_cap + 1);
                // ⌈S/P⌉ ≥ c ⟺ P < ⌈S/(c−1)⌉; every price when c ≤ 1.
                return Trigger::Long(if c <= 1 { ALWAYS_LONG } else { clamp_i64(div_ceil(s, c - 1)) });
            }
            floor_cap = b.notional_cap;
        }
    } else {
        // Largest liquidatable c: in the first bracket that ends above it.
        for (i, b) in ins.brackets.iter().enumerate() {
            let bound = RATE_SCALE * entry_notional - base_scaled - RATE_SCALE * b.maintenance_amount;
            let c_max = div_ceil(bound, RATE_SCALE - b.maintenance_rate) - 1;
            if c_max <= b.notional_cap || i == last {
                let c = if i == 0 { c_max } else { c_max.max(floor_cap) };
                // ⌊S/P⌋ ≤ c ⟺ P > ⌊S/(c+1)⌋; no price when c < 0.
                return Trigger::Short(if c < 0 { NEVER_SHORT } else { clamp_i64(div_floor(s, c + 1)) });
            }
            floor_cap = b.notional_cap;
        }
    }
    Trigger::Long(NEVER_LONG)
}

/// Bankruptcy price (ticks) of an inverse position: the unit's equity is ≥ 0
/// at it, with the rest contributing `other_balance`. Rounded up for a long,
/// down for a short; `None` when no positive price exists (a long whose unit
/// is below zero at every price, a short whose unit never reaches zero).
pub fn bankruptcy_price(ins: &Instrument, size: i64, entry_notional: i128, other_balance: i128) -> Option<i64> {
    let s = i128::from(size).abs() * ins.inverse_value;
    if size > 0 {
        // other − ⌈S/P⌉ − entry ≥ 0 ⟺ ⌈S/P⌉ ≤ e ⟺ P ≥ ⌈S/e⌉.
        let e = other_balance - entry_notional;
        (e > 0).then(|| clamp_i64(div_ceil(s, e)))
    } else {
        // other + ⌊S/P⌋ − entry ≥ 0 ⟺ ⌊S/P⌋ ≥ e ⟺ P ≤ ⌊S/e⌋.
        let e = entry_notional - other_balance;
        let p = if e > 0 { div_floor(s, e) } else { 0 };
        (p > 0).then(|| clamp_i64(p))
    }
}

#[cfg(test)]
mod tests;
