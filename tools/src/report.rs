//! The self-contained HTML report: inline SVG charts, no scripts, no network.
//!
//! Charts: the mark-price path with each policy's liquidations marked, each
//! policy's insurance fund over time, the policy comparison table with bars,
//! and per-stage latency percentile distributions on a logarithmic
//! `1/(1-percentile)` axis, as HdrHistogram's plotter draws them.
//!
//! Every chart is an `<svg>` with a stable `id` and a `data-series` count so a
//! browser test can check what was drawn.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// A time series of `(event time ns, value)` points.
pub type Series = Vec<(i64, f64)>;

/// One policy's contribution to the report.
#[derive(Clone, Debug, Default)]
pub struct PolicySection {
    /// Policy name, e.g. `adaptive`.
    pub name: String,
    /// `(event time ns, price)` of every liquidation the policy made.
    pub liquidations: Series,
    /// Insurance fund balance over time, in quote currency.
    pub insurance_fund: Series,
    /// Comparison figures in table order: `(metric, value as text, value as number for bars)`.
    pub metrics: Vec<(String, String, f64)>,
}

/// One latency stage's histogram (ns).
pub struct LatencyCurve<'a> {
    /// Stage label, e.g. `mark update → trigger`.
    pub label: String,
    /// The stage's histogram in ns.
    pub histogram: &'a Histogram<u64>,
}

/// A plain table under its own heading (e.g. the demo's options comparison).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtraTable {
    /// `id` of the `<table>`.
    pub id: String,
    /// Heading above it.
    pub title: String,
    /// One line under the heading (what was run, units).
    pub note: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells, as text.
    pub rows: Vec<Vec<String>>,
}

/// Everything the report shows.
pub struct ReportInput<'a> {
    /// Title at the top of the page.
    pub title: String,
    /// One line under the title (scenario, seed, inputs).
    pub subtitle: String,
    /// The mark-price path.
    pub mark_path: Series,
    /// One section per policy, in comparison order.
    pub policies: Vec<PolicySection>,
    /// Latency stages.
    pub latency: Vec<LatencyCurve<'a>>,
    /// Further tables, after the policy comparison.
    pub extra_tables: Vec<ExtraTable>,
}

pub(crate) const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
pub(crate) const WIDTH: f64 = 860.0;
const MARGIN_LEFT: f64 = 80.0;
const MARGIN_RIGHT: f64 = 30.0;
const PLOT_TOP: f64 = 16.0;
const PLOT_HEIGHT: f64 = 230.0;
/// Height of one policy's liquidation lane under the mark chart.
const LANE_HEIGHT: f64 = 14.0;
/// Height of one legend row.
const LEGEND_ROW: f64 = 16.0;
/// Rough width of one character of 12 px legend text, for laying out columns.
const LEGEND_CHAR_WIDTH: f64 = 6.8;

/// Renders the report as one HTML document.
pub fn render(input: &ReportInput<'_>) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n<style>{}</style></head><body>\n",
        escape(&input.title),
        STYLE
    );
    let _ = writeln!(html, "<h1>{}</h1>\n<p class=\"sub\">{}</p>", escape(&input.title), escape(&input.subtitle));

    // Both time charts share one origin and one range, so they line up on the page.
    let times = input
        .mark_path
        .iter()
        .chain(input.policies.iter().flat_map(|p| p.liquidations.iter().chain(p.insurance_fund.iter())))
        .map(|p| p.0);
    let time = TimeAxis::spanning(times);

    html.push_str("<h2>Mark price and liquidations</h2>\n");
    html.push_str(&mark_chart(&time, &input.mark_path, &input.policies));

    html.push_str("<h2>Insurance fund</h2>\n");
    let fund_series: Vec<(&str, &Series)> =
        input.policies.iter().map(|p| (p.name.as_str(), &p.insurance_fund)).collect();
    html.push_str(&fund_chart(&time, &fund_series));

    html.push_str("<h2>Policy comparison</h2>\n");
    html.push_str(&comparison_table(&input.policies));
    html.push_str(&comparison_bars(&input.policies));

    for table in &input.extra_tables {
        html.push_str(&extra_table(table));
    }

    html.push_str("<h2>Latency by stage</h2>\n");
    html.push_str(&latency_chart(&input.latency));
    html.push_str("</body></html>\n");
    html
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:900px}\
h1{margin-bottom:0}h2{margin:20px 0 4px}.sub{color:#666;margin-top:4px}table{border-collapse:collapse;margin:8px 0 16px}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}\
svg{background:#fff;border:1px solid #ddd;margin:8px 0;display:block}.axis{stroke:#444;stroke-width:1}\
.grid{stroke:#eee;stroke-width:1}.zero{stroke:#888;stroke-width:1}text{font-size:11px;fill:#333}\
.legend text{font-size:12px}.block-title{font-weight:bold}";

/// Maps data values to SVG coordinates inside the plot area.
struct Frame {
    x_min: f64,
    x_max: f64,
    y_min: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, value: f64) -> f64 {
        MARGIN_LEFT + (value - self.x_min) / (self.x_max - self.x_min) * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)
    }

    fn y(&self, value: f64) -> f64 {
        PLOT_TOP + PLOT_HEIGHT - (value - self.y_min) / (self.y_max - self.y_min) * PLOT_HEIGHT
    }
}

/// A linear axis on round numbers: the range widened to whole steps of 1, 2 or 5 × 10^k.
pub(crate) struct NiceAxis {
    pub(crate) min: f64,
    pub(crate) max: f64,
    step: f64,
    ticks: Vec<f64>,
}

impl NiceAxis {
    /// About `target` intervals covering every finite value (and `0..1` when there is none).
    pub(crate) fn covering(values: impl Iterator<Item = f64>, target: usize) -> NiceAxis {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-9 * lo.abs().max(1.0) {
            let pad = lo.abs().max(1.0) * 0.01;
            (lo, hi) = (lo - pad, hi + pad);
        }
        let raw = (hi - lo) / target.max(1) as f64;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
        let first = (lo / step).floor();
        let last = (hi / step).ceil();
        let ticks = (0..=(last - first) as i64).map(|i| (first + i as f64) * step).collect();
        NiceAxis { min: first * step, max: last * step, step, ticks }
    }
}

impl NiceAxis {
    /// Each tick with its label, as many decimals as the step needs.
    pub(crate) fn labelled_ticks(&self) -> Vec<(f64, String)> {
        self.ticks
            .iter()
            .map(|&v| {
                let label = if v.abs() < 1e-9 * self.step {
                    "0".to_string()
                } else if v.abs() >= 1e4 {
                    format_number(v)
                } else {
                    let decimals = if self.step >= 1.0 { 0 } else { (-self.step.log10()).ceil() as usize };
                    format!("{v:.decimals$}")
                };
                (v, label)
            })
            .collect()
    }
}

/// The shared time axis of the mark and fund charts: seconds since the first event shown.
struct TimeAxis {
    t0: i64,
    axis: NiceAxis,
}

impl TimeAxis {
    fn spanning(times: impl Iterator<Item = i64>) -> TimeAxis {
        let times: Vec<i64> = times.collect();
        let t0 = times.iter().copied().min().unwrap_or(0);
        let axis = NiceAxis::covering(times.iter().map(|&t| (t - t0) as f64 / 1e9).chain([0.0]), 6);
        TimeAxis { t0, axis }
    }

    fn seconds(&self, t: i64) -> f64 {
        (t - self.t0) as f64 / 1e9
    }
}

/// Everything around the plotted data: grid, ticks, axes, labels, lanes and legend.
struct Decor<'a> {
    id: &'a str,
    series: usize,
    frame: &'a Frame,
    x_ticks: Vec<(f64, String)>,
    y_ticks: Vec<(f64, String)>,
    x_label: &'a str,
    y_label: &'a str,
    /// Labelled lanes under the plot (name, colour), e.g. one per policy's liquidations.
    lanes: Vec<(&'a str, &'a str)>,
    /// Legend entries (label, colour), laid out in rows under the axis label.
    legend: Vec<(&'a str, &'a str)>,
}

impl Decor<'_> {
    fn plot_bottom(&self) -> f64 {
        PLOT_TOP + PLOT_HEIGHT
    }

    /// Centre line of lane `i`.
    fn lane_y(&self, i: usize) -> f64 {
        self.plot_bottom() + 6.0 + (i as f64 + 0.5) * LANE_HEIGHT
    }

    fn lanes_bottom(&self) -> f64 {
        if self.lanes.is_empty() {
            self.plot_bottom()
        } else {
            self.plot_bottom() + 6.0 + self.lanes.len() as f64 * LANE_HEIGHT
        }
    }

    /// (columns, column width) of the legend.
    fn legend_grid(&self) -> (usize, f64) {
        let longest = self.legend.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
        let column = (longest as f64 * LEGEND_CHAR_WIDTH + 24.0).max(110.0);
        let columns = (((WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / column).floor() as usize).max(1);
        (columns, column)
    }

    fn legend_top(&self) -> f64 {
        self.lanes_bottom() + 44.0
    }

    fn height(&self) -> f64 {
        let (columns, _) = self.legend_grid();
        let rows = self.legend.len().div_ceil(columns);
        self.legend_top() + rows as f64 * LEGEND_ROW + 4.0
    }

    /// The opening tag and every decoration; the caller appends series and `</svg>`.
    fn open(&self) -> String {
        let height = self.height();
        let mut svg = format!(
            "<svg id=\"{}\" data-series=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\">",
            self.id, self.series
        );
        let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
        let (top, bottom, lanes_bottom) = (PLOT_TOP, self.plot_bottom(), self.lanes_bottom());
        for (value, label) in &self.y_ticks {
            let y = self.frame.y(*value);
            let _ = write!(svg, "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>");
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 5.0,
                y + 4.0,
                escape(label)
            );
        }
        for (value, label) in &self.x_ticks {
            let x = self.frame.x(*value);
            let _ =
                write!(svg, "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{lanes_bottom:.1}\"/>");
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                lanes_bottom + 14.0,
                escape(label)
            );
        }
        for (i, (name, color)) in self.lanes.iter().enumerate() {
            let y = self.lane_y(i);
            let _ = write!(svg, "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>");
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" style=\"fill:{color}\">{}</text>",
                left - 5.0,
                y + 4.0,
                escape(name)
            );
        }
        let _ = write!(svg, "<line class=\"axis\" x1=\"{left}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\"/>");
        let _ = write!(svg, "<line class=\"axis\" x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{bottom}\"/>");
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            (left + right) / 2.0,
            lanes_bottom + 30.0,
            escape(self.x_label)
        );
        let _ = write!(
            svg,
            "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            (top + bottom) / 2.0,
            escape(self.y_label)
        );
        let (columns, column) = self.legend_grid();
        svg.push_str("<g class=\"legend\">");
        for (i, (label, color)) in self.legend.iter().enumerate() {
            let x = MARGIN_LEFT + (i % columns) as f64 * column;
            let y = self.legend_top() + (i / columns) as f64 * LEGEND_ROW + 10.0;
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{y:.1}\">{}</text>",
                y - 9.0,
                x + 14.0,
                escape(label)
            );
        }
        svg.push_str("</g>");
        svg
    }
}

/// `<polyline>` of already-transformed `(x, y)` data points.
fn polyline(svg: &mut String, frame: &Frame, color: &str, points: impl Iterator<Item = (f64, f64)>) {
    let _ = write!(svg, "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"{color}\" points=\"");
    for (x, y) in points {
        let _ = write!(svg, "{:.1},{:.1} ", frame.x(x), frame.y(y));
    }
    svg.push_str("\"/>");
}

fn time_ticks(time: &TimeAxis) -> Vec<(f64, String)> {
    time.axis.labelled_ticks()
}

/// The mark path as a line, and under it one lane per policy with a circle at each liquidation.
fn mark_chart(time: &TimeAxis, mark: &Series, policies: &[PolicySection]) -> String {
    let y = NiceAxis::covering(mark.iter().map(|p| p.1), 5);
    let frame = Frame { x_min: time.axis.min, x_max: time.axis.max, y_min: y.min, y_max: y.max };
    let colors: Vec<&str> = (0..=policies.len()).map(|i| PALETTE[i % PALETTE.len()]).collect();
    let decor = Decor {
        id: "chart-mark",
        series: 1 + policies.len(),
        frame: &frame,
        x_ticks: time_ticks(time),
        y_ticks: y.labelled_ticks(),
        x_label: "time (s)",
        y_label: "price (ticks)",
        lanes: policies.iter().zip(&colors[1..]).map(|(p, c)| (p.name.as_str(), *c)).collect(),
        legend: vec![("mark", colors[0]), ("liquidation (one lane per policy)", "#888")],
    };
    let mut svg = decor.open();
    let _ = write!(svg, "<g class=\"series line\" data-label=\"mark\" data-points=\"{}\">", mark.len());
    if !mark.is_empty() {
        polyline(&mut svg, &frame, colors[0], thin(mark, 2000).iter().map(|&(t, v)| (time.seconds(t), v)));
    }
    svg.push_str("</g>");
    for (i, policy) in policies.iter().enumerate() {
        let _ = write!(
            svg,
            "<g class=\"series markers\" data-label=\"{} liquidations\" data-points=\"{}\">",
            escape(&policy.name),
            policy.liquidations.len()
        );
        let lane = decor.lane_y(i);
        for &(t, _) in &policy.liquidations {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{lane:.1}\" r=\"3\" fill=\"none\" stroke=\"{}\"/>",
                frame.x(time.seconds(t)),
                colors[i + 1]
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>\n");
    svg
}

/// Each policy's insurance fund over the shared time axis.
fn fund_chart(time: &TimeAxis, series: &[(&str, &Series)]) -> String {
    let y = NiceAxis::covering(series.iter().flat_map(|(_, s)| s.iter().map(|p| p.1)).chain([0.0]), 5);
    let frame = Frame { x_min: time.axis.min, x_max: time.axis.max, y_min: y.min, y_max: y.max };
    let decor = Decor {
        id: "chart-fund",
        series: series.len(),
        frame: &frame,
        x_ticks: time_ticks(time),
        y_ticks: y.labelled_ticks(),
        x_label: "time (s)",
        y_label: "fund balance (quote)",
        lanes: Vec::new(),
        legend: series.iter().enumerate().map(|(i, (name, _))| (*name, PALETTE[i % PALETTE.len()])).collect(),
    };
    let mut svg = decor.open();
    for (i, (name, points)) in series.iter().enumerate() {
        let _ =
            write!(svg, "<g class=\"series line\" data-label=\"{}\" data-points=\"{}\">", escape(name), points.len());
        if !points.is_empty() {
            polyline(
                &mut svg,
                &frame,
                PALETTE[i % PALETTE.len()],
                thin(points, 2000).iter().map(|&(t, v)| (time.seconds(t), v)),
            );
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>\n");
    svg
}

/// Keeps at most about `max` points, evenly spaced, always including the last.
fn thin(points: &Series, max: usize) -> Series {
    if points.len() <= max {
        return points.clone();
    }
    let stride = points.len().div_ceil(max);
    let mut out: Series = points.iter().step_by(stride).copied().collect();
    if let Some(&last) = points.last() {
        if out.last() != Some(&last) {
            out.push(last);
        }
    }
    out
}

fn extra_table(t: &ExtraTable) -> String {
    let mut html = format!("<h2>{}</h2>\n<p class=\"sub\">{}</p>\n<table id=\"{}\"><thead><tr>", escape(&t.title), escape(&t.note), escape(&t.id));
    for h in &t.header {
        let _ = write!(html, "<th>{}</th>", escape(h));
    }
    html.push_str("</tr></thead><tbody>");
    for row in &t.rows {
        html.push_str("<tr>");
        for cell in row {
            let _ = write!(html, "<td>{}</td>", escape(cell));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>\n");
    html
}

fn comparison_table(policies: &[PolicySection]) -> String {
    let mut html = String::from("<table id=\"comparison\"><thead><tr><th>metric</th>");
    for p in policies {
        let _ = write!(html, "<th>{}</th>", escape(&p.name));
    }
    html.push_str("</tr></thead><tbody>");
    let metric_names: Vec<&str> =
        policies.first().map(|p| p.metrics.iter().map(|m| m.0.as_str()).collect()).unwrap_or_default();
    for (row, name) in metric_names.iter().enumerate() {
        let _ = write!(html, "<tr><td>{}</td>", escape(name));
        for p in policies {
            let value = p.metrics.get(row).map(|m| m.1.as_str()).unwrap_or("");
            let _ = write!(html, "<td>{}</td>", escape(value));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>\n");
    html
}

/// One small bar chart per metric, two per row; bars start at a zero line, so
/// negative values point left, and are scaled within their metric.
fn comparison_bars(policies: &[PolicySection]) -> String {
    let Some(first) = policies.first() else { return String::new() };
    const COLUMNS: usize = 2;
    const ROW: f64 = 16.0;
    const NAME_WIDTH: f64 = 80.0;
    const BAR_SPAN: f64 = 240.0;
    let column_width = (WIDTH - 20.0) / COLUMNS as f64;
    let block_height = 22.0 + ROW * policies.len() as f64 + 12.0;
    let height = block_height * first.metrics.len().div_ceil(COLUMNS) as f64 + 6.0;
    let mut svg = format!(
        "<svg id=\"chart-bars\" data-series=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\">",
        first.metrics.len()
    );
    for (m, (name, _, _)) in first.metrics.iter().enumerate() {
        let left = 10.0 + (m % COLUMNS) as f64 * column_width;
        let top = 6.0 + (m / COLUMNS) as f64 * block_height;
        let _ =
            write!(svg, "<text class=\"block-title\" x=\"{left:.1}\" y=\"{:.1}\">{}</text>", top + 12.0, escape(name));
        let values = policies.iter().filter_map(|p| p.metrics.get(m)).map(|x| x.2).filter(|v| v.is_finite());
        let (negative, positive) = values.fold((0.0f64, 0.0f64), |(n, p), v| (n.max(-v), p.max(v)));
        let span = negative + positive;
        let scale = if span > 0.0 { BAR_SPAN / span } else { 0.0 };
        let zero = left + NAME_WIDTH + negative * scale;
        let rows_top = top + 20.0;
        let _ = write!(
            svg,
            "<line class=\"zero\" x1=\"{zero:.1}\" x2=\"{zero:.1}\" y1=\"{rows_top:.1}\" y2=\"{:.1}\"/>",
            rows_top + ROW * policies.len() as f64
        );
        for (i, p) in policies.iter().enumerate() {
            let Some((_, text, value)) = p.metrics.get(m) else { continue };
            let value = if value.is_finite() { *value } else { 0.0 };
            let y = rows_top + i as f64 * ROW;
            let width = value.abs() * scale;
            let x = if value < 0.0 { zero - width } else { zero };
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                left + NAME_WIDTH - 6.0,
                y + 11.0,
                escape(&p.name),
                y + 2.0,
                ROW - 4.0,
                PALETTE[i % PALETTE.len()],
                zero + value.max(0.0) * scale + 5.0,
                y + 11.0,
                escape(text)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Percentile distribution: x = log10(1/(1-p)) from 0 (p = 0) to 6 (p = 99.9999 %),
/// y = latency on a log scale, one decade per grid line.
fn latency_chart(curves: &[LatencyCurve<'_>]) -> String {
    // Latencies below 1 ns are drawn at 1 ns, so the log axis stays finite.
    let log_us = |ns: u64| (ns.max(1) as f64 / 1000.0).log10();
    let mut points: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for curve in curves {
        let h = curve.histogram;
        let mut pts = Vec::new();
        if !h.is_empty() {
            for step in h.iter_quantiles(5) {
                let q = step.quantile_iterated_to();
                if q >= 0.999_999 {
                    break;
                }
                pts.push(((1.0 / (1.0 - q)).log10(), log_us(step.value_iterated_to())));
            }
            pts.push((6.0, log_us(h.max())));
        }
        points.push((curve.label.clone(), pts));
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for &(_, y) in points.iter().flat_map(|(_, p)| p.iter()) {
        lo = lo.min(y);
        hi = hi.max(y);
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    let (y_min, mut y_max) = (lo.floor(), hi.ceil());
    if y_max <= y_min {
        y_max = y_min + 1.0;
    }
    let decade_step = ((y_max - y_min) / 6.0).ceil().max(1.0);
    let y_ticks = (0..)
        .map(|i| y_min + i as f64 * decade_step)
        .take_while(|v| *v <= y_max + 1e-9)
        .map(|v| (v, format_duration_us(10f64.powf(v))))
        .collect();
    let x_ticks = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
        .iter()
        .enumerate()
        .map(|(i, l)| (i as f64, l.to_string()))
        .collect();
    let frame = Frame { x_min: 0.0, x_max: 6.0, y_min, y_max };
    let decor = Decor {
        id: "chart-latency",
        series: curves.len(),
        frame: &frame,
        x_ticks,
        y_ticks,
        x_label: "percentile (log scale of 1/(1-p))",
        y_label: "latency (log scale)",
        lanes: Vec::new(),
        legend: points.iter().enumerate().map(|(i, (l, _))| (l.as_str(), PALETTE[i % PALETTE.len()])).collect(),
    };
    let mut svg = decor.open();
    for (i, (label, pts)) in points.iter().enumerate() {
        let _ = write!(svg, "<g class=\"series line\" data-label=\"{}\" data-points=\"{}\">", escape(label), pts.len());
        if !pts.is_empty() {
            polyline(&mut svg, &frame, PALETTE[i % PALETTE.len()], pts.iter().copied());
        }
        svg.push_str("</g>");
    }
    svg.push_str("</svg>\n");
    svg
}

/// A duration given in µs, in the unit that keeps it short: `100 ns`, `10 µs`, `1 ms`, `2 s`.
fn format_duration_us(us: f64) -> String {
    let (value, unit) = if us < 1.0 {
        (us * 1000.0, "ns")
    } else if us < 1000.0 {
        (us, "µs")
    } else if us < 1e6 {
        (us / 1000.0, "ms")
    } else {
        (us / 1e6, "s")
    };
    let digits = if value >= 1.0 { 0 } else { 2 };
    format!("{value:.digits$} {unit}")
}

pub(crate) fn format_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_input(h: &Histogram<u64>) -> ReportInput<'_> {
        let mark: Series = (0..100).map(|i| (i as i64 * 1_000_000_000, 60_000.0 - i as f64 * 10.0)).collect();
        let policy = |name: &str, bad: f64| PolicySection {
            name: name.into(),
            liquidations: vec![(10_000_000_000, 59_900.0), (20_000_000_000, 59_800.0)],
            insurance_fund: vec![(0, 1000.0), (50_000_000_000, 1000.0 - bad)],
            metrics: vec![("bad debt".into(), format!("{bad:.2}"), bad), ("liquidations".into(), "2".into(), 2.0)],
        };
        ReportInput {
            title: "crash <seed 1>".into(),
            subtitle: "two venues".into(),
            mark_path: mark,
            policies: vec![policy("naive", 500.0), policy("adaptive", 20.0)],
            latency: vec![LatencyCurve { label: "mark → trigger".into(), histogram: h }],
            extra_tables: vec![ExtraTable {
                id: "options-crash".into(),
                title: "Options <same crash>".into(),
                note: "60 accounts".into(),
                header: vec!["strategy".into(), "liquidated".into()],
                rows: vec![vec!["close-first".into(), "7".into()], vec!["greeks".into(), "7".into()]],
            }],
        }
    }

    #[test]
    fn report_has_every_chart_with_its_series() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in 1..10_000u64 {
            h.record(v * 10).unwrap();
        }
        let html = render(&sample_input(&h));
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<title>crash &lt;seed 1&gt;</title>"));
        assert!(html.contains("id=\"chart-mark\" data-series=\"3\""));
        assert!(html.contains("id=\"chart-fund\" data-series=\"2\""));
        assert!(html.contains("id=\"chart-bars\" data-series=\"2\""));
        assert!(html.contains("id=\"chart-latency\" data-series=\"1\""));
        assert_eq!(html.matches("<circle").count(), 4, "two markers for each of two policies");
        assert_eq!(html.matches("class=\"bar\"").count(), 4);
        assert!(html.contains("<td>500.00</td>") && html.contains("<td>20.00</td>"));
        assert!(html.contains("<h2>Options &lt;same crash&gt;</h2>"));
        assert!(html.contains("<table id=\"options-crash\"><thead><tr><th>strategy</th><th>liquidated</th></tr></thead><tbody><tr><td>close-first</td><td>7</td></tr><tr><td>greeks</td><td>7</td></tr></tbody></table>"));
        assert!(!html.contains("<script"), "the report must not need scripts");
        assert!(
            !html.contains("http://")
                || html.matches("http://").count() == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
    }

    #[test]
    fn empty_inputs_still_render() {
        let h = Histogram::<u64>::new_with_bounds(1, 1000, 3).unwrap();
        let input = ReportInput {
            title: "empty".into(),
            subtitle: String::new(),
            mark_path: Vec::new(),
            policies: Vec::new(),
            latency: vec![LatencyCurve { label: "none".into(), histogram: &h }],
            extra_tables: Vec::new(),
        };
        let html = render(&input);
        assert!(html.contains("id=\"chart-mark\" data-series=\"1\""));
        assert!(html.contains("id=\"chart-latency\""));
        assert!(!html.contains("NaN") && !html.contains("inf"));
    }

    #[test]
    fn nice_axis_covers_the_data_on_round_steps() {
        let axis = NiceAxis::covering([506_300.0, 604_500.0].into_iter(), 5);
        assert_eq!((axis.min, axis.max, axis.step), (500_000.0, 620_000.0, 20_000.0));
        assert_eq!(axis.ticks.len(), 7);
        let labels: Vec<String> = axis.labelled_ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels[0], "500.0k");
        let small = NiceAxis::covering([0.0, 0.37].into_iter(), 4);
        assert_eq!((small.min, small.step), (0.0, 0.1));
        let labels: Vec<String> = small.labelled_ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(labels, ["0", "0.1", "0.2", "0.3", "0.4"]);
        let flat = NiceAxis::covering([7.0, 7.0].into_iter(), 5);
        assert!(flat.min < 7.0 && flat.max > 7.0);
    }

    #[test]
    fn negative_bars_point_left_of_the_zero_line() {
        let policy = |name: &str, v: f64| PolicySection {
            name: name.into(),
            metrics: vec![("slippage (bps)".into(), format!("{v:.2}"), v)],
            ..PolicySection::default()
        };
        let svg = comparison_bars(&[policy("a", 6.0), policy("b", -3.0)]);
        let zero: f64 = svg.split("class=\"zero\" x1=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let bars: Vec<(f64, f64)> = svg
            .split("<rect class=\"bar\" x=\"")
            .skip(1)
            .map(|rest| {
                let x: f64 = rest.split('"').next().unwrap().parse().unwrap();
                let width: f64 = rest.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
                (x, width)
            })
            .collect();
        assert_eq!(bars.len(), 2);
        assert!((bars[0].0 - zero).abs() < 0.1, "positive bar starts at zero");
        assert!((bars[1].0 + bars[1].1 - zero).abs() < 0.1, "negative bar ends at zero");
        assert!((bars[0].1 - 2.0 * bars[1].1).abs() < 0.2, "bars share one scale");
    }

    #[test]
    fn latency_ticks_are_decades() {
        assert_eq!(format_duration_us(0.1), "100 ns");
        assert_eq!(format_duration_us(10.0), "10 µs");
        assert_eq!(format_duration_us(1000.0), "1 ms");
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in [500u64, 2_000, 40_000, 3_000_000] {
            h.record(v).unwrap();
        }
        let svg = latency_chart(&[LatencyCurve { label: "stage".into(), histogram: &h }]);
        for label in ["100 ns", "1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "99.9999%"] {
            assert!(svg.contains(&format!(">{label}</text>")), "missing tick {label}");
        }
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn thinning_keeps_the_last_point() {
        let pts: Series = (0..10_001).map(|i| (i, i as f64)).collect();
        let thinned = thin(&pts, 2000);
        assert!(thinned.len() <= 2002);
        assert_eq!(thinned.last(), pts.last());
        assert_eq!(escape("a<b&\"c\""), "a&lt;b&amp;&quot;c&quot;");
    }
}
