//! OKX v5 order book sync with checksum verification.
//!
//! A `snapshot` replaces the book; an `update` is applied when the book is
//! synced and, on feeds that send them, its `prevSeqId` equals the previous
//! `seqId`. After every snapshot and update the venue's `checksum` is
//! verified: CRC32 (IEEE) of `bid1px:bid1sz:ask1px:ask1sz:bid2px:…` over the
//! top 25 levels per side (a side that runs out is skipped), taken as a signed
//! 32-bit integer. Prices and sizes are written back as OKX prints them: the
//! shortest decimal (no trailing zeros). A mismatch, a sequence break or a
//! crossed book emits a `Gap` event, clears the book and waits for the next
//! snapshot.

use super::{apply_levels, gap_event, report_applied, SyncNote, SyncStats};
use crate::decimal::Grid;
use crate::venue_book::L2Book;
use crate::wire::{gap_reason, Event, EventKind, Side, Venue};

/// Levels per side covered by the OKX checksum.
pub const CHECKSUM_DEPTH: usize = 25;

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC32 (IEEE 802.3, as zlib) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = CRC_TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Writes `steps` on `grid` as the shortest decimal (`30261`, `1.2112`).
fn push_shortest(grid: &Grid, steps: i64, out: &mut String) {
    let start = out.len();
    grid.format(steps, grid.decimals(), out);
    if out[start..].contains('.') {
        while out.ends_with('0') {
            out.pop();
        }
        if out.ends_with('.') {
            out.pop();
        }
    }
}

/// Book sync of one OKX instrument.
#[derive(Clone, Debug)]
pub struct OkxBookSync {
    instrument: u32,
    price: Grid,
    qty: Grid,
    book: L2Book,
    synced: bool,
    last_seq: Option<u64>,
    text: String,
    /// Counters.
    pub stats: SyncStats,
}

impl OkxBookSync {
    /// A sync for one instrument with its grids (needed to rebuild the checksum text).
    pub fn new(instrument: u32, price: Grid, qty: Grid) -> Self {
        OkxBookSync {
            instrument,
            price,
            qty,
            book: L2Book::with_capacity(Venue::Okx, 512),
            synced: false,
            last_seq: None,
            text: String::with_capacity(2048),
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

    /// The checksum OKX would send for the current book.
    pub fn checksum(&mut self) -> i32 {
        self.text.clear();
        let mut bids = self.book.levels(Side::Bid);
        let mut asks = self.book.levels(Side::Ask);
        for _ in 0..CHECKSUM_DEPTH {
            for level in [bids.next(), asks.next()].into_iter().flatten() {
                if !self.text.is_empty() {
                    self.text.push(':');
                }
                push_shortest(&self.price, level.price, &mut self.text);
                self.text.push(':');
                push_shortest(&self.qty, level.qty, &mut self.text);
            }
        }
        crc32(self.text.as_bytes()) as i32
    }

    /// Replaces the book with a snapshot.
    pub fn on_snapshot(
        &mut self,
        seq: u64,
        checksum: Option<i32>,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.book.clear();
        self.stats.snapshots += 1;
        self.synced = true;
        self.apply(
            seq,
            checksum,
            receive_ns,
            levels,
            EventKind::SnapshotLevel,
            emit,
        );
    }

    /// Applies an update.
    pub fn on_update(
        &mut self,
        seq: u64,
        prev_seq: Option<u64>,
        checksum: Option<i32>,
        receive_ns: i64,
        levels: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        if !self.synced {
            self.stats.stale += 1;
            return;
        }
        if let (Some(prev), Some(last)) = (prev_seq, self.last_seq) {
            if prev != last {
                if prev < last && seq <= last {
                    self.stats.duplicates += 1;
                } else {
                    self.fail(last, gap_reason::SEQUENCE, seq, receive_ns, emit);
                }
                return;
            }
        }
        self.apply(
            seq,
            checksum,
            receive_ns,
            levels,
            EventKind::BookLevel,
            emit,
        );
    }

    fn apply(
        &mut self,
        seq: u64,
        checksum: Option<i32>,
        receive_ns: i64,
        levels: &[Event],
        kind: EventKind,
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        apply_levels(&mut self.book, levels, kind);
        self.last_seq = Some(seq);
        if let Some(expected) = checksum {
            if self.checksum() != expected {
                self.stats.checksum_failures += 1;
                self.fail(seq, gap_reason::CHECKSUM, seq, receive_ns, emit);
                return;
            }
            self.stats.checksums_verified += 1;
        }
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
        self.last_seq = None;
        let gap = gap_event(Venue::Okx, self.instrument, expected, reason, seq, receive_ns);
        emit(SyncNote::Gap(gap), &self.book);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{GapMarker, PriceLevel};

    fn lv(kind: EventKind, side: Side, price: i64, qty: i64) -> Event {
        Event::new(
            kind,
            Venue::Okx,
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
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn checksum_text_interleaves_sides_in_shortest_decimals() {
        let mut s = OkxBookSync::new(
            1,
            Grid::with_decimals(1).unwrap(),
            Grid::with_decimals(4).unwrap(),
        );
        let mut emit = |_: SyncNote, _: &L2Book| {};
        let snap = [
            lv(EventKind::SnapshotLevel, Side::Bid, 302_360, 10_000),
            lv(EventKind::SnapshotLevel, Side::Bid, 302_355, 2_500),
            lv(EventKind::SnapshotLevel, Side::Ask, 302_435, 12_112),
        ];
        s.on_snapshot(1, None, 0, &snap, &mut emit);
        let sum = s.checksum();
        assert_eq!(s.text, "30236:1:30243.5:1.2112:30235.5:0.25");
        assert_eq!(sum, crc32(b"30236:1:30243.5:1.2112:30235.5:0.25") as i32);
        // A wrong checksum forces a resync.
        let mut notes = Vec::new();
        s.on_update(2, None, Some(sum.wrapping_add(1)), 0, &[], &mut |n, _| {
            notes.push(n)
        });
        assert!(
            matches!(notes[0], SyncNote::Gap(ev) if ev.payload::<GapMarker>().reason == gap_reason::CHECKSUM)
        );
        assert!(!s.is_synced());
        s.on_update(3, None, None, 0, &[], &mut |n, _| notes.push(n));
        assert_eq!(s.stats.stale, 1);
    }

    #[test]
    fn seq_chain_breaks_are_gaps() {
        let mut s = OkxBookSync::new(
            1,
            Grid::with_decimals(1).unwrap(),
            Grid::with_decimals(4).unwrap(),
        );
        let mut notes = Vec::new();
        s.on_snapshot(10, None, 0, &[], &mut |n, _| notes.push(n));
        s.on_update(11, Some(10), None, 0, &[], &mut |n, _| notes.push(n));
        s.on_update(11, Some(10), None, 0, &[], &mut |n, _| notes.push(n));
        s.on_update(15, Some(13), None, 0, &[], &mut |n, _| notes.push(n));
        assert_eq!(notes.len(), 3);
        assert_eq!(s.stats.duplicates, 1);
        assert!(matches!(notes[2], SyncNote::Gap(ev) if ev.payload::<GapMarker>().expected == 11));
    }
}
