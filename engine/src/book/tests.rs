//! Focused unit tests: one per order type, STP mode, fee rounding, capacity.

use super::*;
use gavel_feeds::wire::Side::{Ask, Bid};

fn book() -> Book {
    Book::new(BookConfig {
        order_capacity: 64,
        level_capacity: 16,
        ..BookConfig::default()
    })
}

fn run(b: &mut Book, o: NewOrder) -> (Result<Outcome, Reject>, Vec<BookEvent>) {
    let mut ev = Vec::new();
    let r = b.submit(o, &mut |e| ev.push(e));
    (r, ev)
}

fn fills(ev: &[BookEvent]) -> Vec<(u64, u64, i64, i64)> {
    ev.iter()
        .filter_map(|e| match e {
            BookEvent::Fill(f) => Some((f.maker_id, f.taker_id, f.price, f.qty)),
            _ => None,
        })
        .collect()
}

fn typed(id: u64, account: AccountId, side: Side, t: OrderType, price: i64, qty: i64) -> NewOrder {
    NewOrder {
        order_type: t,
        ..NewOrder::limit(id, account, side, price, qty)
    }
}

#[test]
fn limit_orders_match_in_price_time_priority() {
    let mut b = book();
    run(&mut b, NewOrder::limit(1, 10, Ask, 101, 5)).0.unwrap();
    run(&mut b, NewOrder::limit(2, 11, Ask, 100, 5)).0.unwrap();
    run(&mut b, NewOrder::limit(3, 12, Ask, 100, 5)).0.unwrap();
    let (r, ev) = run(&mut b, NewOrder::limit(4, 13, Bid, 101, 12));
    assert_eq!(
        fills(&ev),
        vec![(2, 4, 100, 5), (3, 4, 100, 5), (1, 4, 101, 2)]
    );
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 12,
            resting: 0,
            cancelled: 0,
            price: 101
        }
    );
    assert_eq!(b.best_ask(), Some((101, 3)));
    assert_eq!(b.best_bid(), None);
    // A non-crossing remainder rests.
    let (r, _) = run(&mut b, NewOrder::limit(5, 13, Bid, 100, 7));
    assert_eq!(r.unwrap().resting, 7);
    assert_eq!(b.best_bid(), Some((100, 7)));
}

#[test]
fn ioc_cancels_the_remainder_and_fok_is_all_or_nothing() {
    let mut b = book();
    run(&mut b, NewOrder::limit(1, 1, Ask, 100, 5)).0.unwrap();
    run(&mut b, NewOrder::limit(2, 1, Ask, 102, 5)).0.unwrap();
    let (r, ev) = run(&mut b, typed(3, 2, Bid, OrderType::Ioc, 101, 8));
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 5,
            resting: 0,
            cancelled: 3,
            price: 101
        }
    );
    assert_eq!(fills(&ev).len(), 1);
    assert_eq!(b.best_bid(), None);
    // FOK for 6 up to 102: only 5 available → rejected untouched.
    let (r, ev) = run(&mut b, typed(4, 2, Bid, OrderType::Fok, 102, 6));
    assert_eq!(r, Err(Reject::FokUnfilled));
    assert!(ev.is_empty());
    assert_eq!(b.best_ask(), Some((102, 5)));
    let (r, _) = run(&mut b, typed(5, 2, Bid, OrderType::Fok, 102, 5));
    assert_eq!(r.unwrap().filled, 5);
    assert!(b.is_empty());
}

#[test]
fn post_only_rejects_or_slides() {
    let mut b = book();
    run(&mut b, NewOrder::limit(1, 1, Ask, 100, 5)).0.unwrap();
    let po = NewOrder {
        post_only: true,
        ..NewOrder::limit(2, 2, Bid, 100, 3)
    };
    assert_eq!(run(&mut b, po).0, Err(Reject::PostOnlyWouldCross));
    let mut s = Book::new(BookConfig {
        post_only: PostOnlyPolicy::Slide,
        ..BookConfig::default()
    });
    run(&mut s, NewOrder::limit(1, 1, Ask, 100, 5)).0.unwrap();
    let (r, ev) = run(&mut s, po);
    assert!(ev.is_empty());
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 0,
            resting: 3,
            cancelled: 0,
            price: 99
        }
    );
    assert_eq!(s.best_bid(), Some((99, 3)));
    let bad = NewOrder {
        post_only: true,
        order_type: OrderType::Ioc,
        ..po
    };
    assert_eq!(run(&mut s, bad).0, Err(Reject::InvalidFlags));
}

#[test]
fn market_orders_stop_at_the_protection_band() {
    let mut b = Book::new(BookConfig {
        market_band: PriceBand::Ticks(2),
        ..BookConfig::default()
    });
    assert_eq!(
        run(&mut b, typed(9, 1, Bid, OrderType::Market, 0, 1)).0,
        Err(Reject::NoLiquidity)
    );
    for (id, p) in [(1, 100), (2, 101), (3, 102), (4, 103)] {
        run(&mut b, NewOrder::limit(id, 1, Ask, p, 1)).0.unwrap();
    }
    let (r, ev) = run(&mut b, typed(5, 2, Bid, OrderType::Market, 0, 10));
    assert_eq!(
        fills(&ev).iter().map(|f| f.2).collect::<Vec<_>>(),
        vec![100, 101, 102]
    );
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 3,
            resting: 0,
            cancelled: 7,
            price: 102
        }
    );
    // With an external reference (e.g. the mark) the band is anchored there.
    for (id, p) in [(6, 103), (7, 104), (8, 110)] {
        run(&mut b, NewOrder::limit(id, 1, Ask, p, 1)).0.unwrap();
    }
    b.set_market_reference(Some(106));
    let (r, ev) = run(&mut b, typed(9, 2, Bid, OrderType::Market, 0, 10));
    assert_eq!(
        fills(&ev).iter().map(|f| f.2).collect::<Vec<_>>(),
        vec![103, 103, 104]
    );
    assert_eq!(r.unwrap().price, 108);
    // Bps band: 1% of 1000 = 10 ticks.
    assert_eq!(PriceBand::Bps(100).width(1000), 10);
    assert_eq!(PriceBand::Bps(100).width(999), 9);
}

#[test]
fn reduce_only_is_capped_by_the_hook() {
    let hook = |_acct: AccountId, _side: Side, qty: i64| qty.min(4);
    let mut b = Book::with_reduce_only(BookConfig::default(), hook);
    let o = NewOrder {
        reduce_only: true,
        ..NewOrder::limit(1, 1, Bid, 100, 10)
    };
    let r = b.submit(o, &mut |_| {}).unwrap();
    assert_eq!(
        r,
        Outcome {
            filled: 0,
            resting: 4,
            cancelled: 6,
            price: 100
        }
    );
    let mut none = Book::with_reduce_only(BookConfig::default(), |_: AccountId, _: Side, _: i64| 0);
    assert_eq!(none.submit(o, &mut |_| {}), Err(Reject::ReduceOnly));
    // Non reduce-only orders ignore the hook.
    assert_eq!(
        none.submit(
            NewOrder {
                reduce_only: false,
                ..o
            },
            &mut |_| {}
        )
        .unwrap()
        .resting,
        10
    );
}

#[test]
fn stp_modes() {
    let setup = || {
        let mut b = book();
        run(&mut b, NewOrder::limit(1, 7, Ask, 100, 5)).0.unwrap(); // own
        run(&mut b, NewOrder::limit(2, 8, Ask, 100, 5)).0.unwrap(); // other
        b
    };
    let taker = |stp| NewOrder {
        stp,
        ..NewOrder::limit(3, 7, Bid, 100, 8)
    };

    let mut b = setup();
    let (r, ev) = run(&mut b, taker(Stp::None));
    assert_eq!(fills(&ev), vec![(1, 3, 100, 5), (2, 3, 100, 3)]);
    assert_eq!(r.unwrap().filled, 8);

    let mut b = setup();
    let (r, ev) = run(&mut b, taker(Stp::CancelNewest));
    assert!(ev.is_empty());
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 0,
            resting: 0,
            cancelled: 8,
            price: 100
        }
    );
    assert_eq!(b.best_ask(), Some((100, 10)));

    let mut b = setup();
    let (r, ev) = run(&mut b, taker(Stp::CancelOldest));
    assert_eq!(
        ev[0],
        BookEvent::Cancelled {
            id: 1,
            account: 7,
            qty: 5,
            side: Side::Ask,
            price: 100,
            reason: CancelReason::SelfTrade
        }
    );
    assert_eq!(fills(&ev), vec![(2, 3, 100, 5)]);
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 5,
            resting: 3,
            cancelled: 0,
            price: 100
        }
    );
    assert_eq!(b.best_bid(), Some((100, 3)));

    let mut b = setup();
    let (r, ev) = run(&mut b, taker(Stp::CancelBoth));
    assert_eq!(ev.len(), 1);
    assert_eq!(
        r.unwrap(),
        Outcome {
            filled: 0,
            resting: 0,
            cancelled: 8,
            price: 100
        }
    );
    assert_eq!(b.best_ask(), Some((100, 5)));
    assert!(b.order(1).is_none());
}

#[test]
fn fees_round_in_the_venues_favour() {
    assert_eq!(FeeSchedule::fee(100, 3, 400), 1); // 0.12 → 1
    assert_eq!(FeeSchedule::fee(1_000_000, 1, 400), 400); // exact
    assert_eq!(FeeSchedule::fee(100, 3, -50), 0); // rebate -0.015 → 0
    assert_eq!(FeeSchedule::fee(1_000_000, 3, -50), -150); // exact rebate
    assert_eq!(FeeSchedule::fee(1_000_001, 1, -1), -1); // -1.000001 → -1
    let mut b = Book::new(BookConfig {
        fees: FeeSchedule {
            maker_ppm: -100,
            taker_ppm: 500,
        },
        ..BookConfig::default()
    });
    run(&mut b, NewOrder::limit(1, 1, Ask, 25_000, 3))
        .0
        .unwrap();
    let (_, ev) = run(&mut b, NewOrder::limit(2, 2, Bid, 25_000, 3));
    let BookEvent::Fill(f) = ev[0] else {
        panic!("expected a fill")
    };
    // notional 75_000: taker 37.5 → 38, maker -7.5 → -7.
    assert_eq!((f.maker_fee, f.taker_fee), (-7, 38));
}

#[test]
fn full_pool_and_full_ladder_reject_cleanly() {
    let mut b = Book::new(BookConfig {
        order_capacity: 2,
        level_capacity: 2,
        ..BookConfig::default()
    });
    run(&mut b, NewOrder::limit(1, 1, Bid, 100, 1)).0.unwrap();
    run(&mut b, NewOrder::limit(2, 1, Bid, 99, 1)).0.unwrap();
    assert_eq!(
        run(&mut b, NewOrder::limit(3, 1, Bid, 98, 1)).0,
        Err(Reject::PoolFull)
    );
    assert_eq!(b.place(3, 1, Ask, 120, 1), Err(Reject::PoolFull));
    // An IOC needs no slot and still trades.
    let (r, _) = run(&mut b, typed(4, 2, Ask, OrderType::Ioc, 99, 2));
    assert_eq!(r.unwrap().filled, 2);
    let mut c = Book::new(BookConfig {
        order_capacity: 8,
        level_capacity: 2,
        ..BookConfig::default()
    });
    run(&mut c, NewOrder::limit(1, 1, Bid, 100, 1)).0.unwrap();
    run(&mut c, NewOrder::limit(2, 1, Bid, 99, 1)).0.unwrap();
    assert_eq!(
        run(&mut c, NewOrder::limit(3, 1, Bid, 98, 1)).0,
        Err(Reject::LevelsFull)
    );
    run(&mut c, NewOrder::limit(3, 1, Bid, 99, 1)).0.unwrap(); // existing level is fine
    assert_eq!(c.level_qty(Bid, 99), 2);
}

#[test]
fn cancel_modify_and_mass_cancel() {
    let mut b = book();
    run(&mut b, NewOrder::limit(1, 1, Ask, 100, 5)).0.unwrap();
    run(&mut b, NewOrder::limit(2, 2, Ask, 100, 5)).0.unwrap();
    run(&mut b, NewOrder::limit(3, 1, Ask, 101, 5)).0.unwrap();
    assert_eq!(
        run(&mut b, NewOrder::limit(1, 1, Ask, 100, 5)).0,
        Err(Reject::DuplicateId)
    );
    // Qty down keeps priority.
    b.modify(1, 100, 2, &mut |_| {}).unwrap();
    let (_, ev) = run(&mut b, typed(9, 3, Bid, OrderType::Ioc, 100, 1));
    assert_eq!(fills(&ev), vec![(1, 9, 100, 1)]);
    // Qty up loses priority.
    b.modify(1, 100, 4, &mut |_| {}).unwrap();
    let (_, ev) = run(&mut b, typed(10, 3, Bid, OrderType::Ioc, 100, 1));
    assert_eq!(fills(&ev), vec![(2, 10, 100, 1)]);
    // A price change that crosses trades.
    run(&mut b, NewOrder::limit(4, 5, Bid, 98, 3)).0.unwrap();
    let mut ev = Vec::new();
    let r = b.modify(4, 100, 3, &mut |e| ev.push(e)).unwrap();
    assert_eq!(r.filled, 3);
    assert_eq!(fills(&ev), vec![(2, 4, 100, 3)]);
    assert_eq!(b.cancel(77), Err(Reject::UnknownOrder));
    assert_eq!(b.cancel(2), Ok(1));
    let mut cancelled = Vec::new();
    assert_eq!(b.mass_cancel(1, &mut |e| cancelled.push(e)), 2);
    assert_eq!(cancelled.len(), 2);
    assert!(b.is_empty());
    assert_eq!(b.level_count(Ask), 0);
}

#[test]
fn depth_walk_cost_and_level_reduction() {
    let mut b = book();
    for (id, p, q) in [(1, 100, 2), (2, 101, 3), (3, 103, 4), (4, 100, 1)] {
        b.place(id, 1, Ask, p, q).unwrap();
    }
    let mut buf = [DepthLevel::default(); 2];
    assert_eq!(b.depth(Ask, &mut buf), 2);
    assert_eq!(
        buf[0],
        DepthLevel {
            price: 100,
            qty: 3,
            orders: 2
        }
    );
    assert_eq!(
        buf[1],
        DepthLevel {
            price: 101,
            qty: 3,
            orders: 1
        }
    );
    let w = b.walk_cost(Bid, 7, None);
    assert_eq!(
        w,
        WalkCost {
            filled: 7,
            notional: 300 + 303 + 103,
            worst_price: 103
        }
    );
    assert_eq!(b.walk_cost(Bid, 100, Some(101)).filled, 6);
    assert_eq!(b.reduce_level(Ask, 100, 2), 2); // oldest first: order 1 gone
    assert!(b.order(1).is_none());
    assert_eq!(b.order(4).unwrap().qty, 1);
    assert_eq!(b.reduce(3, 1), Ok(1));
    assert_eq!(b.level_qty(Ask, 103), 3);
    assert_eq!(b.clear_level(Ask, 101), 3);
    assert_eq!(b.level_count(Ask), 2);
}

#[test]
fn wire_client_orders_decode() {
    use gavel_feeds::wire::{order_flags, ClientOrder, Event, EventKind, Venue};
    let flags = order_flags::TYPE_IOC | order_flags::REDUCE_ONLY | (2 << order_flags::STP_SHIFT);
    let mut ev = Event::new(
        EventKind::ClientOrder,
        Venue::Gavel,
        1,
        ClientOrder {
            account: 5,
            price: 100,
            qty: 3,
        },
    )
    .with_side(Side::Ask)
    .with_times(42, 0, 0);
    ev.flags = flags;
    let Some(Ok(wire_adapter::Request::New(o))) = wire_adapter::decode(&ev) else {
        panic!("decode failed")
    };
    assert_eq!(
        o,
        NewOrder {
            id: 42,
            account: 5,
            side: Side::Ask,
            order_type: OrderType::Ioc,
            price: 100,
            qty: 3,
            post_only: false,
            reduce_only: true,
            stp: Stp::CancelOldest
        }
    );
    ev.side = 9;
    assert_eq!(wire_adapter::decode(&ev), Some(Err(Reject::InvalidSide)));
}

#[test]
fn extreme_values_reject_or_saturate_instead_of_overflowing() {
    assert_eq!(FeeSchedule::fee(i64::MAX, i64::MAX, i64::MAX), i64::MAX);
    assert_eq!(FeeSchedule::fee(i64::MAX, i64::MAX, i64::MIN), i64::MIN);
    let mut b = Book::new(BookConfig {
        post_only: PostOnlyPolicy::Slide,
        ..BookConfig::default()
    });
    b.place(1, 1, Bid, i64::MAX, 1).unwrap();
    let po = NewOrder {
        post_only: true,
        ..NewOrder::limit(2, 2, Ask, 5, 1)
    };
    assert_eq!(b.submit(po, &mut |_| {}), Err(Reject::PostOnlyWouldCross));
    let mut m = Book::new(BookConfig {
        market_band: PriceBand::Ticks(i64::MAX),
        ..BookConfig::default()
    });
    m.place(1, 1, Ask, i64::MAX - 1, 1).unwrap();
    m.place(2, 1, Bid, 1, 1).unwrap();
    let buy = typed(3, 2, Bid, OrderType::Market, 0, 1);
    assert_eq!(m.submit(buy, &mut |_| {}).unwrap().price, i64::MAX);
    let sell = typed(4, 2, Ask, OrderType::Market, 0, 1);
    assert_eq!(m.submit(sell, &mut |_| {}).unwrap().price, 1);
}
