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


/// gavel's implied vol from the venue's own mark price exists for every ticker, and
/// reprices that mark within the premium tolerance; for options whose vega is not
/// lost in the price's last printed digit it is within a vol point of `mark_iv`.
#[test]
#[ignore = "real data: needs GAVEL_DATA"]
fn implied_vol_from_the_venue_mark_price_recovers_mark_iv() {
    use gavel_engine::options::black76::SECONDS_PER_YEAR;
    use gavel_engine::options::venue_check::TOLERANCE;
    use gavel_engine::options::{implied_vol, Black76};
    let mut reader = RecordingReader::open(&data_file("cryptofeed/DERIBIT.ws.1.0")).unwrap();
    let (mut checked, mut worst_points) = (0, 0f64);
    while let Some(rec) = reader.next_record().unwrap() {
        if rec.kind != RecordKind::Received {
            continue;
        }
        let Some(t) = parse_ticker(rec.payload).unwrap() else { continue };
        let name = String::from_utf8_lossy(t.instrument).into_owned();
        let years = (t.name.expiry_ms - t.timestamp_ms) as f64 / 1000.0 / SECONDS_PER_YEAR;
        let template = Black76::new(t.name.kind, t.underlying_price, t.name.strike, years, 0.5, t.interest_rate).unwrap();
        let iv = implied_vol(&template, t.mark_price * t.underlying_price).unwrap_or_else(|| panic!("{name}: no implied vol"));
        let repriced = Black76 { vol: iv, ..template }.price() / t.underlying_price;
        assert!(TOLERANCE.1.admits(repriced, t.mark_price), "{name}: {repriced} vs {}", t.mark_price);
        // One vol point moves the coin premium by vega ÷ F; where that is 100 × the printed 10⁻⁶, compare the vols.
        let vega_coin = Black76 { vol: t.mark_iv / 100.0, ..template }.greeks().vega / t.underlying_price;
        if vega_coin >= 1e-4 {
            let points = (iv * 100.0 - t.mark_iv).abs();
            assert!(points <= 1.0, "{name}: iv {} vs mark_iv {}", iv * 100.0, t.mark_iv);
            worst_points = worst_points.max(points);
        }
        checked += 1;
    }
    assert_eq!(checked, 89);
    eprintln!("worst |iv − mark_iv| where vega ≥ 1e-4 coin per point: {worst_points:.3} vol points");
}
