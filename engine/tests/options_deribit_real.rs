//! gavel's Black-76 Greeks against Deribit's own, on every options ticker of
//! the 2021 cryptofeed recording in `GAVEL_DATA` (real data; run with `--ignored`).

use gavel_engine::options::venue_check::VenueComparison;
use gavel_feeds::recording::{RecordKind, RecordingReader};
use gavel_feeds::venues::deribit::parse_ticker;
use std::path::PathBuf;

fn data_file(rel: &str) -> PathBuf {
    let dir = std::env::var("GAVEL_DATA").unwrap_or_else(|_| "../../shared/data".into());
    let path = PathBuf::from(dir).join(rel);
    assert!(path.exists(), "real data file {} is missing (set GAVEL_DATA)", path.display());
    path
}

#[test]
#[ignore = "real data: needs GAVEL_DATA"]
fn gavel_greeks_match_deribit_within_the_documented_tolerance() {
    let mut reader = RecordingReader::open(&data_file("cryptofeed/DERIBIT.ws.1.0")).unwrap();
    let (mut tickers, mut series, mut worst_greek, mut worst_premium) = (0, std::collections::BTreeSet::new(), 0f64, 0f64);
    while let Some(rec) = reader.next_record().unwrap() {
        if rec.kind != RecordKind::Received {
            continue;
        }
        let Some(t) = parse_ticker(rec.payload).unwrap() else { continue };
        let cmp = VenueComparison::of(&t).unwrap();
        let name = String::from_utf8_lossy(t.instrument).into_owned();
        for (q, ours, venue, allowance) in cmp.quantities() {
            assert!(allowance.admits(ours, venue), "{name} {q}: gavel {ours} vs Deribit {venue}");
            let excess = allowance.relative_excess(ours, venue);
            if q == "premium" { worst_premium = worst_premium.max(excess) } else { worst_greek = worst_greek.max(excess) }
        }
        tickers += 1;
        series.insert(name);
    }
    // The recording holds 89 tickers on 10 series (data README).
    assert_eq!((tickers, series.len()), (89, 10));
    eprintln!("worst relative excess: Greeks {:.4} %, premium {:.4} %", worst_greek * 100.0, worst_premium * 100.0);
}

