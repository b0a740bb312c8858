//! `gavel bench ring`: gavel's shared-memory ring against rtrb and crossbeam's ArrayQueue.

use anyhow::bail;
use gavel_bench::ring::{run as run_bench, RingBenchConfig, SideRounds};

/// Arguments of `gavel bench ring`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print exactly one JSON object with each side's medians instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Interleaved rounds per side (gavel, rtrb, crossbeam, gavel, …); at least 5.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Measured ping-pong round trips per latency round.
    #[arg(long, default_value_t = 200_000)]
    pub pings: usize,
    /// Messages per throughput round.
    #[arg(long, default_value_t = 20_000_000)]
    pub messages: u64,
    /// Slots per queue, the same for every side (a power of two).
    #[arg(long, default_value_t = 4096)]
    pub capacity: usize,
    /// Largest batch moved at once in the throughput measurement.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
}

/// Runs the benchmark and prints its report.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.rounds < 5 {
        bail!("--rounds must be at least 5 (a comparison reports the median of ≥5 interleaved rounds)");
    }
    if !args.capacity.is_power_of_two() || args.capacity < 2 || args.batch == 0 {
        bail!("--capacity must be a power of two ≥ 2 and --batch at least 1");
    }
    let config = RingBenchConfig {
        rounds: args.rounds,
        pings: args.pings,
        warmup_pings: (args.pings / 10).max(1000),
        messages: args.messages,
        capacity: args.capacity,
        batch: args.batch,
        ..RingBenchConfig::default()
    };
    let run = run_bench(&config)?;
    if args.json {
        println!("{}", serde_json::to_string(&run.report)?);
        return Ok(());
    }
    let cores = match run.cores {
        Some((a, b)) => format!("threads pinned to cores {a} and {b}"),
        None => "fewer than two cores: threads unpinned".to_string(),
    };
    println!(
        "SPSC ring, 64-byte events, capacity {}, batch {}, {} rounds interleaved, {cores}, clock {:?} ({:.3} ns/tick)",
        config.capacity,
        config.batch,
        config.rounds,
        run.clock.source(),
        run.clock.ns_per_tick()
    );
    println!("hop latency = ping-pong round trip / 2 over {} round trips per round; medians of the rounds:", config.pings);
    println!(
        "{:<10} {:>8} {:>8} {:>9} {:>14}",
        "side", "p50 ns", "p99 ns", "p99.9 ns", "M msgs/s"
    );
    let sides = [
        ("gavel", run.report.gavel),
        ("rtrb", run.report.rtrb),
        ("crossbeam", run.report.crossbeam),
    ];
    for (name, f) in sides {
        println!(
            "{name:<10} {:>8} {:>8} {:>9} {:>14.1}",
            f.p50_ns,
            f.p99_ns,
            f.p999_ns,
            f.msgs_per_s / 1e6
        );
    }
    println!("per round (p50 ns / M msgs/s):");
    for ((name, _), rounds) in sides.iter().zip(run.rounds.iter()) {
        println!("  {name:<10} {}", per_round(rounds));
    }
    Ok(())
}

fn per_round(rounds: &SideRounds) -> String {
    rounds
        .latency
        .iter()
        .zip(&rounds.msgs_per_s)
        .map(|(l, t)| format!("{}/{:.1}", l.p50_ns, t / 1e6))
        .collect::<Vec<_>>()
        .join("  ")
}
