//! `gavel bench options`: option-portfolio stress margin, risk arrays against per-position revaluation.

/// Arguments of `gavel bench options`.
#[derive(clap::Args, Debug)]
pub struct OptionsArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Interleaved rounds per side (5–1,000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(5..=1_000))]
    pub rounds: u16,
    /// Accounts margined per pass (100–1,000,000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(100..=1_000_000))]
    pub accounts: u32,
}

/// Runs `gavel bench options`.
pub fn run(args: OptionsArgs) -> anyhow::Result<()> {
    use gavel_bench::options_margin::{run, OptionsBenchConfig};
    let r = run(OptionsBenchConfig { accounts: args.accounts as usize, rounds: usize::from(args.rounds) });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "gavel bench options: {} accounts ({:.1} option positions each), {} series, {} scenarios, {} interleaved rounds per side, medians",
        r.accounts, r.positions_mean, r.series, r.scenarios, r.rounds
    );
    println!("ns per account margin:");
    super::bench_trigger::print_row("gavel (arrays)", &r.gavel.per_account);
    super::bench_trigger::print_row("peer (revalue)", &r.peer.per_account);
    super::bench_trigger::print_speedup(&r.gavel.per_account, &r.peer.per_account, " per account");
    println!(
        "full pass: gavel {:.2} ms (of which {:.2} ms building the arrays), peer {:.2} ms",
        r.gavel.full_pass_ms, r.arrays_ms, r.peer.full_pass_ms
    );
    println!("both sides computed identical risk for all {} accounts", r.agreement_checked);
    Ok(())
}
