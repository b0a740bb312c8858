//! `gavel bench …`: benchmarks, each against its strongest peer in one run.

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Auction curve price evaluation: exact RAY (gavel) vs f64 formula (peer).
    Curve(super::bench_curve::Args),
}

/// Runs the chosen benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Curve(args) => super::bench_curve::run(args),
    }
}
