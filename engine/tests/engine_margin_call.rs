//! Predictive margin calls: an account within k σ of its liquidation price is
//! called once per cooldown before it is liquidatable; one far away is not; the
//! liquidation that follows counts as preceded by the call, with its lead time. An
//! implied-vol input widens the band where realised volatility has not moved yet.

mod engine_common;

use engine_common::*;
use gavel_engine::engine::margin_call::MarginCallConfig;
use gavel_feeds::wire::{Event, EventKind, ImpliedVolQuote, MarginCallNotice, Venue};

const MS: i64 = 1_000_000;

/// Marks that swing between 100.00 and 98.00 every 100 ms for `secs` seconds (realised
/// volatility builds up), starting at `t0`; returns the events and the last quotes.
fn choppy(t0: i64, secs: i64) -> (Vec<gavel_feeds::wire::Event>, (i64, i64)) {
    let mut events = Vec::new();
    let mut old = None;
    let steps = secs * 10;
    for k in 0..steps {
        let mid = if k % 2 == 0 { 10_000 } else { 9_800 };
        let (b, a) = (mid - 10, mid + 10);
        events.extend(quotes(old, b, a, 1_000, t0 + k * 100 * MS));
        old = Some((b, a));
    }
    (events, old.unwrap_or((0, 0)))
}

fn book() -> (Accounts, u32, u32) {
    let mut a = Accounts::new();
    // Long 10 at 100.00 with 200: liquidatable below 84.21.
    let near = a.add("near", 200);
    a.position(near, 10, 10_000);
    // Long 10 at 100.00 with 900: liquidatable only below about 10.53.
    let far = a.add("far", 900);
    a.position(far, 10, 10_000);
    let short = a.add("short", 1_000_000);
    a.position(short, -20, 10_000);
    (a, near, far)
}

fn config(c: &mut gavel_engine::engine::EngineConfig) {
    c.margin_call = Some(MarginCallConfig { k_sigma_milli: 3_000, horizon_ns: 60 * SEC, cooldown_ns: 10 * SEC, implied_max_age_ns: 3_600 * SEC });
}

#[test]
fn the_account_near_its_liquidation_price_is_called_once_and_the_far_one_not() {
    let (a, near, far) = book();
    let mut engine = engine(a.ledger(1_000_000), policy("partial", |_| {}), config);
    let (events, _) = choppy(SEC, 5);
    let mut out = Vec::new();
    run(&mut engine, &events, &mut out);
    let calls = of_kind(&out, EventKind::MarginCall);
    let called: Vec<u64> = calls.iter().map(|e| e.payload::<MarginCallNotice>().account).collect();
    // Fails if the band is not walked (no call), if the cooldown is not kept (several
    // calls in 5 s), or if the far account is inside the band.
    assert_eq!(called, vec![u64::from(near)], "{calls:?}");
    assert!(!called.contains(&u64::from(far)));
    let notice: MarginCallNotice = calls[0].payload();
    assert_eq!(notice.liquidation_price, 8_421, "the near account's trigger price");
    assert!(notice.distance_sigma_milli > 0 && notice.distance_sigma_milli <= 3_000, "{notice:?}");
    assert_eq!(engine.metrics().liquidations, 0, "called, not liquidated");
    assert_eq!(engine.metrics().margin_calls, 1);
}

#[test]
fn a_liquidation_after_a_call_counts_as_preceded_with_its_lead_time() {
    let (a, near, _) = book();
    let mut engine = engine(a.ledger(1_000_000), policy("partial", |_| {}), config);
    let (mut events, last) = choppy(SEC, 5);
    let crash_at = 6 * SEC + 500 * MS;
    events.extend(quotes(Some(last), 8_300, 8_320, 1_000, crash_at));
    events.push(timer(crash_at + 200 * MS));
    let mut out = Vec::new();
    run(&mut engine, &events, &mut out);
    let call_time = of_kind(&out, EventKind::MarginCall)[0].receive_ns;
    let triggered = of_kind(&out, EventKind::LiquidationUpdate).into_iter().find(|e| e.flags == gavel_feeds::wire::liquidation_stage::TRIGGERED).expect("liquidated");
    assert_eq!(triggered.payload::<gavel_feeds::wire::LiquidationNotice>().account, u64::from(near));
    let m = engine.metrics();
    assert_eq!((m.liquidations >= 1, m.liquidations_preceded_by_call), (true, 1));
    // The lead is the event time between the call and the trigger (HDR keeps 3 digits).
    let lead = engine.call_lead_time().value_at_quantile(0.5) as i64;
    let expected = triggered.receive_ns - call_time;
    assert!(expected > 0 && (lead - expected).abs() <= expected / 500 + 1, "lead {lead} vs {expected}");
}

#[test]
fn calls_can_be_switched_off_and_the_horizon_bounds_what_counts() {
    let (a, _, _) = book();
    let mut engine = engine(a.ledger(1_000_000), policy("partial", |_| {}), |c| c.margin_call = None);
    let (events, _) = choppy(SEC, 5);
    let mut out = Vec::new();
    run(&mut engine, &events, &mut out);
    assert!(of_kind(&out, EventKind::MarginCall).is_empty());
    assert_eq!(engine.metrics().margin_calls, 0);
    // Bad settings are refused at construction.
    let (a, _, _) = book();
    let bad = gavel_engine::engine::Engine::new(
        {
            let mut c = gavel_engine::engine::EngineConfig::for_venues(vec![VENUE]);
            c.margin_call = Some(MarginCallConfig { k_sigma_milli: 0, horizon_ns: SEC, cooldown_ns: 0, implied_max_age_ns: 0 });
            c
        },
        policy("partial", |_| {}),
        a.ledger(0),
    );
    assert!(bad.err().is_some_and(|e| e.contains("k_sigma_milli")));
}

/// A book that does not move for `secs` seconds from `t0`: realised volatility stays 0.
fn flat(t0: i64, secs: i64) -> Vec<Event> {
    let mut events = quotes(None, 9_990, 10_010, 1_000, t0);
    events.extend((1..=secs * 10).map(|k| timer(t0 + k * 100 * MS)));
    events
}

fn implied(vol_e6: i64, instrument: u32, t: i64) -> Event {
    Event::new(EventKind::ImpliedVol, Venue::Gavel, instrument, ImpliedVolQuote { vol_e6, tenor_ns: 0, reserved: 0 }).with_times(0, t, t)
}

/// 3 σ over a day: at 150 % implied vol that is a 23.5 % move, which reaches the near
/// account (16 % away) and not the far one (89 % away).
fn day_config(max_age: i64) -> impl FnOnce(&mut gavel_engine::engine::EngineConfig) {
    move |c| c.margin_call = Some(MarginCallConfig { k_sigma_milli: 3_000, horizon_ns: 86_400 * SEC, cooldown_ns: 3_600 * SEC, implied_max_age_ns: max_age })
}

#[test]
fn an_implied_vol_quote_calls_the_account_realised_volatility_has_not_reached() {
    let calls = |quotes: &[Event], max_age: i64| {
        let (a, near, _) = book();
        let mut engine = engine(a.ledger(1_000_000), policy("partial", |_| {}), day_config(max_age));
        let mut events = quotes.to_vec();
        events.extend(flat(SEC, 3));
        let mut out = Vec::new();
        run(&mut engine, &events, &mut out);
        let called: Vec<u64> = of_kind(&out, EventKind::MarginCall).iter().map(|e| e.payload::<MarginCallNotice>().account).collect();
        (called, engine.metrics().clone(), u64::from(near))
    };
    // Realised alone: the book never moves, so nobody is called.
    let (called, m, _) = calls(&[], 3_600 * SEC);
    assert!(called.is_empty() && m.margin_calls == 0, "{called:?}");
    // A 150 % implied vol: the near account is called once, on the implied σ; not the far one.
    let (called, m, near) = calls(&[implied(1_500_000, 0, SEC / 2)], 3_600 * SEC);
    assert_eq!(called, vec![near]);
    assert_eq!((m.margin_calls_on_implied, m.implied_vol_quotes), (1, 1));
    // 60 % is not enough (3 σ = 9.4 %).
    let (called, _, _) = calls(&[implied(600_000, 0, SEC / 2)], 3_600 * SEC);
    assert!(called.is_empty(), "{called:?}");
    // A quote older than implied_max_age_ns at the first mark is not used.
    let (called, m, _) = calls(&[implied(1_500_000, 0, SEC / 2)], 100 * MS);
    assert!(called.is_empty() && m.implied_vol_quotes == 1, "{called:?}");
    // Out-of-range values and unknown instruments are ignored and counted, never used.
    let bad = [implied(0, 0, SEC / 2), implied(-5, 0, SEC / 2), implied(10_000_001, 0, SEC / 2), implied(1_500_000, 7, SEC / 2)];
    let (called, m, _) = calls(&bad, 3_600 * SEC);
    assert!(called.is_empty(), "{called:?}");
    assert_eq!((m.implied_vol_quotes, m.ignored_events), (0, 4));
}
