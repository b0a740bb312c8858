//! Venue book synchronisation: snapshot + diffs → a consistent mirrored book,
//! with each venue's own sequence rules. A broken sequence is never papered
//! over: it emits a `Gap` event, bumps a counter, clears the book and waits
//! for a new snapshot.

pub mod binance;
pub mod bybit;
pub mod bybit_v2;
pub mod coinbase;
pub mod coinbase_l3;
pub mod okx;
pub mod tardis;

use crate::venue_book::L2Book;
use crate::wire::{Event, EventKind, GapMarker, PriceLevel, Side, Venue};

/// What a sync step produced, reported through the caller's callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncNote {
    /// A diff was applied; the book is consistent as of `final_id`.
    Applied {
        /// The venue's final update id of the applied diff.
        final_id: u64,
        /// Local receive time of the diff.
        receive_ns: i64,
    },
    /// A gap was detected; the event is a `Gap` wire event. The book is now empty.
    Gap(Event),
}

/// Counters kept by every venue sync.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Snapshots loaded.
    pub snapshots: u64,
    /// Diffs applied to the book.
    pub applied: u64,
    /// Diffs dropped as older than the snapshot.
    pub stale: u64,
    /// Diffs already applied (duplicates or replays), skipped.
    pub duplicates: u64,
    /// Sequence gaps (each forced a resync).
    pub gaps: u64,
    /// Times the book crossed after an update (each forced a resync).
    pub crossed: u64,
    /// Checksum mismatches (each forced a resync).
    pub checksum_failures: u64,
    /// Checksums verified equal.
    pub checksums_verified: u64,
    /// Diffs dropped because the pre-snapshot buffer was full.
    pub buffer_overflow: u64,
}

/// Writes every level event of `kind` in `events` into `book` (side and
/// absolute quantity; quantity 0 removes the level).
pub(crate) fn apply_levels(book: &mut L2Book, events: &[Event], kind: EventKind) {
    for event in events.iter().filter(|e| e.kind == kind as u8) {
        let level: PriceLevel = event.payload();
        if let Some(side @ (Side::Bid | Side::Ask)) = event.side() {
            book.set_level(side, level.price, level.qty);
        }
    }
}

/// The `Gap` wire event a sync emits when it loses the venue's chain:
/// `sequence` is what arrived, `expected` what should have, `reason` a
/// [`gap_reason`] code.
pub(crate) fn gap_event(
    venue: Venue,
    instrument: u32,
    expected: u64,
    reason: u64,
    sequence: u64,
    receive_ns: i64,
) -> Event {
    Event::new(EventKind::Gap, venue, instrument, GapMarker { expected, reason, reserved: 0 })
        .with_times(sequence, 0, receive_ns)
}

/// Counts an applied update and reports it with the book as of `final_id`.
pub(crate) fn report_applied(
    stats: &mut SyncStats,
    book: &L2Book,
    final_id: u64,
    receive_ns: i64,
    emit: &mut impl FnMut(SyncNote, &L2Book),
) {
    stats.applied += 1;
    emit(SyncNote::Applied { final_id, receive_ns }, book);
}
