//! `gavel gen …`: the command line of the generators in [`gavel_sim::generate`].

use std::path::PathBuf;

use gavel_sim::generate::crash::{self, CrashScenarioSpec};
use gavel_sim::generate::incident::{self, IncidentSpec, INCIDENTS};
use gavel_sim::scenario::ScenarioManifest;

/// What to generate.
#[derive(clap::Subcommand, Debug)]
pub enum GenCommand {
    /// A crash scenario folder: two venue captures with a liquidity drought, instruments, accounts, positions.
    Crash(CrashArgs),
    /// An account book around the prices of real recordings: instruments, accounts, positions.
    Accounts(super::gen_accounts::AccountsArgs),
    /// A scenario folder that reproduces a known liquidation failure (`--list` names them; docs/INCIDENTS.md).
    Incident(IncidentArgs),
}

/// Arguments of `gavel gen incident`.
#[derive(clap::Args, Debug)]
pub struct IncidentArgs {
    /// Incident name (see `--list`).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// List the incidents with a one-line description each, and write nothing.
    #[arg(long, conflicts_with_all = ["name", "out"])]
    pub list: bool,
    /// Folder to write the scenario into (created if missing).
    #[arg(long, required_unless_present = "list")]
    pub out: Option<PathBuf>,
    /// Generator seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of leveraged accounts (1 ..= 1,000,000).
    #[arg(long, default_value_t = 2000, value_parser = crate::limits::accounts())]
    pub accounts: usize,
}

/// Arguments of `gavel gen crash`.
#[derive(clap::Args, Debug)]
pub struct CrashArgs {
    /// Folder to write the scenario into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Generator seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of leveraged accounts (1 ..= 1,000,000).
    #[arg(long, default_value_t = 2000, value_parser = crate::limits::accounts())]
    pub accounts: usize,
    /// Price fall during the crash, percent of the starting price.
    #[arg(long, default_value_t = 15.0)]
    pub drop: f64,
    /// Length of the market run, seconds of event time (10 ..= 86,400).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(i64).range(10..=86_400))]
    pub duration: i64,
    /// Share of accounts that are long, percent.
    #[arg(long, default_value_t = 70)]
    pub long_pct: u64,
    /// Market fit from `gavel calibrate` (calm noise, spread, level grid, depth by distance,
    /// refill half-life); copied into the folder and named in scenario.toml. Default: the
    /// generator's built-in assumptions.
    #[arg(long)]
    pub params: Option<PathBuf>,
    /// Also write `implied_vol.csv`: an implied vol starting at this annualised percent
    /// (0 < PCT ≤ 1000) and rising with the drawdown, which the engine's margin calls read.
    #[arg(long, value_name = "PCT")]
    pub implied_vol: Option<f64>,
    /// Coin-margined: the book holds the inverse BTCUSD (100 USD contracts, money in BTC),
    /// marked off the same venue books, instead of the linear BTCUSDT.
    #[arg(long)]
    pub inverse: bool,
}

/// Runs the chosen generator.
pub fn run(command: GenCommand) -> anyhow::Result<()> {
    match command {
        GenCommand::Crash(args) => {
            let manifest = write_crash_scenario(&args)?;
            println!(
                "wrote scenario '{}' to {}: {} accounts, captures {}; market: {}",
                manifest.name,
                args.out.display(),
                args.accounts,
                manifest.captures.join(", "),
                match &args.params {
                    Some(p) => format!("fit from {} (copied as params.toml)", p.display()),
                    None => "built-in assumptions (no --params)".to_string(),
                }
            );
            Ok(())
        }
        GenCommand::Accounts(args) => super::gen_accounts::run(&args),
        GenCommand::Incident(args) => {
            if args.list {
                let width = INCIDENTS.iter().map(|i| i.name.len()).max().unwrap_or(0);
                for i in INCIDENTS {
                    println!("{:<width$}  {}", i.name, i.summary);
                }
                return Ok(());
            }
            let (Some(name), Some(out)) = (args.name, args.out) else { anyhow::bail!("NAME and --out are required without --list") };
            let manifest = incident::write_incident(&IncidentSpec { name, out: out.clone(), seed: args.seed, accounts: args.accounts })?;
            println!(
                "wrote scenario '{}' to {}: {} accounts, captures {}",
                manifest.name,
                out.display(),
                args.accounts,
                manifest.captures.join(", ")
            );
            Ok(())
        }
    }
}

/// Checks the flags and writes the crash scenario folder ([`crash::write_crash_scenario`]).
pub fn write_crash_scenario(args: &CrashArgs) -> anyhow::Result<ScenarioManifest> {
    anyhow::ensure!(args.drop > 0.0 && args.drop < 90.0, "--drop must be between 0 and 90 percent, got {}", args.drop);
    anyhow::ensure!(args.duration >= 10, "--duration must be at least 10 seconds, got {}", args.duration);
    anyhow::ensure!(args.long_pct <= 100, "--long-pct must be at most 100, got {}", args.long_pct);
    if let Some(v) = args.implied_vol {
        anyhow::ensure!(v > 0.0 && v <= 1000.0, "--implied-vol must be a percent in (0, 1000], got {v}");
    }
    crash::write_crash_scenario(&CrashScenarioSpec {
        out: args.out.clone(),
        seed: args.seed,
        accounts: args.accounts,
        drop_per_mille: (args.drop * 10.0).round() as i64,
        duration_s: args.duration,
        long_per_mille: args.long_pct * 10,
        params: args.params.clone(),
        implied_vol_e6: args.implied_vol.map(|v| (v * 10_000.0).round().max(1.0) as i64),
        inverse: args.inverse,
    })
}
