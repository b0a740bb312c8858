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
}

const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 300.0;
const MARGIN_LEFT: f64 = 80.0;
const MARGIN_RIGHT: f64 = 20.0;
const MARGIN_TOP: f64 = 20.0;
const MARGIN_BOTTOM: f64 = 40.0;

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

    html.push_str("<h2>Mark price and liquidations</h2>\n");
    let mut price_series = vec![LineSeries { label: "mark".into(), points: &input.mark_path, markers: false }];
    for policy in &input.policies {
        price_series.push(LineSeries {
            label: format!("{} liquidations", policy.name),
            points: &policy.liquidations,
            markers: true,
        });
    }
    html.push_str(&line_chart("chart-mark", &price_series, "time (s)", "price"));

    html.push_str("<h2>Insurance fund</h2>\n");
    let fund_series: Vec<LineSeries<'_>> = input
        .policies
        .iter()
        .map(|p| LineSeries { label: p.name.clone(), points: &p.insurance_fund, markers: false })
        .collect();
    html.push_str(&line_chart("chart-fund", &fund_series, "time (s)", "fund balance"));

    html.push_str("<h2>Policy comparison</h2>\n");
    html.push_str(&comparison_table(&input.policies));
    html.push_str(&comparison_bars(&input.policies));

    html.push_str("<h2>Latency by stage</h2>\n");
    html.push_str(&latency_chart(&input.latency));
    html.push_str("</body></html>\n");
    html
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:900px}\
h1{margin-bottom:0}.sub{color:#666;margin-top:4px}table{border-collapse:collapse;margin:8px 0 16px}\
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}\
svg{background:#fff;border:1px solid #ddd;margin:8px 0}.axis{stroke:#444;stroke-width:1}\
.grid{stroke:#eee;stroke-width:1}text{font-size:11px;fill:#333}.legend text{font-size:12px}";

struct LineSeries<'a> {
    label: String,
    points: &'a Series,
    markers: bool,
}

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
        HEIGHT - MARGIN_BOTTOM - (value - self.y_min) / (self.y_max - self.y_min) * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)
    }
}

fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        let pad = lo.abs().max(1.0) * 0.01;
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn line_chart(id: &str, series: &[LineSeries<'_>], x_label: &str, y_label: &str) -> String {
    let t0 = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).min().unwrap_or(0);
    let seconds = |t: i64| (t - t0) as f64 / 1e9;
    let (x_min, x_max) = padded_range(series.iter().flat_map(|s| s.points.iter().map(|p| seconds(p.0))));
    let (y_min, y_max) = padded_range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let frame = Frame { x_min, x_max, y_min, y_max };
    let mut svg = svg_open(id, series.len());
    axes(&mut svg, &frame, x_label, y_label, |v| format!("{v:.0}"), |v| format_number(v));
    for (i, s) in series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let class = if s.markers { "markers" } else { "line" };
        let _ = write!(svg, "<g class=\"series {class}\" data-label=\"{}\" data-points=\"{}\">", escape(&s.label), s.points.len());
        if s.markers {
            for &(t, v) in s.points.iter() {
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"none\" stroke=\"{color}\"/>",
                    frame.x(seconds(t)),
                    frame.y(v)
                );
            }
        } else if !s.points.is_empty() {
            svg.push_str("<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"");
            svg.push_str(color);
            svg.push_str("\" points=\"");
            for &(t, v) in thin(s.points, 2000).iter() {
                let _ = write!(svg, "{:.1},{:.1} ", frame.x(seconds(t)), frame.y(v));
            }
            svg.push_str("\"/>");
        }
        svg.push_str("</g>");
    }
    legend(&mut svg, series.iter().map(|s| s.label.as_str()));
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

fn svg_open(id: &str, series: usize) -> String {
    format!(
        "<svg id=\"{id}\" data-series=\"{series}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\">"
    )
}

fn axes(
    svg: &mut String,
    frame: &Frame,
    x_label: &str,
    y_label: &str,
    x_tick: impl Fn(f64) -> String,
    y_tick: impl Fn(f64) -> String,
) {
    let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    let (top, bottom) = (MARGIN_TOP, HEIGHT - MARGIN_BOTTOM);
    for i in 0..=4 {
        let fy = frame.y_min + (frame.y_max - frame.y_min) * i as f64 / 4.0;
        let y = frame.y(fy);
        let _ = write!(svg, "<line class=\"grid\" x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>");
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", left - 4.0, y + 4.0, y_tick(fy));
        let fx = frame.x_min + (frame.x_max - frame.x_min) * i as f64 / 4.0;
        let x = frame.x(fx);
        let _ = write!(svg, "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", bottom + 14.0, x_tick(fx));
    }
    let _ = write!(svg, "<line class=\"axis\" x1=\"{left}\" x2=\"{right}\" y1=\"{bottom}\" y2=\"{bottom}\"/>");
    let _ = write!(svg, "<line class=\"axis\" x1=\"{left}\" x2=\"{left}\" y1=\"{top}\" y2=\"{bottom}\"/>");
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (left + right) / 2.0,
        HEIGHT - 6.0,
        escape(x_label)
    );
    let _ = write!(
        svg,
        "<text transform=\"translate(14,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        (top + bottom) / 2.0,
        escape(y_label)
    );
}

fn legend<'a>(svg: &mut String, labels: impl Iterator<Item = &'a str>) {
    svg.push_str("<g class=\"legend\">");
    for (i, label) in labels.enumerate() {
        let y = MARGIN_TOP + 6.0 + i as f64 * 16.0;
        let x = WIDTH - MARGIN_RIGHT - 200.0;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y - 9.0,
            PALETTE[i % PALETTE.len()],
            x + 14.0,
            y,
            escape(label)
        );
    }
    svg.push_str("</g>");
}

fn comparison_table(policies: &[PolicySection]) -> String {
    let mut html = String::from("<table id=\"comparison\"><thead><tr><th>metric</th>");
    for p in policies {
        let _ = write!(html, "<th>{}</th>", escape(&p.name));
    }
    html.push_str("</tr></thead><tbody>");
    let metric_names: Vec<&str> = policies.first().map(|p| p.metrics.iter().map(|m| m.0.as_str()).collect()).unwrap_or_default();
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

/// One small horizontal bar chart per metric, bars scaled to the largest magnitude.
fn comparison_bars(policies: &[PolicySection]) -> String {
    let Some(first) = policies.first() else { return String::new() };
    let row_h = 18.0;
    let block_h = row_h * policies.len() as f64 + 24.0;
    let height = block_h * first.metrics.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg id=\"chart-bars\" data-series=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\">",
        first.metrics.len()
    );
    for (m, (name, _, _)) in first.metrics.iter().enumerate() {
        let top = m as f64 * block_h + 16.0;
        let _ = write!(svg, "<text x=\"10\" y=\"{top:.1}\" font-weight=\"bold\">{}</text>", escape(name));
        let max = policies.iter().filter_map(|p| p.metrics.get(m)).map(|x| x.2.abs()).fold(0.0, f64::max);
        for (i, p) in policies.iter().enumerate() {
            let Some((_, text, value)) = p.metrics.get(m) else { continue };
            let y = top + 6.0 + i as f64 * row_h;
            let width = if max > 0.0 { value.abs() / max * 500.0 } else { 0.0 };
            let _ = write!(
                svg,
                "<text x=\"150\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect class=\"bar\" x=\"160\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                y + 12.0,
                escape(&p.name),
                row_h - 4.0,
                PALETTE[i % PALETTE.len()],
                166.0 + width,
                y + 12.0,
                escape(text)
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Percentile distribution: x = log10(1/(1-p)) from 1 to 10^6, y = latency (µs).
fn latency_chart(curves: &[LatencyCurve<'_>]) -> String {
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
                pts.push(((1.0 / (1.0 - q)).log10(), step.value_iterated_to() as f64 / 1000.0));
            }
            pts.push((6.0, h.max() as f64 / 1000.0));
        }
        points.push((curve.label.clone(), pts));
    }
    let (_, y_max) = padded_range(points.iter().flat_map(|(_, p)| p.iter().map(|q| q.1)).chain([0.0]));
    let frame = Frame { x_min: 0.0, x_max: 6.0, y_min: 0.0, y_max };
    let mut svg = svg_open("chart-latency", curves.len());
    let percentile_label = |v: f64| {
        let p = 100.0 * (1.0 - 10f64.powf(-v));
        match v.round() as i32 {
            0 => "0%".to_string(),
            _ => format!("{p:.4}%").trim_end_matches('0').trim_end_matches('.').to_string() + "",
        }
    };
    axes(&mut svg, &frame, "percentile (log scale of 1/(1-p))", "latency (µs)", percentile_label, format_number);
    for (i, (label, pts)) in points.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let _ = write!(svg, "<g class=\"series line\" data-label=\"{}\" data-points=\"{}\">", escape(label), pts.len());
        if !pts.is_empty() {
            let _ = write!(svg, "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"{color}\" points=\"");
            for &(x, y) in pts {
                let _ = write!(svg, "{:.1},{:.1} ", frame.x(x), frame.y(y));
            }
            svg.push_str("\"/>");
        }
        svg.push_str("</g>");
    }
    legend(&mut svg, points.iter().map(|(l, _)| l.as_str()));
    svg.push_str("</svg>\n");
    svg
}

fn format_number(v: f64) -> String {
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
        assert!(!html.contains("<script"), "the report must not need scripts");
        assert!(!html.contains("http://") || html.matches("http://").count() == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count());
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
        };
        let html = render(&input);
        assert!(html.contains("id=\"chart-mark\" data-series=\"1\""));
        assert!(html.contains("id=\"chart-latency\""));
        assert!(!html.contains("NaN") && !html.contains("inf"));
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
