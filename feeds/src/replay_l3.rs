//! `gavel replay --dump-top --venue coinbase` on recordings of Coinbase's
//! `full` channel: the L3 parser and book mirror instead of the level-2 path.
//!
//! A recording is taken as full-channel when one of its first records is a
//! `received`, `open` or `done` message ([`holds_full_channel`]). Level-3 REST
//! books (`{"sequence":…,"bids":[[price,size,order_id],…],…}`) come from the
//! capture itself (REST responses) or from `--snapshot` files, merged by
//! receive time; the product is read from the request URL
//! (`/products/<id>/book`). A message refused by the parser is reported and
//! counted; since its `sequence` is then missing, the next message is a gap
//! and the book resyncs at the next REST book.

use crate::input_error::{InputError, Location};
use crate::recording::{contains, RecordError, RecordKind, RecordingReader};
use crate::replay_report::ReplayReport;
use crate::sync::coinbase_l3::CoinbaseL3Sync;
use crate::sync::SyncNote;
use crate::venue_book::L2Book;
use crate::venues::coinbase_full::{CoinbaseFullParser, FullMessage, DEFAULT_MAX_ORDERS};
use crate::venues::{InstrumentSpec, Instruments, Message};
use crate::wire::Event;
use std::path::PathBuf;

/// Records looked at by [`holds_full_channel`].
const DETECT_RECORDS: usize = 10_000;
/// Messages the L3 sync buffers while waiting for a REST book.
const MAX_BUFFERED: usize = 1 << 16;

/// True when one of the first records of the first readable capture is a
/// full-channel message (`received`, `open` or `done`).
pub fn holds_full_channel(captures: &[PathBuf]) -> bool {
    const MARKS: [&[u8]; 6] = [
        b"\"type\":\"received\"",
        b"\"type\":\"open\"",
        b"\"type\":\"done\"",
        b"\"type\": \"received\"",
        b"\"type\": \"open\"",
        b"\"type\": \"done\"",
    ];
    for path in captures {
        let Ok(mut reader) = RecordingReader::open(path) else {
            continue;
        };
        for _ in 0..DETECT_RECORDS {
            match reader.next_record() {
                Ok(Some(rec)) => {
                    if MARKS.iter().any(|m| contains(rec.payload, m)) {
                        return true;
                    }
                }
                Ok(None) | Err(RecordError::Fatal(_)) => break,
                Err(RecordError::Bad(_)) => {}
            }
        }
        return false;
    }
    false
}

/// The product in a level-3 REST URL (`…/products/BTC-USD/book?level=3`).
pub fn product_in_url(url: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"/products/";
    let at = url.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &url[at..];
    let end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
    (end > 0).then_some(&rest[..end])
}

fn is_rest_book(payload: &[u8]) -> bool {
    contains(payload, b"\"bids\"") && contains(payload, b"\"sequence\"") && !contains(payload, b"\"type\"")
}

struct Snapshot {
    source: String,
    line: u64,
    receive_ns: i64,
    payload: Vec<u8>,
    product: Option<Vec<u8>>,
}

/// Runs the L3 replay of `spec` over `captures` (in order) with the REST books
/// of `snapshots` merged in; only records whose URL contains `url_filter` (or
/// that have no URL) count. `on_update(receive_ns, sequence, book)` after every
/// applied message and loaded REST book.
pub fn run_full(
    spec: &InstrumentSpec,
    captures: &[PathBuf],
    snapshots: &[PathBuf],
    url_filter: Option<&str>,
    mut on_update: impl FnMut(i64, u64, &L2Book),
) -> Result<ReplayReport, InputError> {
    let mut parser = CoinbaseFullParser::new(Instruments::new(vec![spec.clone()]));
    let mut sync = CoinbaseL3Sync::new(spec.id, DEFAULT_MAX_ORDERS, MAX_BUFFERED);
    let mut report = ReplayReport::default();

    let snapshot_files = snapshots;
    let mut snapshots = Vec::new();
    for path in snapshot_files {
        let mut reader = RecordingReader::open(path)?;
        loop {
            match reader.next_record() {
                Ok(Some(rec)) if rec.kind != RecordKind::Connect && is_rest_book(rec.payload) => {
                    snapshots.push(Snapshot {
                        source: path.display().to_string(),
                        line: rec.line,
                        receive_ns: rec.receive_ns,
                        payload: rec.payload.to_vec(),
                        product: product_in_url(rec.url).map(<[u8]>::to_vec),
                    })
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(RecordError::Bad(e)) => report.error(e.to_string()),
                Err(RecordError::Fatal(e)) => return Err(e),
            }
        }
        report.bad_lines += reader.bad_lines;
    }
    snapshots.sort_by_key(|s| s.receive_ns);
    let mut snapshots = snapshots.into_iter().peekable();

    let mut events: Vec<Event> = Vec::with_capacity(4096);
    let mut handle = |payload: &[u8],
                      receive_ns: i64,
                      product: Option<&[u8]>,
                      where_: &dyn Fn() -> (String, Location),
                      report: &mut ReplayReport| {
        events.clear();
        let mut emit = |note: SyncNote, book: &L2Book| {
            if let SyncNote::Applied { final_id, receive_ns } = note {
                on_update(receive_ns, final_id, book);
            }
        };
        match parser.parse_full(payload, receive_ns, product, &mut events) {
            Ok(FullMessage::Order { sequence, .. }) => sync.on_message(sequence, receive_ns, &events, &mut emit),
            Ok(FullMessage::Snapshot { sequence, .. }) => sync.on_snapshot(sequence, receive_ns, &events, &mut emit),
            Ok(FullMessage::Other(Message::OtherInstrument)) => report.other_instrument += 1,
            Ok(FullMessage::Other(_)) => {}
            Err(e) => {
                *report.parse_errors.entry(e.kind_name()).or_default() += 1;
                let (source, location) = where_();
                report.error(InputError::new(source, location, e.field(), e.to_string()).to_string());
            }
        }
    };

    for path in captures {
        let mut reader = RecordingReader::open(path)?;
        let source = reader.source().to_string();
        loop {
            let rec = match reader.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(RecordError::Bad(e)) => {
                    report.error(e.to_string());
                    continue;
                }
                Err(RecordError::Fatal(e)) => {
                    report.error(e.to_string());
                    break;
                }
            };
            report.records += 1;
            if let Some(filter) = url_filter {
                if !rec.url.is_empty() && !contains(rec.url, filter.as_bytes()) {
                    continue;
                }
            }
            while let Some(snap) = snapshots.next_if(|s| s.receive_ns <= rec.receive_ns) {
                let where_ = || (snap.source.clone(), Location::Line(snap.line));
                handle(
                    &snap.payload,
                    snap.receive_ns,
                    snap.product.as_deref(),
                    &where_,
                    &mut report,
                );
            }
            let product = match rec.kind {
                RecordKind::Received => None,
                RecordKind::RestResponse if is_rest_book(rec.payload) => product_in_url(rec.url),
                _ => continue,
            };
            let line = rec.line;
            let where_ = || (source.clone(), Location::Line(line));
            handle(rec.payload, rec.receive_ns, product, &where_, &mut report);
        }
        report.bad_lines += reader.bad_lines;
    }
    for snap in snapshots {
        let where_ = || (snap.source.clone(), Location::Line(snap.line));
        handle(
            &snap.payload,
            snap.receive_ns,
            snap.product.as_deref(),
            &where_,
            &mut report,
        );
    }
    report.sync = sync.stats;
    Ok(report)
}
