//! Bad input through the whole replay path: every bad record is refused with
//! a clear error, counted, and never panics; sequence faults force a resync.

use gavel_feeds::decimal::Grid;
use gavel_feeds::replay::TopReplay;
use gavel_feeds::venues::InstrumentSpec;
use gavel_feeds::Venue;
use std::io::Write;

fn capture(name: &str, lines: &[&str], trailing_newline: bool) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("gavel-feeds-{}-{name}", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    let text = lines.join("\n");
    f.write_all(text.as_bytes()).unwrap();
    if trailing_newline {
        f.write_all(b"\n").unwrap();
    }
    path
}

const BASE: i64 = 1_723_161_255_000_000_000;

fn spec() -> InstrumentSpec {
    InstrumentSpec::new(
        "BTCUSDT",
        1,
        Grid::with_decimals(2).unwrap(),
        Grid::with_decimals(3).unwrap(),
    )
}

const SNAPSHOT: &str = r#"1723161255000000000 {"lastUpdateId":100,"bids":[["10.00","1.000"]],"asks":[["11.00","1.000"]]}"#;

fn diff(ts: u64, first: u64, last: u64, prev: u64, bid: &str) -> String {
    format!(
        r#"1723161255000000{ts:03} {{"stream":"btcusdt@depth","data":{{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":{first},"u":{last},"pu":{prev},"b":[{bid}],"a":[]}}}}"#
    )
}

#[test]
fn every_kind_of_bad_record_is_counted_and_skipped() {
    let good1 = diff(1, 99, 101, 98, r#"["10.50","2.000"]"#);
    let good2 = diff(2, 102, 103, 101, r#"["10.60","1.000"]"#);
    let dup = diff(3, 102, 103, 101, r#"["10.60","1.000"]"#);
    let nan = diff(4, 104, 105, 103, r#"["NaN","1.000"]"#);
    let neg = diff(5, 104, 105, 103, r#"["10.10","-1.000"]"#);
    let overflow = diff(6, 104, 105, 103, r#"["99999999999999999999.00","1.000"]"#);
    let off_grid = diff(7, 104, 105, 103, r#"["10.101","1.000"]"#);
    let good3 = diff(8, 104, 105, 103, r#"["10.70","1.000"]"#);
    let gap = diff(9, 110, 111, 109, r#"["10.80","1.000"]"#);
    let lines = [
        SNAPSHOT,
        &good1,
        &good2,
        &dup,
        r#"1723161255000000010 {"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTC"#, // truncated JSON
        "1723161255000000011 this is not json",
        r#"1723161255000000012 {"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":"104","u":105,"pu":103,"b":[],"a":[]}"#, // wrong type
        r#"1723161255000000013 {"e":"somethingNew","s":"BTCUSDT"}"#,
        &nan,
        &neg,
        &overflow,
        &off_grid,
        "notatimestamp {}",
        &good3,
        &gap,
        r#"1723161255000000014 {"e":"depthUpdate","E":1,"#, // file cut mid-record (no newline follows)
    ];
    let path = capture("bad", &lines, false);
    let mut rows = Vec::new();
    let report = TopReplay {
        venue: Venue::BinanceUsdm,
        spec: spec(),
        captures: vec![path.clone()],
        snapshots: vec![],
        url_filter: None,
    }
    .run(|ts, seq, book| rows.push((ts, seq, book.best_bid().map(|l| l.price))))
    .unwrap();
    std::fs::remove_file(&path).ok();

    assert_eq!(
        rows,
        vec![
            (BASE + 1, 101, Some(1050)),
            (BASE + 2, 103, Some(1060)),
            (BASE + 8, 105, Some(1070))
        ]
    );
    assert_eq!(report.sync.duplicates, 1);
    assert_eq!(
        report.sync.gaps, 1,
        "the diff with pu 109 after u 105 is a gap"
    );
    assert_eq!(report.bad_lines, 2, "bad timestamp + cut last line");
    assert_eq!(
        report.parse_errors.get("malformed JSON"),
        Some(&3),
        "{:#?}",
        report.first_errors
    );
    assert_eq!(report.parse_errors.get("unknown event type"), Some(&1));
    assert_eq!(report.parse_errors.get("bad decimal"), Some(&4));
    assert!(
        report
            .first_errors
            .iter()
            .all(|e| e.contains("gavel-feeds-")),
        "errors name the file"
    );
    assert!(
        report.first_errors.iter().any(|e| e.contains("line 5")),
        "{:#?}",
        report.first_errors
    );
}

#[test]
fn a_corrupt_header_stops_the_file() {
    let path = capture(
        "header",
        &["garbage header line", "1723161255000000000 {}"],
        true,
    );
    let err = TopReplay {
        venue: Venue::BinanceUsdm,
        spec: spec(),
        captures: vec![path.clone()],
        snapshots: vec![],
        url_filter: None,
    }
    .run(|_, _, _| {})
    .unwrap_err();
    std::fs::remove_file(&path).ok();
    assert_eq!(err.field, "<header>");
}
