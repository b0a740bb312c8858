//! Any byte string through the Bybit parser's v2 `orderBookL2_25` dialect
//! (raw, and after a v2 message head so the fuzzer starts inside `data`):
//! never a panic, no events on error; what parses goes through the v2 book
//! sync, which must never report an applied update on a crossed book.
#![no_main]
use gavel_feeds::decimal::Grid;
use gavel_feeds::replay::BookSync;
use gavel_feeds::sync::bybit::BybitBookSync;
use gavel_feeds::sync::SyncNote;
use gavel_feeds::venues::bybit::BybitParser;
use gavel_feeds::venues::{InstrumentSpec, Instruments, Message, VenueParser};
use gavel_feeds::venue_book::L2Book;
use libfuzzer_sys::fuzz_target;

const HEADS: [&[u8]; 2] = [
    br#"{"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","cross_seq":"7","data":"#,
    br#"{"topic":"orderBookL2_25.BCHUSDT","type":"delta","cross_seq":"8","data":"#,
];

fuzz_target!(|data: &[u8]| {
    let spec = InstrumentSpec::new("BCHUSDT", 1, Grid::from_step("0.05").unwrap(), Grid::from_step("0.01").unwrap());
    let mut parser = BybitParser::new(Instruments::new(vec![spec]));
    let mut sync = BookSync::Bybit(BybitBookSync::new(1));
    let mut emit = |note: SyncNote, book: &L2Book| {
        if let SyncNote::Applied { .. } = note {
            assert!(!book.is_crossed());
        }
    };
    let mut messages = vec![data.to_vec()];
    for head in HEADS {
        let mut m = head.to_vec();
        m.extend_from_slice(data);
        m.push(b'}');
        messages.push(m);
    }
    for message in &messages {
        let mut out = Vec::new();
        match parser.parse(message, 0, None, &mut out) {
            Err(_) => assert!(out.is_empty()),
            Ok(Message::BookSnapshot { last_update_id, .. }) => {
                sync.on_snapshot(last_update_id, None, 0, &out, &mut emit)
            }
            Ok(Message::BookDiff { first_id, final_id, prev_final_id, .. }) => {
                let ids = gavel_feeds::sync::binance::DiffIds { first_id, final_id, prev_final_id };
                sync.on_diff(ids, None, 0, &out, &mut emit)
            }
            Ok(_) => {}
        }
    }
});
