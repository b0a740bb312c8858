//! Bybit v2 `orderBookL2_*` sync: id-keyed levels (the id is the price × 10^4,
//! checked by the parser, so the book stays price-keyed).
//!
//! Every `snapshot` replaces the book. A `delta` applies its `delete`,
//! `update` and `insert` levels in message order; a `delete` or `update` of a
//! level the book does not hold, or an `insert` of one it already holds, means
//! messages were lost: `Gap` event, book cleared, deltas dropped until the next
//! snapshot. `cross_seq` is shared by all symbols of the connection, so it
//! jumps between deltas of one symbol; it must only increase: a delta with
//! `cross_seq ≤` the last applied is a duplicate (skipped, counted). Deltas
//! before the first snapshot are stale (counted). The book is checked for
//! crossing after every update.

use super::{apply_levels, gap_event, report_applied, SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::venues::bybit::{FLAG_V2_DELETE, FLAG_V2_INSERT, FLAG_V2_UPDATE};
use crate::wire::{gap_reason, Event, EventKind, PriceLevel, Side, Venue};

/// Snapshot + delta sync of one Bybit v2 instrument.
#[derive(Clone, Debug)]
pub struct BybitV2BookSync {
    instrument: u32,
    book: L2Book,
    last_cross_seq: Option<u64>,
    /// Counters.
    pub stats: SyncStats,
    /// Deltas that referred to a level id the book did not hold (or inserted one it held); each is also a gap.
    pub unknown_levels: u64,
}

impl BybitV2BookSync {
    /// A sync waiting for its first snapshot.
    pub fn new(instrument: u32) -> Self {
        BybitV2BookSync {
            instrument,
            book: L2Book::with_capacity(Venue::Bybit, 256),
            last_cross_seq: None,
            stats: SyncStats::default(),
            unknown_levels: 0,
        }
    }

    /// The mirrored book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// True when the book is consistent with the venue.
    pub fn is_synced(&self) -> bool {
        self.last_cross_seq.is_some()
    }

    /// Replaces the book with a snapshot (`SnapshotLevel` events) at `cross_seq`.
    pub fn on_snapshot(
        &mut self,
        cross_seq: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.book.clear();
        self.stats.snapshots += 1;
        apply_levels(&mut self.book, levels, EventKind::SnapshotLevel);
        self.finish(cross_seq, receive_ns, emit);
    }

    /// Applies a delta (`BookLevel` events with the v2 action flags) at `cross_seq`.
    pub fn on_delta(
        &mut self,
        cross_seq: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        let last = match self.last_cross_seq {
            None => {
                self.stats.stale += 1;
                return;
            }
            Some(last) if cross_seq <= last => {
                self.stats.duplicates += 1;
                return;
            }
            Some(last) => last,
        };
        for ev in levels {
            if ev.kind != EventKind::BookLevel as u8 {
                continue;
            }
            let Some(side @ (Side::Bid | Side::Ask)) = ev.side() else {
                continue;
            };
            let level: PriceLevel = ev.payload();
            let held = self.book.levels(side).any(|l| l.price == level.price);
            let known = if ev.flags & FLAG_V2_INSERT != 0 {
                !held
            } else if ev.flags & (FLAG_V2_UPDATE | FLAG_V2_DELETE) != 0 {
                held
            } else {
                true
            };
            if !known {
                self.unknown_levels += 1;
                self.fail(last, gap_reason::SEQUENCE, cross_seq, receive_ns, emit);
                return;
            }
            let qty = if ev.flags & FLAG_V2_DELETE != 0 {
                0
            } else {
                level.qty
            };
            self.book.set_level(side, level.price, qty);
        }
        self.finish(cross_seq, receive_ns, emit);
    }

    fn finish(
        &mut self,
        cross_seq: u64,
        receive_ns: i64,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.last_cross_seq = Some(cross_seq);
        if self.book.is_crossed() {
            self.stats.crossed += 1;
            self.fail(cross_seq, gap_reason::CROSSED, cross_seq, receive_ns, emit);
            return;
        }
        report_applied(&mut self.stats, &self.book, cross_seq, receive_ns, emit);
    }

    fn fail(
        &mut self,
        expected: u64,
        reason: u64,
        cross_seq: u64,
        receive_ns: i64,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.stats.gaps += 1;
        self.book.clear();
        self.last_cross_seq = None;
        let gap = gap_event(Venue::Bybit, self.instrument, expected, reason, cross_seq, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GapMarker};
    use crate::venues::bybit::FLAG_V2;

    fn lv(kind: EventKind, flags: u8, side: Side, price: i64, qty: i64) -> Event {
        let mut ev = Event::new(
            kind,
            Venue::Bybit,
            1,
            PriceLevel {
                price,
                qty,
                index: 0,
            },
        )
        .with_side(side);
        ev.flags = FLAG_V2 | flags;
        ev
    }

    fn snap(side: Side, price: i64, qty: i64) -> Event {
        lv(EventKind::SnapshotLevel, 0, side, price, qty)
    }

    #[test]
    fn actions_apply_and_unknown_ids_are_gaps() {
        let mut s = BybitV2BookSync::new(1);
        let mut notes = Vec::new();
        let mut tops = Vec::new();
        let mut emit = |n: SyncNote, b: &L2Book| {
            notes.push(n);
            tops.push((
                b.best_bid().map(|l| (l.price, l.qty)),
                b.best_ask().map(|l| (l.price, l.qty)),
            ));
        };
        s.on_delta(5, 0, &[], &mut emit);
        s.on_snapshot(
            10,
            1,
            &[
                snap(Side::Bid, 100, 3),
                snap(Side::Bid, 99, 1),
                snap(Side::Ask, 102, 2),
            ],
            &mut emit,
        );
        // delete 100, update 99, insert ask 101: cross_seq jumps are normal.
        s.on_delta(
            17,
            2,
            &[
                lv(EventKind::BookLevel, FLAG_V2_DELETE, Side::Bid, 100, 0),
                lv(EventKind::BookLevel, FLAG_V2_UPDATE, Side::Bid, 99, 7),
                lv(EventKind::BookLevel, FLAG_V2_INSERT, Side::Ask, 101, 4),
            ],
            &mut emit,
        );
        s.on_delta(17, 3, &[], &mut emit);
        // Update of a level the book does not hold: a gap.
        s.on_delta(
            18,
            4,
            &[lv(EventKind::BookLevel, FLAG_V2_UPDATE, Side::Ask, 150, 1)],
            &mut emit,
        );
        assert!(!s.is_synced());
        s.on_delta(19, 5, &[], &mut emit);
        s.on_snapshot(
            20,
            6,
            &[snap(Side::Bid, 100, 1), snap(Side::Ask, 101, 1)],
            &mut emit,
        );
        // Insert of a level the book holds: also a gap.
        s.on_delta(
            21,
            7,
            &[lv(EventKind::BookLevel, FLAG_V2_INSERT, Side::Ask, 101, 1)],
            &mut emit,
        );
        s.on_snapshot(
            22,
            8,
            &[snap(Side::Bid, 100, 1), snap(Side::Ask, 101, 1)],
            &mut emit,
        );
        // An insert that crosses the book.
        s.on_delta(
            23,
            9,
            &[lv(EventKind::BookLevel, FLAG_V2_INSERT, Side::Bid, 101, 1)],
            &mut emit,
        );

        assert_eq!(
            notes[0],
            SyncNote::Applied {
                final_id: 10,
                receive_ns: 1
            }
        );
        assert_eq!(tops[0], (Some((100, 3)), Some((102, 2))));
        assert_eq!(
            notes[1],
            SyncNote::Applied {
                final_id: 17,
                receive_ns: 2
            }
        );
        assert_eq!(tops[1], (Some((99, 7)), Some((101, 4))));
        assert!(matches!(notes[2], SyncNote::Gap(ev) if ev.payload::<GapMarker>().expected == 17));
        assert_eq!(
            notes[3],
            SyncNote::Applied {
                final_id: 20,
                receive_ns: 6
            }
        );
        assert!(matches!(notes[4], SyncNote::Gap(_)));
        assert_eq!(
            notes[5],
            SyncNote::Applied {
                final_id: 22,
                receive_ns: 8
            }
        );
        assert!(
            matches!(notes[6], SyncNote::Gap(ev) if ev.payload::<GapMarker>().reason == gap_reason::CROSSED)
        );
        assert_eq!(notes.len(), 7);
        let st = s.stats;
        assert_eq!(
            (
                st.snapshots,
                st.applied,
                st.stale,
                st.duplicates,
                st.gaps,
                st.crossed,
                s.unknown_levels
            ),
            (3, 4, 2, 1, 3, 1, 2)
        );
    }
}
