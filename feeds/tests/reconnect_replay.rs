//! A live capture that reconnects mid-stream replays into the same venue book as
//! a straight replay of every frame.
//!
//! A seeded generator walks a Binance USD-M book: one update id per level change,
//! diffs chained by `U/u/pu`, and a REST snapshot of the book at any update id.
//! The local server serves session 1, drops the connection without a close frame,
//! loses frames while "down" (the venue moved on), and serves session 2 from a
//! later frame; each session's REST snapshot is the book at an update id inside
//! that session's frames, so session 2's snapshot holds changes the client never
//! saw. The live loop records the capture; `replay_capture` must detect the
//! broken chain, resync on session 2's snapshot and end on the generator's book.
//!
//! Everything runs on 127.0.0.1; every wait is bounded (sleeping, never spinning).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_feeds::capture::CaptureWriter;
use gavel_feeds::capture_feed::{replay_capture, FeedStats};
use gavel_feeds::clock::Clock;
use gavel_feeds::decimal::Grid;
use gavel_feeds::net::tls::client_config_with_ca;
use gavel_feeds::net::{
    read_capture, BackoffConfig, ConnectionSpec, LiveLoop, NetConfig, PingStyle, RecordKind, Sink, SnapshotSpec,
    StopReason,
};
use gavel_feeds::rng::SplitMix64;
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use gavel_feeds::wire::PriceLevel;
use gavel_feeds::{Event, EventKind, Side, Venue};
use url::Url;

mod common;
use common::*;

/// Levels per side of the generated book (the replay sends the top `DEPTH`).
const BOOK_LEVELS: i64 = 30;
/// Levels per side the feed handler sends on.
const DEPTH: usize = 10;
const SYMBOL: &str = "BTCUSDT";
const STREAM_CHANNEL: &str = "ws/binance-usdm";
const SNAPSHOT_CHANNEL: &str = "rest/depth/BTCUSDT";

// ---------------------------------------------------------------- the generated venue

/// One side's levels: price ticks → quantity lots.
type Levels = BTreeMap<i64, i64>;

/// One level change with its own update id.
#[derive(Clone, Copy, Debug)]
struct Change {
    id: u64,
    side: Side,
    price: i64,
    /// 0 removes the level.
    qty: i64,
}

/// One depth diff as the venue streams it.
struct Frame {
    first_id: u64,
    final_id: u64,
    json: String,
}

/// A deterministic Binance USD-M book path: the initial book, every change, the frames.
struct BookPath {
    initial: (Levels, Levels),
    changes: Vec<Change>,
    frames: Vec<Frame>,
}

fn price_text(ticks: i64) -> String {
    format!("{}.{}", ticks / 10, ticks % 10)
}

fn qty_text(lots: i64) -> String {
    format!("{}.{:03}", lots / 1000, lots % 1000)
}

fn levels_json<'a>(levels: impl Iterator<Item = (&'a i64, &'a i64)>) -> String {
    let items: Vec<String> = levels.map(|(&p, &q)| format!(r#"["{}","{}"]"#, price_text(p), qty_text(q))).collect();
    format!("[{}]", items.join(","))
}

/// The book the venue wants around `mid`: a ladder with the occasional hole,
/// resting quantities mostly kept from `previous`.
fn desired_side(rng: &mut SplitMix64, previous: &Levels, mid: i64, side: Side) -> Levels {
    let mut levels = Levels::new();
    for i in 0..BOOK_LEVELS {
        let price = if side == Side::Bid { mid - 1 - i } else { mid + 1 + i };
        if rng.below(100) < 8 {
            continue; // a hole in the ladder
        }
        let qty = match previous.get(&price) {
            Some(&q) if rng.below(100) < 75 => q,
            _ => rng.range_i64(1, 5_000),
        };
        levels.insert(price, qty);
    }
    levels
}

/// A level change before it gets its update id: side, price ticks, quantity lots.
type LevelSet = (Side, i64, i64);

/// Removals of `side` turning `old` into `new`, then additions and updates.
fn side_changes(old: &Levels, new: &Levels, side: Side) -> (Vec<LevelSet>, Vec<LevelSet>) {
    let removals = old.keys().filter(|p| !new.contains_key(p)).map(|&p| (side, p, 0)).collect();
    let sets = new.iter().filter(|(p, q)| old.get(p) != Some(q)).map(|(&p, &q)| (side, p, q)).collect();
    (removals, sets)
}

impl BookPath {
    fn generate(seed: u64, frame_count: usize) -> BookPath {
        let mut rng = SplitMix64::new(seed);
        let mut mid = 500_000i64; // 50000.0
        let mut bids = desired_side(&mut rng, &Levels::new(), mid, Side::Bid);
        let mut asks = desired_side(&mut rng, &Levels::new(), mid, Side::Ask);
        let initial = (bids.clone(), asks.clone());
        let mut changes = Vec::new();
        let mut frames = Vec::with_capacity(frame_count);
        let mut last_final = 7_000_000u64;
        for k in 0..frame_count {
            mid += rng.range_i64(-3, 3);
            let new_bids = desired_side(&mut rng, &bids, mid, Side::Bid);
            let new_asks = desired_side(&mut rng, &asks, mid, Side::Ask);
            let (mut ordered, bid_sets) = side_changes(&bids, &new_bids, Side::Bid);
            let (ask_removals, ask_sets) = side_changes(&asks, &new_asks, Side::Ask);
            // Removals first: every partly applied frame (a snapshot taken inside
            // its id range) is then a subset of the old or the new book, never crossed.
            ordered.extend(ask_removals);
            ordered.extend(bid_sets);
            ordered.extend(ask_sets);
            if ordered.is_empty() {
                let (&price, &qty) = new_bids.iter().next_back().unwrap();
                ordered.push((Side::Bid, price, qty + 1));
            }
            // Futures ids are not contiguous between frames (other symbols share them).
            let first_id = last_final + 1 + rng.below(3);
            let final_id = first_id + ordered.len() as u64 - 1;
            let (mut b, mut a) = (Vec::new(), Vec::new());
            for (n, &(side, price, qty)) in ordered.iter().enumerate() {
                changes.push(Change { id: first_id + n as u64, side, price, qty });
                let list = if side == Side::Bid { &mut b } else { &mut a };
                list.push(format!(r#"["{}","{}"]"#, price_text(price), qty_text(qty)));
            }
            let ms = 1_700_000_000_000u64 + k as u64 * 100;
            let json = format!(
                r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":{ms},"T":{ms},"s":"{SYMBOL}","U":{first_id},"u":{final_id},"pu":{last_final},"b":[{}],"a":[{}]}}}}"#,
                b.join(","),
                a.join(",")
            );
            frames.push(Frame { first_id, final_id, json });
            last_final = final_id;
            bids = new_bids;
            asks = new_asks;
            // Keep what the frame's changes produced (a forced change alters the quantity).
            for c in &changes[changes.len() - ordered.len()..] {
                let book = if c.side == Side::Bid { &mut bids } else { &mut asks };
                if c.qty == 0 {
                    book.remove(&c.price);
                } else {
                    book.insert(c.price, c.qty);
                }
            }
        }
        BookPath { initial, changes, frames }
    }

    /// The venue's book after every change with id ≤ `update_id`.
    fn book_at(&self, update_id: u64) -> (Levels, Levels) {
        let (mut bids, mut asks) = self.initial.clone();
        for c in self.changes.iter().take_while(|c| c.id <= update_id) {
            let book = if c.side == Side::Bid { &mut bids } else { &mut asks };
            if c.qty == 0 {
                book.remove(&c.price);
            } else {
                book.insert(c.price, c.qty);
            }
        }
        (bids, asks)
    }

    /// The REST snapshot (`GET /fapi/v1/depth`) of the book at `update_id`.
    fn snapshot_json(&self, update_id: u64) -> Vec<u8> {
        let (bids, asks) = self.book_at(update_id);
        format!(
            r#"{{"lastUpdateId":{update_id},"E":1700000000000,"T":1700000000000,"bids":{},"asks":{}}}"#,
            levels_json(bids.iter().rev()),
            levels_json(asks.iter())
        )
        .into_bytes()
    }

    /// An update id strictly inside frame `k`'s range when it has room: the
    /// snapshot then holds part of that frame, as on the venue.
    fn id_inside(&self, k: usize) -> u64 {
        let f = &self.frames[k];
        f.first_id + (f.final_id - f.first_id) / 2
    }
}

/// The best `depth` levels of each side.
fn top(book: &(Levels, Levels), depth: usize) -> (Levels, Levels) {
    (
        book.0.iter().rev().take(depth).map(|(&p, &q)| (p, q)).collect(),
        book.1.iter().take(depth).map(|(&p, &q)| (p, q)).collect(),
    )
}

// ---------------------------------------------------------------- replay side

fn instruments() -> Instruments {
    Instruments::new(vec![InstrumentSpec::new(
        SYMBOL,
        1,
        Grid::from_step("0.1").unwrap(),
        Grid::from_step("0.001").unwrap(),
    )])
}

/// What the engine's mirror sees: the book after the last event, and the book after
/// each update id whose diff changed the window (gap clearings excluded).
struct Mirror {
    book: (Levels, Levels),
    by_update: BTreeMap<u64, (Levels, Levels)>,
    gap_events: usize,
}

fn mirror(events: &[Event]) -> Mirror {
    let mut m = Mirror { book: Default::default(), by_update: BTreeMap::new(), gap_events: 0 };
    let mut clearing: Option<u64> = None;
    for (i, e) in events.iter().enumerate() {
        if e.kind == EventKind::Gap as u8 {
            m.gap_events += 1;
            clearing = Some(e.sequence);
            continue;
        }
        assert_eq!(e.kind, EventKind::BookLevel as u8, "only book events from depth frames");
        let level: PriceLevel = e.payload();
        let side = if e.side == Side::Bid as u8 { &mut m.book.0 } else { &mut m.book.1 };
        if level.qty == 0 {
            assert!(side.remove(&level.price).is_some(), "removal of a level never sent: {}", level.price);
        } else {
            side.insert(level.price, level.qty);
        }
        let batch_ends = events.get(i + 1).is_none_or(|n| n.sequence != e.sequence || n.kind != e.kind);
        if clearing == Some(e.sequence) {
            if batch_ends {
                clearing = None;
            }
        } else if batch_ends {
            m.by_update.insert(e.sequence, m.book.clone());
        }
    }
    m
}

fn replay(path: &Path) -> (Vec<Event>, FeedStats) {
    let clock = Clock::monotonic();
    let mut events = Vec::new();
    let stats =
        replay_capture(path, |_| instruments(), DEPTH, &clock, &mut |e, _| events.push(e)).map_err(|e| e.0).unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].0, Venue::BinanceUsdm);
    (events, stats[0].1.clone())
}

/// The straight capture: the initial snapshot, then every frame.
fn write_straight_capture(path: &Path, book: &BookPath, snapshot: &[u8]) {
    let mut writer = CaptureWriter::create(path).unwrap();
    let t0 = 1_700_000_000_000_000_000i64;
    writer.append(t0, Venue::BinanceUsdm, SNAPSHOT_CHANNEL.as_bytes(), snapshot).unwrap();
    for (k, frame) in book.frames.iter().enumerate() {
        writer.append(t0 + 1 + k as i64, Venue::BinanceUsdm, STREAM_CHANNEL.as_bytes(), frame.json.as_bytes()).unwrap();
    }
    writer.flush().unwrap();
}

// ---------------------------------------------------------------- live side

/// Records the capture and counts stream frames and snapshots for the servers' gates.
struct GatedCapture {
    writer: CaptureWriter<io::BufWriter<std::fs::File>>,
    frames: Arc<AtomicUsize>,
    snapshots: Arc<AtomicUsize>,
}

impl Sink for GatedCapture {
    fn on_message(&mut self, receive_ns: i64, venue: Venue, channel: &[u8], message: &[u8]) -> io::Result<()> {
        self.writer.append(receive_ns, venue, channel, message)?;
        if channel == STREAM_CHANNEL.as_bytes() {
            self.frames.fetch_add(1, Ordering::AcqRel);
        } else if channel.starts_with(b"rest/depth") {
            self.snapshots.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

/// The scenario: session 1 serves frames `0..SESSION1_END`, the frames up to
/// `SESSION2_START` are lost while the client is down, session 2 serves the rest.
const FRAMES: usize = 120;
const SESSION1_END: usize = 50;
const SESSION2_START: usize = 65;
/// Session 2's snapshot is taken inside this frame: the two frames before it,
/// already received, are older than the snapshot (stale, dropped by the sync).
const SNAPSHOT2_FRAME: usize = SESSION2_START + 2;

fn run(name: &str, tls: bool) {
    let started = Instant::now();
    let book = BookPath::generate(0x5eed_9a7e, FRAMES);
    let snapshot1 = book.snapshot_json(book.id_inside(0));
    let snapshot2 = book.snapshot_json(book.id_inside(SNAPSHOT2_FRAME));
    let session1: Vec<String> = book.frames[..SESSION1_END].iter().map(|f| f.json.clone()).collect();
    let session2: Vec<String> = book.frames[SESSION2_START..].iter().map(|f| f.json.clone()).collect();

    // Each snapshot reply waits until its session's frames are recorded, so the
    // capture order is fixed: frames 1, snapshot 1, marker, frames 2, snapshot 2.
    // Session 1 is dropped (no close frame) once snapshot 1 is recorded.
    let test_tls = if tls { Some(test_tls(name)) } else { None };
    let server_tls = test_tls.as_ref().map(|t| t.server.clone());
    let frames_recorded = Arc::new(AtomicUsize::new(0));
    let snapshots_recorded = Arc::new(AtomicUsize::new(0));
    let plans = vec![
        SessionPlan::new(session1.clone(), SessionEnd::DropAfterSnapshots(1)),
        SessionPlan::new(session2.clone(), SessionEnd::UntilClientCloses),
    ];
    let (ws_port, ws_server) = spawn_ws_server(server_tls.clone(), plans, snapshots_recorded.clone());
    let (rest_port, rest_server) = spawn_gated_rest_server(
        server_tls,
        vec![
            (200, snapshot1.clone(), Some((frames_recorded.clone(), session1.len()))),
            (200, snapshot2.clone(), Some((frames_recorded.clone(), session1.len() + session2.len()))),
        ],
    );
    let (ws_scheme, http_scheme) = if tls { ("wss", "https") } else { ("ws", "http") };
    let spec = ConnectionSpec::new(
        STREAM_CHANNEL.into(),
        Venue::BinanceUsdm,
        Url::parse(&format!("{ws_scheme}://127.0.0.1:{ws_port}/stream?streams=btcusdt@depth@0ms")).unwrap(),
        vec![SUBSCRIBE.to_string()],
        vec![SnapshotSpec {
            url: Url::parse(&format!("{http_scheme}://127.0.0.1:{rest_port}/fapi/v1/depth?symbol=BTCUSDT&limit=1000"))
                .unwrap(),
            channel: SNAPSHOT_CHANNEL.into(),
        }],
        PingStyle::Frame,
    )
    .unwrap();
    let config = NetConfig {
        tls: test_tls.as_ref().map(|t| client_config_with_ca(&t.cert_pem_path).unwrap()),
        backoff: BackoffConfig {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            ..BackoffConfig::default()
        },
        ping_after: Duration::from_secs(60),
        dead_after: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(8),
        max_poll_wait: Duration::from_millis(50),
    };
    let live_path = temp_path(&format!("{name}-live.gvl"));
    let mut sink = GatedCapture {
        writer: CaptureWriter::create(&live_path).unwrap(),
        frames: frames_recorded,
        snapshots: snapshots_recorded,
    };
    let received = (session1.len() + session2.len()) as u64;
    let mut live = LiveLoop::new(vec![spec], config).unwrap();
    let reason = live
        .run(&mut sink, Some(Instant::now() + Duration::from_secs(9)), &mut |st| {
            st[0].messages() == received && st[0].snapshots == 2
        })
        .unwrap();
    let net = live.stats().remove(0);
    assert_eq!(reason, StopReason::Requested, "{net:#?}");
    drop(live);
    sink.writer.flush().unwrap();
    drop(sink);
    assert_eq!((net.sessions, net.reconnects, net.snapshots, net.snapshot_errors), (2, 1, 2, 0), "{net:#?}");
    assert_eq!(ws_server.join().unwrap().len(), 2);
    assert_eq!(rest_server.join().unwrap().len(), 2);

    // The capture holds what the scenario says, in the order the gates fixed.
    let kinds: Vec<RecordKind> = read_capture(&live_path).unwrap().into_iter().map(|r| r.kind).collect();
    let snap = RecordKind::Snapshot { symbol: SYMBOL.into() };
    let mut expected = vec![RecordKind::Stream; session1.len()];
    expected.push(snap.clone());
    expected.push(RecordKind::Reconnect);
    expected.extend(vec![RecordKind::Stream; session2.len()]);
    expected.push(snap);
    assert!(kinds == expected, "capture record order: {kinds:?}");

    // Straight replay: the initial snapshot and every frame, no connection involved.
    let straight_path = temp_path(&format!("{name}-straight.gvl"));
    write_straight_capture(&straight_path, &book, &snapshot1);
    let (straight_events, straight_stats) = replay(&straight_path);
    let (live_events, live_stats) = replay(&live_path);

    // Straight: every frame applied, nothing missed.
    assert_eq!(straight_stats.parse_errors, 0, "{:?}", straight_stats.first_errors);
    assert_eq!((straight_stats.gaps, straight_stats.reconnects), (0, 0), "{straight_stats:?}");
    assert_eq!(straight_stats.book_updates, FRAMES as u64);
    // Live: one marker; one gap (session 2's first frame does not continue the
    // chain of session 1's last); the two received frames older than snapshot 2
    // are dropped as stale; every other received frame is applied.
    assert_eq!(live_stats.parse_errors, 0, "{:?}", live_stats.first_errors);
    assert_eq!(live_stats.messages, received + 2, "frames + 2 snapshots (the marker is not a message)");
    assert_eq!((live_stats.gaps, live_stats.reconnects), (1, 1), "{live_stats:?}");
    assert_eq!(live_stats.book_updates, (SESSION1_END + FRAMES - SNAPSHOT2_FRAME) as u64, "{live_stats:?}");

    let straight = mirror(&straight_events);
    let live = mirror(&live_events);
    assert_eq!(live.gap_events, 1);
    let gap = live_events.iter().find(|e| e.kind == EventKind::Gap as u8).unwrap();
    assert_eq!(gap.sequence, book.frames[SESSION2_START].final_id, "the gap is session 2's first frame");

    // The end: live mirror == straight mirror == the generator's top DEPTH levels.
    let final_book = top(&book.book_at(book.frames[FRAMES - 1].final_id), DEPTH);
    assert_eq!(final_book.0.len(), DEPTH);
    assert_eq!(final_book.1.len(), DEPTH);
    assert!(live.book == straight.book, "live {:?}\nstraight {:?}", live.book, straight.book);
    assert!(straight.book == final_book, "straight {:?}\ngenerator {:?}", straight.book, final_book);

    // On the way: after every update id the straight replay reached, its mirror is
    // the generator's book; after every update id the live replay reached (before
    // the drop and after the resync), its mirror is the straight one.
    assert!(straight.by_update.len() > FRAMES / 2, "few window changes: {}", straight.by_update.len());
    for (&id, state) in &straight.by_update {
        assert!(*state == top(&book.book_at(id), DEPTH), "straight replay differs from the venue at {id}");
    }
    let lost = book.frames[SESSION1_END].first_id..book.frames[SNAPSHOT2_FRAME].first_id;
    let (mut before, mut after) = (0, 0);
    for (&id, state) in &live.by_update {
        assert!(!lost.contains(&id), "update {id} was never received or is older than snapshot 2");
        assert!(straight.by_update.get(&id) == Some(state), "live replay differs from the straight one at {id}");
        if id < lost.start {
            before += 1;
        } else {
            after += 1;
        }
    }
    assert!(before > 10 && after > 10, "{before} states checked before the drop, {after} after the resync");

    std::fs::remove_file(&live_path).unwrap();
    std::fs::remove_file(&straight_path).unwrap();
    if let Some(t) = test_tls {
        std::fs::remove_file(&t.cert_pem_path).unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(10), "scenario took {:?}", started.elapsed());
}

#[test]
fn plain_ws_reconnect_replays_to_the_straight_book() {
    run("resync-plain", false);
}

#[test]
fn tls_ws_reconnect_replays_to_the_straight_book() {
    run("resync-tls", true);
}

/// The generator itself: frames chain, and a snapshot inside a frame plus that
/// frame's levels is the book after the frame.
#[test]
fn generated_path_chains_and_snapshots_bracket() {
    let book = BookPath::generate(7, 40);
    for w in book.frames.windows(2) {
        assert!(w[1].json.contains(&format!(r#""pu":{}"#, w[0].final_id)));
        assert!(w[1].first_id > w[0].final_id && w[1].final_id >= w[1].first_id);
    }
    for k in 0..book.frames.len() {
        let f = &book.frames[k];
        let inside = book.id_inside(k);
        assert!(f.first_id <= inside && inside <= f.final_id);
        let (bids, asks) = book.book_at(f.final_id);
        assert!(bids.keys().next_back() < asks.keys().next(), "crossed after frame {k}");
    }
    assert_ne!(book.book_at(book.frames[0].final_id), book.book_at(book.frames[39].final_id));
}
