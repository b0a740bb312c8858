//! Coinbase book sync.
//!
//! Advanced Trade numbers every frame of a connection with `sequence_num`
//! (all channels share it), so continuity is checked on every frame: a frame
//! whose number is not the previous + 1 means frames were lost — possibly book
//! updates — and forces a resync (`Gap`, book cleared, wait for the next
//! `l2_data` snapshot, which Coinbase sends on resubscription). A number at or
//! below the previous is a duplicate frame and is skipped. The Exchange/Pro
//! feed has no book sequence: its `l2update`s are applied after a `snapshot`.
//! The book is checked for crossing after every update.

use super::{apply_levels, gap_event, report_applied, SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, Venue};

/// Book sync of one Coinbase product.
#[derive(Clone, Debug)]
pub struct CoinbaseBookSync {
    instrument: u32,
    book: L2Book,
    synced: bool,
    last_frame: Option<u64>,
    /// Counters.
    pub stats: SyncStats,
}

impl CoinbaseBookSync {
    /// A sync waiting for its first snapshot.
    pub fn new(instrument: u32) -> Self {
        CoinbaseBookSync {
            instrument,
            book: L2Book::with_capacity(Venue::Coinbase, 1 << 15),
            synced: false,
            last_frame: None,
            stats: SyncStats::default(),
        }
    }

    /// The mirrored book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// True when the book is consistent with the venue.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Checks a frame's connection sequence number; `false` means a duplicate
    /// frame that must be skipped.
    pub fn on_frame_sequence(
        &mut self,
        seq: u64,
        receive_ns: i64,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) -> bool {
        match self.last_frame {
            Some(last) if seq <= last => {
                self.stats.duplicates += 1;
                false
            }
            Some(last) if seq != last + 1 => {
                self.last_frame = Some(seq);
                if self.synced {
                    self.fail(last + 1, gap_reason::SEQUENCE, seq, receive_ns, emit);
                } else {
                    self.stats.gaps += 1;
                }
                true
            }
            _ => {
                self.last_frame = Some(seq);
                true
            }
        }
    }

    /// Replaces the book with a snapshot.
    pub fn on_snapshot(
        &mut self,
        seq: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.book.clear();
        self.stats.snapshots += 1;
        self.synced = true;
        self.apply(seq, receive_ns, levels, EventKind::SnapshotLevel, emit);
    }

    /// Applies an update.
    pub fn on_update(
        &mut self,
        seq: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        if !self.synced {
            self.stats.stale += 1;
            return;
        }
        self.apply(seq, receive_ns, levels, EventKind::BookLevel, emit);
    }

    fn apply(
        &mut self,
        seq: u64,
        receive_ns: i64,
        levels: &[Event],
        kind: EventKind,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        apply_levels(&mut self.book, levels, kind);
        if self.book.is_crossed() {
            self.stats.crossed += 1;
            self.fail(seq, gap_reason::CROSSED, seq, receive_ns, emit);
            return;
        }
        report_applied(&mut self.stats, &self.book, seq, receive_ns, emit);
    }

    fn fail(
        &mut self,
        expected: u64,
        reason: u64,
        seq: u64,
        receive_ns: i64,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.stats.gaps += 1;
        self.book.clear();
        self.synced = false;
        let gap = gap_event(Venue::Coinbase, self.instrument, expected, reason, seq, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GapMarker, PriceLevel, Side};

    #[test]
    fn frame_gaps_force_resync_and_duplicates_are_skipped() {
        let mut s = CoinbaseBookSync::new(1);
        let mut notes = Vec::new();
        let mut emit = |n: SyncNote, _: &L2Book| notes.push(n);
        let bid = Event::new(
            EventKind::SnapshotLevel,
            Venue::Coinbase,
            1,
            PriceLevel {
                price: 10,
                qty: 1,
                index: 0,
            },
        )
        .with_side(Side::Bid);
        assert!(s.on_frame_sequence(0, 0, &mut emit));
        s.on_update(0, 0, &[], &mut emit);
        assert!(s.on_frame_sequence(1, 0, &mut emit));
        s.on_snapshot(1, 0, &[bid], &mut emit);
        assert!(s.on_frame_sequence(2, 0, &mut emit));
        assert!(!s.on_frame_sequence(2, 0, &mut emit));
        assert!(s.on_frame_sequence(5, 0, &mut emit));
        assert!(!s.is_synced());
        assert_eq!(notes.len(), 2);
        assert!(matches!(notes[1], SyncNote::Gap(ev) if ev.payload::<GapMarker>().expected == 3));
        assert_eq!((s.stats.stale, s.stats.duplicates, s.stats.gaps), (1, 1, 1));
    }
}
