//! `gavel demo`: the built-in demo scenario.
//!
//! Generates a synthetic market stream, runs it through the engine loop on a
//! pinned thread in deterministic replay mode, and prints the loop's counters
//! and stage latency histograms.

use std::path::PathBuf;

use anyhow::Context;
use gavel_engine::engine_loop::{pin_current_thread, EngineLoop, Mode, NoopHandler, PinOutcome, VecSource};
use gavel_feeds::clock::Clock;
use gavel_feeds::synthetic::{market_stream, StreamSpec};

/// Arguments of `gavel demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of synthetic events to run.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Core to pin the engine thread to (falls back, with a warning, if absent).
    #[arg(long, default_value_t = 1)]
    core: usize,
    /// Folder to write one `.hgrm` percentile file per stage into.
    #[arg(long)]
    hgrm_dir: Option<PathBuf>,
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = StreamSpec { seed: args.seed, events: args.events, ..StreamSpec::default() };
    let events = market_stream(&spec);
    let clock = Clock::calibrate(std::time::Duration::from_millis(20));
    let core = args.core;
    let engine_thread = std::thread::Builder::new()
        .name("gavel-engine".into())
        .spawn(move || {
            let pin = pin_current_thread(core);
            let mut engine = EngineLoop::new(vec![VecSource::new(events)], Mode::Replay, clock);
            let outcome = engine.run(&mut NoopHandler, u64::MAX, || false);
            (pin, outcome, engine.stats().clone(), engine.latency().clone())
        })
        .context("spawning the engine thread")?;
    let (pin, outcome, stats, latency) =
        engine_thread.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
    match pin {
        PinOutcome::Pinned(core) => println!("engine pinned to core {core}"),
        PinOutcome::Unpinned { requested, reason } => {
            eprintln!("warning: engine not pinned to core {requested}: {reason}")
        }
    }
    let reason = outcome?;
    println!("clock: {:?}, {:.4} ns/tick", clock.source(), clock.ns_per_tick());
    println!("stop: {reason:?}; events handled: {}, unknown kinds: {}", stats.total, stats.unknown_kind);
    for stage in latency.stages() {
        println!("{}", stage.summary_line());
    }
    if let Some(dir) = args.hgrm_dir {
        for path in latency.write_hgrm_files(&dir).with_context(|| format!("writing {}", dir.display()))? {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}
