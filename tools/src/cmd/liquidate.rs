//! `gavel liquidate`: runs one liquidation lot end to end on a synthetic thin
//! market with simulated liquidators (route choice → auction / slicing →
//! backstop → ADL) and compares it with the naive baseline.

use anyhow::Context;
use gavel_engine::auction::backstop::BackstopVault;
use gavel_engine::auction::curve::NS_PER_SEC;
use gavel_engine::auction::events::Route;
use gavel_engine::auction::liquidator::{LiquidatorConfig, SimLiquidator};
use gavel_engine::auction::lot::{LiquidationLot, LotSide};
use gavel_engine::auction::naive::execute_naive;
use gavel_engine::auction::policy::{ExecutionConfig, RouteMode};
use gavel_engine::auction::sim::{run_lot, thin_market, Market};

/// Side of the liquidated position's closing trade.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SideArg {
    /// Close a long: sell.
    Sell,
    /// Close a short: buy back.
    Buy,
}

/// Route override.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum RouteArg {
    /// Lowest expected value lost.
    Auto,
    /// Dutch auction.
    Auction,
    /// Impact-limited slicing.
    Slicing,
    /// One slice plus auction.
    Both,
    /// Market order on the deepest venue.
    Naive,
}

/// Arguments of `gavel liquidate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Closing side.
    #[arg(long, value_enum, default_value = "sell")]
    side: SideArg,
    /// Lots to close (1 ..= 10^9).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    qty: i64,
    /// Mark price in ticks (1 ..= 10^12).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000_000))]
    mark: i64,
    /// Bankruptcy price distance from the mark, bps (0 ..= 10,000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(0..=10_000))]
    bankruptcy_bps: i64,
    /// Penalty budget, bps of the lot's value at the mark (0 ..= 10,000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(0..=10_000))]
    penalty_bps: i64,
    /// Seconds until the deadline (1 ..= one year).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(i64).range(1..=31_536_000))]
    deadline_s: i64,
    /// Route (overrides the policy's).
    #[arg(long, value_enum)]
    route: Option<RouteArg>,
    /// Execution policy TOML (docs/POLICIES-EXECUTION.md); built-in defaults otherwise.
    #[arg(long)]
    policy: Option<std::path::PathBuf>,
    /// Synthetic market: levels per side per venue (1 ..= 10,000).
    #[arg(long, default_value_t = 20, value_parser = crate::limits::levels())]
    levels: i64,
    /// Synthetic market: lots per level (venue 0 has twice as many, twice as far apart) (1 ..= 10^9).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    level_qty: i64,
    /// Synthetic market: ticks between levels (1 ..= 10^6).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    spacing: i64,
    /// Print every journal event.
    #[arg(long)]
    journal: bool,
}

/// Runs the lot and prints the outcome.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = match &args.policy {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            ExecutionConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => ExecutionConfig::default(),
    };
    let mut policy = config.for_instrument(1);
    if let Some(route) = args.route {
        policy.route = match route {
            RouteArg::Auto => RouteMode::Auto,
            RouteArg::Auction => RouteMode::Force(Route::Auction),
            RouteArg::Slicing => RouteMode::Force(Route::Slicing),
            RouteArg::Both => RouteMode::Force(Route::Both),
            RouteArg::Naive => RouteMode::Force(Route::Naive),
        };
    }
    let side = match args.side {
        SideArg::Sell => LotSide::Sell,
        SideArg::Buy => LotSide::Buy,
    };
    let distance = args.mark as i128 * args.bankruptcy_bps as i128 / 10_000;
    let value = args.mark as i128 * args.qty as i128 * policy.contract_multiplier as i128;
    let lot = LiquidationLot {
        id: 1,
        instrument: 1,
        account: 1,
        side,
        qty: args.qty,
        mark: args.mark,
        bankruptcy: match side {
            LotSide::Sell => args.mark - distance as i64,
            LotSide::Buy => args.mark + distance as i64,
        },
        penalty_budget: i64::try_from(value * args.penalty_bps as i128 / 10_000).context("penalty too large")?,
        created_ns: 0,
        deadline_ns: args.deadline_s.saturating_mul(NS_PER_SEC),
    };
    lot.validate()?;
    // The deepest bid of the widest venue (twice the spacing) must stay a positive price.
    anyhow::ensure!(
        args.mark > 2 * args.spacing * args.levels,
        "--mark {} must exceed 2 × --spacing × --levels = {} so every synthetic bid is a positive price",
        args.mark,
        2 * args.spacing * args.levels
    );
    let books = thin_market(args.mark, args.levels, args.level_qty, args.spacing);
    let mut liquidators: Vec<SimLiquidator> = [(1, 40_000_000, 15), (2, 250_000_000, 10), (3, 5_000_000, 30)]
        .iter()
        .map(|&(id, latency_ns, margin_bps)| {
            let capital = i64::try_from(value / 2).unwrap_or(i64::MAX);
            SimLiquidator::new(LiquidatorConfig {
                id,
                latency_ns,
                capital,
                margin_bps,
            })
        })
        .collect();

    let naive = execute_naive(&lot, &policy, &mut books.clone(), 0, &mut Vec::new());
    let mut market = Market::new(books, 30 * NS_PER_SEC);
    let mut vault = BackstopVault::new();
    let mut events = Vec::new();
    let outcome = run_lot(
        &lot,
        &policy,
        &mut market,
        &mut liquidators,
        &mut vault,
        NS_PER_SEC / 10,
        &mut events,
    )?;
    if args.journal {
        for event in &events {
            println!("{event:?}");
        }
    }
    let total = outcome.total(&lot, policy.contract_multiplier);
    let e = outcome.decision.estimate;
    println!("route,{:?},{:?}", outcome.decision.route, outcome.decision.reason);
    println!(
        "expected_lost,auction,{},slicing,{},both,{},naive,{}",
        e.auction, e.slicing, e.both, e.naive
    );
    println!(
        "filled,{},returned_for_adl,{},gross,{},penalty,{},keeper,{},fund,{},waived,{},account,{}",
        total.filled,
        total.returned,
        total.gross,
        total.penalty,
        total.keeper,
        total.fund,
        total.waived,
        total.account_quote()
    );
    println!(
        "value_lost,{},naive_value_lost,{}",
        total.value_lost(lot.mark),
        naive.value_lost(lot.mark)
    );
    Ok(())
}
