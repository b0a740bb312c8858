//! `Engine::state_hash`: equal for engines fed the same events, different as
//! soon as one event differs (an order's price, quantity or arrival order, or
//! a price path that liquidates).

mod engine_common;

use engine_common::*;
use gavel_engine::engine::Engine;
use gavel_feeds::wire::{Event, Side};

fn fresh() -> Engine {
    let mut a = Accounts::new();
    let mm = a.add("mm", 1_000_000);
    let t1 = a.add("t1", 100_000);
    let long = a.add("long", 1_200);
    a.position(long, 100, 10_000);
    let _ = (mm, t1);
    engine(a.ledger(10_000), policy("auction", |_| {}), |_| {})
}

/// A price path that falls through the long's liquidation price, with own-book orders.
fn events() -> Vec<Event> {
    let mut v = Vec::new();
    let mut prev = None;
    for k in 0..40i64 {
        let t = SEC + k * 250_000_000;
        let mid = 10_000 - k * 30;
        v.extend(quotes(prev, mid - 5, mid + 5, 50, t));
        prev = Some((mid - 5, mid + 5));
        if k % 5 == 0 {
            v.push(limit(0, k as u64 + 1, Side::Bid, mid - 50, 3, t));
            v.push(limit(1, k as u64 + 100, Side::Ask, mid + 60, 2, t));
        }
        v.push(timer(t + 1));
    }
    v
}

fn hash_after(events: &[Event]) -> (u64, Engine) {
    let mut e = fresh();
    let mut out = Vec::new();
    run(&mut e, events, &mut out);
    (e.state_hash(), e)
}

#[test]
fn same_events_same_hash() {
    let ev = events();
    let (a, engine) = hash_after(&ev);
    let (b, _) = hash_after(&ev);
    assert_eq!(a, b);
    assert!(engine.metrics().liquidations > 0, "the path liquidates, so liquidation state is covered");
    let mut ids = Vec::new();
    engine.own_book(0).unwrap().for_each_order(Side::Ask, |o| ids.push(o.id));
    assert!(ids.contains(&((1 << 32) | 130)), "{ids:?}");
    assert_ne!(a, fresh().state_hash(), "events change the state");
}

#[test]
fn one_differing_event_changes_the_hash() {
    let ev = events();
    let (base, _) = hash_after(&ev);
    let is_order = |e: &Event| e.kind == gavel_feeds::wire::EventKind::ClientOrder as u8;
    let first = ev.iter().position(is_order).unwrap();
    // The ask of k = 30 still rests at the end, so its id is in the books.
    let last = ev.iter().position(|e| is_order(e) && e.sequence == 130).unwrap();
    for change in 0..3 {
        let i = if change == 2 { last } else { first };
        let mut other = ev.clone();
        let mut o: gavel_feeds::wire::ClientOrder = other[i].payload();
        match change {
            0 => o.qty += 1,
            1 => o.price -= 1,
            _ => other[i].sequence += 1000,
        }
        other[i].payload = bytemuck::cast(o);
        let (h, _) = hash_after(&other);
        assert_ne!(h, base, "change {change}");
    }
}

#[test]
fn time_priority_is_part_of_the_hash() {
    let t = SEC;
    let a = limit(0, 1, Side::Bid, 9_000, 1, t);
    let b = limit(1, 2, Side::Bid, 9_000, 1, t);
    let (h1, e1) = hash_after(&[a, b]);
    let (h2, e2) = hash_after(&[b, a]);
    assert_eq!(e1.resting_orders(), 2);
    assert_eq!(e2.resting_orders(), 2);
    assert_ne!(h1, h2, "same orders, other queue order");
}

