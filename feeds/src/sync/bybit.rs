//! Bybit v5 order book sync: every `snapshot` resets the book (Bybit re-sends
//! one after a service restart, then with `u = 1`); each `delta` must carry
//! `u == previous u + 1`. A delta with `u ≤ previous u` is a duplicate
//! (skipped, counted); any other jump is a gap: `Gap` event, book cleared,
//! deltas dropped until the next snapshot. Deltas before the first snapshot are
//! dropped (counted as stale). The book is checked for crossing after every
//! update.

use super::{apply_levels, gap_event, report_applied, SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, Venue};

/// Snapshot + delta sync of one Bybit instrument.
#[derive(Clone, Debug)]
pub struct BybitBookSync {
    instrument: u32,
    book: L2Book,
    last_update_id: Option<u64>,
    /// Counters.
    pub stats: SyncStats,
}

impl BybitBookSync {
    /// A sync waiting for its first snapshot.
    pub fn new(instrument: u32) -> Self {
        BybitBookSync {
            instrument,
            book: L2Book::with_capacity(Venue::Bybit, 512),
            last_update_id: None,
            stats: SyncStats::default(),
        }
    }

    /// The mirrored book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// True when the book is consistent with the venue.
    pub fn is_synced(&self) -> bool {
        self.last_update_id.is_some()
    }

    /// Replaces the book with a snapshot (`SnapshotLevel` events) at update id `u`.
    pub fn on_snapshot(
        &mut self,
        u: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.book.clear();
        self.stats.snapshots += 1;
        self.apply(u, receive_ns, levels, EventKind::SnapshotLevel, emit);
    }

    /// Applies a delta (`BookLevel` events) with update id `u`.
    pub fn on_delta(
        &mut self,
        u: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        match self.last_update_id {
            None => self.stats.stale += 1,
            Some(last) if u <= last => self.stats.duplicates += 1,
            Some(last) if u == last + 1 => {
                self.apply(u, receive_ns, levels, EventKind::BookLevel, emit)
            }
            Some(last) => self.fail(last + 1, gap_reason::SEQUENCE, u, receive_ns, emit),
        }
    }

    fn apply(
        &mut self,
        u: u64,
        receive_ns: i64,
        levels: &[Event],
        kind: EventKind,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        apply_levels(&mut self.book, levels, kind);
        self.last_update_id = Some(u);
        if self.book.is_crossed() {
            self.stats.crossed += 1;
            self.fail(u, gap_reason::CROSSED, u, receive_ns, emit);
            return;
        }
        report_applied(&mut self.stats, &self.book, u, receive_ns, emit);
    }

    fn fail(
        &mut self,
        expected: u64,
        reason: u64,
        u: u64,
        receive_ns: i64,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.stats.gaps += 1;
        self.book.clear();
        self.last_update_id = None;
        let gap = gap_event(Venue::Bybit, self.instrument, expected, reason, u, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GapMarker, PriceLevel, Side};

    fn lv(kind: EventKind, side: Side, price: i64, qty: i64) -> Event {
        Event::new(
            kind,
            Venue::Bybit,
            1,
            PriceLevel {
                price,
                qty,
                index: 0,
            },
        )
        .with_side(side)
    }

    #[test]
    fn continuity_duplicates_gaps_and_snapshot_reset() {
        let mut s = BybitBookSync::new(1);
        let mut notes = Vec::new();
        let mut emit = |n: SyncNote, _: &L2Book| notes.push(n);
        s.on_delta(5, 0, &[], &mut emit);
        s.on_snapshot(
            10,
            1,
            &[
                lv(EventKind::SnapshotLevel, Side::Bid, 100, 1),
                lv(EventKind::SnapshotLevel, Side::Ask, 101, 1),
            ],
            &mut emit,
        );
        s.on_delta(
            11,
            2,
            &[lv(EventKind::BookLevel, Side::Bid, 100, 0)],
            &mut emit,
        );
        s.on_delta(11, 3, &[], &mut emit);
        s.on_delta(13, 4, &[], &mut emit);
        s.on_delta(14, 5, &[], &mut emit);
        s.on_snapshot(
            1,
            6,
            &[lv(EventKind::SnapshotLevel, Side::Ask, 105, 2)],
            &mut emit,
        );
        s.on_delta(
            2,
            7,
            &[lv(EventKind::BookLevel, Side::Bid, 106, 1)],
            &mut emit,
        );
        assert_eq!(
            notes[0],
            SyncNote::Applied {
                final_id: 10,
                receive_ns: 1
            }
        );
        assert_eq!(
            notes[1],
            SyncNote::Applied {
                final_id: 11,
                receive_ns: 2
            }
        );
        assert!(matches!(notes[2], SyncNote::Gap(ev) if ev.payload::<GapMarker>().expected == 12));
        assert_eq!(
            notes[3],
            SyncNote::Applied {
                final_id: 1,
                receive_ns: 6
            }
        );
        assert!(
            matches!(notes[4], SyncNote::Gap(ev) if ev.payload::<GapMarker>().reason == gap_reason::CROSSED)
        );
        assert_eq!(
            (
                s.stats.stale,
                s.stats.duplicates,
                s.stats.gaps,
                s.stats.crossed
            ),
            (2, 1, 2, 1)
        );
    }
}
