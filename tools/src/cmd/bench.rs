//! `gavel bench …`: benchmarks, each against its strongest peer in one run.

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// gavel's order book against the `lobster` crate (LOBSTER replay and synthetic mix).
    Book(super::bench_book::BookArgs),
}

/// Runs the chosen benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Book(args) => super::bench_book::run(args),
    }
}
