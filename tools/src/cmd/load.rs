//! `gavel load`: measure a running venue. C client sessions send an open-loop
//! order flow (the send schedule never waits for replies) of resting limits,
//! cancels and crossing IOCs; every reply is checked; the order→first-report
//! round trip goes into HDR from each order's scheduled send time. In the same
//! run a bare mio echo server on loopback gives the physical floor of a TCP
//! round trip with the same frame size, measured closed-loop beside a
//! closed-loop order→ack round trip.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_gateway::client::Client;
use gavel_gateway::protocol::{channel, encode_frame, order_type, role, side, CancelOrder, Message, NewOrder, Subscribe, MAX_FRAME_LEN};
use hdrhistogram::Histogram;

/// Arguments of `gavel load`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The venue and its keys (trader keys are used).
    #[command(flatten)]
    pub venue: crate::venue_access::VenueAccess,
    /// Client sessions (1 to 64).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub clients: u64,
    /// Orders per second in total (1 to 10,000,000).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub rate: u64,
    /// Seconds of load (1 to 3,600).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub duration: u64,
    /// Write the JSON summary here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write one JSON line per acknowledged order: {"client_order_id":…,"order_id":…}.
    #[arg(long)]
    pub acks: Option<PathBuf>,
}

/// Bits of a client order id taken by the client index (ids stay below 2^32).
const CLIENT_SHIFT: u32 = 26;

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

fn summary(h: &Histogram<u64>) -> serde_json::Value {
    serde_json::json!({"p50_ns": h.value_at_quantile(0.5), "p99_ns": h.value_at_quantile(0.99), "p999_ns": h.value_at_quantile(0.999), "max_ns": h.max(), "samples": h.len()})
}

/// What one client saw.
#[derive(Default)]
struct ClientResult {
    sent: u64,
    acked: u64,
    rejected: u64,
    cancels: u64,
    fills: u64,
    missing: u64,
    unexpected: u64,
    refused: u64,
    acks: Vec<(u64, u64)>,
    send_time: Duration,
}

/// Runs `gavel load`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (keys_path, keys) = args.venue.key_table()?;
    let traders: Vec<_> = keys.keys().filter(|k| k.role == role::TRADER).cloned().collect();
    anyhow::ensure!(!traders.is_empty(), "{}: no trader keys", keys_path.display());

    // The floor: a bare echo server and the venue, each measured closed-loop, in five
    // interleaved rounds of 1,000 (the echo server runs only during its own rounds).
    let (mut echo, mut closed) = (hist(), hist());
    let mut venue = Client::connect_logon(args.venue.addr, traders[0].id, &traders[0].secret)?;
    for round in 0..5u64 {
        let echo_stop = Arc::new(AtomicBool::new(false));
        let (echo_addr, echo_thread) = gavel_gateway::echo::spawn_echo(echo_stop.clone())?;
        let e = echo_round_trips(echo_addr, 1_000);
        echo_stop.store(true, Ordering::Relaxed);
        let _ = echo_thread.join();
        echo.add(&e?).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        closed.add(&closed_loop_round_trips(&mut venue, round * 1_000, 1_000)?).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    drop(venue);

    let per_client_rate = (args.rate / args.clients).max(1);
    let interval_ns = 1_000_000_000 / per_client_rate;
    let orders_per_client = (per_client_rate * args.duration) as usize;
    let mut threads = Vec::new();
    for c in 0..args.clients {
        let key = traders[c as usize % traders.len()].clone();
        let addr = args.venue.addr;
        threads.push(std::thread::spawn(move || run_client(addr, &key, c, orders_per_client, interval_ns)));
    }
    let mut rtt = hist();
    let mut total = ClientResult::default();
    for t in threads {
        let (r, h) = t.join().map_err(|_| anyhow::anyhow!("a load client panicked"))??;
        rtt.add(&h).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        total.sent += r.sent;
        total.acked += r.acked;
        total.rejected += r.rejected;
        total.cancels += r.cancels;
        total.fills += r.fills;
        total.missing += r.missing;
        total.unexpected += r.unexpected;
        total.refused += r.refused;
        total.acks.extend(r.acks);
        total.send_time = total.send_time.max(r.send_time);
    }
    // Throughput over the send phase (the grace period for late replies is not counted).
    let elapsed = total.send_time.as_secs_f64().max(1e-9);
    let v = serde_json::json!({
        "addr": args.venue.addr.to_string(),
        "clients": args.clients,
        "rate": args.rate,
        "duration_s": args.duration,
        "sent": total.sent,
        "acked": total.acked,
        "rejected": total.rejected,
        "refused_by_gateway": total.refused,
        "cancel_reports": total.cancels,
        "fill_reports": total.fills,
        "missing_replies": total.missing,
        "unexpected_replies": total.unexpected,
        "rtt": summary(&rtt),
        "closed_loop_rtt": summary(&closed),
        "echo_rtt": summary(&echo),
        "throughput_per_s": (total.sent as f64 / elapsed).round(),
    });
    println!(
        "gavel load: {} clients, {} requests sent in {:.1} s ({:.0}/s): {} orders acked, {} rejected by the engine, {} refused by the gateway, {} replies missing",
        args.clients, total.sent, elapsed, total.sent as f64 / elapsed, total.acked, total.rejected, total.refused, total.missing
    );
    println!("  order→report (open loop):   p50 {} ns  p99 {} ns  p99.9 {} ns", rtt.value_at_quantile(0.5), rtt.value_at_quantile(0.99), rtt.value_at_quantile(0.999));
    println!("  order→ack (closed loop):    p50 {} ns  p99 {} ns", closed.value_at_quantile(0.5), closed.value_at_quantile(0.99));
    println!("  bare TCP echo (same frame): p50 {} ns  p99 {} ns", echo.value_at_quantile(0.5), echo.value_at_quantile(0.99));
    if let Some(p) = &args.json {
        gavel_feeds::atomic_file::write_atomic(p, serde_json::to_string_pretty(&v)? + "\n")?;
    }
    if let Some(p) = &args.acks {
        let mut text = String::new();
        for (coid, order_id) in &total.acks {
            text.push_str(&format!("{{\"client_order_id\":{coid},\"order_id\":{order_id}}}\n"));
        }
        gavel_feeds::atomic_file::write_atomic(p, text)?;
    }
    anyhow::ensure!(total.missing == 0, "{} orders got no reply", total.missing);
    Ok(())
}

/// A NewOrder frame's size, the echo's payload.
fn order_frame() -> ([u8; MAX_FRAME_LEN], usize) {
    let mut f = [0u8; MAX_FRAME_LEN];
    let n = encode_frame(&Message::NewOrder(NewOrder { client_order_id: 1, instrument: 0, side: side::BUY, order_type: order_type::LIMIT, flags: 0, price: 1, qty: 1 }), 1, &mut f);
    (f, n)
}

fn echo_round_trips(addr: SocketAddr, n: usize) -> anyhow::Result<Histogram<u64>> {
    use std::io::Read;
    let mut s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let (frame, len) = order_frame();
    let mut back = vec![0u8; len];
    let mut h = hist();
    for _ in 0..n {
        let t0 = Instant::now();
        s.write_all(&frame[..len])?;
        s.read_exact(&mut back)?;
        h.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    Ok(h)
}

/// One order in flight at a time: a deep limit order and its ack, then its cancel.
fn closed_loop_round_trips(c: &mut Client, from: u64, n: u64) -> anyhow::Result<Histogram<u64>> {
    let mut h = hist();
    let base = 63u64 << CLIENT_SHIFT;
    for i in from..from + n {
        let id = base + 2 * i + 1;
        let t0 = Instant::now();
        c.send(&Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: side::BUY, order_type: order_type::LIMIT, flags: 0, price: 1_000, qty: 1 }))?;
        let reply = c.recv_until(Duration::from_secs(5), |m| matches!(m, Message::ExecutionReport(r) if r.client_order_id == id))?;
        h.saturating_record(t0.elapsed().as_nanos() as u64);
        anyhow::ensure!(reply.is_some(), "closed loop: no report for order {id}");
        c.send(&Message::CancelOrder(CancelOrder { client_order_id: id, instrument: 0 }))?;
        let _ = c.recv_until(Duration::from_secs(5), |m| matches!(m, Message::ExecutionReport(r) if r.client_order_id == id && r.exec_type != 1))?;
    }
    Ok(h)
}

fn run_client(addr: SocketAddr, key: &gavel_gateway::auth::ApiKey, index: u64, orders: usize, interval_ns: u64) -> anyhow::Result<(ClientResult, Histogram<u64>)> {
    let mut client = Client::connect_logon(addr, key.id, &key.secret)?;
    client.send(&Message::Subscribe(Subscribe { channels: channel::MARKET_DATA }))?;
    let mut sender = client.split_sender()?;
    // Request n goes out with frame sequence first_sequence + n: a session-level refusal names it.
    let first_sequence = sender.sequence() + 1;
    let account = client.account;
    let base = index << CLIENT_SHIFT;
    let mark = Arc::new(AtomicI64::new(600_000));
    // Scheduled send time of order n (ns since `t0`), and whether it was sent.
    let scheduled: Arc<Vec<AtomicU64>> = Arc::new((0..orders).map(|_| AtomicU64::new(u64::MAX)).collect());
    let t0 = Instant::now();
    let (mark_s, sched_s) = (mark.clone(), scheduled.clone());
    let send_thread = std::thread::spawn(move || -> anyhow::Result<(u64, Duration)> {
        let mut sent = 0u64;
        for n in 0..orders {
            let due = Duration::from_nanos(n as u64 * interval_ns);
            // Sleep through most of a long wait (the machine may have few cores), spin the rest.
            let left = due.saturating_sub(t0.elapsed());
            if left > Duration::from_micros(200) {
                std::thread::sleep(left - Duration::from_micros(100));
            }
            while t0.elapsed() < due {
                std::hint::spin_loop();
            }
            let m = mark_s.load(Ordering::Relaxed);
            let id = base + n as u64 + 1;
            let msg = match n % 10 {
                // Resting limits 1–2 % away from the mark.
                0..=3 => NewOrder { client_order_id: id, instrument: 0, side: if n % 2 == 0 { side::BUY } else { side::SELL }, order_type: order_type::LIMIT, flags: 0, price: if n % 2 == 0 { m * 98 / 100 } else { m * 102 / 100 }, qty: 1 },
                // Cancels of the resting limit sent four orders earlier.
                4..=7 => {
                    sched_s[n].store(due.as_nanos() as u64, Ordering::Release);
                    sender.send(&Message::CancelOrder(CancelOrder { client_order_id: base + (n - 4) as u64 + 1, instrument: 0 }))?;
                    sent += 1;
                    continue;
                }
                // Crossing IOCs: buy and sell in turn so positions stay flat.
                _ => NewOrder { client_order_id: id, instrument: 0, side: if n % 10 == 8 { side::BUY } else { side::SELL }, order_type: order_type::IOC, flags: 0, price: if n % 10 == 8 { m * 105 / 100 } else { m * 95 / 100 }, qty: 1 },
            };
            sched_s[n].store(due.as_nanos() as u64, Ordering::Release);
            sender.send(&Message::NewOrder(msg))?;
            sent += 1;
        }
        Ok((sent, t0.elapsed()))
    });
    let mut r = ClientResult::default();
    let mut h = hist();
    // First report per order (by index); a cancel's reply carries the cancelled order's id.
    let mut answered = vec![false; orders];
    let mut cancel_answered = vec![false; orders];
    let deadline_after_send = Duration::from_nanos(orders as u64 * interval_ns) + Duration::from_secs(3);
    while t0.elapsed() < deadline_after_send {
        let Some(msg) = client.recv(Duration::from_millis(100))? else { continue };
        match msg {
            Message::MarkPrice(m) => mark.store(m.price, Ordering::Relaxed),
            // Refused by the gateway (rate limit, open-order cap, engine busy): answered, not lost.
            Message::SessionReject(rej) => {
                let Some(n) = rej.ref_sequence.checked_sub(first_sequence).map(|n| n as usize).filter(|&n| n < orders) else {
                    r.unexpected += 1;
                    continue;
                };
                let is_cancel = (4..=7).contains(&(n % 10));
                let slot = if is_cancel { &mut cancel_answered[n] } else { &mut answered[n] };
                if !*slot {
                    *slot = true;
                    r.refused += 1;
                    record(&mut h, &scheduled[n], t0);
                }
            }
            Message::ExecutionReport(rep) => {
                let Some(n) = rep.client_order_id.checked_sub(base + 1).map(|n| n as usize).filter(|&n| n < orders && rep.client_order_id >> CLIENT_SHIFT == index) else {
                    continue;
                };
                match rep.exec_type {
                    1 if !answered[n] => {
                        answered[n] = true;
                        r.acked += 1;
                        r.acks.push((rep.client_order_id, (account << 32) | rep.client_order_id));
                        record(&mut h, &scheduled[n], t0);
                    }
                    2 => r.fills += 1,
                    3 | 4 => {
                        // A cancel or reject: of order n itself (IOC rest, reject), or the reply to
                        // the cancel request sent four orders later.
                        let canceller = n + 4;
                        if !answered[n] && rep.exec_type == 4 {
                            answered[n] = true;
                            r.rejected += 1;
                            record(&mut h, &scheduled[n], t0);
                        } else if n % 10 <= 3 && canceller < orders && !cancel_answered[canceller] && scheduled[canceller].load(Ordering::Acquire) != u64::MAX {
                            cancel_answered[canceller] = true;
                            r.cancels += 1;
                            record(&mut h, &scheduled[canceller], t0);
                        } else if rep.exec_type == 3 {
                            r.cancels += 1;
                        } else {
                            r.unexpected += 1;
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    (r.sent, r.send_time) = send_thread.join().map_err(|_| anyhow::anyhow!("sender panicked"))??;
    for n in 0..orders {
        let is_cancel = (4..=7).contains(&(n % 10));
        let replied = if is_cancel { cancel_answered[n] } else { answered[n] };
        if !replied && scheduled[n].load(Ordering::Acquire) != u64::MAX {
            r.missing += 1;
        }
    }
    Ok((r, h))
}

fn record(h: &mut Histogram<u64>, scheduled: &AtomicU64, t0: Instant) {
    let due = scheduled.load(Ordering::Acquire);
    if due != u64::MAX {
        h.saturating_record((t0.elapsed().as_nanos() as u64).saturating_sub(due).max(1));
    }
}
