//! `gavel bench trigger`: latency of one mark update, from receipt to the
//! full set of crossed accounts, with gavel's trigger index against a naive
//! full scan of every account's health, in one interleaved run.
//!
//! Setup: `accounts` cross accounts (default 1,000,000), each with one
//! BTCUSDT position (half long, half short), entries 49,500–50,500, leverage
//! 5–20×, so every liquidation price lies outside 48,200–51,800.
//! * k = 0: the mark random-walks inside 49,000–51,000 (nothing crosses).
//! * realistic k: the mark walks down from 48,100 in 2-tick steps; the
//!   crossed accounts are closed after each update (untimed, as a liquidation
//!   would) and restored at the end of the round. The mean k is reported.
//!
//! The scan is the strongest naive peer: a flat array of (wallet, size,
//! entry notional) evaluated with the same exact margin function per update.

use gavel_engine::risk::instrument::{InstrumentSet, RATE_SCALE};
use gavel_engine::risk::{AccountId, MarginMode, RiskBook};
use gavel_feeds::clock::Clock;
use gavel_feeds::rng::SplitMix64;
use serde::Serialize;

use crate::stats::{interleave, median_summary, new_histogram, LatencySummary};

/// Benchmark parameters.
#[derive(Clone, Copy, Debug)]
pub struct TriggerBenchConfig {
    /// Number of accounts (one position each).
    pub accounts: usize,
    /// Interleaved rounds per contender (≥ 5).
    pub rounds: usize,
    /// Mark updates per gavel round.
    pub gavel_updates: usize,
    /// Mark updates per scan round (the scan is slow).
    pub scan_updates: usize,
    /// Every n-th account also holds an ETHUSDT position (a multi-position
    /// cross account with conservative entries); 0 = none.
    pub multi_every: usize,
}

impl Default for TriggerBenchConfig {
    fn default() -> Self {
        TriggerBenchConfig {
            accounts: 1_000_000,
            rounds: 5,
            gavel_updates: 100_000,
            scan_updates: 30,
            multi_every: 0,
        }
    }
}

/// Both sides at one k.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SideBySide {
    /// Mean crossed accounts per update.
    pub k_mean: f64,
    /// gavel trigger index, median round.
    pub gavel: LatencySummary,
    /// Naive full scan, median round.
    pub scan: LatencySummary,
}

/// Results of `gavel bench trigger`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TriggerBenchReport {
    /// Accounts in the book.
    pub accounts: usize,
    /// Rounds per contender.
    pub rounds: usize,
    /// Nothing crossed.
    pub k0: SideBySide,
    /// A falling mark that crosses accounts at every update.
    pub realistic_k: SideBySide,
    /// Crossed accounts on which the index and the scan were checked to agree.
    pub agreement_checked: u64,
}


#[derive(Clone, Copy)]
struct Flat {
    wallet: i128,
    size: i64,
    entry: i128,
    eth_size: i64,
    eth_entry: i128,
}

/// The shipped example instruments (BTCUSDT is id 0).
pub fn instruments() -> InstrumentSet {
    InstrumentSet::parse(
        include_str!("../../docs/examples/instruments.toml"),
        "docs/examples/instruments.toml",
    )
    .expect("shipped instruments parse")
}

/// Runs the benchmark.
pub fn run(cfg: TriggerBenchConfig) -> TriggerBenchReport {
    let set = instruments();
    let btc = set.id("BTCUSDT").expect("BTCUSDT");
    let ins = set.get(btc).clone();
    let m = ins.quote_per_tick_lot;
    let eth = set.id("ETHUSDT").expect("ETHUSDT");
    let eth_ins = set.get(eth).clone();
    let eth_mark = 250_000i64;
    let mut book = RiskBook::new(set);
    book.reserve(cfg.accounts);
    let mut flat = Vec::with_capacity(cfg.accounts);
    let mut rng = SplitMix64::new(0x6761_7665_6c21);
    for i in 0..cfg.accounts {
        let lots = rng.range_i64(1, 1_999); // 0.001 .. 2 BTC
        let size = if i % 2 == 0 { lots } else { -lots };
        let entry_ticks = rng.range_i64(495_000, 504_999);
        let entry = i128::from(size) * i128::from(entry_ticks) * m;
        let lev = rng.range_i64(5, 20) as i128;
        let mut wallet = entry.abs() / lev;
        let (mut eth_size, mut eth_entry) = (0i64, 0i128);
        if cfg.multi_every > 0 && i % cfg.multi_every == 0 {
            eth_size = rng.range_i64(1, 499) * if rng.next_u64() & 1 == 0 { 1 } else { -1 };
            eth_entry = i128::from(eth_size) * i128::from(rng.range_i64(247_500, 252_499)) * eth_ins.quote_per_tick_lot;
            wallet += eth_entry.abs() / lev;
        }
        let id = book.add_account("", MarginMode::Cross, wallet).expect("unnamed");
        book.set_position(id, btc, size, entry, 0);
        if eth_size != 0 {
            book.set_position(id, eth, eth_size, eth_entry, 0);
        }
        flat.push(Flat {
            wallet,
            size,
            entry,
            eth_size,
            eth_entry,
        });
    }
    let clock = Clock::calibrate(std::time::Duration::from_millis(50));
    let mut crossed: Vec<AccountId> = Vec::with_capacity(cfg.accounts);
    let mut sink = Vec::new();
    book.set_mark(eth, eth_mark, &mut sink);
    book.set_mark(btc, 500_000, &mut sink);
    assert!(sink.is_empty(), "setup: nothing is liquidatable at 50,000");

    // Mark paths, fixed for every round.
    let mut walk = Vec::with_capacity(cfg.gavel_updates);
    let mut p = 500_000i64;
    for _ in 0..cfg.gavel_updates {
        p = (p + rng.range_i64(-50, 50)).clamp(490_000, 510_000);
        walk.push(p);
    }
    let fall: Vec<i64> = (0..cfg.gavel_updates.min(4_000) as i64).map(|i| 481_000 - 2 * i).collect();

    let scan = |flat: &[Flat], alive: &[bool], mark: i64, out: &mut Vec<AccountId>| {
        for (i, a) in flat.iter().enumerate() {
            if !alive[i] {
                continue;
            }
            let notional = i128::from(a.size).abs() * i128::from(mark) * m;
            let mut equity = a.wallet + i128::from(a.size) * i128::from(mark) * m - a.entry;
            let mut mm = ins.maintenance_scaled(notional);
            if a.eth_size != 0 {
                let n = i128::from(a.eth_size) * i128::from(eth_mark) * eth_ins.quote_per_tick_lot;
                equity += n - a.eth_entry;
                mm += eth_ins.maintenance_scaled(n.abs());
            }
            if equity * RATE_SCALE < mm {
                out.push(i as AccountId);
            }
        }
    };

    let mut k_gavel = (0u64, 0u64);
    let alive = std::cell::RefCell::new(vec![true; cfg.accounts]);
    let book = std::cell::RefCell::new(book);
    let crossed = std::cell::RefCell::new(&mut crossed);

    let mut gavel_k0 = || {
        let mut h = new_histogram();
        let mut book = book.borrow_mut();
        let mut out = crossed.borrow_mut();
        for &mark in &walk {
            out.clear();
            let t0 = clock.now_ticks();
            book.set_mark(btc, mark, &mut out);
            let ns = clock.ns_since(t0);
            h.record(ns.max(1)).ok();
            assert!(out.is_empty());
        }
        LatencySummary::from_histogram(&h)
    };
    let mut scan_k0 = || {
        let mut h = new_histogram();
        let mut out = crossed.borrow_mut();
        for &mark in walk.iter().take(cfg.scan_updates) {
            out.clear();
            let t0 = clock.now_ticks();
            scan(&flat, &alive.borrow(), mark, &mut out);
            h.record(clock.ns_since(t0).max(1)).ok();
            assert!(out.is_empty());
        }
        LatencySummary::from_histogram(&h)
    };
    // The crossed sets of the first scan_updates updates of the fall, per side
    // (sorted), checked equal after the run: both sides must agree.
    let gavel_sets = std::cell::RefCell::new(Vec::<Vec<AccountId>>::new());
    let scan_sets = std::cell::RefCell::new(Vec::<Vec<AccountId>>::new());
    let mut gavel_k = || {
        let mut h = new_histogram();
        let mut book = book.borrow_mut();
        let mut out = crossed.borrow_mut();
        let mut closed: Vec<AccountId> = Vec::new();
        let record = gavel_sets.borrow().is_empty();
        for (u, &mark) in fall.iter().enumerate() {
            out.clear();
            let t0 = clock.now_ticks();
            book.set_mark(btc, mark, &mut out);
            h.record(clock.ns_since(t0).max(1)).ok();
            k_gavel.0 += out.len() as u64;
            k_gavel.1 += 1;
            if record && u < cfg.scan_updates {
                let mut v = out.to_vec();
                v.sort_unstable();
                gavel_sets.borrow_mut().push(v);
            }
            for &id in out.iter() {
                book.set_position(id, btc, 0, 0, 0);
                closed.push(id);
            }
        }
        for id in closed {
            let f = flat[id as usize];
            book.set_position(id, btc, f.size, f.entry, 0);
        }
        book.set_mark(btc, 500_000, &mut Vec::new());
        LatencySummary::from_histogram(&h)
    };
    let mut scan_k = || {
        let mut h = new_histogram();
        let mut out = crossed.borrow_mut();
        let mut closed: Vec<AccountId> = Vec::new();
        let mut alive = alive.borrow_mut();
        let record = scan_sets.borrow().is_empty();
        for &mark in fall.iter().take(cfg.scan_updates) {
            out.clear();
            let t0 = clock.now_ticks();
            scan(&flat, &alive, mark, &mut out);
            h.record(clock.ns_since(t0).max(1)).ok();
            if record {
                scan_sets.borrow_mut().push(out.to_vec());
            }
            for &id in out.iter() {
                alive[id as usize] = false;
                closed.push(id);
            }
        }
        for id in closed {
            alive[id as usize] = true;
        }
        LatencySummary::from_histogram(&h)
    };
    let results = interleave(cfg.rounds, &mut [&mut gavel_k0, &mut scan_k0, &mut gavel_k, &mut scan_k]);
    assert_eq!(
        gavel_sets.borrow().as_slice(),
        scan_sets.borrow().as_slice(),
        "index and scan disagree on a crossed set"
    );
    let mean = |k: (u64, u64)| if k.1 == 0 { 0.0 } else { k.0 as f64 / k.1 as f64 };
    let agreement_checked = gavel_sets.borrow().iter().map(|v| v.len() as u64).sum();
    TriggerBenchReport {
        agreement_checked,
        accounts: cfg.accounts,
        rounds: cfg.rounds,
        k0: SideBySide {
            k_mean: 0.0,
            gavel: median_summary(&results[0]),
            scan: median_summary(&results[1]),
        },
        realistic_k: SideBySide {
            k_mean: mean(k_gavel),
            gavel: median_summary(&results[2]),
            scan: median_summary(&results[3]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_finds_crossings_on_the_fall_and_sides_agree() {
        // `run` asserts that the index and the scan return the same crossed
        // sets on the first `scan_updates` updates of the fall.
        for multi_every in [0, 3] {
            let r = run(TriggerBenchConfig {
                accounts: 3_000,
                rounds: 1,
                gavel_updates: 500,
                scan_updates: 40,
                multi_every,
            });
            assert_eq!(r.k0.gavel.samples, 500);
            assert!(r.realistic_k.k_mean > 0.0, "{r:?}");
            assert!(r.agreement_checked > 0, "{r:?}");
        }
    }
}
