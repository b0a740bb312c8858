//! Replays recordings through a venue parser and book sync, reporting every
//! applied book update (for `gavel replay --dump-top`) and checking the
//! mirrored top of book against the venue's own ticker where both refer to
//! the same update id.

use crate::decimal::Grid;
use crate::input_error::{InputError, Location};
use crate::recording::{contains, url_query_param, RecordError, RecordKind, RecordingReader};
use crate::replay_l3::{holds_full_channel, run_full};
pub use crate::replay_report::ReplayReport;
pub use crate::replay_spec::{binance_filters, resolve_spec};
use crate::sync::binance::{BinanceBookSync, DiffIds};
use crate::sync::bybit::BybitBookSync;
use crate::sync::bybit_v2::BybitV2BookSync;
use crate::sync::coinbase::CoinbaseBookSync;
use crate::sync::okx::OkxBookSync;
use crate::sync::tardis::TardisBookSync;
use crate::sync::{SyncNote, SyncStats};
use crate::venue_book::L2Book;
use crate::venues::binance::BinanceParser;
use crate::venues::bybit::{BybitParser, FLAG_V2};
use crate::venues::coinbase::CoinbaseParser;
use crate::venues::okx::OkxParser;
use crate::venues::{InstrumentSpec, Instruments, Message, VenueParser};
use crate::wire::{Event, PriceLevel, Side, Venue};
use std::collections::VecDeque;
use std::path::PathBuf;

/// The venues `replay` understands, by their command-line names.
pub fn venue_by_name(name: &str) -> Option<Venue> {
    Some(match name {
        "binance-usdm" => Venue::BinanceUsdm,
        "binance-coinm" => Venue::BinanceCoinm,
        "binance-spot" => Venue::BinanceSpot,
        "bybit" => Venue::Bybit,
        "okx" => Venue::Okx,
        "coinbase" => Venue::Coinbase,
        _ => return None,
    })
}

/// True when one of the first records of any capture names a connection or
/// request URL containing `text` (e.g. `/linear`: a Bybit v5 capture that may
/// hold linear and spot connections, where a v2 capture has `realtime_public`).
pub fn captures_mention_url(captures: &[PathBuf], text: &str) -> bool {
    const LOOK_AHEAD: usize = 64;
    captures.iter().any(|path| {
        let Ok(mut reader) = RecordingReader::open(path) else {
            return false;
        };
        for _ in 0..LOOK_AHEAD {
            match reader.next_record() {
                Ok(Some(rec)) if contains(rec.url, text.as_bytes()) => return true,
                Ok(Some(_)) | Err(RecordError::Bad(_)) => {}
                Ok(None) | Err(RecordError::Fatal(_)) => break,
            }
        }
        false
    })
}

/// A replay of one instrument of one venue.
#[derive(Clone, Debug)]
pub struct TopReplay {
    /// The venue.
    pub venue: Venue,
    /// The instrument (symbol, grids, print places).
    pub spec: InstrumentSpec,
    /// Capture files, replayed in this order (their sync state carries over).
    pub captures: Vec<PathBuf>,
    /// Files of REST snapshots in a recording format, merged in by receive time.
    pub snapshots: Vec<PathBuf>,
    /// Only records whose connection or request URL contains this text (records
    /// without a URL always pass): picks e.g. Bybit linear from a file that also
    /// holds the spot connection.
    pub url_filter: Option<String>,
}

struct Snapshot {
    source: String,
    line: u64,
    receive_ns: i64,
    payload: Vec<u8>,
    url: Vec<u8>,
}

impl TopReplay {
    /// Runs the replay; `on_update(receive_ns, venue_seq, book)` is called after
    /// every applied book update. Fails only when a file cannot be read at all.
    pub fn run(
        &self,
        mut on_update: impl FnMut(i64, u64, &L2Book),
    ) -> Result<ReplayReport, InputError> {
        if self.venue == Venue::Coinbase && holds_full_channel(&self.captures) {
            return run_full(&self.spec, &self.captures, &self.snapshots, self.url_filter.as_deref(), on_update);
        }
        let instruments = Instruments::new(vec![self.spec.clone()]);
        let (mut parser, mut sync): (Box<dyn VenueParser>, BookSync) = match self.venue {
            Venue::BinanceUsdm | Venue::BinanceCoinm | Venue::BinanceSpot => (
                Box::new(BinanceParser::new(self.venue, instruments)),
                BookSync::Binance(BinanceBookSync::new(self.venue, self.spec.id)),
            ),
            Venue::Coinbase => (
                Box::new(CoinbaseParser::new(instruments)),
                BookSync::Coinbase(CoinbaseBookSync::new(self.spec.id)),
            ),
            Venue::Okx => (
                Box::new(OkxParser::new(instruments)),
                BookSync::Okx(OkxBookSync::new(
                    self.spec.id,
                    self.spec.price,
                    self.spec.qty,
                )),
            ),
            Venue::Bybit => (
                Box::new(BybitParser::new(instruments)),
                BookSync::Bybit(BybitBookSync::new(self.spec.id)),
            ),
            other => {
                return Err(InputError::new(
                    "--venue",
                    Location::Record(0),
                    "venue",
                    format!("book replay for {other:?} is not implemented yet"),
                ))
            }
        };
        let mut report = ReplayReport::default();
        let mut snapshots = Vec::new();
        for path in &self.snapshots {
            let mut reader = RecordingReader::open(path)?;
            loop {
                match reader.next_record() {
                    Ok(Some(rec)) => {
                        if rec.kind != RecordKind::Connect && contains(rec.payload, b"lastUpdateId")
                        {
                            snapshots.push(Snapshot {
                                source: path.display().to_string(),
                                line: rec.line,
                                receive_ns: rec.receive_ns,
                                payload: rec.payload.to_vec(),
                                url: rec.url.to_vec(),
                            });
                        }
                    }
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
        let mut last_applied: Option<u64> = None;
        let mut pending_tickers: VecDeque<Ticker> = VecDeque::with_capacity(MAX_PENDING_TICKERS);

        let mut handle = |payload: &[u8],
                          receive_ns: i64,
                          hint: Option<&[u8]>,
                          where_: &dyn Fn() -> (String, Location),
                          report: &mut ReplayReport,
                          events: &mut Vec<Event>,
                          sync: &mut BookSync,
                          last_applied: &mut Option<u64>| {
            events.clear();
            let message = match parser.parse(payload, receive_ns, hint, events) {
                Ok(m) => m,
                Err(e) => {
                    *report.parse_errors.entry(e.kind_name()).or_default() += 1;
                    let (source, location) = where_();
                    let err = InputError::new(source, location, e.field(), e.to_string());
                    report.error(err.to_string());
                    return;
                }
            };
            if matches!(message, Message::BookSnapshot { .. }) {
                *last_applied = None;
            }
            let mut emit = |note: SyncNote, book: &L2Book| match note {
                SyncNote::Applied {
                    final_id,
                    receive_ns,
                } => {
                    *last_applied = Some(final_id);
                    while pending_tickers
                        .front()
                        .is_some_and(|t| t.update_id < final_id)
                    {
                        pending_tickers.pop_front();
                    }
                    while pending_tickers
                        .front()
                        .is_some_and(|t| t.update_id == final_id)
                    {
                        let ticker = pending_tickers.pop_front().expect("front checked");
                        check_ticker(&ticker, book, &describe(where_()), report);
                    }
                    on_update(receive_ns, final_id, book);
                }
                SyncNote::Gap(_) => *last_applied = None,
            };
            // Coinbase Advanced Trade numbers every frame of the connection.
            if let (BookSync::Coinbase(cb), Some(seq)) = (&mut *sync, parser.connection_sequence())
            {
                if !cb.on_frame_sequence(seq, receive_ns, &mut emit) {
                    return;
                }
            }
            match message {
                Message::BookDiff {
                    first_id,
                    final_id,
                    prev_final_id,
                    checksum,
                    ..
                } => {
                    let ids = DiffIds {
                        first_id,
                        final_id,
                        prev_final_id,
                    };
                    sync.on_diff(ids, checksum, receive_ns, events, &mut emit);
                }
                Message::BookSnapshot {
                    last_update_id,
                    checksum,
                    ..
                } => {
                    sync.on_snapshot(last_update_id, checksum, receive_ns, events, &mut emit);
                }
                Message::BookTicker { update_id, .. } => {
                    let bid: PriceLevel = events[0].payload();
                    let ask: PriceLevel = events[1].payload();
                    let ticker = Ticker {
                        update_id,
                        bid,
                        ask,
                    };
                    if *last_applied == Some(update_id) && sync.is_synced() {
                        // The ticker came after the diff it reflects.
                        check_ticker(&ticker, sync.book(), &describe(where_()), report);
                    } else if !matches!(*last_applied, Some(last) if update_id <= last) {
                        // The ticker overtook its diff: check when that diff is applied.
                        if pending_tickers.len() == MAX_PENDING_TICKERS {
                            pending_tickers.pop_front();
                        }
                        pending_tickers.push_back(ticker);
                    }
                }
                Message::OtherInstrument => report.other_instrument += 1,
                _ => {}
            }
        };

        let symbol_upper = self.spec.symbol.to_ascii_uppercase();
        for path in &self.captures {
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
                if let Some(filter) = &self.url_filter {
                    if !rec.url.is_empty() && !contains(rec.url, filter.as_bytes()) {
                        continue;
                    }
                }
                while let Some(snap) = snapshots.next_if(|s| s.receive_ns <= rec.receive_ns) {
                    let hint = url_query_param(&snap.url, b"symbol").map(<[u8]>::to_vec);
                    if hint
                        .as_deref()
                        .is_some_and(|h| !h.eq_ignore_ascii_case(symbol_upper.as_bytes()))
                    {
                        continue;
                    }
                    let where_ = || (snap.source.clone(), Location::Line(snap.line));
                    handle(
                        &snap.payload,
                        snap.receive_ns,
                        hint.as_deref(),
                        &where_,
                        &mut report,
                        &mut events,
                        &mut sync,
                        &mut last_applied,
                    );
                }
                match rec.kind {
                    RecordKind::Received => {}
                    RecordKind::RestResponse => {
                        // A REST response in the capture itself: only depth snapshots of this symbol matter.
                        if !contains(rec.payload, b"lastUpdateId") {
                            continue;
                        }
                        if let Some(h) = url_query_param(rec.url, b"symbol") {
                            if !h.eq_ignore_ascii_case(symbol_upper.as_bytes()) {
                                continue;
                            }
                        }
                    }
                    _ => continue,
                }
                let line = rec.line;
                let where_ = || (source.clone(), Location::Line(line));
                let hint = url_query_param(rec.url, b"symbol");
                handle(
                    rec.payload,
                    rec.receive_ns,
                    hint,
                    &where_,
                    &mut report,
                    &mut events,
                    &mut sync,
                    &mut last_applied,
                );
            }
            report.bad_lines += reader.bad_lines;
        }
        for snap in snapshots {
            let hint = url_query_param(&snap.url, b"symbol").map(<[u8]>::to_vec);
            let where_ = || (snap.source.clone(), Location::Line(snap.line));
            handle(
                &snap.payload,
                snap.receive_ns,
                hint.as_deref(),
                &where_,
                &mut report,
                &mut events,
                &mut sync,
                &mut last_applied,
            );
        }
        report.sync = sync.stats();
        Ok(report)
    }
}

/// Writes one dump-top CSV row: `recv_ns,venue_seq,bid_px,bid_qty,ask_px,ask_qty`
/// (an empty side leaves its two fields empty).
pub fn write_top_row(
    spec: &InstrumentSpec,
    receive_ns: i64,
    seq: u64,
    book: &L2Book,
    line: &mut String,
) {
    use std::fmt::Write;
    line.clear();
    let _ = write!(line, "{receive_ns},{seq},");
    for (i, side) in [Side::Bid, Side::Ask].into_iter().enumerate() {
        let best = if side == Side::Bid {
            book.best_bid()
        } else {
            book.best_ask()
        };
        if let Some(level) = best {
            push_decimal(
                &spec.price,
                level.price,
                spec.price_places,
                spec.print_shortest,
                line,
            );
            line.push(',');
            push_decimal(
                &spec.qty,
                level.qty,
                spec.qty_places,
                spec.print_shortest,
                line,
            );
        } else {
            line.push(',');
        }
        if i == 0 {
            line.push(',');
        }
    }
}

/// The venue-specific book sync behind a replay.
pub enum BookSync {
    /// Binance futures or spot rules.
    Binance(BinanceBookSync),
    /// Bybit v5 rules.
    Bybit(BybitBookSync),
    /// Bybit v2 `orderBookL2_*` rules (id-keyed levels); a `Bybit` sync
    /// becomes this one when the first v2 book message arrives.
    BybitV2(BybitV2BookSync),
    /// OKX v5 rules (prevSeqId chain and CRC32 checksum).
    Okx(OkxBookSync),
    /// Coinbase rules (per-connection sequence numbers).
    Coinbase(CoinbaseBookSync),
    /// tardis.dev `incremental_book_L2` rows (ordered by local time; the feed
    /// handler switches an instrument's sync to this when tardis rows arrive).
    Tardis(TardisBookSync),
}

impl BookSync {
    /// The sync for `venue`'s book of the instrument `spec`, or `None` where gavel has no sync for the venue yet.
    pub fn for_venue(venue: Venue, spec: &InstrumentSpec) -> Option<Self> {
        match venue {
            Venue::BinanceUsdm | Venue::BinanceCoinm | Venue::BinanceSpot => {
                Some(BookSync::Binance(BinanceBookSync::new(venue, spec.id)))
            }
            Venue::Bybit => Some(BookSync::Bybit(BybitBookSync::new(spec.id))),
            Venue::Okx => Some(BookSync::Okx(OkxBookSync::new(spec.id, spec.price, spec.qty))),
            Venue::Coinbase => Some(BookSync::Coinbase(CoinbaseBookSync::new(spec.id))),
            _ => None,
        }
    }

    /// Handles one diff (its `BookLevel` events).
    pub fn on_diff(
        &mut self,
        ids: DiffIds,
        checksum: Option<i32>,
        receive_ns: i64,
        events: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.switch_dialect(events);
        match self {
            BookSync::Binance(s) => s.on_diff(ids, receive_ns, events, emit),
            BookSync::Bybit(s) => s.on_delta(ids.final_id, receive_ns, events, emit),
            BookSync::BybitV2(s) => s.on_delta(ids.final_id, receive_ns, events, emit),
            BookSync::Okx(s) => s.on_update(
                ids.final_id,
                ids.prev_final_id,
                checksum,
                receive_ns,
                events,
                emit,
            ),
            BookSync::Coinbase(s) => s.on_update(ids.final_id, receive_ns, events, emit),
            BookSync::Tardis(s) => s.on_update(ids.final_id, receive_ns, events, emit),
        }
    }

    /// Loads a snapshot (its `SnapshotLevel` events).
    pub fn on_snapshot(
        &mut self,
        id: u64,
        checksum: Option<i32>,
        receive_ns: i64,
        events: &[Event],
        emit: &mut impl FnMut(SyncNote, &L2Book),
    ) {
        self.switch_dialect(events);
        match self {
            BookSync::Binance(s) => s.on_snapshot(id, events, emit),
            BookSync::Bybit(s) => s.on_snapshot(id, receive_ns, events, emit),
            BookSync::BybitV2(s) => s.on_snapshot(id, receive_ns, events, emit),
            BookSync::Okx(s) => s.on_snapshot(id, checksum, receive_ns, events, emit),
            BookSync::Coinbase(s) => s.on_snapshot(id, receive_ns, events, emit),
            BookSync::Tardis(s) => s.on_snapshot(id, receive_ns, events, emit),
        }
    }

    /// Bybit carries two dialects under one venue: a v5 sync that has loaded
    /// nothing yet turns into the v2 sync when v2 book events arrive.
    fn switch_dialect(&mut self, events: &[Event]) {
        if let BookSync::Bybit(s) = self {
            if s.stats.snapshots == 0 && events.first().is_some_and(|e| e.flags & FLAG_V2 != 0) {
                let stale = s.stats.stale;
                let mut v2 = BybitV2BookSync::new(events[0].instrument);
                v2.stats.stale = stale;
                *self = BookSync::BybitV2(v2);
            }
        }
    }

    /// True when the book is consistent with the venue.
    pub fn is_synced(&self) -> bool {
        match self {
            BookSync::Binance(s) => s.is_synced(),
            BookSync::Bybit(s) => s.is_synced(),
            BookSync::BybitV2(s) => s.is_synced(),
            BookSync::Okx(s) => s.is_synced(),
            BookSync::Coinbase(s) => s.is_synced(),
            BookSync::Tardis(s) => s.is_synced(),
        }
    }

    /// The mirrored book.
    pub fn book(&self) -> &L2Book {
        match self {
            BookSync::Binance(s) => s.book(),
            BookSync::Bybit(s) => s.book(),
            BookSync::BybitV2(s) => s.book(),
            BookSync::Okx(s) => s.book(),
            BookSync::Coinbase(s) => s.book(),
            BookSync::Tardis(s) => s.book(),
        }
    }

    /// The sync's counters.
    pub fn stats(&self) -> SyncStats {
        match self {
            BookSync::Binance(s) => s.stats,
            BookSync::Bybit(s) => s.stats,
            BookSync::BybitV2(s) => s.stats,
            BookSync::Okx(s) => s.stats,
            BookSync::Coinbase(s) => s.stats,
            BookSync::Tardis(s) => s.stats,
        }
    }
}

/// Tickers waiting for the diff they reflect (they often overtake it).
const MAX_PENDING_TICKERS: usize = 1024;

struct Ticker {
    update_id: u64,
    bid: PriceLevel,
    ask: PriceLevel,
}

fn check_ticker(ticker: &Ticker, book: &L2Book, where_: &str, report: &mut ReplayReport) {
    report.ticker_checks += 1;
    let mine = (book.best_bid(), book.best_ask());
    let (bid, ask) = (ticker.bid, ticker.ask);
    let same = matches!(mine, (Some(b), Some(a))
        if b.price == bid.price && b.qty == bid.qty && a.price == ask.price && a.qty == ask.qty);
    if same {
        report.ticker_matches += 1;
    } else if report.first_mismatches.len() < 10 {
        report.first_mismatches.push(format!(
            "{where_}: ticker u={} bid {}x{} ask {}x{}, book {mine:?}",
            ticker.update_id, bid.price, bid.qty, ask.price, ask.qty
        ));
    }
}

/// Writes a value with fixed places, or as the shortest decimal.
fn push_decimal(grid: &Grid, steps: i64, places: u8, shortest: bool, out: &mut String) {
    let start = out.len();
    grid.format(steps, places, out);
    if shortest && out[start..].contains('.') {
        while out.ends_with('0') {
            out.pop();
        }
        if out.ends_with('.') {
            out.pop();
        }
    }
}

fn describe((source, location): (String, Location)) -> String {
    format!("{source}: {location}")
}
