//! Real venues' rule sets run as engine policies: the venue's decision sets the size
//! and the worst price of the liquidation order, and its escalation rule decides when
//! the backstop takes over.

mod engine_common;

use engine_common::*;
use gavel_engine::engine::{Engine, EnginePolicy};
use gavel_engine::venue_rules::binance::BinanceParams;
use gavel_engine::venue_rules::dydx::DydxParams;
use gavel_engine::venue_rules::hyperliquid::HyperliquidParams;
use gavel_engine::venue_rules::{Decision, PositionState, VenueRules};
use gavel_feeds::wire::{liquidation_stage, Event, EventKind, LiquidationNotice, RoutedIntent};

const SEC: i64 = 1_000_000_000;

/// A long of 10 lots at 100.00 with 200 of collateral (maintenance 5 %): bankrupt at
/// 80.00, liquidatable below 84.21.
fn victim() -> (Accounts, u32, u32) {
    let mut a = Accounts::new();
    let v = a.add("victim", 200);
    a.position(v, 10, 10_000);
    let short = a.add("short", 1_000_000);
    a.position(short, -10, 10_000);
    let vault = a.add("vault", 1_000_000);
    (a, v, vault)
}

/// The venue's own decision for the victim at the engine's current mark.
fn decision(engine: &Engine, rules: &VenueRules, victim: u32) -> Decision {
    let book = &engine.ledger().book;
    let state = PositionState::of(book.instruments(), book.marks(), book.account(victim), 0, 0).expect("open position at a mark");
    rules.decide(book.instruments().get(0), &state)
}

/// The mark moves from 100.00 to `mid` at 1 s, the venue quoting `half_spread` ticks around it.
fn crash_to(mid: i64, half_spread: i64) -> Vec<Event> {
    let mut events = quotes(None, 9_900, 10_100, 100, SEC);
    events.extend(quotes(Some((9_900, 10_100)), mid - half_spread, mid + half_spread, 100, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    events
}

fn intents(out: &[Event]) -> Vec<RoutedIntent> {
    of_kind(out, EventKind::RoutedIntent).iter().map(|e| e.payload()).collect()
}

#[test]
fn dydx_orders_at_the_fillable_price_and_charges_the_capped_fee() {
    let (a, victim, _) = victim();
    let rules = VenueRules::DydxV4(DydxParams::default());
    let policy = EnginePolicy::for_rules(rules.clone());
    assert_eq!(policy.name, "dydx-v4");
    let mut engine = engine(a.ledger(0), policy, |_| {});
    let mut out = Vec::new();
    run(&mut engine, &crash_to(8_400, 1), &mut out);

    let expected = decision(&engine, &rules, victim);
    assert!(expected.liquidatable && expected.size_to_liquidate > 0);
    let limit = expected.limit_price.expect("dYdX's fillable price");
    // The own book is empty, so the order goes out as an intent, at the fillable price
    // (the venue bids 83.99, above it).
    let sent = intents(&out);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].limit, sent[0].qty), (limit, expected.size_to_liquidate));
    // The fillable price lies between the bankruptcy price and the mark.
    let bankruptcy = expected.bankruptcy_price.expect("bankruptcy price");
    assert!(bankruptcy <= limit && limit <= 8_400, "bankruptcy {bankruptcy}, fillable {limit}");
    // A fill at the limit pays the insurance fund the capped fee (0.5 % by default).
    let fund_before = engine.ledger().fund.balance();
    let intent = of_kind(&out, EventKind::RoutedIntent)[0].sequence;
    run(&mut engine, &[intent_fill(intent, limit, sent[0].qty, true, 3 * SEC)], &mut out);
    let mult = engine.ledger().book.instruments().get(0).quote_per_tick_lot;
    let notional = i128::from(sent[0].qty) * i128::from(limit) * mult;
    let fee = engine.ledger().fund.balance() - fund_before;
    assert!(fee > 0 && fee <= notional * 5 / 1000 + 1, "fee {fee} on notional {notional}");
}

#[test]
fn binance_sends_one_order_at_the_bankruptcy_price_then_the_fund_takes_over() {
    let (a, victim, vault) = victim();
    let rules = VenueRules::BinanceUsdm(BinanceParams);
    let mut engine = engine(a.ledger(1_000_000), EnginePolicy::for_rules(rules.clone()), |c| c.backstop_account = Some(vault));
    let mut out = Vec::new();
    run(&mut engine, &crash_to(8_400, 100), &mut out);
    let expected = decision(&engine, &rules, victim);
    let sent = intents(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(Some(sent[0].limit), expected.limit_price);
    assert_eq!(expected.limit_price, expected.bankruptcy_price);
    // Nothing fills the IOC: after its timeout the backstop takes the position (one attempt).
    run(&mut engine, &[timer(10 * SEC)], &mut out);
    let book = &engine.ledger().book;
    assert_eq!(book.account(victim).position(0).map_or(0, |p| p.size), 0);
    assert!(book.account(vault).position(0).is_some_and(|p| p.size > 0));
}

/// Hyperliquid: a failed market close leaves an account above 2/3 of maintenance to
/// retry after the cooldown; below 2/3 the backstop vault takes over at once, with no order.
#[test]
fn hyperliquid_escalates_to_the_vault_only_below_two_thirds_of_maintenance() {
    for (mid, escalates) in [(8_400, false), (8_200, true)] {
        let (a, victim, vault) = victim();
        let rules = VenueRules::Hyperliquid(HyperliquidParams::with_max_leverage(10));
        let mut engine = engine(a.ledger(1_000_000), EnginePolicy::for_rules(rules), |c| c.backstop_account = Some(vault));
        let mut out = Vec::new();
        run(&mut engine, &crash_to(mid, 100), &mut out);
        // Above 2/3: one market order; below: no order, the vault takes it.
        assert_eq!(intents(&out).len(), usize::from(!escalates), "mark {mid}");
        run(&mut engine, &[timer(10 * SEC)], &mut out);
        let vault_size = engine.ledger().book.account(vault).position(0).map_or(0, |p| p.size);
        let backstopped = of_kind(&out, EventKind::LiquidationUpdate)
            .iter()
            .any(|e| e.flags == liquidation_stage::BACKSTOP && e.payload::<LiquidationNotice>().account == u64::from(victim));
        assert_eq!(vault_size > 0, escalates, "mark {mid}: vault holds {vault_size}");
        assert_eq!(backstopped, escalates, "mark {mid}");
    }
}

#[test]
fn rule_set_policies_are_complete_and_valid() {
    let all = [
        VenueRules::DydxV4(DydxParams::default()),
        VenueRules::Hyperliquid(HyperliquidParams::with_max_leverage(40)),
        VenueRules::BinanceUsdm(BinanceParams),
    ];
    for rules in all {
        let policy = EnginePolicy::for_rules(rules.clone());
        policy.validate().unwrap();
        assert_eq!(policy.rules.as_ref(), Some(&rules));
        assert!(!policy.stages.is_empty());
    }
}

/// Binance's ADL takes whole positions in its queue order (PnL% × leverage), not a
/// pro-rata share: the most leveraged profitable short is closed first.
#[test]
fn binance_adl_takes_whole_positions_in_queue_order() {
    let mut a = Accounts::new();
    let victim = a.add("victim", 200);
    a.position(victim, 10, 10_000);
    let whale = a.add("whale", 10_000_000);
    a.position(whale, 12, 10_000);
    // Same entry, so the same PnL%: the rank is the leverage (less collateral, higher).
    let high = a.add("high", 300);
    a.position(high, -6, 10_000);
    let mid = a.add("mid", 3_000);
    a.position(mid, -6, 10_000);
    let low = a.add("low", 300_000);
    a.position(low, -10, 10_000);
    let rules = VenueRules::BinanceUsdm(BinanceParams);
    let mut engine = engine(a.ledger(0), EnginePolicy::for_rules(rules), |_| {});
    let mut out = Vec::new();
    run(&mut engine, &crash_to(8_200, 100), &mut out);
    run(&mut engine, &[timer(10 * SEC)], &mut out);
    let adl: Vec<(u32, i64)> = adl_records(&out)
        .iter()
        .map(|entry| (gavel_engine::risk::account::ledger_accounts(entry.accounts).1.expect("a counterparty"), entry.amount.abs()))
        .collect();
    assert_eq!(adl, vec![(high, 6), (mid, 4)], "queue order: all of `high`, then `mid`");
    let book = &engine.ledger().book;
    assert_eq!(book.account(victim).position(0).map_or(0, |p| p.size), 0);
    assert_eq!(book.account(low).position(0).map(|p| p.size), Some(-10));
}

/// A venue's limit past the bankruptcy price (Drift: oracle less the liquidator fee, on a
/// bankrupt account) is used only as far as the insurance fund backs it: with an empty
/// fund, the own-book order stops at the bankruptcy price and a lower bid does not fill.
#[test]
fn rule_limits_past_bankruptcy_are_bounded_by_the_fund() {
    let (mut a, victim, _) = victim();
    let maker = a.add("maker", 1_000_000);
    let rules = VenueRules::DriftV2(gavel_engine::venue_rules::drift::DriftParams::with_fees(10_000, 0));
    let mut engine = engine(a.ledger(0), EnginePolicy::for_rules(rules.clone()), |_| {});
    let mut out = Vec::new();
    let mut events = quotes(None, 9_900, 10_100, 100, SEC);
    events.push(limit(maker, 7, gavel_feeds::wire::Side::Bid, 7_950, 10, SEC));
    events.extend(quotes(Some((9_900, 10_100)), 7_800, 8_000, 100, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);
    let expected = decision(&engine, &rules, victim);
    assert!(expected.limit_price.is_some_and(|l| l < 8_000), "Drift's limit lies past bankruptcy: {expected:?}");
    assert_eq!(engine.metrics().volume.own_book, 0, "no own-book fill below the bankruptcy price");
    assert_eq!(engine.ledger().book.account(maker).position(0).map_or(0, |p| p.size), 0);
}
