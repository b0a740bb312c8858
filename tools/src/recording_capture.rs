//! Turns third-party recordings (hftbacktest lines, cryptofeed lines and JSON
//! lines) into gavel captures, so the replay pipeline reads one format.
//!
//! Records of the recording and of any snapshot files are merged by receive
//! time (stable: a file's own order is kept for equal times). REST depth
//! snapshots go on channel `rest/depth/<SYMBOL>` (symbol from the request URL)
//! so the feed handler knows their instrument; stream messages keep their URL
//! as channel (cut to 255 bytes). The venue comes from the URL or the message
//! shape; records whose venue cannot be told are an error naming the file.
//!
//! tardis.dev `incremental_book_L2` CSV files (plain or gzip) are converted
//! too: consecutive rows of one symbol with the same `local_timestamp` and
//! snapshot state become one record (the rows as text, channel
//! `tardis/incremental_book_L2/<SYMBOL>`, receive time = `local_timestamp`,
//! venue from the `exchange` column), which the feed handler parses with the
//! tardis row parser and the tardis book sync. Snapshot files do not apply.

use std::path::{Path, PathBuf};

use anyhow::Context;
use gavel_feeds::capture::{CaptureFile, CaptureWriter};
use gavel_feeds::recording::{url_query_param, RecordError, RecordKind, RecordingReader};
use gavel_feeds::tardis_replay::{is_tardis_book_csv, open_lines};
use gavel_feeds::wire::Venue;

use gavel_sim::generate::ranges::detect_venue;

struct Owned {
    receive_ns: i64,
    order: usize,
    venue: Venue,
    channel: Vec<u8>,
    message: Vec<u8>,
}

fn read_all(path: &Path, order_base: usize, venue_hint: &mut Option<Venue>, out: &mut Vec<Owned>) -> anyhow::Result<u64> {
    let mut reader = RecordingReader::open(path)?;
    let mut bad = 0u64;
    loop {
        let record = match reader.next_record() {
            Ok(Some(record)) => record,
            Ok(None) => break,
            Err(RecordError::Bad(err)) => {
                bad += 1;
                if bad <= 3 {
                    eprintln!("warning: skipped a bad record: {err}");
                }
                continue;
            }
            Err(RecordError::Fatal(err)) => return Err(anyhow::Error::new(err)),
        };
        if !matches!(record.kind, RecordKind::Received | RecordKind::RestResponse) || record.payload.is_empty() {
            continue;
        }
        if venue_hint.is_none() {
            *venue_hint = detect_venue(record.url, record.payload);
        }
        let channel = if record.kind == RecordKind::RestResponse {
            match url_query_param(record.url, b"symbol") {
                Some(symbol) => [b"rest/depth/".as_slice(), &symbol.to_ascii_uppercase()].concat(),
                None => b"rest/depth".to_vec(),
            }
        } else {
            record.url.iter().copied().take(255).collect()
        };
        out.push(Owned {
            receive_ns: record.receive_ns,
            order: order_base + out.len(),
            venue: Venue::Gavel,
            channel,
            message: record.payload.to_vec(),
        });
    }
    Ok(bad)
}

/// The venue of a tardis `exchange` name.
fn tardis_venue(exchange: &str) -> Option<Venue> {
    Some(match exchange {
        "binance-futures" => Venue::BinanceUsdm,
        "binance-delivery" => Venue::BinanceCoinm,
        "binance" => Venue::BinanceSpot,
        "bybit" | "bybit-spot" => Venue::Bybit,
        "okex" | "okex-swap" | "okex-futures" | "okx" | "okx-swap" | "okx-futures" => Venue::Okx,
        "coinbase" => Venue::Coinbase,
        _ => return None,
    })
}

/// One tardis message being gathered from consecutive rows.
struct Gathered {
    venue: Venue,
    channel: Vec<u8>,
    local_us: i64,
    snapshot: bool,
    rows: Vec<u8>,
}

/// Converts a tardis `incremental_book_L2` CSV file into a gavel capture.
fn convert_tardis(recording: &Path, out: &Path) -> anyhow::Result<u64> {
    use std::io::BufRead;
    let source = recording.display();
    let lines = open_lines(recording)?;
    let mut writer = CaptureWriter::create_atomic(out).with_context(|| format!("creating {}", out.display()))?;
    let mut pending: Option<Gathered> = None;
    let (mut records, mut bad) = (0u64, 0u64);
    let mut flush = |pending: &mut Option<Gathered>| -> anyhow::Result<()> {
        if let Some(m) = pending.take() {
            writer.append(m.local_us.saturating_mul(1_000), m.venue, &m.channel, &m.rows)?;
            records += 1;
        }
        Ok(())
    };
    for (i, line) in lines.lines().enumerate().skip(1) {
        let line = line.with_context(|| format!("{source}: line {}", i + 1))?;
        let row = line.trim_end_matches('\r');
        if row.is_empty() {
            continue;
        }
        let cols: Vec<&str> = row.split(',').collect();
        let local_us = cols.get(3).and_then(|t| t.parse::<i64>().ok());
        let (Some(local_us), true) = (local_us, cols.len() == 8) else {
            bad += 1;
            if bad <= 3 {
                eprintln!("warning: {source}: line {}: not a book row (8 columns, µs local_timestamp); skipped", i + 1);
            }
            continue;
        };
        let venue = tardis_venue(cols[0])
            .with_context(|| format!("{source}: line {}: exchange {:?} has no gavel venue", i + 1, cols[0]))?;
        let snapshot = cols[4] == "true";
        let channel = [b"tardis/incremental_book_L2/".as_slice(), cols[1].as_bytes()].concat();
        let continues = matches!(&pending, Some(m)
            if m.venue == venue && m.channel == channel && m.snapshot == snapshot && (snapshot || m.local_us == local_us));
        if !continues {
            flush(&mut pending)?;
        }
        let m = pending.get_or_insert_with(|| Gathered { venue, channel, local_us, snapshot, rows: Vec::new() });
        m.rows.extend_from_slice(row.as_bytes());
        m.rows.push(b'\n');
    }
    flush(&mut pending)?;
    writer.commit().with_context(|| format!("writing {}", out.display()))?;
    Ok(records)
}

/// Converts `recording` (plus `snapshots`) into a gavel capture at `out`.
pub fn convert(recording: &Path, snapshots: &[PathBuf], out: &Path) -> anyhow::Result<u64> {
    if is_tardis_book_csv(recording) {
        return convert_tardis(recording, out);
    }
    let mut records = Vec::new();
    let mut venue = None;
    read_all(recording, 0, &mut venue, &mut records)?;
    for (i, snapshot) in snapshots.iter().enumerate() {
        read_all(snapshot, (i + 1) << 40, &mut venue, &mut records)?;
    }
    let venue = venue.with_context(|| format!("{}: cannot tell the venue of this recording", recording.display()))?;
    records.sort_by_key(|r| (r.receive_ns, r.order));
    let mut writer = CaptureWriter::create_atomic(out).with_context(|| format!("creating {}", out.display()))?;
    for r in &records {
        let venue = if r.venue == Venue::Gavel { venue } else { r.venue };
        writer.append(r.receive_ns, venue, &r.channel, &r.message)?;
    }
    writer.commit().with_context(|| format!("writing {}", out.display()))?;
    Ok(records.len() as u64)
}

/// True when `path` is a gavel capture (plain or zstd).
pub fn is_gavel_capture(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .map(|n| CaptureFile::sniff(&head[..n]))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tardis `incremental_book_L2` rows (written here in tardis's documented layout).
    const TARDIS_BOOK: &str = "\
exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount
bybit,BTCUSDT,1599868800206000,1599868800253300,true,ask,10396.5,0.139
bybit,BTCUSDT,1599868800206000,1599868800253300,true,bid,10396.0,1.2
bybit,BTCUSDT,1599868800206000,1599868800253300,true,bid,10395.5,3
bybit,BTCUSDT,1599868800310000,1599868800350000,false,bid,10396.0,0
bybit,BTCUSDT,1599868800310000,1599868800350000,false,ask,10397.0,2
bybit,ETHUSDT,1599868800310000,1599868800350000,false,ask,370.1,2
bybit,BTCUSDT,1599868800410000,1599868800450000,false,bid,10396.5,0.5
";

    #[test]
    fn tardis_book_csv_becomes_a_capture_the_feed_handler_syncs() {
        use gavel_feeds::capture_feed::replay_capture;
        use gavel_feeds::decimal::Grid;
        use gavel_feeds::venues::{InstrumentSpec, Instruments};
        use gavel_feeds::wire::{EventKind, GapMarker, PriceLevel};

        let dir = std::env::temp_dir().join(format!("gavel-tardis-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("book.csv");
        std::fs::write(&csv, TARDIS_BOOK).unwrap();
        let out = dir.join("out.cap");
        assert!(!is_gavel_capture(&csv));
        // Messages: the snapshot, BTC at 350000, ETH at 350000, BTC at 450000.
        assert_eq!(convert(&csv, &[], &out).unwrap(), 4);
        let file = CaptureFile::open(&out).unwrap();
        let records: Vec<_> = file.records().map(|r| r.unwrap()).collect();
        assert!(records.iter().all(|r| r.venue == Venue::Bybit));
        assert_eq!(records[0].channel, b"tardis/incremental_book_L2/BTCUSDT");
        assert_eq!(records[0].receive_ns, 1_599_868_800_253_300_000);
        assert_eq!(records[0].message.iter().filter(|&&b| b == b'\n').count(), 3);

        let spec = InstrumentSpec::new("BTCUSDT", 9, Grid::from_step("0.5").unwrap(), Grid::from_step("0.001").unwrap());
        let clock = gavel_feeds::clock::Clock::calibrate(std::time::Duration::from_millis(2));
        let mut events = Vec::new();
        let stats = replay_capture(&out, |_| Instruments::new(vec![spec.clone()]), 5, &clock, &mut |e, _| events.push(e))
            .unwrap();
        let (_, stats) = &stats[0];
        assert_eq!((stats.parse_errors, stats.book_updates, stats.gaps, stats.other_instrument), (0, 2, 1, 1));
        let levels: Vec<_> = events
            .iter()
            .filter(|e| e.kind() == Some(EventKind::BookLevel))
            .map(|e| (e.side(), e.payload::<PriceLevel>().price, e.payload::<PriceLevel>().qty))
            .collect();
        use gavel_feeds::Side::{Ask, Bid};
        assert_eq!(
            levels,
            vec![
                // Snapshot: the top levels, best first.
                (Some(Bid), 20792, 1200),
                (Some(Bid), 20791, 3000),
                (Some(Ask), 20793, 139),
                // 350000: the best bid leaves, an ask is added behind the best.
                (Some(Bid), 20792, 0),
                (Some(Ask), 20794, 2000),
                // 450000: the new bid at 10396.5 crosses the ask: gap, everything sent is removed.
                (Some(Bid), 20791, 0),
                (Some(Ask), 20793, 0),
                (Some(Ask), 20794, 0),
            ]
        );
        let gap = events.iter().find(|e| e.kind() == Some(EventKind::Gap)).unwrap();
        assert_eq!(gap.payload::<GapMarker>().reason, gavel_feeds::wire::gap_reason::CROSSED);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hftbacktest_lines_become_a_capture_in_time_order() {
        let dir = std::env::temp_dir().join(format!("gavel-rec-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rec = dir.join("rec.txt");
        std::fs::write(
            &rec,
            concat!(
                "1723161255030314667 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":1,\"T\":1,\"s\":\"BTCUSDT\",\"U\":5,\"u\":6,\"pu\":4,\"b\":[],\"a\":[]}}\n",
                "1723161255030399999 {\"stream\":\"btcusdt@depth@0ms\",\"data\":{\"e\":\"depthUpdate\",\"E\":2,\"T\":2,\"s\":\"BTCUSDT\",\"U\":7,\"u\":8,\"pu\":6,\"b\":[],\"a\":[]}}\n",
            ),
        )
        .unwrap();
        let out = dir.join("out.cap");
        assert!(!is_gavel_capture(&rec));
        let n = convert(&rec, &[], &out).unwrap();
        assert_eq!(n, 2);
        assert!(is_gavel_capture(&out));
        let file = CaptureFile::open(&out).unwrap();
        let records: Vec<_> = file.records().map(|r| r.unwrap()).collect();
        assert_eq!(records.len(), 2);
        assert!(records.iter().all(|r| r.venue == Venue::BinanceUsdm));
        assert!(records[0].receive_ns < records[1].receive_ns);
        assert!(records[0].message.starts_with(b"{\"stream\""));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
