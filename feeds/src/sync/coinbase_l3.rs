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

use super::{SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, GapMarker, OrderRef, Side, Venue};
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
    /// Common sync counters (`applied` counts messages).
    pub stats: SyncStats,
    /// L3 counters.
    pub l3: L3Stats,
}

impl CoinbaseL3Sync {
    /// A sync with room for `max_orders` resting orders and `max_buffer`
    /// buffered messages before a snapshot (more are dropped and counted in
    /// `buffer_overflow`, which then forces a resync).
    pub fn new(instrument: u32, max_orders: usize, max_buffer: usize) -> Self {
        CoinbaseL3Sync {
            instrument,
            orders: HashMap::with_capacity(max_orders),
            book: L2Book::with_capacity(1 << 14),
            synced: false,
            last_sequence: 0,
            buffer: Vec::with_capacity(max_buffer * 2),
            buffered_sequences: Vec::with_capacity(max_buffer),
            max_buffer,
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
                self.fail(sequence, GAP_INCONSISTENT, sequence, receive_ns, emit);
                return;
            }
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
        self.stats.applied += 1;
        emit(
            SyncNote::Applied {
                final_id: sequence,
                receive_ns,
            },
            &self.book,
        );
    }

    fn level_add(&mut self, side: Side, price: i64, delta: i64) {
        let qty = self.book.qty_at(side, price) + delta;
        self.book.set(side, price, qty);
    }

    fn add(&mut self, ev: &Event) -> bool {
        let o: OrderRef = ev.payload();
        let Some(side @ (Side::Bid | Side::Ask)) = ev.side() else {
            return false;
        };
        if o.qty < 0 || self.orders.contains_key(&o.order_id) {
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
        self.level_add(side, o.price, o.qty);
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
        self.level_add(order.side, order.price, -removed);
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
        self.level_add(order.side, order.price, -order.remaining);
        self.level_add(order.side, o.price, o.qty);
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
        self.level_add(order.side, order.price, -o.qty);
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
        let marker = GapMarker {
            expected,
            reason,
            reserved: 0,
        };
        let ev = Event::new(EventKind::Gap, Venue::Coinbase, self.instrument, marker).with_times(
            sequence,
            0,
            receive_ns,
        );
        emit(SyncNote::Gap(ev), &self.book);
    }
}
