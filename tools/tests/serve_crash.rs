//! Crash tests of `gavel serve` durability, as real processes: SIGKILL at
//! seeded random instants under a steady order flow, restart on the same data
//! dir, and check that every acknowledged order survived; a torn last journal
//! record; a journal that fails (injected "disk full").

mod serve_common;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gavel_gateway::client::Client;
use gavel_gateway::protocol::{order_type, reason, side, CancelOrder, Message, NewOrder};
use serve_common::{temp_dir, Server};

const START: i64 = 600_000; // the demo's start price, ticks

/// The tests run one at a time: each runs servers and clients that time their kills
/// and waits on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one client session saw.
#[derive(Default, Debug)]
struct Flow {
    sent: u64,
    acked: Vec<u64>,
    refused: Vec<u16>,
}

/// Logs on with trader `key` and sends a steady flow (rest a buy, rest a sell,
/// cancel the buy, take with an IOC) until `stop` or the connection dies;
/// collects every acknowledged order id (account << 32 | client order id).
fn flow(server: &Server, key: u64, first_id: u64, gap: Duration, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Flow> {
    let k = server.key(key);
    let addr = server.addr;
    std::thread::spawn(move || {
        let mut out = Flow::default();
        let Ok(mut c) = Client::connect_logon(addr, k.id, &k.secret) else { return out };
        let account = c.account;
        let Ok(mut sender) = c.split_sender() else { return out };
        let sending = Arc::new(AtomicBool::new(true));
        let still = sending.clone();
        let send_stop = stop.clone();
        let sender_thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !send_stop.load(Ordering::Relaxed) && n < 90_000 {
                let id = first_id + n;
                let m = match n % 4 {
                    0 => Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: side::BUY, order_type: order_type::LIMIT, flags: 0, price: START - 100_000 - (n % 97) as i64, qty: 1 }),
                    1 => Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: side::SELL, order_type: order_type::LIMIT, flags: 0, price: START + 200_000 + (n % 89) as i64, qty: 1 }),
                    2 => Message::CancelOrder(CancelOrder { client_order_id: id - 2, instrument: 0 }),
                    _ => Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: side::BUY, order_type: order_type::IOC, flags: 0, price: START + 100_000, qty: 1 }),
                };
                if sender.send(&m).is_err() {
                    break;
                }
                n += 1;
                std::thread::sleep(gap);
            }
            still.store(false, Ordering::Relaxed);
            n
        });
        let mut quiet_since: Option<Instant> = None;
        loop {
            match c.recv(Duration::from_millis(50)) {
                Ok(Some(Message::ExecutionReport(r))) if r.exec_type == 1 => out.acked.push((account << 32) | r.client_order_id),
                Ok(Some(Message::SessionReject(r))) => out.refused.push(r.reason),
                Ok(Some(_)) => quiet_since = None,
                Ok(None) => {
                    // Done once the sender stopped and replies dried up.
                    if !sending.load(Ordering::Relaxed) && quiet_since.get_or_insert_with(Instant::now).elapsed() > Duration::from_millis(500) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        out.sent = sender_thread.join().unwrap_or(0);
        out
    })
}

/// Sends orders on key `key` for `millis` ms (ids from 1), then stops; what was sent and acknowledged.
fn flow_for(server: &Server, key: u64, millis: u64) -> Flow {
    let stop = Arc::new(AtomicBool::new(false));
    let client = flow(server, key, 1, Duration::from_micros(500), stop.clone());
    std::thread::sleep(Duration::from_millis(millis));
    stop.store(true, Ordering::Relaxed);
    client.join().unwrap()
}

fn gavel(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn recover_json(dir: &std::path::Path, verify: bool) -> serde_json::Value {
    let d = dir.to_str().unwrap();
    let (ok, out, err) = if verify { gavel(&["journal", "verify", "--data-dir", d, "--json"]) } else { gavel(&["recover", "--data-dir", d, "--json"]) };
    assert!(ok, "recover/verify failed:\n{out}\n{err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn listed_orders(dir: &std::path::Path) -> std::collections::HashSet<u64> {
    let (ok, out, err) = gavel(&["recover", "--data-dir", dir.to_str().unwrap(), "--list-orders"]);
    assert!(ok, "{err}");
    out.lines().map(|l| l.parse().unwrap()).collect()
}

/// The live engine's state hash, from the stop summary of a clean shutdown.
fn live_hash(output: &str) -> String {
    let line = output.lines().find(|l| l.trim_start().starts_with("state: hash ")).unwrap_or_else(|| panic!("no state line:\n{output}"));
    line.trim_start()["state: hash ".len()..].split_whitespace().next().unwrap().to_string()
}

struct SplitMix(u64);
impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[test]
fn sigkill_at_random_instants_loses_no_acknowledged_order() {
    kill_rounds("crash", &["--demo", "--snapshot-interval-ms", "300"], 20, 0x5eed_0001);
}

/// The page-cache mode (`--durability write`) survives kill -9 of the process too.
#[test]
fn in_write_mode_sigkill_loses_no_acknowledged_order() {
    kill_rounds("crash-write", &["--demo", "--durability", "write", "--snapshot-interval-ms", "300"], 10, 0x5eed_0002);
}

/// Runs a venue with `args`, kills it with SIGKILL at `kills` random instants (seed `seed`)
/// while a client sends orders, restarts it each time, and checks that nothing acknowledged
/// was lost and that the recovered state is the live one.
fn kill_rounds(tag: &str, args: &[&str], kills: usize, seed: u64) {
    let _serial = serial();
    let dir = temp_dir(tag);
    let mut rng = SplitMix(seed);
    let started = Instant::now();
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut per_round = Vec::new();
    let mut last_output = String::new();
    let mut from_snapshot = 0;
    for round in 0..=kills {
        let server = Server::start(&dir, args);
        if round > 0 {
            let out = server.output();
            assert!(out.contains("gavel serve: recovered"), "round {round} did not recover:\n{out}");
            from_snapshot += usize::from(out.contains("; snapshot "));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let key = 1 + round as u64 % 4;
        let client = flow(&server, key, 1 + round as u64 * 100_000, Duration::from_micros(400), stop.clone());
        let mut server = server;
        if round < kills {
            let wait = Duration::from_millis(250 + rng.next() % 900);
            std::thread::sleep(wait);
            server.child.kill().unwrap(); // SIGKILL
            let _ = server.child.wait();
            stop.store(true, Ordering::Relaxed);
            let f = client.join().unwrap();
            // `write` mode maps its segment reserved whole: a kill leaves zeros after the last
            // record (or a torn record, if it came mid-copy); `fsync` mode appends exactly.
            let crashed = recover_json(&dir, false);
            let unused = crashed["unused_tail_bytes"].as_u64().unwrap();
            if args.contains(&"write") {
                assert!(unused > 0 || crashed["torn_tail"] == true, "round {round}: a killed write-mode journal ends in its reserved zeros: {crashed}");
            } else {
                assert_eq!(unused, 0, "round {round}: {crashed}");
            }
            assert!(!f.acked.is_empty(), "round {round}: no order acknowledged after the restart ({f:?})");
            per_round.push((f.sent, f.acked.len()));
            acked.lock().unwrap().extend(f.acked);
        } else {
            std::thread::sleep(Duration::from_millis(800));
            stop.store(true, Ordering::Relaxed);
            let f = client.join().unwrap();
            assert!(!f.acked.is_empty());
            per_round.push((f.sent, f.acked.len()));
            acked.lock().unwrap().extend(f.acked);
            let (status, out) = server.terminate(Duration::from_secs(20));
            assert!(status.success(), "{out}");
            last_output = out;
        }
    }
    let acked = acked.lock().unwrap().clone();
    let listed = listed_orders(&dir);
    let lost: Vec<u64> = acked.iter().copied().filter(|id| !listed.contains(id)).collect();
    let rec = recover_json(&dir, false);
    let ver = recover_json(&dir, true);
    println!(
        "crash test: {kills} SIGKILLs survived, {} orders acknowledged, {} lost; journal {} records, replay {:.1} ms; {:.1} s; per round (sent, acked): {per_round:?}",
        acked.len(),
        lost.len(),
        rec["records"],
        rec["replay_ms"].as_f64().unwrap_or(0.0),
        started.elapsed().as_secs_f64()
    );
    assert!(lost.is_empty(), "{} acknowledged orders are not in the recovered journal: {:?}", lost.len(), &lost[..lost.len().min(10)]);
    println!("crash test: {from_snapshot} of {kills} restarts started from a snapshot; recover used the one after sequence {}", rec["snapshot_sequence"]);
    assert!(from_snapshot * 2 >= kills, "only {from_snapshot} of {kills} restarts found a snapshot");
    assert!(rec["snapshot_sequence"].as_u64().is_some(), "recover starts from the last snapshot: {rec}");
    assert_eq!(ver["snapshot_sequence"], serde_json::Value::Null);
    assert_eq!(ver["applied"], ver["last_sequence"], "verify applies every record");
    assert_eq!(rec["orders"], ver["orders"]);
    assert_eq!(rec["state_hash"], ver["state_hash"], "recover and verify disagree");
    assert_eq!(rec["last_sequence"], ver["last_sequence"]);
    assert_eq!(rec["state_hash"].as_str().unwrap(), live_hash(&last_output), "the replay differs from the live engine at its clean stop");
    assert_eq!(rec["ledger_imbalance"], "0");
    assert_eq!(rec["torn_tail"], false);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_last_record_is_detected_warned_and_recovered() {
    let _serial = serial();
    let dir = temp_dir("torn");
    let server = Server::start(&dir, &["--demo"]);
    let f = flow_for(&server, 1, 700);
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    let before = recover_json(&dir, false);
    let n = before["last_sequence"].as_u64().unwrap();
    assert!(n > 0 && !f.acked.is_empty());
    // Cut 5 bytes off the last segment: its last record is now torn.
    let mut segs: Vec<_> = std::fs::read_dir(dir.join("journal")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "gjl")).collect();
    segs.sort();
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(last).unwrap().set_len(len - 5).unwrap();
    let (ok, text, err) = gavel(&["recover", "--data-dir", dir.to_str().unwrap(), "--json"]);
    assert!(ok, "{err}");
    assert!(err.contains("torn record") && err.contains(&last.file_name().unwrap().to_string_lossy().to_string()), "{err}");
    let torn: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(torn["torn_tail"], true);
    assert_eq!(torn["last_sequence"].as_u64().unwrap(), n - 1);
    // A restart truncates it, warns, and goes on from the record before.
    let server = Server::start(&dir, &["--demo"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.output().contains("next sequence") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = server.output();
    assert!(out.contains("torn record") && out.contains("truncated"), "{out}");
    assert!(out.contains(&format!("next sequence {n}")), "{out}");
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    let after = recover_json(&dir, false);
    assert_eq!(after["torn_tail"], false);
    assert_eq!(after["state_hash"].as_str().unwrap(), live_hash(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_second_venue_on_the_same_data_dir_is_refused_and_the_first_keeps_trading() {
    let _serial = serial();
    let dir = temp_dir("locked");
    let server = Server::start(&dir, &["--demo"]);
    let keys = std::fs::read(dir.join("keys.toml")).unwrap();
    let (ok, _, err) = gavel(&["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dir.to_str().unwrap(), "--duration", "5"]);
    assert!(!ok, "a second venue on a held data dir must not start:\n{err}");
    assert!(err.contains("in use by another gavel serve") && err.contains(&format!("pid {}", server.child.id())), "{err}");
    assert_eq!(std::fs::read(dir.join("keys.toml")).unwrap(), keys, "the refused venue wrote no keys");
    // The first one still acknowledges orders, and stops cleanly.
    assert!(!flow_for(&server, 1, 400).acked.is_empty());
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    // Once it has stopped, the data dir is free again.
    let again = Server::start(&dir, &["--demo"]);
    let (status, out) = again.terminate(Duration::from_secs(20));
    assert!(status.success() && out.contains("gavel serve: recovered"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The snapshot files of a data dir, newest first.
fn snapshot_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("snapshots")).map(|d| d.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "gsnap")).collect()).unwrap_or_default();
    files.sort();
    files.reverse();
    files
}

fn snapshot_sequence(path: &std::path::Path) -> u64 {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    name.trim_start_matches("snap-").trim_end_matches(".gsnap").parse().unwrap()
}

#[test]
fn a_damaged_snapshot_falls_back_to_the_one_before() {
    let _serial = serial();
    let dir = temp_dir("badsnap");
    let server = Server::start(&dir, &["--demo", "--snapshot-interval-ms", "200"]);
    assert!(!flow_for(&server, 1, 1200).acked.is_empty());
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert!(out.contains("equal to the live engine's"), "the snapshot engine follows the live one:\n{out}");
    let files = snapshot_files(&dir);
    assert!(files.len() >= 2, "{files:?}");
    let (newest, previous) = (files[0].clone(), snapshot_sequence(&files[1]));
    let full = recover_json(&dir, true);
    let good = recover_json(&dir, false);
    assert_eq!(good["snapshot_sequence"].as_u64(), Some(snapshot_sequence(&newest)));
    assert_eq!(good["state_hash"], full["state_hash"]);
    let original = std::fs::read(&newest).unwrap();
    let mut flipped = original.clone();
    let mid = 64 + (flipped.len() - 64) / 2;
    flipped[mid] ^= 0x40;
    let truncated = original[..10].to_vec();
    for (damage, bytes, why) in [("a flipped payload byte", flipped, "payload CRC mismatch"), ("a file cut to 10 bytes", truncated, "shorter than the 64-byte header")] {
        std::fs::write(&newest, &bytes).unwrap();
        let (ok, text, err) = gavel(&["recover", "--data-dir", dir.to_str().unwrap(), "--json"]);
        assert!(ok, "{damage}: {err}");
        assert!(err.contains("snapshot unusable") && err.contains(why) && err.contains(&newest.file_name().unwrap().to_string_lossy().to_string()), "{damage}: {err}");
        let fallback: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(fallback["snapshot_sequence"].as_u64(), Some(previous), "{damage}: the snapshot before is used");
        assert_eq!(fallback["state_hash"], full["state_hash"], "{damage}");
        assert!(fallback["applied"].as_u64().unwrap() > 0, "{damage}: the journal after the older snapshot is replayed");
    }
    // A restart on the damaged snapshot recovers from the one before and runs on.
    let server = Server::start(&dir, &["--demo", "--snapshot-interval-ms", "200"]);
    let started = server.output();
    assert!(started.contains(&format!("after sequence {previous}, then")), "{started}");
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    assert_eq!(recover_json(&dir, true)["state_hash"].as_str().unwrap(), live_hash(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failing_journal_refuses_orders_and_keeps_what_was_acknowledged() {
    failing_journal("diskfull", &["--demo"]);
}

/// In `write` mode the gateway thread writes the journal itself; its failure is handled alike.
#[test]
fn in_write_mode_a_failing_journal_refuses_orders_and_keeps_what_was_acknowledged() {
    failing_journal("diskfull-write", &["--demo", "--durability", "write"]);
}

fn failing_journal(tag: &str, args: &[&str]) {
    let _serial = serial();
    let dir = temp_dir(tag);
    // The test hook: journal writes fail after 3,000 records of this start.
    let mut child = Command::new(env!("CARGO_BIN_EXE_gavel"));
    child.env("GAVEL_JOURNAL_FAIL_AFTER", "3000");
    let server = Server::start_with(&dir, args, child);
    let stop = Arc::new(AtomicBool::new(false));
    let client = flow(&server, 2, 1, Duration::from_micros(300), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.output().contains("JOURNAL FAILED") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let f = client.join().unwrap();
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(!status.success(), "a failed journal is a failed run:\n{out}");
    assert!(out.contains("JOURNAL FAILED") && out.contains("injected write failure") && out.contains("the input journal failed"), "{out}");
    assert!(f.refused.contains(&reason::JOURNAL_FAILED), "orders after the failure are refused with JOURNAL_FAILED: {:?}", &f.refused[..f.refused.len().min(5)]);
    assert!(!f.acked.is_empty());
    // Restarted without the fault, the venue recovers every acknowledged order.
    let listed = listed_orders(&dir);
    assert!(f.acked.iter().all(|id| listed.contains(id)), "acknowledged orders lost");
    let rec = recover_json(&dir, false);
    let durable = rec["last_sequence"].as_u64().unwrap();
    assert!(durable > 0 && durable <= 3000, "{rec}");
    let server = Server::start(&dir, args);
    assert!(server.output().contains(&format!("recovered {durable} journal records")), "{}", server.output());
    let (status, out) = server.terminate(Duration::from_secs(20));
    assert!(status.success(), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_config_venue(dir: &std::path::Path) -> std::path::PathBuf {
    serve_common::write_trader_venue(
        dir,
        "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 50 }]\n",
        "account,collateral\ntrader-a,1000000\ntrader-b,1000000\n",
        "\n[durability]\nsync_interval_us = 100\nsync_records = 64\n",
    )
}

#[test]
fn a_config_venue_recovers_and_refuses_changed_inputs() {
    let _serial = serial();
    let dir = temp_dir("config");
    let config = write_config_venue(&dir);
    let args = ["--config", config.to_str().unwrap()];
    let mut acked = Vec::new();
    for round in 0..3u64 {
        let mut server = Server::start(&dir, &args);
        let mut c = Client::connect_logon(server.addr, 1, &[1; 32]).unwrap();
        for i in 0..50 {
            let id = round * 1000 + i + 1;
            c.send(&Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: side::BUY, order_type: order_type::LIMIT, flags: 0, price: 500_000 + i as i64, qty: 1 })).unwrap();
        }
        while let Some(m) = c.recv_until(Duration::from_secs(5), |m| matches!(m, Message::ExecutionReport(r) if r.exec_type == 1)).unwrap() {
            if let Message::ExecutionReport(r) = m {
                acked.push(r.client_order_id);
            }
            if acked.len() as u64 == (round + 1) * 50 {
                break;
            }
        }
        assert_eq!(acked.len() as u64, (round + 1) * 50, "round {round}");
        server.child.kill().unwrap();
        let _ = server.child.wait();
    }
    let listed = listed_orders(&dir);
    assert!(acked.iter().all(|id| listed.contains(id)), "acknowledged orders lost");
    let rec = recover_json(&dir, false);
    assert_eq!(rec["resting_orders"], 150);
    assert_eq!(rec["orders"], 150);
    // A changed input file: the journal would replay onto another venue; refused.
    std::fs::write(dir.join("accounts.csv"), "account,collateral\ntrader-a,2000000\ntrader-b,1000000\n").unwrap();
    let (ok, _, err) = gavel(&["recover", "--data-dir", dir.to_str().unwrap(), "--json"]);
    assert!(!ok && err.contains("changed"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_gavel")).arg("serve").args(args).args(["--listen", "127.0.0.1:0", "--data-dir"]).arg(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains("cannot be rebuilt"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
