//! A shared-memory ring consumer as an engine [`EventSource`].

use gavel_feeds::ring::{Consumer, RingError};
use gavel_feeds::wire::Event;

use crate::engine_loop::{EventSource, Peek};

/// How many empty polls pass between two producer-liveness checks (each a
/// `kill(pid, 0)` syscall, so kept off the busy path).
const LIVENESS_EVERY: u32 = 4096;

/// Adapts a ring [`Consumer`] to the engine loop: one event of lookahead for
/// `peek`, `Finished` once a cleanly closed ring is drained, and an error
/// (never a hang) once the producer is dead.
pub struct RingSource {
    consumer: Consumer<Event>,
    head: Option<Event>,
    empty_polls: u32,
}

impl RingSource {
    /// Wraps an opened consumer.
    pub fn new(consumer: Consumer<Event>) -> Self {
        RingSource { consumer, head: None, empty_polls: 0 }
    }

    /// The wrapped consumer (for status and overflow counters).
    pub fn consumer(&self) -> &Consumer<Event> {
        &self.consumer
    }
}

impl EventSource for RingSource {
    fn peek(&mut self) -> Result<Peek<'_>, String> {
        if self.head.is_none() {
            self.head = self.consumer.try_pop();
        }
        if let Some(event) = self.head.as_ref() {
            return Ok(Peek::Ready(event));
        }
        self.empty_polls = self.empty_polls.wrapping_add(1);
        let liveness = self.empty_polls.is_multiple_of(LIVENESS_EVERY);
        match self.consumer.check_producer_now(liveness) {
            Ok(()) => Ok(Peek::Pending),
            Err(RingError::Closed { .. }) => Ok(Peek::Finished),
            Err(err) => Err(err.to_string()),
        }
    }

    fn consume(&mut self) {
        self.head = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine_loop::{EngineLoop, EventHandler, Mode, NoopHandler};
    use gavel_feeds::clock::Clock;
    use gavel_feeds::ring::{ConsumerConfig, EventProducer, ProducerConfig, WaitStrategy};
    use gavel_sim::generate::stream::{market_stream, StreamSpec};
    use std::time::Duration;

    fn ring_path(name: &str) -> std::path::PathBuf {
        gavel_feeds::ring::default_ring_path(&format!("gavel-test-{name}-{}", std::process::id()))
    }

    struct Sequences(Vec<u64>);
    impl EventHandler for Sequences {
        fn on_book_level(&mut self, e: &Event) {
            self.0.push(e.sequence);
        }
        fn on_trade(&mut self, e: &Event) {
            self.0.push(e.sequence);
        }
        fn on_mark_price(&mut self, e: &Event) {
            self.0.push(e.sequence);
        }
    }

    #[test]
    fn two_rings_replay_in_receive_time_order_and_finish_on_close() {
        let clock = Clock::monotonic();
        let wait = WaitStrategy::Sleep(Duration::from_micros(50));
        let streams: Vec<Vec<Event>> = (0..2)
            .map(|seed| market_stream(&StreamSpec { seed, events: 3_000, ..StreamSpec::default() }))
            .collect();
        let mut expected: Vec<(i64, usize, u64)> = streams
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.iter().map(move |e| (e.receive_ns, i, e.sequence)))
            .collect();
        expected.sort();
        let paths: Vec<_> = (0..2).map(|i| ring_path(&format!("merge{i}"))).collect();
        let mut producers: Vec<_> = paths
            .iter()
            .map(|p| EventProducer::create(p, ProducerConfig::new(256).wait(wait), clock).unwrap())
            .collect();
        let sources: Vec<RingSource> = paths
            .iter()
            .map(|p| RingSource::new(Consumer::open(p, ConsumerConfig::default().wait(wait)).unwrap()))
            .collect();
        let writers: Vec<_> = producers
            .drain(..)
            .zip(streams)
            .map(|(mut producer, events)| {
                std::thread::spawn(move || {
                    for chunk in events.chunks(100) {
                        producer.push_slice(chunk).unwrap();
                    }
                })
            })
            .collect();
        let mut engine = EngineLoop::new(sources, Mode::Replay, clock);
        let mut seen = Sequences(Vec::new());
        let stop = engine.run(&mut seen, u64::MAX, || false).unwrap();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(stop, crate::engine_loop::StopReason::AllFinished);
        assert_eq!(seen.0, expected.iter().map(|e| e.2).collect::<Vec<_>>());
        assert_eq!(engine.latency().publish_to_receive.histogram().len(), 6_000);
        for p in paths {
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn a_dead_producer_is_an_error_not_a_hang() {
        let path = ring_path("dead");
        let producer = EventProducer::create(&path, ProducerConfig::new(64), Clock::monotonic()).unwrap();
        // Simulate the producer process vanishing without closing the ring: leak the
        // producer (no clean close) and point the header's producer pid (a u32 at
        // byte 40, docs/RING.md) at a process that has exited, before the consumer
        // opens and reads it.
        std::mem::forget(producer);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        {
            use std::io::{Seek, SeekFrom, Write};
            let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.seek(SeekFrom::Start(40)).unwrap();
            file.write_all(&dead_pid.to_le_bytes()).unwrap();
        }
        let consumer = Consumer::open(&path, ConsumerConfig::default().wait(WaitStrategy::Sleep(Duration::from_micros(10))))
            .unwrap();
        let mut engine = EngineLoop::new(vec![RingSource::new(consumer)], Mode::Live, Clock::monotonic());
        // Bounded: the liveness check runs every 4096 empty polls; give up after far more.
        let mut polls = 0u64;
        let result = engine.run(&mut NoopHandler, u64::MAX, || {
            polls += 1;
            polls > 10_000
        });
        let err = result.expect_err("a dead producer must be reported");
        assert!(err.message.contains(&dead_pid.to_string()), "{}", err.message);
        let _ = std::fs::remove_file(path);
    }
}
