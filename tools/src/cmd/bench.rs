//! `gavel bench …`: benchmarks, each against its strongest peer in one run.

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Liquidation trigger: crossed set per mark update, index vs full scan.
    Trigger(super::bench_trigger::TriggerArgs),
}

/// Runs the chosen benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Trigger(args) => super::bench_trigger::run(args),
    }
}
