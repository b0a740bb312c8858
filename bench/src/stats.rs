//! Shared measurement plumbing: HDR summaries, interleaved rounds, medians.
//!
//! Machines here are shared and noisy, so every comparison runs rounds in
//! turn (gavel, peer, gavel, peer, …) and reports each side's median round.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latency histogram in nanoseconds, 1 ns to 60 s at 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("static histogram bounds are valid")
}

/// The percentiles reported for one side of a comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median, ns.
    pub p50_ns: u64,
    /// 90th percentile, ns.
    pub p90_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// 99.9th percentile, ns.
    pub p999_ns: u64,
    /// 99.99th percentile, ns.
    pub p9999_ns: u64,
    /// Maximum, ns.
    pub max_ns: u64,
    /// Number of samples.
    pub samples: u64,
}

impl LatencySummary {
    /// Reads the reported percentiles off a histogram.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        LatencySummary {
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            p9999_ns: h.value_at_quantile(0.9999),
            max_ns: h.max(),
            samples: h.len(),
        }
    }
}

/// Median of a slice of numbers (upper median for even lengths); 0 for an empty slice.
pub fn median_u64(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len() / 2).copied().unwrap_or(0)
}

/// Median of a slice of floats (upper median for even lengths); 0 for an empty slice.
pub fn median_f64(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// Per-field median of several round summaries (each percentile taken separately).
pub fn median_summary(rounds: &[LatencySummary]) -> LatencySummary {
    let pick = |f: fn(&LatencySummary) -> u64| median_u64(&rounds.iter().map(f).collect::<Vec<_>>());
    LatencySummary {
        p50_ns: pick(|s| s.p50_ns),
        p90_ns: pick(|s| s.p90_ns),
        p99_ns: pick(|s| s.p99_ns),
        p999_ns: pick(|s| s.p999_ns),
        p9999_ns: pick(|s| s.p9999_ns),
        max_ns: pick(|s| s.max_ns),
        samples: rounds.iter().map(|s| s.samples).sum(),
    }
}

/// Runs `rounds` rounds of every contender in turn (A, B, C, A, B, C, …) and
/// returns each contender's per-round results in contender order.
///
/// Interleaving spreads machine noise evenly over the contenders instead of
/// letting one of them run during a quiet or busy spell.
pub fn interleave<R>(rounds: usize, contenders: &mut [&mut dyn FnMut() -> R]) -> Vec<Vec<R>> {
    let mut results: Vec<Vec<R>> = contenders.iter().map(|_| Vec::with_capacity(rounds)).collect();
    for _ in 0..rounds {
        for (i, contender) in contenders.iter_mut().enumerate() {
            results[i].push(contender());
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_picks_the_middle_value() {
        assert_eq!(median_u64(&[5, 1, 3]), 3);
        assert_eq!(median_u64(&[]), 0);
        assert_eq!(median_f64(&[2.0, 9.0, 1.0, 4.0]), 4.0);
    }

    #[test]
    fn interleave_alternates_contenders() {
        let mut order = Vec::new();
        {
            let log = std::cell::RefCell::new(&mut order);
            let mut a = || log.borrow_mut().push('a');
            let mut b = || log.borrow_mut().push('b');
            let results = interleave(3, &mut [&mut a, &mut b]);
            assert_eq!(results.len(), 2);
            assert_eq!(results[0].len(), 3);
        }
        assert_eq!(order, vec!['a', 'b', 'a', 'b', 'a', 'b']);
    }

    #[test]
    fn summary_reads_percentiles() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let s = LatencySummary::from_histogram(&h);
        assert_eq!(s.samples, 1000);
        assert!((499..=501).contains(&s.p50_ns), "{s:?}");
        assert_eq!(s.max_ns, 1000);
        let m = median_summary(&[s, LatencySummary { p50_ns: 1, ..s }, s]);
        assert_eq!(m.p50_ns, s.p50_ns);
    }
}
