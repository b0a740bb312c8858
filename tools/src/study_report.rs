//! The HTML page of a `gavel study` (`--html OUT`): for each headline metric, every
//! policy's distribution over the tasks (one dot per task, the mean as a bar across its
//! 95 % interval) and the paired differences against `naive` (mean and 95 % interval,
//! with the zero line: an interval that excludes zero is a difference the study
//! supports). Self-contained inline SVG like the replay report; every chart has a
//! stable `id` and a `data-series` count (rows) for the browser check.

use std::fmt::Write as _;

use serde_json::Value;

use crate::report::{escape, format_number, NiceAxis, PALETTE, STYLE, WIDTH};

/// The metrics drawn, with their axis labels (the JSON keeps every metric).
pub const PLOTTED: [(&str, &str); 3] = [
    ("total_loss_to_others", "total loss to others, quote currency (lower is better)"),
    ("arrival_slippage_bps", "arrival slippage, bps (lower is better)"),
    ("equity_kept", "liquidated users' equity kept, quote currency (higher is better)"),
];

/// Rough width of one character of 11 px label text, for the label column.
const CHAR_WIDTH: f64 = 6.4;
const RIGHT: f64 = 30.0;
const TOP: f64 = 10.0;
const ROW: f64 = 26.0;

/// One row of a chart: a label, the task values (dots), and the mean with its interval.
struct Row {
    label: String,
    /// Palette index: the policy's place in the study, so a policy keeps its colour.
    colour: usize,
    dots: Vec<f64>,
    mean: f64,
    ci: [f64; 2],
}

/// Renders the study output `out` (as written by `gavel study --json`) for `names`, in order.
pub fn render(out: &Value, names: &[String]) -> String {
    let mut html = String::with_capacity(32 * 1024);
    let title = "gavel study";
    let _ = write!(html, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n");
    let study = &out["study"];
    let _ = writeln!(
        html,
        "<p class=\"sub\">{} tasks: seeds {}, drops {} %, incidents {}, funds {}, {} accounts, {} s each; market: {}</p>",
        out["tasks"],
        escape(&compact(&study["seeds"])),
        escape(&compact(&study["drops"])),
        escape(&compact(&study["incidents"])),
        escape(&compact(&study["funds"])),
        study["accounts"],
        study["duration_s"],
        escape(&compact(&study["market"])),
    );
    let results = out["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for (metric, axis_label) in PLOTTED {
        let _ = writeln!(html, "<h2>{}</h2>", escape(metric));
        let rows: Vec<Row> = names
            .iter()
            .enumerate()
            .map(|(colour, name)| {
                let dots = results.iter().filter_map(|r| r["policies"][name][metric].as_f64()).collect();
                let (mean, ci) = mean_ci(&out["policies"][name][metric]);
                Row { label: name.clone(), colour, dots, mean, ci }
            })
            .collect();
        html.push_str(&row_chart(&format!("dist-{metric}"), axis_label, &rows, false));
        let paired: Vec<Row> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| n.as_str() != "naive")
            .filter_map(|(colour, name)| {
                let key = format!("{name}-naive");
                let m = out["paired"].get(&key)?.get(metric)?;
                let (mean, ci) = mean_ci(m);
                let win = m["win_rate"].as_f64().unwrap_or(0.0);
                Some(Row { label: format!("{name} − naive ({:.0} % wins)", win * 100.0), colour, dots: Vec::new(), mean, ci })
            })
            .collect();
        if !paired.is_empty() {
            let _ = writeln!(html, "<p class=\"sub\">paired difference against naive, same task; mean and 95 % bootstrap interval</p>");
            html.push_str(&row_chart(&format!("paired-{metric}"), axis_label, &paired, true));
        }
    }
    html.push_str("</body></html>\n");
    html
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(compact).collect::<Vec<_>>().join(", "),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

fn mean_ci(m: &Value) -> (f64, [f64; 2]) {
    let mean = m["mean"].as_f64().unwrap_or(f64::NAN);
    (mean, [m["ci95"][0].as_f64().unwrap_or(mean), m["ci95"][1].as_f64().unwrap_or(mean)])
}

/// Horizontal rows on one shared value axis; `zero` draws the zero line (and keeps 0 in range).
fn row_chart(id: &str, axis_label: &str, rows: &[Row], zero: bool) -> String {
    let values = rows.iter().flat_map(|r| r.dots.iter().copied().chain([r.mean, r.ci[0], r.ci[1]])).chain(zero.then_some(0.0));
    let axis = NiceAxis::covering(values, 6);
    let longest = rows.iter().map(|r| r.label.chars().count()).max().unwrap_or(0);
    let (left, right) = ((longest as f64 * CHAR_WIDTH + 16.0).clamp(90.0, WIDTH / 2.0), WIDTH - RIGHT);
    let x = |v: f64| left + (v - axis.min) / (axis.max - axis.min) * (right - left);
    let bottom = TOP + ROW * rows.len() as f64;
    let height = bottom + 40.0;
    let mut svg = format!(
        "<svg id=\"{}\" data-series=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\">",
        escape(id),
        rows.len()
    );
    for (v, label) in axis.labelled_ticks() {
        let xv = x(v);
        let _ = write!(svg, "<line class=\"grid\" x1=\"{xv:.1}\" x2=\"{xv:.1}\" y1=\"{TOP}\" y2=\"{bottom:.1}\"/>");
        let _ = write!(svg, "<text x=\"{xv:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", bottom + 14.0, escape(&label));
    }
    if zero {
        let x0 = x(0.0);
        let _ = write!(svg, "<line class=\"zero\" x1=\"{x0:.1}\" x2=\"{x0:.1}\" y1=\"{TOP}\" y2=\"{bottom:.1}\"/>");
    }
    let _ = write!(svg, "<line class=\"axis\" x1=\"{left}\" x2=\"{right}\" y1=\"{bottom:.1}\" y2=\"{bottom:.1}\"/>");
    let _ = write!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>", (left + right) / 2.0, bottom + 32.0, escape(axis_label));
    for (i, row) in rows.iter().enumerate() {
        let color = PALETTE[row.colour % PALETTE.len()];
        let y = TOP + ROW * (i as f64 + 0.5);
        let _ = write!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>", left - 6.0, y + 4.0, escape(&row.label));
        for &d in row.dots.iter().filter(|d| d.is_finite()) {
            let _ = write!(svg, "<circle class=\"task\" cx=\"{:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"{color}\" fill-opacity=\"0.45\"/>", x(d));
        }
        if row.mean.is_finite() {
            let (lo, hi) = (x(row.ci[0]), x(row.ci[1]));
            let _ = write!(svg, "<line class=\"ci\" x1=\"{lo:.1}\" x2=\"{hi:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>");
            for end in [lo, hi] {
                let _ = write!(svg, "<line x1=\"{end:.1}\" x2=\"{end:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"{color}\" stroke-width=\"2\"/>", y - 5.0, y + 5.0);
            }
            let m = x(row.mean);
            let _ = write!(svg, "<rect class=\"mean\" x=\"{:.1}\" y=\"{:.1}\" width=\"4\" height=\"14\" fill=\"{color}\"><title>mean {}</title></rect>", m - 2.0, y - 7.0, escape(&format_number(row.mean)));
        }
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn study() -> Value {
        let task = |i: u64, naive: f64, adaptive: f64| {
            json!({ "task": i, "policies": {
                "naive": { "total_loss_to_others": naive, "arrival_slippage_bps": 1.0, "equity_kept": 10.0 },
                "a<b": { "total_loss_to_others": adaptive, "arrival_slippage_bps": 2.0, "equity_kept": 12.0 },
            }})
        };
        let stat = |mean: f64| json!({ "mean": mean, "ci95": [mean - 1.0, mean + 1.0], "win_rate": 0.5 });
        let metrics = |v: f64| json!({ "total_loss_to_others": stat(v), "arrival_slippage_bps": stat(v), "equity_kept": stat(v) });
        json!({
            "study": { "seeds": [1, 2, 3], "drops": [15], "incidents": [], "funds": ["0"], "accounts": 100, "duration_s": 60, "market": "built-in assumptions" },
            "tasks": 3,
            "results": [task(0, 5.0, 3.0), task(1, 6.0, 4.0), task(2, 7.0, -1.0)],
            "policies": { "naive": metrics(6.0), "a<b": metrics(2.0) },
            "paired": { "a<b-naive": metrics(-4.0) },
        })
    }

    #[test]
    fn every_metric_gets_a_distribution_and_a_paired_chart() {
        let html = render(&study(), &["naive".into(), "a<b".into()]);
        for (metric, _) in PLOTTED {
            assert!(html.contains(&format!("<svg id=\"dist-{metric}\" data-series=\"2\"")), "{metric}");
            assert!(html.contains(&format!("<svg id=\"paired-{metric}\" data-series=\"1\"")), "{metric}");
        }
        // One dot per task per policy per metric; one interval per row (2 + 1 rows per metric).
        assert_eq!(html.matches("class=\"task\"").count(), 3 * 2 * PLOTTED.len());
        assert_eq!(html.matches("class=\"ci\"").count(), 3 * PLOTTED.len());
        // Names are escaped; the win rate is printed.
        assert!(html.contains("a&lt;b − naive (50 % wins)") && !html.contains("a<b"));
    }

    #[test]
    fn a_study_without_naive_draws_no_paired_charts() {
        let mut s = study();
        s["paired"] = json!({});
        let html = render(&s, &["a<b".into()]);
        assert!(html.contains("id=\"dist-equity_kept\" data-series=\"1\""));
        assert!(!html.contains("id=\"paired-"));
    }
}
