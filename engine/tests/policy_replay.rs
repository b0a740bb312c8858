//! The policy-replay handler on a hand-built market: two venues whose books
//! fall step by step under a small leveraged account book.

use gavel_engine::engine_loop::{EngineLoop, Mode, VecSource};
use gavel_engine::outcome::OutcomeRecorder;
use gavel_engine::policy_replay::{LiquidationPolicy, PolicyReplay, ReplayConfig};
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{loader, Ledger, RiskBook};
use gavel_feeds::clock::Clock;
use gavel_feeds::wire::{Event, EventKind, PriceLevel, Side, Venue};
use proptest::prelude::*;

const INSTRUMENTS: &str = r#"
[[instrument]]
symbol = "BTCUSDT"
tick_size = "0.1"
lot_size = "0.001"
min_size = "0.001"
brackets = [{ notional_cap = "inf", maintenance_rate = "0.005", max_leverage = 100 }]
"#;

/// Accounts at 5×, 20× and 50× long, plus a short that profits from the fall (an ADL counterparty).
const ACCOUNTS: &str = "account,collateral\na5,12000\na20,3000\na50,1200\nshort,20000\n";
const POSITIONS: &str = "account,instrument,size,entry_price\na5,BTCUSDT,1.000,60000.0\na20,BTCUSDT,1.000,60000.0\na50,BTCUSDT,1.000,60000.0\nshort,BTCUSDT,-3.000,60000.0\n";

fn ledger() -> Ledger {
    let set = InstrumentSet::parse(INSTRUMENTS, "test").unwrap();
    let mut book = RiskBook::new(set);
    loader::load_accounts(&mut book, ACCOUNTS, "accounts").unwrap();
    loader::load_positions(&mut book, POSITIONS, "positions").unwrap();
    Ledger::new(book, 0)
}

/// Both venues' books as `BookLevel` events: 20 levels a side 10 ticks apart around
/// `mids[step]`, moved every 100 ms, removing the levels that left.
fn market(mids: &[i64]) -> Vec<Vec<Event>> {
    [Venue::BinanceUsdm, Venue::Bybit]
        .iter()
        .enumerate()
        .map(|(v, &venue)| {
            let mut events = Vec::new();
            let mut previous: Vec<(Side, i64)> = Vec::new();
            for (step, &mid) in mids.iter().enumerate() {
                let t = 1_000_000_000 + step as i64 * 100_000_000 + v as i64 * 1_000;
                let mut current = Vec::new();
                for i in 0..20 {
                    current.push((Side::Bid, mid - 5 - 10 * i));
                    current.push((Side::Ask, mid + 5 + 10 * i));
                }
                for &(side, price) in previous.iter().filter(|p| !current.contains(p)) {
                    events.push(level(venue, side, price, 0, t));
                }
                for (i, &(side, price)) in current.iter().enumerate() {
                    events.push(level(venue, side, price, 200 + 40 * (i as i64 / 2), t));
                }
                previous = current;
            }
            events
        })
        .collect()
}

fn level(venue: Venue, side: Side, price: i64, qty: i64, t: i64) -> Event {
    Event::new(EventKind::BookLevel, venue, 0, PriceLevel { price, qty, index: 0 })
        .with_side(side)
        .with_times(0, 0, t)
}

fn run(policy: &str, mids: &[i64]) -> (OutcomeRecorder, String) {
    let config = ReplayConfig::for_venues(vec![Venue::BinanceUsdm, Venue::Bybit]);
    let policy = LiquidationPolicy::builtin(policy).unwrap();
    let mut handler = PolicyReplay::new(policy, config, ledger(), Clock::monotonic());
    let sources = market(mids).into_iter().map(VecSource::new).collect();
    let mut engine = EngineLoop::new(sources, Mode::Replay, Clock::monotonic());
    engine.run(&mut handler, u64::MAX, || false).unwrap();
    let (outcome, _, journal) = handler.finish();
    (outcome, journal)
}

/// A fall from 60,000.0 to 56,400.0 (−6 %) in 0.1 % steps, then flat.
fn falling() -> Vec<i64> {
    (0..80).map(|i| 600_000 - 600 * i.min(60)).collect()
}

#[test]
fn a_fall_liquidates_conserves_value_and_replays_identically() {
    let (naive, naive_journal) = run("naive", &falling());
    let (partial, _) = run("partial", &falling());
    for outcome in [&naive, &partial] {
        assert!(outcome.liquidations() > 0, "{}: nobody liquidated", outcome.policy);
        assert_eq!(outcome.conservation_error, 0, "{}", outcome.policy);
    }
    // naive closes whole positions only; partial starts with partial closes.
    assert_eq!(naive.partial_liquidations, 0);
    assert!(naive.full_liquidations >= 2, "{naive:?}");
    assert!(partial.partial_liquidations > 0, "{partial:?}");
    assert!(naive_journal.contains(",LIQ,account=a50,"), "the 50x account must be liquidated first");
    // The same input gives the same journal, byte for byte.
    let (_, again) = run("naive", &falling());
    assert_eq!(naive_journal, again);
}

#[test]
fn a_flat_market_liquidates_nobody() {
    let (outcome, journal) = run("adaptive", &vec![600_000; 50]);
    assert_eq!(outcome.liquidations(), 0);
    assert_eq!(outcome.conservation_error, 0);
    assert!(!journal.contains(",LIQ,"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Whatever the path (falls, gaps, rebounds), every policy conserves value to the unit.
    #[test]
    fn value_is_conserved_on_random_paths(steps in proptest::collection::vec(-1_500i64..800, 10..60), policy in 0usize..5) {
        let mut mid = 600_000i64;
        let mids: Vec<i64> = steps.iter().map(|d| { mid = (mid + d).max(100_000); mid }).collect();
        let name = gavel_engine::policy_replay::BUILTIN_POLICIES[policy];
        let (outcome, _) = run(name, &mids);
        prop_assert_eq!(outcome.conservation_error, 0);
        prop_assert!(outcome.bad_debt >= 0);
    }
}
