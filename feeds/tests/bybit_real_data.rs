//! Proof on the real Bybit v5 recording (cryptofeed v3 format): every
//! `orderbook.200` delta continues `u` by exactly 1 after its snapshot, and
//! the mirrored book is never crossed.

use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::replay::{resolve_spec, TopReplay};
use gavel_feeds::Venue;

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn bybit_v5_books_continue_and_never_cross() {
    let file = require_data_file("cryptofeed/v3/BYBIT.jsonl.gz");
    let mut snapshots = 0;
    let mut applied = 0;
    for (filter, symbols) in [
        (
            "/linear",
            &["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"][..],
        ),
        ("/spot", &["BTCUSDT", "ETHUSDT"][..]),
    ] {
        for symbol in symbols {
            let spec =
                resolve_spec(symbol, 1, None, std::slice::from_ref(&file), Some(filter)).unwrap();
            let mut rows = 0u64;
            let mut crossed = 0u64;
            let mut last_seq = 0u64;
            let mut steps_of_one = 0u64;
            let report = TopReplay {
                venue: Venue::Bybit,
                spec,
                captures: vec![file.clone()],
                snapshots: vec![],
                url_filter: Some(filter.to_string()),
            }
            .run(|_, seq, book| {
                if rows > 0 && seq == last_seq + 1 {
                    steps_of_one += 1;
                }
                rows += 1;
                last_seq = seq;
                crossed += book.is_crossed() as u64;
            })
            .unwrap();
            let s = report.sync;
            assert_eq!(
                (s.gaps, s.crossed, s.duplicates, s.stale, crossed),
                (0, 0, 0, 0, 0),
                "{filter} {symbol}: {report:#?}"
            );
            assert_eq!(s.snapshots, 1, "{filter} {symbol}");
            // Only kline frames (a topic not parsed) are refused.
            assert_eq!(
                report.parse_errors.keys().copied().collect::<Vec<_>>(),
                vec!["unknown event type"]
            );
            assert_eq!(
                steps_of_one,
                rows - 1,
                "every row after the snapshot advances u by one"
            );
            snapshots += s.snapshots;
            applied += s.applied;
        }
    }
    // README: 6 snapshots + 2,142 deltas; each applied update (snapshot or delta) counts.
    assert_eq!(snapshots, 6);
    assert_eq!(applied, 6 + 2142);
}
