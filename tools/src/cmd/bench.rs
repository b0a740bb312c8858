//! `gavel bench …`: benchmarks, each against its strongest peer in one run.

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {}

/// Runs the chosen benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {}
}
