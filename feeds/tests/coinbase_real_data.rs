//! Proof on the real Coinbase recordings: Advanced Trade `l2_data` (cryptofeed
//! v3) with no gap in the connection's `sequence_num` and a never-crossed
//! book; the older Exchange `level2` feed (cryptofeed) never crossed.

use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::replay::{resolve_spec, ReplayReport, TopReplay};
use gavel_feeds::Venue;
use std::path::PathBuf;

fn replay(file: &PathBuf, symbol: &str) -> (ReplayReport, u64) {
    let spec = resolve_spec(symbol, 1, None, std::slice::from_ref(file), None).unwrap();
    let mut crossed = 0;
    let report = TopReplay {
        venue: Venue::Coinbase,
        spec,
        captures: vec![file.clone()],
        snapshots: vec![],
        url_filter: None,
    }
    .run(|_, _, book| crossed += book.is_crossed() as u64)
    .unwrap();
    (report, crossed)
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn advanced_trade_l2_has_no_sequence_gap_and_never_crosses() {
    let file = require_data_file("cryptofeed/v3/COINBASE.jsonl.gz");
    let mut applied = 0;
    for symbol in ["BTC-USD", "ETH-USD"] {
        let (report, crossed) = replay(&file, symbol);
        let s = report.sync;
        assert_eq!(
            (s.gaps, s.crossed, s.duplicates, s.stale, crossed),
            (0, 0, 0, 0, 0),
            "{symbol}: {report:#?}"
        );
        assert_eq!(s.snapshots, 1);
        assert!(report.parse_errors.is_empty(), "{:#?}", report.first_errors);
        applied += s.applied;
    }
    // README: 2 snapshots + 773 updates.
    assert_eq!(applied, 2 + 773);
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn exchange_level2_never_crosses() {
    let file = require_data_file("cryptofeed/COINBASE.ws.28.0");
    let products = [
        "BAND-GBP", "SKL-GBP", "NU-GBP", "YFI-BTC", "SKL-BTC", "CRV-EUR", "BAND-BTC", "DASH-BTC",
        "NMR-EUR", "SKL-USD",
    ];
    let mut applied = 0;
    for symbol in products {
        let (report, crossed) = replay(&file, symbol);
        let s = report.sync;
        assert_eq!(
            (s.gaps, s.crossed, crossed, s.snapshots),
            (0, 0, 0, 1),
            "{symbol}: {report:#?}"
        );
        assert!(
            report.parse_errors.is_empty(),
            "{symbol}: {:#?}",
            report.first_errors
        );
        applied += s.applied;
    }
    // README: 10 snapshots and 9,719 l2updates.
    assert_eq!(applied, 10 + 9719);
}
