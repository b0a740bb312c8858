//! The engine loop: polls event sources, orders their events, dispatches them
//! to a handler and times each stage.
//!
//! Two modes:
//! - [`Mode::Live`]: sources are polled round-robin and every ready event is
//!   handled at once (lowest latency).
//! - [`Mode::Replay`]: the next event is the one with the smallest
//!   `(receive_ns, source index)` among all sources, and the loop waits until
//!   every unfinished source has an event ready before choosing, so the
//!   handler sees the same order on every run whatever the thread timing.
//!
//! The loop allocates nothing after construction and makes no syscalls of its
//! own (the latency clock is `rdtsc` on x86_64).

use gavel_feeds::clock::Clock;
use gavel_feeds::wire::{Event, EventKind};

use crate::latency::EngineLatency;

/// What a source has to offer right now.
#[derive(Debug)]
pub enum Peek<'a> {
    /// An event is ready; it stays at the head until [`EventSource::consume`].
    Ready(&'a Event),
    /// Nothing yet; more may come.
    Pending,
    /// The source has ended and is drained.
    Finished,
}

/// An error a source reports instead of hanging (e.g. its producer died).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// Which source (its index in the loop).
    pub source_index: usize,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "event source {}: {}", self.source_index, self.message)
    }
}

impl std::error::Error for SourceError {}

/// A stream of events the engine consumes (a ring consumer, a replay buffer…).
pub trait EventSource {
    /// Looks at the head event without consuming it.
    fn peek(&mut self) -> Result<Peek<'_>, String>;
    /// Consumes the head event returned by the last `peek`.
    fn consume(&mut self);
}

/// An in-memory source over a vector of events, for tests and generated scenarios.
#[derive(Debug, Clone)]
pub struct VecSource {
    events: Vec<Event>,
    next: usize,
}

impl VecSource {
    /// A source yielding `events` in order.
    pub fn new(events: Vec<Event>) -> Self {
        VecSource { events, next: 0 }
    }
}

impl EventSource for VecSource {
    fn peek(&mut self) -> Result<Peek<'_>, String> {
        Ok(match self.events.get(self.next) {
            Some(event) => Peek::Ready(event),
            None => Peek::Finished,
        })
    }

    fn consume(&mut self) {
        self.next += 1;
    }
}

/// Receives events from the loop, one typed method per kind. Every method has
/// an empty default, so a handler implements only what it needs.
#[allow(unused_variables)]
pub trait EventHandler {
    /// L2 price-level update.
    fn on_book_level(&mut self, event: &Event) {}
    /// Snapshot begin, level or end.
    fn on_snapshot(&mut self, event: &Event) {}
    /// Venue best bid or offer.
    fn on_book_top(&mut self, event: &Event) {}
    /// Trade print.
    fn on_trade(&mut self, event: &Event) {}
    /// Venue mark/index price.
    fn on_mark_price(&mut self, event: &Event) {}
    /// Venue liquidation print.
    fn on_liquidation_print(&mut self, event: &Event) {}
    /// L3 order add, cancel, modify or execute.
    fn on_l3(&mut self, event: &Event) {}
    /// Client order or cancel for gavel's own book.
    fn on_client(&mut self, event: &Event) {}
    /// Liquidator take on an auction.
    fn on_liquidator_bid(&mut self, event: &Event) {}
    /// Sequence gap: the venue book behind it must resync.
    fn on_gap(&mut self, event: &Event) {}
    /// Producer heartbeat.
    fn on_heartbeat(&mut self, event: &Event) {}
    /// Event time passes.
    fn on_timer(&mut self, event: &Event) {}
    /// An external venue executed a routed intent.
    fn on_intent_fill(&mut self, event: &Event) {}
    /// An option-implied volatility quote.
    fn on_implied_vol(&mut self, event: &Event) {}
    /// An engine output kind (execution report, liquidation, auction, intent, ledger record)
    /// arriving as input: only consumers of the engine's output rings handle these.
    fn on_engine_output(&mut self, event: &Event) {}
}

/// A handler that does nothing (for measuring the loop itself).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopHandler;

impl EventHandler for NoopHandler {}

/// How the loop orders events across sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Round-robin, handle as soon as ready.
    Live,
    /// Deterministic merge by `(receive_ns, source index)`.
    Replay,
}

/// Counters kept by the loop.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoopStats {
    /// Events handled, by kind byte (index = kind).
    pub by_kind: [u64; 32],
    /// Events whose kind byte is unknown (counted and skipped).
    pub unknown_kind: u64,
    /// Events handled in total (including unknown kinds).
    pub total: u64,
    /// Polls that found nothing ready.
    pub idle_polls: u64,
}

/// Why [`EngineLoop::run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Every source finished and was drained.
    AllFinished,
    /// The event limit was reached.
    EventLimit,
    /// The caller's stop check returned true.
    Stopped,
}

/// Skip-and-count policy for unknown kinds: the event is not dispatched but
/// counted in [`LoopStats::unknown_kind`].
#[inline]
pub fn dispatch<H: EventHandler + ?Sized>(handler: &mut H, event: &Event, stats: &mut LoopStats) {
    stats.total += 1;
    let Some(kind) = event.kind() else {
        stats.unknown_kind += 1;
        return;
    };
    stats.by_kind[kind as usize] += 1;
    match kind {
        EventKind::BookLevel => handler.on_book_level(event),
        EventKind::SnapshotBegin | EventKind::SnapshotLevel | EventKind::SnapshotEnd => handler.on_snapshot(event),
        EventKind::BookTop => handler.on_book_top(event),
        EventKind::Trade => handler.on_trade(event),
        EventKind::MarkPrice => handler.on_mark_price(event),
        EventKind::LiquidationPrint => handler.on_liquidation_print(event),
        EventKind::OrderAdd | EventKind::OrderCancel | EventKind::OrderModify | EventKind::OrderExecute => {
            handler.on_l3(event)
        }
        EventKind::ClientOrder | EventKind::ClientCancel | EventKind::ClientMassCancel => handler.on_client(event),
        EventKind::LiquidatorBid => handler.on_liquidator_bid(event),
        EventKind::Gap => handler.on_gap(event),
        EventKind::Heartbeat => handler.on_heartbeat(event),
        EventKind::Timer => handler.on_timer(event),
        EventKind::IntentFill => handler.on_intent_fill(event),
        EventKind::ImpliedVol => handler.on_implied_vol(event),
        EventKind::ExecReport
        | EventKind::LiquidationUpdate
        | EventKind::AuctionUpdate
        | EventKind::RoutedIntent
        | EventKind::LedgerRecord
        | EventKind::BidReport
        | EventKind::PositionUpdate
        | EventKind::MarginCall => handler.on_engine_output(event),
    }
}

/// The engine loop over a fixed set of sources.
pub struct EngineLoop<S: EventSource> {
    sources: Vec<S>,
    finished: Vec<bool>,
    mode: Mode,
    clock: Clock,
    latency: EngineLatency,
    stats: LoopStats,
    next_live: usize,
}

impl<S: EventSource> EngineLoop<S> {
    /// A loop over `sources` in `mode`, timing stages with `clock`.
    pub fn new(sources: Vec<S>, mode: Mode, clock: Clock) -> Self {
        let finished = vec![false; sources.len()];
        EngineLoop {
            sources,
            finished,
            mode,
            clock,
            latency: EngineLatency::default(),
            stats: LoopStats::default(),
            next_live: 0,
        }
    }

    /// Stage histograms collected so far.
    pub fn latency(&self) -> &EngineLatency {
        &self.latency
    }

    /// Counters collected so far.
    pub fn stats(&self) -> &LoopStats {
        &self.stats
    }

    /// Runs until every source is finished, `max_events` were handled, or
    /// `should_stop` (checked every 1024 idle polls) returns true.
    ///
    /// A source error stops the loop and is returned with the source's index.
    pub fn run<H: EventHandler + ?Sized>(
        &mut self,
        handler: &mut H,
        max_events: u64,
        mut should_stop: impl FnMut() -> bool,
    ) -> Result<StopReason, SourceError> {
        loop {
            if self.stats.total >= max_events {
                return Ok(StopReason::EventLimit);
            }
            let step = match self.mode {
                Mode::Live => self.step_live(handler)?,
                Mode::Replay => self.step_replay(handler)?,
            };
            match step {
                Step::Handled => {}
                Step::Idle => {
                    self.stats.idle_polls += 1;
                    if self.stats.idle_polls.is_multiple_of(1024) && should_stop() {
                        return Ok(StopReason::Stopped);
                    }
                    std::hint::spin_loop();
                }
                Step::AllFinished => return Ok(StopReason::AllFinished),
            }
        }
    }

    fn step_live<H: EventHandler + ?Sized>(&mut self, handler: &mut H) -> Result<Step, SourceError> {
        let n = self.sources.len();
        let mut unfinished = 0;
        for offset in 0..n {
            let index = (self.next_live + offset) % n;
            if self.finished[index] {
                continue;
            }
            unfinished += 1;
            let peeked = self.sources[index]
                .peek()
                .map_err(|message| SourceError { source_index: index, message })?;
            match peeked {
                Peek::Ready(event) => {
                    let event = *event;
                    self.next_live = (index + 1) % n;
                    self.handle(index, &event, handler);
                    return Ok(Step::Handled);
                }
                Peek::Pending => {}
                Peek::Finished => self.finished[index] = true,
            }
        }
        Ok(if unfinished == 0 { Step::AllFinished } else { Step::Idle })
    }

    fn step_replay<H: EventHandler + ?Sized>(&mut self, handler: &mut H) -> Result<Step, SourceError> {
        // The earliest ready head so far: (receive_ns, source index, a copy of the event).
        let mut best: Option<(i64, usize, Event)> = None;
        for index in 0..self.sources.len() {
            if self.finished[index] {
                continue;
            }
            let peeked = self.sources[index]
                .peek()
                .map_err(|message| SourceError { source_index: index, message })?;
            match peeked {
                Peek::Ready(event) => {
                    if best.as_ref().is_none_or(|b| (event.receive_ns, index) < (b.0, b.1)) {
                        best = Some((event.receive_ns, index, *event));
                    }
                }
                // An unfinished source without an event could still deliver an
                // earlier one: wait for it rather than guess.
                Peek::Pending => return Ok(Step::Idle),
                Peek::Finished => self.finished[index] = true,
            }
        }
        Ok(match best {
            Some((_, index, event)) => {
                self.handle(index, &event, handler);
                Step::Handled
            }
            None => Step::AllFinished,
        })
    }

    #[inline]
    fn handle<H: EventHandler + ?Sized>(&mut self, index: usize, event: &Event, handler: &mut H) {
        let received = self.clock.now_ticks();
        if event.publish_ticks != 0 && received >= event.publish_ticks {
            self.latency.publish_to_receive.record_ns(self.clock.ticks_to_ns(received - event.publish_ticks));
        }
        self.sources[index].consume();
        dispatch(handler, event, &mut self.stats);
        self.latency.receive_to_handled.record_ns(self.clock.ns_since(received));
    }
}

enum Step {
    Handled,
    Idle,
    AllFinished,
}

/// Result of trying to pin the engine thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinOutcome {
    /// Pinned to the requested core.
    Pinned(usize),
    /// The core does not exist or pinning failed; the thread runs unpinned.
    Unpinned {
        /// The core that was requested.
        requested: usize,
        /// Why pinning did not happen.
        reason: String,
    },
}

/// Pins the calling thread to `core` with `core_affinity`; falls back to
/// running unpinned (with the reason) when the core does not exist.
pub fn pin_current_thread(core: usize) -> PinOutcome {
    let Some(ids) = core_affinity::get_core_ids() else {
        return PinOutcome::Unpinned { requested: core, reason: "core ids are not available".into() };
    };
    match ids.into_iter().find(|id| id.id == core) {
        Some(id) if core_affinity::set_for_current(id) => PinOutcome::Pinned(core),
        Some(_) => PinOutcome::Unpinned { requested: core, reason: "the OS refused the affinity".into() },
        None => PinOutcome::Unpinned { requested: core, reason: format!("core {core} does not exist") },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_feeds::wire::{PriceLevel, Venue};

    fn level(receive_ns: i64, seq: u64) -> Event {
        Event::new(EventKind::BookLevel, Venue::Synthetic, 1, PriceLevel { price: 1, qty: 1, index: 0 })
            .with_times(seq, 0, receive_ns)
    }

    #[derive(Default)]
    struct Recorder {
        seen: Vec<(i64, u64)>,
        trades: u64,
    }

    impl EventHandler for Recorder {
        fn on_book_level(&mut self, event: &Event) {
            self.seen.push((event.receive_ns, event.sequence));
        }
        fn on_trade(&mut self, _event: &Event) {
            self.trades += 1;
        }
    }

    /// A source whose every event is first pending for a while, as on a ring
    /// whose producer has not caught up; once ready, it stays ready until consumed.
    struct Stuttering {
        inner: VecSource,
        pending_polls: u32,
        delay: u32,
    }

    impl EventSource for Stuttering {
        fn peek(&mut self) -> Result<Peek<'_>, String> {
            if self.pending_polls < self.delay {
                self.pending_polls += 1;
                return Ok(Peek::Pending);
            }
            self.inner.peek()
        }
        fn consume(&mut self) {
            self.pending_polls = 0;
            self.inner.consume()
        }
    }

    #[test]
    fn replay_merges_by_receive_time_then_source_index() {
        let a = VecSource::new(vec![level(10, 1), level(30, 2), level(30, 3)]);
        let b = VecSource::new(vec![level(5, 100), level(30, 101), level(40, 102)]);
        let mut engine = EngineLoop::new(vec![a, b], Mode::Replay, Clock::monotonic());
        let mut recorder = Recorder::default();
        let reason = engine.run(&mut recorder, u64::MAX, || false).unwrap();
        assert_eq!(reason, StopReason::AllFinished);
        assert_eq!(recorder.seen, vec![(5, 100), (10, 1), (30, 2), (30, 3), (30, 101), (40, 102)]);
        assert_eq!(engine.stats().total, 6);
        assert_eq!(engine.latency().receive_to_handled.histogram().len(), 6);
    }

    #[test]
    fn replay_order_does_not_depend_on_source_timing() {
        let make = || {
            vec![
                Stuttering { inner: VecSource::new(vec![level(1, 1), level(4, 2), level(9, 3)]), pending_polls: 0, delay: 3 },
                Stuttering { inner: VecSource::new(vec![level(2, 10), level(3, 11), level(9, 12)]), pending_polls: 0, delay: 7 },
            ]
        };
        let mut first = Recorder::default();
        EngineLoop::new(make(), Mode::Replay, Clock::monotonic()).run(&mut first, u64::MAX, || false).unwrap();
        let mut reference = Recorder::default();
        let plain = vec![
            VecSource::new(vec![level(1, 1), level(4, 2), level(9, 3)]),
            VecSource::new(vec![level(2, 10), level(3, 11), level(9, 12)]),
        ];
        EngineLoop::new(plain, Mode::Replay, Clock::monotonic()).run(&mut reference, u64::MAX, || false).unwrap();
        assert_eq!(first.seen, reference.seen);
        assert_eq!(first.seen, vec![(1, 1), (2, 10), (3, 11), (4, 2), (9, 3), (9, 12)]);
    }

    #[test]
    fn live_mode_round_robins_and_handles_everything() {
        let a = VecSource::new(vec![level(10, 1), level(11, 2)]);
        let b = VecSource::new(vec![level(1, 7)]);
        let mut engine = EngineLoop::new(vec![a, b], Mode::Live, Clock::monotonic());
        let mut recorder = Recorder::default();
        engine.run(&mut recorder, u64::MAX, || false).unwrap();
        assert_eq!(recorder.seen, vec![(10, 1), (1, 7), (11, 2)]);
    }

    #[test]
    fn unknown_kinds_are_counted_not_dispatched() {
        let mut bad = level(1, 1);
        bad.kind = 250;
        let trade = Event::new(EventKind::Trade, Venue::Synthetic, 1, PriceLevel { price: 1, qty: 1, index: 0 });
        let mut engine = EngineLoop::new(vec![VecSource::new(vec![bad, trade])], Mode::Replay, Clock::monotonic());
        let mut recorder = Recorder::default();
        engine.run(&mut recorder, u64::MAX, || false).unwrap();
        assert_eq!(engine.stats().unknown_kind, 1);
        assert_eq!(engine.stats().by_kind[EventKind::Trade as usize], 1);
        assert_eq!(recorder.trades, 1);
        assert!(recorder.seen.is_empty());
    }

    #[test]
    fn event_limit_and_stop_check_end_the_loop() {
        let mut engine =
            EngineLoop::new(vec![VecSource::new(vec![level(1, 1), level(2, 2)])], Mode::Live, Clock::monotonic());
        assert_eq!(engine.run(&mut NoopHandler, 1, || false).unwrap(), StopReason::EventLimit);

        struct NeverReady;
        impl EventSource for NeverReady {
            fn peek(&mut self) -> Result<Peek<'_>, String> {
                Ok(Peek::Pending)
            }
            fn consume(&mut self) {}
        }
        let mut idle = EngineLoop::new(vec![NeverReady], Mode::Replay, Clock::monotonic());
        assert_eq!(idle.run(&mut NoopHandler, u64::MAX, || true).unwrap(), StopReason::Stopped);
    }

    #[test]
    fn source_errors_stop_the_loop_with_the_source_index() {
        struct Broken;
        impl EventSource for Broken {
            fn peek(&mut self) -> Result<Peek<'_>, String> {
                Err("producer 42 died".into())
            }
            fn consume(&mut self) {}
        }
        let mut engine = EngineLoop::new(vec![Broken], Mode::Live, Clock::monotonic());
        let err = engine.run(&mut NoopHandler, u64::MAX, || false).unwrap_err();
        assert_eq!(err, SourceError { source_index: 0, message: "producer 42 died".into() });
    }

    #[test]
    fn publish_stamps_feed_the_hop_histogram() {
        let clock = Clock::monotonic();
        let mut stamped = level(1, 1);
        stamped.publish_ticks = clock.now_ticks();
        let mut engine = EngineLoop::new(vec![VecSource::new(vec![stamped, level(2, 2)])], Mode::Replay, clock);
        engine.run(&mut NoopHandler, u64::MAX, || false).unwrap();
        // Only the stamped event has a publish time.
        assert_eq!(engine.latency().publish_to_receive.histogram().len(), 1);
        assert_eq!(engine.latency().receive_to_handled.histogram().len(), 2);
    }

    #[test]
    fn pinning_a_missing_core_falls_back_with_a_reason() {
        match pin_current_thread(100_000) {
            PinOutcome::Unpinned { requested, reason } => {
                assert_eq!(requested, 100_000);
                assert!(!reason.is_empty());
            }
            PinOutcome::Pinned(_) => panic!("core 100000 cannot exist"),
        }
    }
}
