//! `gavel stream`: the bare pipeline and its latency.
//!
//! Generates a synthetic market stream, publishes it from a feed thread into a
//! shared-memory ring, consumes it on a pinned engine thread in deterministic
//! replay mode, and prints the loop's counters and stage latency histograms.

use std::path::PathBuf;

use anyhow::Context;
use gavel_engine::engine_loop::{pin_current_thread, EngineLoop, Mode, NoopHandler, PinOutcome};
use gavel_engine::ring_source::RingSource;
use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{default_ring_path, Consumer, ConsumerConfig, EventProducer, ProducerConfig};
use gavel_sim::generate::stream::{market_stream, StreamSpec};

/// Arguments of `gavel stream`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of synthetic events to run (1 ..= 10^7; they are generated in memory first).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    events: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Core to pin the engine thread to (falls back, with a warning, if absent).
    #[arg(long, default_value_t = 1)]
    core: usize,
    /// Feed rate in events per second (0 = as fast as possible, which measures
    /// queueing in a full ring rather than the hop).
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    rate: u64,
    /// Ring capacity in events (a power of two, 2 ..= 2^22).
    #[arg(long, default_value_t = 65_536, value_parser = crate::limits::ring_capacity)]
    ring_capacity: u64,
    /// Folder to write one `.hgrm` percentile file per stage into.
    #[arg(long)]
    hgrm_dir: Option<PathBuf>,
}

/// Runs the stream.
pub fn run(args: Args) -> anyhow::Result<()> {
    let spec = StreamSpec { seed: args.seed, events: args.events, ..StreamSpec::default() };
    let events = market_stream(&spec);
    let clock = Clock::calibrate(std::time::Duration::from_millis(20));
    let ring_path = default_ring_path(&format!("gavel-stream-{}", std::process::id()));
    let mut producer = EventProducer::create(&ring_path, ProducerConfig::new(args.ring_capacity), clock)
        .with_context(|| format!("creating the ring {}", ring_path.display()))?;
    let consumer = Consumer::open(&ring_path, ConsumerConfig::default())
        .with_context(|| format!("opening the ring {}", ring_path.display()))?;

    let rate = args.rate;
    let feed_thread = std::thread::Builder::new()
        .name("gavel-feed".into())
        .spawn(move || -> anyhow::Result<()> {
            if rate == 0 {
                for batch in events.chunks(64) {
                    producer.push_slice(batch)?;
                }
            } else {
                // Publish event i at start + i / rate, spinning in between, so
                // each event travels through a nearly empty ring.
                let interval_ns = 1_000_000_000 / rate.max(1);
                let start = clock.now_ticks();
                for (i, event) in events.iter().enumerate() {
                    let due_ns = i as u64 * interval_ns;
                    while clock.ns_since(start) < due_ns {
                        std::hint::spin_loop();
                    }
                    let _pushed = producer.push(*event)?;
                }
            }
            Ok(()) // dropping the producer closes the ring
        })
        .context("spawning the feed thread")?;
    let core = args.core;
    let engine_thread = std::thread::Builder::new()
        .name("gavel-engine".into())
        .spawn(move || {
            let pin = pin_current_thread(core);
            let mut engine = EngineLoop::new(vec![RingSource::new(consumer)], Mode::Replay, clock);
            let outcome = engine.run(&mut NoopHandler, u64::MAX, || false);
            (pin, outcome, engine.stats().clone(), engine.latency().clone())
        })
        .context("spawning the engine thread")?;
    let feed_result = feed_thread.join().map_err(|_| anyhow::anyhow!("the feed thread panicked"))?;
    let (pin, outcome, stats, latency) =
        engine_thread.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
    let _ = std::fs::remove_file(&ring_path);
    feed_result.context("publishing into the ring")?;
    match pin {
        PinOutcome::Pinned(core) => println!("engine pinned to core {core}"),
        PinOutcome::Unpinned { requested, reason } => {
            eprintln!("warning: engine not pinned to core {requested}: {reason}")
        }
    }
    let reason = outcome?;
    println!("ring: {} ({} slots), feed rate: {}", ring_path.display(), args.ring_capacity, match args.rate {
        0 => "as fast as possible".to_string(),
        r => format!("{r} events/s"),
    });
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
