//! `gavel study`: many generated crashes and incidents × policies, with confidence intervals.
//!
//! A study is the grid seeds × markets (crash drops, then incidents of the library) × fund
//! sizes; each cell (a task) generates its scenario, replays it under every policy through the real pipeline (`compare`), and
//! keeps the outcome metrics. The report gives per policy and metric the mean and a
//! 95 % bootstrap interval, and paired differences (same task) against `naive` and the
//! venue rule sets. Tasks are numbered in grid order; `--shard i/N` runs the tasks
//! whose number is `i` modulo `N`, and `gavel study merge` joins shard files into
//! exactly the output of one run. Each task is deterministic, so neither the
//! number of worker threads nor the sharding changes a figure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use gavel_engine::risk::instrument::QUOTE_SCALE;
use gavel_engine::venue_rules::RULE_NAMES;
use serde_json::{json, Value};

use crate::cmd::compare::compare;
use crate::cmd::gen::{write_crash_scenario, CrashArgs};
use crate::pipeline::{parse_quote, resolve_inputs, PolicyRun};
use crate::policy_file::resolve_policy;
use crate::study_stats::{paired, pairs, summarize, TaskMetrics};
use gavel_sim::generate::incident::{write_incident, IncidentSpec, INCIDENTS};

/// Arguments of `gavel study`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<Merge>,
    /// Seeds, inclusive: `A..B` (e.g. `1..30`) or one seed.
    #[arg(long, default_value = "1..5")]
    seeds: String,
    /// Crash drops, percent, comma-separated (each in 1..=89). Default 15,30, or none when
    /// `--incident` is given.
    #[arg(long)]
    drops: Option<String>,
    /// An incident of the library (`gavel gen incident --list`; repeat, or `all`): its scenario
    /// joins the grid beside the crashes, once per seed and fund.
    #[arg(long = "incident")]
    incidents: Vec<String>,
    /// Accounts per generated crash (1 ..= 1,000,000).
    #[arg(long, default_value_t = 2000, value_parser = crate::limits::accounts())]
    accounts: usize,
    /// Length of each crash, seconds of event time (10 ..= 86,400).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i64).range(10..=86_400))]
    duration: i64,
    /// Policy (as in `compare`; repeat). Default: naive, adaptive and the venue rule sets with venue defaults.
    #[arg(long = "policy")]
    policies: Vec<String>,
    /// Starting insurance fund in the book's money: quote currency, or BTC with `--inverse`
    /// (repeat for a sweep; default 0).
    #[arg(long = "fund")]
    funds: Vec<String>,
    /// Run only the tasks `i` modulo `N` (`i` in 0..N), e.g. `--shard 0/4`.
    #[arg(long)]
    shard: Option<String>,
    /// Worker threads (each runs whole tasks).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Write the study as JSON here (required).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write an HTML page of the study here: per metric, each policy's distribution
    /// over the tasks and the paired differences against naive, with 95 % intervals.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Generate every crash with this market fit from `gavel calibrate` (as `gen crash --params`).
    #[arg(long)]
    params: Option<PathBuf>,
    /// Coin-margined crashes (as `gen crash --inverse`): an inverse BTCUSD book, money in
    /// BTC. Not with `--incident` (the incidents are linear) or a venue rule set (they model
    /// linear contracts); default policies naive, partial and adaptive.
    #[arg(long)]
    inverse: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Merge {
    /// Joins shard outputs of one study into the output of a single run.
    Merge {
        /// Shard JSON files.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Write the merged study here.
        #[arg(long)]
        json: PathBuf,
        /// Also write the merged study's HTML page here (as `gavel study --html`).
        #[arg(long)]
        html: Option<PathBuf>,
    },
}

/// The market of a task.
#[derive(Clone, Copy, Debug)]
enum Market {
    /// A generated crash with this drop, percent.
    Crash(u32),
    /// The incident at this index of the library.
    Incident(usize),
}

/// One cell of the grid.
#[derive(Clone, Copy, Debug)]
struct Task {
    index: usize,
    seed: u64,
    market: Market,
    fund: i128,
}

impl Task {
    fn describe(&self) -> String {
        match self.market {
            Market::Crash(drop) => format!("task {} (seed {}, drop {drop} %)", self.index, self.seed),
            Market::Incident(k) => format!("task {} (seed {}, incident {})", self.index, self.seed, INCIDENTS[k].name),
        }
    }
}

/// Runs `gavel study` or `gavel study merge`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Merge::Merge { shards, json, html }) = &args.merge {
        let merged = merge_files(shards)?;
        write_json(json, &merged)?;
        if let Some(path) = html {
            write_html(path, &merged)?;
        }
        println!("merged {} shard files into {}", shards.len(), json.display());
        return Ok(());
    }
    let json_path = args.json.clone().context("--json OUT is required")?;
    let seeds = parse_seeds(&args.seeds)?;
    let incidents = parse_incidents(&args.incidents)?;
    let drops = match (&args.drops, incidents.is_empty()) {
        (Some(text), _) => parse_drops(text)?,
        (None, true) => parse_drops("15,30")?,
        (None, false) => Vec::new(),
    };
    let markets: Vec<Market> = drops.iter().map(|&d| Market::Crash(d)).chain(incidents.iter().map(|&k| Market::Incident(k))).collect();
    let funds: Vec<i128> = if args.funds.is_empty() { vec![0] } else { args.funds.iter().map(|f| parse_quote(f)).collect::<anyhow::Result<_>>()? };
    anyhow::ensure!(!args.inverse || incidents.is_empty(), "--inverse: the incidents are linear books; run them without --inverse");
    let defaults: &[&str] = if args.inverse { &["naive", "partial", "adaptive"] } else { &["naive", "adaptive", "dydx-v4", "binance-usdm", "maker-clip"] };
    let policies: Vec<String> = if args.policies.is_empty() { defaults.iter().map(|s| s.to_string()).collect() } else { args.policies.clone() };
    // Resolve every policy now: a bad name fails before any work, naming the argument.
    let resolved: Vec<_> = policies.iter().map(|p| resolve_policy(p)).collect::<anyhow::Result<_>>()?;
    if let Some(p) = resolved.iter().find(|p| args.inverse && p.rules.is_some()) {
        anyhow::bail!("--policy {}: a venue rule set models linear contracts and cannot run with --inverse", p.name);
    }
    let names: Vec<String> = resolved.into_iter().map(|p| p.name).collect();
    let (shard, shards) = parse_shard(args.shard.as_deref())?;
    let mut tasks = Vec::new();
    for &seed in &seeds {
        for &market in &markets {
            for &fund in &funds {
                tasks.push(Task { index: tasks.len(), seed, market, fund });
            }
        }
    }
    let total = tasks.len();
    let mine: Vec<Task> = tasks.into_iter().filter(|t| t.index % shards == shard).collect();
    // The fit is part of the study's definition: shards of studies on different fits do not merge.
    let calibration = match &args.params {
        Some(path) => {
            gavel_sim::generate::fit::ParamsFile::load(path).map_err(|e| anyhow::anyhow!("--params: {e:#}"))?;
            json!({ "params": path.display().to_string(), "fnv64": crate::serve::recovery::file_hash(path)? })
        }
        None => json!("built-in assumptions"),
    };
    let mut study = json!({
        "seeds": seeds, "drops": drops, "incidents": incidents.iter().map(|&k| INCIDENTS[k].name).collect::<Vec<_>>(),
        "funds": funds.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
        "accounts": args.accounts, "duration_s": args.duration, "policies": policies, "market": calibration,
    });
    if args.inverse {
        // Part of the definition: a coin-margined study's shards never merge with a linear one's.
        study["money"] = json!("BTC");
    }
    eprintln!("study: {total} tasks × {} policies; this run: {} tasks (shard {shard}/{shards}), {} jobs", names.len(), mine.len(), args.jobs);
    let results = run_tasks(&mine, &args, &policies, usize::from(args.jobs))?;
    let out = assemble(study, total, Some((shard, shards)).filter(|_| shards > 1), results, &names);
    write_json(&json_path, &out)?;
    print!("{}", summary_table(&out, &names));
    println!("wrote {}", json_path.display());
    if let Some(path) = &args.html {
        write_html(path, &out)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs `tasks` on `jobs` threads; results in task order.
fn run_tasks(tasks: &[Task], args: &Args, policies: &[String], jobs: usize) -> anyhow::Result<Vec<Value>> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<anyhow::Result<Value>>>> = tasks.iter().map(|_| Mutex::new(None)).collect();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for worker in 0..jobs.min(tasks.len().max(1)) {
            let (next, slots) = (&next, &slots);
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(task) = tasks.get(i) else { break };
                let result = run_task(task, args, policies, (worker + 1) % cores);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(result);
                }
            });
        }
    });
    slots
        .into_iter()
        .zip(tasks)
        .map(|(slot, task)| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(anyhow::anyhow!("task {} did not run", task.index)))
                .with_context(|| task.describe())
        })
        .collect()
}

/// Generates one task's crash and replays it under every policy.
fn run_task(task: &Task, args: &Args, policies: &[String], core: usize) -> anyhow::Result<Value> {
    let dir = std::env::temp_dir().join(format!("gavel-study-{}-{}", std::process::id(), task.index));
    let result = (|| {
        match task.market {
            Market::Crash(drop) => {
                let crash = CrashArgs { out: dir.clone(), seed: task.seed, accounts: args.accounts, drop: f64::from(drop), duration: args.duration, long_pct: 70, params: args.params.clone(), implied_vol: None, inverse: args.inverse };
                write_crash_scenario(&crash)?;
            }
            Market::Incident(k) => {
                write_incident(&IncidentSpec { name: INCIDENTS[k].name.to_string(), out: dir.clone(), seed: task.seed, accounts: args.accounts })?;
            }
        }
        let (_, mut inputs) = resolve_inputs(Some(&dir), None, None, None, &[])?;
        inputs.fund_seed = task.fund;
        inputs.engine_core = core;
        let runs = compare(&inputs, policies, None)?;
        Ok(json!({
            "task": task.index, "seed": task.seed, "fund": task.fund.to_string(),
            "drop": match task.market { Market::Crash(d) => json!(d), Market::Incident(_) => Value::Null },
            "incident": match task.market { Market::Incident(k) => json!(INCIDENTS[k].name), Market::Crash(_) => Value::Null },
            "policies": runs.iter().map(|r| (r.outcome.policy.clone(), metrics(r))).collect::<BTreeMap<_, _>>(),
        }))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The study metrics of one run, money in the book's asset (quote currency, or BTC for an
/// inverse book).
fn metrics(run: &PolicyRun) -> BTreeMap<String, f64> {
    let o = &run.outcome;
    let money = |units: i128| units as f64 / QUOTE_SCALE as f64;
    [
        ("total_loss_to_others", money(o.total_loss_to_others())),
        ("arrival_slippage_bps", o.arrival_slippage_bps()),
        ("equity_kept", money(o.user_equity_kept)),
        ("fund_draws", money(o.fund_draws)),
        ("adl_counterparty_loss", money(o.adl_counterparty_loss)),
        ("backstop_loss", money(o.backstop_loss)),
        ("bad_debt", money(o.bad_debt)),
        ("penalties", money(o.penalties)),
        ("zero_fill_attempts", o.zero_fill_attempts as f64),
        ("accounts_touched", o.accounts_touched as f64),
        ("preemptive_cost", money(o.preemptive_cost)),
        ("preemptive_lots", o.preemptive_lots as f64),
        ("deficit_at_first_trigger", money(o.deficit_at_first_trigger)),
        ("adl_excess", money(o.adl_excess)),
        ("adl_accounts_hit", o.adl_accounts_hit as f64),
        ("adl_largest_loss", money(o.adl_largest_loss)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The study output: its definition, the task results, and the statistics over them.
fn assemble(study: Value, total: usize, shard: Option<(usize, usize)>, results: Vec<Value>, names: &[String]) -> Value {
    let tasks: Vec<TaskMetrics> = results.iter().map(task_metrics).collect();
    let venue_rules: Vec<&str> = RULE_NAMES.to_vec();
    json!({
        "study": study,
        "tasks": total,
        "shard": shard.map(|(i, n)| format!("{i}/{n}")),
        "results": results,
        "policies": summarize(&tasks, names),
        "paired": paired(&tasks, &pairs(names, &venue_rules)),
    })
}

fn task_metrics(result: &Value) -> TaskMetrics {
    let mut out = TaskMetrics::new();
    if let Some(policies) = result["policies"].as_object() {
        for (name, metrics) in policies {
            let m = metrics.as_object().map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_f64()?))).collect()).unwrap_or_default();
            out.insert(name.clone(), m);
        }
    }
    out
}

/// Joins shard outputs: the same study, every task exactly once.
fn merge_files(paths: &[PathBuf]) -> anyhow::Result<Value> {
    let mut study: Option<(Value, u64, PathBuf)> = None;
    let mut results: BTreeMap<u64, Value> = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let shard: Value = serde_json::from_str(&text).with_context(|| format!("{}: not a study JSON", path.display()))?;
        let (Some(definition), Some(total), Some(list)) = (shard.get("study"), shard["tasks"].as_u64(), shard["results"].as_array()) else {
            anyhow::bail!("{}: not a study output (fields `study`, `tasks`, `results`)", path.display());
        };
        match &study {
            None => study = Some((definition.clone(), total, path.clone())),
            Some((first, first_total, first_path)) => anyhow::ensure!(
                first == definition && *first_total == total,
                "{}: from a different study than {} (seeds, drops, incidents, funds, accounts, duration, market, money or policies differ)",
                path.display(),
                first_path.display()
            ),
        }
        for result in list {
            let index = result["task"].as_u64().with_context(|| format!("{}: a result without `task`", path.display()))?;
            anyhow::ensure!(index < total, "{}: task {index} is outside the study's {total} tasks", path.display());
            anyhow::ensure!(results.insert(index, result.clone()).is_none(), "{}: task {index} is in more than one shard file", path.display());
        }
    }
    let (definition, total, _) = study.context("no shard files")?;
    let missing: Vec<u64> = (0..total).filter(|i| !results.contains_key(i)).collect();
    anyhow::ensure!(missing.is_empty(), "tasks {missing:?} are in none of the shard files");
    let names: Vec<String> = results
        .values()
        .next()
        .and_then(|r| r["policies"].as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    // Policy order as the study listed them (resolved names are in the results' keys).
    let order = ordered_names(&definition, &names);
    Ok(assemble(definition, total as usize, None, results.into_values().collect(), &order))
}

/// The policies of `names` in the order the study definition lists them (a rules file's
/// policy is named by its rule set, so unmatched names keep their sorted order after).
fn ordered_names(definition: &Value, names: &[String]) -> Vec<String> {
    let listed: Vec<String> = definition["policies"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect()).unwrap_or_default();
    let resolved: Vec<String> = listed.iter().filter_map(|p| resolve_policy(p).ok().map(|p| p.name)).collect();
    let mut out: Vec<String> = resolved.into_iter().filter(|n| names.contains(n)).collect();
    let rest: Vec<String> = names.iter().filter(|n| !out.contains(n)).cloned().collect();
    out.extend(rest);
    out
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    gavel_feeds::atomic_file::write_atomic(path, serde_json::to_string_pretty(value)? + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Writes the study's HTML page; policies in the order the output lists them.
fn write_html(path: &Path, out: &Value) -> anyhow::Result<()> {
    let names: Vec<String> = ordered_names(&out["study"], &out["policies"].as_object().map(|p| p.keys().cloned().collect::<Vec<_>>()).unwrap_or_default());
    gavel_feeds::atomic_file::write_atomic(path, crate::study_report::render(out, &names)).with_context(|| format!("writing {}", path.display()))
}

/// `A..B` (inclusive) or `A`.
fn parse_seeds(text: &str) -> anyhow::Result<Vec<u64>> {
    let bad = |why: &str| anyhow::anyhow!("--seeds {text:?}: {why}");
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a, b),
        None => (text, text),
    };
    let a: u64 = a.trim().parse().map_err(|_| bad("not a seed or range A..B"))?;
    let b: u64 = b.trim().parse().map_err(|_| bad("not a seed or range A..B"))?;
    anyhow::ensure!(a <= b, bad("the range is empty (A must be at most B)"));
    anyhow::ensure!(b - a < 100_000, bad("at most 100000 seeds"));
    Ok((a..=b).collect())
}

/// `--incident` values: library names or `all`, as indexes into [`INCIDENTS`].
fn parse_incidents(names: &[String]) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    for name in names {
        if name == "all" {
            out.extend(0..INCIDENTS.len());
            continue;
        }
        let k = INCIDENTS.iter().position(|i| i.name == name).ok_or_else(|| {
            anyhow::anyhow!("--incident {name:?}: not in the library (known: {}, or all)", INCIDENTS.iter().map(|i| i.name).collect::<Vec<_>>().join(", "))
        })?;
        out.push(k);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn parse_drops(text: &str) -> anyhow::Result<Vec<u32>> {
    let drops: Vec<u32> = text
        .split(',')
        .map(|d| d.trim().parse::<u32>().ok().filter(|d| (1..=89).contains(d)).ok_or_else(|| anyhow::anyhow!("--drops {text:?}: {d:?} is not a whole percent in 1..=89")))
        .collect::<anyhow::Result<_>>()?;
    Ok(drops)
}

/// `i/N` with `i` in 0..N, N in 1..=100000; none: the whole study.
fn parse_shard(text: Option<&str>) -> anyhow::Result<(usize, usize)> {
    let Some(text) = text else { return Ok((0, 1)) };
    let bad = || anyhow::anyhow!("--shard {text:?}: expected i/N with 0 <= i < N <= 100000");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    anyhow::ensure!((1..=100_000).contains(&n) && i < n, bad());
    Ok((i, n))
}

/// Means with intervals for the headline metrics, one row per policy.
fn summary_table(out: &Value, names: &[String]) -> String {
    let mut s = format!("{:<16} {:>34} {:>30} {:>34}\n", "policy", "loss_to_others mean [95% CI]", "arrival_bps mean [95% CI]", "equity_kept mean [95% CI]");
    // A coin is shown to 10^-4, the quote currency to the unit.
    let (unit, places) = match out["study"]["money"].as_str() {
        Some(coin) => (coin.to_string(), 4),
        None => ("quote currency".to_string(), 0),
    };
    for name in names {
        let cell = |metric: &str| {
            let m = &out["policies"][name][metric];
            let v = |x: &Value| x.as_f64().unwrap_or(0.0);
            format!("{:.places$} [{:.places$}, {:.places$}]", v(&m["mean"]), v(&m["ci95"][0]), v(&m["ci95"][1]))
        };
        let bps = {
            let m = &out["policies"][name]["arrival_slippage_bps"];
            format!("{:.1} [{:.1}, {:.1}]", m["mean"].as_f64().unwrap_or(0.0), m["ci95"][0].as_f64().unwrap_or(0.0), m["ci95"][1].as_f64().unwrap_or(0.0))
        };
        s.push_str(&format!("{:<16} {:>34} {:>30} {:>34}\n", name, cell("total_loss_to_others"), bps, cell("equity_kept")));
    }
    s.push_str(&format!("(money in {unit})\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_range_checked() {
        assert_eq!(parse_seeds("3..5").unwrap(), vec![3, 4, 5]);
        assert_eq!(parse_seeds("7").unwrap(), vec![7]);
        assert!(parse_seeds("5..3").unwrap_err().to_string().contains("empty"));
        assert!(parse_seeds("a..3").unwrap_err().to_string().contains("--seeds"));
        assert_eq!(parse_drops("15, 30").unwrap(), vec![15, 30]);
        assert!(parse_drops("0").is_err() && parse_drops("95").is_err() && parse_drops("x").is_err());
        assert_eq!(parse_incidents(&["all".into()]).unwrap().len(), INCIDENTS.len());
        assert_eq!(parse_incidents(&[INCIDENTS[1].name.into(), INCIDENTS[1].name.into()]).unwrap(), vec![1]);
        assert!(parse_incidents(&["ftx".into()]).unwrap_err().to_string().contains("--incident \"ftx\""));
        assert_eq!(parse_shard(Some("1/4")).unwrap(), (1, 4));
        assert_eq!(parse_shard(None).unwrap(), (0, 1));
        for bad in ["4/4", "1/0", "x/2", "3"] {
            assert!(parse_shard(Some(bad)).unwrap_err().to_string().contains("--shard"), "{bad}");
        }
    }
}
