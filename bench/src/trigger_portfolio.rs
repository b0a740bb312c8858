//! `gavel bench trigger --portfolio`: portfolio (multi-instrument cross) accounts with
//! offset groups, one mark update at a time, gavel's safe-band index against the strongest
//! naive peer in one interleaved run.
//!
//! Setup: `accounts` cross accounts over 5 linear instruments in two offset groups
//! (BTC/ETH at 50 % credit, SOL/BNB/XRP at 30 %). Each account holds 1–5 positions
//! (30 % one, 30 % two, 20 % three, 10 % four, 10 % five), 1k–50k USDT each, random side,
//! entries within ±1 % of the start marks, leverage 3–20× on the gross notional.
//! The marks then crash together: updates go round-robin over the instruments, the first a
//! 4 % gap down on each, then steps of −3…+2 bps (a drift of −0.5 bps per step). Accounts
//! an update finds liquidatable are closed untimed (as a liquidation would); each round
//! starts from the same positions.
//!
//! * gavel: `RiskBook::set_mark` — re-evaluates the portfolio accounts whose safe band the
//!   mark left, re-indexes them, and collects the exact crossed set.
//! * peer ("holders rescan"): the same exact portfolio health recomputed for every account
//!   holding the moved instrument, its crossed set collected — a recompute limited to the
//!   accounts a mark can affect, with no index to maintain.
//!
//! Both sides must return identical crossed sets on the first `peer_updates` updates.
//! Full recompute: every account re-evaluated and re-indexed (`RiskBook::reevaluate_all`
//! over all accounts, after the walk moved every mark) against the peer's health pass over all.

use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{margin, Account, AccountId, InstrumentId, MarginMode, RiskBook};
use gavel_feeds::clock::Clock;
use gavel_feeds::rng::SplitMix64;
use serde::Serialize;

use crate::stats::{interleave, median_f64, median_summary, new_histogram, LatencySummary};

/// Benchmark parameters.
#[derive(Clone, Copy, Debug)]
pub struct PortfolioBenchConfig {
    /// Number of accounts.
    pub accounts: usize,
    /// Interleaved rounds per contender (≥ 5 from the CLI).
    pub rounds: usize,
    /// Mark updates per gavel round (round-robin over the instruments).
    pub gavel_updates: usize,
    /// Mark updates per peer round (the first ones of the same path).
    pub peer_updates: usize,
}

impl Default for PortfolioBenchConfig {
    fn default() -> Self {
        PortfolioBenchConfig {
            accounts: 100_000,
            rounds: 5,
            gavel_updates: 20_000,
            peer_updates: 50,
        }
    }
}

/// Results of `gavel bench trigger --portfolio`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct PortfolioBenchReport {
    /// Accounts in the book.
    pub accounts: usize,
    /// Instruments (all held by portfolio accounts).
    pub instruments: usize,
    /// Accounts holding two or more positions.
    pub portfolio_accounts: usize,
    /// Rounds per contender.
    pub rounds: usize,
    /// gavel, ns per mark update (median round).
    pub gavel: LatencySummary,
    /// gavel, ns per mark update divided by the accounts it affected (re-evaluated or
    /// crossed), over the updates that affected at least one.
    pub per_affected: LatencySummary,
    /// Mean accounts affected per update (gavel).
    pub affected_mean: f64,
    /// Mean crossed accounts per update.
    pub crossed_mean: f64,
    /// Mean accounts holding the moved instrument (what the peer recomputes per update).
    pub holders_mean: f64,
    /// Peer (holders rescan), ns per mark update (median round).
    pub peer: LatencySummary,
    /// gavel full recompute (every account re-evaluated and re-indexed), median ms.
    pub full_recompute_ms: f64,
    /// Peer full health pass over every account (no index), median ms.
    pub peer_full_scan_ms: f64,
    /// Crossed accounts on which gavel and the peer were checked to agree.
    pub agreement_checked: u64,
}


/// The five instruments: symbol, tick and lot size, brackets (notional cap, maintenance
/// rate, max leverage; the last cap "inf"). BTC and ETH follow the first tiers of
/// Binance's tables; the three others share one two-tier table.
const INSTRUMENTS: [(&str, &str, &str, Brackets); 5] = [
    ("BTCUSDT", "0.1", "0.001", &[("50000", "0.004", 125), ("250000", "0.005", 100), ("inf", "0.01", 50)]),
    ("ETHUSDT", "0.01", "0.001", &[("10000", "0.005", 100), ("100000", "0.0065", 75), ("inf", "0.01", 50)]),
    ("SOLUSDT", "0.01", "0.01", ALT_BRACKETS),
    ("BNBUSDT", "0.01", "0.01", ALT_BRACKETS),
    ("XRPUSDT", "0.0001", "1", ALT_BRACKETS),
];
const ALT_BRACKETS: Brackets = &[("20000", "0.01", 50), ("inf", "0.025", 20)];

/// A bracket table: (notional cap, maintenance rate, max leverage) per tier.
type Brackets = &'static [(&'static str, &'static str, u32)];

/// Offset groups: name, members, credit.
const GROUPS: [(&str, &[&str], &str); 2] = [
    ("majors", &["BTCUSDT", "ETHUSDT"], "0.5"),
    ("alts", &["SOLUSDT", "BNBUSDT", "XRPUSDT"], "0.3"),
];

/// Start marks in ticks: 50,000.0 / 2,500.00 / 150.00 / 600.00 / 0.5000.
const START_MARKS: [i64; 5] = [500_000, 250_000, 15_000, 60_000, 5_000];

/// The benchmark's instruments (five linear perpetuals, two offset groups), parsed from
/// the instruments-file text built from [`INSTRUMENTS`] and [`GROUPS`].
pub fn instruments() -> InstrumentSet {
    let mut text = String::new();
    for (symbol, tick, lot, brackets) in INSTRUMENTS {
        let rows: Vec<String> = brackets
            .iter()
            .map(|(cap, rate, lev)| format!("{{ notional_cap = \"{cap}\", maintenance_rate = \"{rate}\", max_leverage = {lev} }}"))
            .collect();
        text += &format!(
            "[[instrument]]\nsymbol = \"{symbol}\"\ntick_size = \"{tick}\"\nlot_size = \"{lot}\"\nmin_size = \"{lot}\"\nbrackets = [{}]\n",
            rows.join(", ")
        );
    }
    for (name, members, credit) in GROUPS {
        let members: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
        text += &format!("[[offset]]\nname = \"{name}\"\ninstruments = [{}]\ncredit = \"{credit}\"\n", members.join(", "));
    }
    InstrumentSet::parse(&text, "bench/src/trigger_portfolio.rs").expect("bench instruments parse")
}

/// One account's starting positions: (instrument, size, entry notional).
type Holdings = Vec<(InstrumentId, i64, i128)>;

fn generate(set: &InstrumentSet, n: usize, rng: &mut SplitMix64) -> Vec<(i128, Holdings)> {
    let k = START_MARKS.len();
    (0..n)
        .map(|_| {
            let legs = match rng.range_i64(0, 9) {
                0..=2 => 1,
                3..=5 => 2,
                6..=7 => 3,
                8 => 4,
                _ => 5,
            };
            let first = rng.range_i64(0, k as i64 - 1) as usize;
            let mut gross = 0i128;
            let holdings: Holdings = (0..legs)
                .map(|j| {
                    let i = (first + j) % k;
                    let ins = set.get(i as InstrumentId);
                    let entry_ticks = START_MARKS[i] * rng.range_i64(9_900, 10_099) / 10_000;
                    let notional = i128::from(rng.range_i64(1_000, 49_999)) * 1_000_000;
                    let lots = (notional / (i128::from(entry_ticks) * ins.quote_per_tick_lot)).max(1) as i64;
                    let size = if rng.next_u64() & 1 == 0 { lots } else { -lots };
                    let entry = i128::from(size) * i128::from(entry_ticks) * ins.quote_per_tick_lot;
                    gross += entry.abs();
                    (i as InstrumentId, size, entry)
                })
                .collect();
            let leverage = i128::from(rng.range_i64(3, 20));
            (gross / leverage, holdings)
        })
        .collect()
}

/// Runs the benchmark.
pub fn run(cfg: PortfolioBenchConfig) -> PortfolioBenchReport {
    let set = instruments();
    let k = set.len();
    let mut rng = SplitMix64::new(0x706f_7274_666f_6c69);
    let start = generate(&set, cfg.accounts, &mut rng);
    let mut book = RiskBook::new(set.clone());
    book.reserve(cfg.accounts);
    for (i, &m) in START_MARKS.iter().enumerate() {
        book.set_mark_only(i as InstrumentId, m);
    }
    for (wallet, holdings) in &start {
        let id = book.add_account("", MarginMode::Cross, *wallet).expect("unnamed");
        for &(i, size, entry) in holdings {
            book.set_position(id, i, size, entry, 0);
        }
    }
    let portfolio_accounts = start.iter().filter(|(_, h)| h.len() >= 2).count();
    // The peer's state: its own copy of the accounts and, per instrument, the holders.
    let peer_start: Vec<Account> = book.accounts().to_vec();
    let mut holders: Vec<Vec<AccountId>> = vec![Vec::new(); k];
    for (id, (_, h)) in start.iter().enumerate() {
        for &(i, _, _) in h {
            holders[usize::from(i)].push(id as AccountId);
        }
    }
    // The crash path, fixed for every round.
    let mut marks = START_MARKS;
    let path: Vec<(InstrumentId, i64)> = (0..cfg.gavel_updates)
        .map(|u| {
            let i = u % k;
            // The crash opens with a 4 % gap on every instrument, then drifts.
            let bps = if u < k { -400 } else { rng.range_i64(-3, 2) };
            let step = marks[i] * bps / 10_000;
            marks[i] = (marks[i] + step).max(1);
            (i as InstrumentId, marks[i])
        })
        .collect();
    let holders_mean = path.iter().map(|&(i, _)| holders[usize::from(i)].len() as f64).sum::<f64>() / path.len().max(1) as f64;

    let clock = Clock::calibrate(std::time::Duration::from_millis(50));
    let book = std::cell::RefCell::new(book);
    let gavel_sets = std::cell::RefCell::new(Vec::<Vec<AccountId>>::new());
    let peer_sets = std::cell::RefCell::new(Vec::<Vec<AccountId>>::new());
    let mut affected_total = (0u64, 0u64, 0u64); // (affected, crossed, updates)
    let mut full_ms = Vec::new();
    let mut peer_full_ms = Vec::new();

    let mut gavel_round = || {
        let mut h = new_histogram();
        let mut per = new_histogram();
        let mut book = book.borrow_mut();
        let mut out: Vec<AccountId> = Vec::with_capacity(cfg.accounts);
        let mut seen = vec![0u32; cfg.accounts];
        let mut closed: Vec<AccountId> = Vec::new();
        let record = gavel_sets.borrow().is_empty();
        for (u, &(i, mark)) in path.iter().enumerate() {
            out.clear();
            let t0 = clock.now_ticks();
            book.set_mark(i, mark, &mut out);
            let ns = clock.ns_since(t0).max(1);
            h.record(ns).ok();
            // Untimed: the accounts this update touched, re-evaluated or crossed.
            let stamp = u as u32 + 1;
            let mut affected = 0u64;
            for &id in book.reevaluated().iter().chain(out.iter()) {
                if seen[id as usize] != stamp {
                    seen[id as usize] = stamp;
                    affected += 1;
                }
            }
            if let Some(each) = ns.checked_div(affected) {
                per.record(each.max(1)).ok();
            }
            affected_total.0 += affected;
            affected_total.1 += out.len() as u64;
            affected_total.2 += 1;
            out.sort_unstable();
            if record && u < cfg.peer_updates {
                gavel_sets.borrow_mut().push(out.clone());
            }
            for &id in out.iter() {
                for &(j, _, _) in &start[id as usize].1 {
                    book.set_position(id, j, 0, 0, 0);
                }
                closed.push(id);
            }
        }
        let t0 = clock.now_ticks();
        book.reevaluate_all();
        full_ms.push(clock.ns_since(t0) as f64 / 1e6);
        // Restore the starting marks and positions (untimed).
        for (i, &m) in START_MARKS.iter().enumerate() {
            book.set_mark_only(i as InstrumentId, m);
        }
        for id in closed {
            for &(j, size, entry) in &start[id as usize].1 {
                book.set_position(id, j, size, entry, 0);
            }
        }
        (LatencySummary::from_histogram(&h), LatencySummary::from_histogram(&per))
    };
    let mut peer_round = || {
        let mut h = new_histogram();
        let mut accounts = peer_start.clone();
        let mut alive = vec![true; cfg.accounts];
        let mut marks: Vec<Option<i64>> = START_MARKS.iter().map(|&m| Some(m)).collect();
        let mut out: Vec<AccountId> = Vec::with_capacity(cfg.accounts);
        let record = peer_sets.borrow().is_empty();
        for &(i, mark) in path.iter().take(cfg.peer_updates) {
            out.clear();
            let t0 = clock.now_ticks();
            marks[usize::from(i)] = Some(mark);
            for &id in &holders[usize::from(i)] {
                if !alive[id as usize] {
                    continue;
                }
                if let Some(health) = margin::cross_health(&set, &marks, &accounts[id as usize]) {
                    if health.liquidatable() {
                        out.push(id);
                    }
                }
            }
            h.record(clock.ns_since(t0).max(1)).ok();
            if record {
                peer_sets.borrow_mut().push(out.clone());
            }
            for &id in &out {
                alive[id as usize] = false;
                for p in accounts[id as usize].positions.iter_mut() {
                    p.size = 0;
                    p.entry_notional = 0;
                }
            }
        }
        let t0 = clock.now_ticks();
        let mut crossed = 0usize;
        for acc in &accounts {
            if margin::cross_health(&set, &marks, acc).is_some_and(|h| h.liquidatable()) {
                crossed += 1;
            }
        }
        peer_full_ms.push(clock.ns_since(t0) as f64 / 1e6);
        std::hint::black_box(crossed);
        LatencySummary::from_histogram(&h)
    };
    let mut gavel_side = || gavel_round();
    let mut peer_side = || (peer_round(), LatencySummary::default());
    let results = interleave(cfg.rounds, &mut [&mut gavel_side, &mut peer_side]);
    assert_eq!(gavel_sets.borrow().as_slice(), peer_sets.borrow().as_slice(), "index and peer disagree on a crossed set");
    let per_round = |c: usize, f: fn(&(LatencySummary, LatencySummary)) -> LatencySummary| {
        median_summary(&results[c].iter().map(f).collect::<Vec<_>>())
    };
    let mean = |x: u64| x as f64 / affected_total.2.max(1) as f64;
    let agreement_checked = gavel_sets.borrow().iter().map(|v| v.len() as u64).sum();
    PortfolioBenchReport {
        accounts: cfg.accounts,
        instruments: k,
        portfolio_accounts,
        rounds: cfg.rounds,
        gavel: per_round(0, |r| r.0),
        per_affected: per_round(0, |r| r.1),
        affected_mean: mean(affected_total.0),
        crossed_mean: mean(affected_total.1),
        holders_mean,
        peer: per_round(1, |r| r.0),
        full_recompute_ms: median_f64(&full_ms),
        peer_full_scan_ms: median_f64(&peer_full_ms),
        agreement_checked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crash_crosses_accounts_both_sides_agree_and_updates_stay_local() {
        // `run` asserts the index and the peer return the same crossed sets.
        let r = run(PortfolioBenchConfig {
            accounts: 4_000,
            rounds: 2,
            gavel_updates: 3_000,
            peer_updates: 3_000,
        });
        assert_eq!(r.instruments, 5);
        assert!(r.portfolio_accounts > r.accounts / 2, "{r:?}");
        assert!(r.crossed_mean > 0.0 && r.agreement_checked > 0, "{r:?}");
        // Incremental: an update touches far fewer accounts than hold the instrument.
        assert!(r.affected_mean > 0.0 && r.affected_mean * 10.0 < r.holders_mean, "{r:?}");
        assert_eq!(r.gavel.samples, 2 * 3_000);
    }
}
