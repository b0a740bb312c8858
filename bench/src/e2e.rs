//! End to end: raw venue WebSocket message bytes → parse and book sync → shared-memory
//! ring → the pinned [`Engine`] → the first liquidation order on the output ring.
//!
//! The messages are a generated Binance USD-M crash capture (depth diffs, trades, marks
//! as the venue sends them). The account book holds `accounts` longs, `near_ppm` of them
//! with a liquidation price within 5 % below the start, the rest 30–50 % below, so the
//! falling mark crosses a few of them at almost every update. A feed thread parses each
//! message and publishes its events; the engine thread pops them, runs the engine, and a
//! sink timestamps the first `RoutedIntent` (the liquidation order) an input produces and
//! publishes every output on an output ring, which the engine thread drains after the last
//! event of each message, before the feed may send the next, and when a burst fills it (a
//! mark that starts thousands of liquidations; after the first order, which is what is
//! timed). A third thread waking to drain it would take the two pinned threads' cores. The insurance
//! fund is large, so no route is limited at the bankruptcy price and nothing waits for ADL. One
//! message is in flight at a time (the feed waits until the engine has taken it), so the
//! figures are latency, not queueing. The bench fills each intent at its limit right away
//! (outside the measured path), so liquidations end as in a liquid market.
//!
//! Stages: `parse` (message bytes → events ready), `ring` (publish → the engine pops it),
//! `engine` (pop → first liquidation order emitted), `total` (message bytes → order on
//! the output ring). There is no external peer for a whole pipeline; the ring hop and the
//! trigger are benchmarked against their peers in `bench ring` and `bench trigger`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use gavel_engine::engine::{Engine, EngineConfig, EnginePolicy, OutputSink};
use gavel_engine::engine_loop::pin_current_thread;
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{Ledger, MarginMode, RiskBook};
use gavel_feeds::capture::CaptureFile;
use gavel_feeds::capture_feed::VenueFeed;
use gavel_feeds::clock::Clock;
use gavel_sim::generate::market::{write_crash_captures, CrashSpec, Dialect};
use gavel_feeds::decimal::Grid;
use gavel_feeds::input_error::Location;
use gavel_feeds::ring::{default_ring_path, Consumer, ConsumerConfig, EventProducer, ProducerConfig, WaitStrategy};
use gavel_feeds::rng::SplitMix64;
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use gavel_feeds::wire::{Event, EventKind, OrderRef, RoutedIntent, Venue};
use hdrhistogram::Histogram;

use crate::stats::{new_histogram, LatencySummary};

/// Settings of the end-to-end benchmark.
#[derive(Clone, Debug)]
pub struct E2eConfig {
    /// Accounts in the book.
    pub accounts: usize,
    /// Share of accounts liquidated within 5 % of the start price, parts per million.
    pub near_ppm: u64,
    /// Crash capture: seconds and drop (per mille).
    pub duration_s: i64,
    /// Drop of the crash, per mille.
    pub drop_per_mille: i64,
    /// Cores for the feed and engine threads.
    pub feed_core: usize,
    /// Core of the engine thread.
    pub engine_core: usize,
}

impl Default for E2eConfig {
    fn default() -> Self {
        E2eConfig { accounts: 1_000_000, near_ppm: 100_000, duration_s: 600, drop_per_mille: 60, feed_core: 0, engine_core: 1 }
    }
}

/// What the benchmark measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct E2eReport {
    /// Accounts in the book.
    pub accounts: usize,
    /// Accounts with a liquidation price within 5 % below the start.
    pub near: usize,
    /// Venue messages replayed.
    pub messages: u64,
    /// Inputs that produced a liquidation order (the samples of `total`).
    pub liquidation_orders: u64,
    /// Liquidations the engine started.
    pub liquidations: u64,
    /// Message bytes → first liquidation order on the output ring.
    pub total: LatencySummary,
    /// Per stage.
    pub stages: Vec<(String, LatencySummary)>,
    /// Whether both threads were pinned.
    pub pinned: bool,
}

const INSTRUMENT: &str = "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 125 }]\n";

/// The account book: longs of 0.1 BTC entered at `start` ticks, collateral set so that the
/// liquidation prices spread as described in the module docs.
fn account_book(cfg: &E2eConfig, start: i64) -> anyhow::Result<(RiskBook, usize)> {
    let set = InstrumentSet::parse(INSTRUMENT, "e2e").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mult = set.get(0).quote_per_tick_lot;
    let mut book = RiskBook::new(set);
    book.reserve(cfg.accounts);
    let mut rng = SplitMix64::new(7);
    let size = 100i64;
    let near_count = (cfg.accounts as u128 * u128::from(cfg.near_ppm) / 1_000_000) as usize;
    for i in 0..cfg.accounts {
        // Liquidation price L ⇔ collateral c = size·mult·(start − L) + 0.004·size·mult·L.
        let (lo, hi) = if i < near_count { (start * 950 / 1000, start * 999 / 1000) } else { (start / 2, start * 7 / 10) };
        let l = lo + (rng.next_u64() % (hi - lo) as u64) as i64;
        let l = i128::from(l);
        let notional_at = |p: i128| i128::from(size) * p * mult;
        let collateral = notional_at(i128::from(start)) - notional_at(l) + notional_at(l) * 4 / 1000 + 1;
        let id = book.add_account("", MarginMode::Cross, collateral).ok_or_else(|| anyhow::anyhow!("account {i}"))?;
        book.set_position(id, 0, size, notional_at(i128::from(start)), 0);
    }
    Ok((book, near_count))
}

/// The engine's output sink: every output onto the output ring, the first liquidation
/// order of the input timestamped, and the intents kept for the bench's fills.
struct Sink {
    ring: EventProducer,
    /// The world's end of `ring`.
    drain: Consumer<Event>,
    clock: Clock,
    first_order: u64,
    intents: Vec<Event>,
    /// Outputs the output ring had no room for (the run fails if any).
    dropped: u64,
}

impl Sink {
    /// Reads every output on the ring, as the world would.
    fn drain_all(&mut self) {
        while self.drain.try_pop().is_some() {}
    }
}

impl OutputSink for Sink {
    fn emit(&mut self, event: &Event) {
        if !self.ring.try_push(*event) {
            self.drain_all();
            if !self.ring.try_push(*event) {
                self.dropped += 1;
            }
        }
        if event.kind == EventKind::RoutedIntent as u8 {
            if self.first_order == 0 {
                self.first_order = self.clock.now_ticks();
            }
            if self.intents.len() < self.intents.capacity() {
                self.intents.push(*event);
            }
        }
    }
}

/// Runs the benchmark.
pub fn run(cfg: &E2eConfig) -> anyhow::Result<E2eReport> {
    anyhow::ensure!(cfg.accounts >= 1_000 && cfg.accounts <= 10_000_000, "accounts must be in 1000..=10000000");
    let spec = CrashSpec { duration_s: cfg.duration_s, drop_per_mille: cfg.drop_per_mille, seed: 5, ..CrashSpec::default() };
    let dir = std::env::temp_dir().join(format!("gavel-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let files = write_crash_captures(&spec, &dir, &[Dialect::BinanceUsdm])?;
    let capture = CaptureFile::open(&files[0]).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut messages: Vec<(i64, Vec<u8>, Vec<u8>)> = Vec::new();
    for record in capture.records() {
        let r = record.map_err(|e| anyhow::anyhow!("{e}"))?;
        messages.push((r.receive_ns, r.channel.to_vec(), r.message.to_vec()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    let (book, near) = account_book(cfg, spec.start_price_ticks)?;
    let policy = EnginePolicy::builtin("naive").ok_or_else(|| anyhow::anyhow!("naive policy"))?;
    let mut config = EngineConfig::for_venues(vec![Venue::BinanceUsdm]);
    config.max_liquidations = 1 << 16;
    // An insurance fund large enough that routes are never limited at the bankruptcy price:
    // every liquidation is one intent and one fill, none waits for ADL.
    let fund = 1_000_000_000 * gavel_engine::risk::instrument::QUOTE_SCALE;
    let mut engine = Engine::new(config, policy, Ledger::new(book, fund)).map_err(|e| anyhow::anyhow!(e))?;

    let clock = Clock::calibrate(std::time::Duration::from_millis(50));
    let tag = std::process::id();
    let in_path = default_ring_path(&format!("gavel-e2e-in-{tag}"));
    let out_path = default_ring_path(&format!("gavel-e2e-out-{tag}"));
    let mut input = EventProducer::create(&in_path, ProducerConfig::new(1 << 16).wait(WaitStrategy::BusySpin), clock)?;
    let mut consumer = Consumer::<Event>::open(&in_path, ConsumerConfig::default().wait(WaitStrategy::BusySpin))?;
    let output = EventProducer::create(&out_path, ProducerConfig::new(1 << 16).wait(WaitStrategy::BusySpin), clock)?;
    let drain = Consumer::<Event>::open(&out_path, ConsumerConfig::default())?;

    // Per message: when parsing began (ticks) and how many events it published.
    let started: Arc<Vec<AtomicU64>> = Arc::new((0..messages.len()).map(|_| AtomicU64::new(0)).collect());
    let times: Arc<Vec<i64>> = Arc::new(messages.iter().map(|m| m.0).collect());
    // Events published so far (stored before each publish) and taken by the engine.
    let published = Arc::new(AtomicU64::new(0));
    let consumed = Arc::new(AtomicU64::new(0));
    let feed_done = Arc::new(AtomicBool::new(false));

    let feed_core = cfg.feed_core;
    let (started_f, published_f, consumed_f, done_f) = (started.clone(), published.clone(), consumed.clone(), feed_done.clone());
    let feed = std::thread::spawn(move || -> anyhow::Result<(Histogram<u64>, bool)> {
        let pinned = matches!(pin_current_thread(feed_core), gavel_engine::engine_loop::PinOutcome::Pinned(_));
        let instruments = Instruments::new(vec![InstrumentSpec::new("BTCUSDT", 0, Grid::from_step("0.1").map_err(|e| anyhow::anyhow!("{e}"))?, Grid::from_step("0.001").map_err(|e| anyhow::anyhow!("{e}"))?)]);
        let mut venue = VenueFeed::new(Venue::BinanceUsdm, instruments, 1000).map_err(|e| anyhow::anyhow!(e))?;
        let mut parse = new_histogram();
        let mut pushed = 0u64;
        let mut batch: Vec<Event> = Vec::with_capacity(4096);
        for (i, (receive_ns, channel, message)) in messages.iter().enumerate() {
            let hint = if channel.starts_with(b"http") { Some(&b"BTCUSDT"[..]) } else { None };
            let t0 = clock.now_ticks();
            started_f[i].store(t0, Ordering::Relaxed);
            batch.clear();
            venue.on_message(message, *receive_ns, hint, || (String::new(), Location::Offset(0)), &mut |e| batch.push(e));
            let _ = parse.record(clock.ns_since(t0).max(1));
            // The message's events in one publish (the engine sees them together); the count
            // first, so the engine knows which of them is the last.
            published_f.store(pushed + batch.len() as u64, Ordering::Release);
            let mut sent = 0;
            while sent < batch.len() {
                sent += input.push_slice(&batch[sent..])?;
            }
            pushed += batch.len() as u64;
            // One message in flight: wait until the engine has taken all of it.
            while consumed_f.load(Ordering::Acquire) < pushed {
                std::hint::spin_loop();
            }
        }
        done_f.store(true, Ordering::Release);
        drop(input);
        Ok((parse, pinned))
    });

    let engine_pin = pin_current_thread(cfg.engine_core);
    let mut sink = Sink { ring: output, drain, clock, first_order: 0, intents: Vec::with_capacity(1 << 16), dropped: 0 };
    let (mut ring_h, mut engine_h, mut total_h) = (new_histogram(), new_histogram(), new_histogram());
    let mut orders = 0u64;
    let mut taken = 0u64;
    loop {
        let Some(event) = consumer.try_pop() else {
            if feed_done.load(Ordering::Acquire) && consumer.try_pop().is_none() {
                break;
            }
            std::hint::spin_loop();
            continue;
        };
        let picked = clock.now_ticks();
        sink.first_order = 0;
        sink.intents.clear();
        engine.on_event(&event, &mut sink);
        if sink.first_order != 0 {
            let order = sink.first_order;
            // The message this event came from: the last one at or before its time.
            let index = times.partition_point(|t| *t <= event.receive_ns).saturating_sub(1);
            let t0 = started[index].load(Ordering::Relaxed);
            let _ = ring_h.record(clock.ticks_to_ns(picked.saturating_sub(event.publish_ticks)).max(1));
            let _ = engine_h.record(clock.ticks_to_ns(order.saturating_sub(picked)).max(1));
            let _ = total_h.record(clock.ticks_to_ns(order.saturating_sub(t0)).max(1));
            orders += 1;
        }
        // The world's part, unmeasured: each intent fills at its limit at once.
        let intents = std::mem::take(&mut sink.intents);
        for intent in &intents {
            let r: RoutedIntent = intent.payload();
            let mut fill = Event::new(EventKind::IntentFill, Venue::BinanceUsdm, intent.instrument, OrderRef { order_id: intent.sequence, price: r.limit, qty: r.qty })
                .with_times(intent.sequence, event.receive_ns, event.receive_ns);
            fill.flags = 1;
            engine.on_event(&fill, &mut sink);
        }
        sink.intents = intents;
        taken += 1;
        if taken == published.load(Ordering::Acquire) {
            // The message's last event: the world reads its outputs before the next message.
            sink.drain_all();
        }
        consumed.store(taken, Ordering::Release);
    }
    let (parse_h, feed_pinned) = feed.join().map_err(|_| anyhow::anyhow!("feed thread panicked"))??;
    sink.drain_all();
    anyhow::ensure!(sink.dropped == 0, "the output ring had no room for {} outputs", sink.dropped);
    drop(sink);
    let _ = std::fs::remove_file(&in_path);
    let _ = std::fs::remove_file(&out_path);
    anyhow::ensure!(engine.ledger().check_conservation() == 0, "the ledger does not balance after the run");
    Ok(E2eReport {
        accounts: cfg.accounts,
        near,
        messages: times.len() as u64,
        liquidation_orders: orders,
        liquidations: engine.metrics().liquidations,
        total: LatencySummary::from_histogram(&total_h),
        stages: vec![
            ("parse".into(), LatencySummary::from_histogram(&parse_h)),
            ("ring".into(), LatencySummary::from_histogram(&ring_h)),
            ("engine".into(), LatencySummary::from_histogram(&engine_h)),
        ],
        pinned: feed_pinned && matches!(engine_pin, gavel_engine::engine_loop::PinOutcome::Pinned(_)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short crash over a small book runs end to end: every liquidation order is timed once,
    /// every output reached the output ring (the run fails otherwise), and the stages are
    /// consistent with the total.
    #[test]
    fn a_short_crash_times_every_liquidation_order() {
        let cfg = E2eConfig { accounts: 5_000, duration_s: 60, ..E2eConfig::default() };
        let r = run(&cfg).expect("the bench runs");
        assert_eq!(r.accounts, 5_000);
        assert!(r.near > 0 && r.messages > 0, "{r:?}");
        assert!(r.liquidation_orders > 0 && r.liquidations >= r.liquidation_orders, "{r:?}");
        assert_eq!(r.total.samples, r.liquidation_orders);
        let stage = |name: &str| r.stages.iter().find(|(n, _)| n == name).map(|(_, s)| *s).expect("stage");
        assert_eq!(stage("engine").samples, r.liquidation_orders);
        assert_eq!(stage("parse").samples, r.messages, "every message parsed once");
        assert!(r.total.max_ns >= stage("engine").max_ns, "{r:?}");
    }
}
