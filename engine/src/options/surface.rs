//! An implied-volatility surface for one underlying, from nodes (expiry,
//! strike, vol): within an expiry the vol is linear in log-strike between
//! nodes and flat beyond the outermost strikes; across expiries the total
//! variance `σ²·T` is linear in time between slices (so a smile that holds
//! its shape keeps its total variance growing with T), and the vol is flat
//! before the first and after the last live expiry. Slices that have expired
//! at the valuation time are ignored.

use std::fmt;

use super::black76::{MAX_VOL, SECONDS_PER_YEAR};

/// One quoted point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SurfaceNode {
    /// Expiry, Unix ms.
    pub expiry_ms: u64,
    /// Strike, > 0.
    pub strike: f64,
    /// Implied vol, in (0, [`MAX_VOL`]].
    pub vol: f64,
}

/// Why nodes do not make a surface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SurfaceError {
    /// No node.
    Empty,
    /// A strike not a finite number > 0, or a vol outside (0, 10].
    BadNode(usize),
    /// Two nodes with the same expiry and strike.
    Duplicate(usize),
}

impl fmt::Display for SurfaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SurfaceError::Empty => write!(f, "a surface needs at least one node"),
            SurfaceError::BadNode(i) => write!(f, "node {i}: the strike must be > 0 and the vol in (0, 10]"),
            SurfaceError::Duplicate(i) => write!(f, "node {i}: another node has the same expiry and strike"),
        }
    }
}

impl std::error::Error for SurfaceError {}

/// Nodes grouped by expiry, each slice sorted by strike.
#[derive(Clone, Debug, PartialEq)]
pub struct VolSurface {
    slices: Vec<(u64, Vec<(f64, f64)>)>,
}

impl VolSurface {
    /// Builds a surface; refuses an empty list, bad values and duplicates.
    pub fn new(nodes: &[SurfaceNode]) -> Result<Self, SurfaceError> {
        if nodes.is_empty() {
            return Err(SurfaceError::Empty);
        }
        let mut slices: Vec<(u64, Vec<(f64, f64)>)> = Vec::new();
        for (i, n) in nodes.iter().enumerate() {
            if !(n.strike.is_finite() && n.strike > 0.0 && n.vol > 0.0 && n.vol <= MAX_VOL) {
                return Err(SurfaceError::BadNode(i));
            }
            match slices.iter_mut().find(|s| s.0 == n.expiry_ms) {
                Some(s) if s.1.iter().any(|p| p.0 == n.strike) => return Err(SurfaceError::Duplicate(i)),
                Some(s) => s.1.push((n.strike, n.vol)),
                None => slices.push((n.expiry_ms, vec![(n.strike, n.vol)])),
            }
        }
        slices.sort_by_key(|s| s.0);
        for s in &mut slices {
            s.1.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        Ok(VolSurface { slices })
    }

    /// The vol of one expiry's smile at `strike`: linear in ln(strike), flat outside.
    fn smile(points: &[(f64, f64)], strike: f64) -> f64 {
        let first = points[0];
        let last = points[points.len() - 1];
        if strike <= first.0 {
            return first.1;
        }
        if strike >= last.0 {
            return last.1;
        }
        let i = points.partition_point(|p| p.0 <= strike);
        let (a, b) = (points[i - 1], points[i]);
        let x = (strike.ln() - a.0.ln()) / (b.0.ln() - a.0.ln());
        a.1 + x * (b.1 - a.1)
    }

    /// The vol for an option expiring at `expiry_ms` struck at `strike`, valued at `now_ms`;
    /// `None` when every slice has expired at `now_ms` or the option itself has.
    pub fn vol(&self, expiry_ms: u64, strike: f64, now_ms: u64) -> Option<f64> {
        let years = |e: u64| e.saturating_sub(now_ms) as f64 / 1000.0 / SECONDS_PER_YEAR;
        let t = years(expiry_ms);
        let live: Vec<(f64, f64)> = self.slices.iter().filter(|s| s.0 > now_ms).map(|s| (years(s.0), Self::smile(&s.1, strike))).collect();
        if t <= 0.0 || live.is_empty() {
            return None;
        }
        let (first, last) = (live[0], live[live.len() - 1]);
        if t <= first.0 {
            return Some(first.1);
        }
        if t >= last.0 {
            return Some(last.1);
        }
        let i = live.partition_point(|s| s.0 <= t);
        let ((ta, va), (tb, vb)) = (live[i - 1], live[i]);
        let (wa, wb) = (va * va * ta, vb * vb * tb);
        let w = wa + (wb - wa) * (t - ta) / (tb - ta);
        // A calendar-arbitraged pair (total variance falling) cannot give w ≤ 0: both ends are > 0.
        Some((w / t).sqrt().min(MAX_VOL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: u64 = 86_400_000;

    fn surface() -> VolSurface {
        VolSurface::new(&[
            SurfaceNode { expiry_ms: 30 * DAY, strike: 80_000.0, vol: 0.70 },
            SurfaceNode { expiry_ms: 30 * DAY, strike: 100_000.0, vol: 0.50 },
            SurfaceNode { expiry_ms: 30 * DAY, strike: 120_000.0, vol: 0.55 },
            SurfaceNode { expiry_ms: 120 * DAY, strike: 100_000.0, vol: 0.60 },
        ])
        .unwrap()
    }

    #[test]
    fn nodes_are_returned_and_between_them_the_rules_hold() {
        let s = surface();
        assert_eq!(s.vol(30 * DAY, 80_000.0, 0), Some(0.70));
        assert_eq!(s.vol(30 * DAY, 120_000.0, 0), Some(0.55));
        // Flat beyond the smile's ends and before the first expiry.
        assert_eq!(s.vol(30 * DAY, 50_000.0, 0), Some(0.70));
        assert_eq!(s.vol(10 * DAY, 100_000.0, 0), Some(0.50));
        assert_eq!(s.vol(400 * DAY, 100_000.0, 0), Some(0.60));
        // Linear in ln(strike): at the geometric middle of 80k and 100k, halfway.
        let mid = (80_000.0f64 * 100_000.0).sqrt();
        assert!((s.vol(30 * DAY, mid, 0).unwrap() - 0.60).abs() < 1e-12);
        // Total variance linear in time: at 75 days, w = 0.25²·… between 0.5²·30 and 0.6²·120 (days).
        let w = 0.25 * 30.0 + (0.36 * 120.0 - 0.25 * 30.0) * (75.0 - 30.0) / 90.0;
        assert!((s.vol(75 * DAY, 100_000.0, 0).unwrap() - (w / 75.0f64).sqrt()).abs() < 1e-12);
        // Expired slices are ignored; an expired option has no vol.
        assert_eq!(s.vol(100 * DAY, 100_000.0, 40 * DAY), Some(0.60));
        assert_eq!(s.vol(100 * DAY, 100_000.0, 200 * DAY), None);
    }

    #[test]
    fn bad_nodes_are_refused_by_position() {
        let ok = SurfaceNode { expiry_ms: DAY, strike: 1.0, vol: 0.5 };
        assert_eq!(VolSurface::new(&[]), Err(SurfaceError::Empty));
        assert_eq!(VolSurface::new(&[ok, SurfaceNode { vol: f64::NAN, ..ok }]), Err(SurfaceError::BadNode(1)));
        assert_eq!(VolSurface::new(&[SurfaceNode { strike: 0.0, ..ok }]), Err(SurfaceError::BadNode(0)));
        assert_eq!(VolSurface::new(&[ok, ok]), Err(SurfaceError::Duplicate(1)));
    }

    proptest! {
        /// Within the nodes' range the vol lies between the smallest and largest node vol.
        #[test]
        fn the_surface_never_leaves_the_range_of_its_nodes(
            vols in proptest::collection::vec(0.05f64..3.0, 6),
            strike in 1_000.0f64..500_000.0, days in 1u64..700,
        ) {
            let nodes: Vec<SurfaceNode> = vols.iter().enumerate().map(|(i, &vol)| SurfaceNode {
                expiry_ms: (1 + (i as u64 / 3) * 90) * 5 * DAY, strike: 50_000.0 * (1 + i as u64 % 3) as f64, vol,
            }).collect();
            let s = VolSurface::new(&nodes).unwrap();
            let v = s.vol(days * DAY, strike, 0).unwrap();
            let (lo, hi) = vols.iter().fold((f64::MAX, 0.0f64), |(l, h), &x| (l.min(x), h.max(x)));
            prop_assert!(v >= lo * (1.0 - 1e-12) && v <= hi * (1.0 + 1e-12), "{} not in [{}, {}]", v, lo, hi);
        }
    }
}
