//! `gavel bench curve`: exact RAY auction-curve evaluation against the f64 formula.

use gavel_bench::curve::{run as run_bench, BATCH};

/// Arguments of `gavel bench curve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Interleaved rounds per side (at least 5).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Timed batches per round.
    #[arg(long, default_value_t = 500)]
    samples: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the comparison and prints each side's median round.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 5, "--rounds must be at least 5");
    anyhow::ensure!(args.samples >= 1, "--samples must be positive");
    let result = run_bench(args.rounds, args.samples);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
        return Ok(());
    }
    let per = |ns: u64| ns as f64 / BATCH as f64;
    println!(
        "auction curve price (stairstep, cut 0.999/s, {BATCH} evaluations per sample, {} rounds × {} samples, median round)",
        result.rounds, result.samples
    );
    for (name, s) in [
        ("gavel RAY prepared", result.gavel),
        ("peer f64 powi", result.peer_f64),
        ("gavel RAY direct", result.gavel_direct),
    ] {
        println!(
            "{name:<18} ns/eval p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
            per(s.p50_ns),
            per(s.p90_ns),
            per(s.p99_ns),
            per(s.p999_ns),
            per(s.max_ns)
        );
    }
    Ok(())
}
