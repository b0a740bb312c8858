//! The naive baseline: close the whole lot at once with a market order on the
//! deepest venue and charge the fixed penalty (the full budget, capped by the
//! surplus above bankruptcy as for every route). Whatever that venue cannot
//! absorb is closed at the bankruptcy price against the insurance fund
//! (journaled as a `NaiveFilled` on `Venue::Gavel`). Kept as the yardstick the
//! other routes are measured against.

use gavel_feeds::wire::Venue;

use super::depth::{side_hit, walk, DepthView, L2Book};
use super::events::{EventSink, ExecutionEvent};
use super::fixed::Ray;
use super::ledger::LotLedger;
use super::lot::{lost_for, value, LiquidationLot, LotSide};
use super::policy::InstrumentPolicy;

/// Index of the venue with the most lots on the side `side` consumes (ties: lowest index).
pub fn deepest_venue(views: &[&dyn DepthView], side: LotSide) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for (index, view) in views.iter().enumerate() {
        let depth = walk(*view, side, i64::MAX, None).filled;
        if depth > 0 && best.is_none_or(|(_, d)| depth > d) {
            best = Some((index, depth));
        }
    }
    best.map(|(index, _)| index)
}

/// Expected value lost by the naive route, from depth alone (no consumption):
/// slippage against the mark on the deepest venue, the remainder at the
/// bankruptcy price, plus the full penalty budget.
pub fn expected_naive_cost(lot: &LiquidationLot, policy: &InstrumentPolicy, views: &[&dyn DepthView]) -> i128 {
    let w = match deepest_venue(views, lot.side) {
        Some(index) => walk(views[index], lot.side, lot.qty, None),
        None => Default::default(),
    };
    let notional = w.notional + lot.bankruptcy as i128 * (lot.qty - w.filled) as i128;
    lost_for(lot, notional, policy.contract_multiplier)
}

/// Executes the naive route on simulated books (consuming their liquidity) at
/// event time `now_ns`; returns the lot's ledger.
pub fn execute_naive(
    lot: &LiquidationLot,
    policy: &InstrumentPolicy,
    books: &mut [L2Book],
    now_ns: i64,
    sink: &mut impl EventSink,
) -> LotLedger {
    let mut ledger = LotLedger::new(lot, policy.contract_multiplier, 0);
    let views: Vec<&dyn DepthView> = books.iter().map(|b| b as &dyn DepthView).collect();
    let deepest = deepest_venue(&views, lot.side);
    if let Some(index) = deepest {
        let book = &mut books[index];
        let fill = book.consume(side_hit(lot.side), lot.qty, None);
        if fill.filled > 0 {
            let split = ledger.record_fill_notional(fill.filled, fill.notional, Ray::ZERO, false);
            sink.emit(ExecutionEvent::NaiveFilled {
                lot: lot.id,
                at_ns: now_ns,
                venue: book.venue(),
                qty: fill.filled,
                notional: fill.notional,
                split,
            });
        }
    }
    let rest = ledger.open();
    if rest > 0 {
        let split = ledger.record_fill(rest, lot.bankruptcy, Ray::ZERO, false);
        sink.emit(ExecutionEvent::NaiveFilled {
            lot: lot.id,
            at_ns: now_ns,
            venue: Venue::Gavel,
            qty: rest,
            notional: value(lot.bankruptcy, rest, 1),
            split,
        });
    }
    ledger
}
