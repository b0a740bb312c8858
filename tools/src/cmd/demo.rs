//! `gavel demo`: the main job on a built-in scenario.
//!
//! Generates a crash scenario (two venues, a liquidity drought with flash
//! crashes, a leveraged account book) in a temporary folder, replays it under
//! every built-in liquidation policy and the venue rule sets whose parameters all
//! have venue defaults ([`DEMO_VENUE_RULES`]) through the real pipeline, prints the
//! comparison, runs option accounts through the same crash path under the three
//! options strategies, a one-venue stablecoin depeg against collateral
//! valuation, hedged two-leg accounts margined with and without the offset
//! credit, and the same crash on a coin-margined (inverse BTCUSD) book, and writes
//! the HTML report with all of them.

use std::path::PathBuf;

use anyhow::Context;
use gavel_engine::engine::BUILTIN_POLICIES;

use crate::cmd::compare::{compare, table, to_json, write_report};
use crate::cmd::gen::{write_crash_scenario, CrashArgs};
use crate::pipeline::resolve_inputs;

/// The venue rule sets the demo runs beside gavel's policies: those that need no
/// per-market parameter (see docs/VENUE-RULES.md).
pub const DEMO_VENUE_RULES: [&str; 3] = ["dydx-v4", "binance-usdm", "maker-clip"];

/// The demo crash's fall, per mille (15 %).
const DEMO_DROP_PER_MILLE: i64 = 150;

/// The demo crash's calm implied vol, percent (it rises with the fall: `gen crash --implied-vol`).
const DEMO_IMPLIED_VOL_PCT: f64 = 55.0;

/// Arguments of `gavel demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of leveraged accounts (1 ..= 1,000,000).
    #[arg(long, default_value_t = 2000, value_parser = crate::limits::accounts())]
    accounts: usize,
    /// Where to write the HTML report.
    #[arg(long, default_value = "gavel-report.html")]
    report: PathBuf,
    /// Also write the comparison as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep the generated scenario in this folder instead of a temporary one.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// Core to pin the engine thread to.
    #[arg(long, default_value_t = 1)]
    core: usize,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<()> {
    let temp = std::env::temp_dir().join(format!("gavel-demo-{}", std::process::id()));
    let dir = args.keep.clone().unwrap_or_else(|| temp.clone());
    let started = std::time::Instant::now();
    let crash = CrashArgs { out: dir.clone(), seed: args.seed, accounts: args.accounts, drop: DEMO_DROP_PER_MILLE as f64 / 10.0, duration: 300, long_pct: 70, params: None, implied_vol: Some(DEMO_IMPLIED_VOL_PCT), inverse: false };
    let manifest = write_crash_scenario(&crash)?;
    println!(
        "scenario {}: BTCUSDT on binance-usdm and bybit, 300 s, 15 % crash with flash gaps and a liquidity drought, {} accounts",
        manifest.name, args.accounts
    );
    let (name, mut inputs) = resolve_inputs(Some(&dir), None, None, None, &[])?;
    inputs.engine_core = args.core;
    let mut names: Vec<String> = BUILTIN_POLICIES.iter().chain(DEMO_VENUE_RULES.iter()).map(|s| s.to_string()).collect();
    // adaptive acting on its margin calls (docs/examples/policy-adaptive-preempt.toml).
    let preempt = dir.join("adaptive-preempt.toml");
    gavel_feeds::atomic_file::write_atomic(&preempt, DEMO_PREEMPT_POLICY).with_context(|| format!("writing {}", preempt.display()))?;
    names.push(preempt.display().to_string());
    let runs = compare(&inputs, &names, None)?;
    print!("{}", table(&runs));
    let (options_text, options_table) = crate::cmd::options::demo_section(args.seed, DEMO_DROP_PER_MILLE)?;
    print!("{options_text}");
    let (collateral_text, collateral_table) = crate::cmd::collateral::demo_section(args.seed);
    print!("{collateral_text}");
    let (portfolio_text, portfolio_table) = portfolio_section(args.seed)?;
    print!("{portfolio_text}");
    let (calls_text, calls_table) = margin_call_section(&runs);
    print!("{calls_text}");
    let (inverse_text, inverse_table) = inverse_section(&dir.join("inverse"), args.seed, args.core)?;
    print!("{inverse_text}");
    write_report(&args.report, &name, &runs, vec![options_table, collateral_table, portfolio_table, calls_table, inverse_table])?;
    println!("wrote {}", args.report.display());
    if let Some(path) = &args.json {
        gavel_feeds::atomic_file::write_atomic(path, serde_json::to_string_pretty(&to_json(&name, &inputs, &runs))?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&temp);
    }
    println!("done in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The demo's portfolio-margin section: 1,000 accounts long ETH and short BTC on the
/// same crash path (ETH falling 1.2 × as far), margined with the BTC/ETH offset credit
/// of 0.5 and without it. Returns the printed text and the report's table.
fn portfolio_section(seed: u64) -> anyhow::Result<(String, crate::report::ExtraTable)> {
    use gavel_engine::risk::instrument::{format_money, QUOTE_DECIMALS};
    use gavel_sim::portfolio_crash::{run, PortfolioCrashSpec};
    let spec = PortfolioCrashSpec { seed, accounts: 1_000, drop_per_mille: DEMO_DROP_PER_MILLE, eth_beta_tenths: 12, credit: "0.5".into() };
    let o = run(&spec)?;
    let money = |u: i128| format_money(u, QUOTE_DECIMALS);
    let rows: Vec<Vec<String>> = [("netted (credit 0.5)", &o.netted), ("gross", &o.gross)]
        .iter()
        .map(|(name, f)| vec![name.to_string(), money(f.start_maintenance), f.flagged.to_string(), f.flagged_below_zero.to_string(), money(f.equity_at_flag)])
        .collect();
    let header = ["margining", "start maintenance", "flagged", "flagged below zero", "equity at flag"];
    let note = "1,000 accounts long ETH and short BTC (60-100 % hedged, collateral 2-15 % of the ETH leg) on the same crash path, ETH falling 1.2 × as far; nothing closed (docs/POLICIES.md)";
    let mut text = format!("portfolio margin: {note}\n{:<22} {:>20} {:>8} {:>20} {:>20}\n", header[0], header[1], header[2], header[3], header[4]);
    for r in &rows {
        text.push_str(&format!("{:<22} {:>20} {:>8} {:>20} {:>20}\n", r[0], r[1], r[2], r[3], r[4]));
    }
    let table = crate::report::ExtraTable {
        id: "portfolio-margin".into(),
        title: "Portfolio margin: hedged accounts with and without the offset credit".into(),
        note: note.into(),
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
    };
    Ok((text, table))
}

/// Accounts of the demo's coin-margined crash.
const DEMO_INVERSE_ACCOUNTS: usize = 500;

/// The demo's coin-margined section: the same crash as a Binance COIN-M market with an
/// inverse BTCUSD book in BTC (`gen crash --inverse`), replayed under `naive`, `partial`
/// and `adaptive` through the same pipeline. Returns the printed text and the report's table.
fn inverse_section(dir: &std::path::Path, seed: u64, core: usize) -> anyhow::Result<(String, crate::report::ExtraTable)> {
    use gavel_engine::risk::instrument::{format_money, QUOTE_DECIMALS};
    let crash = CrashArgs { out: dir.to_path_buf(), seed, accounts: DEMO_INVERSE_ACCOUNTS, drop: DEMO_DROP_PER_MILLE as f64 / 10.0, duration: 300, long_pct: 70, params: None, implied_vol: None, inverse: true };
    write_crash_scenario(&crash)?;
    let (_, mut inputs) = resolve_inputs(Some(dir), None, None, None, &[])?;
    inputs.engine_core = core;
    let names: Vec<String> = ["naive", "partial", "adaptive"].iter().map(|s| s.to_string()).collect();
    let runs = compare(&inputs, &names, None)?;
    let btc = |u: i128| format_money(u, QUOTE_DECIMALS);
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let o = &r.outcome;
            vec![
                o.policy.clone(),
                o.liquidations.to_string(),
                btc(o.total_loss_to_others()),
                btc(o.penalties),
                btc(o.user_equity_kept),
                o.conservation_error.to_string(),
            ]
        })
        .collect();
    let header = ["policy", "liquidations", "loss to others (BTC)", "penalties (BTC)", "equity kept (BTC)", "conservation error"];
    let note = format!(
        "the same crash on Binance COIN-M: {DEMO_INVERSE_ACCOUNTS} accounts in inverse BTCUSD (100 USD contracts), money in BTC (docs/INSTRUMENTS.md)"
    );
    let mut text = format!("coin-margined: {note}\n{:<10} {:>12} {:>22} {:>16} {:>18} {:>18}\n", header[0], header[1], header[2], header[3], header[4], header[5]);
    for r in &rows {
        text.push_str(&format!("{:<10} {:>12} {:>22} {:>16} {:>18} {:>18}\n", r[0], r[1], r[2], r[3], r[4], r[5]));
    }
    let table = crate::report::ExtraTable {
        id: "inverse-crash".into(),
        title: "Coin-margined: the crash on an inverse BTCUSD book".into(),
        note,
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
    };
    Ok((text, table))
}

/// The demo's ninth policy: `adaptive` that reduces each called position by 30 %.
const DEMO_PREEMPT_POLICY: &str = include_str!("../../../docs/examples/policy-adaptive-preempt.toml");

/// The demo's margin-call section, from the policy runs themselves: per policy the
/// predictive calls sent (and those sized on the implied vol), the liquidations a call
/// preceded, and the lead times. Returns the printed text and the report's table.
fn margin_call_section(runs: &[crate::pipeline::PolicyRun]) -> (String, crate::report::ExtraTable) {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let o = &r.outcome;
            let secs = |ns: u64| format!("{:.1}", ns as f64 / 1e9);
            vec![
                o.policy.clone(),
                o.margin_calls.to_string(),
                o.margin_calls_on_implied.to_string(),
                format!("{} of {}", o.liquidations_preceded_by_call, o.liquidations),
                secs(o.call_lead_time_ns.0),
                secs(o.call_lead_time_ns.1),
                o.preemptive_reductions.to_string(),
                o.preemptive_lots.to_string(),
            ]
        })
        .collect();
    let header = ["policy", "margin calls", "on implied vol", "liquidations preceded", "lead p50 s", "lead p99 s", "reductions", "lots reduced"];
    let note = format!(
        "3 σ over 5 minutes, σ the larger of the marks' realised vol and the implied vol ({DEMO_IMPLIED_VOL_PCT} % calm, rising with the fall); only adaptive-preempt acts on its calls, reducing each called position by 30 % (docs/POLICIES.md)"
    );
    let line = |r: &[String]| format!("{:<16} {:>12} {:>15} {:>22} {:>11} {:>11} {:>11} {:>13}\n", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    let mut text = format!("margin calls: {note}\n");
    text.push_str(&line(&header.map(String::from)));
    for r in &rows {
        text.push_str(&line(r));
    }
    let table = crate::report::ExtraTable {
        id: "margin-calls".into(),
        title: "Predictive margin calls on the same crash".into(),
        note,
        header: header.iter().map(|s| s.to_string()).collect(),
        rows,
    };
    (text, table)
}
