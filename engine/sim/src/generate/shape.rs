//! Shaped markets: a mid-price and depth path drawn through knots (event time
//! → move of the mid and depth multiplier), with per-venue deviations, written
//! by the crash generator's synthetic venues ([`super::market`]) so the
//! captures speak the same venue dialects the feed parsers read.
//!
//! The common path follows the knots piecewise-linearly (in per mille of the
//! start price and of calm depth), mean-reverting a fifth of the way to the
//! knot line each step plus seeded integer noise. Each venue then reads that
//! path `lag_ms` late (a lagging feed), shifted by its own knots' move and
//! scaled by their depth (a venue that dislocates or runs thin).

use std::io;
use std::path::{Path, PathBuf};

use gavel_feeds::rng::SplitMix64;

use super::market::{write_venue_capture, CrashSpec, Dialect, PathPoint};

/// One knot of a shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knot {
    /// Event time since the start, ms.
    pub at_ms: i64,
    /// Mid move from the start price, per mille (signed).
    pub move_per_mille: i64,
    /// Depth, per mille of calm depth (clamped to 10 ..= 1000).
    pub depth_per_mille: i64,
}

impl Knot {
    /// A knot at `at_s` seconds.
    pub const fn at(at_s: i64, move_per_mille: i64, depth_per_mille: i64) -> Knot {
        Knot { at_ms: at_s * 1000, move_per_mille, depth_per_mille }
    }
}

/// One venue of a shaped market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VenueShape {
    /// The venue's message dialect (and capture file name).
    pub dialect: Dialect,
    /// The venue shows the common path this late, ms (0: in step).
    pub lag_ms: i64,
    /// The venue's own deviation: move added to the common mid and depth
    /// multiplier on the common depth (empty: none).
    pub knots: Vec<Knot>,
}

/// A shaped market over several venues.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapeSpec {
    /// Seed, symbol, start price, grids, levels, duration, step and start time
    /// (`drop_per_mille` is not used: the knots give the moves).
    pub market: CrashSpec,
    /// The common path's knots, in time order.
    pub knots: Vec<Knot>,
    /// Noise of the common mid per step, tenths of a basis point of the start price.
    pub noise_tenth_bp: i64,
    /// The venues, in capture order.
    pub venues: Vec<VenueShape>,
}

/// The knot line at `t_ms`: (move per mille, depth per mille), linear between
/// knots and flat outside them; `None` without knots.
pub fn knot_line(knots: &[Knot], t_ms: i64) -> Option<(i64, i64)> {
    let first = knots.first()?;
    if t_ms <= first.at_ms {
        return Some((first.move_per_mille, first.depth_per_mille));
    }
    for w in knots.windows(2) {
        let (a, b) = (w[0], w[1]);
        if t_ms <= b.at_ms {
            let span = (b.at_ms - a.at_ms).max(1);
            let k = t_ms - a.at_ms;
            let lerp = |x: i64, y: i64| x + (y - x) * k / span;
            return Some((lerp(a.move_per_mille, b.move_per_mille), lerp(a.depth_per_mille, b.depth_per_mille)));
        }
    }
    let last = knots.last()?;
    Some((last.move_per_mille, last.depth_per_mille))
}

/// The common path, one point per step.
pub fn shape_path(spec: &ShapeSpec) -> Vec<PathPoint> {
    let m = &spec.market;
    let mut rng = SplitMix64::new(m.seed ^ 0x5a4e_9e11);
    let step_ms = m.step_ms.max(1);
    let steps = (m.duration_s * 1000 / step_ms).max(10);
    let start = m.start_price_ticks;
    let noise = start * spec.noise_tenth_bp.max(0) / 100_000;
    let mut mid = start;
    let mut out = Vec::with_capacity(steps as usize);
    for step in 0..steps {
        let (mv, depth) = knot_line(&spec.knots, step * step_ms).unwrap_or((0, 1000));
        let target = start + start * mv / 1000;
        mid += (target - mid) / 5 + if noise > 0 { rng.range_i64(-noise, noise) } else { 0 };
        mid = mid.max(start / 100).max(1);
        out.push(PathPoint { time_ns: m.start_ns + step * step_ms * 1_000_000, mid_ticks: mid, depth_per_mille: depth.clamp(10, 1000) });
    }
    out
}

/// One venue's path: the common path read `lag_ms` late, with the venue's own
/// move and depth multiplier applied.
pub fn venue_path(spec: &ShapeSpec, common: &[PathPoint], venue: &VenueShape) -> Vec<PathPoint> {
    let step_ms = spec.market.step_ms.max(1);
    let lag_steps = (venue.lag_ms.max(0) / step_ms) as usize;
    common
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let seen = common[i.saturating_sub(lag_steps)];
            let (mv, depth) = knot_line(&venue.knots, i as i64 * step_ms).unwrap_or((0, 1000));
            let mid = (seen.mid_ticks + seen.mid_ticks * mv / 1000).max(1);
            let depth = (seen.depth_per_mille * depth.clamp(0, 1000) / 1000).clamp(10, 1000);
            PathPoint { time_ns: p.time_ns, mid_ticks: mid, depth_per_mille: depth }
        })
        .collect()
}

/// Writes one capture per venue into `dir` and returns their paths.
pub fn write_shape_captures(spec: &ShapeSpec, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let common = shape_path(spec);
    let mut written = Vec::with_capacity(spec.venues.len());
    for (i, venue) in spec.venues.iter().enumerate() {
        let file = dir.join(venue.dialect.file_name());
        write_venue_capture(&spec.market, venue.dialect, i as u64, &venue_path(spec, &common, venue), &file)?;
        written.push(file);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ShapeSpec {
        ShapeSpec {
            market: CrashSpec { duration_s: 20, ..CrashSpec::default() },
            knots: vec![Knot::at(0, 0, 1000), Knot::at(5, 0, 1000), Knot::at(10, -200, 100), Knot::at(20, -150, 400)],
            noise_tenth_bp: 0,
            venues: vec![
                VenueShape { dialect: Dialect::BinanceUsdm, lag_ms: 0, knots: Vec::new() },
                VenueShape { dialect: Dialect::BybitV5, lag_ms: 2000, knots: vec![Knot::at(0, 0, 500), Knot::at(20, 50, 500)] },
            ],
        }
    }

    #[test]
    fn the_path_follows_the_knots_and_venues_lag_and_diverge() {
        let spec = spec();
        let path = shape_path(&spec);
        assert_eq!(path.len(), 200);
        let start = spec.market.start_price_ticks;
        // Flat to 5 s, then a 20 % fall to 10 s (the mid chases the line a fifth per step).
        assert!(path[..50].iter().all(|p| p.mid_ticks == start));
        assert!((start * 79 / 100..=start * 81 / 100).contains(&path[110].mid_ticks), "{}", path[110].mid_ticks);
        assert_eq!(path[100].depth_per_mille, 100);
        assert_eq!(path[150].depth_per_mille, 250);
        let lagged = venue_path(&spec, &path, &spec.venues[1]);
        // 2 s late, half as deep, and 3 ‰ above at 12 s (its own knots rise to 5 ‰ at 20 s).
        assert_eq!(lagged[120].mid_ticks, path[100].mid_ticks + path[100].mid_ticks * 30 / 1000);
        assert_eq!(lagged[120].depth_per_mille, path[100].depth_per_mille / 2);
        // At 1 s it still shows the start price (plus its own 2 ‰ by then).
        assert_eq!(lagged[10].mid_ticks, start + start * 2 / 1000);
        assert_eq!(shape_path(&spec), path);
    }

    #[test]
    fn noise_is_seeded_and_captures_are_byte_identical() {
        let mut spec = spec();
        spec.noise_tenth_bp = 20;
        let other = ShapeSpec { market: CrashSpec { seed: 2, ..spec.market.clone() }, ..spec.clone() };
        assert_eq!(shape_path(&spec), shape_path(&spec));
        assert_ne!(shape_path(&spec), shape_path(&other));
        let base = std::env::temp_dir().join(format!("gavel-shape-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        for dir in [&a, &b] {
            std::fs::create_dir_all(dir).unwrap();
            write_shape_captures(&spec, dir).unwrap();
        }
        for name in ["binance-usdm.cap", "bybit.cap"] {
            let (x, y) = (std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap());
            assert!(!x.is_empty() && x == y, "{name} differs between two runs");
        }
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// The three dialects (a lagging, a dislocating venue among them) parse and sync
    /// without a refused message or a gap, one book update per step.
    #[test]
    fn every_dialect_replays_cleanly_through_the_feed_parsers() {
        use gavel_feeds::capture_feed::replay_capture;
        use gavel_feeds::decimal::Grid;
        use gavel_feeds::venues::{InstrumentSpec, Instruments};
        let mut spec = spec();
        spec.venues.push(VenueShape { dialect: Dialect::BinanceSpot, lag_ms: 0, knots: vec![Knot::at(0, 0, 1000), Knot::at(5, -100, 100)] });
        let dir = std::env::temp_dir().join(format!("gavel-shape-parse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = write_shape_captures(&spec, &dir).unwrap();
        let m = &spec.market;
        let instruments = |_| Instruments::new(vec![InstrumentSpec::new(&m.symbol, 0, Grid::from_decimal(m.tick_size).unwrap(), Grid::from_decimal(m.lot_size).unwrap())]);
        let clock = gavel_feeds::clock::Clock::monotonic();
        for (file, venue) in files.iter().zip(&spec.venues) {
            let mut levels = 0u64;
            let stats = replay_capture(file, instruments, 100, &clock, &mut |e, _| levels += u64::from(e.kind() == Some(gavel_feeds::EventKind::BookLevel))).unwrap();
            let (v, s) = &stats[0];
            assert_eq!(*v, venue.dialect.venue());
            assert!(s.parse_errors == 0 && s.gaps == 0, "{v:?}: {s:?}");
            assert!(s.book_updates >= 190 && levels > 0, "{v:?}: {s:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
