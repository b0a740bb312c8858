//! `gavel compare`: the same replay under several liquidation policies, side by side.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use gavel_engine::engine_loop::PinOutcome;
use gavel_engine::engine::BUILTIN_POLICIES;
use gavel_engine::risk::instrument::{format_money, QUOTE_DECIMALS, QUOTE_SCALE};
use gavel_feeds::clock::Clock;
use serde_json::json;

use crate::pipeline::{run_policy, InputArgs, PolicyRun, ReplayInputs};
use crate::policy_file::resolve_policy;
use crate::report::{render, LatencyCurve, PolicySection, ReportInput};

/// Arguments of `gavel compare`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario, files, fund, feedback, core.
    #[command(flatten)]
    pub input: InputArgs,
    /// Policy: a built-in name (naive, partial, auction, sliced, adaptive), a venue rule set (dydx-v4, binance-usdm, maker-clip; hyperliquid, drift-v2 and aave-v4 need a rules TOML for their per-market values), or a policy or rules TOML file (repeat; default: every built-in).
    #[arg(long = "policy")]
    pub policies: Vec<String>,
    /// Write the comparison as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the self-contained HTML report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write each policy's journal (binary engine output records; `gavel journal dump`) to
    /// `<DIR>/<policy>.journal`.
    #[arg(long)]
    pub journal_dir: Option<PathBuf>,
}

/// Runs the comparison.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (name, inputs) = args.input.resolve(&[])?;
    let names: Vec<String> = if args.policies.is_empty() {
        BUILTIN_POLICIES.iter().map(|s| s.to_string()).collect()
    } else {
        args.policies.clone()
    };
    if let Some(dir) = &args.journal_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let runs = compare(&inputs, &names, args.journal_dir.as_deref())?;
    print!("{}", table(&runs));
    if let Some(path) = &args.json {
        gavel_feeds::atomic_file::write_atomic(path, serde_json::to_string_pretty(&to_json(&name, &inputs, &runs))?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.report {
        write_report(path, &name, &runs, Vec::new())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs every policy in `names` over the same inputs, in order; journals go to
/// `<journal_dir>/<policy>.journal` when a folder is given (a name already used in
/// this run, e.g. a rules file named like a built-in, gets `-2`, `-3`, … appended).
pub fn compare(inputs: &ReplayInputs, names: &[String], journal_dir: Option<&Path>) -> anyhow::Result<Vec<PolicyRun>> {
    let clock = Clock::calibrate(std::time::Duration::from_millis(20));
    let mut runs = Vec::with_capacity(names.len());
    let mut warned = false;
    let mut used: Vec<String> = Vec::with_capacity(names.len());
    for spec in names {
        let mut policy = resolve_policy(spec)?;
        let base = policy.name.clone();
        let mut k = 1;
        while used.contains(&policy.name) {
            k += 1;
            policy.name = format!("{base}-{k}");
        }
        used.push(policy.name.clone());
        let journal = journal_dir.map(|d| d.join(format!("{}.journal", policy.name)));
        let run = run_policy(inputs, &policy, clock, journal.as_deref()).with_context(|| format!("policy {}", policy.name))?;
        if let (PinOutcome::Unpinned { requested, reason }, false) = (&run.pin, warned) {
            eprintln!("warning: engine not pinned to core {requested}: {reason}");
            warned = true;
        }
        // Every policy reads the same captures: report their bad input once.
        for (path, venue, stats) in run.feed_stats.iter().filter(|_| runs.is_empty()) {
            if stats.parse_errors > 0 || stats.gaps > 0 {
                let named = inputs.captures.iter().position(|c| c == path).and_then(|i| inputs.sources.get(i)).unwrap_or(path);
                eprintln!(
                    "warning: {} ({venue:?}): {} bad messages skipped, {} gaps resynced; first: {}",
                    named.display(),
                    stats.parse_errors,
                    stats.gaps,
                    stats.first_errors.first().map(String::as_str).unwrap_or("-")
                );
            }
        }
        runs.push(run);
    }
    Ok(runs)
}

fn money(units: i128) -> String {
    format_money(units, QUOTE_DECIMALS)
}

fn money_short(units: i128) -> String {
    format_money(units / (QUOTE_SCALE / 100), 2)
}

/// The runs' money unit for display: the coin of an inverse book (shown to its 10^-6
/// unit), else the quote currency (to the cent).
fn money_unit(runs: &[PolicyRun]) -> (String, fn(i128) -> String) {
    match runs.first().map(|r| r.settlement_asset.as_str()).filter(|a| !a.is_empty()) {
        Some(coin) => (coin.to_string(), money),
        None => ("quote currency".to_string(), money_short),
    }
}

/// The comparison table printed on stdout.
pub fn table(runs: &[PolicyRun]) -> String {
    let (unit, money_short) = money_unit(runs);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>14} {:>9} {:>14} {:>12} {:>9} {:>9} {:>24} {:>14} {:>14} {:>11}",
        "policy", "loss_others", "arr_bps", "equity_kept", "penalties", "liq(f/p)", "zero_fill", "lots own/auc/ext/bs/adl", "adl_loss", "fund_min", "conserv_err"
    );
    for run in runs {
        let o = &run.outcome;
        let v = &o.volume;
        let _ = writeln!(
            out,
            "{:<16} {:>14} {:>9.2} {:>14} {:>12} {:>9} {:>9} {:>24} {:>14} {:>14} {:>11}",
            o.policy,
            money_short(o.total_loss_to_others()),
            o.arrival_slippage_bps(),
            money_short(o.user_equity_kept),
            money_short(o.penalties),
            format!("{}/{}", o.full_liquidations, o.partial_liquidations()),
            o.zero_fill_attempts,
            format!("{}/{}/{}/{}/{}", v.own_book, v.auction, v.external.iter().sum::<i64>(), v.backstop, v.adl),
            money_short(o.adl_counterparty_loss),
            money_short(o.fund_min),
            o.conservation_error
        );
    }
    let _ = writeln!(
        out,
        "(money in {unit}; loss_others = fund draws + ADL haircut + bad debt + backstop loss; \
         arr_bps = volume-weighted slippage vs the mark at each account's first trigger)",
    );
    out
}

fn stage_json(run: &PolicyRun) -> serde_json::Value {
    let mut stages = serde_json::Map::new();
    for stage in &run.stages {
        let h = stage.histogram();
        stages.insert(
            stage.name().to_string(),
            json!({
                "samples": h.len(),
                "p50_ns": h.value_at_quantile(0.5),
                "p99_ns": h.value_at_quantile(0.99),
                "p999_ns": h.value_at_quantile(0.999),
                "max_ns": h.max(),
            }),
        );
    }
    serde_json::Value::Object(stages)
}

/// One policy's outcome as JSON (money as exact decimal strings in quote currency).
pub fn outcome_json(run: &PolicyRun) -> serde_json::Value {
    let o = &run.outcome;
    let mut volume = serde_json::Map::new();
    for (name, lots) in o.volume.named() {
        volume.insert(name.to_string(), json!(lots));
    }
    let counters: serde_json::Map<String, serde_json::Value> = o.counters.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    json!({
        "name": o.policy,
        "total_loss_to_others": money(o.total_loss_to_others()),
        "fund_draws": money(o.fund_draws),
        "adl_counterparty_loss": money(o.adl_counterparty_loss),
        "adl_excess": money(o.adl_excess),
        "adl_accounts_hit": o.adl_accounts_hit,
        "adl_largest_loss": money(o.adl_largest_loss),
        "bad_debt": money(o.bad_debt),
        "backstop_loss": money(o.backstop_loss),
        "arrival_slippage_bps": o.arrival_slippage_bps(),
        "arrival_slippage_per_fill_bps": o.arrival_slippage_per_fill_bps,
        "equity_kept": money(o.user_equity_kept),
        "penalties": money(o.penalties),
        "liquidations": o.liquidations,
        "full_liquidations": o.full_liquidations,
        "partial_liquidations": o.partial_liquidations(),
        "accounts_touched": o.accounts_touched,
        "zero_fill_attempts": o.zero_fill_attempts,
        "volume_by_venue": volume,
        "cascade_depth": o.cascade_depth,
        "adl_notional": money(o.adl_notional),
        "fund_start": money(o.fund_start),
        "fund_min": money(o.fund_min),
        "fund_end": money(o.fund_end),
        "time_to_solvency_p50_ns": o.time_to_solvency_ns.0,
        "time_to_solvency_p99_ns": o.time_to_solvency_ns.1,
        "margin_calls": o.margin_calls,
        "liquidations_preceded_by_call": o.liquidations_preceded_by_call,
        "margin_calls_on_implied": o.margin_calls_on_implied,
        "margin_call_orders": o.margin_call_orders,
        "preemptive_reductions": o.preemptive_reductions,
        "preemptive_lots": o.preemptive_lots,
        "preemptive_upgraded": o.preemptive_upgraded,
        "preemptive_cost": money(o.preemptive_cost),
        "deficit_at_first_trigger": money(o.deficit_at_first_trigger),
        "call_lead_time_p50_ns": o.call_lead_time_ns.0,
        "call_lead_time_p99_ns": o.call_lead_time_ns.1,
        "peak_impact_bps": o.peak_impact_centi_bps as f64 / 100.0,
        "conservation_error": o.conservation_error.to_string(),
        "counters": counters,
        "journal_records": run.journal_records,
        "journal_fingerprint": format!("{:016x}", run.journal_hash),
        "events": run.events,
        "latency": stage_json(run),
    })
}

/// The comparison as JSON.
pub fn to_json(scenario: &str, inputs: &ReplayInputs, runs: &[PolicyRun]) -> serde_json::Value {
    json!({
        "scenario": scenario,
        "impact_feedback": inputs.impact_feedback,
        "captures": inputs.captures.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "money_unit": money_unit(runs).0,
        "policies": runs.iter().map(outcome_json).collect::<Vec<_>>(),
    })
}

/// Writes the HTML report of a comparison.
/// `extra_tables` follow the policy comparison (the demo adds its options table).
pub fn write_report(path: &Path, scenario: &str, runs: &[PolicyRun], extra_tables: Vec<crate::report::ExtraTable>) -> anyhow::Result<()> {
    let to_quote = |units: i128| units as f64 / QUOTE_SCALE as f64;
    let (_, money_short) = money_unit(runs);
    // Prices are shown in ticks of the first instrument; the mark path is the first policy's.
    let mark_path = runs.first().map(|r| r.series.mark.iter().map(|&(t, p)| (t, p as f64)).collect()).unwrap_or_default();
    let policies = runs
        .iter()
        .map(|run| {
            let o = &run.outcome;
            PolicySection {
                name: o.policy.clone(),
                liquidations: run.series.liquidations.iter().map(|&(t, p)| (t, p as f64)).collect(),
                insurance_fund: run.series.insurance_fund.iter().map(|&(t, f)| (t, to_quote(f))).collect(),
                metrics: vec![
                    ("total loss to others".into(), money_short(o.total_loss_to_others()), to_quote(o.total_loss_to_others())),
                    ("insurance fund draws".into(), money_short(o.fund_draws), to_quote(o.fund_draws)),
                    ("ADL haircut".into(), money_short(o.adl_counterparty_loss), to_quote(o.adl_counterparty_loss)),
                    ("ADL accounts hit".into(), o.adl_accounts_hit.to_string(), o.adl_accounts_hit as f64),
                    ("ADL largest loss of one account".into(), money_short(o.adl_largest_loss), to_quote(o.adl_largest_loss)),
                    ("bad debt".into(), money_short(o.bad_debt), to_quote(o.bad_debt)),
                    ("backstop loss".into(), money_short(o.backstop_loss), to_quote(o.backstop_loss)),
                    ("arrival slippage (bps)".into(), format!("{:.2}", o.arrival_slippage_bps()), o.arrival_slippage_bps()),
                    ("user equity kept".into(), money_short(o.user_equity_kept), to_quote(o.user_equity_kept)),
                    ("penalties".into(), money_short(o.penalties), to_quote(o.penalties)),
                    ("liquidations".into(), o.liquidations.to_string(), o.liquidations as f64),
                    ("zero-fill attempts".into(), o.zero_fill_attempts.to_string(), o.zero_fill_attempts as f64),
                    ("own-book lots".into(), o.volume.own_book.to_string(), o.volume.own_book as f64),
                    ("auction lots".into(), o.volume.auction.to_string(), o.volume.auction as f64),
                    ("external lots".into(), o.volume.external.iter().sum::<i64>().to_string(), o.volume.external.iter().sum::<i64>() as f64),
                    ("backstop lots".into(), o.volume.backstop.to_string(), o.volume.backstop as f64),
                    ("ADL lots".into(), o.volume.adl.to_string(), o.volume.adl as f64),
                    ("cascade depth".into(), o.cascade_depth.to_string(), f64::from(o.cascade_depth)),
                    ("insurance fund min".into(), money_short(o.fund_min), to_quote(o.fund_min)),
                    ("conservation error".into(), o.conservation_error.to_string(), o.conservation_error as f64),
                ],

            }
        })
        .collect();
    let latency_source = runs.iter().rev().find(|r| r.outcome.policy == "adaptive").or(runs.last());
    let latency = latency_source
        .map(|run| {
            run.stages
                .iter()
                .map(|s| LatencyCurve { label: format!("{} ({})", s.name(), run.outcome.policy), histogram: s.histogram() })
                .collect()
        })
        .unwrap_or_default();
    let input = ReportInput {
        title: format!("gavel policy comparison: {scenario}"),
        subtitle: format!(
            "{} policies; prices in ticks; money in {}; latency of the {} run",
            runs.len(),
            money_unit(runs).0,
            latency_source.map(|r| r.outcome.policy.as_str()).unwrap_or("-")
        ),
        mark_path,
        policies,
        latency,
        extra_tables,
    };
    gavel_feeds::atomic_file::write_atomic(path, render(&input)).with_context(|| format!("writing {}", path.display()))
}
