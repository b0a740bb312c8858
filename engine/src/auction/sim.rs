//! Deterministic replay harness: venue books that deplete and refill, simulated
//! liquidators, and drivers that run one lot through a route.
//!
//! **Depth model.** [`Market`] holds one [`L2Book`] per venue. Hedges, slices and
//! naive orders consume liquidity; a venue's book is restored to its snapshot
//! once `resilience_ns` has passed since it was last hit (a simple, documented
//! refill model; live runs use the real mirrored books instead).
//!
//! **Clock.** The driver steps event time by `step_ns`; a liquidator's bid is
//! delivered at its own arrival time, in (arrival, liquidator id) order.

use super::backstop::BackstopVault;
use super::depth::{side_hit, DepthView, L2Book, Walk};
use super::dutch::{Auction, AuctionHouse, AuctionStatus};
use super::events::{EventSink, ExecutionEvent, Route};
use super::ledger::LotLedger;
use super::liquidator::SimLiquidator;
use super::lot::{LiquidationLot, LotError, LotSide};
use super::naive::execute_naive;
use super::policy::{InstrumentPolicy, Overflow};
use super::route::{choose, RouteDecision};
use super::slicing::Slicer;

/// Simulated venue books with a refill model.
#[derive(Clone, Debug)]
pub struct Market {
    /// Current books, one per venue.
    pub books: Vec<L2Book>,
    snapshot: Vec<L2Book>,
    /// Time after the last hit at which a venue's book is restored.
    pub resilience_ns: i64,
    last_hit_ns: Vec<Option<i64>>,
}

impl Market {
    /// A market whose books refill to `books` `resilience_ns` after each hit.
    pub fn new(books: Vec<L2Book>, resilience_ns: i64) -> Self {
        let n = books.len();
        Self {
            snapshot: books.clone(),
            books,
            resilience_ns,
            last_hit_ns: vec![None; n],
        }
    }

    /// Depth views of every venue.
    pub fn views(&self) -> Vec<&dyn DepthView> {
        self.books.iter().map(|b| b as &dyn DepthView).collect()
    }

    /// Restores books whose last hit is at least `resilience_ns` before `now_ns`.
    pub fn refresh(&mut self, now_ns: i64) {
        for (i, hit) in self.last_hit_ns.iter_mut().enumerate() {
            if hit.is_some_and(|t| now_ns - t >= self.resilience_ns) {
                self.books[i] = self.snapshot[i].clone();
                *hit = None;
            }
        }
    }

    /// Consumes `qty` lots in `direction` best price first across venues (ties:
    /// lowest venue index), not beyond `limit`; returns the merged fill.
    pub fn consume(&mut self, direction: LotSide, qty: i64, limit: Option<i64>, now_ns: i64) -> Walk {
        let side = side_hit(direction);
        let mut out = Walk::default();
        while out.filled < qty {
            let mut best: Option<(usize, i64, i64)> = None;
            for (i, book) in self.books.iter().enumerate() {
                if let Some((price, level_qty)) = book.best(side) {
                    let better = best.is_none_or(|(_, p, _)| match direction {
                        LotSide::Sell => price > p,
                        LotSide::Buy => price < p,
                    });
                    if better {
                        best = Some((i, price, level_qty));
                    }
                }
            }
            let Some((i, price, level_qty)) = best else { break };
            if limit.is_some_and(|l| !super::depth::within_limit(direction, price, l)) {
                break;
            }
            let fill = self.books[i].consume(side_hit(direction), level_qty.min(qty - out.filled), Some(price));
            self.touch(i, now_ns);
            out.filled += fill.filled;
            out.notional += fill.notional;
            out.worst_price = price;
        }
        out
    }

    /// Consumes from one venue only (a child order sent there).
    pub fn consume_at(&mut self, venue: usize, direction: LotSide, qty: i64, limit: Option<i64>, now_ns: i64) -> Walk {
        let fill = self.books[venue].consume(side_hit(direction), qty, limit);
        if fill.filled > 0 {
            self.touch(venue, now_ns);
        }
        fill
    }

    fn touch(&mut self, venue: usize, now_ns: i64) {
        if self.last_hit_ns[venue].is_none() {
            self.last_hit_ns[venue] = Some(now_ns);
        }
    }
}

/// Runs an auction of `qty` lots of `lot` against simulated liquidators until
/// it clears or its deadline passes; liquidators hedge on `market` after each
/// take. Returns the finished auction (its ledger holds the money).
pub fn simulate_auction(
    lot: &LiquidationLot,
    qty: i64,
    policy: &InstrumentPolicy,
    market: &mut Market,
    liquidators: &mut [SimLiquidator],
    step_ns: i64,
    sink: &mut impl EventSink,
) -> Result<Auction, LotError> {
    let mut house = AuctionHouse::with_capacity(1);
    house.start(lot, qty, policy, lot.created_ns, sink)?;
    let step_ns = step_ns.max(1);
    let multiplier = policy.contract_multiplier;
    let mut now = lot.created_ns;
    let mut sequence = 0u64;
    loop {
        market.refresh(now);
        // Deliver every bid that has arrived, in (arrival, id) order.
        loop {
            let next = liquidators
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    l.pending
                        .filter(|b| b.arrive_ns <= now)
                        .map(|b| (b.arrive_ns, l.config.id, i))
                })
                .min();
            let Some((_, _, index)) = next else { break };
            let liquidator = &mut liquidators[index];
            let Some(bid) = liquidator.pending.take() else { break };
            sequence += 1;
            let event = bid.to_event(liquidator.config.id, lot.instrument, sequence);
            let before = house.get(lot.id).map_or(0, |a| a.remaining());
            let result = {
                let views = market.views();
                house.on_bid(&event, &views, sink)
            };
            if let Ok(split) = result {
                let taken = before - house.get(lot.id).map_or(0, |a| a.remaining());
                let hedge = market.consume(lot.side, taken, None, bid.arrive_ns);
                let hedge_value = hedge.notional * multiplier as i128;
                liquidator.takes += 1;
                liquidator.profit += match lot.side {
                    LotSide::Sell => hedge_value - split.gross,
                    LotSide::Buy => split.gross - hedge_value,
                } + split.keeper;
            }
        }
        house.advance_all(now, sink);
        let Some(auction) = house.get(lot.id) else { break };
        if auction.status() != AuctionStatus::Running {
            break;
        }
        {
            let views = market.views();
            for liquidator in liquidators.iter_mut() {
                if let Some(bid) = liquidator.decide(auction, now, multiplier, &views) {
                    liquidator.pending = Some(bid);
                }
            }
        }
        now = now.saturating_add(step_ns);
    }
    // Bids still in flight would reach a finished auction and be rejected; the
    // harness drops them so they cannot hit a later auction with the same id.
    for liquidator in liquidators.iter_mut() {
        if liquidator.pending.is_some_and(|b| b.auction == lot.id) {
            liquidator.pending = None;
        }
    }
    let mut finished = None;
    house.drain_finished(|a| finished = Some(a));
    finished.ok_or(LotError {
        lot: lot.id,
        field: "id",
        message: "auction vanished during simulation",
    })
}

/// Runs a slicer on `market` from `now_ns` until its lots are filled or its
/// deadline passes; each child order fills immediately against the venue's book
/// (IOC at its limit).
pub fn run_slicer(slicer: &mut Slicer, lot: &LiquidationLot, market: &mut Market, sink: &mut impl EventSink) {
    let mut now = slicer.next_send_ns();
    while slicer.open() > 0 && now < lot.deadline_ns {
        market.refresh(now);
        let orders = {
            let views = market.views();
            slicer.on_time(now, &views, sink)
        };
        for order in orders.as_slice() {
            let fill = market.consume_at(order.venue, lot.side, order.qty, Some(order.limit), now);
            let venue = market.books[order.venue].venue();
            slicer.on_fill(now, venue, fill.filled, fill.notional, sink);
        }
        now = slicer.next_send_ns();
    }
}

/// Everything that happened to one lot.
#[derive(Clone, Debug)]
pub struct LotOutcome {
    /// The route decision.
    pub decision: RouteDecision,
    /// Ledgers of the lot's parts (one per part: auction, slicing, naive); their
    /// penalty budgets sum to the lot's.
    pub parts: Vec<LotLedger>,
}

impl LotOutcome {
    /// Sums of the parts' ledgers.
    pub fn total(&self, lot: &LiquidationLot, multiplier: i64) -> LotLedger {
        let mut total = LotLedger::new(lot, multiplier, 0);
        for p in &self.parts {
            total.filled += p.filled;
            total.returned += p.returned;
            total.gross += p.gross;
            total.penalty += p.penalty;
            total.keeper += p.keeper;
            total.fund += p.fund;
            total.waived += p.waived;
        }
        total
    }
}

/// Sends whatever is open in `ledger` at the deadline to the backstop; overflow
/// marked for slicing gets `max_slices × interval` more time, then ADL.
fn finish_with_backstop(
    part: &LiquidationLot,
    mut ledger: LotLedger,
    policy: &InstrumentPolicy,
    market: &mut Market,
    vault: &mut BackstopVault,
    sink: &mut impl EventSink,
) -> LotLedger {
    if ledger.open() == 0 {
        return ledger;
    }
    let now = part.deadline_ns;
    market.refresh(now);
    let result = {
        let views = market.views();
        vault.absorb(part, &mut ledger, policy, part.mark, &views, now, sink)
    };
    if result.overflow > 0 && result.overflow_to == Overflow::Slicing {
        let extra = (policy.slicing.max_slices as i64).saturating_mul(policy.slicing.interval_ms as i64 * 1_000_000);
        let overflow_lot = LiquidationLot {
            created_ns: now,
            deadline_ns: now.saturating_add(extra.max(1)),
            ..*part
        };
        let mut slicer = Slicer::with_ledger(&overflow_lot, policy, now, ledger);
        run_slicer(&mut slicer, &overflow_lot, market, sink);
        ledger = slicer.ledger;
        let rest = ledger.record_return(ledger.open());
        if rest > 0 {
            sink.emit(ExecutionEvent::ReturnedForAdl {
                lot: part.id,
                at_ns: overflow_lot.deadline_ns,
                qty: rest,
            });
        }
    }
    ledger
}

/// Runs one lot end to end: route choice, auction and/or slicing (or the naive
/// baseline), then the backstop and ADL for whatever is left at the deadline.
#[allow(clippy::too_many_arguments)]
pub fn run_lot(
    lot: &LiquidationLot,
    policy: &InstrumentPolicy,
    market: &mut Market,
    liquidators: &mut [SimLiquidator],
    vault: &mut BackstopVault,
    step_ns: i64,
    sink: &mut impl EventSink,
) -> Result<LotOutcome, LotError> {
    lot.validate()?;
    market.refresh(lot.created_ns);
    let decision = {
        let views = market.views();
        choose(lot, policy, &views, lot.created_ns, sink)
    };
    let mut parts = Vec::with_capacity(2);
    match decision.route {
        Route::Naive => {
            parts.push(execute_naive(lot, policy, &mut market.books, lot.created_ns, sink));
        }
        Route::Auction | Route::Both | Route::Slicing => {
            let (sliced, auctioned) = lot.split(lot.qty - decision.auction_qty);
            if sliced.qty > 0 {
                let mut slicer = Slicer::new(&sliced, policy, lot.created_ns);
                run_slicer(&mut slicer, &sliced, market, sink);
                parts.push(finish_with_backstop(
                    &sliced,
                    slicer.ledger,
                    policy,
                    market,
                    vault,
                    sink,
                ));
            }
            if auctioned.qty > 0 {
                let auction = simulate_auction(&auctioned, auctioned.qty, policy, market, liquidators, step_ns, sink)?;
                parts.push(finish_with_backstop(
                    &auctioned,
                    auction.ledger,
                    policy,
                    market,
                    vault,
                    sink,
                ));
            }
        }
    }
    Ok(LotOutcome { decision, parts })
}

/// A thin synthetic market for tests and the demo: three venues around `mark`
/// with `levels` levels a side, `qty` lots per level, `spacing` ticks apart;
/// venue 0 is the deepest (twice the quantity per level) but widest.
pub fn thin_market(mark: i64, levels: i64, qty: i64, spacing: i64) -> Vec<L2Book> {
    use gavel_feeds::wire::Venue;
    let venues = [
        (Venue::BinanceUsdm, 2 * qty, 2 * spacing),
        (Venue::Bybit, qty, spacing),
        (Venue::Okx, qty, spacing),
    ];
    venues
        .iter()
        .map(|&(venue, per_level, gap)| {
            let bids: Vec<(i64, i64)> = (0..levels).map(|i| (mark - gap / 2 - i * gap, per_level)).collect();
            let asks: Vec<(i64, i64)> = (0..levels).map(|i| (mark + gap / 2 + i * gap, per_level)).collect();
            L2Book::from_levels(venue, &bids, &asks)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use crate::auction::curve::NS_PER_SEC;
    use crate::auction::events::ExecutionEvent as E;
    use crate::auction::events::RouteReason;
    use crate::auction::liquidator::LiquidatorConfig;
    use crate::auction::policy::RouteMode;

    pub(crate) fn liquidators() -> Vec<SimLiquidator> {
        [
            (1, 40_000_000, 2_000_000_000, 15),
            (2, 250_000_000, 5_000_000_000, 10),
            (3, 5_000_000, 1_000_000_000, 30),
        ]
        .iter()
        .map(|&(id, latency_ns, capital, margin_bps)| {
            SimLiquidator::new(LiquidatorConfig {
                id,
                latency_ns,
                capital,
                margin_bps,
            })
        })
        .collect()
    }

    fn lot(side: LotSide, qty: i64) -> LiquidationLot {
        LiquidationLot {
            id: 11,
            instrument: 1,
            account: 42,
            side,
            qty,
            mark: 100_000,
            bankruptcy: match side {
                LotSide::Sell => 95_000,
                LotSide::Buy => 105_000,
            },
            penalty_budget: 60 * 100_000 / 100, // 1 % of the lot's value
            created_ns: 1_000 * NS_PER_SEC,
            deadline_ns: 1_600 * NS_PER_SEC,
        }
    }

    #[test]
    fn auction_beats_the_naive_route_on_a_thin_book() {
        for side in [LotSide::Sell, LotSide::Buy] {
            let lot = lot(side, 60);
            let policy = InstrumentPolicy::default();
            let books = thin_market(100_000, 20, 2, 20);

            let mut naive_events = Vec::new();
            let mut naive_books = books.clone();
            let naive = execute_naive(&lot, &policy, &mut naive_books, lot.created_ns, &mut naive_events);
            assert!(naive.is_balanced());
            assert_eq!(naive.filled, 60);

            let mut market = Market::new(books, 30 * NS_PER_SEC);
            let mut liquidators = liquidators();
            let mut events = Vec::new();
            let auction = simulate_auction(
                &lot,
                60,
                &policy,
                &mut market,
                &mut liquidators,
                NS_PER_SEC / 10,
                &mut events,
            )
            .unwrap();
            assert_eq!(auction.status(), AuctionStatus::Cleared, "{events:#?}");
            assert!(auction.ledger.is_balanced());
            let auction_lost = auction.ledger.value_lost(lot.mark);
            let naive_lost = naive.value_lost(lot.mark);
            eprintln!(
                "{side:?}: auction lost {auction_lost}, naive lost {naive_lost}; takes {}",
                events.iter().filter(|e| matches!(e, E::Take { .. })).count()
            );
            assert!(
                auction_lost < naive_lost,
                "{side:?}: auction {auction_lost} vs naive {naive_lost}"
            );
            // Outcomes depend on depth: more than one liquidator took part.
            assert!(
                liquidators.iter().filter(|l| l.takes > 0).count() >= 2,
                "{liquidators:?}"
            );
            // Every liquidator that took made at least its margin worth of profit (never a loss).
            assert!(liquidators.iter().all(|l| l.profit >= 0), "{liquidators:?}");
        }
    }

    #[test]
    fn simulation_is_deterministic() {
        let run = || {
            let lot = lot(LotSide::Sell, 60);
            let mut market = Market::new(thin_market(100_000, 20, 2, 20), 30 * NS_PER_SEC);
            let mut liquidators = liquidators();
            let mut events = Vec::new();
            simulate_auction(
                &lot,
                60,
                &InstrumentPolicy::default(),
                &mut market,
                &mut liquidators,
                NS_PER_SEC / 10,
                &mut events,
            )
            .unwrap();
            events
        };
        assert_eq!(run(), run());
    }

    /// Sums the journal: (lots closed or returned, gross, penalty, keeper, fund, waived).
    fn journal_totals(events: &[E]) -> (i64, i128, i128, i128, i128, i128) {
        let mut t = (0i64, 0i128, 0i128, 0i128, 0i128, 0i128);
        for e in events {
            let (qty, split) = match *e {
                E::Take { qty, split, .. }
                | E::SliceFilled { qty, split, .. }
                | E::NaiveFilled { qty, split, .. }
                | E::BackstopTook { qty, split, .. } => (qty, split),
                E::ReturnedForAdl { qty, .. } => {
                    t.0 += qty;
                    continue;
                }
                _ => continue,
            };
            t.0 += qty;
            t.1 += split.gross;
            t.2 += split.penalty;
            t.3 += split.keeper;
            t.4 += split.fund;
            t.5 += split.waived;
        }
        t
    }

    fn check_conservation(lot: &LiquidationLot, policy: &InstrumentPolicy, outcome: &LotOutcome, events: &[E]) {
        let total = outcome.total(lot, policy.contract_multiplier);
        let (qty, gross, penalty, keeper, fund, waived) = journal_totals(events);
        // Quantity: every lot is filled or returned, exactly once.
        assert_eq!(qty, lot.qty, "{events:#?}");
        assert_eq!(total.filled + total.returned, lot.qty);
        // The journal and the ledgers agree to the unit.
        assert_eq!(
            (gross, penalty, keeper, fund, waived),
            (total.gross, total.penalty, total.keeper, total.fund, total.waived)
        );
        // Money: counterparties' quote = account + keepers + fund (sale); account pays counterparties + keepers + fund (buy-back).
        let account = total.account_quote();
        match lot.side {
            LotSide::Sell => assert_eq!(gross, account + keeper + fund),
            LotSide::Buy => assert_eq!(-account, gross + keeper + fund),
        }
        assert_eq!(penalty, keeper + fund);
        // Penalty budget: charged + waived never exceeds it, and equals it once everything is filled.
        assert!(penalty + waived <= lot.penalty_budget as i128);
        if total.returned == 0 {
            assert_eq!(penalty + waived, lot.penalty_budget as i128);
        }
        // Value at the mark = account + penalty + what counterparties gained against the mark.
        let at_mark = crate::auction::lot::value(lot.mark, total.filled, policy.contract_multiplier);
        let counterparty_gain = match lot.side {
            LotSide::Sell => at_mark - gross,
            LotSide::Buy => gross - at_mark,
        };
        match lot.side {
            LotSide::Sell => assert_eq!(at_mark, account + keeper + fund + counterparty_gain),
            LotSide::Buy => assert_eq!(-account, at_mark + counterparty_gain + keeper + fund),
        }
        for p in &outcome.parts {
            assert!(p.is_balanced());
        }
    }

    #[test]
    fn every_route_conserves_quantity_and_money() {
        for side in [LotSide::Sell, LotSide::Buy] {
            for route in [Route::Auction, Route::Slicing, Route::Both, Route::Naive] {
                let lot = lot(side, 60);
                let mut policy = InstrumentPolicy::default();
                policy.route = RouteMode::Force(route);
                policy.contract_multiplier = 3;
                policy.auction.tip = 500;
                let mut market = Market::new(thin_market(100_000, 20, 2, 20), 30 * NS_PER_SEC);
                let mut liquidators = liquidators();
                let mut vault = BackstopVault::new();
                let mut events = Vec::new();
                let outcome = run_lot(
                    &lot,
                    &policy,
                    &mut market,
                    &mut liquidators,
                    &mut vault,
                    NS_PER_SEC / 10,
                    &mut events,
                )
                .unwrap();
                assert_eq!(outcome.decision.route, route);
                assert!(
                    matches!(events[0], E::RouteChosen { route: r, reason: RouteReason::Forced, .. } if r == route)
                );
                check_conservation(&lot, &policy, &outcome, &events);
            }
        }
    }

    #[test]
    fn unsold_lots_go_to_the_capped_backstop_then_adl() {
        let lot = lot(LotSide::Sell, 60);
        let mut policy = InstrumentPolicy::default();
        policy.route = RouteMode::Force(Route::Auction);
        // Liquidators that want 20 % margin never bid.
        let mut liquidators: Vec<SimLiquidator> = liquidators()
            .into_iter()
            .map(|mut l| {
                l.config.margin_bps = 2_000;
                l
            })
            .collect();
        let mut market = Market::new(thin_market(100_000, 20, 2, 20), 30 * NS_PER_SEC);
        let mut vault = BackstopVault::new();
        let mut events = Vec::new();
        let outcome = run_lot(
            &lot,
            &policy,
            &mut market,
            &mut liquidators,
            &mut vault,
            NS_PER_SEC,
            &mut events,
        )
        .unwrap();
        assert!(events.iter().all(|e| !matches!(e, E::Take { .. })));
        assert!(events
            .iter()
            .any(|e| matches!(e, E::AuctionExpired { remaining: 60, .. })));
        // Depth within 2 % of the mark on the bids: venue 0 has 4 lots every 40 ticks from 99 980
        // (50 levels would be ≥ 98 000, it has 20: 80 lots), venues 1 and 2 2 lots every 20 ticks (40 each).
        // 160 lots × 50 % = 80 ≥ 60: the vault takes everything at the bankruptcy price.
        assert_eq!(vault.position(1), 60);
        assert!(events.iter().any(|e| matches!(
            e,
            E::BackstopTook {
                qty: 60,
                price: 95_000,
                ..
            }
        )));
        check_conservation(&lot, &policy, &outcome, &events);

        // A second identical lot: the vault holds 60 of its 80-lot cap; 20 more, 40 to ADL.
        let mut events = Vec::new();
        let outcome = run_lot(
            &lot,
            &policy,
            &mut market,
            &mut liquidators,
            &mut vault,
            NS_PER_SEC,
            &mut events,
        )
        .unwrap();
        assert!(events.iter().any(|e| matches!(
            e,
            E::BackstopTook {
                qty: 20,
                vault_position: 80,
                ..
            }
        )));
        assert!(events.iter().any(|e| matches!(e, E::ReturnedForAdl { qty: 40, .. })));
        check_conservation(&lot, &policy, &outcome, &events);

        // With overflow to slicing, the 60 lots above the (full) cap are sliced instead.
        policy.backstop.overflow = Overflow::Slicing;
        let mut events = Vec::new();
        let outcome = run_lot(
            &lot,
            &policy,
            &mut market,
            &mut liquidators,
            &mut vault,
            NS_PER_SEC,
            &mut events,
        )
        .unwrap();
        assert!(events.iter().any(|e| matches!(e, E::SliceFilled { .. })));
        assert!(
            events.iter().all(|e| !matches!(e, E::ReturnedForAdl { .. })),
            "{events:#?}"
        );
        check_conservation(&lot, &policy, &outcome, &events);
    }

    #[test]
    fn route_choice_follows_expected_cost() {
        // Deep, tight book, small lot: one slice beats paying liquidators a margin.
        let deep: Vec<L2Book> = thin_market(100_000, 50, 500, 2);
        let views: Vec<&dyn DepthView> = deep.iter().map(|b| b as &dyn DepthView).collect();
        let small = lot(LotSide::Sell, 10);
        let policy = InstrumentPolicy::default();
        let mut events = Vec::new();
        let d = choose(&small, &policy, &views, small.created_ns, &mut events);
        assert_eq!(
            (d.route, d.reason),
            (Route::Slicing, RouteReason::LowestExpectedCost),
            "{d:?}"
        );
        assert!(d.estimate.slicing <= d.estimate.auction && d.estimate.slicing <= d.estimate.both);
        // Thin book, large lot: the auction (liquidators hedging across venues over time) is cheapest.
        let thin = thin_market(100_000, 20, 2, 20);
        let views: Vec<&dyn DepthView> = thin.iter().map(|b| b as &dyn DepthView).collect();
        let big = lot(LotSide::Sell, 60);
        let d = choose(&big, &policy, &views, big.created_ns, &mut events);
        let min = d.estimate.auction.min(d.estimate.slicing).min(d.estimate.both);
        let chosen = match d.route {
            Route::Auction => d.estimate.auction,
            Route::Slicing => d.estimate.slicing,
            Route::Both => d.estimate.both,
            Route::Naive => d.estimate.naive,
        };
        assert_eq!(chosen, min, "{d:?}");
        assert!(d.estimate.naive > min);
        // No depth at all: auction by default.
        let empty = [L2Book::new(gavel_feeds::wire::Venue::Okx)];
        let views: Vec<&dyn DepthView> = empty.iter().map(|b| b as &dyn DepthView).collect();
        let d = choose(&big, &policy, &views, big.created_ns, &mut events);
        assert_eq!((d.route, d.reason), (Route::Auction, RouteReason::NoDepth));
        assert_eq!(d.estimate.slicing, i128::MAX);
        assert!(matches!(
            events.last(),
            Some(E::RouteChosen {
                route: Route::Auction,
                auction_qty: 60,
                ..
            })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn random_lots_conserve_through_every_route(
            qty in 1i64..120,
            sell in proptest::prelude::any::<bool>(),
            route in 0usize..5,
            budget in 0i64..200_000,
            tip in 0i64..1_000,
            margin in 0u32..400,
            cap_bps in 0u32..10_000,
            overflow_slicing in proptest::prelude::any::<bool>(),
        ) {
            let side = if sell { LotSide::Sell } else { LotSide::Buy };
            let mut lot = lot(side, qty);
            lot.penalty_budget = budget;
            lot.deadline_ns = lot.created_ns + 60 * NS_PER_SEC;
            let mut policy = InstrumentPolicy::default();
            policy.route = match route {
                0 => RouteMode::Auto,
                1 => RouteMode::Force(Route::Auction),
                2 => RouteMode::Force(Route::Slicing),
                3 => RouteMode::Force(Route::Both),
                _ => RouteMode::Force(Route::Naive),
            };
            policy.auction.tip = tip;
            policy.backstop.cap_depth_fraction_bps = cap_bps;
            policy.backstop.overflow = if overflow_slicing { Overflow::Slicing } else { Overflow::Adl };
            policy.slicing.max_slices = 20;
            let mut market = Market::new(thin_market(100_000, 20, 2, 20), 30 * NS_PER_SEC);
            let mut liquidators: Vec<SimLiquidator> = liquidators().into_iter().map(|mut l| { l.config.margin_bps += margin; l }).collect();
            let mut vault = BackstopVault::new();
            let mut events = Vec::new();
            let outcome = run_lot(&lot, &policy, &mut market, &mut liquidators, &mut vault, NS_PER_SEC / 2, &mut events).unwrap();
            check_conservation(&lot, &policy, &outcome, &events);
        }
    }
}
