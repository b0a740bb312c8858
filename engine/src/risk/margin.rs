//! Margin math: equity, maintenance, health, liquidation and bankruptcy prices.
//!
//! Everything is exact. Maintenance is compared scaled by [`RATE_SCALE`]:
//! a margin unit (a cross account, or one isolated position) is
//! **liquidatable iff `equity × RATE_SCALE < Σ maintenance_scaled`** (health
//! = equity ÷ maintenance below 1), with no rounding at all.
//!
//! For one position with the rest of its unit held fixed, solving
//! `equity(P) = maintenance(P)` bracket by bracket gives the Binance one-way
//! formula `LP = (WB − TMM₁ + UPNL₁ + cum − s·EP) / (|s|·MMR − s)`. The
//! liquidation price in ticks is that root rounded toward the safe side
//! (the side that liquidates first): **up for a long, down for a short**.
//! It is also the trigger: a long is liquidatable iff `mark < LP`, a short
//! iff `mark > LP`. The bankruptcy price (equity = 0) is rounded up for a
//! long and down for a short, so closing at it never leaves negative equity.
//! Inverse contracts solve the same conditions in their coin amount
//! ([`super::inverse`]); the rounding sides and the trigger's meaning are the same.

use super::account::{Account, MarginMode, Position};
use super::decimal::{div_ceil, div_floor};
use super::instrument::{Instrument, InstrumentId, InstrumentSet, RATE_SCALE};
use super::portfolio::CreditTally;
use super::trigger_price::Trigger;

/// Equity and maintenance of one margin unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Health {
    /// Balance plus unrealized PnL, quote units.
    pub equity: i128,
    /// Maintenance margin × [`RATE_SCALE`] (exact).
    pub maintenance_scaled: i128,
}

impl Health {
    /// Equity strictly below maintenance (and something to maintain).
    #[inline]
    pub fn liquidatable(&self) -> bool {
        self.maintenance_scaled > 0 && self.equity * RATE_SCALE < self.maintenance_scaled
    }

    /// Maintenance margin in quote units, rounded up.
    pub fn maintenance(&self) -> i128 {
        div_ceil(self.maintenance_scaled, RATE_SCALE)
    }

    /// Health = equity ÷ maintenance in units of 10^-4, rounded down
    /// (`None` without maintenance).
    pub fn ratio_e4(&self) -> Option<i128> {
        if self.maintenance_scaled <= 0 {
            return None;
        }
        Some(div_floor(self.equity * RATE_SCALE * 10_000, self.maintenance_scaled))
    }
}

/// Health of a set of positions backed by `balance`, at `marks`
/// (`None` if a non-flat position's instrument has no mark). Maintenance is the sum of the
/// positions' requirements less the offset groups' credits ([`super::portfolio`]).
pub fn unit_health<'a>(
    instruments: &InstrumentSet,
    marks: &[Option<i64>],
    balance: i128,
    positions: impl Iterator<Item = &'a Position>,
) -> Option<Health> {
    unit_health_resized(instruments, marks, balance, positions, None)
}

/// [`unit_health`] with one position's maintenance taken at another size: `resize =
/// (instrument, size)` is the unit after closing part of that position at the mark (a close
/// at the mark turns unrealized PnL into cash, so equity is unchanged; fees and penalties
/// are the caller's).
pub fn unit_health_resized<'a>(
    instruments: &InstrumentSet,
    marks: &[Option<i64>],
    balance: i128,
    positions: impl Iterator<Item = &'a Position>,
    resize: Option<(InstrumentId, i64)>,
) -> Option<Health> {
    unit_health_visiting(instruments, marks, balance, positions, resize, |_, _, _| {})
}

/// [`unit_health_resized`], calling `visit(position, instrument, mark)` on each open
/// position as it goes (one pass for callers that need more than the health).
#[inline]
pub fn unit_health_visiting<'a>(
    instruments: &InstrumentSet,
    marks: &[Option<i64>],
    balance: i128,
    positions: impl Iterator<Item = &'a Position>,
    resize: Option<(InstrumentId, i64)>,
    mut visit: impl FnMut(&Position, &Instrument, i64),
) -> Option<Health> {
    let mut h = Health {
        equity: balance,
        maintenance_scaled: 0,
    };
    let offsets = &instruments.offsets;
    let mut tally = (!offsets.is_empty()).then(CreditTally::default);
    for p in positions {
        if p.size == 0 {
            h.equity -= p.entry_notional;
            continue;
        }
        let ins = instruments.get(p.instrument);
        let mark = marks[usize::from(p.instrument)]?;
        visit(p, ins, mark);
        let value = ins.mark_value(p.size, mark);
        h.equity += value - p.entry_notional;
        let size = match resize {
            Some((i, size)) if i == p.instrument => size,
            _ => p.size,
        };
        // A linear position's notional is its value's magnitude: no second product.
        let notional = if size == p.size && !ins.is_inverse() { value.abs() } else { ins.notional(size, mark) };
        let mm = ins.maintenance_scaled(notional);
        h.maintenance_scaled += mm;
        if let Some(t) = tally.as_mut() {
            t.add(offsets, p.instrument, size, mm);
        }
    }
    if let Some(t) = &tally {
        h.maintenance_scaled -= t.credit(offsets);
    }
    Some(h)
}

/// Health of a cross account (all positions, wallet balance).
pub fn cross_health(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account) -> Option<Health> {
    unit_health(instruments, marks, account.wallet, account.positions.iter())
}

/// Health of the margin unit that holds `position` in `account`.
pub fn unit_health_of(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account, position: &Position) -> Option<Health> {
    match account.mode {
        MarginMode::Cross => cross_health(instruments, marks, account),
        MarginMode::Isolated => unit_health(instruments, marks, position.isolated_margin, std::iter::once(position)),
    }
}

pub(crate) fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64
}

/// The liquidation trigger of a position of `size` lots and `entry_notional`,
/// when the rest of its margin unit contributes `base_scaled`
/// = `RATE_SCALE × balance + Σ_other (RATE_SCALE × upnl − maintenance_scaled)`.
/// `None` for a flat position.
pub fn trigger(ins: &Instrument, size: i64, entry_notional: i128, base_scaled: i128) -> Option<Trigger> {
    if size == 0 {
        return None;
    }
    if ins.is_inverse() {
        return Some(super::inverse::trigger(ins, size, entry_notional, base_scaled));
    }
    let m = ins.quote_per_tick_lot;
    let abs = i128::from(size).abs();
    let mut floor_cap = 0i128;
    for (i, b) in ins.brackets.iter().enumerate() {
        let (num, den) = if size > 0 {
            (
                RATE_SCALE * (entry_notional - b.maintenance_amount) - base_scaled,
                abs * m * (RATE_SCALE - b.maintenance_rate),
            )
        } else {
            (
                base_scaled - RATE_SCALE * entry_notional + b.maintenance_amount * RATE_SCALE,
                abs * m * (RATE_SCALE + b.maintenance_rate),
            )
        };
        // Notional at the root: abs·m·num/den; accept the bracket that contains it.
        let n_num = abs * m * num; // compare n_num/den against the bracket bounds
        let last = i + 1 == ins.brackets.len();
        let below_cap = last || n_num <= b.notional_cap.saturating_mul(den);
        let above_floor = i == 0 || n_num >= floor_cap * den;
        if below_cap && above_floor {
            return Some(if size > 0 {
                Trigger::Long(clamp_i64(div_ceil(num, den)))
            } else {
                Trigger::Short(clamp_i64(div_floor(num, den)))
            });
        }
        floor_cap = b.notional_cap;
    }
    unreachable!("the margin function is continuous and monotone, so one bracket holds its root")
}

/// Price (ticks) at which the unit's equity is zero, with the rest of the unit
/// contributing `other_balance` = balance + Σ other positions' unrealized PnL.
/// Rounded up for a long, down for a short; `None` if not a positive price.
pub fn bankruptcy_price(ins: &Instrument, size: i64, entry_notional: i128, other_balance: i128) -> Option<i64> {
    if size == 0 {
        return None;
    }
    if ins.is_inverse() {
        return super::inverse::bankruptcy_price(ins, size, entry_notional, other_balance);
    }
    let den = i128::from(size).abs() * ins.quote_per_tick_lot;
    let p = if size > 0 {
        div_ceil(entry_notional - other_balance, den)
    } else {
        div_floor(other_balance - entry_notional, den)
    };
    (p > 0).then(|| clamp_i64(p))
}

/// Per-position view: the inputs of [`trigger`] and [`bankruptcy_price`] for
/// position `index` of `account` with every other mark fixed.
/// Returns `(base_scaled, other_balance)`, or `None` if a mark is missing.
pub fn position_context(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account, index: usize) -> Option<(i128, i128)> {
    let p = &account.positions[index];
    match account.mode {
        MarginMode::Isolated => Some((RATE_SCALE * p.isolated_margin, p.isolated_margin)),
        MarginMode::Cross => {
            let mut base = RATE_SCALE * account.wallet;
            let mut other = account.wallet;
            for (j, q) in account.positions.iter().enumerate() {
                if j == index {
                    continue;
                }
                if q.size == 0 {
                    base -= RATE_SCALE * q.entry_notional;
                    other -= q.entry_notional;
                    continue;
                }
                let ins = instruments.get(q.instrument);
                let mark = marks[usize::from(q.instrument)]?;
                let u = q.unrealized(ins, mark);
                base += RATE_SCALE * u - ins.maintenance_scaled(ins.notional(q.size, mark));
                other += u;
            }
            Some((base, other))
        }
    }
}

/// Trigger of position `index` of `account` (others at their marks).
pub fn position_trigger(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account, index: usize) -> Option<Trigger> {
    let p = &account.positions[index];
    let (base, _) = position_context(instruments, marks, account, index)?;
    trigger(instruments.get(p.instrument), p.size, p.entry_notional, base)
}

/// [`position_trigger`] for a cross account whose maintenance may earn offset credits
/// ([`super::portfolio`]): the credit moves with this position's own maintenance, so the
/// trigger is found by bisection on the exact portfolio health, which is monotone in this
/// mark (an adverse move never raises the slack, a favourable one never lowers it). Other
/// marks fixed. Equal to [`position_trigger`] when no credit can apply. For reports: it
/// evaluates the account O(log price) times and copies the marks.
pub fn position_trigger_netted(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account, index: usize) -> Option<Trigger> {
    let plain = position_trigger(instruments, marks, account, index)?;
    let p = &account.positions[index];
    let grouped = account.positions.iter().filter(|q| q.size != 0 && instruments.offsets.group_of(q.instrument).is_some()).count();
    if account.mode != MarginMode::Cross || grouped < 2 || instruments.get(p.instrument).is_inverse() {
        return Some(plain);
    }
    let k = usize::from(p.instrument);
    let mut at = marks.to_vec();
    let mut liquidatable = |price: i64| -> Option<bool> {
        at[k] = Some(price);
        Some(cross_health(instruments, &at, account)?.liquidatable())
    };
    const CEILING: i64 = i64::MAX / 4;
    match plain {
        // Liquidatable below the trigger: the smallest safe mark. Without the credit, the
        // plain trigger is safe (the credit only lowers maintenance).
        Trigger::Long(t) => {
            if !liquidatable(1)? {
                return Some(Trigger::Long(0));
            }
            let hi = t.clamp(2, CEILING);
            if liquidatable(hi)? {
                return Some(plain);
            }
            Some(Trigger::Long(boundary(1, hi, &mut liquidatable)? + 1))
        }
        // Liquidatable above the trigger: the largest safe mark.
        Trigger::Short(t) => {
            let mut lo = t.max(1);
            if liquidatable(lo)? {
                return Some(plain);
            }
            let mut hi = lo.saturating_mul(2).min(CEILING);
            while !liquidatable(hi)? {
                if hi == CEILING {
                    return Some(Trigger::Short(i64::MAX));
                }
                lo = hi;
                hi = hi.saturating_mul(2).min(CEILING);
            }
            let mut safe = |price: i64| Some(!liquidatable(price)?);
            Some(Trigger::Short(boundary(lo, hi, &mut safe)?))
        }
    }
}

/// The last price in `[lo, hi)` where `holds` is true, given it holds at `lo` and not at `hi`
/// and flips once in between (bisection).
fn boundary(mut lo: i64, mut hi: i64, holds: &mut impl FnMut(i64) -> Option<bool>) -> Option<i64> {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if holds(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// Bankruptcy price of position `index` of `account` (others at their marks).
pub fn position_bankruptcy(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account, index: usize) -> Option<i64> {
    let p = &account.positions[index];
    let (_, other) = position_context(instruments, marks, account, index)?;
    bankruptcy_price(instruments.get(p.instrument), p.size, p.entry_notional, other)
}
