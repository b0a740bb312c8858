//! The engine allocates nothing on its event path: a whole 20,000-account
//! generated crash, replayed through the simulated world, with a counting
//! global allocator that counts only while the engine's `on_event` runs; also after the engine
//! is restored from a snapshot mid-crash.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use gavel_engine::engine::EnginePolicy;
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{loader, RiskBook};
use gavel_feeds::capture_feed::replay_capture;
use gavel_feeds::clock::Clock;
use gavel_feeds::decimal::Grid;
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use gavel_feeds::wire::{Event, Venue};
use gavel_sim::{World, WorldConfig};

struct Counting;

static ENGINE_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static IN_ENGINE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a relaxed atomic and the flag a const-initialised thread local,
// neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if IN_ENGINE.with(Cell::get) {
            let n = ENGINE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            trace(n);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if IN_ENGINE.with(Cell::get) {
            ENGINE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// With `GAVEL_ALLOC_TRACE=N` set, prints where the first N engine allocations came from.
fn trace(n: u64) {
    let limit = TRACE_LIMIT.load(Ordering::Relaxed);
    if n < limit {
        IN_ENGINE.with(|c| c.set(false));
        eprintln!("engine allocation {n}:\n{}", std::backtrace::Backtrace::force_capture());
        IN_ENGINE.with(|c| c.set(true));
    }
}

static TRACE_LIMIT: AtomicU64 = AtomicU64::new(0);

fn in_engine(on: bool) {
    IN_ENGINE.with(|c| c.set(on));
}

fn events(dir: &Path, set: &InstrumentSet) -> Vec<Event> {
    let spec = |venue: Venue| {
        let ins = set.get(0);
        let _ = venue;
        Instruments::new(vec![InstrumentSpec::new(
            &ins.symbol,
            0,
            Grid::from_decimal(ins.tick_size).expect("tick"),
            Grid::from_decimal(ins.lot_size).expect("lot"),
        )])
    };
    let clock = Clock::monotonic();
    let mut all = Vec::new();
    for name in ["binance-usdm.cap", "bybit.cap"] {
        let mut events = Vec::new();
        replay_capture(&dir.join(name), spec, 100, &clock, &mut |e, _| events.push(e)).expect("capture");
        all.push(events);
    }
    // Merge by (receive time, capture index), as the replay loop does.
    let mut merged: Vec<(i64, usize, usize, Event)> = Vec::new();
    for (source, events) in all.into_iter().enumerate() {
        for (i, e) in events.into_iter().enumerate() {
            merged.push((e.receive_ns, source, i, e));
        }
    }
    merged.sort_by_key(|m| (m.0, m.1, m.2));
    merged.into_iter().map(|m| m.3).collect()
}

#[test]
fn engine_event_path_allocates_nothing_over_a_20k_account_crash() {
    if let Some(n) = std::env::var("GAVEL_ALLOC_TRACE").ok().and_then(|v| v.parse().ok()) {
        TRACE_LIMIT.store(n, Ordering::Relaxed);
    }
    let dir = std::env::temp_dir().join(format!("gavel-alloc-{}", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["gen", "crash", "--seed", "7919", "--accounts", "20000", "--out"])
        .arg(&dir)
        .output()
        .expect("gavel gen crash");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let set = InstrumentSet::load(&dir.join("instruments.toml")).expect("instruments");
    let events = events(&dir, &set);
    assert!(events.len() > 100_000, "{} events", events.len());
    let mut finals = Vec::new();
    // The third run restores the engine from its own snapshot halfway: the restored engine
    // allocates nothing either and ends in exactly the state of the run without the restore.
    for (name, restore_at) in [("adaptive", None), ("naive", None), ("adaptive", Some(events.len() / 2))] {
        let mut book = RiskBook::new(InstrumentSet::load(&dir.join("instruments.toml")).expect("instruments"));
        let accounts = loader::read_file(&dir.join("accounts.csv")).expect("accounts");
        loader::load_accounts(&mut book, &accounts, "accounts.csv").expect("accounts");
        let positions = loader::read_file(&dir.join("positions.csv")).expect("positions");
        loader::load_positions(&mut book, &positions, "positions.csv").expect("positions");
        let policy = EnginePolicy::builtin(name).expect("policy");
        let mut world = World::new(
            book,
            0,
            vec![Venue::BinanceUsdm, Venue::Bybit],
            policy,
            WorldConfig::default(),
            |_| {},
            Box::new(|_: &Event| {}),
            Clock::monotonic(),
        )
        .expect("world");
        world.set_engine_hook(in_engine);
        ENGINE_ALLOCATIONS.store(0, Ordering::Relaxed);
        for (k, e) in events.iter().enumerate() {
            if restore_at == Some(k) {
                let mut snapshot = Vec::new();
                world.engine().write_snapshot(&mut snapshot).expect("snapshot");
                world.restore_engine_snapshot(&snapshot).expect("restore");
                assert!(world.engine().active_liquidations() > 0 || world.engine().metrics().liquidations > 0, "restored mid-crash");
            }
            world.on_capture(e);
        }
        let mut end = Vec::new();
        world.engine().write_snapshot(&mut end).expect("snapshot");
        let (outcome, _, _) = world.finish(name);
        let allocations = ENGINE_ALLOCATIONS.load(Ordering::Relaxed);
        assert!(outcome.liquidations > 1_000, "{name}: the crash liquidates ({} liquidations)", outcome.liquidations);
        assert_eq!(outcome.conservation_error, 0);
        assert_eq!(allocations, 0, "{name} (restored: {restore_at:?}): the engine allocated {allocations} times on its event path");
        finals.push(end);
    }
    assert!(finals[2] == finals[0], "the run restored from a snapshot halfway ends in the same state as the run without");
    std::fs::remove_dir_all(&dir).ok();
}
