//! The machine's own noise floor: how often, and for how long, a thread that does nothing
//! but read the clock on a pinned core loses that core (to the hypervisor, interrupts,
//! other processes), and what that leaves of any tail latency measured there.
//!
//! A spinning thread reads the clock back to back (a read takes tens of ns); a step between
//! two reads of `threshold_ns` or more is an interruption, recorded as a gap. Two bounds
//! follow from the gaps `g_i` over a spin of `T` ns:
//!
//! * **Events that arrive on their own** (a venue message, a client order, stamped when it
//!   arrives, not when the core is free): the event lands inside gap `i` at a uniform offset
//!   with probability `g_i ÷ T` and then waits at least `x` more for the core when it lands
//!   in the first `g_i − x` ns of it. So `P(latency ≥ x) ≥ Σ max(0, g_i − x) ÷ T` whatever
//!   the code does, and the p99 is at least the least `x` with `Σ max(0, g_i − x) ≤ 1 % × T`
//!   ([`latency_floor`], `p99_floor_ns`).
//! * **Work timed back to back** (a bench that starts each sample when the last one ended,
//!   so the core was running at the start): only interruptions that begin inside the sample
//!   hit it, about `interruptions per second × duration` of the samples. A sample longer
//!   than `1 % ÷ interruptions per second` (`self_timed_clean_ns`) is hit more often than
//!   one time in a hundred on each core it crosses, and its p99 is then set by the gaps; a
//!   shorter one keeps the p99 its code gives.
//!
//! Floats here are statistics only. The peer is the same spin on the monotonic clock
//! (`clock_gettime` through the vDSO) instead of the TSC that every other gavel bench reads:
//! equal figures from both say the gaps are the machine's, not an artefact of one clock.

use std::time::Duration;

use gavel_feeds::clock::Clock;
use serde::Serialize;

use crate::stats::{interleave, median_f64, median_summary, median_u64, new_histogram, LatencySummary};

/// What to measure.
#[derive(Clone, Debug)]
pub struct JitterConfig {
    /// The core to pin the spinning thread to.
    pub core: usize,
    /// Spin per round and clock.
    pub spin: Duration,
    /// Interleaved rounds per clock.
    pub rounds: usize,
    /// A step between two clock reads this long or longer is an interruption.
    pub threshold_ns: u64,
}

impl Default for JitterConfig {
    fn default() -> Self {
        JitterConfig { core: 1, spin: Duration::from_secs(2), rounds: 5, threshold_ns: 1_000 }
    }
}

/// One clock's figures, medians over the rounds.
#[derive(Clone, Debug, Serialize)]
pub struct JitterSide {
    /// Interruptions (gaps ≥ the threshold) per second of spin.
    pub interruptions_per_s: f64,
    /// Share of the spin spent in those gaps (0–1).
    pub lost_share: f64,
    /// The gaps' lengths, ns (percentiles are per-round medians; `samples` is the total).
    pub gap: LatencySummary,
    /// No event that arrives on its own and is handled on this core has a p99 latency below
    /// this (ns), by [`latency_floor`].
    pub p99_floor_ns: u64,
    /// The same bound for the p99.9.
    pub p999_floor_ns: u64,
    /// Work timed back to back on this core and longer than this (ns) is interrupted in more
    /// than 1 % of its samples: `0.01 ÷ interruptions per second` (module docs).
    pub self_timed_clean_ns: u64,
    /// Gaps past the preallocated record (counted in the lost share, not in the percentiles).
    pub gaps_unrecorded: u64,
}

/// The result of [`run`].
#[derive(Clone, Debug, Serialize)]
pub struct JitterResult {
    /// The core measured (the thread is pinned to it; an unpinned spin is refused).
    pub core: usize,
    /// Spin per round and clock, seconds.
    pub seconds: f64,
    /// Rounds per clock.
    pub rounds: usize,
    /// The interruption threshold, ns.
    pub threshold_ns: u64,
    /// The TSC spin (the clock of every gavel bench).
    pub tsc: JitterSide,
    /// The monotonic-clock spin (the peer).
    pub monotonic: JitterSide,
}

/// The smallest `x` (ns) with `Σ max(0, g − x) ≤ share × total_ns` over `gaps`: the lowest
/// `(1 − share)` quantile any latency measured on a core with these gaps over a spin of
/// `total_ns` can have (module docs). 0 when the gaps fit the budget whole.
pub fn latency_floor(gaps: &[u64], total_ns: u64, share: f64) -> u64 {
    let budget = (share.clamp(0.0, 1.0) * total_ns as f64).floor() as u128;
    let mut sorted: Vec<u64> = gaps.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    // f(x) = Σ_{g > x} (g − x) falls as x rises; on [g_{k+1}, g_k] it is S_k − k·x, where S_k
    // sums the k largest gaps.
    let mut sum: u128 = 0;
    for k in 0..sorted.len() {
        sum += u128::from(sorted[k]);
        let next = sorted.get(k + 1).copied().unwrap_or(0);
        let count = k as u128 + 1;
        // f(g_k) ≤ budget (k = 0: f(g_0) = 0, else the step before); past budget at
        // f(next) = sum − count × next, the least x lies in (next, g_k].
        if sum - count * u128::from(next) > budget {
            return (sum - budget).div_ceil(count) as u64;
        }
    }
    0
}

/// One spin: the gaps (ns) of `threshold_ns` or more between back-to-back reads of `clock`
/// over `spin`, written into `gaps` (cleared; never grown), and the spin's length and the
/// gaps that did not fit with their total.
fn spin_once(clock: &Clock, spin: Duration, threshold_ns: u64, gaps: &mut Vec<u64>) -> Spin {
    gaps.clear();
    let threshold_ticks = ((threshold_ns as f64 / clock.ns_per_tick()).ceil() as u64).max(1);
    let spin_ticks = (spin.as_nanos() as f64 / clock.ns_per_tick()).ceil() as u64;
    let start = clock.now_ticks();
    let mut last = start;
    let (mut unrecorded, mut unrecorded_ns) = (0u64, 0u64);
    loop {
        let now = clock.now_ticks();
        let step = now.wrapping_sub(last);
        if step >= threshold_ticks && now > last {
            let ns = clock.ticks_to_ns(step);
            if gaps.len() < gaps.capacity() {
                gaps.push(ns);
            } else {
                unrecorded += 1;
                unrecorded_ns += ns;
            }
        }
        last = now;
        if now.wrapping_sub(start) >= spin_ticks {
            break;
        }
    }
    Spin { spun_ns: clock.ticks_to_ns(last.wrapping_sub(start)).max(1), unrecorded, unrecorded_ns }
}

struct Spin {
    spun_ns: u64,
    unrecorded: u64,
    unrecorded_ns: u64,
}

/// One round's figures.
struct Round {
    per_s: f64,
    lost: f64,
    gap: LatencySummary,
    p99_floor: u64,
    p999_floor: u64,
    unrecorded: u64,
}

fn round(clock: &Clock, cfg: &JitterConfig, gaps: &mut Vec<u64>) -> Round {
    let s = spin_once(clock, cfg.spin, cfg.threshold_ns, gaps);
    let mut h = new_histogram();
    for &g in gaps.iter() {
        h.saturating_record(g);
    }
    let lost_ns: u64 = gaps.iter().sum::<u64>() + s.unrecorded_ns;
    let count = gaps.len() as u64 + s.unrecorded;
    Round {
        per_s: count as f64 / (s.spun_ns as f64 / 1e9),
        lost: lost_ns as f64 / s.spun_ns as f64,
        gap: LatencySummary::from_histogram(&h),
        p99_floor: latency_floor(gaps, s.spun_ns, 0.01),
        p999_floor: latency_floor(gaps, s.spun_ns, 0.001),
        unrecorded: s.unrecorded,
    }
}

fn side(rounds: &[Round]) -> JitterSide {
    JitterSide {
        interruptions_per_s: median_f64(&rounds.iter().map(|r| r.per_s).collect::<Vec<_>>()),
        lost_share: median_f64(&rounds.iter().map(|r| r.lost).collect::<Vec<_>>()),
        gap: median_summary(&rounds.iter().map(|r| r.gap).collect::<Vec<_>>()),
        p99_floor_ns: median_u64(&rounds.iter().map(|r| r.p99_floor).collect::<Vec<_>>()),
        p999_floor_ns: median_u64(&rounds.iter().map(|r| r.p999_floor).collect::<Vec<_>>()),
        self_timed_clean_ns: median_u64(&rounds.iter().map(|r| (0.01 / r.per_s.max(1e-9) * 1e9).min(u64::MAX as f64) as u64).collect::<Vec<_>>()),
        gaps_unrecorded: rounds.iter().map(|r| r.unrecorded).sum(),
    }
}

/// Most gaps one round records (a round of 60 s at 10,000 interruptions/s is 600,000).
const GAP_CAPACITY: usize = 1 << 20;

/// Runs the spins, TSC and monotonic clock alternated round by round, on a thread pinned
/// to `cfg.core`. An error if the thread cannot be pinned there (no such core, or refused).
pub fn run(cfg: &JitterConfig) -> anyhow::Result<JitterResult> {
    let cfg = cfg.clone();
    let worker = std::thread::spawn(move || -> anyhow::Result<JitterResult> {
        use gavel_engine::engine_loop::{pin_current_thread, PinOutcome};
        if let PinOutcome::Unpinned { reason, .. } = pin_current_thread(cfg.core) {
            anyhow::bail!("--core {}: {reason}; the spin must run pinned", cfg.core);
        }
        let tsc = Clock::calibrate(Duration::from_millis(50));
        let monotonic = Clock::monotonic();
        let mut gaps = Vec::with_capacity(GAP_CAPACITY);
        let mut gaps_peer = Vec::with_capacity(GAP_CAPACITY);
        let mut tsc_round = || round(&tsc, &cfg, &mut gaps);
        let mut mono_round = || round(&monotonic, &cfg, &mut gaps_peer);
        let mut all = interleave(cfg.rounds, &mut [&mut tsc_round, &mut mono_round]);
        let mono = all.pop().unwrap_or_default();
        let tsc_rounds = all.pop().unwrap_or_default();
        Ok(JitterResult {
            core: cfg.core,
            seconds: cfg.spin.as_secs_f64(),
            rounds: cfg.rounds,
            threshold_ns: cfg.threshold_ns,
            tsc: side(&tsc_rounds),
            monotonic: side(&mono),
        })
    });
    worker.join().map_err(|_| anyhow::anyhow!("the spinning thread panicked"))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `Σ max(0, g − x)`, the definition.
    fn excess(gaps: &[u64], x: u64) -> u128 {
        gaps.iter().map(|&g| u128::from(g.saturating_sub(x))).sum()
    }

    #[test]
    fn floor_of_constructed_gaps() {
        // No gaps, or gaps within the budget: no floor.
        assert_eq!(latency_floor(&[], 1_000_000_000, 0.01), 0);
        assert_eq!(latency_floor(&[5_000_000, 4_000_000], 1_000_000_000, 0.01), 0);
        // One 50 ms gap in a second: 1 % is 10 ms of excess, so x = 40 ms.
        assert_eq!(latency_floor(&[50_000_000], 1_000_000_000, 0.01), 40_000_000);
        // 2,000 gaps of 20 µs in a second (4 % lost): 2,000 × (20 µs − x) ≤ 10 ms → x = 15 µs.
        assert_eq!(latency_floor(&vec![20_000; 2_000], 1_000_000_000, 0.01), 15_000);
        // The p99.9 bound is higher: 2,000 × (20 µs − x) ≤ 1 ms → x = 19.5 µs.
        assert_eq!(latency_floor(&vec![20_000; 2_000], 1_000_000_000, 0.001), 19_500);
    }

    proptest! {
        /// The floor is the least x whose excess fits the budget.
        #[test]
        fn floor_is_the_least_x_within_budget(
            gaps in proptest::collection::vec(1u64..5_000_000, 0..200),
            total in 1u64..2_000_000_000,
            share in prop_oneof![Just(0.01), Just(0.001), 0.0f64..0.5],
        ) {
            let budget = (share * total as f64).floor() as u128;
            let x = latency_floor(&gaps, total, share);
            prop_assert!(excess(&gaps, x) <= budget, "x {x}");
            if x > 0 {
                prop_assert!(excess(&gaps, x - 1) > budget, "x {x} is not the least");
            }
        }
    }
}
