//! Stage latency tracking: HDR histograms filled at stage boundaries, and the
//! HdrHistogram percentile-distribution text format (`.hgrm`).
//!
//! Timestamps come from [`gavel_feeds::clock::Clock`]; recording never
//! allocates (histogram bounds are fixed up front) and never influences logic.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use hdrhistogram::Histogram;

/// Highest latency a stage histogram tracks: 60 s in ns (larger values saturate).
pub const MAX_TRACKABLE_NS: u64 = 60_000_000_000;

/// A named latency histogram in nanoseconds.
#[derive(Clone, Debug)]
pub struct StageHistogram {
    name: &'static str,
    histogram: Histogram<u64>,
}

impl StageHistogram {
    /// An empty histogram for stage `name` (1 ns .. 60 s, 3 significant digits).
    pub fn new(name: &'static str) -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3)
            .expect("static histogram bounds are valid");
        StageHistogram { name, histogram }
    }

    /// Stage name, e.g. `publish_to_receive`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Records one sample; values outside the range saturate instead of failing.
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.histogram.saturating_record(ns.max(1));
    }

    /// The underlying histogram.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// Adds another histogram's samples (e.g. several rounds or stages).
    pub fn merge(&mut self, other: &StageHistogram) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.histogram.add(&other.histogram);
    }

    /// One summary line: `name: n=… p50=… p90=… p99=… p99.9=… p99.99=… max=…` (ns).
    pub fn summary_line(&self) -> String {
        let h = &self.histogram;
        if h.is_empty() {
            return format!("{}: no samples", self.name);
        }
        format!(
            "{}: n={} p50={}ns p90={}ns p99={}ns p99.9={}ns p99.99={}ns max={}ns",
            self.name,
            h.len(),
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.90),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.value_at_quantile(0.9999),
            h.max()
        )
    }

    /// The percentile distribution in HdrHistogram's text format, values in ns.
    pub fn to_hgrm(&self) -> String {
        percentile_distribution(&self.histogram, 5, 1.0)
    }

    /// Writes the `.hgrm` text to `path`.
    pub fn write_hgrm(&self, path: &Path) -> io::Result<()> {
        gavel_feeds::atomic_file::write_atomic(path, self.to_hgrm())
    }
}

/// Formats `h` as HdrHistogram's percentile-distribution text (the `.hgrm`
/// format read by HdrHistogram's plotter): value, percentile, total count and
/// 1/(1-percentile) per row, then mean, standard deviation, max, count and
/// bucket geometry. Values are divided by `value_scale` (1.0 keeps ns).
pub fn percentile_distribution(h: &Histogram<u64>, ticks_per_half_distance: u32, value_scale: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:>12} {:>14} {:>10} {:>14}\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    if !h.is_empty() {
        let mut last_quantile = 0.0;
        for step in h.iter_quantiles(ticks_per_half_distance) {
            let quantile = step.quantile_iterated_to();
            let value = step.value_iterated_to() as f64 / value_scale;
            let count = total_count_up_to(h, step.value_iterated_to());
            if quantile < 1.0 {
                let _ = writeln!(out, "{value:12.3} {quantile:2.12} {count:10} {:14.2}", 1.0 / (1.0 - quantile));
            } else {
                let _ = writeln!(out, "{value:12.3} {quantile:2.12} {count:10}");
            }
            last_quantile = quantile;
        }
        if last_quantile < 1.0 {
            let value = h.max() as f64 / value_scale;
            let _ = writeln!(out, "{value:12.3} {:2.12} {:10}", 1.0, h.len());
        }
    }
    let mean = h.mean() / value_scale;
    let stdev = h.stdev() / value_scale;
    let max = h.max() as f64 / value_scale;
    let sub_buckets = 2u64.pow((h.sigfig() as f64 * 10f64.log2()).ceil() as u32 + 1);
    let _ = writeln!(out, "#[Mean    = {mean:12.3}, StdDeviation   = {stdev:12.3}]");
    let _ = writeln!(out, "#[Max     = {max:12.3}, Total count    = {:12}]", h.len());
    let _ = writeln!(out, "#[Buckets = {:12}, SubBuckets     = {:12}]", h.buckets(), sub_buckets);
    out
}

fn total_count_up_to(h: &Histogram<u64>, value: u64) -> u64 {
    h.iter_recorded()
        .take_while(|v| v.value_iterated_to() <= value)
        .map(|v| v.count_at_value())
        .sum()
}

/// The engine loop's two stage histograms.
#[derive(Clone, Debug)]
pub struct EngineLatency {
    /// Producer publish (the event's `publish_ticks`) → engine receive.
    pub publish_to_receive: StageHistogram,
    /// Engine receive → handler finished.
    pub receive_to_handled: StageHistogram,
}

impl Default for EngineLatency {
    fn default() -> Self {
        EngineLatency {
            publish_to_receive: StageHistogram::new("publish_to_receive"),
            receive_to_handled: StageHistogram::new("receive_to_handled"),
        }
    }
}

impl EngineLatency {
    /// Both stages, in pipeline order.
    pub fn stages(&self) -> [&StageHistogram; 2] {
        [&self.publish_to_receive, &self.receive_to_handled]
    }

    /// Writes `<dir>/<stage>.hgrm` for every stage and returns the paths written.
    pub fn write_hgrm_files(&self, dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        for stage in self.stages() {
            let path = dir.join(format!("{}.hgrm", stage.name()));
            stage.write_hgrm(&path)?;
            written.push(path);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hgrm_text_has_header_rows_and_footer() {
        let mut stage = StageHistogram::new("hop");
        for v in 1..=10_000u64 {
            stage.record_ns(v);
        }
        let text = stage.to_hgrm();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("Value") && lines[0].contains("1/(1-Percentile)"));
        // First data row: the smallest value at percentile 0.
        let first: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(first[0], "1.000");
        assert_eq!(first[1], "0.000000000000");
        // Last data row reaches percentile 1 with the full count.
        let last_row = lines.iter().rev().find(|l| !l.starts_with('#')).unwrap();
        let cols: Vec<&str> = last_row.split_whitespace().collect();
        assert_eq!(cols[1], "1.000000000000");
        assert_eq!(cols[2], "10000");
        assert!(text.contains("#[Max     =    10007.000") || text.contains("#[Max     =    10000.000"), "{text}");
        assert!(text.contains("Total count    =        10000"));
        // Total counts never decrease down the table.
        let counts: Vec<u64> = lines[2..]
            .iter()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn summary_line_reports_percentiles() {
        let mut stage = StageHistogram::new("x");
        assert_eq!(stage.summary_line(), "x: no samples");
        stage.record_ns(100);
        stage.record_ns(0); // clamps to 1 ns, never fails
        stage.record_ns(u64::MAX); // saturates, never fails
        let line = stage.summary_line();
        assert!(line.starts_with("x: n=3 "), "{line}");
    }
}
