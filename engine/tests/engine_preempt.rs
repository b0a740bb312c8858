//! Pre-emptive reduction on a margin call (`EnginePolicy::preempt_per_mille`): the
//! called account's position is reduced by the policy's share through the own book
//! and routes, without penalty and never past its liquidation price; what cannot be
//! closed stays open (no backstop, no ADL); a reduction still running when the
//! account becomes liquidatable turns into its liquidation.

mod engine_common;

use engine_common::*;
use gavel_engine::engine::margin_call::MarginCallConfig;
use gavel_engine::engine::EnginePolicy;
use gavel_feeds::wire::{liquidation_stage, Event, EventKind, ImpliedVolQuote, LiquidationNotice, RoutedIntent, Side, Venue};

const MS: i64 = 1_000_000;

fn implied(vol_e6: i64, t: i64) -> Event {
    Event::new(EventKind::ImpliedVol, Venue::Gavel, 0, ImpliedVolQuote { vol_e6, tenor_ns: 0, reserved: 0 }).with_times(0, t, t)
}

/// 3 σ over a day at 150 % implied vol is a 23.5 % move: it reaches `near` (long 10 at
/// 100.00 with 200, liquidatable below 84.21) and not `far`.
fn calls(c: &mut gavel_engine::engine::EngineConfig) {
    c.margin_call = Some(MarginCallConfig { k_sigma_milli: 3_000, horizon_ns: 86_400 * SEC, cooldown_ns: 3_600 * SEC, implied_max_age_ns: 3_600 * SEC });
}

struct Setup {
    accounts: Accounts,
    near: u32,
    far: u32,
    maker: u32,
}

fn setup() -> Setup {
    let mut accounts = Accounts::new();
    let near = accounts.add("near", 200);
    accounts.position(near, 10, 10_000);
    let far = accounts.add("far", 900);
    accounts.position(far, 10, 10_000);
    let short = accounts.add("short", 1_000_000);
    accounts.position(short, -20, 10_000);
    let maker = accounts.add("maker", 1_000_000);
    Setup { accounts, near, far, maker }
}

/// A flat venue book at 99.90 / 100.10 from `SEC`, timers every 100 ms for `secs` s, the
/// 150 % implied vol quoted at 1.15 s (the call comes with the mark at 1.2 s), and `extra`
/// inputs merged in time order.
fn flat_with(secs: i64, extra: Vec<Event>) -> Vec<Event> {
    let mut events = vec![implied(1_500_000, SEC + 150 * MS)];
    events.extend(quotes(None, 9_990, 10_010, 1_000, SEC));
    events.extend((1..=secs * 10).map(|k| timer(SEC + k * 100 * MS)));
    events.extend(extra);
    events.sort_by_key(|e| e.receive_ns);
    events
}

fn notices(out: &[Event], stage: u8) -> Vec<LiquidationNotice> {
    of_kind(out, EventKind::LiquidationUpdate).iter().filter(|e| e.flags == stage).map(|e| e.payload()).collect()
}

fn size(engine: &gavel_engine::engine::Engine, account: u32) -> i64 {
    engine.ledger().book.account(account).position(0).map_or(0, |p| p.size)
}

fn with_preempt(name: &str, per_mille: u32) -> EnginePolicy {
    policy(name, |p| p.preempt_per_mille = per_mille)
}

#[test]
fn a_called_account_sells_its_share_to_a_resting_bid_without_penalty() {
    let run_with = |per_mille: u32| {
        let s = setup();
        let mut engine = engine(s.accounts.ledger(1_000_000), with_preempt("partial", per_mille), calls);
        // A market maker bids 99.00 for 10 in the own book before the call.
        let events = flat_with(3, vec![limit(s.maker, 1, Side::Bid, 9_900, 10, SEC + 50 * MS)]);
        let mut out = Vec::new();
        run(&mut engine, &events, &mut out);
        (engine, out, s.near, s.far, s.maker)
    };
    let (engine, out, near, far, maker) = run_with(500);
    let started = notices(&out, liquidation_stage::PREEMPTIVE);
    assert_eq!(started.len(), 1, "{out:?}");
    assert_eq!((started[0].account, started[0].qty), (u64::from(near), 5));
    let sold = notices(&out, liquidation_stage::OWN_BOOK);
    assert_eq!(sold.iter().map(|n| (n.price, n.qty)).collect::<Vec<_>>(), vec![(9_900, 5)]);
    assert_eq!((size(&engine, near), size(&engine, maker), size(&engine, far)), (5, 5, 10));
    let m = engine.metrics();
    assert_eq!((m.margin_calls, m.preemptive_reductions, m.preemptive_lots), (1, 1, 5));
    // 5 lots one quote unit below the 100.00 mark at the reduction's start.
    assert_eq!(m.preemptive_cost, quote(5));
    // Not a liquidation: no episode, no liquidation volume, no penalty, no arrival slippage.
    assert_eq!((m.liquidations, m.volume.total(), m.penalties, m.liquidation_fills, m.accounts_touched), (0, 0, 0, 0, 0));
    assert_eq!(notices(&out, liquidation_stage::TRIGGERED).len(), 0);
    assert_eq!(notices(&out, liquidation_stage::DONE).len(), 1);
    assert_eq!(engine.active_liquidations(), 0);
    // Off (0 ‰): the same call, nothing sold.
    let (engine, out, near, ..) = run_with(0);
    assert_eq!(engine.metrics().margin_calls, 1);
    assert!(notices(&out, liquidation_stage::PREEMPTIVE).is_empty());
    assert_eq!(size(&engine, near), 10);
}

#[test]
fn a_routed_reduction_never_asks_past_the_liquidation_price_and_ends_without_escalation() {
    let s = setup();
    let near = s.near;
    // `partial`: own book (empty), then market intents; backstop and ADL exist for liquidations.
    let mut engine = engine(s.accounts.ledger(1_000_000), with_preempt("partial", 300), calls);
    let mut out = Vec::new();
    // Long enough for the intent to time out (2 s) unanswered.
    run(&mut engine, &flat_with(5, Vec::new()), &mut out);
    let intents = of_kind(&out, EventKind::RoutedIntent);
    assert_eq!(intents.len(), 1, "{out:?}");
    let intent: RoutedIntent = intents[0].payload();
    // 30 % of 10 lots; the limit is the liquidation price (84.22: liquidatable from 84.21 down), not the fund-backed floor.
    assert_eq!((intent.qty, intent.limit), (3, 8_422));
    let m = engine.metrics();
    // Its two empty attempts (own book, the unanswered intent) are not liquidation attempts.
    assert_eq!((m.preemptive_reductions, m.preemptive_lots, m.zero_fill_attempts), (1, 0, 0));
    assert_eq!(notices(&out, liquidation_stage::ZERO_FILL).len(), 2);
    // Nothing filled and nothing escalated: the position stays, no ADL, no backstop, no fund draw.
    assert_eq!(size(&engine, near), 10);
    assert_eq!((m.volume.adl, m.volume.backstop, m.fund_draws, m.liquidations), (0, 0, 0, 0));
    assert!(adl_records(&out).is_empty());
    let done = notices(&out, liquidation_stage::DONE);
    assert_eq!(done.iter().map(|n| n.qty).collect::<Vec<_>>(), vec![3]);
    // A late fill of the finished intent is refused and counted, not booked.
    run(&mut engine, &[intent_fill(intents[0].sequence, 9_990, 3, true, 7 * SEC)], &mut out);
    assert_eq!((engine.metrics().stale_intent_fills, size(&engine, near)), (1, 10));
}

#[test]
fn a_reduction_running_when_the_account_crosses_becomes_its_liquidation() {
    let s = setup();
    let near = s.near;
    let mut engine = engine(s.accounts.ledger(1_000_000), with_preempt("partial", 300), calls);
    let mut out = Vec::new();
    // The call comes at 1.2 s; the crash to 83.00 comes while the reduction's intent is
    // still out (timeout 2 s). The jump also calls `far` (realised vol explodes).
    let crash = SEC + 1_500 * MS;
    let mut events = flat_with(1, Vec::new());
    events.extend(quotes(Some((9_990, 10_010)), 8_290, 8_310, 1_000, crash));
    events.push(timer(crash + 100 * MS));
    run(&mut engine, &events, &mut out);
    // (liquidation id, notice) of the near account's updates with `stage`.
    let of_near = |stage: u8| -> Vec<(u64, LiquidationNotice)> {
        of_kind(&out, EventKind::LiquidationUpdate)
            .iter()
            .filter(|e| e.flags == stage)
            .map(|e| (e.sequence, e.payload::<LiquidationNotice>()))
            .filter(|(_, n)| n.account == u64::from(near))
            .collect()
    };
    let (started, triggered) = (of_near(liquidation_stage::PREEMPTIVE), of_near(liquidation_stage::TRIGGERED));
    assert_eq!(started.len(), 1, "{out:?}");
    assert_eq!(triggered.len(), 1, "{out:?}");
    assert_eq!(triggered[0].1.account, u64::from(near));
    // The same episode: one pool slot, one liquidation counted, preceded by the call.
    let m = engine.metrics();
    assert_eq!((m.preemptive_upgraded, m.liquidations, m.liquidations_preceded_by_call), (1, 1, 1));
    assert_eq!(started[0].0, triggered[0].0, "the reduction's own id");
    // Re-planned as a liquidation: the partial plan now, more than the 3-lot reduction.
    assert!(triggered[0].1.qty > 3, "{:?}", triggered[0].1);
}

#[test]
fn the_share_is_range_checked_and_not_mixed_with_venue_rules() {
    let mut p = with_preempt("partial", 1_001);
    assert!(p.validate().unwrap_err().contains("preempt_per_mille"));
    p.preempt_per_mille = 1_000;
    assert!(p.validate().is_ok());
    let rules = gavel_engine::venue_rules::VenueRules::DydxV4(gavel_engine::venue_rules::dydx::DydxParams::default());
    let mut venue = EnginePolicy::for_rules(rules);
    venue.preempt_per_mille = 100;
    assert!(venue.validate().unwrap_err().contains("pre-emptive"));
}
