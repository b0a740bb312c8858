//! Proof on the real Bybit v2 recording (cryptofeed, 2021-04, USDT perpetuals
//! `orderBookL2_25`): every snapshot and delta of the 8 symbols applies with
//! no gap, the mirrored book is never crossed, and after every update its top
//! of book equals that of an independent id-keyed rebuild (serde_json, a map
//! from level id to level). The recording has no venue top-of-book message
//! (no `instrument_info`), so that rebuild is the reference.

use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::replay::{resolve_spec, TopReplay};
use gavel_feeds::venues::InstrumentSpec;
use gavel_feeds::Venue;
use std::collections::BTreeMap;
use std::io::BufRead;

type Top = (Option<(i64, i64)>, Option<(i64, i64)>);

/// Top of book after every `orderBookL2_25` message of `symbol`, rebuilt by id.
fn reference_tops(path: &std::path::Path, spec: &InstrumentSpec) -> Vec<(u64, Top)> {
    let topic = format!("orderBookL2_25.{}", spec.symbol);
    let mut levels: BTreeMap<String, (bool, i64, i64)> = BTreeMap::new();
    let mut tops = Vec::new();
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    for line in file.lines() {
        let line = line.unwrap();
        let Some((_, json)) = line.split_once(": ") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
            continue;
        };
        if v.get("topic").and_then(|t| t.as_str()) != Some(topic.as_str()) {
            continue;
        }
        let level = |l: &serde_json::Value| {
            let price = spec
                .price
                .parse(l["price"].as_str().unwrap().as_bytes())
                .unwrap();
            let size = l.get("size").map_or(0, |s| {
                spec.qty.parse_rounded(s.to_string().as_bytes()).unwrap().0
            });
            (
                l["id"].as_str().unwrap().to_string(),
                (l["side"] == "Buy", price, size),
            )
        };
        let data = &v["data"];
        if v["type"] == "snapshot" {
            levels.clear();
            for l in data["order_book"].as_array().unwrap() {
                let (id, lv) = level(l);
                levels.insert(id, lv);
            }
        } else {
            for l in data["delete"].as_array().unwrap() {
                assert!(
                    levels.remove(&level(l).0).is_some(),
                    "delete of an unknown id"
                );
            }
            for key in ["update", "insert"] {
                for l in data[key].as_array().unwrap() {
                    let (id, lv) = level(l);
                    let old = levels.insert(id, lv);
                    assert_eq!(old.is_some(), key == "update", "{key} of id");
                }
            }
        }
        let best = |bid: bool| {
            let side = levels.values().filter(|l| l.0 == bid);
            let best = if bid {
                side.max_by_key(|l| l.1)
            } else {
                side.min_by_key(|l| l.1)
            };
            best.map(|l| (l.1, l.2))
        };
        let seq: u64 = v["cross_seq"].as_str().unwrap().parse().unwrap();
        tops.push((seq, (best(true), best(false))));
    }
    tops
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn bybit_v2_books_apply_without_gaps_and_match_an_id_keyed_rebuild() {
    let file = require_data_file("cryptofeed/BYBIT.ws.25.0");
    let symbols_file = require_data_file("cryptofeed/BYBIT.0");
    let mut applied = 0;
    for symbol in [
        "BCHUSDT", "XTZUSDT", "UNIUSDT", "LTCUSDT", "DOTUSDT", "LINKUSDT", "ADAUSDT", "ETHUSDT",
    ] {
        let spec = resolve_spec(
            symbol,
            1,
            Some(&symbols_file),
            std::slice::from_ref(&file),
            None,
        )
        .unwrap();
        let mut tops: Vec<(u64, Top)> = Vec::new();
        let report = TopReplay {
            venue: Venue::Bybit,
            spec: spec.clone(),
            captures: vec![file.clone()],
            snapshots: vec![],
            url_filter: None,
        }
        .run(|_, seq, book| {
            assert!(!book.is_crossed(), "{symbol} crossed at {seq}");
            let level = |l: Option<gavel_feeds::venue_book::Level>| l.map(|l| (l.price, l.qty));
            tops.push((seq, (level(book.best_bid()), level(book.best_ask()))));
        })
        .unwrap();
        let s = report.sync;
        assert_eq!(
            (s.snapshots, s.gaps, s.crossed, s.duplicates, s.stale),
            (1, 0, 0, 0, 0),
            "{symbol}: {report:#?}"
        );
        assert!(report.parse_errors.is_empty(), "{symbol}: {report:#?}");
        let reference = reference_tops(&file, &spec);
        assert!(
            reference.len() > 200,
            "{symbol}: {} messages",
            reference.len()
        );
        assert_eq!(tops, reference, "{symbol}");
        applied += s.applied;
    }
    // README: orderBookL2_25 snapshot/delta ×3,260 (8 snapshots).
    assert_eq!(applied, 3260);
}

/// The pipeline's feed handler (`VenueFeed`, venue `Bybit`) takes the v2
/// dialect too: every message parses, no gap, and it sends book events for
/// all 8 instruments plus the trades.
#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn venue_feed_handles_bybit_v2_messages() {
    use gavel_feeds::capture_feed::VenueFeed;
    use gavel_feeds::input_error::Location;
    use gavel_feeds::recording::{RecordKind, RecordingReader};
    use gavel_feeds::venues::Instruments;
    use gavel_feeds::wire::EventKind;

    let file = require_data_file("cryptofeed/BYBIT.ws.25.0");
    let symbols_file = require_data_file("cryptofeed/BYBIT.0");
    let symbols = [
        "BCHUSDT", "XTZUSDT", "UNIUSDT", "LTCUSDT", "DOTUSDT", "LINKUSDT", "ADAUSDT", "ETHUSDT",
    ];
    let specs = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| {
            resolve_spec(
                s,
                i as u32 + 1,
                Some(&symbols_file),
                std::slice::from_ref(&file),
                None,
            )
            .unwrap()
        })
        .collect();
    let mut feed = VenueFeed::new(Venue::Bybit, Instruments::new(specs), 5).unwrap();
    let mut reader = RecordingReader::open(&file).unwrap();
    let (mut levels, mut trades, mut gaps) = ([0u64; 9], 0u64, 0u64);
    while let Some(rec) = reader.next_record().unwrap() {
        if rec.kind != RecordKind::Received {
            continue;
        }
        let line = rec.line;
        feed.on_message(
            rec.payload,
            rec.receive_ns,
            None,
            || ("BYBIT.ws.25.0".into(), Location::Line(line)),
            &mut |ev| match ev.kind() {
                Some(EventKind::Trade) => trades += 1,
                Some(EventKind::Gap) => gaps += 1,
                Some(_) => levels[ev.instrument as usize] += 1,
                None => {}
            },
        );
    }
    assert_eq!(feed.stats.parse_errors, 0, "{:?}", feed.stats.first_errors);
    assert_eq!((feed.stats.gaps, gaps), (0, 0));
    assert_eq!(feed.stats.book_updates, 3260);
    assert!(levels[1..].iter().all(|&n| n > 0), "{levels:?}");
    // README: `trade` ×66 messages; each carries at least one trade.
    assert!(trades >= 66, "{trades} trades");
}
