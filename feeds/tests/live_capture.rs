//! Live capture against a local WebSocket + REST server (plain and TLS): the
//! server drops the first session mid-stream; the capture must hold every frame
//! of both sessions, the resync marker and both snapshots, byte for byte.
//!
//! Everything runs on 127.0.0.1; every wait is bounded.

use std::io::{self, BufRead, BufReader};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use gavel_feeds::capture::CaptureWriter;
use gavel_feeds::net::tls::{client_config_with_ca, client_config_with_certs};
use gavel_feeds::net::{
    read_capture, BackoffConfig, ConnectionSpec, LiveLoop, NetConfig, PingStyle, RecordKind, Sink, SnapshotSpec,
    StopReason, RECONNECT_CHANNEL,
};
use gavel_feeds::Venue;
use rustls::{ServerConnection, StreamOwned};
use url::Url;

mod common;
use common::*;

// ---------------------------------------------------------------- scenario

struct Scenario {
    name: &'static str,
    tls: bool,
    session1: Vec<String>,
    session2: Vec<String>,
    snapshot1: Vec<u8>,
    snapshot2: Vec<u8>,
}

/// A sink that writes the capture and tells the server thread how many snapshots it recorded.
struct CountingCapture {
    writer: CaptureWriter<io::BufWriter<std::fs::File>>,
    snapshots: Arc<AtomicUsize>,
}

impl Sink for CountingCapture {
    fn on_message(&mut self, receive_ns: i64, venue: Venue, channel: &[u8], message: &[u8]) -> io::Result<()> {
        self.writer.append(receive_ns, venue, channel, message)?;
        if channel.starts_with(b"rest/depth") {
            self.snapshots.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

fn run_scenario(s: Scenario) {
    let tls = if s.tls { Some(test_tls(s.name)) } else { None };
    let server_tls = tls.as_ref().map(|t| t.server.clone());
    let snapshots_recorded = Arc::new(AtomicUsize::new(0));
    let plans = vec![
        SessionPlan { ping: true, ..SessionPlan::new(s.session1.clone(), SessionEnd::DropAfterSnapshots(1)) },
        SessionPlan::new(s.session2.clone(), SessionEnd::UntilClientCloses),
    ];
    let (ws_port, ws_server) = spawn_ws_server(server_tls.clone(), plans, snapshots_recorded.clone());
    let (rest_port, rest_server) =
        spawn_rest_server(server_tls, vec![(200, s.snapshot1.clone()), (200, s.snapshot2.clone())]);

    let (ws_scheme, http_scheme) = if s.tls { ("wss", "https") } else { ("ws", "http") };
    let ws_url = Url::parse(&format!("{ws_scheme}://127.0.0.1:{ws_port}/stream?streams=btcusdt@depth@0ms")).unwrap();
    let rest_url =
        Url::parse(&format!("{http_scheme}://127.0.0.1:{rest_port}/fapi/v1/depth?symbol=BTCUSDT&limit=1000")).unwrap();
    let spec = ConnectionSpec::new(
        "ws/binance-usdm".into(),
        Venue::BinanceUsdm,
        ws_url,
        vec![SUBSCRIBE.to_string()],
        vec![SnapshotSpec { url: rest_url, channel: "rest/depth/BTCUSDT".into() }],
        PingStyle::Frame,
    )
    .unwrap();
    let client_tls = match &tls {
        // One scenario trusts the PEM file (the CLI's option), the other the DER directly.
        Some(t) if s.name.contains("real") => {
            Some(client_config_with_certs(std::slice::from_ref(&t.cert_der)).unwrap())
        }
        Some(t) => Some(client_config_with_ca(&t.cert_pem_path).unwrap()),
        None => None,
    };
    let config = NetConfig {
        tls: client_tls,
        backoff: BackoffConfig {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            ..BackoffConfig::default()
        },
        ping_after: Duration::from_secs(60),
        dead_after: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(15),
        max_poll_wait: Duration::from_millis(50),
    };
    let capture_path = temp_path(&format!("{}.gvl", s.name));
    let mut sink = CountingCapture {
        writer: CaptureWriter::create_new(&capture_path, true).unwrap(),
        snapshots: snapshots_recorded.clone(),
    };
    let total = (s.session1.len() + s.session2.len()) as u64;
    let mut live = LiveLoop::new(vec![spec], config).unwrap();
    let t_start = gavel_feeds::net::realtime_ns();
    let deadline = Instant::now() + WAIT_LIMIT;
    let reason = live
        .run(&mut sink, Some(deadline), &mut |stats| {
            stats[0].messages() == total && stats[0].snapshots == 2 && stats[0].reconnects == 1
        })
        .unwrap();
    let t_end = gavel_feeds::net::realtime_ns();
    let stats = live.stats().remove(0);
    assert_eq!(reason, StopReason::Requested, "{stats:#?}");
    drop(live); // sessions closed: the server's second session ends
    sink.writer.flush().unwrap();
    drop(sink);

    // Counters.
    assert_eq!(stats.text_messages, total);
    assert_eq!(stats.binary_messages, 0);
    assert_eq!(stats.message_bytes, s.session1.iter().chain(&s.session2).map(|f| f.len() as u64).sum::<u64>());
    assert_eq!((stats.sessions, stats.reconnects, stats.snapshots), (2, 1, 2));
    assert_eq!(stats.pings_received, 1);
    assert_eq!(stats.subscribe_sent, 2);
    assert_eq!(stats.peer_closes, 1, "{stats:#?}");
    assert_eq!(stats.failures(), 1, "{stats:#?}");
    assert_eq!(stats.snapshot_bytes, (s.snapshot1.len() + s.snapshot2.len()) as u64);

    // What the servers saw: the URL, a subscription per session, the pong.
    let seen = ws_server.join().expect("ws server thread");
    assert_eq!(seen.len(), 2);
    for session in &seen {
        assert_eq!(session.request_uri, "/stream?streams=btcusdt@depth@0ms");
        assert_eq!(session.subscribes, vec![SUBSCRIBE.to_string()], "re-subscribed after reconnect");
    }
    assert_eq!(seen[0].pong_payloads, vec![PING_PAYLOAD.to_vec()]);
    assert!(seen[1].client_closed_cleanly, "the client sends a close frame on stop");
    let requests = rest_server.join().expect("rest server thread");
    assert_eq!(requests, vec!["GET /fapi/v1/depth?symbol=BTCUSDT&limit=1000 HTTP/1.1"; 2]);

    // The capture, exactly: session 1 frames (+ snapshot 1 somewhere among them),
    // one marker, then session 2 frames (+ snapshot 2 somewhere among them).
    let records = read_capture(&capture_path).unwrap();
    assert_eq!(records.len() as u64, total + 2 + 1);
    let marker_at = records.iter().position(|r| r.kind == RecordKind::Reconnect).expect("marker");
    assert_eq!(records.iter().filter(|r| r.kind == RecordKind::Reconnect).count(), 1);
    assert_eq!(records[marker_at].channel, RECONNECT_CHANNEL.as_bytes());
    let marker = String::from_utf8(records[marker_at].message.clone()).unwrap();
    assert!(marker.starts_with(r#"{"channel":"ws/binance-usdm","session":2,"after":""#), "{marker}");
    let (before, after) = records.split_at(marker_at);
    let after = &after[1..];
    let stream = |part: &[gavel_feeds::net::CapturedMessage]| -> Vec<Vec<u8>> {
        part.iter().filter(|r| r.kind == RecordKind::Stream).map(|r| r.message.clone()).collect()
    };
    let snaps = |part: &[gavel_feeds::net::CapturedMessage]| -> Vec<Vec<u8>> {
        part.iter()
            .filter(|r| r.kind == RecordKind::Snapshot { symbol: "BTCUSDT".into() })
            .map(|r| r.message.clone())
            .collect()
    };
    let expect = |frames: &[String]| -> Vec<Vec<u8>> { frames.iter().map(|f| f.as_bytes().to_vec()).collect() };
    assert!(stream(before) == expect(&s.session1), "session 1 frames differ");
    assert!(stream(after) == expect(&s.session2), "session 2 frames differ");
    assert!(snaps(before) == vec![s.snapshot1.clone()], "snapshot 1 differs");
    assert!(snaps(after) == vec![s.snapshot2.clone()], "snapshot 2 differs");
    for r in &records {
        assert_eq!(r.venue, Venue::BinanceUsdm);
        if r.kind == RecordKind::Stream {
            assert_eq!(r.channel, b"ws/binance-usdm");
        }
    }
    assert!(records.windows(2).all(|w| w[0].receive_ns <= w[1].receive_ns), "receive times in order");
    assert!(records.first().unwrap().receive_ns >= t_start && records.last().unwrap().receive_ns <= t_end);
    std::fs::remove_file(&capture_path).unwrap();
    if let Some(t) = tls {
        std::fs::remove_file(&t.cert_pem_path).unwrap();
    }
}

// ---------------------------------------------------------------- generated frames

fn generated_frames(session: u32, count: u64) -> Vec<String> {
    (0..count)
        .map(|k| {
            // Varying sizes, including one over 64 KiB (multi-record TLS, extended length).
            let pad = if k == 7 { 70_000 } else { (k * 37 % 300) as usize };
            format!(
                r#"{{"stream":"btcusdt@depth@0ms","data":{{"session":{session},"u":{k},"pad":"{}"}}}}"#,
                "x".repeat(pad)
            )
        })
        .collect()
}

fn generated(name: &'static str, tls: bool) -> Scenario {
    Scenario {
        name,
        tls,
        session1: generated_frames(1, 40),
        session2: generated_frames(2, 25),
        snapshot1: br#"{"lastUpdateId":100,"bids":[["1.0","2"]],"asks":[["1.1","3"]]}"#.to_vec(),
        snapshot2: format!(r#"{{"lastUpdateId":200,"bids":[{}],"asks":[]}}"#, vec![r#"["1.0","2"]"#; 2000].join(","))
            .into_bytes(),
    }
}

#[test]
fn plain_ws_reconnect_capture_is_exact() {
    run_scenario(generated("plain-generated", false));
}

#[test]
fn tls_ws_reconnect_capture_is_exact() {
    run_scenario(generated("tls-generated", true));
}

// ---------------------------------------------------------------- real data

/// Frames and the REST snapshot line of the hftbacktest USD-M BTCUSDT capture
/// (first `limit` stream lines).
fn real_frames(limit: usize) -> (Vec<String>, Vec<u8>) {
    let path = gavel_feeds::data_dir::require_data_file("hftbacktest/usdm/btcusdt_20240808.gz");
    let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()));
    let mut frames = Vec::new();
    let mut snapshot = None;
    for line in reader.lines() {
        let line = line.unwrap();
        let (_, json) = line.split_once(' ').expect("<timestamp> <json>");
        if json.starts_with("{\"lastUpdateId\"") {
            snapshot = Some(json.as_bytes().to_vec());
        } else if frames.len() < limit {
            frames.push(json.to_string());
        }
        if snapshot.is_some() && frames.len() >= limit {
            break;
        }
    }
    (frames, snapshot.expect("the file holds a REST snapshot line"))
}

fn real(name: &'static str, tls: bool) -> Scenario {
    let (mut frames, snapshot) = real_frames(usize::MAX);
    let session2 = frames.split_off(frames.len() / 2);
    Scenario { name, tls, session1: frames, session2, snapshot1: snapshot.clone(), snapshot2: snapshot }
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn plain_ws_reconnect_capture_of_real_frames_is_exact() {
    run_scenario(real("plain-real", false));
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn tls_ws_reconnect_capture_of_real_frames_is_exact() {
    run_scenario(real("tls-real", true));
}

// ---------------------------------------------------------------- failure policies

fn quick_config(tls: Option<Arc<rustls::ClientConfig>>) -> NetConfig {
    NetConfig {
        tls,
        backoff: BackoffConfig {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(50),
            ..BackoffConfig::default()
        },
        ping_after: Duration::from_secs(60),
        dead_after: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(15),
        max_poll_wait: Duration::from_millis(50),
    }
}

fn local_spec(scheme: &str, ws_port: u16, snapshot: Option<(&str, u16)>) -> ConnectionSpec {
    let url = Url::parse(&format!("{scheme}://127.0.0.1:{ws_port}/ws")).unwrap();
    let snapshots = snapshot
        .map(|(http, port)| {
            vec![SnapshotSpec {
                url: Url::parse(&format!("{http}://127.0.0.1:{port}/api/v3/depth?symbol=BTCUSDT")).unwrap(),
                channel: "rest/depth/BTCUSDT".into(),
            }]
        })
        .unwrap_or_default();
    ConnectionSpec::new("ws/test".into(), Venue::BinanceSpot, url, vec![SUBSCRIBE.into()], snapshots, PingStyle::Frame)
        .unwrap()
}

fn marker_text(records: &[gavel_feeds::net::CapturedMessage]) -> String {
    let markers: Vec<_> = records.iter().filter(|r| r.kind == RecordKind::Reconnect).collect();
    assert_eq!(markers.len(), 1);
    String::from_utf8(markers[0].message.clone()).unwrap()
}

/// A silent server gets a keep-alive ping after `ping_after`; with no answer the
/// session is declared dead after `dead_after` and replaced by a new one.
#[test]
fn idle_session_is_pinged_then_declared_dead_and_replaced() {
    let recorded = Arc::new(AtomicUsize::new(0));
    let frames = generated_frames(2, 3);
    let plans = vec![
        SessionPlan { expect_client_ping: true, ..SessionPlan::new(vec![], SessionEnd::SilentUntilClientGone) },
        SessionPlan::new(frames.clone(), SessionEnd::UntilClientCloses),
    ];
    let (port, server) = spawn_ws_server(None, plans, recorded);
    let config = NetConfig {
        ping_after: Duration::from_millis(150),
        dead_after: Duration::from_millis(600),
        ..quick_config(None)
    };
    let path = temp_path("dead.gvl");
    let mut writer = CaptureWriter::create_new(&path, true).unwrap();
    let mut live = LiveLoop::new(vec![local_spec("ws", port, None)], config).unwrap();
    let reason = live
        .run(&mut writer, Some(Instant::now() + WAIT_LIMIT), &mut |st| st[0].messages() == 3 && st[0].sessions == 2)
        .unwrap();
    let stats = live.stats().remove(0);
    assert_eq!(reason, StopReason::Requested, "{stats:#?}");
    drop(live);
    writer.flush().unwrap();
    assert_eq!(stats.dead_timeouts, 1, "{stats:#?}");
    assert_eq!(stats.failures(), 1, "{stats:#?}");
    assert!(stats.pings_sent >= 1);
    let seen = server.join().unwrap();
    assert_eq!(seen[0].client_pings, vec![b"gavel".to_vec()]);
    let records = read_capture(&path).unwrap();
    assert_eq!(records[0].kind, RecordKind::Reconnect, "session 1 delivered nothing");
    assert!(marker_text(&records).contains("no data for"), "{}", marker_text(&records));
    let stream: Vec<Vec<u8>> = records[1..].iter().map(|r| r.message.clone()).collect();
    assert_eq!(stream, frames.iter().map(|f| f.as_bytes().to_vec()).collect::<Vec<_>>());
    std::fs::remove_file(&path).unwrap();
}

/// A snapshot answered with HTTP 500 fails the session (policy: resync through a
/// new session); the next session's snapshot is recorded after the marker.
#[test]
fn failed_snapshot_forces_a_new_session_and_a_fresh_snapshot() {
    let recorded = Arc::new(AtomicUsize::new(0));
    let frames = generated_frames(2, 5);
    let plans = vec![
        SessionPlan::new(vec![], SessionEnd::UntilClientCloses),
        SessionPlan::new(frames.clone(), SessionEnd::UntilClientCloses),
    ];
    let (ws_port, ws_server) = spawn_ws_server(None, plans, recorded);
    let good = br#"{"lastUpdateId":5,"bids":[],"asks":[]}"#.to_vec();
    let (rest_port, rest_server) =
        spawn_rest_server(None, vec![(500, br#"{"code":-1000}"#.to_vec()), (200, good.clone())]);
    let path = temp_path("snapfail.gvl");
    let mut writer = CaptureWriter::create_new(&path, true).unwrap();
    let mut live =
        LiveLoop::new(vec![local_spec("ws", ws_port, Some(("http", rest_port)))], quick_config(None)).unwrap();
    let reason = live
        .run(&mut writer, Some(Instant::now() + WAIT_LIMIT), &mut |st| st[0].messages() == 5 && st[0].snapshots == 1)
        .unwrap();
    let stats = live.stats().remove(0);
    assert_eq!(reason, StopReason::Requested, "{stats:#?}");
    drop(live);
    writer.flush().unwrap();
    assert_eq!((stats.snapshot_errors, stats.failures(), stats.sessions), (1, 1, 2), "{stats:#?}");
    assert_eq!(ws_server.join().unwrap().len(), 2);
    assert_eq!(rest_server.join().unwrap().len(), 2);
    let records = read_capture(&path).unwrap();
    assert_eq!(records[0].kind, RecordKind::Reconnect);
    assert!(marker_text(&records).contains("HTTP status 500"), "{}", marker_text(&records));
    let snaps: Vec<_> = records.iter().filter(|r| matches!(r.kind, RecordKind::Snapshot { .. })).collect();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].message, good);
    let stream: Vec<Vec<u8>> =
        records.iter().filter(|r| r.kind == RecordKind::Stream).map(|r| r.message.clone()).collect();
    assert_eq!(stream, frames.iter().map(|f| f.as_bytes().to_vec()).collect::<Vec<_>>());
    std::fs::remove_file(&path).unwrap();
}

/// A server whose certificate the client does not trust: TLS failures are counted,
/// retried with back-off, and nothing is recorded.
#[test]
fn untrusted_certificate_is_a_counted_tls_failure() {
    let server_tls = test_tls("untrusted-server");
    let other = test_tls("untrusted-client");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        let config = server_tls.server.clone();
        thread::spawn(move || {
            let mut handshakes = 0;
            while !stop.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(false).unwrap();
                        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                        let tls = StreamOwned::new(ServerConnection::new(config.clone()).unwrap(), stream);
                        assert!(tungstenite::accept(tls).is_err(), "the handshake must fail");
                        handshakes += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(5)),
                    Err(e) => panic!("accept: {e}"),
                }
            }
            handshakes
        })
    };
    let client_tls = client_config_with_ca(&other.cert_pem_path).unwrap();
    let mut records = 0;
    let mut sink = |_: i64, _: Venue, _: &[u8], _: &[u8]| -> io::Result<()> {
        records += 1;
        Ok(())
    };
    let mut live = LiveLoop::new(vec![local_spec("wss", port, None)], quick_config(Some(client_tls))).unwrap();
    let reason = live.run(&mut sink, Some(Instant::now() + WAIT_LIMIT), &mut |st| st[0].tls_errors >= 2).unwrap();
    let stats = live.stats().remove(0);
    drop(live);
    stop.store(true, Ordering::Release);
    assert_eq!(reason, StopReason::Requested, "{stats:#?}");
    assert!(server.join().unwrap() >= 2);
    assert_eq!(stats.sessions, 0);
    assert_eq!(stats.failures(), stats.tls_errors);
    assert!(stats.last_error.as_deref().unwrap().contains("certificate"), "{:?}", stats.last_error);
    assert_eq!(records, 0);
    for t in [server_tls, other] {
        std::fs::remove_file(&t.cert_pem_path).unwrap();
    }
}

/// Two connections (one plain, one TLS) on one loop: each channel holds exactly its
/// server's frames, in order.
#[test]
fn two_connections_share_one_loop_without_mixing() {
    let tls = test_tls("two-conns");
    let recorded = Arc::new(AtomicUsize::new(0));
    let frames_a = generated_frames(1, 30);
    let frames_b = generated_frames(2, 45);
    let (port_a, server_a) = spawn_ws_server(
        None,
        vec![SessionPlan::new(frames_a.clone(), SessionEnd::UntilClientCloses)],
        recorded.clone(),
    );
    let (port_b, server_b) = spawn_ws_server(
        Some(tls.server.clone()),
        vec![SessionPlan::new(frames_b.clone(), SessionEnd::UntilClientCloses)],
        recorded,
    );
    let mut spec_a = local_spec("ws", port_a, None);
    spec_a.channel = "ws/a".into();
    let mut spec_b = local_spec("wss", port_b, None);
    spec_b.channel = "ws/b".into();
    let client_tls = client_config_with_ca(&tls.cert_pem_path).unwrap();
    let path = temp_path("two.gvl");
    let mut writer = CaptureWriter::create_new(&path, true).unwrap();
    let mut live = LiveLoop::new(vec![spec_a, spec_b], quick_config(Some(client_tls))).unwrap();
    let reason = live
        .run(&mut writer, Some(Instant::now() + WAIT_LIMIT), &mut |st| st[0].messages() == 30 && st[1].messages() == 45)
        .unwrap();
    let stats = live.stats();
    assert_eq!(reason, StopReason::Requested, "{stats:#?}");
    drop(live);
    writer.flush().unwrap();
    assert!(stats.iter().all(|s| s.failures() == 0 && s.sessions == 1), "{stats:#?}");
    assert!(server_a.join().unwrap()[0].client_closed_cleanly);
    assert!(server_b.join().unwrap()[0].client_closed_cleanly);
    let records = read_capture(&path).unwrap();
    assert_eq!(records.len(), 75);
    for (channel, frames) in [(&b"ws/a"[..], &frames_a), (&b"ws/b"[..], &frames_b)] {
        let got: Vec<&[u8]> = records.iter().filter(|r| r.channel == channel).map(|r| r.message.as_slice()).collect();
        assert_eq!(got, frames.iter().map(|f| f.as_bytes()).collect::<Vec<_>>());
    }
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&tls.cert_pem_path).unwrap();
}
