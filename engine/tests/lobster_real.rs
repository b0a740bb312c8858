//! LOBSTER conformance on the real sample files (see docs/LOBSTER.md).
//!
//! gavel's L3 book is seeded from order-book row 1, fed every message, and
//! compared with the order-book file after each one; a differing side is
//! re-set from the reference. The counts below are what the replay produces;
//! the causes are asserted for every single mismatch.

use gavel_engine::book::lobster_replay::{self, CompareStats, MismatchCause, ReferenceUse};
use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::lobster::{MessageReader, OrderbookReader};

struct Run {
    stats: CompareStats,
    /// (row, side, cause, first differing level index).
    mismatches: Vec<(u64, gavel_feeds::Side, MismatchCause, usize)>,
}

fn replay(message: &str, orderbook: &str, levels: usize) -> Run {
    let mut messages = MessageReader::open(&require_data_file(message)).unwrap();
    let mut reference = OrderbookReader::open(&require_data_file(orderbook), levels).unwrap();
    let mut mismatches = Vec::new();
    let (stats, _) = lobster_replay::run(
        &mut messages,
        Some((&mut reference, ReferenceUse::Resync)),
        levels,
        |_| Ok(()),
        |m| {
            let first = m
                .ours
                .iter()
                .zip(m.reference)
                .position(|(a, b)| a != b)
                .expect("a mismatch differs somewhere");
            mismatches.push((m.row, m.side, m.cause, first));
        },
    )
    .unwrap();
    Run { stats, mismatches }
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn amzn_level_1_mismatches_only_where_depth_surfaces() {
    let run = replay(
        "lobster/AMZN_2012-06-21_34200000_57600000_message_1.csv",
        "lobster/AMZN_2012-06-21_34200000_57600000_orderbook_1.csv",
        1,
    );
    let s = run.stats;
    assert_eq!(s.rows, 57_515);
    assert_eq!(s.mismatched_rows, 8_167);
    assert_eq!(s.resyncs, 8_167);
    // Roughly one row in seven.
    assert!((6..=8).contains(&(s.rows / s.mismatched_rows)), "{s:?}");
    // Every mismatch: the message emptied that side's best level, and the
    // level that surfaced comes from depth a level-1 file never shows.
    assert_eq!(s.surfaced_from_depth, 8_167);
    assert_eq!(s.unexplained + s.order_changed_outside_window, 0);
    assert!(run
        .mismatches
        .iter()
        .all(|m| m.2 == MismatchCause::SurfacedFromDepth && m.3 == 0));
    // The first one (docs/LOBSTER.md): row 3, the execution of bid 11885113 empties 2238100.
    assert_eq!(run.mismatches[0].0, 3);
    assert_eq!(run.mismatches[0].1, gavel_feeds::Side::Bid);
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn amzn_level_5_top_4_always_match() {
    let run = replay(
        "lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv.gz",
        "lobster/AMZN_2012-06-21_34200000_57600000_orderbook_5.csv.gz",
        5,
    );
    let s = run.stats;
    assert_eq!(s.rows, 155_935);
    assert_eq!(
        s.rows_upper_levels_differ, 0,
        "top 4 levels must match on every row"
    );
    assert!(
        run.mismatches.iter().all(|m| m.3 == 4),
        "only level 5 may differ"
    );
    assert_eq!(s.mismatched_rows, 12_052);
    assert_eq!(s.surfaced_from_depth, 12_051);
    // Row 62350: a delete of 100 lots of order 124348537, submitted with 200 at
    // row 62298; the other 100 left while 2234000 was beyond level 5.
    assert_eq!(s.order_changed_outside_window, 1);
    assert_eq!(s.unexplained, 0);
    let odd: Vec<_> = run
        .mismatches
        .iter()
        .filter(|m| m.2 == MismatchCause::OrderChangedOutsideWindow)
        .collect();
    assert_eq!(odd[0].0, 62_350);
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn goog_level_10_top_9_always_match() {
    let run = replay(
        "lobster/GOOG_2012-06-21_34200000_57600000_message_10.csv.gz",
        "lobster/GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.gz",
        10,
    );
    let s = run.stats;
    assert_eq!(s.rows, 147_916);
    assert_eq!(
        s.rows_upper_levels_differ, 0,
        "top 9 levels must match on every row"
    );
    assert!(run
        .mismatches
        .iter()
        .all(|m| m.3 == 9 && m.2 == MismatchCause::SurfacedFromDepth));
    assert_eq!(s.mismatched_rows, 6_279);
    assert_eq!(s.unexplained + s.order_changed_outside_window, 0);
}
