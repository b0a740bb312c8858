//! Turns third-party recordings (hftbacktest lines, cryptofeed lines and JSON
//! lines) into gavel captures, so the replay pipeline reads one format.
//!
//! Records of the recording and of any snapshot files are merged by receive
//! time (stable: a file's own order is kept for equal times). REST depth
//! snapshots go on channel `rest/depth/<SYMBOL>` (symbol from the request URL)
//! so the feed handler knows their instrument; stream messages keep their URL
//! as channel (cut to 255 bytes). The venue comes from the URL or the message
//! shape; records whose venue cannot be told are an error naming the file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use gavel_feeds::capture::{CaptureFile, CaptureWriter};
use gavel_feeds::recording::{url_query_param, RecordError, RecordKind, RecordingReader};
use gavel_feeds::wire::Venue;

use crate::cmd::gen_accounts::detect_venue;

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

/// Converts `recording` (plus `snapshots`) into a gavel capture at `out`.
pub fn convert(recording: &Path, snapshots: &[PathBuf], out: &Path) -> anyhow::Result<u64> {
    let mut records = Vec::new();
    let mut venue = None;
    read_all(recording, 0, &mut venue, &mut records)?;
    for (i, snapshot) in snapshots.iter().enumerate() {
        read_all(snapshot, (i + 1) << 40, &mut venue, &mut records)?;
    }
    let venue = venue.with_context(|| format!("{}: cannot tell the venue of this recording", recording.display()))?;
    records.sort_by_key(|r| (r.receive_ns, r.order));
    let mut writer = CaptureWriter::create(out).with_context(|| format!("creating {}", out.display()))?;
    for r in &records {
        let venue = if r.venue == Venue::Gavel { venue } else { r.venue };
        writer.append(r.receive_ns, venue, &r.channel, &r.message)?;
    }
    writer.flush()?;
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
