//! Auction price evaluation: gavel's exact RAY curve as the auction uses it
//! (`PreparedCurve::price`: Maker's `rpow`/`rmul` semantics on 256-bit
//! intermediates with the squarings precomputed, rounded to ticks; the direct
//! `Curve::price` is measured too) against the usual
//! floating-point formula `top × cut^n` in `f64` (the peer: fast, but not
//! bit-reproducible across platforms and libm versions).
//!
//! Each sample times a batch of [`BATCH`] evaluations at varying elapsed times
//! and records the batch's ns (divide by [`BATCH`] for ns per evaluation);
//! rounds alternate gavel, peer, gavel, …

use std::hint::black_box;
use std::time::Instant;

use gavel_engine::auction::curve::{Curve, PreparedCurve, NS_PER_SEC};
use gavel_engine::auction::fixed::{Ray, RAY};

use crate::stats::{interleave, median_summary, new_histogram, LatencySummary};

/// Evaluations per timed sample.
pub const BATCH: usize = 1024;

/// Result of the comparison: each side's median round.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct CurveBenchResult {
    /// gavel as the auction runs it (`PreparedCurve`), ns per batch of [`BATCH`] evaluations.
    pub gavel: LatencySummary,
    /// gavel's direct `Curve::price` (full `rpow` each time), ns per batch.
    pub gavel_direct: LatencySummary,
    /// f64 peer, ns per batch of [`BATCH`] evaluations.
    pub peer_f64: LatencySummary,
    /// Rounds per side.
    pub rounds: usize,
    /// Samples per round.
    pub samples: usize,
}

/// Elapsed times used by both sides (0 to ~12 minutes, irregular).
fn times() -> Vec<i64> {
    (0..BATCH as i64)
        .map(|i| (i * 7_919 % 720) * NS_PER_SEC + i * 1_234_567)
        .collect()
}

/// Runs `rounds` interleaved rounds of `samples` samples per side.
pub fn run(rounds: usize, samples: usize) -> CurveBenchResult {
    let cut = Ray::parse("0.999").expect("static cut");
    let curve = Curve::Stairstep { cut, step_s: 1 };
    let top_ticks: i64 = 6_180_020;
    let top_ray = top_ticks as u128 * RAY;
    let cut_f = 0.999f64;
    let times = times();
    let prepared = PreparedCurve::new(curve);
    let mut gavel_side = || {
        let mut h = new_histogram();
        for _ in 0..samples {
            let start = Instant::now();
            let mut acc = 0i64;
            for &t in &times {
                acc = acc.wrapping_add(Ray(prepared.price(black_box(top_ray), black_box(t))).ceil_ticks());
            }
            black_box(acc);
            h.record((start.elapsed().as_nanos() as u64).max(1)).ok();
        }
        LatencySummary::from_histogram(&h)
    };
    let mut direct_side = || {
        let mut h = new_histogram();
        for _ in 0..samples {
            let start = Instant::now();
            let mut acc = 0i64;
            for &t in &times {
                acc = acc.wrapping_add(Ray(curve.price(black_box(top_ray), black_box(t))).ceil_ticks());
            }
            black_box(acc);
            h.record((start.elapsed().as_nanos() as u64).max(1)).ok();
        }
        LatencySummary::from_histogram(&h)
    };
    let mut peer_side = || {
        let mut h = new_histogram();
        for _ in 0..samples {
            let start = Instant::now();
            let mut acc = 0i64;
            for &t in &times {
                let steps = (black_box(t) / NS_PER_SEC) as i32;
                acc = acc.wrapping_add((black_box(top_ticks) as f64 * cut_f.powi(steps)).ceil() as i64);
            }
            black_box(acc);
            h.record((start.elapsed().as_nanos() as u64).max(1)).ok();
        }
        LatencySummary::from_histogram(&h)
    };
    let results = interleave(rounds, &mut [&mut gavel_side, &mut peer_side, &mut direct_side]);
    CurveBenchResult {
        gavel: median_summary(&results[0]),
        peer_f64: median_summary(&results[1]),
        gavel_direct: median_summary(&results[2]),
        rounds,
        samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_compute_the_same_prices_to_the_tick_on_the_benchmark_inputs() {
        // The comparison is only fair if the peer computes the same thing.
        let curve = Curve::Stairstep {
            cut: Ray::parse("0.999").unwrap(),
            step_s: 1,
        };
        let top: i64 = 6_180_020;
        let mut worst = 0i64;
        for t in times() {
            let exact = Ray(curve.price(top as u128 * RAY, t)).ceil_ticks();
            let float = (top as f64 * 0.999f64.powi((t / NS_PER_SEC) as i32)).ceil() as i64;
            worst = worst.max((exact - float).abs());
        }
        assert!(worst <= 1, "float and RAY curves differ by {worst} ticks");
        let r = run(1, 2);
        assert_eq!((r.gavel.samples, r.peer_f64.samples), (2, 2));
    }
}
