//! `gavel bench book [--json] [--lobster MESSAGE_FILE] [--rounds N]`: gavel's
//! order book against the `lobster` crate on a LOBSTER replay and a synthetic
//! heavy mix, interleaved rounds, each side's median.

use anyhow::Context;
use gavel_bench::book::{
    clock_overhead_ns, compare, lobster_workload, synthetic_workload, WorkloadResult,
};
use gavel_feeds::clock::Clock;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `gavel bench book`.
#[derive(clap::Args, Debug)]
pub struct BookArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// LOBSTER message file for the replay workload (default: the AMZN level-5
    /// sample in the data folder, else a generated flow).
    #[arg(long)]
    pub lobster: Option<PathBuf>,
    /// Its order-book file (default: the message file's name with `message` → `orderbook`).
    #[arg(long)]
    pub orderbook: Option<PathBuf>,
    /// Interleaved rounds per side (at least 5 for reported figures).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Operations in the synthetic mix.
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: usize,
}

fn levels_from_name(path: &Path) -> usize {
    // LOBSTER names end in `_<levels>.csv[.gz]`.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.trim_end_matches(".gz").trim_end_matches(".csv");
    stem.rsplit('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Runs the benchmark.
pub fn run(args: BookArgs) -> anyhow::Result<()> {
    let default_file = gavel_feeds::data_dir::data_dir()
        .join("lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv.gz");
    let message_file = args
        .lobster
        .clone()
        .or_else(|| default_file.exists().then_some(default_file));
    let replay = match &message_file {
        Some(m) => {
            let ob = match &args.orderbook {
                Some(p) => p.clone(),
                None => PathBuf::from(m.to_string_lossy().replace("message", "orderbook")),
            };
            let mut w = lobster_workload(m, &ob, levels_from_name(m)).with_context(|| {
                format!("cannot build the LOBSTER workload from {}", m.display())
            })?;
            w.name = format!(
                "lobster:{}",
                m.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            w
        }
        None => {
            let mut w = synthetic_workload(150_000, 0x5eed);
            w.name = "generated (no LOBSTER file)".into();
            w
        }
    };
    let synthetic = synthetic_workload(args.ops, 0xb00c);
    let clock = Clock::calibrate(Duration::from_millis(100));
    let overhead = clock_overhead_ns(&clock);
    let rounds = args.rounds.max(1);
    let results: Vec<WorkloadResult> = [&replay, &synthetic]
        .iter()
        .map(|w| compare(w, rounds, &clock))
        .collect();
    if args.json {
        let head = &results[0];
        let json = serde_json::json!({
            "gavel": head.gavel,
            "lobster": head.peer,
            "headline_workload": head.workload,
            "workloads": results,
            "rounds": rounds,
            "clock_overhead_ns": overhead,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("gavel bench book: {rounds} interleaved rounds per side, medians; per-op TSC timing (two reads cost ~{overhead} ns, included)");
        println!(
            "{:<72} {:>8} {:>8} {:>8} {:>8} {:>10} {:>14}",
            "workload / book", "p50 ns", "p99 ns", "p99.9 ns", "max ns", "ops", "ops/s"
        );
        for r in &results {
            for (name, s) in [("gavel", &r.gavel), ("lobster (crate)", &r.peer)] {
                println!(
                    "{:<72} {:>8} {:>8} {:>8} {:>8} {:>10} {:>14.0}",
                    format!("{} / {}", r.workload, name),
                    s.p50_ns,
                    s.p99_ns,
                    s.p999_ns,
                    s.max_ns,
                    r.ops,
                    s.ops_per_s
                );
            }
            println!(
                "{:<72} throughput ratio gavel/peer = {:.2}x",
                "",
                r.gavel.ops_per_s / r.peer.ops_per_s.max(1e-9)
            );
        }
    }
    Ok(())
}
