//! `gavel serve` as a real process on 127.0.0.1 with real client sockets:
//! logon, order life cycle, fills and positions, market data, a liquidation
//! auction taken by a liquidator, rate limits, garbage frames, a slow reader
//! cut off while others trade, and a clean shutdown.

mod serve_common;

use std::time::Duration;

use gavel_gateway::client::Client;
use gavel_gateway::protocol::{
    channel, encode_frame, order_type, reason, role, side, CancelOrder, LiquidatorTake, Logon, Message, NewOrder, SnapshotRequest, StatsRequest, Subscribe, MAX_FRAME_LEN,
};
use serve_common::{temp_dir, Server};

const T: Duration = Duration::from_secs(10);

fn order(id: u64, s: u8, ty: u8, price: i64, qty: i64) -> Message {
    Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: s, order_type: ty, flags: 0, price, qty })
}

/// A client with everything it received kept, so that a wait for one message
/// does not lose the others (a position update arrives before its fill report).
struct Session {
    client: Client,
    seen: Vec<Message>,
}

impl Session {
    fn new(client: Client) -> Self {
        Self { client, seen: Vec::new() }
    }

    fn send(&mut self, m: &Message) {
        self.client.send(m).unwrap();
    }

    /// The first message (kept or new) matching `want`, which is then consumed.
    fn wait(&mut self, want: impl Fn(&Message) -> bool) -> Option<Message> {
        if let Some(i) = self.seen.iter().position(&want) {
            return Some(self.seen.remove(i));
        }
        let deadline = std::time::Instant::now() + T;
        while std::time::Instant::now() < deadline {
            match self.client.recv(Duration::from_millis(100)).unwrap() {
                Some(m) if want(&m) => return Some(m),
                Some(m) => self.seen.push(m),
                None => {}
            }
        }
        None
    }
}

fn report(c: &mut Session, id: u64, exec_type: u8) -> gavel_gateway::protocol::ExecutionReport {
    match c.wait(|m| matches!(m, Message::ExecutionReport(r) if r.client_order_id == id && r.exec_type == exec_type)) {
        Some(Message::ExecutionReport(r)) => r,
        other => panic!("no report of type {exec_type} for order {id}: {other:?}"),
    }
}

#[test]
fn demo_venue_logon_orders_fills_positions_and_market_data() {
    let dir = temp_dir("demo");
    let server = Server::start(&dir, &["--demo", "--speed", "1"]);
    let keys = server.keys();

    // A wrong signature and an unknown key are refused and the connection closed.
    let t1 = server.key(1);
    let mut wrong = t1.secret;
    wrong[0] ^= 0xff;
    let err = Client::connect_logon(server.addr, 1, &wrong).err().expect("a wrong secret is refused");
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains(&format!("reason: {}", reason::BAD_CREDENTIALS)), "{err}");
    assert!(Client::connect_logon(server.addr, 999, &t1.secret).is_err(), "an unknown key id is refused");

    let a = Client::connect_logon(server.addr, 1, &t1.secret).unwrap();
    assert_eq!((a.account, a.role), (t1.account, role::TRADER));
    let mut a = Session::new(a);
    let t2 = server.key(2);
    let mut b = Session::new(Client::connect_logon(server.addr, 2, &t2.secret).unwrap());
    let md_key = keys.get(200).unwrap();
    let mut md = Client::connect_logon(server.addr, 200, &md_key.secret).unwrap();
    md.send(&Message::Subscribe(Subscribe { channels: channel::MARKET_DATA })).unwrap();
    // A market-data key may not trade, nor see auctions.
    md.send(&order(1, side::BUY, order_type::LIMIT, 500_000, 1)).unwrap();
    assert!(md.recv_until(T, |m| matches!(m, Message::SessionReject(r) if r.reason == reason::NOT_PERMITTED)).unwrap().is_some());

    // Order life cycle: rest, cancel, cancel again (unknown).
    a.send(&order(7, side::BUY, order_type::LIMIT, 500_000, 5));
    let ack = report(&mut a, 7, 1);
    assert_eq!((ack.price, ack.qty, ack.side), (500_000, 5, side::BUY));
    a.send(&Message::CancelOrder(CancelOrder { client_order_id: 7, instrument: 0 }));
    assert_eq!(report(&mut a, 7, 3).qty, 5);
    a.send(&Message::CancelOrder(CancelOrder { client_order_id: 7, instrument: 0 }));
    report(&mut a, 7, 4);
    // The engine's checks answer as rejects with its reason code.
    a.send(&order(8, side::BUY, order_type::LIMIT, 500_000, 0));
    assert_eq!(report(&mut a, 8, 4).reason, u16::from(gavel_engine::engine::reject_code::BAD_QUANTITY_OR_PRICE));

    // A rests an ask inside the maker's quotes; B's IOC takes it and then the maker's.
    a.send(&order(9, side::SELL, order_type::LIMIT, 600_005, 3));
    assert_eq!(report(&mut a, 9, 1).qty, 3);
    b.send(&order(1, side::BUY, order_type::IOC, 600_200, 10));
    let mut filled = 0;
    while filled < 10 {
        let f = report(&mut b, 1, 2);
        assert_eq!(f.reason, u16::from(gavel_feeds::wire::report::TAKER));
        filled += f.qty;
    }
    let maker_fill = report(&mut a, 9, 2);
    assert_eq!((maker_fill.price, maker_fill.qty, maker_fill.reason), (600_005, 3, u16::from(gavel_feeds::wire::report::MAKER)));
    // Positions follow the fills, for both sides.
    let pos = |c: &mut Session, want: i64| c.wait(|m| matches!(m, Message::PositionUpdate(p) if p.position == want)).is_some();
    assert!(pos(&mut b, 10), "the taker holds 10 lots");
    assert!(pos(&mut a, -3), "the maker is short 3 lots");

    // Market data: the traded levels, the trades, and a snapshot consistent with them.
    let mut last_seq = 0;
    let mut level_gone = false;
    let mut trades = 0;
    while !(level_gone && trades >= 2) {
        match md.recv(T).unwrap() {
            Some(Message::BookLevel(l)) => {
                assert!(l.md_sequence > last_seq, "market data sequence rises");
                last_seq = l.md_sequence;
                level_gone |= l.price == 600_005 && l.qty == 0 && l.side == side::SELL;
            }
            Some(Message::Trade(t)) => {
                last_seq = t.md_sequence;
                trades += 1;
                assert_eq!(t.side, side::BUY, "the aggressor bought");
            }
            Some(Message::MarkPrice(m)) => last_seq = m.md_sequence,
            Some(_) => {}
            None => panic!("market data stopped before the trades arrived"),
        }
    }
    md.send(&Message::SnapshotRequest(SnapshotRequest { instrument: 0 })).unwrap();
    let begin = md.recv_until(T, |m| matches!(m, Message::SnapshotBegin(_))).unwrap();
    let Some(Message::SnapshotBegin(begin)) = begin else { panic!("no snapshot") };
    assert!(begin.md_sequence >= last_seq && begin.levels > 0);
    let mut levels = Vec::new();
    loop {
        match md.recv(T).unwrap() {
            Some(Message::SnapshotLevel(l)) => levels.push(l),
            Some(Message::SnapshotEnd(e)) => {
                assert_eq!(e.md_sequence, begin.md_sequence);
                break;
            }
            Some(_) => {}
            None => panic!("snapshot not ended"),
        }
    }
    assert_eq!(levels.len() as u32, begin.levels);
    assert!(levels.iter().any(|l| l.side == side::BUY && l.price == 599_990 && l.qty == 500), "the maker's best bid is in the snapshot");
    assert!(!levels.iter().any(|l| l.price == 600_005), "the taken level is not");
    drop((a, b, md));
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert!(out.contains("ledger: balances to the unit"), "{out}");
}

#[test]
fn a_liquidation_auction_is_taken_by_a_liquidator_session() {
    let dir = temp_dir("auction");
    let server = Server::start(&dir, &["--demo", "--speed", "20"]);
    let key = server.key(100);
    let mut liq = Client::connect_logon(server.addr, key.id, &key.secret).unwrap();
    assert_eq!(liq.role, role::LIQUIDATOR);
    liq.send(&Message::Subscribe(Subscribe { channels: channel::AUCTIONS | channel::MARKET_DATA })).unwrap();
    // A take on an auction that does not run is refused with its reason.
    liq.send(&Message::LiquidatorTake(LiquidatorTake { take_id: 1, auction_id: 4_000_000, max_price: 1_000_000, qty: 1 })).unwrap();
    let refused = liq.recv_until(T, |m| matches!(m, Message::TakeReport(r) if r.take_id == 1)).unwrap();
    assert!(matches!(refused, Some(Message::TakeReport(r)) if r.accepted == 0 && r.reason == u16::from(gavel_engine::engine::reject_code::NO_RUNNING_AUCTION)), "{refused:?}");
    // The crash liquidates the demo's leveraged longs; past the own book's bids they go to auction.
    let start = liq.recv_until(Duration::from_secs(60), |m| matches!(m, Message::AuctionUpdate(a) if a.code == 1)).unwrap();
    let Some(Message::AuctionUpdate(auction)) = start else { panic!("no auction started within 60 s:\n{}", server.output()) };
    assert_eq!(auction.side, side::BUY, "liquidators buy what a long's liquidation sells");
    assert!(auction.remaining > 0);
    liq.send(&Message::LiquidatorTake(LiquidatorTake { take_id: 2, auction_id: auction.auction_id, max_price: 10 * auction.price, qty: auction.remaining })).unwrap();
    let mut liq_seen = Vec::new();
    let taken = liq.recv_until(T, |m| {
        liq_seen.push(*m);
        matches!(m, Message::TakeReport(r) if r.take_id == 2)
    }).unwrap();
    let Some(Message::TakeReport(taken)) = taken else { panic!("no take report") };
    assert_eq!((taken.accepted, taken.auction_id), (1, auction.auction_id), "{taken:?}");
    assert!(taken.qty > 0 && taken.price > 0);
    assert!(liq_seen.iter().any(|m| matches!(m, Message::PositionUpdate(p) if p.position >= taken.qty)), "the liquidator holds what it took: {liq_seen:?}");
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert!(out.contains("ledger: balances to the unit") && !out.contains(" 0 auction takes"), "{out}");
}

fn write_config(dir: &std::path::Path, limits: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("instruments.toml"), "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 50 }]\n").unwrap();
    std::fs::write(dir.join("accounts.csv"), "account,collateral\ntrader-a,1000000\ntrader-b,1000000\nwatcher,0\n").unwrap();
    let keys = [(1u64, 0u64, "trader"), (2, 1, "trader"), (3, 2, "market-data"), (9, 2, "admin")];
    let mut text = String::new();
    for (id, account, role) in keys {
        text.push_str(&format!("[[key]]\nid = {id}\nsecret = \"{}\"\naccount = {account}\nrole = \"{role}\"\n\n", format!("{id:02x}").repeat(32)));
    }
    std::fs::write(dir.join("keys.toml"), text).unwrap();
    let path = dir.join("venue.toml");
    std::fs::write(&path, format!("instruments = \"instruments.toml\"\naccounts = \"accounts.csv\"\nkeys = \"keys.toml\"\n\n[limits]\n{limits}")).unwrap();
    path
}

fn secret(id: u64) -> [u8; 32] {
    [id as u8; 32]
}

#[test]
fn rate_limits_and_garbage_frames_are_refused_and_counted() {
    let dir = temp_dir("limits");
    let config = write_config(&dir, "rate_per_s = 20\nburst = 5\nmax_protocol_errors = 3\n");
    let server = Server::start(&dir, &["--config", config.to_str().unwrap()]);
    let mut a = Client::connect_logon(server.addr, 1, &secret(1)).unwrap();
    for i in 0..20 {
        a.send(&order(100 + i, side::BUY, order_type::LIMIT, 500_000, 1)).unwrap();
    }
    let (mut reports, mut limited) = (0, 0);
    while let Some(m) = a.recv(Duration::from_millis(1500)).unwrap() {
        match m {
            Message::ExecutionReport(_) => reports += 1,
            Message::SessionReject(r) if r.reason == reason::RATE_LIMITED => limited += 1,
            _ => {}
        }
    }
    assert_eq!(reports + limited, 20, "every order is answered");
    assert!((5..=7).contains(&reports), "a burst of 5 (and what 20/s refills meanwhile) gets through, not {reports}");

    // Before logon, only logon and heartbeats.
    let mut g = Client::connect(server.addr).unwrap();
    assert!(matches!(g.recv(T).unwrap(), Some(Message::Challenge(_))));
    g.send(&order(1, side::BUY, order_type::LIMIT, 500_000, 1)).unwrap();
    assert!(g.recv_until(T, |m| matches!(m, Message::SessionReject(r) if r.reason == reason::NOT_LOGGED_IN)).unwrap().is_some());
    // An unknown template and a wrong version are refused; the third error closes the session.
    let mut frame = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(&Message::StatsRequest(StatsRequest {}), 2, &mut frame);
    frame[6..8].copy_from_slice(&999u16.to_le_bytes());
    g.send_raw(&frame[..n]).unwrap();
    assert!(g.recv_until(T, |m| matches!(m, Message::SessionReject(r) if r.reason == reason::UNKNOWN_TEMPLATE && r.ref_template == 999)).unwrap().is_some());
    let n = encode_frame(&Message::Logon(Logon { key_id: 1, signature: [0; 32] }), 3, &mut frame);
    frame[10..12].copy_from_slice(&7u16.to_le_bytes());
    g.send_raw(&frame[..n]).unwrap();
    assert!(g.recv_until(T, |m| matches!(m, Message::SessionReject(r) if r.reason == reason::WRONG_VERSION)).unwrap().is_some());
    assert!(g.recv_until(T, |m| matches!(m, Message::Logout(l) if l.reason == reason::TOO_MANY_ERRORS)).unwrap().is_some());
    assert!(g.recv(T).is_err(), "the server closed the session");
    // An impossible length closes at once, without the server reading on.
    let mut h = Client::connect(server.addr).unwrap();
    let _ = h.recv(T).unwrap();
    h.send_raw(&u32::MAX.to_le_bytes()).unwrap();
    assert!(h.recv_until(T, |m| matches!(m, Message::SessionReject(r) if r.reason == reason::BAD_LENGTH)).unwrap().is_some());
    assert!(h.recv(T).is_err());

    // The trader's session was not affected; the admin sees the counters.
    a.send(&order(500, side::SELL, order_type::LIMIT, 700_000, 1)).unwrap();
    assert!(a.recv_until(T, |m| matches!(m, Message::ExecutionReport(r) if r.client_order_id == 500 && r.exec_type == 1)).unwrap().is_some());
    let mut admin = Client::connect_logon(server.addr, 9, &secret(9)).unwrap();
    admin.send(&Message::StatsRequest(StatsRequest {})).unwrap();
    let Some(Message::Stats(stats)) = admin.recv_until(T, |m| matches!(m, Message::Stats(_))).unwrap() else { panic!("no stats") };
    assert!(stats.rate_limited >= 13 && stats.protocol_errors >= 4, "{stats:?}");
    assert_eq!(stats.sessions, 2, "the trader and the admin are left");
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert!(out.contains("2 for protocol errors"), "{out}");
}

#[test]
fn a_slow_reader_is_cut_off_while_others_keep_trading_and_shutdown_is_clean() {
    let dir = temp_dir("slow");
    let config = write_config(&dir, "output_limit_bytes = 262144\nsocket_send_buffer_bytes = 4096\n");
    let server = Server::start(&dir, &["--config", config.to_str().unwrap()]);
    // A market-data session that subscribes and never reads again.
    let mut slow = Client::connect_logon(server.addr, 3, &secret(3)).unwrap();
    slow.set_receive_buffer(4096).unwrap();
    slow.send(&Message::Subscribe(Subscribe { channels: channel::MARKET_DATA })).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut a = Client::connect_logon(server.addr, 1, &secret(1)).unwrap();
    // Each rest + cancel publishes two level updates: far more than the slow reader's bound.
    // The trader sends from one thread and reads its replies on this one, as a client must.
    let mut sender = a.split_sender().unwrap();
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = answered.clone();
    let flood = std::thread::spawn(move || {
        for i in 0..6_000u64 {
            // At most 200 requests in flight, so the trader's own replies stay within its bound
            // however slowly this machine schedules the reading thread.
            while (2 * i).saturating_sub(seen.load(std::sync::atomic::Ordering::Acquire)) > 200 {
                std::thread::sleep(Duration::from_micros(200));
            }
            sender.send(&order(i + 1, side::BUY, order_type::LIMIT, 500_000 + (i % 50) as i64, 1)).unwrap();
            sender.send(&Message::CancelOrder(CancelOrder { client_order_id: i + 1, instrument: 0 })).unwrap();
        }
        sender.send(&order(9_999, side::BUY, order_type::LIMIT, 400_000, 2)).unwrap();
    });
    let (mut acks, mut cancels) = (0, 0);
    let last = loop {
        match a.recv(T).unwrap() {
            Some(Message::ExecutionReport(r)) if r.client_order_id == 9_999 => break r,
            Some(Message::ExecutionReport(r)) if r.exec_type == 1 => acks += 1,
            Some(Message::ExecutionReport(r)) if r.exec_type == 3 => cancels += 1,
            Some(_) => {}
            None => panic!("the trader's replies stopped after {acks} acks and {cancels} cancels"),
        }
        answered.store(acks + cancels, std::sync::atomic::Ordering::Release);
    };
    flood.join().unwrap();
    // The trader kept trading and was answered throughout.
    assert_eq!((acks, cancels, last.exec_type, last.qty), (6_000, 6_000, 1, 2));
    let mut admin = Client::connect_logon(server.addr, 9, &secret(9)).unwrap();
    admin.send(&Message::StatsRequest(StatsRequest {})).unwrap();
    let Some(Message::Stats(stats)) = admin.recv_until(T, |m| matches!(m, Message::Stats(_))).unwrap() else { panic!("no stats") };
    assert_eq!(stats.slow_disconnects, 1, "{stats:?}");
    // Whatever the slow reader still gets, its connection ends.
    // (The kernel still holds what was sent before the cut; zero-window probes may pause it.)
    let mut ended = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if slow.recv(Duration::from_millis(200)).is_err() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the slow reader's connection was closed");
    // SIGTERM: sessions are logged out, the server drains and exits cleanly.
    let (status, out) = std::thread::scope(|s| {
        let waiter = s.spawn(|| a.recv_until(T, |m| matches!(m, Message::Logout(l) if l.reason == reason::SHUTTING_DOWN)).unwrap().is_some());
        std::thread::sleep(Duration::from_millis(100));
        let r = server.terminate(Duration::from_secs(20));
        assert!(waiter.join().unwrap(), "the trader was logged out");
        r
    });
    assert!(status.success(), "{out}");
    assert!(out.contains("gavel serve: stopped") && out.contains("1 slow readers") && out.contains("balances to the unit"), "{out}");
    assert!(dir.join("latency/gateway_round_trip.hgrm").exists() && dir.join("latency/order_to_report.hgrm").exists());
}

/// A local stand-in for Binance USD-M: a REST depth snapshot and a WebSocket
/// stream of depth updates, each continuing the last.
fn fake_binance(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> (u16, u16) {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    let ws = TcpListener::bind("127.0.0.1:0").unwrap();
    let rest = TcpListener::bind("127.0.0.1:0").unwrap();
    let (ws_port, rest_port) = (ws.local_addr().unwrap().port(), rest.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for stream in rest.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let body = r#"{"lastUpdateId":100,"E":1,"T":1,"bids":[["59990.0","5.000"],["59980.0","7.000"]],"asks":[["60010.0","5.000"],["60020.0","7.000"]]}"#;
            let mut s = reader.into_inner();
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            let _ = s.shutdown(std::net::Shutdown::Write);
            let _ = s.read_to_end(&mut Vec::new());
        }
    });
    std::thread::spawn(move || {
        let Ok((stream, _)) = ws.accept() else { return };
        let Ok(mut socket) = tungstenite::accept(stream) else { return };
        let mut u = 99u64;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let (first, last) = (u + 1, u + 3);
            let ms = 1_700_000_000_000u64 + last;
            let frame = format!(
                r#"{{"stream":"btcusdt@depth@100ms","data":{{"e":"depthUpdate","E":{ms},"T":{ms},"s":"BTCUSDT","U":{first},"u":{last},"pu":{u},"b":[["59990.0","{}.000"]],"a":[["60010.0","5.000"]]}}}}"#,
                5 + last % 3
            );
            if socket.send(tungstenite::Message::Text(frame.into())).is_err() {
                return;
            }
            u = last;
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (ws_port, rest_port)
}

#[test]
fn a_live_venue_feed_over_websocket_gives_the_mark() {
    let dir = temp_dir("live");
    let config = write_config(&dir, "");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ws_port, rest_port) = fake_binance(stop.clone());
    let server = Server::start(
        &dir,
        &[
            "--config",
            config.to_str().unwrap(),
            "--mark-from",
            "live:binance-usdm:BTCUSDT",
            "--live-url-override",
            &format!("ws://127.0.0.1:{ws_port}/stream?streams=btcusdt@depth@100ms"),
            "--live-rest-override",
            &format!("http://127.0.0.1:{rest_port}"),
        ],
    );
    let mut md = Client::connect_logon(server.addr, 3, &secret(3)).unwrap();
    md.send(&Message::Subscribe(Subscribe { channels: channel::MARKET_DATA })).unwrap();
    let mark = md.recv_until(Duration::from_secs(20), |m| matches!(m, Message::MarkPrice(_))).unwrap();
    let Some(Message::MarkPrice(mark)) = mark else { panic!("no mark from the live feed:\n{}", server.output()) };
    // The mark lies between the venue's best bid and ask (59,990.0 and 60,010.0).
    assert!((599_900..=600_100).contains(&mark.price), "{mark:?}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert!(out.contains("mark: live binance-usdm BTCUSDT"), "{out}");
}

#[test]
fn a_silent_session_is_logged_out_after_the_idle_timeout_and_heartbeats_keep_one_open() {
    let dir = temp_dir("idle");
    let config = write_config(&dir, "idle_timeout_ms = 300\n");
    let server = Server::start(&dir, &["--config", config.to_str().unwrap()]);
    let mut silent = Client::connect_logon(server.addr, 1, &secret(1)).unwrap();
    let mut alive = Client::connect_logon(server.addr, 2, &secret(2)).unwrap();
    let start = std::time::Instant::now();
    let mut alive_heard = 0;
    // The live session heartbeats every 100 ms for 1.2 s, four times the timeout.
    while start.elapsed() < Duration::from_millis(1_200) {
        alive.send(&Message::Heartbeat(gavel_gateway::protocol::Heartbeat { time_ns: 0 })).unwrap();
        if let Some(Message::Heartbeat(_)) = alive.recv(Duration::from_millis(100)).unwrap() {
            alive_heard += 1;
        }
    }
    assert!(alive_heard >= 5, "heartbeats are answered ({alive_heard})");
    alive.send(&order(1, side::BUY, order_type::LIMIT, 500_000, 1)).unwrap();
    assert!(alive.recv_until(T, |m| matches!(m, Message::ExecutionReport(r) if r.client_order_id == 1)).unwrap().is_some(), "the heartbeating session is open");
    let logout = silent.recv_until(T, |m| matches!(m, Message::Logout(_))).unwrap();
    assert!(matches!(logout, Some(Message::Logout(l)) if l.reason == reason::IDLE_TIMEOUT), "{logout:?}");
    assert!(silent.recv(T).is_err(), "and closed");
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert!(out.contains("1 idle"), "{out}");
}

/// A coin-margined venue: BTCUSD (inverse, 100 USD contracts), collateral in BTC.
fn write_inverse_config(dir: &std::path::Path) -> std::path::PathBuf {
    serve_common::write_trader_venue(
        dir,
        "[[instrument]]\nsymbol = \"BTCUSD\"\nkind = \"inverse\"\ncontract_value = \"100\"\nsettlement_asset = \"BTC\"\n\
         tick_size = \"0.1\"\nlot_size = \"1\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 125 }]\n",
        // One BTC each.
        "account,collateral\ntrader-a,1\ntrader-b,1\n",
        "",
    )
}

#[test]
fn a_coin_margined_venue_trades_contracts_and_checks_margin_in_btc() {
    let dir = temp_dir("inverse");
    let config = write_inverse_config(&dir);
    let server = Server::start(&dir, &["--config", config.to_str().unwrap()]);
    let mut a = Session::new(Client::connect_logon(server.addr, 1, &secret(1)).unwrap());
    let mut b = Session::new(Client::connect_logon(server.addr, 2, &secret(2)).unwrap());
    // Initial margin on the coin notional at the order's price (125×, 1 BTC of equity):
    // 10,000 contracts bid at 20,000 are 50 BTC (0.4 BTC required), 40,000 more 250 BTC (2).
    b.send(&order(2, side::BUY, order_type::LIMIT, 200_000, 10_000));
    assert_eq!(report(&mut b, 2, 1).qty, 10_000);
    b.send(&order(3, side::BUY, order_type::LIMIT, 200_000, 40_000));
    assert_eq!(report(&mut b, 3, 4).reason, u16::from(gavel_engine::engine::reject_code::MARGIN));
    // A rests 30 contracts at 25,000.0; B's IOC takes them.
    a.send(&order(1, side::SELL, order_type::LIMIT, 250_000, 30));
    assert_eq!(report(&mut a, 1, 1).qty, 30);
    b.send(&order(1, side::BUY, order_type::IOC, 250_000, 30));
    let fill = report(&mut b, 1, 2);
    assert_eq!((fill.price, fill.qty), (250_000, 30));
    let pos = |c: &mut Session, want: i64| c.wait(|m| matches!(m, Message::PositionUpdate(p) if p.position == want)).is_some();
    assert!(pos(&mut b, 30) && pos(&mut a, -30), "positions in contracts follow the fill");
    let _ = std::fs::remove_dir_all(&dir);
}
