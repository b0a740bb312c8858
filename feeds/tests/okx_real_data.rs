//! Proof on the real OKX v5 recording (cryptofeed format): the venue's CRC32
//! checksum of the top 25 levels is verified after every snapshot and update
//! of every `books` channel, and the book is never crossed.

use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::replay::{resolve_spec, TopReplay};
use gavel_feeds::Venue;

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn okx_books_checksum_verified_on_every_update() {
    let file = require_data_file("cryptofeed/OKX.ws.1.0");
    let mut verified = 0;
    for (symbol, updates) in [
        ("BTC-USDT", 97),
        ("BTC-USD-220527", 98),
        ("UNI-USD-SWAP", 92),
    ] {
        let spec = resolve_spec(symbol, 1, None, std::slice::from_ref(&file), None).unwrap();
        let mut crossed = 0;
        let report = TopReplay {
            venue: Venue::Okx,
            spec,
            captures: vec![file.clone()],
            snapshots: vec![],
            url_filter: None,
        }
        .run(|_, _, book| crossed += book.is_crossed() as u64)
        .unwrap();
        let s = report.sync;
        assert_eq!(
            (s.gaps, s.crossed, s.checksum_failures, s.stale, crossed),
            (0, 0, 0, 0, 0),
            "{symbol}: {report:#?}"
        );
        assert_eq!(s.snapshots, 1);
        assert_eq!(s.applied, updates + 1, "{symbol}");
        assert_eq!(
            s.checksums_verified, s.applied,
            "{symbol}: every snapshot and update carries a checksum"
        );
        assert!(report.parse_errors.is_empty(), "{:#?}", report.first_errors);
        verified += s.checksums_verified;
    }
    assert_eq!(verified, 290);
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn a_tampered_level_fails_the_checksum_and_forces_a_resync() {
    let file = require_data_file("cryptofeed/OKX.ws.1.0");
    let text = std::fs::read_to_string(&file).unwrap();
    // Change the size of the first bid in the first BTC-USDT update after its snapshot.
    let mut seen_snapshot = false;
    let mut tampered = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let books = line.contains(r#""channel":"books","instId":"BTC-USDT""#);
            if books && line.contains(r#""action":"snapshot""#) {
                seen_snapshot = true;
            } else if books && seen_snapshot && !tampered && line.contains(r#""bids":[[""#) {
                tampered = true;
                let at = line.find(r#""bids":[[""#).unwrap() + r#""bids":[[""#.len();
                let price_end = at + line[at..].find('"').unwrap();
                let size_start = price_end + 3;
                let size_end = size_start + line[size_start..].find('"').unwrap();
                return format!("{}{}{}", &line[..size_start], "7777", &line[size_end..]);
            }
            line.to_string()
        })
        .collect();
    assert!(tampered);
    let path = std::env::temp_dir().join(format!("gavel-okx-tampered-{}", std::process::id()));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let spec = resolve_spec("BTC-USDT", 1, None, std::slice::from_ref(&path), None).unwrap();
    let report = TopReplay {
        venue: Venue::Okx,
        spec,
        captures: vec![path.clone()],
        snapshots: vec![],
        url_filter: None,
    }
    .run(|_, _, _| {})
    .unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(report.sync.checksum_failures, 1);
    assert_eq!(report.sync.gaps, 1);
    assert!(
        report.sync.stale > 0,
        "updates after the failure wait for a snapshot that never comes"
    );
}
