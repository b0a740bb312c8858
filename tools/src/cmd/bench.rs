//! `gavel bench …`: benchmarks, each against its strongest peer in one run.

/// Which benchmark to run.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// gavel's shared-memory SPSC ring against rtrb and crossbeam's ArrayQueue: hop latency and throughput.
    Ring(crate::cmd::bench_ring::Args),
    /// Liquidation trigger: crossed set per mark update, index vs full scan.
    Trigger(super::bench_trigger::TriggerArgs),
    /// Venue message parsing: gavel's scanner vs serde_json vs sonic-rs on real captures.
    Parse(super::bench_parse::Args),
    /// Auction curve price evaluation: exact RAY (gavel) vs f64 formula (peer).
    Curve(super::bench_curve::Args),
    /// gavel's order book against the `lobster` crate (LOBSTER replay and synthetic mix).
    Book(super::bench_book::BookArgs),
    /// Option-portfolio stress margin: risk arrays (gavel) vs revaluing every position per scenario.
    Options(super::bench_options::OptionsArgs),
    /// End to end: venue message bytes → parse → ring → engine → first liquidation order.
    E2e(super::bench_e2e::E2eArgs),
    /// The machine's noise floor: interruptions of a thread spinning on one pinned core, and the lowest p99 they leave.
    Jitter(super::bench_jitter::JitterArgs),
}

/// Runs the chosen benchmark.
pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Ring(args) => crate::cmd::bench_ring::run(args),
        BenchCommand::Trigger(args) => super::bench_trigger::run(args),
        BenchCommand::Parse(args) => super::bench_parse::run(args),
        BenchCommand::Curve(args) => super::bench_curve::run(args),
        BenchCommand::Book(args) => super::bench_book::run(args),
        BenchCommand::E2e(args) => super::bench_e2e::run(args),
        BenchCommand::Options(args) => super::bench_options::run(args),
        BenchCommand::Jitter(args) => super::bench_jitter::run(args),
    }
}
