//! The journal gate: an engine output reaches its session only once the
//! journal is durable up to the input sequence it carries (`exchange_ns`),
//! in engine order; a failed journal makes the gateway refuse requests; a journal
//! the gateway thread writes itself is pumped in its loop.

mod gateway_common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gateway_common::Harness;
use gavel_feeds::wire::{report, Event, EventKind, ExecReport, Venue};
use gavel_gateway::auth::ApiKey;
use gavel_gateway::client::Client;
use gavel_gateway::protocol::{order_type, reason, role, side, Message, NewOrder};
use gavel_gateway::{InlineJournal, JournalGate};

fn ack(client_order_id: u64, account: u64, input_sequence: u64) -> Event {
    let mut e = Event::new(EventKind::ExecReport, Venue::Gavel, 0, ExecReport { account, price: 100, qty: 1 }).with_times(client_order_id, input_sequence as i64, 1);
    e.flags = report::ACK;
    e
}

fn next_ack(c: &mut Client, within: Duration) -> Option<u64> {
    match c.recv_until(within, |m| matches!(m, Message::ExecutionReport(_))).unwrap() {
        Some(Message::ExecutionReport(r)) => Some(r.client_order_id),
        _ => None,
    }
}

#[test]
fn outputs_wait_for_durability_in_order_and_a_failed_journal_refuses_requests() {
    let key = ApiKey { id: 1, secret: [7; 32], account: 3, role: role::TRADER };
    let gate = JournalGate::default();
    gate.durable.store(4, Ordering::Release);
    let gate_g = gate.clone();
    let mut h = Harness::start("gavel-gate-test", vec![key.clone()], |g| g.set_journal_gate(gate_g));
    let (addr, engine_out, engine_in) = (h.addr, &mut h.engine_out, &mut h.engine_in);
    let mut c = Client::connect_logon(addr, key.id, &key.secret).unwrap();

    // Durable through 4: an output of input 4 goes out, outputs of 5 and 6 wait, and
    // an output of input 3 behind them waits too (engine order is kept).
    for (id, seq) in [(10, 4), (11, 5), (12, 6), (13, 3)] {
        assert_eq!(engine_out.push(ack(id, 3, seq)).unwrap(), gavel_feeds::ring::Pushed::Written);
    }
    assert_eq!(next_ack(&mut c, Duration::from_secs(5)), Some(10));
    assert_eq!(next_ack(&mut c, Duration::from_millis(300)), None, "nothing past the durable sequence is delivered");
    gate.durable.store(5, Ordering::Release);
    assert_eq!(next_ack(&mut c, Duration::from_secs(5)), Some(11));
    assert_eq!(next_ack(&mut c, Duration::from_millis(200)), None);
    gate.durable.store(6, Ordering::Release);
    assert_eq!(next_ack(&mut c, Duration::from_secs(5)), Some(12));
    assert_eq!(next_ack(&mut c, Duration::from_secs(5)), Some(13));

    // A request reaches the engine while the journal is fine; after a failure it is refused.
    let order = |id| Message::NewOrder(NewOrder { client_order_id: id, instrument: 0, side: side::BUY, order_type: order_type::LIMIT, flags: 0, price: 100, qty: 1 });
    c.send(&order(20)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let got = loop {
        if let Some(e) = engine_in.try_pop().filter(|e| e.kind == EventKind::ClientOrder as u8) {
            break Some(e);
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(got.map(|e| e.sequence), Some(20));
    gate.failed.store(true, Ordering::Release);
    c.send(&order(21)).unwrap();
    match c.recv_until(Duration::from_secs(5), |m| matches!(m, Message::SessionReject(_))).unwrap() {
        Some(Message::SessionReject(r)) => assert_eq!(r.reason, reason::JOURNAL_FAILED),
        other => panic!("expected a JOURNAL_FAILED reject, got {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(50));
    assert!(std::iter::from_fn(|| engine_in.try_pop()).all(|e| e.kind != EventKind::ClientOrder as u8), "the refused order never reached the engine");
    h.stop();
}

/// A journal the gateway pumps (as `gavel serve --durability write` does): each pump makes
/// durable what the test has "written" so far and counts itself.
struct CountingJournal {
    gate: JournalGate,
    written: Arc<AtomicU64>,
    pumps: Arc<AtomicU64>,
}

impl InlineJournal for CountingJournal {
    fn pump(&mut self) -> bool {
        self.pumps.fetch_add(1, Ordering::Relaxed);
        let written = self.written.load(Ordering::Acquire);
        let moved = written > self.gate.durable.load(Ordering::Relaxed);
        if moved {
            self.gate.durable.store(written, Ordering::Release);
        }
        moved
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

#[test]
fn an_inline_journal_is_pumped_by_the_gateway_and_releases_what_it_makes_durable() {
    let key = ApiKey { id: 1, secret: [7; 32], account: 3, role: role::TRADER };
    let gate = JournalGate::default();
    let (written, pumps) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let journal = CountingJournal { gate: gate.clone(), written: written.clone(), pumps: pumps.clone() };
    let gate_g = gate.clone();
    let mut h = Harness::start("gavel-inline-journal-test", vec![key.clone()], |g| {
        g.set_journal_gate(gate_g);
        g.set_inline_journal(Box::new(journal));
    });
    let mut c = Client::connect_logon(h.addr, key.id, &key.secret).unwrap();
    assert!(pumps.load(Ordering::Relaxed) > 0, "the gateway pumps its journal while it runs");
    for (id, seq) in [(30, 1), (31, 2)] {
        assert_eq!(h.engine_out.push(ack(id, 3, seq)).unwrap(), gavel_feeds::ring::Pushed::Written);
    }
    assert_eq!(next_ack(&mut c, Duration::from_millis(300)), None, "nothing is durable yet");
    written.store(1, Ordering::Release);
    assert_eq!(next_ack(&mut c, Duration::from_secs(5)), Some(30));
    assert_eq!(next_ack(&mut c, Duration::from_millis(200)), None);
    written.store(2, Ordering::Release);
    assert_eq!(next_ack(&mut c, Duration::from_secs(5)), Some(31));
    assert_eq!(gate.durable.load(Ordering::Acquire), 2, "the pump published on the gate the gateway reads");
    h.stop();
}
