//! `gavel bench …`: benchmarks, each against its strongest peer in one run.

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Venue message parsing: gavel's scanner vs serde_json vs sonic-rs on real captures.
    Parse(super::bench_parse::Args),
}

/// Runs the chosen benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Parse(args) => super::bench_parse::run(args),
    }
}
