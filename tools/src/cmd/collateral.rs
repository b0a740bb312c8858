//! `gavel collateral`: multi-asset collateral priced by a multi-venue index,
//! the correlation-one stress (`stress`) and a one-venue depeg (`depeg`).
//! See docs/INSTRUMENTS.md (collateral) and docs/POLICIES.md.

use std::path::PathBuf;

use anyhow::Context;
use clap::builder::RangedU64ValueParser;
use gavel_engine::risk::collateral::stress;
use gavel_engine::risk::collateral_toml::CollateralBook;
use gavel_engine::risk::instrument::{format_money, QUOTE_DECIMALS, RATE_SCALE};
use crate::report::ExtraTable;
use gavel_sim::collateral_depeg::{run as run_depeg, DepegSpec};
use serde_json::json;

/// The collateral file `stress` uses when none is given.
const EXAMPLE_COLLATERAL: &str = include_str!("../../../docs/examples/collateral.toml");

/// `gavel collateral …`.
#[derive(clap::Subcommand, Debug)]
pub enum CollateralCommand {
    /// Index prices, haircut collateral and the correlation-one stress of each account.
    Stress(StressArgs),
    /// One venue's book depegs a stablecoin collateral: liquidations valued on that venue vs at gavel's index.
    Depeg(DepegArgs),
}

/// Arguments of `gavel collateral stress`.
#[derive(clap::Args, Debug)]
pub struct StressArgs {
    /// Collateral TOML (default: the built-in docs/examples/collateral.toml).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Override the file's stress: every asset but the quote asset moves this many percent together (1-99).
    #[arg(long, value_parser = RangedU64ValueParser::<u64>::new().range(1..=99))]
    pub stress_pct: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `gavel collateral depeg`.
#[derive(clap::Args, Debug)]
pub struct DepegArgs {
    /// Accounts holding the stablecoin as collateral.
    #[arg(long, default_value_t = 2_000, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub accounts: usize,
    /// Seed of the accounts and the quotes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How far the thin venue prints below one, percent (1-99).
    #[arg(long, default_value_t = 35, value_parser = RangedU64ValueParser::<u64>::new().range(1..=99))]
    pub depeg_pct: u64,
    /// Every venue depegs (a real depeg), not only one.
    #[arg(long)]
    pub all_venues: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `gavel collateral …`.
pub fn run(cmd: CollateralCommand) -> anyhow::Result<()> {
    match cmd {
        CollateralCommand::Stress(a) => stress_report(a),
        CollateralCommand::Depeg(a) => depeg(a),
    }
}

fn money(units: i128) -> String {
    format_money(units, QUOTE_DECIMALS)
}

fn stress_report(args: StressArgs) -> anyhow::Result<()> {
    let mut book = match &args.file {
        Some(p) => CollateralBook::load(p)?,
        None => CollateralBook::parse(EXAMPLE_COLLATERAL, "docs/examples/collateral.toml (built in)")?,
    };
    if let Some(pct) = args.stress_pct {
        book.stress = i128::from(pct) * RATE_SCALE / 100;
    }
    let index = book.index();
    let prices: Vec<i128> = index.iter().map(|i| i.price).collect();
    let results: Vec<_> = book.accounts.iter().map(|a| (a, stress(&book.assets, &prices, a, book.stress))).collect();
    let failing: Vec<_> = results.iter().filter(|(_, r)| r.stressed.fails()).collect();
    let fund_needed: i128 = results.iter().map(|(_, r)| r.fund_needed).sum();
    let stress_pct = gavel_engine::risk::decimal::Decimal { mantissa: book.stress * 100, scale: 8 }.normalized().to_string();
    if args.json {
        let doc = json!({
            "stress_pct": stress_pct,
            "index": book.assets.iter().zip(&index).map(|(a, i)| json!({"asset": a.symbol, "price": money(i.price), "dropped_venues": i.dropped, "fallback_lowest": i.fallback_lowest})).collect::<Vec<_>>(),
            "accounts": results.iter().map(|(a, r)| json!({"account": a.id, "now": r.now, "stressed": r.stressed, "fails": r.stressed.fails(), "fall_is_worse": r.fall_is_worse, "fund_needed": money(r.fund_needed)})).collect::<Vec<_>>(),
            "failing_accounts": failing.iter().map(|(a, _)| a.id.clone()).collect::<Vec<_>>(),
            "fund_needed": money(fund_needed),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    println!("{:<8} {:>16} {:>8}  venues", "asset", "index", "dropped");
    for (a, i) in book.assets.iter().zip(&index) {
        let venues: Vec<String> = a.sources.iter().map(|s| format!("{} {}", s.venue, money(s.price))).collect();
        let note = if i.fallback_lowest { " (venues disagree: lowest taken)" } else { "" };
        println!("{:<8} {:>16} {:>8}  {}{note}", a.symbol, money(i.price), i.dropped, if a.is_quote { "quote asset".to_string() } else { venues.join(", ") });
    }
    println!("\nstress: every asset but the quote asset ±{stress_pct} % together (the worse direction counts)");
    println!("{:<20} {:>16} {:>16} {:>16} {:>6} {:>5} {:>14}", "account", "equity_now", "equity_stressed", "maint_stressed", "move", "fails", "fund_needed");
    for (a, r) in &results {
        println!(
            "{:<20} {:>16} {:>16} {:>16} {:>6} {:>5} {:>14}",
            a.id,
            money(r.now.equity),
            money(r.stressed.equity),
            money(r.stressed.maintenance),
            if r.fall_is_worse { "fall" } else { "rise" },
            if r.stressed.fails() { "yes" } else { "no" },
            money(r.fund_needed)
        );
    }
    println!("{} of {} accounts fail; fund needed {}", failing.len(), results.len(), money(fund_needed));
    Ok(())
}

/// Rows of the depeg table: (valuation, liquidated, lowest price).
fn depeg_rows(o: &gavel_sim::collateral_depeg::DepegOutcome) -> Vec<Vec<String>> {
    vec![
        vec!["on the depegging venue's book".into(), o.single_venue.to_string(), money(o.lowest_single_venue)],
        vec!["at gavel's index (3 venues, 3 %)".into(), o.index.to_string(), money(o.lowest_index)],
    ]
}

fn depeg_title(spec: &DepegSpec) -> String {
    let where_ = if spec.all_venues { "every venue" } else { "one venue (binance-spot)" };
    format!(
        "depeg: {} accounts with the stablecoin as collateral, long BTC 2-15 ×; {where_} prints {} % below one for 20 s while BTC falls 5 %",
        spec.accounts,
        spec.depeg_per_mille as f64 / 10.0
    )
}

/// The demo's collateral section: the one-venue depeg with `seed`, printed and as a report table.
pub fn demo_section(seed: u64) -> (String, ExtraTable) {
    let spec = DepegSpec { seed, accounts: 2_000, depeg_per_mille: 350, all_venues: false };
    let o = run_depeg(&spec);
    let rows = depeg_rows(&o);
    let mut text = format!("collateral {}\n", depeg_title(&spec));
    for r in &rows {
        text.push_str(&format!("  {:<34} liquidated {:>6}   lowest price {}\n", r[0], r[1], r[2]));
    }
    let table = ExtraTable {
        id: "collateral-depeg".into(),
        title: "Collateral: one venue depegs a stablecoin".into(),
        note: format!("{} (docs/POLICIES.md)", depeg_title(&spec)),
        header: vec!["collateral valued".into(), "liquidated".into(), "lowest price".into()],
        rows,
    };
    (text, table)
}

fn depeg(args: DepegArgs) -> anyhow::Result<()> {
    let spec = DepegSpec { seed: args.seed, accounts: args.accounts, depeg_per_mille: args.depeg_pct as i64 * 10, all_venues: args.all_venues };
    let o = run_depeg(&spec);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"accounts": args.accounts, "seed": args.seed, "depeg_pct": args.depeg_pct, "all_venues": args.all_venues, "outcome": o})).context("json")?);
        return Ok(());
    }
    println!("{}", depeg_title(&spec));
    println!("{:<34} {:>10} {:>14}", "collateral valued", "liquidated", "lowest_price");
    for r in depeg_rows(&o) {
        println!("{:<34} {:>10} {:>14}", r[0], r[1], r[2]);
    }
    println!("liquidated on the venue's book only: {}; seconds the index left a venue out: {}", o.single_venue_only, o.index_outlier_seconds);
    Ok(())
}
