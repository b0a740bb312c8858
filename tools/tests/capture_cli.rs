//! `gavel capture` end to end against a local WebSocket + REST server on
//! 127.0.0.1, stopped by SIGINT: the capture holds every frame and the snapshot,
//! and the counters are printed.
#![allow(clippy::result_large_err)] // tungstenite's handshake callback type

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use gavel_feeds::net::{read_capture, CapturedMessage, RecordKind};
use tungstenite::Message;

const WAIT_LIMIT: Duration = Duration::from_secs(20);

fn accept_bounded(listener: &TcpListener) -> TcpStream {
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(WAIT_LIMIT)).unwrap();
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < WAIT_LIMIT, "gavel capture never connected");
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

fn wait_for(flag: &AtomicBool, what: &str) {
    let start = Instant::now();
    while !flag.load(Ordering::Acquire) {
        assert!(start.elapsed() < WAIT_LIMIT, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn capture_records_frames_and_snapshot_until_sigint() {
    let frames: Vec<String> =
        (0..10).map(|k| format!(r#"{{"stream":"btcusdt@bookTicker","data":{{"u":{k}}}}}"#)).collect();
    let snapshot = br#"{"lastUpdateId":7,"bids":[["1.0","1"]],"asks":[["1.1","1"]]}"#.to_vec();

    // WebSocket server: frames, then a ping; the pong proves every frame was read.
    let ws_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    ws_listener.set_nonblocking(true).unwrap();
    let ws_port = ws_listener.local_addr().unwrap().port();
    let frames_delivered = Arc::new(AtomicBool::new(false));
    let ws_thread = {
        let frames = frames.clone();
        let delivered = frames_delivered.clone();
        thread::spawn(move || {
            let stream = accept_bounded(&ws_listener);
            let mut uri = String::new();
            let mut ws = tungstenite::accept_hdr(stream, |req: &tungstenite::handshake::server::Request, resp| {
                uri = req.uri().to_string();
                Ok(resp)
            })
            .unwrap();
            for frame in &frames {
                ws.write(Message::Text(frame.as_str().into())).unwrap();
            }
            ws.send(Message::Ping(b"p"[..].into())).unwrap();
            let mut closed_cleanly = false;
            loop {
                match ws.read() {
                    Ok(Message::Pong(_)) => delivered.store(true, Ordering::Release),
                    Ok(Message::Close(_)) => closed_cleanly = true,
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            (uri, closed_cleanly)
        })
    };

    // REST server: one snapshot; the client closing its side means it has the whole body.
    let rest_listener = TcpListener::bind("127.0.0.1:0").unwrap();
    rest_listener.set_nonblocking(true).unwrap();
    let rest_port = rest_listener.local_addr().unwrap().port();
    let snapshot_delivered = Arc::new(AtomicBool::new(false));
    let rest_thread = {
        let body = snapshot.clone();
        let delivered = snapshot_delivered.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(accept_bounded(&rest_listener));
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            let mut stream = reader.into_inner();
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
            stream.write_all(&body).unwrap();
            stream.shutdown(Shutdown::Write).unwrap();
            let _ = stream.read_to_end(&mut Vec::new());
            delivered.store(true, Ordering::Release);
            request_line.trim_end().to_string()
        })
    };

    let out = std::env::temp_dir().join(format!("gavel-capture-cli-{}.gvl.zst", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["capture", "--venue", "binance-usdm", "--symbols", "BTCUSDT", "--compress", "--duration", "60"])
        .arg("--out")
        .arg(&out)
        .arg("--url-override")
        .arg(format!("ws://127.0.0.1:{ws_port}/stream?streams=btcusdt@bookTicker"))
        .arg("--rest-override")
        .arg(format!("http://127.0.0.1:{rest_port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&frames_delivered, "the frames to be read");
    wait_for(&snapshot_delivered, "the snapshot to be read");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own live child's.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(rc, 0);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "gavel capture failed: {stdout}\n{stderr}");
    assert!(started.elapsed() < Duration::from_secs(60), "stopped by SIGINT, not by --duration");
    assert!(stdout.contains("stopped (interrupted)"), "{stdout}");
    assert!(stdout.contains("messages 10 (text 10, binary 0)"), "{stdout}");
    assert!(stdout.contains("snapshots 1 ("), "{stdout}");

    let (uri, closed_cleanly) = ws_thread.join().unwrap();
    assert_eq!(uri, "/stream?streams=btcusdt@bookTicker");
    assert!(closed_cleanly, "the capture closes its session on SIGINT");
    assert_eq!(rest_thread.join().unwrap(), "GET /fapi/v1/depth?symbol=BTCUSDT&limit=1000 HTTP/1.1");

    let records = read_capture(&out).unwrap();
    let stream: Vec<&[u8]> =
        records.iter().filter(|r| r.kind == RecordKind::Stream).map(|r| r.message.as_slice()).collect();
    let expected: Vec<&[u8]> = frames.iter().map(|f| f.as_bytes()).collect();
    assert_eq!(stream, expected);
    assert!(records.iter().all(|r| r.kind != RecordKind::Reconnect));
    let snaps: Vec<&CapturedMessage> =
        records.iter().filter(|r| matches!(r.kind, RecordKind::Snapshot { .. })).collect();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].channel, b"rest/depth/BTCUSDT");
    assert_eq!(snaps[0].message, snapshot);
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn capture_refuses_an_existing_out_file_unless_forced() {
    let out = std::env::temp_dir().join(format!("gavel-capture-cli-exists-{}.gvl", std::process::id()));
    std::fs::write(&out, b"an earlier capture").unwrap();
    // Port 9 on 127.0.0.1 (discard): nothing listens, so a run that got past the check would fail to connect.
    let run = |force: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gavel"));
        cmd.args(["capture", "--venue", "bybit", "--symbols", "BTCUSDT", "--duration", "0.3", "--url-override"])
            .arg("ws://127.0.0.1:9/v5/public/linear")
            .arg("--out")
            .arg(&out);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let refused = run(false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("already exists") && stderr.contains("--force"), "{stderr}");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("capturing"), "refused before connecting");
    assert_eq!(std::fs::read(&out).unwrap(), b"an earlier capture", "the file is untouched");
    // With --force the file is replaced by a fresh capture (the run then fails: it never connects).
    let forced = run(true);
    assert!(!forced.status.success());
    assert!(String::from_utf8_lossy(&forced.stderr).contains("never connected"));
    assert!(std::fs::read(&out).unwrap().starts_with(b"GVLCAP01"));
    std::fs::remove_file(&out).unwrap();
}

/// A real `gavel capture` killed with SIGKILL (no flush at exit, no zstd
/// frame end): every frame it received more than the flush interval before
/// the kill is in the file, plain and compressed.
#[test]
fn a_capture_killed_with_sigkill_keeps_every_record_received_before_the_last_flush() {
    for compress in [false, true] {
        let frames: Vec<String> =
            (0..10).map(|k| format!(r#"{{"topic":"publicTrade.BTCUSDT","data":[{{"i":"{k}"}}]}}"#)).collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let delivered = Arc::new(AtomicBool::new(false));
        let server = {
            let (frames, delivered) = (frames.clone(), delivered.clone());
            thread::spawn(move || {
                let mut ws = tungstenite::accept(accept_bounded(&listener)).unwrap();
                for frame in &frames {
                    ws.write(Message::Text(frame.as_str().into())).unwrap();
                }
                ws.send(Message::Ping(b"p"[..].into())).unwrap();
                // Keep the session open until the client dies; the pong proves every frame was read.
                while let Ok(message) = ws.read() {
                    if let Message::Pong(_) = message {
                        delivered.store(true, Ordering::Release);
                    }
                }
            })
        };
        let out = std::env::temp_dir().join(format!("gavel-capture-cli-killed-{}-{compress}.gvl", std::process::id()));
        let _ = std::fs::remove_file(&out);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gavel"));
        cmd.args(["capture", "--venue", "bybit", "--symbols", "BTCUSDT", "--duration", "60", "--url-override"])
            .arg(format!("ws://127.0.0.1:{port}/v5/public/linear"))
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if compress {
            cmd.arg("--compress");
        }
        let mut child = cmd.spawn().unwrap();
        wait_for(&delivered, "the frames to be read");
        // More than the flush bound (50 ms interval + 50 ms loop turn), then no goodbye at all.
        thread::sleep(Duration::from_millis(400));
        child.kill().unwrap();
        child.wait().unwrap();
        server.join().unwrap();
        let records = read_capture(&out).unwrap();
        let stream: Vec<&[u8]> = records
            .iter()
            .filter(|r| r.kind == RecordKind::Stream && r.message.starts_with(b"{\"topic\""))
            .map(|r| r.message.as_slice())
            .collect();
        let expected: Vec<&[u8]> = frames.iter().map(|f| f.as_bytes()).collect();
        assert_eq!(stream, expected, "compress: {compress}");
        std::fs::remove_file(&out).unwrap();
    }
}
