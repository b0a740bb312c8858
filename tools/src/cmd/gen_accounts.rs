//! `gavel gen accounts`: the command line of [`gavel_sim::generate::recorded`]
//! (an account book built around the prices of real recordings).

use std::path::PathBuf;

use gavel_sim::generate::recorded::{write_accounts_scenario, AccountsSpec};

/// Arguments of `gavel gen accounts`.
#[derive(clap::Args, Debug, Clone)]
pub struct AccountsArgs {
    /// Recording(s) to take the prices from: gavel capture, hftbacktest or cryptofeed lines (.gz ok).
    #[arg(long = "capture", required = true, num_args = 1..)]
    pub captures: Vec<PathBuf>,
    /// File(s) of REST depth snapshots in a recording format (e.g. cryptofeed `BINANCE_FUTURES.http.0.0`).
    #[arg(long)]
    pub snapshot: Vec<PathBuf>,
    /// Binance exchangeInfo (raw JSON or a cryptofeed REST line) for tick and lot sizes.
    #[arg(long)]
    pub venue_info: Option<PathBuf>,
    /// Venue of the text recordings (default: detected from URLs and messages).
    #[arg(long)]
    pub venue: Option<String>,
    /// Folder to write the scenario into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Generator seed; the same seed and inputs give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of accounts, spread evenly over the symbols found (1 ..= 1,000,000).
    #[arg(long, default_value_t = 1000, value_parser = crate::limits::accounts())]
    pub accounts: usize,
    /// Share of accounts whose liquidation price lies inside the observed price range, percent.
    #[arg(long, default_value_t = 20.0)]
    pub target_liquidated_pct: f64,
    /// Share of accounts that are long, percent.
    #[arg(long, default_value_t = 50)]
    pub long_pct: u64,
}

impl AccountsArgs {
    /// The generator's parameters.
    pub fn spec(&self) -> AccountsSpec {
        AccountsSpec {
            captures: self.captures.clone(),
            snapshot: self.snapshot.clone(),
            venue_info: self.venue_info.clone(),
            venue: self.venue.clone(),
            out: self.out.clone(),
            seed: self.seed,
            accounts: self.accounts,
            target_liquidated_pct: self.target_liquidated_pct,
            long_pct: self.long_pct,
        }
    }
}

/// Runs `gavel gen accounts`: writes the folder and prints the verification.
pub fn run(args: &AccountsArgs) -> anyhow::Result<()> {
    let (ranges, checks) = write_accounts_scenario(&args.spec())?;
    for (r, c) in ranges.iter().zip(&checks) {
        println!(
            "{}: {} book updates on {}, mid first {} min {} max {} (ticks of {})",
            r.symbol,
            r.updates,
            r.venues.join("+"),
            r.first_mid,
            r.min_mid,
            r.max_mid,
            r.tick_size
        );
        println!(
            "{}: {} accounts, {} aimed inside the range, {} liquidatable within [min, max] (verified with the risk engine), {} already at the first mid, max leverage {}x",
            c.symbol, c.accounts, c.aimed_inside, c.liquidatable_in_range, c.liquidatable_at_start, c.max_leverage
        );
    }
    let total: usize = checks.iter().map(|c| c.accounts).sum();
    let hit: usize = checks.iter().map(|c| c.liquidatable_in_range).sum();
    println!(
        "wrote {}: {total} accounts, {hit} ({:.1} %) liquidatable within the recorded range (target {} %)",
        args.out.display(),
        if total == 0 {
            0.0
        } else {
            hit as f64 * 100.0 / total as f64
        },
        args.target_liquidated_pct
    );
    Ok(())
}
