//! A live capture that reconnects mid-stream replays into the same venue book as
//! a straight replay of every frame.
//!
//! A seeded generator (`gavel_sim::generate::diffs`) walks a Binance USD-M
//! book: one update id per level change, diffs chained by `U/u/pu`, and a REST
//! snapshot of the book at any update id.
//! The local server serves session 1, drops the connection without a close frame,
//! loses frames while "down" (the venue moved on), and serves session 2 from a
//! later frame; each session's REST snapshot is the book at an update id inside
//! that session's frames, so session 2's snapshot holds changes the client never
//! saw. The live loop records the capture; `replay_capture` must detect the
//! broken chain, resync on session 2's snapshot and end on the generator's book.
//!
//! Everything runs on 127.0.0.1; every wait is bounded (sleeping, never spinning).

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader};
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
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use gavel_feeds::wire::PriceLevel;
use gavel_feeds::{Event, EventKind, Side, Venue};
use gavel_sim::generate::diffs::{levels_json, BookPath, Frame, Levels, SYMBOL};
use url::Url;

mod common;
use common::*;

/// Levels per side the feed handler sends on for the generated book (a third of its `BOOK_LEVELS`).
const GENERATED_DEPTH: usize = 10;
/// Levels per side the feed handler sends on for the real book.
const REAL_DEPTH: usize = 100;
const STREAM_CHANNEL: &str = "ws/binance-usdm";
const SNAPSHOT_CHANNEL: &str = "rest/depth/BTCUSDT";

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

fn replay(path: &Path, depth: usize) -> (Vec<Event>, FeedStats) {
    let clock = Clock::monotonic();
    let mut events = Vec::new();
    let stats =
        replay_capture(path, |_| instruments(), depth, &clock, &mut |e, _| events.push(e)).map_err(|e| e.0).unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].0, Venue::BinanceUsdm);
    (events, stats[0].1.clone())
}

/// The straight capture: the initial snapshot, then every frame.
fn write_straight_capture(path: &Path, frames: &[Frame], snapshot: &[u8]) {
    let mut writer = CaptureWriter::create_new(path, true).unwrap();
    let t0 = 1_700_000_000_000_000_000i64;
    writer.append(t0, Venue::BinanceUsdm, SNAPSHOT_CHANNEL.as_bytes(), snapshot).unwrap();
    for (k, frame) in frames.iter().enumerate() {
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

/// One reconnect scenario: session 1 serves frames `..session1_end`, the frames
/// up to `session2_start` are lost while the client is down, session 2 serves
/// the rest; session 2's snapshot is the book at an id inside frame
/// `snapshot2_frame` (the frames of session 2 before it are older: stale).
struct Scenario {
    name: String,
    tls: bool,
    frames: Vec<Frame>,
    /// Update id and body of each session's REST snapshot.
    snapshot1: (u64, Vec<u8>),
    snapshot2: (u64, Vec<u8>),
    session1_end: usize,
    session2_start: usize,
    snapshot2_frame: usize,
    /// Session 2's server holds its frames until snapshot 2 is recorded (instead of
    /// the REST reply waiting for all of session 2's frames).
    snapshot2_first: bool,
    /// Levels per side the feed handler sends on.
    depth: usize,
    /// The venue's top `depth` levels after each frame, by the frame's final id.
    venue_tops: BTreeMap<u64, (Levels, Levels)>,
}

fn generated(name: &str, tls: bool) -> Scenario {
    const FRAMES: usize = 120;
    let book = BookPath::generate(0x5eed_9a7e, FRAMES);
    let (session1_end, session2_start) = (50, 65);
    let snapshot2_frame = session2_start + 2;
    let (id1, id2) = (book.id_inside(0), book.id_inside(snapshot2_frame));
    let depth = GENERATED_DEPTH;
    let venue_tops = book.frames.iter().map(|f| (f.final_id, top(&book.book_at(f.final_id), depth))).collect();
    Scenario {
        name: name.into(),
        tls,
        snapshot1: (id1, book.snapshot_json(id1)),
        snapshot2: (id2, book.snapshot_json(id2)),
        frames: book.frames,
        session1_end,
        session2_start,
        snapshot2_frame,
        snapshot2_first: false,
        depth,
        venue_tops,
    }
}

fn run(s: Scenario) {
    let started = Instant::now();
    let name = s.name.as_str();
    let frames = &s.frames;
    let session1: Vec<String> = frames[..s.session1_end].iter().map(|f| f.json.clone()).collect();
    let session2: Vec<String> = frames[s.session2_start..].iter().map(|f| f.json.clone()).collect();

    // Snapshot 1's reply waits until session 1's frames are recorded; session 1 is
    // dropped (no close frame) once snapshot 1 is recorded. Snapshot 2 either waits
    // for all of session 2's frames or is recorded before them: the capture order
    // is fixed either way.
    let test_tls = if s.tls { Some(test_tls(name)) } else { None };
    let server_tls = test_tls.as_ref().map(|t| t.server.clone());
    let frames_recorded = Arc::new(AtomicUsize::new(0));
    let snapshots_recorded = Arc::new(AtomicUsize::new(0));
    let plans = vec![
        SessionPlan::new(session1.clone(), SessionEnd::DropAfterSnapshots(1)),
        SessionPlan {
            frames_after_snapshots: if s.snapshot2_first { 2 } else { 0 },
            ..SessionPlan::new(session2.clone(), SessionEnd::UntilClientCloses)
        },
    ];
    let snapshot2_gate = if s.snapshot2_first { session1.len() } else { session1.len() + session2.len() };
    let (ws_port, ws_server) = spawn_ws_server(server_tls.clone(), plans, snapshots_recorded.clone());
    let (rest_port, rest_server) = spawn_gated_rest_server(
        server_tls,
        vec![
            (200, s.snapshot1.1.clone(), Some((frames_recorded.clone(), session1.len()))),
            (200, s.snapshot2.1.clone(), Some((frames_recorded.clone(), snapshot2_gate))),
        ],
    );
    let (ws_scheme, http_scheme) = if s.tls { ("wss", "https") } else { ("ws", "http") };
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
        writer: CaptureWriter::create_new(&live_path, true).unwrap(),
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
    if s.snapshot2_first {
        expected.push(snap);
        expected.extend(vec![RecordKind::Stream; session2.len()]);
    } else {
        expected.extend(vec![RecordKind::Stream; session2.len()]);
        expected.push(snap);
    }
    assert!(kinds == expected, "capture record order differs from the scenario");

    // Straight replay: snapshot 1 and every frame, no connection involved.
    let straight_path = temp_path(&format!("{name}-straight.gvl"));
    write_straight_capture(&straight_path, frames, &s.snapshot1.1);
    let (straight_events, straight_stats) = replay(&straight_path, s.depth);
    let (live_events, live_stats) = replay(&live_path, s.depth);

    // Straight: every frame from the one bracketing snapshot 1 on is applied, no gap.
    let first_applied = frames.iter().position(|f| f.final_id >= s.snapshot1.0).unwrap();
    assert!(frames[first_applied].first_id <= s.snapshot1.0, "snapshot 1 falls inside a frame");
    assert_eq!(straight_stats.parse_errors, 0, "{:?}", straight_stats.first_errors);
    assert_eq!((straight_stats.gaps, straight_stats.reconnects), (0, 0), "{straight_stats:?}");
    assert_eq!(straight_stats.book_updates, (frames.len() - first_applied) as u64);
    // Live: one marker, which drops the book at once (one `Gap` event, reason
    // RECONNECT) and restarts the sync, so no sequence gap follows in either
    // order of snapshot 2 and session 2's frames; the received frames older than
    // snapshot 2 are dropped as stale; every other received frame is applied.
    let gaps = 0;
    assert_eq!(live_stats.parse_errors, 0, "{:?}", live_stats.first_errors);
    assert_eq!(live_stats.messages, received + 2, "frames + 2 snapshots (the marker is not a message)");
    assert_eq!((live_stats.gaps, live_stats.reconnects), (gaps, 1), "{live_stats:?}");
    let not_applied = (s.snapshot2_frame - s.session1_end) as u64;
    assert_eq!(live_stats.book_updates, straight_stats.book_updates - not_applied, "{live_stats:?}");

    let straight = mirror(&straight_events);
    let live = mirror(&live_events);
    assert_eq!(live.gap_events, 1, "exactly the reconnect's gap");
    let gap = live_events.iter().find(|e| e.kind == EventKind::Gap as u8).unwrap();
    let marker: gavel_feeds::wire::GapMarker = gap.payload();
    assert_eq!(marker.reason, gavel_feeds::wire::gap_reason::RECONNECT);

    // The end: live mirror == straight mirror == the venue's top `depth` levels.
    let final_top = &s.venue_tops[&frames.last().unwrap().final_id];
    assert_eq!((final_top.0.len(), final_top.1.len()), (s.depth, s.depth));
    assert!(live.book == straight.book, "live {:?}\nstraight {:?}", live.book, straight.book);
    assert!(straight.book == *final_top, "straight {:?}\nvenue {:?}", straight.book, final_top);

    // On the way: after every update id the straight replay reached, its mirror is
    // the venue's book; after every update id the live replay reached (before the
    // drop and after the resync), its mirror is the straight one.
    assert!(straight.by_update.len() > frames.len() / 2, "few window changes: {}", straight.by_update.len());
    for (&id, state) in &straight.by_update {
        assert!(s.venue_tops.get(&id) == Some(state), "straight replay differs from the venue at {id}");
    }
    let lost = frames[s.session1_end].first_id..frames[s.snapshot2_frame].first_id;
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
    run(generated("resync-plain", false));
}

#[test]
fn tls_ws_reconnect_replays_to_the_straight_book() {
    run(generated("resync-tls", true));
}

/// Snapshot 2 recorded before any frame of session 2: no gap is counted (the
/// snapshot restarts the sync), and the book still ends on the straight one.
#[test]
fn plain_ws_reconnect_with_snapshot_first_replays_to_the_straight_book() {
    run(Scenario { snapshot2_first: true, ..generated("resync-snapshot-first", false) });
}

// ---------------------------------------------------------------- real data

/// `text` (a decimal) in integer units of 10^-`places`; finer non-zero digits are refused.
fn units(text: &str, places: usize) -> i64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let (kept, rest) = frac.split_at(frac.len().min(places));
    assert!(rest.bytes().all(|b| b == b'0'), "{text} is finer than {places} decimal places");
    let scale = 10i64.pow(places as u32);
    let kept_value =
        if kept.is_empty() { 0 } else { kept.parse::<i64>().unwrap() * 10i64.pow((places - kept.len()) as u32) };
    int.parse::<i64>().unwrap() * scale + kept_value
}

/// Applies Binance `[["price","qty"],…]` levels (price to 0.1 ticks, qty to 0.001 lots).
fn apply_json_levels(side: &mut Levels, levels: &serde_json::Value) {
    for level in levels.as_array().unwrap() {
        let (price, qty) = (units(level[0].as_str().unwrap(), 1), units(level[1].as_str().unwrap(), 3));
        if qty == 0 {
            side.remove(&price);
        } else {
            side.insert(price, qty);
        }
    }
}

/// The hftbacktest USD-M BTCUSDT capture's depth frames with its one REST snapshot
/// as session 1's. The file holds no second snapshot, so session 2's is derived:
/// the book after frame `snapshot2_frame - 1` (the file's snapshot plus the file's
/// diffs, applied here independently of gavel's sync), stamped with the first
/// update id of frame `snapshot2_frame`. A real snapshot at that id would also
/// hold that id's change; the frame re-sets every level it names, so the book
/// after the frame is the same either way.
fn real(name: &str, tls: bool) -> Scenario {
    let path = gavel_feeds::data_dir::require_data_file("hftbacktest/usdm/btcusdt_20240808.gz");
    let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()));
    let mut frames = Vec::new();
    let mut snapshot: Option<serde_json::Value> = None;
    let mut snapshot_text = Vec::new();
    let mut chain = Vec::new(); // (U, u, pu, data) of every depth frame
    for line in reader.lines() {
        let line = line.unwrap();
        let (_, json) = line.split_once(' ').expect("<timestamp> <json>");
        if json.starts_with("{\"lastUpdateId\"") {
            snapshot = Some(serde_json::from_str(json).unwrap());
            snapshot_text = json.as_bytes().to_vec();
        } else if json.starts_with("{\"stream\":\"btcusdt@depth@0ms\"") {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            let data = value["data"].clone();
            let id = |key: &str| data[key].as_u64().unwrap();
            frames.push(Frame { first_id: id("U"), final_id: id("u"), json: json.to_string() });
            chain.push((id("pu"), data));
        }
    }
    let snapshot = snapshot.expect("the file holds a REST snapshot line");
    let snapshot1_id = snapshot["lastUpdateId"].as_u64().unwrap();
    let session1_end = frames.len() / 2;
    let session2_start = session1_end + 200;
    let snapshot2_frame = session2_start + 3;

    let mut book = (Levels::new(), Levels::new());
    apply_json_levels(&mut book.0, &snapshot["bids"]);
    apply_json_levels(&mut book.1, &snapshot["asks"]);
    let mut venue_tops = BTreeMap::new();
    let mut last: Option<u64> = None;
    let mut snapshot2 = None;
    for (k, (frame, (pu, data))) in frames.iter().zip(&chain).enumerate() {
        if k == snapshot2_frame {
            let body = format!(
                r#"{{"lastUpdateId":{},"E":1723161256501,"T":1723161256493,"bids":{},"asks":{}}}"#,
                frame.first_id,
                levels_json(book.0.iter().rev()),
                levels_json(book.1.iter())
            );
            snapshot2 = Some((frame.first_id, body.into_bytes()));
        }
        match last {
            None if frame.final_id < snapshot1_id => continue,
            None => assert!(frame.first_id <= snapshot1_id, "the file's snapshot is bracketed by a diff"),
            Some(previous) => assert_eq!(*pu, previous, "the file's diffs chain (frame {k})"),
        }
        apply_json_levels(&mut book.0, &data["b"]);
        apply_json_levels(&mut book.1, &data["a"]);
        assert!(book.0.keys().next_back() < book.1.keys().next(), "the file's book crosses at frame {k}");
        venue_tops.insert(frame.final_id, top(&book, REAL_DEPTH));
        last = Some(frame.final_id);
    }
    Scenario {
        name: name.into(),
        tls,
        frames,
        snapshot1: (snapshot1_id, snapshot_text),
        snapshot2: snapshot2.unwrap(),
        session1_end,
        session2_start,
        snapshot2_frame,
        snapshot2_first: false,
        depth: REAL_DEPTH,
        venue_tops,
    }
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn plain_ws_reconnect_of_real_frames_replays_to_the_straight_book() {
    run(real("resync-real-plain", false));
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn tls_ws_reconnect_of_real_frames_replays_to_the_straight_book() {
    run(real("resync-real-tls", true));
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
