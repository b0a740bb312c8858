//! Statistics of a study: per-policy means with bootstrap confidence intervals, and
//! paired differences between policies on the same tasks.
//!
//! Floats are fine here: these are analytics over finished runs, never balances.
//! The bootstrap draws from a fixed-seed SplitMix64, so the same task results give
//! the same intervals on every machine and in every shard merge.

use std::collections::BTreeMap;

use gavel_feeds::rng::SplitMix64;
use serde_json::{json, Value};

/// The metrics a study reports, and whether a lower value is better (`adl_accounts_hit`: a
/// haircut shared by more counterparties counts as better).
pub const METRICS: [(&str, bool); 16] = [
    ("total_loss_to_others", true),
    ("arrival_slippage_bps", true),
    ("equity_kept", false),
    ("fund_draws", true),
    ("adl_counterparty_loss", true),
    ("backstop_loss", true),
    ("bad_debt", true),
    ("penalties", true),
    ("zero_fill_attempts", true),
    ("accounts_touched", true),
    ("preemptive_cost", true),
    ("preemptive_lots", true),
    ("deficit_at_first_trigger", true),
    ("adl_excess", true),
    ("adl_accounts_hit", false),
    ("adl_largest_loss", true),
];

/// Bootstrap resamples per interval.
const RESAMPLES: usize = 2000;

/// Fixed seed of the bootstrap generator.
const BOOTSTRAP_SEED: u64 = 0x5eed_57ad;

/// One task's metric values per policy (policy → metric → value).
pub type TaskMetrics = BTreeMap<String, BTreeMap<String, f64>>;

/// Mean of `xs` (0 when empty).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// 95 % percentile-bootstrap interval of the mean of `xs`.
pub fn ci95(xs: &[f64]) -> [f64; 2] {
    if xs.len() < 2 {
        let m = mean(xs);
        return [m, m];
    }
    let mut rng = SplitMix64::new(BOOTSTRAP_SEED);
    let n = xs.len();
    let mut means: Vec<f64> = (0..RESAMPLES)
        .map(|_| (0..n).map(|_| xs[rng.below(n as u64) as usize]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((q * (RESAMPLES - 1) as f64).round() as usize).min(RESAMPLES - 1)];
    [at(0.025), at(0.975)]
}

/// Per policy and metric: mean and 95 % CI over the tasks.
pub fn summarize(tasks: &[TaskMetrics], policies: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    for policy in policies {
        let mut metrics = serde_json::Map::new();
        for (metric, _) in METRICS {
            let xs: Vec<f64> = tasks.iter().filter_map(|t| t.get(policy).and_then(|m| m.get(metric)).copied()).collect();
            metrics.insert(metric.to_string(), json!({ "mean": mean(&xs), "ci95": ci95(&xs) }));
        }
        out.insert(policy.clone(), Value::Object(metrics));
    }
    Value::Object(out)
}

/// Paired differences `a − b` over the tasks, for every pair in `pairs`: mean, 95 % CI
/// and the share of tasks where `a` did better than `b` (ties count half).
pub fn paired(tasks: &[TaskMetrics], pairs: &[(String, String)]) -> Value {
    let mut out = serde_json::Map::new();
    for (a, b) in pairs {
        let mut metrics = serde_json::Map::new();
        for (metric, lower_is_better) in METRICS {
            let diffs: Vec<f64> = tasks
                .iter()
                .filter_map(|t| Some(t.get(a)?.get(metric)? - t.get(b)?.get(metric)?))
                .collect();
            let wins: f64 = diffs
                .iter()
                .map(|d| match d.partial_cmp(&0.0) {
                    Some(std::cmp::Ordering::Less) if lower_is_better => 1.0,
                    Some(std::cmp::Ordering::Greater) if !lower_is_better => 1.0,
                    Some(std::cmp::Ordering::Equal) => 0.5,
                    _ => 0.0,
                })
                .sum();
            let win_rate = if diffs.is_empty() { 0.0 } else { wins / diffs.len() as f64 };
            metrics.insert(metric.to_string(), json!({ "mean": mean(&diffs), "ci95": ci95(&diffs), "win_rate": win_rate }));
        }
        out.insert(format!("{a}-{b}"), Value::Object(metrics));
    }
    Value::Object(out)
}

/// The pairs a study reports: every other policy against `naive`, each of gavel's
/// policies (not `naive`, not a venue rule set) against each venue rule set present, and
/// a variant named `BASE-…` against `BASE` when both are in the study.
pub fn pairs(policies: &[String], venue_rules: &[&str]) -> Vec<(String, String)> {
    let is_venue = |p: &str| venue_rules.contains(&p);
    let mut out = Vec::new();
    for base in policies.iter().filter(|p| p.as_str() == "naive" || is_venue(p)) {
        for p in policies.iter().filter(|p| *p != base) {
            if base == "naive" || (!is_venue(p) && p != "naive") {
                out.push((p.clone(), base.clone()));
            }
        }
    }
    // A variant named after another policy of the study (`adaptive-preempt` of `adaptive`)
    // is also paired with it.
    for p in policies {
        for base in policies.iter().filter(|b| *b != p && p.starts_with(&format!("{b}-"))) {
            if !out.iter().any(|(a, b)| a == p && b == base) {
                out.push((p.clone(), base.clone()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(values: &[(&str, f64)]) -> TaskMetrics {
        values.iter().map(|(p, v)| (p.to_string(), [("total_loss_to_others".to_string(), *v)].into_iter().collect())).collect()
    }

    #[test]
    fn interval_brackets_the_mean_and_is_reproducible() {
        let xs: Vec<f64> = (0..40).map(|i| f64::from(i % 7) * 3.0).collect();
        let [lo, hi] = ci95(&xs);
        let m = mean(&xs);
        assert!(lo < m && m < hi, "{lo} {m} {hi}");
        assert_eq!(ci95(&xs), [lo, hi]);
        assert_eq!(ci95(&[5.0]), [5.0, 5.0]);
        // A constant sample has a degenerate interval.
        assert_eq!(ci95(&[2.0; 10]), [2.0, 2.0]);
    }

    #[test]
    fn paired_differences_and_win_rates() {
        let tasks = vec![task(&[("a", 1.0), ("naive", 3.0)]), task(&[("a", 2.0), ("naive", 2.0)]), task(&[("a", 5.0), ("naive", 4.0)])];
        let p = paired(&tasks, &[("a".into(), "naive".into())]);
        let m = &p["a-naive"]["total_loss_to_others"];
        assert!((m["mean"].as_f64().unwrap() + 1.0 / 3.0).abs() < 1e-12);
        // One win, one tie, one loss (lower loss is better).
        assert!((m["win_rate"].as_f64().unwrap() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn pairs_are_against_naive_and_the_venues() {
        let names: Vec<String> = ["naive", "adaptive", "dydx-v4", "binance-usdm"].iter().map(|s| s.to_string()).collect();
        let got = pairs(&names, &["dydx-v4", "binance-usdm"]);
        let got: Vec<String> = got.iter().map(|(a, b)| format!("{a}-{b}")).collect();
        assert_eq!(got, ["adaptive-naive", "dydx-v4-naive", "binance-usdm-naive", "adaptive-dydx-v4", "adaptive-binance-usdm"]);
        // Variants pair with their base as well (once: `naive-preempt` already pairs with naive).
        let names: Vec<String> = ["naive", "adaptive", "adaptive-preempt", "naive-preempt"].iter().map(|s| s.to_string()).collect();
        let got: Vec<String> = pairs(&names, &[]).iter().map(|(a, b)| format!("{a}-{b}")).collect();
        assert_eq!(got, ["adaptive-naive", "adaptive-preempt-naive", "naive-preempt-naive", "adaptive-preempt-adaptive"]);
    }
}
