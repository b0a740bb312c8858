//! `gavel replay --dump-top` on a Coinbase `full` channel recording.
//!
//! The fixture `fixtures/coinbase_full_session.cf` (cryptofeed format) is
//! written by hand from Coinbase Exchange's documentation of the `full`
//! channel and the level-3 REST book: the real recordings hold no
//! full-channel data. It holds a message older than the first REST book, one
//! newer that arrives before it, a match, a cancel, a change, a lost sequence
//! (105) and a second REST book that resyncs.

use gavel_feeds::replay::{resolve_spec, write_top_row, TopReplay};
use gavel_feeds::replay_l3::{holds_full_channel, product_in_url};
use gavel_feeds::wire::Venue;
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/coinbase_full_session.cf")
}

#[test]
fn dump_top_follows_the_l3_book_through_a_gap() {
    let captures = vec![fixture()];
    assert!(holds_full_channel(&captures));
    let spec = resolve_spec("BTC-USD", 1, None, &captures, None).expect("grids from the level-3 REST book");
    assert_eq!((spec.price.decimals(), spec.qty.decimals()), (2, 8));
    let replay = TopReplay {
        venue: Venue::Coinbase,
        spec: spec.clone(),
        captures,
        snapshots: Vec::new(),
        url_filter: None,
    };
    let mut rows = Vec::new();
    let mut line = String::new();
    let report = replay
        .run(|receive_ns, seq, book| {
            write_top_row(&spec, receive_ns, seq, book, &mut line);
            rows.push(line.clone());
        })
        .unwrap();
    assert_eq!(
        rows,
        [
            "1700000000300000000,100,100.00,1.00000000,101.00,0.75000000",
            "1700000000300000000,101,100.50,0.30000000,101.00,0.75000000",
            "1700000000400000000,102,100.50,0.20000000,101.00,0.75000000",
            "1700000000500000000,103,100.50,0.20000000,101.00,0.25000000",
            "1700000000600000000,104,100.50,0.05000000,101.00,0.25000000",
            "1700000000800000000,106,100.50,0.05000000,101.00,0.25000000",
            "1700000000900000000,107,100.50,0.05000000,100.75,1.00000000",
        ]
    );
    assert!(report.parse_errors.is_empty(), "{:?}", report.first_errors);
    assert_eq!(report.records, 11);
    let s = report.sync;
    assert_eq!((s.snapshots, s.applied, s.stale, s.gaps), (2, 5, 2, 1));
}

#[test]
fn level2_recordings_are_not_taken_for_full_channel() {
    let dir = std::env::temp_dir().join(format!("gavel-cbl3-l2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("l2.cf");
    std::fs::write(
        &path,
        concat!(
            "wss://ws-feed.exchange.coinbase.com <-> 1700000000.000\n",
            r#"1700000000.100: {"type":"snapshot","product_id":"BTC-USD","bids":[["100.00","1.0"]],"asks":[["101.00","1.0"]]}"#,
            "\n",
            r#"1700000000.200: {"type":"match","trade_id":1,"maker_order_id":"a","taker_order_id":"b","side":"buy","size":"1.0","price":"100.00","product_id":"BTC-USD","sequence":5,"time":"2023-11-14T22:13:20.1Z"}"#,
            "\n"
        ),
    )
    .unwrap();
    assert!(!holds_full_channel(&[path]));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        product_in_url(b"https://api.exchange.coinbase.com/products/ETH-USD/book?level=3"),
        Some(&b"ETH-USD"[..])
    );
    assert_eq!(product_in_url(b"https://example.com/book"), None);
}
