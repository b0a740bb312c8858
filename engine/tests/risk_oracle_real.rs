//! The mark oracle and the volatility estimator on 8.5 minutes of real
//! Binance USD-M BTCUSDT data (bookTicker + markPrice@1s).

use std::io::{BufRead, BufReader};

use gavel_engine::risk::decimal::Decimal;
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::oracle::{MarkOracle, OracleConfig, VenueQuote};
use gavel_engine::risk::volatility::RealizedVol;
use gavel_engine::risk::RiskEvent;
use gavel_feeds::data_dir::require_data_file;

fn str_field<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v.get(k).and_then(|x| x.as_str()).unwrap_or_else(|| panic!("field {k} in {v}"))
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn oracle_tracks_binance_mark_on_real_data() {
    let set = InstrumentSet::parse(include_str!("../../docs/examples/instruments.toml"), "instruments.toml").unwrap();
    let btc = set.get(set.id("BTCUSDT").unwrap()).clone();
    let ticks = |s: &str| Decimal::parse(s).unwrap().in_units_of_rounded(btc.tick_size).unwrap() as i64;
    let lots = |s: &str| Decimal::parse(s).unwrap().in_units_of(btc.lot_size).unwrap() as i64;
    // Venues: 0 = mid, 1 = microprice, 2 = Binance's own mark.
    let cfg = OracleConfig {
        venues: 3,
        staleness_ns: 2_000_000_000,
        outlier_band_bps: 100,
        quorum: 2,
        half_life_ns: 1_000_000_000,
    };
    let mut oracle = MarkOracle::new(0, cfg);
    let mut vol = RealizedVol::new(60_000_000_000, 0.0);
    let mut events = Vec::new();
    let (mut compared, mut worst_bps, mut tickers, mut breakers) = (0u64, 0f64, 0u64, 0u64);
    for file in [
        "hftbacktest/usdm/btcusdt_20230404.dat.gz",
        "hftbacktest/usdm/btcusdt_20230405.dat.gz",
    ] {
        let path = require_data_file(file);
        let reader = BufReader::new(flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap()));
        for line in reader.lines() {
            let line = line.unwrap();
            let Some((ts, json)) = line.split_once(' ') else { continue };
            let t_ns = ts.parse::<u64>().unwrap() * 1_000; // microseconds in the 2023 files
            if !json.contains("\"stream\"") {
                continue; // the REST snapshot line
            }
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            let stream = v["stream"].as_str().unwrap();
            let data = &v["data"];
            if stream.ends_with("@bookTicker") {
                let (bid, ask) = (ticks(str_field(data, "b")), ticks(str_field(data, "a")));
                let (bq, aq) = (lots(str_field(data, "B")), lots(str_field(data, "A")));
                assert!(oracle.on_quote(0, VenueQuote::Mid { bid, ask }, t_ns));
                assert!(oracle.on_quote(
                    1,
                    VenueQuote::Micro {
                        bid,
                        ask,
                        bid_qty: bq,
                        ask_qty: aq
                    },
                    t_ns
                ));
                tickers += 1;
            } else if stream.ends_with("@markPrice@1s") {
                let binance_mark = ticks(str_field(data, "p"));
                assert!(oracle.on_quote(2, VenueQuote::Mark(binance_mark), t_ns));
                events.clear();
                let out = oracle.compute(t_ns, &mut events).unwrap();
                assert!(!events.iter().any(|e| matches!(e, RiskEvent::VenueOutlier { .. })), "{events:?}");
                if !out.liquidation_allowed {
                    // Only a real feed gap may trip the breaker: both book venues stale.
                    let stale = events
                        .iter()
                        .filter(|e| matches!(e, RiskEvent::VenueStale { venue: 0 | 1, .. }))
                        .count();
                    assert_eq!(stale, 2, "{events:?}");
                    breakers += 1;
                    continue;
                }
                vol.update(out.price, t_ns);
                let bps = (out.price - binance_mark).abs() as f64 / binance_mark as f64 * 1e4;
                worst_bps = worst_bps.max(bps);
                compared += 1;
            }
        }
    }
    assert!(tickers > 40_000, "{tickers}");
    // 99 + 415 markPrice updates; the book feed has a few multi-second gaps.
    assert_eq!(compared + breakers, 99 + 415);
    assert!(breakers <= 3, "{breakers} breaker trips");
    // The smoothed median of mid, microprice and Binance's mark stays within
    // 5 bps of Binance's mark over the whole 8.5 minutes (1.5 bps seen).
    assert!(worst_bps < 5.0, "worst {worst_bps} bps");
    // Daily σ from 1-s marks of a quiet BTC morning: between 0.1 % and 20 %.
    let daily = vol.sigma_over(86_400_000_000_000);
    assert!((0.001..0.2).contains(&daily), "daily sigma {daily}");
    eprintln!("compared {compared} marks, {breakers} breaker trips, worst {worst_bps:.2} bps, daily sigma {daily:.4}");
}
