//! Book sync for tardis.dev `incremental_book_L2` rows. The CSV carries no
//! venue sequence number: tardis has already applied the venue's own rules, so
//! the only checks left are order and consistency. A snapshot (rows with
//! `is_snapshot` true; tardis writes one at the start of a file and after each
//! reconnect) replaces the book; update rows set absolute amounts (0 removes).
//! One message is the rows sharing a `local_timestamp` (µs, the sequence used
//! here): a message older than the last applied one means the file is out of
//! order, and a book that crosses after a message is inconsistent; both are a
//! `Gap` (book cleared, updates dropped until the next snapshot). Updates
//! before the first snapshot are stale (counted).

use super::{apply_levels, gap_event, report_applied, SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, Venue};

/// Snapshot + update sync of one instrument of a tardis book file.
#[derive(Clone, Debug)]
pub struct TardisBookSync {
    venue: Venue,
    instrument: u32,
    book: L2Book,
    last_seq: Option<u64>,
    /// Counters.
    pub stats: SyncStats,
}

impl TardisBookSync {
    /// A sync waiting for its first snapshot; `venue` is stamped on `Gap` events.
    pub fn new(venue: Venue, instrument: u32) -> Self {
        TardisBookSync {
            venue,
            instrument,
            book: L2Book::with_capacity(venue, 1024),
            last_seq: None,
            stats: SyncStats::default(),
        }
    }

    /// The mirrored book.
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// True when the book is consistent with the file.
    pub fn is_synced(&self) -> bool {
        self.last_seq.is_some()
    }

    /// Replaces the book with the `SnapshotLevel` events of one snapshot.
    pub fn on_snapshot(
        &mut self,
        seq: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.book.clear();
        self.stats.snapshots += 1;
        self.apply(seq, receive_ns, levels, EventKind::SnapshotLevel, emit);
    }

    /// Applies the `BookLevel` events of one message.
    pub fn on_update(
        &mut self,
        seq: u64,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        match self.last_seq {
            None => self.stats.stale += 1,
            Some(last) if seq < last => {
                self.fail(last, gap_reason::SEQUENCE, seq, receive_ns, emit)
            }
            Some(_) => self.apply(seq, receive_ns, levels, EventKind::BookLevel, emit),
        }
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
        self.last_seq = Some(seq);
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
        self.last_seq = None;
        let gap = gap_event(self.venue, self.instrument, expected, reason, seq, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
    }
}
