//! SPSC ring benchmark: gavel's shared-memory ring against `rtrb` and
//! `crossbeam_queue::ArrayQueue`, all carrying 64-byte [`Event`]s between two
//! threads pinned to two cores.
//!
//! Two measurements per side and round:
//! - **hop latency**: ping-pong over a pair of queues with one message in
//!   flight; each round trip / 2 goes into an HDR histogram;
//! - **throughput**: one producer, one consumer, full speed, batched where the
//!   queue offers batches (gavel `try_push_with`/`try_read_batch`, rtrb
//!   `write_chunk_uninit`/`read_chunk`; `ArrayQueue` has no batch API, so it
//!   pushes and pops one at a time).
//!
//! Sides run in interleaved rounds ([`interleave`]) and each side reports its
//! median round. gavel's ring lives in a real file under `/dev/shm` (the temp
//! directory where that is missing), unlinked once both ends have mapped it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{
    default_ring_path, Consumer, ConsumerConfig, Producer, ProducerConfig, RingError,
};
use gavel_feeds::wire::{Event, EventKind, TradePrint, Venue};
use serde::Serialize;

use crate::stats::{interleave, median_f64, median_summary, new_histogram, LatencySummary};

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct RingBenchConfig {
    /// Interleaved rounds per side (at least 5 for a reported comparison).
    pub rounds: usize,
    /// Measured round trips per latency round.
    pub pings: usize,
    /// Unmeasured round trips before them.
    pub warmup_pings: usize,
    /// Messages per throughput round.
    pub messages: u64,
    /// Slots per queue (a power of two; the same for every side).
    pub capacity: usize,
    /// Largest batch a throughput producer or consumer moves at once.
    pub batch: usize,
    /// What a thread does while its queue is empty or full.
    pub idle: Idle,
}

/// What a benchmark thread does while it waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// Spin with `pause` (the measurement setting).
    Spin,
    /// Yield the core (for tests on shared machines).
    Yield,
}

impl Idle {
    #[inline(always)]
    fn wait(self) {
        match self {
            Idle::Spin => std::hint::spin_loop(),
            Idle::Yield => std::thread::yield_now(),
        }
    }
}

impl Default for RingBenchConfig {
    fn default() -> Self {
        RingBenchConfig {
            rounds: 5,
            pings: 200_000,
            warmup_pings: 20_000,
            messages: 20_000_000,
            capacity: 4096,
            batch: 256,
            idle: Idle::Spin,
        }
    }
}

/// One side's median figures, as printed by `--json`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct SideFigures {
    /// Median one-way hop latency, ns.
    pub p50_ns: u64,
    /// 99th percentile hop latency, ns.
    pub p99_ns: u64,
    /// 99.9th percentile hop latency, ns.
    pub p999_ns: u64,
    /// Batched throughput, messages per second.
    pub msgs_per_s: f64,
}

/// The medians of every side from one interleaved run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct RingBenchReport {
    /// gavel's shared-memory ring.
    pub gavel: SideFigures,
    /// `rtrb::RingBuffer`.
    pub rtrb: SideFigures,
    /// `crossbeam_queue::ArrayQueue`.
    pub crossbeam: SideFigures,
}

/// Per-round results of one side, for the readable report.
#[derive(Clone, Debug, Default)]
pub struct SideRounds {
    /// Latency summary of each round.
    pub latency: Vec<LatencySummary>,
    /// Throughput of each round, messages per second.
    pub msgs_per_s: Vec<f64>,
}

impl SideRounds {
    fn figures(&self) -> SideFigures {
        let latency = median_summary(&self.latency);
        SideFigures {
            p50_ns: latency.p50_ns,
            p99_ns: latency.p99_ns,
            p999_ns: latency.p999_ns,
            msgs_per_s: median_f64(&self.msgs_per_s),
        }
    }
}

/// Everything one run measured.
#[derive(Clone, Debug)]
pub struct RingBenchRun {
    /// Medians per side.
    pub report: RingBenchReport,
    /// Rounds per side, in `[gavel, rtrb, crossbeam]` order.
    pub rounds: [SideRounds; 3],
    /// The two cores used, or `None` when the machine has fewer than two.
    pub cores: Option<(usize, usize)>,
    /// Clock used for latency (TSC when invariant).
    pub clock: Clock,
}

/// A single-producer single-consumer queue under test.
trait Queue {
    type Tx: Send;
    type Rx: Send;
    fn pair(&self, capacity: usize) -> Result<(Self::Tx, Self::Rx), RingError>;
    fn try_push(tx: &mut Self::Tx, event: Event) -> bool;
    fn try_pop(rx: &mut Self::Rx) -> Option<Event>;
    /// Pushes up to `max` events made by `make(i)`; returns how many.
    fn push_batch(tx: &mut Self::Tx, max: usize, make: impl FnMut(usize) -> Event) -> usize;
    /// Pops up to `max` events into `f`; returns how many.
    fn pop_batch(rx: &mut Self::Rx, max: usize, f: impl FnMut(&Event)) -> usize;
}

struct GavelRing;

impl Queue for GavelRing {
    type Tx = Producer<Event>;
    type Rx = Consumer<Event>;

    fn pair(&self, capacity: usize) -> Result<(Self::Tx, Self::Rx), RingError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "gavel-bench-ring-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = default_ring_path(&name);
        let tx = Producer::create(&path, ProducerConfig::new(capacity as u64))?;
        let rx = Consumer::open(&path, ConsumerConfig::default());
        // Both ends are mapped (or opening failed): the name is no longer needed.
        let _ = std::fs::remove_file(&path);
        Ok((tx, rx?))
    }

    #[inline(always)]
    fn try_push(tx: &mut Self::Tx, event: Event) -> bool {
        tx.try_push(event)
    }

    #[inline(always)]
    fn try_pop(rx: &mut Self::Rx) -> Option<Event> {
        rx.try_pop()
    }

    #[inline(always)]
    fn push_batch(tx: &mut Self::Tx, max: usize, make: impl FnMut(usize) -> Event) -> usize {
        tx.try_push_with(max, make)
    }

    #[inline(always)]
    fn pop_batch(rx: &mut Self::Rx, max: usize, f: impl FnMut(&Event)) -> usize {
        rx.try_read_batch(max, f)
    }
}

struct Rtrb;

impl Queue for Rtrb {
    type Tx = rtrb::Producer<Event>;
    type Rx = rtrb::Consumer<Event>;

    fn pair(&self, capacity: usize) -> Result<(Self::Tx, Self::Rx), RingError> {
        Ok(rtrb::RingBuffer::new(capacity))
    }

    #[inline(always)]
    fn try_push(tx: &mut Self::Tx, event: Event) -> bool {
        tx.push(event).is_ok()
    }

    #[inline(always)]
    fn try_pop(rx: &mut Self::Rx) -> Option<Event> {
        rx.pop().ok()
    }

    #[inline(always)]
    fn push_batch(tx: &mut Self::Tx, max: usize, mut make: impl FnMut(usize) -> Event) -> usize {
        let n = tx.slots().min(max);
        if n == 0 {
            return 0;
        }
        match tx.write_chunk_uninit(n) {
            Ok(chunk) => chunk.fill_from_iter((0..n).map(&mut make)),
            Err(_) => 0,
        }
    }

    #[inline(always)]
    fn pop_batch(rx: &mut Self::Rx, max: usize, mut f: impl FnMut(&Event)) -> usize {
        let n = rx.slots().min(max);
        if n == 0 {
            return 0;
        }
        match rx.read_chunk(n) {
            Ok(chunk) => {
                let (a, b) = chunk.as_slices();
                a.iter().for_each(&mut f);
                b.iter().for_each(&mut f);
                chunk.commit_all();
                n
            }
            Err(_) => 0,
        }
    }
}

struct Crossbeam;

impl Queue for Crossbeam {
    type Tx = Arc<ArrayQueue<Event>>;
    type Rx = Arc<ArrayQueue<Event>>;

    fn pair(&self, capacity: usize) -> Result<(Self::Tx, Self::Rx), RingError> {
        let queue = Arc::new(ArrayQueue::new(capacity));
        Ok((queue.clone(), queue))
    }

    #[inline(always)]
    fn try_push(tx: &mut Self::Tx, event: Event) -> bool {
        tx.push(event).is_ok()
    }

    #[inline(always)]
    fn try_pop(rx: &mut Self::Rx) -> Option<Event> {
        rx.pop()
    }

    #[inline(always)]
    fn push_batch(tx: &mut Self::Tx, max: usize, mut make: impl FnMut(usize) -> Event) -> usize {
        let mut n = 0;
        while n < max && tx.push(make(n)).is_ok() {
            n += 1;
        }
        n
    }

    #[inline(always)]
    fn pop_batch(rx: &mut Self::Rx, max: usize, mut f: impl FnMut(&Event)) -> usize {
        let mut n = 0;
        while n < max {
            match rx.pop() {
                Some(event) => f(&event),
                None => break,
            }
            n += 1;
        }
        n
    }
}

fn message(sequence: u64) -> Event {
    Event::new(
        EventKind::Trade,
        Venue::Synthetic,
        1,
        TradePrint {
            price: 100,
            qty: 1,
            trade_id: sequence,
        },
    )
    .with_times(sequence, 0, 0)
}

fn pin(core: Option<core_affinity::CoreId>) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
}

/// Ping-pong with one message in flight; returns the hop (round trip / 2) summary.
fn latency_round<Q: Queue>(
    queue: &Q,
    config: &RingBenchConfig,
    clock: Clock,
    cores: [Option<core_affinity::CoreId>; 2],
) -> Result<LatencySummary, RingError> {
    let (mut ping_tx, mut ping_rx) = queue.pair(config.capacity)?;
    let (mut pong_tx, mut pong_rx) = queue.pair(config.capacity)?;
    let idle = config.idle;
    let total = config.warmup_pings + config.pings;
    let warmup = config.warmup_pings;
    let summary = std::thread::scope(|scope| {
        scope.spawn(move || {
            pin(cores[1]);
            for _ in 0..total {
                let event = loop {
                    match Q::try_pop(&mut ping_rx) {
                        Some(event) => break event,
                        None => idle.wait(),
                    }
                };
                while !Q::try_push(&mut pong_tx, event) {
                    idle.wait();
                }
            }
        });
        let pinger = scope.spawn(move || {
            pin(cores[0]);
            let mut histogram = new_histogram();
            for i in 0..total {
                let event = message(i as u64);
                let start = clock.now_ticks();
                while !Q::try_push(&mut ping_tx, event) {
                    idle.wait();
                }
                let back = loop {
                    match Q::try_pop(&mut pong_rx) {
                        Some(back) => break back,
                        None => idle.wait(),
                    }
                };
                let end = clock.now_ticks();
                assert_eq!(back.sequence, i as u64, "ping-pong lost a message");
                if i >= warmup {
                    let hop_ns = clock.ticks_to_ns(end.wrapping_sub(start)) / 2;
                    let _ = histogram.record(hop_ns.max(1));
                }
            }
            LatencySummary::from_histogram(&histogram)
        });
        pinger.join().expect("pinger thread")
    });
    Ok(summary)
}

/// One producer, one consumer, batched, full speed; returns messages per second.
fn throughput_round<Q: Queue>(
    queue: &Q,
    config: &RingBenchConfig,
    cores: [Option<core_affinity::CoreId>; 2],
) -> Result<f64, RingError> {
    let (mut tx, mut rx) = queue.pair(config.capacity)?;
    let messages = config.messages;
    let batch = config.batch;
    let idle = config.idle;
    let start_line = Barrier::new(2);
    let start_line = &start_line;
    let elapsed = std::thread::scope(|scope| {
        scope.spawn(move || {
            pin(cores[0]);
            start_line.wait();
            let mut next = 0u64;
            while next < messages {
                let want = (messages - next).min(batch as u64) as usize;
                let base = next;
                let sent = Q::push_batch(&mut tx, want, |i| message(base + i as u64));
                if sent == 0 {
                    idle.wait();
                }
                next += sent as u64;
            }
        });
        let consumer = scope.spawn(move || {
            pin(cores[1]);
            start_line.wait();
            let started = Instant::now();
            let mut expected = 0u64;
            let mut out_of_order = 0u64;
            while expected < messages {
                let got = Q::pop_batch(&mut rx, batch, |event| {
                    out_of_order += u64::from(event.sequence != expected);
                    expected += 1;
                });
                if got == 0 {
                    idle.wait();
                }
            }
            let elapsed = started.elapsed();
            assert_eq!(out_of_order, 0, "throughput run delivered out of order");
            elapsed
        });
        consumer.join().expect("consumer thread")
    });
    Ok(messages as f64 / elapsed.as_secs_f64().max(1e-9))
}

fn side_round<Q: Queue>(
    queue: &Q,
    config: &RingBenchConfig,
    clock: Clock,
    cores: [Option<core_affinity::CoreId>; 2],
) -> Result<(LatencySummary, f64), RingError> {
    let latency = latency_round(queue, config, clock, cores)?;
    let throughput = throughput_round(queue, config, cores)?;
    Ok((latency, throughput))
}

/// Runs the comparison: `config.rounds` interleaved rounds of gavel, rtrb, crossbeam.
pub fn run(config: &RingBenchConfig) -> Result<RingBenchRun, RingError> {
    assert!(
        config.capacity.is_power_of_two() && config.batch > 0,
        "capacity must be a power of two, batch > 0"
    );
    let clock = Clock::calibrate(Duration::from_millis(50));
    let core_ids = core_affinity::get_core_ids().unwrap_or_default();
    let cores = if core_ids.len() >= 2 {
        [Some(core_ids[0]), Some(core_ids[1])]
    } else {
        [None, None]
    };
    let mut gavel = || side_round(&GavelRing, config, clock, cores);
    let mut rtrb = || side_round(&Rtrb, config, clock, cores);
    let mut crossbeam = || side_round(&Crossbeam, config, clock, cores);
    let results = interleave(config.rounds, &mut [&mut gavel, &mut rtrb, &mut crossbeam]);
    let mut rounds: [SideRounds; 3] = Default::default();
    for (side, side_results) in rounds.iter_mut().zip(results) {
        for result in side_results {
            let (latency, throughput) = result?;
            side.latency.push(latency);
            side.msgs_per_s.push(throughput);
        }
    }
    let report = RingBenchReport {
        gavel: rounds[0].figures(),
        rtrb: rounds[1].figures(),
        crossbeam: rounds[2].figures(),
    };
    Ok(RingBenchRun {
        report,
        rounds,
        cores: cores[0].zip(cores[1]).map(|(a, b)| (a.id, b.id)),
        clock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every side moves every message, in order, through both harnesses
    /// (tiny sizes; no figures are checked).
    #[test]
    fn every_side_delivers_in_both_harnesses() {
        let config = RingBenchConfig {
            rounds: 1,
            pings: 200,
            warmup_pings: 10,
            messages: 5_000,
            capacity: 64,
            batch: 16,
            idle: Idle::Yield,
        };
        let clock = Clock::monotonic();
        // Unpinned: on a shared 2-core machine tests must not claim cores.
        let cores = [None, None];
        let (latency, throughput) = side_round(&GavelRing, &config, clock, cores).unwrap();
        assert_eq!(latency.samples, 200);
        assert!(throughput > 0.0);
        let (latency, _) = side_round(&Rtrb, &config, clock, cores).unwrap();
        assert_eq!(latency.samples, 200);
        let (latency, _) = side_round(&Crossbeam, &config, clock, cores).unwrap();
        assert_eq!(latency.samples, 200);
    }
}
