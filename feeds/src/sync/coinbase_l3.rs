//! Coinbase level-3 book mirror: every resting order (id → side, price,
//! remaining) plus the price-level aggregates as an [`L2Book`].
//!
//! Sync rule (Coinbase Exchange docs, "full" channel): subscribe, buffer the
//! messages, fetch a level-3 REST book, drop buffered messages whose
//! `sequence` is ≤ the book's `sequence`, apply the rest in order. After
//! that, every message must carry the previous `sequence` + 1: a lower one is
//! a duplicate (skipped, counted), a higher one a gap (a `Gap` event, book
//! cleared, messages buffered again until the next REST book). An event that
//! contradicts the order state (an `open` of a live id, a `match` larger than
//! the order's remainder or on an unknown order) and a crossed book also
//! force a resync. Events on orders that are not on the book (`done` of a
//! taker, `change` of a received order) are legal in Coinbase's feed and are
//! only counted.

use super::{gap_event, report_applied, SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, OrderRef, Side, Venue};
use std::collections::HashMap;

/// Gap reason: an L3 event contradicted the mirrored orders.
pub const GAP_INCONSISTENT: u64 = 16;

/// One resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Bid or ask.
    pub side: Side,
    /// Price in ticks.
    pub price: i64,
    /// Remaining quantity in lots (0 after a full fill, until its `done`).
    pub remaining: i64,
}

/// Counters specific to the L3 mirror.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct L3Stats {
    /// Events on orders not on the book (legal; ignored).
    pub not_on_book: u64,
    /// Events contradicting the order state (each forced a resync).
    pub inconsistent: u64,
    /// Opens refused because the mirror held its maximum number of orders
    /// (each forced a resync).
    pub order_overflow: u64,
}

/// Level-3 book sync of one Coinbase product.
#[derive(Clone, Debug)]
pub struct CoinbaseL3Sync {
    instrument: u32,
    orders: HashMap<u64, RestingOrder>,
    book: L2Book,
    synced: bool,
    last_sequence: u64,
    /// Events of the messages buffered while waiting for a REST book.
    buffer: Vec<Event>,
    /// Per buffered message: its sequence and the end of its events in
    /// `buffer` (a message may have no events).
    buffered_sequences: Vec<(u64, usize)>,
    max_buffer: usize,
    max_orders: usize,
    /// Common sync counters (`applied` counts messages).
    pub stats: SyncStats,
    /// L3 counters.
    pub l3: L3Stats,
}

impl CoinbaseL3Sync {
    /// A sync with room for `max_orders` resting orders (an open beyond that
    /// is refused and forces a resync: the mirror never reallocates) and
    /// `max_buffer` buffered messages before a snapshot (beyond that the
    /// buffer restarts, counted in `buffer_overflow`).
    pub fn new(instrument: u32, max_orders: usize, max_buffer: usize) -> Self {
        CoinbaseL3Sync {
            instrument,
            orders: HashMap::with_capacity(max_orders),
            book: L2Book::with_capacity(Venue::Coinbase, 1 << 14),
            synced: false,
            last_sequence: 0,
            buffer: Vec::with_capacity(max_buffer * 2),
            buffered_sequences: Vec::with_capacity(max_buffer),
            max_buffer,
            max_orders,
            stats: SyncStats::default(),
            l3: L3Stats::default(),
        }
    }

    /// The aggregated book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// The resting orders by wire id.
    pub fn orders(&self) -> &HashMap<u64, RestingOrder> {
        &self.orders
    }

    /// True when the book is consistent with the venue.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Sequence of the last applied message.
    pub fn last_sequence(&self) -> u64 {
        self.last_sequence
    }

    /// Loads a level-3 REST book (its `OrderAdd` events), then applies the
    /// buffered messages newer than it.
    pub fn on_snapshot(
        &mut self,
        sequence: u64,
        receive_ns: i64,
        events: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.orders.clear();
        self.book.clear();
        self.stats.snapshots += 1;
        for ev in events.iter().filter(|e| e.kind == EventKind::OrderAdd as u8) {
            if !self.add(ev) {
                self.l3.inconsistent += 1;
                self.fail(sequence, GAP_INCONSISTENT, sequence, receive_ns, emit);
                return;
            }
        }
        if self.book.is_crossed() {
            self.stats.crossed += 1;
            self.fail(sequence, gap_reason::CROSSED, sequence, receive_ns, emit);
            return;
        }
        self.synced = true;
        self.last_sequence = sequence;
        emit(
            SyncNote::Applied {
                final_id: sequence,
                receive_ns,
            },
            &self.book,
        );
        let mut buffer = std::mem::take(&mut self.buffer);
        let mut sequences = std::mem::take(&mut self.buffered_sequences);
        let mut begin = 0;
        for &(seq, end) in &sequences {
            let events = &buffer[begin..end];
            begin = end;
            if seq <= sequence {
                self.stats.stale += 1;
            } else {
                // Applies, or re-buffers after a gap found inside the buffer.
                self.on_message(seq, receive_ns, events, emit);
            }
        }
        // Keep the warmed-up allocations; carry over anything re-buffered.
        buffer.clear();
        buffer.extend_from_slice(&self.buffer);
        sequences.clear();
        sequences.extend_from_slice(&self.buffered_sequences);
        self.buffer = buffer;
        self.buffered_sequences = sequences;
    }

    /// Handles one `full` message: its sequence and its L3 events.
    pub fn on_message(
        &mut self,
        sequence: u64,
        receive_ns: i64,
        events: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        if !self.synced {
            if self.buffered_sequences.len() == self.max_buffer {
                self.stats.buffer_overflow += 1;
                // The buffer no longer covers the stream: start afresh.
                self.buffered_sequences.clear();
                self.buffer.clear();
            }
            self.buffer.extend_from_slice(events);
            self.buffered_sequences.push((sequence, self.buffer.len()));
            return;
        }
        if sequence <= self.last_sequence {
            self.stats.duplicates += 1;
            return;
        }
        if sequence != self.last_sequence + 1 {
            let expected = self.last_sequence + 1;
            self.fail(expected, gap_reason::SEQUENCE, sequence, receive_ns, emit);
            // This message is the first of the new buffer.
            self.on_message(sequence, receive_ns, events, emit);
            return;
        }
        self.last_sequence = sequence;
        for ev in events {
            let ok = match ev.kind() {
                Some(EventKind::OrderAdd) => self.add(ev),
                Some(EventKind::OrderCancel) => self.cancel(ev),
                Some(EventKind::OrderModify) => self.modify(ev),
                Some(EventKind::OrderExecute) => self.execute(ev),
                _ => true,
            };
            if !ok {
                self.l3.inconsistent += 1;
                self.fail(sequence, GAP_INCONSISTENT, sequence, receive_ns, emit);
                return;
            }
        }
        if self.book.is_crossed() {
            self.stats.crossed += 1;
            self.fail(sequence, gap_reason::CROSSED, sequence, receive_ns, emit);
            return;
        }
        report_applied(&mut self.stats, &self.book, sequence, receive_ns, emit);
    }

    /// Adds `delta` to a level; `false` when the sum would overflow.
    #[must_use]
    fn level_add(&mut self, side: Side, price: i64, delta: i64) -> bool {
        match self.book.qty_at(side, price).checked_add(delta) {
            Some(qty) => {
                self.book.set_level(side, price, qty);
                true
            }
            None => false,
        }
    }

    fn add(&mut self, ev: &Event) -> bool {
        let o: OrderRef = ev.payload();
        let Some(side @ (Side::Bid | Side::Ask)) = ev.side() else {
            return false;
        };
        if o.qty < 0 || self.orders.contains_key(&o.order_id) {
            return false;
        }
        if self.orders.len() == self.max_orders {
            // Beyond the preallocated capacity: refuse rather than allocate.
            self.l3.order_overflow += 1;
            return false;
        }
        if !self.level_add(side, o.price, o.qty) {
            return false;
        }
        self.orders.insert(
            o.order_id,
            RestingOrder {
                side,
                price: o.price,
                remaining: o.qty,
            },
        );
        true
    }

    fn cancel(&mut self, ev: &Event) -> bool {
        let o: OrderRef = ev.payload();
        let Some(order) = self.orders.get(&o.order_id).copied() else {
            self.l3.not_on_book += 1;
            return true;
        };
        let removed = if o.qty == 0 { order.remaining } else { o.qty };
        if removed > order.remaining || removed < 0 {
            return false;
        }
        let _ = self.level_add(order.side, order.price, -removed); // never below 0
        if removed == order.remaining {
            self.orders.remove(&o.order_id);
        } else if let Some(live) = self.orders.get_mut(&o.order_id) {
            live.remaining -= removed;
        }
        true
    }

    fn modify(&mut self, ev: &Event) -> bool {
        let o: OrderRef = ev.payload();
        let Some(order) = self.orders.get(&o.order_id).copied() else {
            self.l3.not_on_book += 1;
            return true;
        };
        if o.qty < 0 {
            return false;
        }
        let _ = self.level_add(order.side, order.price, -order.remaining); // never below 0
        if !self.level_add(order.side, o.price, o.qty) {
            return false;
        }
        if let Some(live) = self.orders.get_mut(&o.order_id) {
            live.price = o.price;
            live.remaining = o.qty;
        }
        true
    }

    fn execute(&mut self, ev: &Event) -> bool {
        let o: OrderRef = ev.payload();
        let Some(order) = self.orders.get(&o.order_id).copied() else {
            // A match always names a resting maker.
            return false;
        };
        if o.qty <= 0 || o.qty > order.remaining || o.price != order.price {
            return false;
        }
        let _ = self.level_add(order.side, order.price, -o.qty); // never below 0
        if let Some(live) = self.orders.get_mut(&o.order_id) {
            live.remaining -= o.qty;
        }
        true
    }

    fn fail(
        &mut self,
        expected: u64,
        reason: u64,
        sequence: u64,
        receive_ns: i64,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.stats.gaps += 1;
        self.orders.clear();
        self.book.clear();
        self.buffer.clear();
        self.buffered_sequences.clear();
        self.synced = false;
        let gap = gap_event(Venue::Coinbase, self.instrument, expected, reason, sequence, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
    }
}

#[cfg(test)]
mod tests {
    //! The session fixture below is written by hand from Coinbase Exchange's
    //! documentation of the `full` channel and the level-3 REST book (no
    //! recording under GAVEL_DATA holds full-channel data).
    use super::*;
    use crate::wire::{GapMarker};
    use crate::decimal::Grid;
    use crate::venues::coinbase_full::{CoinbaseFullParser, FullMessage};
    use crate::venues::{InstrumentSpec, Instruments};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const B1: &str = "00000000-0000-4000-8000-0000000000b1";
    const B2: &str = "00000000-0000-4000-8000-0000000000b2";
    const A1: &str = "00000000-0000-4000-8000-0000000000a1";
    const A2: &str = "00000000-0000-4000-8000-0000000000a2";
    const C1: &str = "00000000-0000-4000-8000-0000000000c1";
    const T1: &str = "00000000-0000-4000-8000-0000000000d1";

    type Top = (Option<(i64, i64)>, Option<(i64, i64)>);

    struct Session {
        parser: CoinbaseFullParser,
        sync: CoinbaseL3Sync,
        notes: Vec<SyncNote>,
    }

    impl Session {
        fn new() -> Self {
            let spec = InstrumentSpec::new(
                "BTC-USD",
                3,
                Grid::with_decimals(2).unwrap(),
                Grid::with_decimals(8).unwrap(),
            );
            Session {
                parser: CoinbaseFullParser::with_max_orders(Instruments::new(vec![spec]), 64),
                sync: CoinbaseL3Sync::new(3, 64, 64),
                notes: Vec::new(),
            }
        }

        fn feed(&mut self, text: &str) -> Top {
            let mut out = Vec::new();
            let notes = &mut self.notes;
            let mut emit = |n: SyncNote, _: &L2Book| notes.push(n);
            match self.parser.parse_full(text.as_bytes(), 0, None, &mut out).unwrap() {
                FullMessage::Order { sequence, .. } => self.sync.on_message(sequence, 0, &out, &mut emit),
                FullMessage::Snapshot { sequence, .. } => self.sync.on_snapshot(sequence, 0, &out, &mut emit),
                FullMessage::Other(m) => panic!("not a full message: {m:?}"),
            }
            let book = self.sync.book();
            (
                book.best_bid().map(|l| (l.price, l.qty)),
                book.best_ask().map(|l| (l.price, l.qty)),
            )
        }
    }

    fn msg(seq: u64, body: &str) -> String {
        format!(r#"{{{body},"product_id":"BTC-USD","sequence":{seq},"time":"2014-11-07T08:19:27.028459Z"}}"#)
    }

    const LOT: i64 = 100_000_000;

    #[test]
    fn documented_session_gives_exact_books() {
        let mut s = Session::new();
        // Buffered while the REST book is in flight: 100 is older than the book, 101 newer.
        let stale = msg(
            100,
            &format!(
                r#""type":"done","order_id":"{B2}","price":"99.00","reason":"canceled","side":"buy","remaining_size":"1.0""#
            ),
        );
        assert_eq!(s.feed(&stale), (None, None));
        let early = msg(
            101,
            &format!(r#""type":"open","order_id":"{C1}","price":"100.50","remaining_size":"0.3","side":"buy""#),
        );
        assert_eq!(s.feed(&early), (None, None));
        assert!(!s.sync.is_synced());

        let book = format!(
            r#"{{"sequence":100,"bids":[["100.00","1.0","{B1}"],["99.50","2.0","{B2}"]],"asks":[["101.00","0.5","{A1}"],["101.00","0.25","{A2}"]]}}"#
        );
        let top = s.feed(&book);
        assert_eq!(
            top,
            (Some((10_050, 30_000_000)), Some((10_100, 75_000_000))),
            "101 applied after the book"
        );
        assert_eq!(s.sync.stats.stale, 1);
        assert_eq!(s.sync.last_sequence(), 101);

        let steps: Vec<(String, Top)> = vec![
            // A market sell arrives (not on the book).
            (
                msg(
                    102,
                    &format!(r#""type":"received","order_id":"{T1}","size":"0.6","side":"sell","order_type":"market""#),
                ),
                (Some((10_050, 30_000_000)), Some((10_100, 75_000_000))),
            ),
            (
                msg(
                    103,
                    &format!(
                        r#""type":"match","trade_id":1,"maker_order_id":"{C1}","taker_order_id":"{T1}","size":"0.1","price":"100.50","side":"buy""#
                    ),
                ),
                (Some((10_050, 20_000_000)), Some((10_100, 75_000_000))),
            ),
            (
                msg(
                    104,
                    &format!(r#""type":"done","order_id":"{T1}","reason":"filled","side":"sell""#),
                ),
                (Some((10_050, 20_000_000)), Some((10_100, 75_000_000))),
            ),
            (
                msg(
                    105,
                    &format!(
                        r#""type":"change","reason":"STP","order_id":"{C1}","new_size":"0.15","old_size":"0.2","price":"100.50","side":"buy""#
                    ),
                ),
                (Some((10_050, 15_000_000)), Some((10_100, 75_000_000))),
            ),
            (
                msg(
                    106,
                    &format!(
                        r#""type":"match","trade_id":2,"maker_order_id":"{A1}","taker_order_id":"{T1}","size":"0.5","price":"101.00","side":"sell""#
                    ),
                ),
                (Some((10_050, 15_000_000)), Some((10_100, 25_000_000))),
            ),
            (
                msg(
                    107,
                    &format!(
                        r#""type":"done","order_id":"{A1}","price":"101.00","reason":"filled","side":"sell","remaining_size":"0""#
                    ),
                ),
                (Some((10_050, 15_000_000)), Some((10_100, 25_000_000))),
            ),
            (
                msg(
                    108,
                    &format!(
                        r#""type":"done","order_id":"{C1}","price":"100.50","reason":"canceled","side":"buy","remaining_size":"0.15""#
                    ),
                ),
                (Some((10_000, LOT)), Some((10_100, 25_000_000))),
            ),
            (
                msg(
                    109,
                    &format!(
                        r#""type":"change","reason":"modify_order","order_id":"{B1}","new_size":"0.4","old_size":"1.0","new_price":"100.20","old_price":"100.00","side":"buy""#
                    ),
                ),
                (Some((10_020, 40_000_000)), Some((10_100, 25_000_000))),
            ),
        ];
        for (text, want) in &steps {
            assert_eq!(&s.feed(text), want, "after {text}");
        }
        assert_eq!(s.sync.orders().len(), 3);
        assert_eq!(
            s.parser.stats.unpriced, 1,
            "the market order's done has no price: no event"
        );
        assert_eq!(s.parser.stats.received, 1);
        assert_eq!(s.sync.stats.applied, 1 + steps.len() as u64);
        // A duplicate is skipped.
        assert_eq!(
            s.feed(&steps[7].0),
            (Some((10_020, 40_000_000)), Some((10_100, 25_000_000)))
        );
        assert_eq!(s.sync.stats.duplicates, 1);

        // 110 is lost: 111 is a gap → Gap event, empty book, buffering again.
        let after_gap = msg(
            111,
            &format!(r#""type":"open","order_id":"{C1}","price":"100.90","remaining_size":"2","side":"buy""#),
        );
        assert_eq!(s.feed(&after_gap), (None, None));
        assert!(!s.sync.is_synced());
        assert!(matches!(s.notes.last(), Some(SyncNote::Gap(ev))
            if ev.payload::<GapMarker>() == GapMarker { expected: 110, reason: gap_reason::SEQUENCE, reserved: 0 }));
        assert_eq!(s.sync.stats.gaps, 1);
        let next = msg(
            112,
            &format!(r#""type":"open","order_id":"{T1}","price":"101.50","remaining_size":"1","side":"sell""#),
        );
        assert_eq!(s.feed(&next), (None, None));
        // A fresh REST book at 111 (which already holds C1): 111 is stale, 112 applies.
        let book = format!(
            r#"{{"sequence":111,"bids":[["100.90","2","{C1}"],["99.50","2.0","{B2}"]],"asks":[["101.00","0.25","{A2}"]]}}"#
        );
        assert_eq!(s.feed(&book), (Some((10_090, 2 * LOT)), Some((10_100, 25_000_000))));
        assert_eq!(s.sync.last_sequence(), 112);
        assert_eq!(
            s.sync
                .book()
                .levels(Side::Ask)
                .map(|l| (l.price, l.qty))
                .collect::<Vec<_>>(),
            [(10_100, 25_000_000), (10_150, LOT)]
        );
        assert_eq!(s.sync.stats.stale, 2);
    }

    #[test]
    fn contradictions_force_a_resync() {
        let mut s = Session::new();
        let book = format!(r#"{{"sequence":5,"bids":[["100.00","1.0","{B1}"]],"asks":[]}}"#);
        s.feed(&book);
        // A match bigger than the maker's remainder.
        let bad = msg(
            6,
            &format!(
                r#""type":"match","trade_id":1,"maker_order_id":"{B1}","taker_order_id":"{T1}","size":"2","price":"100.00","side":"buy""#
            ),
        );
        assert_eq!(s.feed(&bad), (None, None));
        assert_eq!(s.sync.l3.inconsistent, 1);
        assert!(
            matches!(s.notes.last(), Some(SyncNote::Gap(ev)) if ev.payload::<GapMarker>().reason == GAP_INCONSISTENT)
        );
        // An open of a live id.
        s.feed(&book);
        let dup = msg(
            6,
            &format!(r#""type":"open","order_id":"{B1}","price":"99.00","remaining_size":"1","side":"buy""#),
        );
        assert_eq!(s.feed(&dup), (None, None));
        assert_eq!(s.sync.l3.inconsistent, 2);
    }

    fn order_event(kind: EventKind, side: Side, order_id: u64, price: i64, qty: i64) -> Event {
        Event::new(kind, Venue::Coinbase, 3, OrderRef { order_id, price, qty }).with_side(side)
    }

    proptest! {
        /// Random open/match/change/done streams: after every message the
        /// aggregated levels equal the sum of the resting orders, and the
        /// orders equal an independent model.
        #[test]
        fn aggregates_follow_the_orders(ops in proptest::collection::vec((0u8..4, any::<bool>(), 0usize..64, 1i64..6, 0i64..10), 1..200)) {
            let mut sync = CoinbaseL3Sync::new(3, 256, 16);
            let mut emit = |_: SyncNote, _: &L2Book| {};
            sync.on_snapshot(0, 0, &[], &mut emit);
            let mut model: BTreeMap<u64, RestingOrder> = BTreeMap::new();
            let mut next_id = 1u64;
            let mut seq = 0u64;
            for (op, bid, pick, qty, tick) in ops {
                let live: Vec<u64> = model.keys().copied().collect();
                let target = (!live.is_empty()).then(|| live[pick % live.len()]);
                let ev = match (op, target) {
                    (1, Some(id)) => {
                        let o = model[&id];
                        let q = qty.min(o.remaining);
                        if q == 0 { continue; }
                        model.get_mut(&id).unwrap().remaining -= q;
                        order_event(EventKind::OrderExecute, o.side, id, o.price, q)
                    }
                    (2, Some(id)) => {
                        let o = model[&id];
                        // Stay on the own side of the spread (bids < 100 ≤ asks).
                        let price = if o.side == Side::Bid { 90 + tick } else { 100 + tick };
                        let m = model.get_mut(&id).unwrap();
                        m.price = price;
                        m.remaining = qty;
                        order_event(EventKind::OrderModify, o.side, id, price, qty)
                    }
                    (3, Some(id)) => {
                        let o = model.remove(&id).unwrap();
                        order_event(EventKind::OrderCancel, o.side, id, o.price, 0)
                    }
                    _ => {
                        let side = if bid { Side::Bid } else { Side::Ask };
                        let price = if bid { 90 + tick } else { 100 + tick };
                        let id = next_id;
                        next_id += 1;
                        model.insert(id, RestingOrder { side, price, remaining: qty });
                        order_event(EventKind::OrderAdd, side, id, price, qty)
                    }
                };
                seq += 1;
                sync.on_message(seq, 0, &[ev], &mut emit);
                prop_assert!(sync.is_synced());
                let mirrored: BTreeMap<u64, RestingOrder> = sync.orders().iter().map(|(&k, &v)| (k, v)).collect();
                prop_assert_eq!(&mirrored, &model);
                for side in [Side::Bid, Side::Ask] {
                    let mut want: BTreeMap<i64, i64> = BTreeMap::new();
                    for o in model.values().filter(|o| o.side == side) {
                        *want.entry(o.price).or_default() += o.remaining;
                    }
                    want.retain(|_, q| *q != 0);
                    let got: BTreeMap<i64, i64> = sync.book().levels(side).map(|l| (l.price, l.qty)).collect();
                    prop_assert_eq!(got, want);
                }
                let best_bid = model.values().filter(|o| o.side == Side::Bid && o.remaining > 0).map(|o| o.price).max();
                prop_assert_eq!(sync.book().best_bid().map(|l| l.price), best_bid);
            }
        }

        /// Arbitrary (even absurd) events and sequences never panic the sync,
        /// and a synced book is never crossed.
        #[test]
        fn arbitrary_events_never_panic(
            evs in proptest::collection::vec((9u8..13, 0u8..3, 0u64..6, any::<i64>(), any::<i64>(), 0u64..12), 0..80)
        ) {
            let mut sync = CoinbaseL3Sync::new(3, 4, 4);
            let mut emit = |_: SyncNote, _: &L2Book| {};
            for (i, (kind, side, id, price, qty, seq)) in evs.into_iter().enumerate() {
                let kind = EventKind::from_u8(kind).unwrap();
                let side = [Side::None, Side::Bid, Side::Ask][side as usize];
                let ev = order_event(kind, side, id, price, qty);
                if i % 7 == 0 {
                    sync.on_snapshot(seq, 0, &[ev], &mut emit);
                } else {
                    sync.on_message(seq, 0, &[ev], &mut emit);
                }
                prop_assert!(!sync.is_synced() || !sync.book().is_crossed());
                prop_assert!(sync.orders().len() <= 4);
            }
        }
    }
}
