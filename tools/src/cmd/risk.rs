//! `gavel risk`: equity, maintenance, health, liquidation and bankruptcy
//! prices per account and position, computed by the engine's margin code.

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use gavel_engine::risk::instrument::{format_money, InstrumentSet, MAX_MONEY};
use gavel_engine::risk::report::{report, CSV_HEADER};
use gavel_engine::risk::{loader, RiskBook};

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
}

/// Runs `gavel risk`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let instruments = InstrumentSet::load(&args.instruments)?;
    let mut book = RiskBook::new(instruments);
    let name = args.accounts.display().to_string();
    loader::load_accounts(&mut book, &loader::read_file(&args.accounts)?, &name)?;
    let name = args.positions.display().to_string();
    loader::load_positions(&mut book, &loader::read_file(&args.positions)?, &name)?;
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
                "--mark {m:?}: a position's notional at this price ({} quote currency) is beyond the bound of {}",
                format_money(notional),
                format_money(MAX_MONEY)
            ));
        }
        book.set_mark(id, ticks, &mut sink);
    }
    let rows = report(&book).map_err(|e| anyhow!(e)).context("gavel risk")?;
    if args.csv {
        println!("{CSV_HEADER}");
        for r in &rows {
            println!("{}", r.to_csv());
        }
        return Ok(());
    }
    println!(
        "{:<12} {:<10} {:>12} {:>12} {:>20} {:>18} {:>10} {:>12} {:>12}",
        "account", "instrument", "size", "mark", "equity", "maintenance", "health", "liq_price", "bkr_price"
    );
    for r in &rows {
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
