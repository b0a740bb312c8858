//! `gavel risk`: equity, maintenance, health, liquidation and bankruptcy
//! prices per account and position, computed by the engine's margin code.
//! Linear and inverse contracts; money columns are in the book's settlement
//! asset (the quote asset, or the base coin of inverse instruments).
//! With `--rules RULES.toml`, each row also gets that venue's decision
//! (see docs/VENUE-RULES.md).

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use gavel_engine::risk::instrument::{format_money, InstrumentSet, MAX_MONEY, QUOTE_DECIMALS};
use gavel_engine::risk::report::{report, CSV_HEADER};
use gavel_engine::risk::{loader, RiskBook};
use gavel_engine::venue_rules::{self, PositionState, VenueRules};

/// Arguments of `gavel risk`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Instruments TOML (see docs/INSTRUMENTS.md).
    #[arg(long)]
    pub instruments: PathBuf,
    /// Accounts CSV: account,collateral[,margin_mode].
    #[arg(long)]
    pub accounts: PathBuf,
    /// Positions CSV: account,instrument,size,entry_price[,isolated_margin].
    #[arg(long)]
    pub positions: PathBuf,
    /// Mark price, SYMBOL=PRICE (repeatable).
    #[arg(long = "mark", value_name = "SYMBOL=PRICE")]
    pub marks: Vec<String>,
    /// Print CSV instead of a table.
    #[arg(long)]
    pub csv: bool,
    /// Venue rules TOML (see docs/VENUE-RULES.md): adds the columns
    /// liquidatable, venue_bankruptcy_price, limit_price, size_to_liquidate.
    #[arg(long)]
    pub rules: Option<PathBuf>,
}

/// CSV header of the columns `--rules` adds.
pub const RULES_HEADER: &str = "liquidatable,venue_bankruptcy_price,limit_price,size_to_liquidate";

/// The `--rules` columns for every report row, in the report's order (an
/// account without positions gets empty columns).
fn rule_columns(book: &RiskBook, rules: &VenueRules) -> Vec<[String; 4]> {
    let ins = book.instruments();
    let marks = book.marks();
    let mut out = Vec::new();
    for acc in book.accounts() {
        let open: Vec<usize> = (0..acc.positions.len()).filter(|&i| acc.positions[i].size != 0).collect();
        if open.is_empty() {
            out.push(Default::default());
        }
        for i in open {
            let instrument = ins.get(acc.positions[i].instrument);
            let Some(state) = PositionState::of(ins, marks, acc, i, 0) else {
                out.push(Default::default());
                continue;
            };
            let d = rules.decide(instrument, &state);
            let price = |t: Option<i64>| t.map(|t| instrument.format_price(t)).unwrap_or_default();
            out.push([
                d.liquidatable.to_string(),
                price(d.bankruptcy_price),
                price(d.limit_price),
                instrument.format_size(d.size_to_liquidate),
            ]);
        }
    }
    out
}

/// Runs `gavel risk`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let rules = args.rules.as_deref().map(venue_rules::load_rules).transpose()?;
    let instruments = InstrumentSet::load(&args.instruments)?;
    let mut book = RiskBook::new(instruments);
    let name = args.accounts.display().to_string();
    loader::load_accounts(&mut book, &loader::read_file(&args.accounts)?, &name)?;
    let name = args.positions.display().to_string();
    loader::load_positions(&mut book, &loader::read_file(&args.positions)?, &name)?;
    if rules.is_some() {
        let set = book.instruments();
        if let Some(p) = book.accounts().iter().flat_map(|a| a.positions.iter()).find(|p| p.size != 0 && set.get(p.instrument).is_inverse()) {
            return Err(anyhow!(
                "--rules: {} is inverse (coin-margined); the venue rule sets are implemented for linear contracts only",
                set.get(p.instrument).symbol
            ));
        }
    }
    let mut sink = Vec::new();
    for m in &args.marks {
        let (sym, price) = m.split_once('=').ok_or_else(|| anyhow!("--mark {m:?}: expected SYMBOL=PRICE"))?;
        let id = book
            .instruments()
            .id(sym.trim())
            .ok_or_else(|| anyhow!("--mark {m:?}: unknown instrument {sym:?}"))?;
        let ticks = book
            .instruments()
            .get(id)
            .parse_price(price.trim())
            .map_err(|e| anyhow!("--mark {m:?}: {e}"))?;
        if ticks <= 0 {
            return Err(anyhow!("--mark {m:?}: price must be > 0"));
        }
        // Same bound as an entry notional: keeps the margin math inside i128.
        let ins = book.instruments().get(id);
        let largest = book.accounts().iter().filter_map(|a| a.position(id)).map(|p| ins.notional(p.size, ticks)).max();
        if let Some(notional) = largest.filter(|&n| n > MAX_MONEY) {
            return Err(anyhow!(
                "--mark {m:?}: a position's notional at this price ({} settlement currency) is beyond the bound of {}",
                format_money(notional, QUOTE_DECIMALS),
                format_money(MAX_MONEY, QUOTE_DECIMALS)
            ));
        }
        book.set_mark(id, ticks, &mut sink);
    }
    let rows = report(&book).map_err(|e| anyhow!(e)).context("gavel risk")?;
    let extra = rules.as_ref().map(|r| rule_columns(&book, r));
    if args.csv {
        match &extra {
            None => println!("{CSV_HEADER}"),
            Some(_) => println!("{CSV_HEADER},{RULES_HEADER}"),
        }
        for (i, r) in rows.iter().enumerate() {
            match &extra {
                None => println!("{}", r.to_csv()),
                Some(x) => println!("{},{}", r.to_csv(), x[i].join(",")),
            }
        }
        return Ok(());
    }
    print!(
        "{:<12} {:<10} {:>12} {:>12} {:>20} {:>18} {:>10} {:>12} {:>12}",
        "account", "instrument", "size", "mark", "equity", "maintenance", "health", "liq_price", "bkr_price"
    );
    match (&rules, &extra) {
        (Some(r), Some(_)) => println!("  {:>12} {:>12} {:>12} {:>12}", r.name(), "venue_bkr", "limit", "liq_size"),
        _ => println!(),
    }
    for (i, r) in rows.iter().enumerate() {
        if let Some(x) = &extra {
            println!(
                "{:<12} {:<10} {:>12} {:>12} {:>20} {:>18} {:>10} {:>12} {:>12}  {:>12} {:>12} {:>12} {:>12}",
                r.account, r.instrument, r.size, r.mark, r.equity, r.maintenance, r.health, r.liquidation_price, r.bankruptcy_price,
                x[i][0], x[i][1], x[i][2], x[i][3]
            );
            continue;
        }
        let flag = if r.health.starts_with('-') || r.health.starts_with("0.") {
            "  LIQUIDATABLE"
        } else {
            ""
        };
        println!(
            "{:<12} {:<10} {:>12} {:>12} {:>20} {:>18} {:>10} {:>12} {:>12}{flag}",
            r.account, r.instrument, r.size, r.mark, r.equity, r.maintenance, r.health, r.liquidation_price, r.bankruptcy_price
        );
    }
    Ok(())
}
