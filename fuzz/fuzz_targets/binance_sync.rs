//! Arbitrary diff/snapshot sequences through the Binance book sync: never a
//! panic, and whenever it reports an applied update the book is not crossed.
#![no_main]
use gavel_feeds::sync::binance::{BinanceBookSync, DiffIds};
use gavel_feeds::sync::SyncNote;
use gavel_feeds::wire::{EventKind, PriceLevel};
use gavel_feeds::{Event, Side, Venue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut sync = BinanceBookSync::new(Venue::BinanceUsdm, 1);
    for chunk in data.chunks(6) {
        let [op, a, b, c, price, qty] = match <[u8; 6]>::try_from(chunk) {
            Ok(v) => v,
            Err(_) => return,
        };
        let side = if op & 1 == 0 { Side::Bid } else { Side::Ask };
        let kind = if op & 2 == 0 { EventKind::BookLevel } else { EventKind::SnapshotLevel };
        let level = Event::new(kind, Venue::BinanceUsdm, 1, PriceLevel { price: price as i64, qty: qty as i64, index: 0 })
            .with_side(side);
        let mut emit = |note: SyncNote, book: &gavel_feeds::venue_book::L2Book| {
            if let SyncNote::Applied { .. } = note {
                assert!(!book.is_crossed());
            }
        };
        if op & 2 == 0 {
            let ids = DiffIds { first_id: a as u64, final_id: a as u64 + b as u64, prev_final_id: Some(c as u64) };
            sync.on_diff(ids, 0, &[level], &mut emit);
        } else {
            sync.on_snapshot(a as u64, &[level], &mut emit);
        }
    }
});
