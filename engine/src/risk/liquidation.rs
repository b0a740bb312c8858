//! Partial liquidation: the smallest close that restores the margin unit.
//!
//! For a liquidatable unit the plan closes the **minimum number of lots q**
//! (an integer, so rounded up to the lot) such that, after closing q lots at
//! the mark and paying the penalty on them,
//! `equity − penalty(q) ≥ maintenance_after(q) × (1 + buffer)`.
//! It closes the whole position instead when the remainder would be below the
//! instrument's `min_size`, when equity ≤ `full_close_health × maintenance`,
//! or when no partial close can restore the unit. The request carries the
//! bankruptcy price (unit equity = 0 with other marks fixed), the limit the
//! insurance fund guarantees.

use gavel_feeds::Side;

use super::account::{AccountId, MarginMode};
use super::book::RiskBook;
use super::instrument::{InstrumentId, RATE_SCALE};
use super::margin;
use super::penalty::penalty_amount;

/// Partial-liquidation parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationParams {
    /// Restore to maintenance × (1 + buffer); [`RATE_SCALE`] parts (default 10 %).
    pub buffer_rate: i128,
    /// Close fully when equity ≤ this × maintenance; [`RATE_SCALE`] parts (default 50 %).
    pub full_close_health: i128,
}

impl Default for LiquidationParams {
    fn default() -> Self {
        LiquidationParams {
            buffer_rate: 10_000_000,
            full_close_health: 50_000_000,
        }
    }
}

/// An order to take (part of) a position off a liquidatable account: what the
/// auction executes and the ledger settles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationRequest {
    /// Liquidated account.
    pub account: AccountId,
    /// Instrument of the position.
    pub instrument: InstrumentId,
    /// Side of the closing order (`Ask` sells a long, `Bid` buys back a short).
    pub side: Side,
    /// Lots to close, > 0.
    pub qty: i64,
    /// Signed position size before the liquidation.
    pub position_size: i64,
    /// Mark the plan was made at, ticks.
    pub mark: i64,
    /// Price at which the unit's equity is zero (ticks); fills worse than it
    /// are paid by the insurance fund. `None`: no positive bankruptcy price.
    pub bankruptcy_price: Option<i64>,
    /// The position's liquidation price (ticks), for the journal.
    pub liquidation_price: Option<i64>,
    /// True when the whole position is closed.
    pub full_close: bool,
    /// Penalty rate applied to the closed notional, [`RATE_SCALE`] parts.
    pub penalty_rate: i128,
}

/// The smallest q in [1, abs] with `restores(q)`, or `None`.
///
/// Between bracket boundaries of the remaining notional the margin after the
/// close is linear in q (inverse: up to one coin unit of rounding), so each such segment is searched on its own, lowest
/// first: the first point of a segment, else a binary search when its last
/// point restores. (Over the whole range the function is concave, not
/// monotone: a high penalty can make closing everything worse than closing part.)
/// An offset group adds at most one kink inside a segment (where the closing leg's
/// maintenance equals the other side's), and a two-piece margin still crosses the
/// restoring line at most once after a non-restoring first point, so the search holds.
fn min_restoring_qty(ins: &super::instrument::Instrument, size: i64, mark: i64, restores: &dyn Fn(i64) -> bool) -> Option<i64> {
    let abs = size.abs();
    // Segment boundaries on the stack: 1, abs, and one per bracket cap (brackets are
    // limited to MAX_BRACKETS by the loader); the event path allocates nothing.
    let mut storage = [0i64; super::instrument::MAX_BRACKETS + 2];
    storage[0] = 1;
    storage[1] = abs;
    let mut n = 2;
    for b in &ins.brackets {
        if b.notional_cap == i128::MAX || n == storage.len() {
            continue;
        }
        // Remaining lots r = abs − q sit at or below this cap iff r ≤ this.
        let r = ins.max_lots_within(b.notional_cap, mark, size.signum(), abs);
        let q = abs - r;
        if q > 1 && q < abs {
            storage[n] = q;
            n += 1;
        }
    }
    let points = &mut storage[..n];
    points.sort_unstable();
    let mut unique = 1;
    for i in 1..points.len() {
        if points[i] != points[unique - 1] {
            points[unique] = points[i];
            unique += 1;
        }
    }
    let points = &points[..unique];
    for w in points.windows(2) {
        let (start, end) = (w[0], w[1]);
        if restores(start) {
            return Some(start);
        }
        if restores(end) {
            let (mut lo, mut hi) = (start + 1, end);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if restores(mid) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            return Some(lo);
        }
    }
    (abs == 1 && restores(1)).then_some(1)
}

/// Plans the liquidation of `account`'s position in `instrument`, or `None`
/// if that unit is not liquidatable (or lacks marks).
pub fn plan(
    book: &RiskBook,
    account: AccountId,
    instrument: InstrumentId,
    params: &LiquidationParams,
    penalty_rate: i128,
) -> Option<LiquidationRequest> {
    let acc = book.account(account);
    let index = acc.positions.iter().position(|p| p.instrument == instrument && p.size != 0)?;
    let pos = acc.positions[index];
    let health = book.health(account, instrument)?;
    if !health.liquidatable() {
        return None;
    }
    let ins = book.instruments().get(instrument);
    let mark = book.mark(instrument)?;
    let abs = pos.size.abs();
    let own_mm = ins.maintenance_scaled(ins.notional(pos.size, mark));
    let others_mm = match acc.mode {
        MarginMode::Cross => health.maintenance_scaled - own_mm,
        MarginMode::Isolated => 0,
    };
    let sign = pos.size.signum();
    // With offset groups, closing one leg also changes the credit it earned with the others.
    let netted = acc.mode == MarginMode::Cross && !book.instruments().offsets.is_empty();
    let restores = |q: i64| -> bool {
        let equity = health.equity - penalty_amount(ins.notional(q, mark), penalty_rate);
        let rest = sign * (abs - q);
        let mm_after = if netted {
            margin::unit_health_resized(book.instruments(), book.marks(), acc.wallet, acc.positions.iter(), Some((instrument, rest)))
                .map_or(i128::MAX / (2 * RATE_SCALE), |h| h.maintenance_scaled)
        } else {
            others_mm + ins.maintenance_scaled(ins.notional(rest, mark))
        };
        equity * RATE_SCALE * RATE_SCALE >= mm_after * (RATE_SCALE + params.buffer_rate)
    };
    let too_weak = health.equity * RATE_SCALE * RATE_SCALE <= params.full_close_health * health.maintenance_scaled;
    let mut qty = abs;
    if !too_weak {
        if let Some(q) = min_restoring_qty(ins, pos.size, mark, &restores) {
            qty = if abs - q < ins.min_size_lots { abs } else { q };
        }
    }
    Some(LiquidationRequest {
        account,
        instrument,
        side: if pos.size > 0 { Side::Ask } else { Side::Bid },
        qty,
        position_size: pos.size,
        mark,
        bankruptcy_price: margin::position_bankruptcy(book.instruments(), book.marks(), acc, index),
        liquidation_price: margin::position_trigger(book.instruments(), book.marks(), acc, index).and_then(|t| t.price()),
        full_close: qty == abs,
        penalty_rate,
    })
}

/// Applies a mark from the oracle and plans a liquidation for every account
/// it crosses in `instrument`. When the oracle's circuit breaker holds
/// (`liquidation_allowed == false`) the mark is still applied (health and
/// triggers stay current) but nothing is planned. `crossed` is scratch space
/// (cleared here); requests are appended to `requests`.
pub fn on_mark(
    book: &mut RiskBook,
    instrument: InstrumentId,
    mark: super::oracle::MarkOutput,
    params: &LiquidationParams,
    penalty_rate: i128,
    crossed: &mut Vec<AccountId>,
    requests: &mut Vec<LiquidationRequest>,
) {
    crossed.clear();
    book.set_mark(instrument, mark.price, crossed);
    if !mark.liquidation_allowed {
        return;
    }
    requests.extend(crossed.iter().filter_map(|&a| plan(book, a, instrument, params, penalty_rate)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::instrument::{InstrumentSet, QUOTE_SCALE};
    use crate::risk::oracle::MarkOutput;

    #[test]
    fn circuit_breaker_blocks_planning_but_not_the_mark() {
        let set = InstrumentSet::parse(
            "[[instrument]]\nsymbol = \"X\"\ntick_size = \"1\"\nlot_size = \"1\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.01\", max_leverage = 50 }]\n",
            "t",
        )
        .unwrap();
        let mut book = RiskBook::new(set);
        let a = book.add_account("a", MarginMode::Cross, 10 * QUOTE_SCALE).unwrap();
        book.set_position(a, 0, 1, 100 * QUOTE_SCALE, 0);
        let (mut crossed, mut reqs) = (Vec::new(), Vec::new());
        let p = LiquidationParams::default();
        on_mark(
            &mut book,
            0,
            MarkOutput {
                price: 80,
                liquidation_allowed: false,
            },
            &p,
            0,
            &mut crossed,
            &mut reqs,
        );
        assert_eq!(book.mark(0), Some(80));
        assert_eq!(crossed, vec![a]);
        assert!(reqs.is_empty());
        on_mark(
            &mut book,
            0,
            MarkOutput {
                price: 80,
                liquidation_allowed: true,
            },
            &p,
            0,
            &mut crossed,
            &mut reqs,
        );
        assert_eq!(reqs.len(), 1);
        assert_eq!((reqs[0].qty, reqs[0].bankruptcy_price, reqs[0].side), (1, Some(90), Side::Ask));
    }
}
