//! `gavel options vol-feed` against a real `gavel serve --demo` process on 127.0.0.1: the
//! at-the-money vol of Deribit tickers reaches the engine as implied-vol quotes, from a
//! recording replayed in real time and from a local WebSocket server speaking Deribit's
//! subscription protocol; a non-admin key and bad flags are refused with their name.

mod serve_common;

use std::net::TcpListener;
use std::process::Output;
use std::time::Duration;

use serve_common::{temp_dir, Server};

const ATM: &str = "BTC-31DEC21-34000-P";

/// One Deribit `ticker` notification (the frame the venue sends).
fn ticker_frame(name: &str, stamp_ms: u64, underlying: f64, mark_iv: f64) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"ticker.{name}.100ms\",\"data\":{{\"underlying_price\":{underlying},\"underlying_index\":\"index\",\"timestamp\":{stamp_ms},\"stats\":{{\"volume\":1.0}},\"state\":\"open\",\"mark_price\":0.05,\"mark_iv\":{mark_iv},\"interest_rate\":0.0,\"instrument_name\":\"{name}\",\"index_price\":{underlying},\"greeks\":{{\"vega\":0.2,\"theta\":-1.6,\"rho\":0.01,\"gamma\":0.0002,\"delta\":0.3}},\"best_bid_price\":0.04,\"best_bid_amount\":1.0,\"best_ask_price\":0.06,\"best_ask_amount\":1.0}}}}}}"
    )
}

fn vol_feed(server: &Server, currency: &str, extra: &[&str]) -> Output {
    let addr = server.addr.to_string();
    let dir = server.dir.to_str().unwrap().to_string();
    let mut args = vec!["options", "vol-feed", "--demo", "--data-dir", &dir, "--addr", &addr, "--currency", currency];
    args.extend_from_slice(extra);
    std::process::Command::new(env!("CARGO_BIN_EXE_gavel")).args(&args).output().unwrap()
}

/// The engine's count of implied-vol quotes, from the server's stop report.
fn quotes_taken(out: &str) -> u64 {
    let line = out.lines().find(|l| l.trim_start().starts_with("engine:")).unwrap_or_else(|| panic!("no engine line:\n{out}"));
    let before = line.split(" implied-vol quotes").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// The engine's count of ignored events, from the server's stop report.
fn events_ignored(out: &str) -> u64 {
    let line = out.lines().find(|l| l.trim_start().starts_with("engine:")).unwrap_or_else(|| panic!("no engine line:\n{out}"));
    let before = line.split(" events ignored").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Writes a recording of six tickers, three of which move the at-the-money series' vol.
fn write_recording(dir: &std::path::Path) -> std::path::PathBuf {
    let t0 = 1_626_993_722_933u64;
    let mut text = String::from("wss://www.deribit.com/ws/api/v2 <-> 1626993722.0\n");
    // Received 0.1 s apart; the ATM series moves three times, the others never count.
    let rows = [
        (ATM, 0, 32_745.0, 80.02),
        ("BTC-24SEP21-34000-P", 200, 32_367.0, 76.57),
        (ATM, 1_200, 32_745.0, 81.5),
        ("ETH-31DEC21-2000-C", 1_300, 2_000.0, 99.0),
        (ATM, 2_500, 32_745.0, 82.25),
        (ATM, 2_600, 32_745.0, 83.0),
    ];
    for (k, (name, dt, underlying, iv)) in rows.iter().enumerate() {
        text += &format!("{}: {}\n", 1_626_993_723.0 + k as f64 * 0.1, ticker_frame(name, t0 + dt, *underlying, *iv));
    }
    let recording = dir.join("deribit.ws");
    std::fs::write(&recording, text).unwrap();
    recording
}

#[test]
fn a_replayed_recording_sends_each_at_the_money_vol_change_to_the_engine() {
    let dir = temp_dir("volfeed-replay");
    let recording = write_recording(&dir);
    let server = Server::start(&dir, &["--demo", "--speed", "1"]);
    let out = vol_feed(&server, "BTC", &["--replay", recording.to_str().unwrap(), "--speed", "10"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // 80.02 at once, 81.5 a second later, 82.25 after another; 83.0 comes 100 ms after it.
    assert!(stdout.contains("5 BTC tickers, 3 quotes sent to instrument 0") && stdout.contains("0 refused"), "{stdout}");
    let (status, served) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{served}");
    assert_eq!(quotes_taken(&served), 3, "{served}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quotes_for_an_instrument_the_venue_does_not_list_are_counted_as_ignored() {
    let dir = temp_dir("volfeed-unknown");
    let recording = write_recording(&dir);
    let server = Server::start(&dir, &["--demo", "--speed", "1"]);
    let out = vol_feed(&server, "BTC", &["--replay", recording.to_str().unwrap(), "--speed", "10", "--instrument-id", "999"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 quotes sent to instrument 999"), "{stdout}");
    // A replay cut by --duration stops at the deadline and reports what it sent: at a
    // thousandth of real time only the first ticker (sent at once) comes within 1 s.
    let started = std::time::Instant::now();
    let cut = vol_feed(&server, "BTC", &["--replay", recording.to_str().unwrap(), "--speed", "0.001", "--duration", "1", "--instrument-id", "999"]);
    let cut_out = String::from_utf8_lossy(&cut.stdout).into_owned();
    assert!(cut.status.success(), "{cut_out}{}", String::from_utf8_lossy(&cut.stderr));
    assert!(cut_out.contains("1 BTC tickers, 1 quotes sent"), "{cut_out}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    let (status, served) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{served}");
    assert_eq!(quotes_taken(&served), 0, "{served}");
    assert!(events_ignored(&served) >= 4, "{served}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A local stand-in for Deribit: checks the subscribe request, then streams tickers of the
/// subscribed series whose mark vol rises by a point every 50 ms, until the client leaves.
fn fake_deribit() -> (u16, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut socket = tungstenite::accept(stream).unwrap();
        let request = loop {
            match socket.read().unwrap() {
                tungstenite::Message::Text(t) => break t.to_string(),
                _ => continue,
            }
        };
        let t0 = 1_626_993_722_933u64;
        for k in 0..60u64 {
            let frame = ticker_frame(ATM, t0 + k * 50, 32_745.0, 80.0 + k as f64);
            if socket.send(tungstenite::Message::Text(frame.into())).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        request
    });
    (port, handle)
}

#[test]
fn live_tickers_over_websocket_reach_the_engine() {
    let dir = temp_dir("volfeed-live");
    let server = Server::start(&dir, &["--demo", "--speed", "1"]);
    let (port, deribit) = fake_deribit();
    let url = format!("ws://127.0.0.1:{port}/ws/api/v2");
    let out = vol_feed(&server, "BTC", &["--live", ATM, "--live-url-override", &url, "--every-ms", "500", "--duration", "4"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let request = deribit.join().unwrap();
    assert!(request.contains("\"method\":\"public/subscribe\"") && request.contains(&format!("\"ticker.{ATM}.100ms\"")), "{request}");
    // Up to 60 tickers over 3 s of venue time, one quote per 500 ms of it at most.
    let count = |what: &str| -> u64 { stdout.split(what).next().unwrap().rsplit(' ').next().unwrap().parse().unwrap() };
    let (tickers, sent) = (count(" BTC tickers"), count(" quotes sent"));
    assert!(tickers >= 20 && (2..=6).contains(&sent) && sent <= tickers.div_ceil(10), "{stdout}");
    let (status, served) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{served}");
    assert_eq!(quotes_taken(&served), sent, "{served}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trader_key_and_bad_flags_are_refused_with_their_name() {
    let dir = temp_dir("volfeed-bad");
    let server = Server::start(&dir, &["--demo", "--speed", "1"]);
    let recording = dir.join("deribit.ws");
    std::fs::write(&recording, format!("x <-> 1.0\n1.5: {}\n", ticker_frame(ATM, 1_626_993_722_933, 32_745.0, 80.0))).unwrap();
    let file = recording.to_str().unwrap();
    for (currency, extra, expected) in [
        ("BTC", &["--replay", file, "--key-id", "10"][..], "--key-id 10: not an admin key"),
        ("BTC", &["--replay", file, "--key-id", "999999"][..], "--key-id 999999"),
        ("BTC", &["--replay", file, "--speed", "0"][..], "--speed"),
        ("BTC", &["--live", "BTCUSDT"][..], "--live"),
        ("BTC", &["--replay", "/nonexistent/deribit.ws"][..], "/nonexistent/deribit.ws"),
        ("eth", &["--replay", file][..], "--currency \"eth\""),
        ("BTC", &[][..], "--replay"),
    ] {
        let out = vol_feed(&server, currency, extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(expected), "{extra:?}: {err}");
    }
    // A recording without tickers of the currency fails, after logging on.
    let out = vol_feed(&server, "ETH", &["--replay", file]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no ETH options ticker"));
    let (status, served) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{served}");
    assert_eq!(quotes_taken(&served), 0, "{served}");
    let _ = std::fs::remove_dir_all(&dir);
}
