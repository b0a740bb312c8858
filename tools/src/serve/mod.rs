//! `gavel serve`: the engine as a running venue. Threads: the gateway (mio,
//! this thread), the engine (pinned when a core is given) and the mark feed;
//! rings between them in both directions.
//!
//! ```text
//! clients ⇄ TCP ⇄ gateway ──ring──▶ engine ──ring──▶ gateway ⇄ clients
//!                  feed (capture replay) ──ring──▶ engine ──ring──▶ journal (gateway thread, or a writer thread with fsync)
//! ```
//!
//! Every input the engine consumes is journaled (`<data dir>/journal/`); the
//! gateway delivers an output only once its input's record is durable (fsynced,
//! or written to the page cache with `--durability write`), and a restart
//! replays the journal before serving ([`recovery`], docs/RELIABILITY.md).

pub mod data_dir_lock;
pub mod demo;
pub mod durability;
pub mod engine_thread;
pub mod feed;
pub mod recovery;
pub mod snapshots;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gavel_engine::engine::Engine;
use gavel_engine::latency::percentile_distribution;
use gavel_engine::risk::Ledger;
use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{default_ring_path, Consumer, ConsumerConfig, EventProducer, Producer, ProducerConfig, WaitStrategy};
use gavel_feeds::wire::{Event, EventKind, PriceLevel, Side, Venue};
use gavel_gateway::{EventClock, Gateway, GatewayConfig, JournalGate};

/// Set by SIGINT/SIGTERM.
static STOP: AtomicBool = AtomicBool::new(false);
/// Set by SIGUSR1: dump the latency histograms (one flag per thread that holds some).
static DUMP: AtomicBool = AtomicBool::new(false);
static DUMP_ENGINE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

extern "C" fn on_dump(_: libc::c_int) {
    DUMP.store(true, Ordering::Relaxed);
    DUMP_ENGINE.store(true, Ordering::Relaxed);
}

/// Makes the calling thread's sleeps end on time: Linux lets a sleep overrun by the
/// thread's timer slack (50 µs by default), which the engine and journal threads'
/// short idle sleeps would otherwise add to a reply.
pub fn tight_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes an integer argument and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong);
    }
}

fn install_signal_handlers() {
    // SAFETY: the handlers only store to atomics (async-signal-safe); the function
    // pointers have the signature `signal` expects.
    unsafe {
        libc::signal(libc::SIGINT, on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_stop as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGUSR1, on_dump as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

/// Everything a serve run needs.
pub struct ServeSetup {
    /// The engine, built.
    pub engine: Engine,
    /// API keys.
    pub keys: gavel_gateway::auth::KeyTable,
    /// Gateway settings.
    pub gateway: GatewayConfig,
    /// Client orders entered before the gateway opens (e.g. the demo maker's quotes).
    pub seed_orders: Vec<Event>,
    /// The mark source (`None`: no venue feed, so no mark and no liquidation).
    pub mark: Option<feed::MarkSource>,
    /// Data directory (keys, latency dumps).
    pub data_dir: PathBuf,
    /// Core of the engine thread.
    pub engine_core: Option<usize>,
    /// Core of the gateway thread.
    pub gateway_core: Option<usize>,
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// Never sleep in the engine loop.
    pub busy_poll: bool,
    /// What built the engine (recorded for recovery).
    pub origin: recovery::Origin,
    /// Journal group commit and segments.
    pub durability: durability::DurabilityConfig,
    /// When snapshots are taken.
    pub snapshots: snapshots::SnapshotConfig,
    /// The snapshot thread's engine, built from the same origin (`None`: no snapshots).
    pub follower: Option<Engine>,
}

struct RingFiles(Vec<PathBuf>);

impl Drop for RingFiles {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Builds an engine from its parts.
pub fn engine_from(book: gavel_engine::risk::RiskBook, fund: i128, config: gavel_engine::engine::EngineConfig, policy: gavel_engine::engine::EnginePolicy) -> anyhow::Result<Engine> {
    Engine::new(config, policy, Ledger::new(book, fund)).map_err(anyhow::Error::msg)
}

fn write_hgrm(dir: &Path, name: &str, h: &hdrhistogram::Histogram<u64>) -> std::io::Result<()> {
    gavel_feeds::atomic_file::write_atomic(dir.join(format!("{name}.hgrm")), percentile_distribution(h, 5, 1.0))
}

fn summary(name: &str, h: &hdrhistogram::Histogram<u64>) -> String {
    if h.is_empty() {
        return format!("  {name:<16} no samples");
    }
    format!("  {name:<16} n={:<9} p50 {:>8} ns  p99 {:>9} ns  p99.9 {:>9} ns  max {:>10} ns", h.len(), h.value_at_quantile(0.5), h.value_at_quantile(0.99), h.value_at_quantile(0.999), h.max())
}

/// Runs the venue until SIGINT/SIGTERM (or `duration`); prints where it
/// listens, the counters and per-stage latency at the end, and writes the
/// histograms as .hgrm under `<data dir>/latency/`.
pub fn run(setup: ServeSetup) -> anyhow::Result<()> {
    install_signal_handlers();
    let mut engine = setup.engine;
    let existed = recovery::check_or_write_origin(&setup.data_dir, &setup.origin)?;
    let replay = recovery::replay(&mut engine, &setup.data_dir, recovery::Start::Snapshot, true, setup.seed_orders.len(), None)?;
    let last_sequence = replay.scan.last_sequence;
    if existed || last_sequence > 0 {
        println!(
            "gavel serve: recovered {} journal records ({} segments; {}) in {:.3} s: state hash {:016x}, {} resting orders",
            replay.scan.records,
            replay.scan.segments,
            match &replay.snapshot {
                Some((sequence, path)) => format!("snapshot {} after sequence {sequence}, then {} records replayed", path.display(), replay.applied),
                None => format!("no snapshot, {} records replayed", replay.applied),
            },
            replay.elapsed.as_secs_f64(),
            engine.state_hash(),
            engine.resting_orders()
        );
    }
    // The snapshot thread's engine starts from the recovered state.
    let follower = match setup.follower {
        Some(mut follower) if setup.snapshots.interval.is_some() => {
            let mut state = Vec::new();
            engine.write_snapshot(&mut state).map_err(anyhow::Error::msg)?;
            follower.restore_snapshot(&state).map_err(|e| anyhow::anyhow!("the snapshot engine: {e}"))?;
            Some(follower)
        }
        _ => None,
    };
    let seeded = recovery::seeds_journaled(&setup.seed_orders, &replay.first);
    let clock = Clock::calibrate(Duration::from_millis(50));
    let event_clock = EventClock::start();
    let tag = std::process::id();
    let paths: Vec<PathBuf> = ["in", "feed", "out", "jnl"].iter().map(|n| default_ring_path(&format!("gavel-serve-{tag}-{n}"))).collect();
    let _cleanup = RingFiles(paths.clone());
    let spin = WaitStrategy::BusySpin;
    let mut to_engine = EventProducer::create(&paths[0], ProducerConfig::new(1 << 16).wait(spin), clock)?;
    let from_gateway = Consumer::<Event>::open(&paths[0], ConsumerConfig::default().wait(spin))?;
    let feed_ring = EventProducer::create(&paths[1], ProducerConfig::new(1 << 16).wait(spin), clock)?;
    let from_feed = Consumer::<Event>::open(&paths[1], ConsumerConfig::default().wait(spin))?;
    let mut engine_out = EventProducer::create(&paths[2], ProducerConfig::new(1 << 18).wait(spin), clock)?;
    let to_gateway = Consumer::<Event>::open(&paths[2], ConsumerConfig::default().wait(spin))?;
    let journal_ring = Producer::<Event>::create(&paths[3], ProducerConfig::new(1 << 16).wait(spin))?;
    let from_engine_journal = Consumer::<Event>::open(&paths[3], ConsumerConfig::default().wait(spin))?;

    // Seed orders already in the journal are not entered again.
    for order in &setup.seed_orders[seeded..] {
        let _ = to_engine.push(order.with_times(order.sequence, 0, event_clock.now_ns()))?;
    }
    // A recovered own book reaches the gateway's market data as level updates.
    for update in own_book_levels(&engine) {
        let _ = engine_out.push(update)?;
    }
    let instruments = engine.ledger().book.instruments().clone();
    let feed_instruments = feed::feed_instruments(&instruments).map_err(anyhow::Error::msg)?;
    let mut gateway = Gateway::bind(setup.gateway.clone(), setup.keys.clone(), to_engine, to_gateway, event_clock)?;
    let gate = JournalGate::default();
    gate.durable.store(last_sequence, Ordering::Release);
    gateway.set_journal_gate(gate.clone());
    let snapshot_stop = Arc::new(AtomicBool::new(false));
    let snapshot_thread = match follower {
        Some(follower) => {
            let task = snapshots::SnapshotTask { follower, after: last_sequence, data_dir: setup.data_dir.clone(), durable: gate.durable.clone(), config: setup.snapshots.clone() };
            let stop_s = snapshot_stop.clone();
            Some(std::thread::Builder::new().name("gavel-snapshot".into()).spawn(move || snapshots::run(task, stop_s))?)
        }
        None => None,
    };
    let addr = gateway.local_addr()?;

    let latency_dir = setup.data_dir.join("latency");
    std::fs::create_dir_all(&latency_dir)?;
    let engine_dump = engine_thread::DumpRequest { flag: &DUMP_ENGINE, dir: latency_dir.clone() };
    let journal_dir = recovery::journal_dir(&setup.data_dir);
    // `write` mode copies records into a mapped segment (no system call per commit); `fsync`
    // mode `write(2)`s them before each `fdatasync`.
    let open_writer = match setup.durability.mode {
        durability::DurabilityMode::Write => gavel_feeds::input_journal::JournalWriter::open_mapped,
        durability::DurabilityMode::Fsync => gavel_feeds::input_journal::JournalWriter::open,
    };
    let writer = open_writer(&journal_dir, replay.scan.last_segment, last_sequence + 1, setup.durability.segment_bytes).map_err(|e| anyhow::anyhow!("{}: {e}", journal_dir.display()))?;
    let journal_stop = Arc::new(AtomicBool::new(false));
    let pump = durability::JournalPump::new(writer, from_engine_journal, gate, setup.durability.clone(), journal_dir);
    // `write`: the gateway thread writes the journal itself before releasing outputs; `fsync`:
    // a writer thread group-commits (an fsync would stall every session for ~1 ms).
    let journal_thread = match setup.durability.mode {
        durability::DurabilityMode::Write => {
            gateway.set_inline_journal(Box::new(pump));
            None
        }
        durability::DurabilityMode::Fsync => {
            let stop_j = journal_stop.clone();
            Some(std::thread::Builder::new().name("gavel-journal".into()).spawn(move || durability::run(pump, stop_j))?)
        }
    };

    let engine_stop = Arc::new(AtomicBool::new(false));
    let (core, busy) = (setup.engine_core, setup.busy_poll);
    let stop_e = engine_stop.clone();
    let journal_out = engine_thread::JournalOut { ring: journal_ring, next_sequence: last_sequence + 1 };
    let engine_thread = std::thread::Builder::new()
        .name("gavel-engine".into())
        .spawn(move || engine_thread::run(engine, vec![from_gateway, from_feed], engine_out, journal_out, clock, core, busy, stop_e, engine_dump))?;
    let feed_stop = Arc::new(AtomicBool::new(false));
    let feed_thread = match setup.mark.clone() {
        Some(source) => {
            let stop_f = feed_stop.clone();
            Some(std::thread::Builder::new().name("gavel-feed".into()).spawn(move || match &source {
                feed::MarkSource::Replay(r) => feed::run(r, feed_instruments, feed_ring, event_clock, stop_f),
                feed::MarkSource::Live(l) => feed::run_live(l, feed_instruments, feed_ring, event_clock, stop_f),
            })?)
        }
        None => None,
    };
    let gateway_pinned = setup.gateway_core.map(|c| matches!(gavel_engine::engine_loop::pin_current_thread(c), gavel_engine::engine_loop::PinOutcome::Pinned(_)));
    let describe = |core: Option<usize>, pinned: Option<bool>| match (core, pinned) {
        (None, _) => "not pinned".to_string(),
        (Some(c), Some(true)) => format!("pinned to core {c}"),
        (Some(c), _) => format!("core {c} requested, pinning checked at start"),
    };
    println!("gavel serve: listening on {addr}");
    println!("  engine thread: {}; gateway thread: {}", describe(setup.engine_core, None), describe(setup.gateway_core, gateway_pinned));
    match &setup.mark {
        Some(feed::MarkSource::Replay(m)) => println!("  mark: replay of {} at {}.{:03}× real time", m.path.display(), m.speed_per_mille / 1000, m.speed_per_mille % 1000),
        Some(feed::MarkSource::Live(l)) => println!("  mark: live {} {}", l.venue.name(), l.symbols.join(",")),
        None => println!("  mark: none (no venue feed: no mark, no liquidation)"),
    }
    println!("  data dir: {}; SIGINT/SIGTERM stop, SIGUSR1 dumps latency to {}/latency/", setup.data_dir.display(), setup.data_dir.display());
    let setup_mode = setup.durability.mode;
    let d = &setup.durability;
    let policy = match d.mode {
        durability::DurabilityMode::Fsync => format!("fsync every {} µs or {} records, whichever first (survives a host crash)", d.sync_interval.as_micros(), d.sync_records),
        durability::DurabilityMode::Write => "copied into a mapped segment (the page cache) before each release (survives kill -9, not a host crash)".to_string(),
    };
    println!("  journal: {}/journal/, next sequence {}; {policy}; outputs held until durable", setup.data_dir.display(), last_sequence + 1);
    if let Some(d) = setup.duration {
        std::thread::spawn(move || {
            std::thread::sleep(d);
            STOP.store(true, Ordering::Relaxed);
        });
    }
    let dump_dir = latency_dir.clone();
    gateway.run(&STOP, &DUMP, |g| {
        let l = g.latency();
        let _ = write_hgrm(&dump_dir, "gateway_round_trip", &l.round_trip);
        let _ = write_hgrm(&dump_dir, "gateway_output", &l.output);
        let c = g.counters();
        println!("gavel serve: latency dumped to {}; counters {c:?}", dump_dir.display());
    })?;
    feed_stop.store(true, Ordering::Relaxed);
    let feed_report = feed_thread.map(|t| t.join());
    engine_stop.store(true, Ordering::Release);
    let journal = match journal_thread {
        Some(thread) => {
            let report = engine_thread.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
            journal_stop.store(true, Ordering::Release);
            (report, thread.join().map_err(|_| anyhow::anyhow!("the journal thread panicked"))?)
        }
        None => {
            let inline = gateway.take_inline_journal().ok_or_else(|| anyhow::anyhow!("the gateway lost its journal"))?;
            let mut pump = inline.into_any().downcast::<durability::JournalPump>().map_err(|_| anyhow::anyhow!("the gateway's journal is not the serve journal"))?;
            // The engine may still push records until it stops: keep the ring moving so it never waits.
            while !engine_thread.is_finished() {
                if pump.round(false) == 0 {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
            let report = engine_thread.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
            (report, pump.finish())
        }
    };
    let (report, journal) = journal;
    snapshot_stop.store(true, Ordering::Release);
    let snapshot = match snapshot_thread {
        Some(t) => Some(t.join().map_err(|_| anyhow::anyhow!("the snapshot thread panicked"))?),
        None => None,
    };

    let c = gateway.counters();
    println!("gavel serve: stopped");
    println!(
        "  sessions: {} connections, {} logons, {} failed logons, {} refused; disconnected: {} slow readers, {} for protocol errors, {} idle",
        c.connections, c.logons, c.logon_failures, c.refused_connections, c.slow_disconnects, c.error_disconnects, c.idle_disconnects
    );
    println!(
        "  requests: {} to the engine; refused: {} protocol errors, {} rate-limited, {} over the open-order cap, {} engine busy",
        c.orders_in, c.protocol_errors, c.rate_limited, c.open_order_limited, c.engine_busy
    );
    println!("  outputs: {} engine events, {} reports, {} market-data messages, {} routed intents (no external venue in serve)", c.engine_outputs, c.reports_out, c.market_data_out, c.routed_intents);
    match feed_report {
        Some(Ok(Ok(f))) => println!("  feed: {} capture records, {} events{}", f.records, f.events, if f.finished { ", capture finished" } else { "" }),
        Some(Ok(Err(e))) => println!("  feed: stopped with an error: {e}"),
        Some(Err(_)) => println!("  feed: the feed thread panicked"),
        None => {}
    }
    let m = report.engine.metrics();
    println!(
        "  engine: {} events ({}), {} orders accepted, {} rejected, {} own-book trades, {} liquidations, {} auction takes, {} implied-vol quotes, {} margin calls, {} events ignored (unknown instrument or account, or a kind the engine does not take)",
        report.events,
        if report.pinned { "pinned" } else { "not pinned" },
        m.orders_accepted,
        m.orders_rejected,
        m.own_trades,
        m.liquidations,
        m.bids_accepted,
        m.implied_vol_quotes,
        m.margin_calls,
        m.ignored_events
    );
    let stages: [(&str, &hdrhistogram::Histogram<u64>); 6] = [
        ("ring_in", report.ring_in.histogram()),
        ("order_to_report", report.order_to_report.histogram()),
        ("mark_to_auction", report.mark_to_auction.histogram()),
        ("mark_to_first_auction", report.mark_to_first_auction.histogram()),
        ("gateway_round_trip", &gateway.latency().round_trip),
        ("gateway_output", &gateway.latency().output),
    ];
    println!("  latency (ns):");
    for (name, h) in stages {
        println!("{}", summary(name, h));
        write_hgrm(&latency_dir, name, h)?;
    }
    println!("  gateway held at most {} engine outputs at once waiting for the journal", c.held_max);
    let op = match setup_mode {
        durability::DurabilityMode::Fsync => "write+fsync",
        durability::DurabilityMode::Write => "copy into the mapping",
    };
    println!(
        "  journal: {} records in {} commits ({:.1} records each, {:.1} µs of {op} each), durable through sequence {}",
        journal.records,
        journal.syncs,
        journal.records as f64 / journal.syncs.max(1) as f64,
        journal.sync_ns as f64 / 1e3 / journal.syncs.max(1) as f64,
        journal.durable
    );
    println!("  state: hash {:016x} after journal sequence {}, {} resting orders", report.engine.state_hash(), report.last_sequence, report.engine.resting_orders());
    if let Some(s) = &snapshot {
        println!(
            "  snapshots: {} taken, the last after sequence {} ({} bytes, longest write {:.1} ms){}",
            s.taken,
            s.last_sequence,
            s.last_bytes,
            s.max_write_ms,
            if s.errors.is_empty() { String::new() } else { format!("; {} failed, first: {}", s.errors.len(), s.errors[0]) }
        );
        let (hash, after) = s.follower;
        if after == report.last_sequence {
            anyhow::ensure!(hash == report.engine.state_hash(), "the snapshot engine's state hash {hash:016x} after sequence {after} differs from the live engine's {:016x}: replay is not exact", report.engine.state_hash());
            println!("  snapshot engine: hash {hash:016x} after sequence {after}, equal to the live engine's");
        } else {
            println!("  snapshot engine: after sequence {after} of {} (the journal's durable end)", report.last_sequence);
        }
    }
    let imbalance = report.engine.ledger().check_conservation();
    if report.output_waits > 0 {
        println!("  engine waited for room on the gateway's ring {} times", report.output_waits);
    }
    println!("  ledger: {}", if imbalance == 0 { "balances to the unit".to_string() } else { format!("OUT OF BALANCE by {imbalance} units") });
    anyhow::ensure!(imbalance == 0, "the ledger does not balance");
    if let Some(e) = journal.error {
        anyhow::bail!("the input journal failed ({e}); requests were refused from then on (JOURNAL_FAILED); everything acknowledged before is durable through sequence {} — free the disk and restart with the same --data-dir to recover", journal.durable);
    }
    Ok(())
}

/// Level updates describing every own book's resting depth (for the gateway's market data after a recovery).
fn own_book_levels(engine: &Engine) -> Vec<Event> {
    let mut out = Vec::new();
    let mut levels = vec![gavel_engine::book::DepthLevel { price: 0, qty: 0, orders: 0 }; 0];
    for i in 0..engine.ledger().book.instruments().len() {
        let Some(book) = engine.own_book(i as gavel_engine::risk::InstrumentId) else { continue };
        for side in [Side::Bid, Side::Ask] {
            levels.resize(book.level_count(side), gavel_engine::book::DepthLevel { price: 0, qty: 0, orders: 0 });
            let n = book.depth(side, &mut levels);
            for l in &levels[..n] {
                let e = Event::new(EventKind::BookLevel, Venue::Gavel, i as u32, PriceLevel { price: l.price, qty: l.qty, index: 0 }).with_side(side).with_times(0, 0, engine.now());
                out.push(e);
            }
        }
    }
    out
}
