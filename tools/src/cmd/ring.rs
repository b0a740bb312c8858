//! `gavel ring …`: drive the shared-memory ring from two processes and check
//! that every event arrives, in order and intact.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{
    Consumer, ConsumerConfig, EventProducer, FullPolicy, ProducerConfig, RingError, WaitStrategy,
};
use gavel_feeds::wire::{Event, EventKind, TradePrint, Venue};

/// `gavel ring` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum RingCommand {
    /// Create a ring file and write `--count` events with sequence 1..=count into it.
    Produce(ProduceArgs),
    /// Attach to a ring file, read `--count` events and verify sequence continuity and checksum.
    Consume(ConsumeArgs),
}

/// How a side waits, as a command-line choice.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum WaitArg {
    /// Spin without yielding (lowest latency; needs a core of its own).
    Busy,
    /// Spin briefly, then yield the core on each retry (default; fine on shared machines).
    Yield,
    /// Sleep `--sleep-us` microseconds between retries.
    Sleep,
}

/// What the producer does when the ring is full.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PolicyArg {
    /// Wait for the consumer to make room (default).
    Block,
    /// Drop the event and count it in the ring's shared overflow counter.
    Drop,
}

/// Arguments of `gavel ring produce`.
#[derive(clap::Args, Debug)]
pub struct ProduceArgs {
    /// Ring file to create (replaced if it exists); e.g. /dev/shm/gavel-feed.
    #[arg(long)]
    pub path: PathBuf,
    /// Number of events to write (sequence 1..=count).
    #[arg(long)]
    pub count: u64,
    /// Ring capacity in events; a power of two, 2 ..= 2^22.
    #[arg(long, default_value_t = 65_536, value_parser = crate::limits::ring_capacity)]
    pub capacity: u64,
    /// How to wait while the ring is full (with --policy block).
    #[arg(long, value_enum, default_value_t = WaitArg::Yield)]
    pub wait: WaitArg,
    /// Sleep length in microseconds for --wait sleep (1 ..= 10^6).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub sleep_us: u64,
    /// What to do when the ring is full.
    #[arg(long, value_enum, default_value_t = PolicyArg::Block)]
    pub policy: PolicyArg,
    /// Events generated and published per batch (one release store each), 1 ..= 2^22.
    #[arg(long, default_value_t = 256, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1 << 22))]
    pub batch: usize,
}

/// Arguments of `gavel ring consume`.
#[derive(clap::Args, Debug)]
pub struct ConsumeArgs {
    /// Ring file to attach to (waits up to --open-timeout-ms for it to appear).
    #[arg(long)]
    pub path: PathBuf,
    /// Number of events to read and verify (expects sequence 1..=count).
    #[arg(long)]
    pub count: u64,
    /// How to wait while the ring is empty.
    #[arg(long, value_enum, default_value_t = WaitArg::Yield)]
    pub wait: WaitArg,
    /// Sleep length in microseconds for --wait sleep (1 ..= 10^6).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub sleep_us: u64,
    /// How long to wait for the ring file to be created, in milliseconds (0 ..= one day).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=86_400_000))]
    pub open_timeout_ms: u64,
    /// Remove the ring file after all events were verified.
    #[arg(long)]
    pub unlink: bool,
}

/// Runs a `gavel ring` subcommand.
pub fn run(command: RingCommand) -> anyhow::Result<()> {
    match command {
        RingCommand::Produce(args) => produce(args),
        RingCommand::Consume(args) => consume(args),
    }
}

fn wait_strategy(wait: WaitArg, sleep_us: u64) -> WaitStrategy {
    match wait {
        WaitArg::Busy => WaitStrategy::BusySpin,
        WaitArg::Yield => WaitStrategy::SpinThenYield,
        WaitArg::Sleep => WaitStrategy::Sleep(Duration::from_micros(sleep_us)),
    }
}

/// The three payload words of the event with `sequence` (a splitmix64 stream),
/// so the consumer can recompute what it should have received.
pub fn payload_for(sequence: u64) -> [u64; 3] {
    let mix = |mut x: u64| {
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    };
    let base = sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    [mix(base), mix(base ^ 1), mix(base ^ 2)]
}

/// The event the producer writes for `sequence`.
fn event_for(sequence: u64) -> Event {
    let mut event = Event::new(
        EventKind::Trade,
        Venue::Synthetic,
        1,
        TradePrint {
            price: 0,
            qty: 0,
            trade_id: 0,
        },
    )
    .with_times(sequence, 0, 0);
    event.payload = payload_for(sequence);
    event
}

/// FNV-1a over 64-bit words: a running checksum of payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Checksum(u64);

impl Checksum {
    const START: Checksum = Checksum(0xcbf2_9ce4_8422_2325);

    #[inline]
    fn add(&mut self, words: &[u64; 3]) {
        for &w in words {
            self.0 = (self.0 ^ w).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn produce(args: ProduceArgs) -> anyhow::Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let config = ProducerConfig::new(args.capacity)
        .wait(wait_strategy(args.wait, args.sleep_us))
        .full(match args.policy {
            PolicyArg::Block => FullPolicy::Block,
            PolicyArg::Drop => FullPolicy::Drop,
        });
    let clock = Clock::calibrate(Duration::from_millis(10));
    let mut producer = EventProducer::create(&args.path, config, clock)?;
    let started = Instant::now();
    let mut next = 1u64;
    let mut written = 0u64;
    let mut batches = 0u64;
    while next <= args.count {
        let n = (args.count - next + 1).min(args.batch as u64) as usize;
        let first = next;
        written += producer.push_with(n, |i| event_for(first + i as u64))? as u64;
        next += n as u64;
        batches += 1;
        if batches & 4095 == 0 {
            producer.producer().heartbeat();
        }
    }
    let elapsed = started.elapsed();
    let dropped = producer.producer().overflow_count();
    println!(
        "produced {} events into {} (written {written}, dropped {dropped}) in {:.3} s: {:.1} M events/s",
        args.count,
        args.path.display(),
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6,
    );
    Ok(())
}

fn open_with_timeout(
    path: &Path,
    config: ConsumerConfig,
    timeout: Duration,
) -> anyhow::Result<Consumer<Event>> {
    let deadline = Instant::now() + timeout;
    loop {
        match Consumer::open(path, config) {
            Ok(consumer) => return Ok(consumer),
            Err(RingError::Io { ref source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) => return Err(err).context("attaching to the ring"),
        }
    }
}

fn consume(args: ConsumeArgs) -> anyhow::Result<()> {
    let config = ConsumerConfig::default().wait(wait_strategy(args.wait, args.sleep_us));
    let mut consumer = open_with_timeout(
        &args.path,
        config,
        Duration::from_millis(args.open_timeout_ms),
    )?;
    let started = Instant::now();
    let mut expected = 1u64;
    let mut received = Checksum::START;
    let mut gap: Option<(u64, u64)> = None;
    while expected <= args.count && gap.is_none() {
        let remaining = (args.count - expected + 1) as usize;
        let batch = consumer.read_batch(remaining, |event| {
            if gap.is_some() {
                return;
            }
            if event.sequence != expected {
                gap = Some((expected, event.sequence));
                return;
            }
            received.add(&event.payload);
            expected += 1;
        });
        if let Err(err) = batch {
            let overflow = consumer.overflow_count();
            return Err(err).with_context(|| {
                format!(
                    "after {} of {} events arrived intact (producer overflow counter {overflow})",
                    expected - 1,
                    args.count
                )
            });
        }
    }
    let elapsed = started.elapsed();
    let overflow = consumer.overflow_count();
    if let Some((want, got)) = gap {
        bail!(
            "sequence gap in {}: expected {want}, got {got} ({} events verified before it; producer overflow counter {overflow})",
            args.path.display(),
            want - 1,
        );
    }
    let mut reference = Checksum::START;
    for sequence in 1..=args.count {
        reference.add(&payload_for(sequence));
    }
    if received != reference {
        bail!(
            "checksum mismatch in {}: payloads hash to {:#018x}, sequence 1..={} implies {:#018x}",
            args.path.display(),
            received.0,
            args.count,
            reference.0
        );
    }
    println!(
        "consumed {} events from {}: sequence 1..={} contiguous, checksum {:#018x} matches; overflow {overflow}; {:.3} s, {:.1} M events/s",
        args.count,
        args.path.display(),
        args.count,
        received.0,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64().max(1e-9) / 1e6,
    );
    drop(consumer);
    if args.unlink {
        // The producer removes its file itself on a clean exit once everything was read.
        match std::fs::remove_file(&args.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", args.path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_differ_per_sequence_and_checksum_is_order_sensitive() {
        assert_ne!(payload_for(1), payload_for(2));
        assert_eq!(event_for(7).sequence, 7);
        assert_eq!(event_for(7).payload, payload_for(7));
        let (mut ab, mut ba) = (Checksum::START, Checksum::START);
        ab.add(&payload_for(1));
        ab.add(&payload_for(2));
        ba.add(&payload_for(2));
        ba.add(&payload_for(1));
        assert_ne!(ab, ba);
    }
}
