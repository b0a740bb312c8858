//! `gavel tune`: searches liquidation-policy parameters over training
//! scenarios and reports the winner on a held-out scenario.
//!
//! The objective (defined in `docs/SIMULATION.md`, "Tuning") is
//! `J = bad_debt + λ·slippage_cost + collateral_lost − μ·user_equity_kept`,
//! summed over the training scenarios, lower is better. It is computed
//! exactly in integers: λ and μ are decimal strings held in 10^-8 parts, so J
//! is kept in 10^-8 quote units and every comparison is exact and repeatable.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use gavel_engine::engine_loop::PinOutcome;
use gavel_engine::engine::{EnginePolicy as LiquidationPolicy, Stage};
use gavel_sim::Outcome as OutcomeRecorder;
use gavel_feeds::decimal::Decimal;
use gavel_engine::risk::instrument::{format_money, rate_unit, InstrumentSet, QUOTE_DECIMALS, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::risk::penalty::PenaltyPolicy;
use gavel_feeds::clock::Clock;
use serde_json::json;

use crate::pipeline::{resolve_inputs, run_policy, ReplayInputs};
use crate::policy_file::{parse_stage, rate_text, resolve_policy, stage_name, to_toml};

/// Search method.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Every combination of the grid values.
    Grid,
    /// One parameter at a time from the base policy, keeping the best, for `--rounds` rounds.
    Coordinate,
}

/// A searched policy parameter (named as in policy files).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Param {
    /// The execution waterfall (`stages`).
    Stages,
    /// Minimal partial close or full close.
    Partial,
    /// Partial-liquidation buffer.
    Buffer,
    /// Penalty rule (static rate or dynamic base and cap).
    Penalty,
    /// Mark EMA half-life, ms.
    #[value(name = "oracle_half_life_ms")]
    OracleHalfLifeMs,
}

/// Every parameter, in search order.
pub const PARAMS: [Param; 5] = [Param::Stages, Param::Partial, Param::Buffer, Param::Penalty, Param::OracleHalfLifeMs];

impl Param {
    /// The policy-file field name.
    pub fn name(self) -> &'static str {
        match self {
            Param::Stages => "stages",
            Param::Partial => "partial",
            Param::Buffer => "buffer",
            Param::Penalty => "penalty",
            Param::OracleHalfLifeMs => "oracle_half_life_ms",
        }
    }

    fn by_name(name: &str) -> Option<Param> {
        PARAMS.into_iter().find(|p| p.name() == name)
    }

    /// Candidate values of coordinate descent (the full sweep).
    fn coordinate_values(self) -> &'static [&'static str] {
        match self {
            Param::Stages => &["own_book+auction+route", "own_book+route", "own_book+auction", "auction+route", "route"],
            Param::Partial => &["true", "false"],
            Param::Buffer => &["0.02", "0.05", "0.1", "0.2", "0.3"],
            Param::Penalty => {
                &["static:0.001", "static:0.002", "static:0.003", "dynamic:0.001:0.0025", "dynamic:0.0015:0.0035"]
            }
            Param::OracleHalfLifeMs => &["0", "100", "250", "1000"],
        }
    }

    /// Candidate values of the grid (smaller, since the grid multiplies them).
    fn grid_values(self) -> &'static [&'static str] {
        match self {
            Param::Stages => &["own_book+auction+route", "own_book+route", "route"],
            Param::Partial => &["true", "false"],
            Param::Buffer => &["0.05", "0.1", "0.2"],
            Param::Penalty => &["static:0.002", "dynamic:0.0015:0.0035"],
            Param::OracleHalfLifeMs => &["0", "250"],
        }
    }
}

/// One value of one parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamValue {
    /// `stages` (at most three, in order; written `own_book+auction+route`).
    Stages([Option<Stage>; 3]),
    /// `partial`.
    Partial(bool),
    /// `buffer`, 10^-8 parts.
    Buffer(i128),
    /// `penalty`.
    Penalty(PenaltyPolicy),
    /// `oracle_half_life_ms`.
    OracleHalfLifeMs(u64),
}

/// Weights of the dynamic penalty candidates (those of the built-in `adaptive`).
const DYNAMIC_VOL_COEF: f64 = 0.5;
const DYNAMIC_DEPTH_COEF: f64 = 0.01;

fn parse_rate(text: &str, what: &str) -> anyhow::Result<i128> {
    Decimal::parse(text)
        .ok()
        .and_then(|d| d.in_units_of(rate_unit()))
        .filter(|r| *r >= 0)
        .ok_or_else(|| anyhow::anyhow!("{what}: {text:?} is not a non-negative multiple of 1e-8"))
}

impl ParamValue {
    /// Parses a candidate value of `param`. Penalties are `static:RATE` or
    /// `dynamic:BASE:CAP` (volatility and depth weights as in `adaptive`).
    pub fn parse(param: Param, text: &str) -> anyhow::Result<ParamValue> {
        let what = format!("value of {}", param.name());
        Ok(match param {
            Param::Stages => {
                let mut stages = [None; 3];
                let names: Vec<&str> = text.split('+').filter(|s| !s.is_empty()).collect();
                anyhow::ensure!(names.len() <= 3, "{what}: {text:?} lists more than three stages");
                for (slot, name) in stages.iter_mut().zip(&names) {
                    *slot = Some(parse_stage(name).ok_or_else(|| anyhow::anyhow!("{what}: {name:?} is not own_book, auction or route"))?);
                }
                ParamValue::Stages(stages)
            }
            Param::Partial => ParamValue::Partial(match text {
                "true" => true,
                "false" => false,
                _ => anyhow::bail!("{what}: {text:?} is not true or false"),
            }),
            Param::Buffer => ParamValue::Buffer(parse_rate(text, &what)?),
            Param::Penalty => {
                let parts: Vec<&str> = text.split(':').collect();
                ParamValue::Penalty(match parts.as_slice() {
                    ["static", rate] => PenaltyPolicy::Static { rate: parse_rate(rate, &what)? },
                    ["dynamic", base, cap] => PenaltyPolicy::Dynamic {
                        base: parse_rate(base, &what)?,
                        vol_coef: DYNAMIC_VOL_COEF,
                        depth_coef: DYNAMIC_DEPTH_COEF,
                        cap: parse_rate(cap, &what)?,
                    },
                    _ => anyhow::bail!("{what}: {text:?} is not static:RATE or dynamic:BASE:CAP"),
                })
            }
            Param::OracleHalfLifeMs => ParamValue::OracleHalfLifeMs(
                text.parse().map_err(|_| anyhow::anyhow!("{what}: {text:?} is not a whole number of ms"))?,
            ),
        })
    }

    /// Sets this value on `policy`.
    pub fn apply(self, policy: &mut LiquidationPolicy) {
        match self {
            ParamValue::Stages(stages) => policy.stages = stages.iter().flatten().copied().collect(),
            ParamValue::Partial(partial) => policy.partial = partial,
            ParamValue::Buffer(rate) => policy.liquidation.buffer_rate = rate,
            ParamValue::Penalty(penalty) => policy.penalty = penalty,
            ParamValue::OracleHalfLifeMs(ms) => policy.oracle_half_life_ns = ms.saturating_mul(1_000_000),
        }
    }
}

/// The highest rate a penalty rule can charge.
pub fn max_penalty_rate(penalty: &PenaltyPolicy) -> i128 {
    match *penalty {
        PenaltyPolicy::Static { rate } => rate,
        PenaltyPolicy::Dynamic { base, cap, .. } => base.max(cap),
    }
}

/// Whether a partial close can restore an account under `policy`: the penalty
/// must stay below maintenance × (1 + buffer), `maintenance_rate` being the
/// lowest first-bracket maintenance rate of the scenarios' instruments.
pub fn penalty_feasible(policy: &LiquidationPolicy, maintenance_rate: i128) -> bool {
    let ceiling = maintenance_rate * (RATE_SCALE + policy.liquidation.buffer_rate) / RATE_SCALE;
    max_penalty_rate(&policy.penalty) < ceiling
}

/// One line describing the searched parameters of `policy`.
pub fn describe(policy: &LiquidationPolicy) -> String {
    let penalty = match policy.penalty {
        PenaltyPolicy::Static { rate } => format!("static:{}", rate_text(rate)),
        PenaltyPolicy::Dynamic { base, cap, .. } => format!("dynamic:{}:{}", rate_text(base), rate_text(cap)),
    };
    format!(
        "stages={} partial={} buffer={} penalty={} oracle_half_life_ms={}",
        policy.stages.iter().map(|s| stage_name(*s)).collect::<Vec<_>>().join("+"),
        policy.partial,
        rate_text(policy.liquidation.buffer_rate),
        penalty,
        policy.oracle_half_life_ns / 1_000_000
    )
}

/// Objective weights, in 10^-8 parts (1.0 = 100_000_000).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Weights {
    /// λ: weight of the slippage cost.
    pub lambda: i128,
    /// μ: weight of the user equity kept.
    pub mu: i128,
}

impl Weights {
    /// Parses λ and μ from decimal strings (non-negative, at most 8 decimals).
    pub fn parse(lambda: &str, mu: &str) -> anyhow::Result<Weights> {
        Ok(Weights { lambda: parse_rate(lambda, "--lambda")?, mu: parse_rate(mu, "--mu")? })
    }
}

/// The outcome fields the objective reads, all exact integers in quote units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terms {
    /// [`OutcomeRecorder::total_loss_to_others`].
    pub loss_to_others: i128,
    /// [`OutcomeRecorder::penalties`]: paid into the fund, they offset losses to others.
    pub penalties: i128,
    /// [`OutcomeRecorder::arrival_harm`].
    pub arrival_harm: i128,
    /// [`OutcomeRecorder::user_equity_kept`].
    pub user_equity_kept: i128,
    /// [`OutcomeRecorder::conservation_error`].
    pub conservation_error: i128,
}

impl Terms {
    /// The objective's terms of one replay.
    pub fn of(outcome: &OutcomeRecorder) -> Terms {
        Terms {
            loss_to_others: outcome.total_loss_to_others(),
            penalties: outcome.penalties,
            arrival_harm: outcome.arrival_harm,
            user_equity_kept: outcome.user_equity_kept,
            conservation_error: outcome.conservation_error,
        }
    }
}

/// `J = (loss to others − penalties into the fund) + λ·arrival harm − μ·user equity kept`,
/// exactly, in 10^-8 quote units (divide by [`RATE_SCALE`] for quote units).
pub fn objective_scaled(terms: &Terms, weights: Weights) -> i128 {
    (terms.loss_to_others - terms.penalties) * RATE_SCALE + weights.lambda * terms.arrival_harm - weights.mu * terms.user_equity_kept
}

/// A scaled objective in quote currency, exact (e.g. `1234.5` for 1 234.5 quote).
pub fn objective_text(scaled: i128) -> String {
    Decimal { mantissa: scaled, scale: QUOTE_DECIMALS + 8 }.normalized().to_string()
}

/// A scaled objective in quote currency with 2 decimals (truncated), for tables.
pub fn objective_short(scaled: i128) -> String {
    format_money(scaled / (RATE_SCALE * QUOTE_SCALE / 100), 2)
}

/// Arguments of `gavel tune`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Training scenario folder (repeat for several).
    #[arg(long = "scenario", required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Held-out scenario folder, evaluated only after the search.
    #[arg(long)]
    pub holdout: PathBuf,
    /// Starting policy: a built-in name or a policy TOML file.
    #[arg(long, default_value = "adaptive")]
    pub base: String,
    /// Search method.
    #[arg(long, value_enum, default_value_t = Method::Coordinate)]
    pub method: Method,
    /// λ, the weight of slippage cost (decimal).
    #[arg(long, default_value = "1")]
    pub lambda: String,
    /// μ, the weight of user equity kept (decimal).
    #[arg(long, default_value = "0.1")]
    pub mu: String,
    /// Rounds of coordinate descent.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Parameters to search (comma-separated; default: all five).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub search: Vec<Param>,
    /// Replace a parameter's candidate values: `NAME=V1,V2,…` (repeatable).
    #[arg(long = "values")]
    pub values: Vec<String>,
    /// Refuse a grid larger than this many candidates.
    #[arg(long, default_value_t = 200)]
    pub max_candidates: usize,
    /// Write the best policy TOML to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write every candidate's objective and the hold-out figures as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Core to pin the engine thread to.
    #[arg(long, default_value_t = 1)]
    pub core: usize,
}

/// One loaded scenario.
struct Scenario {
    name: String,
    inputs: ReplayInputs,
}

fn load_scenario(dir: &std::path::Path, core: usize) -> anyhow::Result<Scenario> {
    let (name, mut inputs) = resolve_inputs(Some(dir), None, None, None, &[])?;
    inputs.engine_core = core;
    Ok(Scenario { name, inputs })
}

/// A candidate's result over a set of scenarios.
#[derive(Clone, Debug)]
struct Evaluation {
    /// Scaled objective per scenario.
    per_scenario: Vec<i128>,
    /// Their sum.
    total: i128,
    /// `(scenario, conservation error)` for every scenario where it is not 0.
    conservation: Vec<(String, i128)>,
}

/// Runs policies over scenarios, remembering what it ran.
struct Evaluator<'a> {
    scenarios: &'a [Scenario],
    weights: Weights,
    clock: Clock,
    cache: BTreeMap<String, Evaluation>,
    warned_pin: bool,
}

impl Evaluator<'_> {
    fn evaluate(&mut self, policy: &LiquidationPolicy) -> anyhow::Result<(Evaluation, bool)> {
        let key = cache_key(policy)?;
        if let Some(hit) = self.cache.get(&key) {
            return Ok((hit.clone(), true));
        }
        let mut eval = Evaluation { per_scenario: Vec::new(), total: 0, conservation: Vec::new() };
        for scenario in self.scenarios {
            let run = run_policy(&scenario.inputs, policy, self.clock, None)
                .with_context(|| format!("policy {} on scenario {}", describe(policy), scenario.name))?;
            if let (PinOutcome::Unpinned { requested, reason }, false) = (&run.pin, self.warned_pin) {
                eprintln!("warning: engine not pinned to core {requested}: {reason}");
                self.warned_pin = true;
            }
            let terms = Terms::of(&run.outcome);
            if terms.conservation_error != 0 {
                eprintln!(
                    "BUG: conservation_error = {} on scenario {} for {}: value was created or destroyed; candidate rejected",
                    terms.conservation_error,
                    scenario.name,
                    describe(policy)
                );
                eval.conservation.push((scenario.name.clone(), terms.conservation_error));
            }
            let j = objective_scaled(&terms, self.weights);
            eval.per_scenario.push(j);
            eval.total += j;
        }
        self.cache.insert(key, eval.clone());
        Ok((eval, false))
    }
}

/// Identity of a candidate: its policy TOML under a fixed name.
fn cache_key(policy: &LiquidationPolicy) -> anyhow::Result<String> {
    let mut unnamed = policy.clone();
    unnamed.name = String::new();
    to_toml(&unnamed)
}

/// Candidate values per searched parameter.
fn candidate_values(args: &Args) -> anyhow::Result<Vec<(Param, Vec<ParamValue>)>> {
    let mut overrides: BTreeMap<Param, Vec<ParamValue>> = BTreeMap::new();
    for spec in &args.values {
        let (name, list) =
            spec.split_once('=').ok_or_else(|| anyhow::anyhow!("--values {spec:?}: expected NAME=V1,V2,…"))?;
        let param = Param::by_name(name.trim())
            .ok_or_else(|| anyhow::anyhow!("--values {spec:?}: unknown parameter {name:?}"))?;
        let values = list
            .split(',')
            .map(|v| ParamValue::parse(param, v.trim()))
            .collect::<anyhow::Result<Vec<_>>>()
            .with_context(|| format!("--values {spec:?}"))?;
        anyhow::ensure!(!values.is_empty(), "--values {spec:?}: no values");
        overrides.insert(param, values);
    }
    let searched: Vec<Param> = if args.search.is_empty() { PARAMS.to_vec() } else { args.search.clone() };
    let mut out = Vec::new();
    for param in PARAMS.into_iter().filter(|p| searched.contains(p)) {
        let values = match overrides.remove(&param) {
            Some(values) => values,
            None => {
                let defaults =
                    if args.method == Method::Grid { param.grid_values() } else { param.coordinate_values() };
                defaults.iter().map(|v| ParamValue::parse(param, v)).collect::<anyhow::Result<Vec<_>>>()?
            }
        };
        out.push((param, values));
    }
    if let Some(param) = overrides.keys().next() {
        anyhow::bail!("--values gives {} but --search does not include it", param.name());
    }
    Ok(out)
}

/// One evaluated candidate, for the JSON.
struct Record {
    policy: LiquidationPolicy,
    eval: Evaluation,
}

/// The search's running state.
struct Search<'a, 'b> {
    evaluator: &'b mut Evaluator<'a>,
    maintenance_rate: i128,
    planned: usize,
    done: usize,
    best: Option<(LiquidationPolicy, Evaluation)>,
    records: Vec<Record>,
    rejected: usize,
    infeasible: usize,
}

impl Search<'_, '_> {
    /// Evaluates one candidate and keeps it when strictly better than the best
    /// (ties keep the earlier one, so the result does not depend on timing).
    fn try_candidate(&mut self, policy: &LiquidationPolicy, always: bool) -> anyhow::Result<()> {
        self.done += 1;
        let label = describe(policy);
        if !always && !penalty_feasible(policy, self.maintenance_rate) {
            self.infeasible += 1;
            println!(
                "candidate {}/{}: skipped (penalty not below maintenance × (1 + buffer)): {label}",
                self.done, self.planned
            );
            return Ok(());
        }
        let (eval, cached) = self.evaluator.evaluate(policy)?;
        let note = if cached { " (seen)" } else { "" };
        if !eval.conservation.is_empty() {
            if !cached {
                self.rejected += 1;
            }
            println!("candidate {}/{}: REJECTED (conservation error){note}: {label}", self.done, self.planned);
            return Ok(());
        }
        println!("candidate {}/{}: J={}{note}  {label}", self.done, self.planned, objective_short(eval.total));
        if !cached {
            self.records.push(Record { policy: policy.clone(), eval: eval.clone() });
        }
        if self.best.as_ref().is_none_or(|(_, b)| eval.total < b.total) {
            self.best = Some((policy.clone(), eval));
        }
        Ok(())
    }
}

/// Runs the search and prints the results.
pub fn run(args: Args) -> anyhow::Result<()> {
    let weights = Weights::parse(&args.lambda, &args.mu)?;
    let training = args.scenarios.iter().map(|d| load_scenario(d, args.core)).collect::<anyhow::Result<Vec<_>>>()?;
    let holdout = [load_scenario(&args.holdout, args.core)?];
    let canonical = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    anyhow::ensure!(
        !args.scenarios.iter().any(|s| canonical(s) == canonical(&args.holdout)),
        "--holdout {} is also a training --scenario: the hold-out must be unseen",
        args.holdout.display()
    );
    let mut maintenance_rate = i128::MAX;
    for scenario in training.iter().chain(&holdout) {
        let set = InstrumentSet::load(&scenario.inputs.instruments)?;
        for id in 0..set.len() {
            if let Some(first) = set.get(id as u16).brackets.first() {
                maintenance_rate = maintenance_rate.min(first.maintenance_rate);
            }
        }
    }
    anyhow::ensure!(maintenance_rate != i128::MAX, "the scenarios define no instrument brackets");
    let base = resolve_policy(&args.base)?;
    let naive = resolve_policy("naive")?;
    let params = candidate_values(&args)?;
    let clock = Clock::calibrate(std::time::Duration::from_millis(20));
    let mut evaluator = Evaluator { scenarios: &training, weights, clock, cache: BTreeMap::new(), warned_pin: false };

    println!(
        "objective J = bad_debt + {}·slippage_cost + collateral_lost − {}·user_equity_kept (quote currency, summed over {} training scenario(s): {})",
        rate_text(weights.lambda),
        rate_text(weights.mu),
        training.len(),
        training.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    println!("base policy {}: {}", base.name, describe(&base));
    let planned = match args.method {
        Method::Grid => {
            let count = params.iter().try_fold(1usize, |n, (_, v)| n.checked_mul(v.len())).unwrap_or(usize::MAX);
            println!(
                "grid: {} = {count} candidates (+ the base) × {} scenario(s)",
                params.iter().map(|(p, v)| format!("{} {}", v.len(), p.name())).collect::<Vec<_>>().join(" × "),
                training.len()
            );
            anyhow::ensure!(
                count <= args.max_candidates,
                "the grid has {count} candidates, more than --max-candidates {}",
                args.max_candidates
            );
            count + 1
        }
        Method::Coordinate => {
            let per_round: usize = params.iter().map(|(_, v)| v.len()).sum();
            println!(
                "coordinate descent: {} round(s) × {per_round} values = at most {} candidates (+ the base) × {} scenario(s)",
                args.rounds,
                args.rounds * per_round,
                training.len()
            );
            args.rounds * per_round + 1
        }
    };
    let mut search = Search {
        evaluator: &mut evaluator,
        maintenance_rate,
        planned,
        done: 0,
        best: None,
        records: Vec::new(),
        rejected: 0,
        infeasible: 0,
    };
    // The base is always a candidate, so the best is never worse than it.
    search.try_candidate(&base, true)?;
    match args.method {
        Method::Grid => {
            let mut index = vec![0usize; params.len()];
            'grid: loop {
                let mut policy = base.clone();
                for ((_, values), &i) in params.iter().zip(&index) {
                    values[i].apply(&mut policy);
                }
                search.try_candidate(&policy, false)?;
                for (slot, (_, values)) in index.iter_mut().zip(&params).rev() {
                    *slot += 1;
                    if *slot < values.len() {
                        continue 'grid;
                    }
                    *slot = 0;
                }
                break;
            }
        }
        Method::Coordinate => {
            for round in 1..=args.rounds {
                for (param, values) in &params {
                    println!("round {round}: sweeping {}", param.name());
                    let start = search.best.as_ref().map_or_else(|| base.clone(), |(p, _)| p.clone());
                    for value in values {
                        let mut policy = start.clone();
                        value.apply(&mut policy);
                        search.try_candidate(&policy, false)?;
                    }
                }
            }
        }
    }
    let (mut best, best_eval) = search
        .best
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no candidate passed (every one was rejected or infeasible)"))?;
    let (rejected, infeasible, records) = (search.rejected, search.infeasible, std::mem::take(&mut search.records));
    best.name = format!("tuned-{}", base.name);
    let (base_train, _) = evaluator.evaluate(&base)?;
    let (naive_train, _) = evaluator.evaluate(&naive)?;

    let mut held = Evaluator { scenarios: &holdout, weights, clock, cache: BTreeMap::new(), warned_pin: true };
    let (best_hold, _) = held.evaluate(&best)?;
    let (base_hold, _) = held.evaluate(&base)?;
    let (naive_hold, _) = held.evaluate(&naive)?;
    let holdout_bug = [&best_hold, &base_hold, &naive_hold].iter().any(|e| !e.conservation.is_empty());

    let toml = to_toml(&best)?;
    let mut summary = String::new();
    let _ = writeln!(summary, "\nbest: {}", describe(&best));
    let _ = writeln!(summary, "{:<22} {:>18} {:>18}", "policy", "training J", "hold-out J");
    for (label, train, hold) in [
        (best.name.as_str(), &best_eval, &best_hold),
        (base.name.as_str(), &base_train, &base_hold),
        ("naive", &naive_train, &naive_hold),
    ] {
        let _ =
            writeln!(summary, "{:<22} {:>18} {:>18}", label, objective_short(train.total), objective_short(hold.total));
    }
    let _ = writeln!(
        summary,
        "(hold-out scenario {} was not used by the search; J in quote currency, lower is better)",
        holdout[0].name
    );
    if infeasible > 0 {
        let _ = writeln!(summary, "{infeasible} candidate(s) skipped: penalty not below maintenance × (1 + buffer)");
    }
    print!("{summary}");
    println!("# --- best policy (gavel compare --policy FILE) ---");
    print!("{toml}");
    println!("# --- end ---");
    if let Some(path) = &args.out {
        gavel_feeds::atomic_file::write_atomic(path, &toml).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.json {
        let figure = |e: &Evaluation| {
            json!({
                "total": objective_text(e.total),
                "per_scenario": e.per_scenario.iter().map(|j| objective_text(*j)).collect::<Vec<_>>(),
            })
        };
        let value = json!({
            "objective": "bad_debt + lambda*slippage_cost + collateral_lost - mu*user_equity_kept",
            "lambda": rate_text(weights.lambda),
            "mu": rate_text(weights.mu),
            "method": format!("{:?}", args.method).to_lowercase(),
            "training": training.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "holdout": holdout[0].name,
            "candidates": records.iter().map(|r| json!({
                "params": describe(&r.policy),
                "training_j": figure(&r.eval),
            })).collect::<Vec<_>>(),
            "rejected_for_conservation": rejected,
            "skipped_infeasible_penalty": infeasible,
            "best": { "params": describe(&best), "toml": toml, "training_j": figure(&best_eval), "holdout_j": figure(&best_hold) },
            "base": { "name": base.name, "training_j": figure(&base_train), "holdout_j": figure(&base_hold) },
            "naive": { "training_j": figure(&naive_train), "holdout_j": figure(&naive_hold) },
        });
        gavel_feeds::atomic_file::write_atomic(path, serde_json::to_string_pretty(&value)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    anyhow::ensure!(
        rejected == 0 && !holdout_bug,
        "BUG: {} candidate(s) broke value conservation (conservation_error != 0); see the messages above",
        rejected + usize::from(holdout_bug)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(loss_to_others: i128, penalties: i128, arrival_harm: i128, user_equity_kept: i128) -> Terms {
        Terms { loss_to_others, penalties, arrival_harm, user_equity_kept, conservation_error: 0 }
    }

    #[test]
    fn objective_is_exact_weighted_sum() {
        let w = Weights::parse("1", "0.1").unwrap();
        assert_eq!(w, Weights { lambda: RATE_SCALE, mu: RATE_SCALE / 10 });
        // (350 − 0) + 1·40 − 0.1·1000 = 290 quote units.
        assert_eq!(objective_scaled(&terms(350, 0, 40, 1000), w), 290 * RATE_SCALE);
        // Penalties that reach the fund are credited against the loss to others.
        assert_eq!(objective_scaled(&terms(350, 50, 40, 1000), w), 240 * RATE_SCALE);
        // A negative arrival harm (fills better than the arrival mark) lowers J.
        assert_eq!(objective_scaled(&terms(0, 0, -40, 0), w), -40 * RATE_SCALE);
        let w = Weights::parse("2.5", "0.00000003").unwrap();
        // 7 + 2.5·3 − 3e-8·1 = 14.49999997 quote units, kept exactly.
        assert_eq!(objective_scaled(&terms(7, 0, 3, 1), w), 1_450_000_000 - 3);
        assert_eq!(objective_text(1_450_000_000 - 3), "0.00001449999997");
        assert_eq!(objective_text(290 * RATE_SCALE * QUOTE_SCALE), "290");
        assert_eq!(objective_text(0), "0");
        assert_eq!(objective_short(-1234 * RATE_SCALE * QUOTE_SCALE / 100), "-12.34");
        assert!(Weights::parse("-1", "0").is_err());
        assert!(Weights::parse("1", "0.000000001").is_err());
    }

    #[test]
    fn keeping_equity_lowers_the_objective() {
        let w = Weights::parse("1", "0.1").unwrap();
        let j = |t: Terms| objective_scaled(&t, w);
        // Keeping 10 000 more equity lowers J by 1 000.
        assert_eq!(j(terms(500, 0, 10, 20_000)) - j(terms(500, 0, 10, 30_000)), 1_000 * RATE_SCALE);
    }

    #[test]
    fn values_parse_apply_and_describe() {
        let mut p = LiquidationPolicy::builtin("adaptive").unwrap();
        for (param, text) in [
            (Param::Stages, "route+own_book"),
            (Param::Partial, "false"),
            (Param::Buffer, "0.2"),
            (Param::Penalty, "static:0.002"),
            (Param::OracleHalfLifeMs, "250"),
        ] {
            ParamValue::parse(param, text).unwrap().apply(&mut p);
        }
        assert_eq!(describe(&p), "stages=route+own_book partial=false buffer=0.2 penalty=static:0.002 oracle_half_life_ms=250");
        ParamValue::parse(Param::Penalty, "dynamic:0.001:0.0025").unwrap().apply(&mut p);
        assert_eq!(p.penalty, PenaltyPolicy::Dynamic { base: 100_000, vol_coef: 0.5, depth_coef: 0.01, cap: 250_000 });
        assert!(ParamValue::parse(Param::Penalty, "flat:0.1").is_err());
        assert!(ParamValue::parse(Param::Partial, "yes").is_err());
        assert!(ParamValue::parse(Param::Buffer, "-0.1").is_err());
        // Every default value parses.
        for param in PARAMS {
            for v in param.coordinate_values().iter().chain(param.grid_values()) {
                ParamValue::parse(param, v).unwrap();
            }
        }
    }

    #[test]
    fn penalty_must_stay_below_maintenance_times_one_plus_buffer() {
        let mut p = LiquidationPolicy::builtin("partial").unwrap();
        let mm = 400_000; // 0.4 %
        p.liquidation.buffer_rate = 10_000_000; // ceiling 0.44 %
        p.penalty = PenaltyPolicy::Static { rate: 439_999 };
        assert!(penalty_feasible(&p, mm));
        p.penalty = PenaltyPolicy::Static { rate: 440_000 };
        assert!(!penalty_feasible(&p, mm));
        p.liquidation.buffer_rate = 2_000_000; // ceiling 0.408 %
        p.penalty = PenaltyPolicy::Dynamic { base: 100_000, vol_coef: 0.5, depth_coef: 0.01, cap: 410_000 };
        assert!(!penalty_feasible(&p, mm));
        // Every default penalty candidate is feasible at the smallest default buffer.
        for v in Param::Penalty.coordinate_values() {
            let mut q = p.clone();
            ParamValue::parse(Param::Penalty, v).unwrap().apply(&mut q);
            assert!(penalty_feasible(&q, mm), "{v}");
        }
    }
}
