//! tardis.dev `incremental_book_L2` CSV files (plain or gzip) into the book
//! replay behind `gavel replay --dump-top`, and grouped into messages for the
//! policy pipeline.
//!
//! Rows are grouped into messages: consecutive rows of one symbol with the
//! same `local_timestamp` and the same `is_snapshot` (a new snapshot always
//! starts a new message). Each message goes through [`TardisBookSync`]; its
//! sequence is the `local_timestamp` in µs.

use crate::decimal::{fraction_places, Grid};
use crate::input_error::{InputError, Location};
use crate::replay_report::ReplayReport;
use crate::sync::tardis::TardisBookSync;
use crate::sync::SyncNote;
use crate::venue_book::L2Book;
use crate::venues::tardis::{TardisCsvParser, TardisKind};
use crate::venues::{InstrumentSpec, Instruments};
use crate::wire::{Event, EventKind, Venue};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The header line of an `incremental_book_L2` file.
pub const BOOK_HEADER: &str =
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount";

/// Opens a file as lines, decompressing gzip (detected by its magic bytes).
pub fn open_lines(path: &Path) -> Result<Box<dyn BufRead>, InputError> {
    let fail = |e: std::io::Error| {
        InputError::new(
            path.display().to_string(),
            Location::Line(1),
            "<file>",
            e.to_string(),
        )
    };
    let mut file = BufReader::new(std::fs::File::open(path).map_err(fail)?);
    let gzip = file.fill_buf().map_err(fail)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

/// True when `path` starts with the `incremental_book_L2` header.
pub fn is_tardis_book_csv(path: &Path) -> bool {
    let Ok(mut lines) = open_lines(path) else {
        return false;
    };
    let mut first = String::new();
    lines.read_line(&mut first).is_ok() && first.trim_end() == BOOK_HEADER
}

/// True when a captured message is tardis `incremental_book_L2` rows (as
/// written into gavel captures by the recording conversion): it starts with a
/// lowercase exchange name, and its first line has the 8 columns of a book row.
pub fn is_tardis_rows(payload: &[u8]) -> bool {
    let first_line = payload.split(|&b| b == b'\n').next().unwrap_or_default();
    payload.first().is_some_and(u8::is_ascii_lowercase)
        && first_line.iter().filter(|&&b| b == b',').count() == 7
}

/// An instrument spec for `symbol` from the rows of a book file: price and
/// amount grids from the largest decimal places seen (first 100,000 rows of
/// the symbol); values printed shortest when the places vary.
pub fn tardis_book_spec(path: &Path, symbol: &str, id: u32) -> Result<InstrumentSpec, String> {
    const SAMPLE_ROWS: usize = 100_000;
    let lines = open_lines(path).map_err(|e| e.to_string())?;
    let (mut pp, mut qp, mut seen) = (0u8, 0u8, 0usize);
    let (mut first, mut fixed) = (None, true);
    for line in lines.lines().skip(1) {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        let cols: Vec<&str> = line.trim_end().split(',').collect();
        if cols.len() != 8 || !cols[1].eq_ignore_ascii_case(symbol) {
            continue;
        }
        let p = fraction_places(cols[6].as_bytes()).unwrap_or(0);
        let q = fraction_places(cols[7].as_bytes()).unwrap_or(0);
        fixed &= *first.get_or_insert((p, q)) == (p, q);
        pp = pp.max(p);
        qp = qp.max(q);
        seen += 1;
        if seen == SAMPLE_ROWS {
            break;
        }
    }
    if seen == 0 {
        return Err(format!("{}: no rows for {symbol}", path.display()));
    }
    let price = Grid::with_decimals(pp).map_err(|e| e.to_string())?;
    let qty = Grid::with_decimals(qp).map_err(|e| e.to_string())?;
    let mut spec = InstrumentSpec::new(symbol, id, price, qty);
    spec.print_shortest = !fixed;
    Ok(spec)
}

/// One message of a book file: rows of one instrument that share a
/// `local_timestamp` and snapshot state.
#[derive(Clone, Debug, Default)]
pub struct TardisMessage {
    /// `SnapshotLevel` or `BookLevel` events, one per row.
    pub events: Vec<Event>,
    /// True for a snapshot.
    pub snapshot: bool,
    /// `local_timestamp` in µs.
    pub seq: u64,
    /// Local receive time, ns.
    pub receive_ns: i64,
    /// 1-based line of the message's first row.
    pub line: u64,
    /// The rows as written (newline-terminated), for re-parsing downstream.
    pub rows: String,
}

/// Reads a book file message by message for the instruments given; rows of
/// other instruments are counted in `report.other_instrument`, bad rows are
/// skipped and counted (`report.parse_errors`, first ones in full).
pub struct TardisBookReader {
    source: String,
    lines: Box<dyn BufRead>,
    parser: TardisCsvParser,
    line_no: u64,
    pending: Option<(TardisMessage, u32)>,
    row: String,
}

impl TardisBookReader {
    /// Opens `path` (checks the header); events are stamped with `venue`.
    pub fn open(path: &Path, venue: Venue, instruments: Instruments) -> Result<Self, InputError> {
        let source = path.display().to_string();
        let mut lines = open_lines(path)?;
        let mut header = String::new();
        lines
            .read_line(&mut header)
            .map_err(|e| InputError::new(&source, Location::Line(1), "<header>", e.to_string()))?;
        if header.trim_end() != BOOK_HEADER {
            return Err(InputError::new(
                &source,
                Location::Line(1),
                "<header>",
                format!("not a tardis incremental_book_L2 header (want `{BOOK_HEADER}`)"),
            ));
        }
        Ok(TardisBookReader {
            source,
            lines,
            parser: TardisCsvParser::new(TardisKind::IncrementalBookL2, venue, instruments),
            line_no: 1,
            pending: None,
            row: String::new(),
        })
    }

    /// The next message (and its instrument id), `Ok(None)` at the end; a read
    /// error (I/O, corrupt gzip) is returned and ends the file.
    pub fn next_message(
        &mut self,
        report: &mut ReplayReport,
    ) -> Result<Option<(TardisMessage, u32)>, InputError> {
        let mut events = Vec::with_capacity(1);
        loop {
            self.row.clear();
            let n = self.lines.read_line(&mut self.row).map_err(|e| {
                InputError::new(
                    &self.source,
                    Location::Line(self.line_no + 1),
                    "<file>",
                    e.to_string(),
                )
            })?;
            if n == 0 {
                return Ok(self.pending.take());
            }
            self.line_no += 1;
            let row = self.row.trim_end_matches(['\n', '\r']);
            if row.is_empty() {
                continue;
            }
            report.records += 1;
            events.clear();
            match self.parser.parse_row(row, &mut events) {
                Ok(false) => {
                    report.other_instrument += 1;
                    continue;
                }
                Ok(true) => {}
                Err(e) => {
                    *report.parse_errors.entry(e.kind_name()).or_default() += 1;
                    if report.first_errors.len() < 10 {
                        let err = InputError::new(
                            &self.source,
                            Location::Line(self.line_no),
                            e.field(),
                            e.to_string(),
                        );
                        report.first_errors.push(err.to_string());
                    }
                    continue;
                }
            }
            let ev = events[0];
            let snapshot = ev.kind == EventKind::SnapshotLevel as u8;
            let seq = ev.sequence;
            // A snapshot runs until the rows stop being snapshot rows; an update
            // message is the rows of one `local_timestamp`.
            let starts = self.parser.snapshot_starts;
            let continues = matches!(&self.pending, Some((m, instrument))
                if *instrument == ev.instrument && m.snapshot == snapshot
                    && if snapshot { !starts } else { m.seq == seq });
            let done = if continues { None } else { self.pending.take() };
            let (message, _) = self.pending.get_or_insert_with(|| {
                (
                    TardisMessage {
                        events: Vec::new(),
                        snapshot,
                        seq,
                        receive_ns: ev.receive_ns,
                        line: self.line_no,
                        rows: String::new(),
                    },
                    ev.instrument,
                )
            });
            message.events.push(ev);
            message.rows.push_str(row);
            message.rows.push('\n');
            if done.is_some() {
                return Ok(done);
            }
        }
    }
}

/// `gavel replay --dump-top` over tardis book files: one instrument.
#[derive(Clone, Debug)]
pub struct TardisTopReplay {
    /// Venue stamped on the events.
    pub venue: Venue,
    /// The instrument.
    pub spec: InstrumentSpec,
    /// Book files, replayed in this order (sync state carries over).
    pub files: Vec<PathBuf>,
}

impl TardisTopReplay {
    /// Runs the replay; `on_update(receive_ns, local_timestamp_us, book)` after
    /// every applied message. Fails only when a file cannot be opened.
    pub fn run(
        &self,
        mut on_update: impl FnMut(i64, u64, &L2Book),
    ) -> Result<ReplayReport, InputError> {
        let mut report = ReplayReport::default();
        let mut sync = TardisBookSync::new(self.venue, self.spec.id);
        let mut emit = |note: SyncNote, book: &L2Book| {
            if let SyncNote::Applied {
                final_id,
                receive_ns,
            } = note
            {
                on_update(receive_ns, final_id, book);
            }
        };
        for path in &self.files {
            let instruments = Instruments::new(vec![self.spec.clone()]);
            let mut reader = TardisBookReader::open(path, self.venue, instruments)?;
            loop {
                match reader.next_message(&mut report) {
                    Ok(Some((m, _))) if m.snapshot => {
                        sync.on_snapshot(m.seq, m.receive_ns, &m.events, &mut emit)
                    }
                    Ok(Some((m, _))) => sync.on_update(m.seq, m.receive_ns, &m.events, &mut emit),
                    Ok(None) => break,
                    Err(e) => {
                        report.first_errors.push(e.to_string());
                        break;
                    }
                }
            }
        }
        report.sync = sync.stats;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{gap_reason, GapMarker};
    use std::io::Write;

    /// Rows in tardis's documented `incremental_book_L2` layout (written here, not copied).
    const BOOK: &str = "\
exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount
binance-futures,BTCUSDT,1599868800206000,1599868800253274,false,bid,10396.40,1
binance-futures,BTCUSDT,1599868800206000,1599868800253300,true,ask,10396.48,0.139
binance-futures,BTCUSDT,1599868800206000,1599868800253300,true,bid,10396.47,1.2
binance-futures,BTCUSDT,1599868800206000,1599868800253300,true,bid,10396.00,3
binance-futures,BTCUSDT,1599868800310000,1599868800350000,false,bid,10396.47,0
binance-futures,BTCUSDT,1599868800310000,1599868800350000,false,ask,10396.50,2
binance-futures,ETHUSDT,1599868800310000,1599868800350000,false,ask,370.10,2
binance-futures,BTCUSDT,1599868800320000,1599868800360000,false,bid,10396.x,2
binance-futures,BTCUSDT,1599868800410000,1599868800450000,false,bid,10396.49,0.5
binance-futures,BTCUSDT,1599868800500000,1599868800550000,false,ask,10396.48,0
binance-futures,BTCUSDT,1599868800600000,1599868800650000,true,bid,10390.00,1
binance-futures,BTCUSDT,1599868800600000,1599868800650000,true,ask,10391.00,1
binance-futures,BTCUSDT,1599868800700000,1599868800640000,false,ask,10392.00,1
";

    fn write(name: &str, gzip: bool) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gavel-tardis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut file = std::fs::File::create(&path).unwrap();
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
            enc.write_all(BOOK.as_bytes()).unwrap();
            enc.finish().unwrap();
        } else {
            file.write_all(BOOK.as_bytes()).unwrap();
        }
        path
    }

    #[test]
    fn book_file_replays_with_grouping_resync_and_counted_errors() {
        for gzip in [false, true] {
            let path = write(if gzip { "book.csv.gz" } else { "book.csv" }, gzip);
            assert!(is_tardis_book_csv(&path));
            let spec = tardis_book_spec(&path, "BTCUSDT", 7).unwrap();
            assert_eq!((spec.price.decimals(), spec.qty.decimals()), (2, 3));
            assert!(spec.print_shortest, "amount places vary");
            let mut rows = Vec::new();
            let report = TardisTopReplay {
                venue: Venue::BinanceUsdm,
                spec: spec.clone(),
                files: vec![path.clone()],
            }
            .run(|receive_ns, seq, book| {
                rows.push((
                    receive_ns,
                    seq,
                    book.best_bid().map(|l| (l.price, l.qty)),
                    book.best_ask().map(|l| (l.price, l.qty)),
                ));
            })
            .unwrap();
            assert_eq!(
                rows,
                vec![
                    // The snapshot (3 rows, one message).
                    (
                        1_599_868_800_253_300_000,
                        1_599_868_800_253_300,
                        Some((1_039_647, 1200)),
                        Some((1_039_648, 139))
                    ),
                    // Two update rows of one local_timestamp: one message.
                    (
                        1_599_868_800_350_000_000,
                        1_599_868_800_350_000,
                        Some((1_039_600, 3000)),
                        Some((1_039_648, 139))
                    ),
                    // The bid at 10396.49 crosses: gap, then the 10396.48 removal is dropped until the next snapshot.
                    (
                        1_599_868_800_650_000_000,
                        1_599_868_800_650_000,
                        Some((1_039_000, 1000)),
                        Some((1_039_100, 1000))
                    ),
                ]
            );
            let s = report.sync;
            // stale: the update before the first snapshot, the removal after the gap, and
            // the last row (older than the snapshot before it: out of order → gap).
            assert_eq!(
                (s.snapshots, s.applied, s.crossed, s.gaps, s.stale),
                (2, 3, 1, 2, 2),
                "{report:#?}"
            );
            assert_eq!(report.other_instrument, 1);
            assert_eq!(report.parse_errors.get("bad decimal"), Some(&1));
            assert!(
                report.first_errors[0].contains(":9") || report.first_errors[0].contains("line 9"),
                "{:?}",
                report.first_errors
            );
            assert!(report.first_errors[0].contains("price"));
        }
    }

    #[test]
    fn out_of_order_message_is_a_gap() {
        let mut sync = TardisBookSync::new(Venue::Bybit, 1);
        let mut notes = Vec::new();
        let mut emit = |n: SyncNote, _: &L2Book| notes.push(n);
        sync.on_snapshot(10, 0, &[], &mut emit);
        sync.on_update(9, 0, &[], &mut emit);
        assert!(
            matches!(notes[1], SyncNote::Gap(ev) if ev.payload::<GapMarker>().reason == gap_reason::SEQUENCE)
        );
        assert!(!sync.is_synced());
    }

    #[test]
    fn wrong_header_is_refused_with_its_place() {
        let dir = std::env::temp_dir().join(format!("gavel-tardis-h-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("trades.csv");
        std::fs::write(
            &path,
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n",
        )
        .unwrap();
        assert!(!is_tardis_book_csv(&path));
        let err = TardisBookReader::open(&path, Venue::Bybit, Instruments::default())
            .err()
            .unwrap();
        assert_eq!(
            (err.location, err.field.as_str()),
            (Location::Line(1), "<header>")
        );
    }
}
