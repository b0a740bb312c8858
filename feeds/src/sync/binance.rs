//! Binance depth sync (futures and spot), as Binance documents it:
//!
//! 1. Buffer diffs from the stream; load a REST snapshot (`lastUpdateId` = L).
//! 2. Drop buffered diffs older than the snapshot: futures `u < L`, spot `u ≤ L`.
//! 3. The first applied diff must bracket the snapshot: futures `U ≤ L ≤ u`,
//!    spot `U ≤ L+1 ≤ u`; a first diff past that (`U > L`, resp. `U > L+1`)
//!    means the snapshot is too old: gap, wait for another.
//! 4. Afterwards every diff must continue the chain: futures `pu == previous u`,
//!    spot `U == previous u + 1`. A diff with `u ≤ previous u` is a duplicate
//!    and is skipped (counted); any other break is a gap.
//!
//! After every applied diff the book is checked for crossing; a crossed book is
//! treated like a gap. A gap emits a `Gap` wire event, clears the book and
//! returns to buffering until the next snapshot.

use super::{gap_event, SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, GapMarker, PriceLevel, Side, Venue};

/// Which of Binance's two continuity rules applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// USD-M and COIN-M futures: `pu` chains diffs.
    Futures,
    /// Spot: `U == previous u + 1` chains diffs.
    Spot,
}

impl Flavor {
    /// The rule Binance uses for `venue`.
    pub fn of(venue: Venue) -> Self {
        if venue == Venue::BinanceSpot {
            Flavor::Spot
        } else {
            Flavor::Futures
        }
    }
}

/// Sequence fields of one depth diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiffIds {
    /// `U`.
    pub first_id: u64,
    /// `u`.
    pub final_id: u64,
    /// `pu` (futures).
    pub prev_final_id: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitingSnapshot,
    Bridging { last_update_id: u64 },
    Synced { last_final_id: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Buffered {
    ids: DiffIds,
    receive_ns: i64,
    start: usize,
    end: usize,
}

/// Maximum diffs buffered while waiting for a snapshot; beyond it the oldest half is dropped.
pub const MAX_BUFFERED_DIFFS: usize = 8192;

/// Snapshot + diff sync of one Binance instrument.
#[derive(Clone, Debug)]
pub struct BinanceBookSync {
    flavor: Flavor,
    venue: Venue,
    instrument: u32,
    book: L2Book,
    state: State,
    pending: Vec<Buffered>,
    pending_levels: Vec<Event>,
    /// Counters.
    pub stats: SyncStats,
}

impl BinanceBookSync {
    /// A sync for one instrument, waiting for its first snapshot.
    pub fn new(venue: Venue, instrument: u32) -> Self {
        BinanceBookSync {
            flavor: Flavor::of(venue),
            venue,
            instrument,
            book: L2Book::with_capacity(venue, 2048),
            state: State::AwaitingSnapshot,
            pending: Vec::with_capacity(1024),
            pending_levels: Vec::with_capacity(1 << 16),
            stats: SyncStats::default(),
        }
    }

    /// The mirrored book (empty while not synced).
    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// True when the book is consistent with the venue.
    pub fn is_synced(&self) -> bool {
        matches!(self.state, State::Synced { .. })
    }

    /// The final update id of the last applied diff (or the snapshot's id).
    pub fn last_update_id(&self) -> Option<u64> {
        match self.state {
            State::Synced { last_final_id } => Some(last_final_id),
            State::Bridging { last_update_id } => Some(last_update_id),
            State::AwaitingSnapshot => None,
        }
    }

    /// Loads a snapshot (`SnapshotLevel` events; others ignored) and replays the
    /// buffered diffs against it.
    pub fn on_snapshot(
        &mut self,
        last_update_id: u64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.book.clear();
        for ev in levels {
            if ev.kind == EventKind::SnapshotLevel as u8 {
                apply_level(&mut self.book, ev);
            }
        }
        self.stats.snapshots += 1;
        self.state = State::Bridging { last_update_id };
        let pending = std::mem::take(&mut self.pending);
        let pending_levels = std::mem::take(&mut self.pending_levels);
        for b in &pending {
            self.on_diff(b.ids, b.receive_ns, &pending_levels[b.start..b.end], emit);
        }
        // Keep the buffers' capacity (they are empty unless a gap re-buffered into fresh ones).
        if self.pending.is_empty() {
            self.pending = pending;
            self.pending.clear();
            self.pending_levels = pending_levels;
            self.pending_levels.clear();
        }
    }

    /// Handles one diff (`BookLevel` events).
    pub fn on_diff(
        &mut self,
        ids: DiffIds,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        let futures = self.flavor == Flavor::Futures;
        match self.state {
            State::AwaitingSnapshot => self.buffer(ids, receive_ns, levels),
            State::Bridging { last_update_id: l } => {
                let (stale, brackets) = if futures {
                    (ids.final_id < l, ids.first_id <= l && l <= ids.final_id)
                } else {
                    (ids.final_id <= l, ids.first_id <= l + 1 && l < ids.final_id)
                };
                if stale {
                    self.stats.stale += 1;
                } else if brackets {
                    self.apply(ids, receive_ns, levels, emit);
                } else {
                    let expected = if futures { l } else { l + 1 };
                    self.gap(
                        expected,
                        gap_reason::SEQUENCE,
                        ids,
                        receive_ns,
                        levels,
                        emit,
                    );
                }
            }
            State::Synced {
                last_final_id: last,
            } => {
                if ids.final_id <= last {
                    self.stats.duplicates += 1;
                    return;
                }
                let continues = match (futures, ids.prev_final_id) {
                    (true, Some(pu)) => pu == last,
                    _ => ids.first_id == last + 1,
                };
                if continues {
                    self.apply(ids, receive_ns, levels, emit);
                } else {
                    let expected = if futures { last } else { last + 1 };
                    self.gap(
                        expected,
                        gap_reason::SEQUENCE,
                        ids,
                        receive_ns,
                        levels,
                        emit,
                    );
                }
            }
        }
    }

    fn apply(
        &mut self,
        ids: DiffIds,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        for ev in levels {
            apply_level(&mut self.book, ev);
        }
        self.stats.applied += 1;
        self.state = State::Synced {
            last_final_id: ids.final_id,
        };
        if self.book.is_crossed() {
            self.stats.crossed += 1;
            self.stats.gaps += 1;
            let marker = GapMarker {
                expected: ids.final_id,
                reason: gap_reason::CROSSED,
                reserved: 0,
            };
            self.book.clear();
            self.state = State::AwaitingSnapshot;
            let ev = Event::new(EventKind::Gap, self.venue, self.instrument, marker).with_times(
                ids.final_id,
                0,
                receive_ns,
            );
            emit(SyncNote::Gap(ev), &self.book);
            return;
        }
        emit(
            SyncNote::Applied {
                final_id: ids.final_id,
                receive_ns,
            },
            &self.book,
        );
    }

    fn gap(
        &mut self,
        expected: u64,
        reason: u64,
        ids: DiffIds,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.stats.gaps += 1;
        self.book.clear();
        self.state = State::AwaitingSnapshot;
        let gap = gap_event(self.venue, self.instrument, expected, reason, ids.final_id, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
        // The diff that broke the chain may be needed after the next snapshot.
        self.buffer(ids, receive_ns, levels);
    }

    fn buffer(&mut self, ids: DiffIds, receive_ns: i64, levels: &[Event]) {
        if self.pending.len() >= MAX_BUFFERED_DIFFS {
            let half = self.pending.len() / 2;
            let cut = self.pending[half].start;
            self.stats.buffer_overflow += half as u64;
            self.pending.drain(..half);
            self.pending_levels.drain(..cut);
            for b in &mut self.pending {
                b.start -= cut;
                b.end -= cut;
            }
        }
        let start = self.pending_levels.len();
        self.pending_levels.extend_from_slice(levels);
        self.pending.push(Buffered {
            ids,
            receive_ns,
            start,
            end: self.pending_levels.len(),
        });
    }
}

#[inline]
fn apply_level(book: &mut L2Book, ev: &Event) {
    let level: PriceLevel = ev.payload();
    if let Some(side @ (Side::Bid | Side::Ask)) = ev.side() {
        book.set_level(side, level.price, level.qty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(kind: EventKind, side: Side, price: i64, qty: i64) -> Event {
        Event::new(
            kind,
            Venue::BinanceUsdm,
            1,
            PriceLevel {
                price,
                qty,
                index: 0,
            },
        )
        .with_side(side)
    }

    fn ids(first_id: u64, final_id: u64, pu: u64) -> DiffIds {
        DiffIds {
            first_id,
            final_id,
            prev_final_id: Some(pu),
        }
    }

    fn run(
        sync: &mut BinanceBookSync,
        notes: &mut Vec<SyncNote>,
        f: impl FnOnce(&mut BinanceBookSync, &mut dyn FnMut(SyncNote, &L2Book)),
    ) {
        let mut emit = |n: SyncNote, _: &L2Book| notes.push(n);
        f(sync, &mut emit);
    }

    #[test]
    fn futures_buffer_bridge_chain_and_gap() {
        let mut s = BinanceBookSync::new(Venue::BinanceUsdm, 1);
        let mut notes = Vec::new();
        let snap = [
            lv(EventKind::SnapshotLevel, Side::Bid, 100, 1),
            lv(EventKind::SnapshotLevel, Side::Ask, 105, 1),
        ];
        run(&mut s, &mut notes, |s, e| {
            s.on_diff(
                ids(1, 5, 0),
                1,
                &[lv(EventKind::BookLevel, Side::Bid, 101, 9)],
                &mut |n, b| e(n, b),
            ); // stale
            s.on_diff(
                ids(6, 12, 5),
                2,
                &[lv(EventKind::BookLevel, Side::Bid, 102, 3)],
                &mut |n, b| e(n, b),
            ); // brackets 10
            s.on_snapshot(10, &snap, &mut |n, b| e(n, b));
        });
        assert_eq!(
            notes,
            vec![SyncNote::Applied {
                final_id: 12,
                receive_ns: 2
            }]
        );
        assert_eq!(s.book().best_bid().unwrap().price, 102);
        assert_eq!(s.stats.stale, 1);
        notes.clear();
        run(&mut s, &mut notes, |s, e| {
            s.on_diff(ids(13, 15, 12), 3, &[], &mut |n, b| e(n, b));
            s.on_diff(ids(13, 15, 12), 3, &[], &mut |n, b| e(n, b)); // duplicate
            s.on_diff(ids(20, 22, 18), 4, &[], &mut |n, b| e(n, b)); // gap: pu 18 != 15
        });
        assert_eq!(
            notes[0],
            SyncNote::Applied {
                final_id: 15,
                receive_ns: 3
            }
        );
        assert!(matches!(notes[1], SyncNote::Gap(ev) if ev.payload::<GapMarker>().expected == 15));
        assert_eq!((s.stats.duplicates, s.stats.gaps), (1, 1));
        assert!(!s.is_synced());
        assert!(s.book().best_bid().is_none());
    }

    #[test]
    fn spot_rule_and_too_old_snapshot() {
        let mut s = BinanceBookSync::new(Venue::BinanceSpot, 1);
        let mut notes = Vec::new();
        run(&mut s, &mut notes, |s, e| {
            s.on_diff(
                DiffIds {
                    first_id: 12,
                    final_id: 14,
                    prev_final_id: None,
                },
                1,
                &[],
                &mut |n, b| e(n, b),
            );
            s.on_snapshot(10, &[], &mut |n, b| e(n, b)); // needs U <= 11: gap
        });
        assert!(matches!(notes[0], SyncNote::Gap(_)));
        notes.clear();
        run(&mut s, &mut notes, |s, e| {
            s.on_snapshot(12, &[], &mut |n, b| e(n, b)); // buffered 12..14 brackets 13
            s.on_diff(
                DiffIds {
                    first_id: 15,
                    final_id: 15,
                    prev_final_id: None,
                },
                2,
                &[],
                &mut |n, b| e(n, b),
            );
            s.on_diff(
                DiffIds {
                    first_id: 17,
                    final_id: 18,
                    prev_final_id: None,
                },
                3,
                &[],
                &mut |n, b| e(n, b),
            );
        });
        assert_eq!(
            notes[0],
            SyncNote::Applied {
                final_id: 14,
                receive_ns: 1
            }
        );
        assert_eq!(
            notes[1],
            SyncNote::Applied {
                final_id: 15,
                receive_ns: 2
            }
        );
        assert!(matches!(notes[2], SyncNote::Gap(ev) if ev.payload::<GapMarker>().expected == 16));
    }

    #[test]
    fn crossed_book_forces_resync() {
        let mut s = BinanceBookSync::new(Venue::BinanceUsdm, 1);
        let mut notes = Vec::new();
        let snap = [
            lv(EventKind::SnapshotLevel, Side::Bid, 100, 1),
            lv(EventKind::SnapshotLevel, Side::Ask, 105, 1),
        ];
        run(&mut s, &mut notes, |s, e| {
            s.on_snapshot(10, &snap, &mut |n, b| e(n, b));
            s.on_diff(
                ids(9, 11, 8),
                1,
                &[lv(EventKind::BookLevel, Side::Bid, 106, 1)],
                &mut |n, b| e(n, b),
            );
        });
        assert!(
            matches!(notes[0], SyncNote::Gap(ev) if ev.payload::<GapMarker>().reason == gap_reason::CROSSED)
        );
        assert_eq!(s.stats.crossed, 1);
    }
}
