//! The replay feed handler: raw captured messages → venue parser → book sync →
//! engine events.
//!
//! Only a consistent book reaches the engine. After every diff the venue sync
//! applies, the handler compares the mirrored book's top `depth` levels with
//! what it last sent and emits one `BookLevel` event per level that changed
//! (quantity 0 for a level that left the window). A sequence gap emits the
//! sync's `Gap` event followed by removals of every level sent before, so the
//! engine's mirror empties exactly when the venue book does, and refills
//! after the resync. Trades, mark prices and liquidation prints pass through.
//!
//! Messages that are tardis.dev `incremental_book_L2` rows (one message per
//! `local_timestamp`, as the recording conversion writes them) are parsed by
//! the tardis row parser and go through the tardis book sync, whatever the
//! venue's own dialect: tardis has already applied the venue's sequence rules.
//!
//! Bad messages are skipped and counted ([`FeedStats::parse_errors`]), with the
//! first few kept in full (file, record, field): never a panic, never silent.

use std::path::Path;

use crate::capture::CaptureFile;
use crate::input_error::{InputError, Location};
use crate::replay::BookSync;
use crate::sync::tardis::TardisBookSync;
use crate::sync::SyncNote;
use crate::tardis_replay::is_tardis_rows;
use crate::venue_book::L2Book;
use crate::venues::binance::BinanceParser;
use crate::venues::bybit::BybitParser;
use crate::venues::coinbase::CoinbaseParser;
use crate::venues::okx::OkxParser;
use crate::venues::tardis::{TardisCsvParser, TardisKind};
use crate::venues::{Instruments, Message, VenueParser};
use crate::wire::{gap_reason, Event, EventKind, GapMarker, PriceLevel, Side, Venue};

/// How many bad messages are kept in full in [`FeedStats::first_errors`].
const KEPT_ERRORS: usize = 8;

/// Counters of one feed handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Messages handed to the handler.
    pub messages: u64,
    /// Messages the parser refused (skipped and counted).
    pub parse_errors: u64,
    /// The first refused messages, described with file, record and field.
    pub first_errors: Vec<String>,
    /// Diffs the sync applied.
    pub book_updates: u64,
    /// Gaps the sync detected (each resynced).
    pub gaps: u64,
    /// Events handed on to the engine.
    pub events_out: u64,
    /// Messages for instruments outside the configured set.
    pub other_instrument: u64,
    /// `gavel/reconnect` markers seen: each drops the venue's books and
    /// restarts their sync, which waits for the new session's snapshot.
    pub reconnects: u64,
}

/// Book levels last sent to the engine for one instrument, best first.
#[derive(Clone, Debug, Default)]
struct SentLevels {
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
}

/// The feed handler of one venue.
pub struct VenueFeed {
    venue: Venue,
    instruments: Instruments,
    parser: Box<dyn VenueParser + Send>,
    syncs: Vec<(u32, BookSync, SentLevels)>,
    depth: usize,
    scratch: Vec<Event>,
    current: Vec<(i64, i64)>,
    tardis: TardisCsvParser,
    /// Counters.
    pub stats: FeedStats,
}

impl VenueFeed {
    /// A handler for `venue`'s messages about `instruments`, sending the top
    /// `depth` levels of each book. Fails for venues without a parser and sync.
    pub fn new(venue: Venue, instruments: Instruments, depth: usize) -> Result<Self, String> {
        let mut syncs = Vec::with_capacity(instruments.specs().len());
        for spec in instruments.specs() {
            let sync = BookSync::for_venue(venue, spec).ok_or_else(|| format!("no book sync for venue {venue:?}"))?;
            syncs.push((spec.id, sync, SentLevels::default()));
        }
        let tardis = TardisCsvParser::new(TardisKind::IncrementalBookL2, venue, instruments.clone());
        let parser: Box<dyn VenueParser + Send> = match venue {
            Venue::BinanceUsdm | Venue::BinanceCoinm | Venue::BinanceSpot => {
                Box::new(BinanceParser::new(venue, instruments.clone()))
            }
            Venue::Bybit => Box::new(BybitParser::new(instruments.clone())),
            Venue::Okx => Box::new(OkxParser::new(instruments.clone())),
            Venue::Coinbase => Box::new(CoinbaseParser::new(instruments.clone())),
            other => return Err(format!("no replay feed handler for venue {other:?} yet")),
        };
        Ok(VenueFeed {
            venue,
            instruments,
            parser,
            syncs,
            depth: depth.max(1),
            scratch: Vec::with_capacity(4096),
            current: Vec::with_capacity(depth.max(1)),
            tardis,
            stats: FeedStats::default(),
        })
    }

    /// The venue this handler parses.
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Handles one raw message received at `receive_ns`; `symbol_hint` names the
    /// instrument of messages that do not (REST snapshots). `where_` describes the
    /// message's place for error reports. Events go to `out` in order.
    ///
    /// The last event of a message carries [`crate::wire::MESSAGE_END`], so the
    /// engine knows the venue book is complete for this update.
    pub fn on_message(
        &mut self,
        payload: &[u8],
        receive_ns: i64,
        symbol_hint: Option<&[u8]>,
        where_: impl Fn() -> (String, Location),
        out: &mut impl FnMut(Event),
    ) {
        let mut pending: Option<Event> = None;
        self.on_message_events(payload, receive_ns, symbol_hint, where_, &mut |e| {
            if let Some(previous) = pending.replace(e) {
                out(previous);
            }
        });
        if let Some(mut last) = pending {
            last.flags |= crate::wire::MESSAGE_END;
            out(last);
        }
    }

    fn on_message_events(
        &mut self,
        payload: &[u8],
        receive_ns: i64,
        symbol_hint: Option<&[u8]>,
        where_: impl Fn() -> (String, Location),
        out: &mut impl FnMut(Event),
    ) {
        self.stats.messages += 1;
        self.scratch.clear();
        if is_tardis_rows(payload) {
            self.on_tardis_rows(payload, where_, out);
            return;
        }
        let message = match self.parser.parse(payload, receive_ns, symbol_hint, &mut self.scratch) {
            Ok(message) => message,
            Err(err) => {
                self.stats.parse_errors += 1;
                if self.stats.first_errors.len() < KEPT_ERRORS {
                    let (source, location) = where_();
                    self.stats.first_errors.push(InputError::new(source, location, err.field(), err.to_string()).to_string());
                }
                return;
            }
        };
        match message {
            Message::BookDiff { instrument, first_id, final_id, prev_final_id, checksum } => {
                let ids = crate::sync::binance::DiffIds { first_id, final_id, prev_final_id };
                self.with_sync(instrument, out, |sync, events, mut emit| {
                    sync.on_diff(ids, checksum, receive_ns, events, &mut emit)
                });
            }
            Message::BookSnapshot { instrument, last_update_id, checksum } => {
                self.with_sync(instrument, out, |sync, events, mut emit| {
                    sync.on_snapshot(last_update_id, checksum, receive_ns, events, &mut emit)
                });
            }
            Message::Trades { .. } | Message::Mark { .. } | Message::Liquidations { .. } | Message::Ticker { .. } => {
                for event in &self.scratch {
                    out(*event);
                    self.stats.events_out += 1;
                }
            }
            Message::OtherInstrument => self.stats.other_instrument += 1,
            Message::BookTicker { .. } | Message::Control => {}
        }
    }

    /// One message of tardis book rows (one instrument, one `local_timestamp`,
    /// snapshot or not). A bad row skips the whole message (counted).
    fn on_tardis_rows(&mut self, payload: &[u8], where_: impl Fn() -> (String, Location), out: &mut impl FnMut(Event)) {
        let rows = match std::str::from_utf8(payload) {
            Ok(rows) => rows,
            Err(_) => {
                self.tardis_error("<row>", "not UTF-8", &where_);
                return;
            }
        };
        for row in rows.lines().filter(|r| !r.is_empty()) {
            match self.tardis.parse_row(row, &mut self.scratch) {
                Ok(true) => {}
                Ok(false) => {
                    self.stats.other_instrument += 1;
                    return;
                }
                Err(err) => {
                    self.tardis_error(err.field(), &err.to_string(), &where_);
                    return;
                }
            }
        }
        let Some(first) = self.scratch.first().copied() else {
            return;
        };
        if self.scratch.iter().any(|e| e.instrument != first.instrument || e.kind != first.kind) {
            self.tardis_error("<row>", "rows of one message mix instruments or snapshot state", &where_);
            return;
        }
        let (venue, instrument, seq) = (self.venue, first.instrument, first.sequence);
        let snapshot = first.kind == EventKind::SnapshotLevel as u8;
        let receive_ns = first.receive_ns;
        self.with_sync(instrument, out, |sync, events, mut emit| {
            if !matches!(sync, BookSync::Tardis(_)) {
                *sync = BookSync::Tardis(TardisBookSync::new(venue, instrument));
            }
            if snapshot {
                sync.on_snapshot(seq, None, receive_ns, events, &mut emit);
            } else {
                let ids = crate::sync::binance::DiffIds { first_id: seq, final_id: seq, prev_final_id: None };
                sync.on_diff(ids, None, receive_ns, events, &mut emit);
            }
        });
    }

    fn tardis_error(&mut self, field: &str, message: &str, where_: &impl Fn() -> (String, Location)) {
        self.stats.parse_errors += 1;
        if self.stats.first_errors.len() < KEPT_ERRORS {
            let (source, location) = where_();
            self.stats.first_errors.push(InputError::new(source, location, field, message).to_string());
        }
    }

    /// Runs one sync step for `instrument` and turns its notes into events.
    fn with_sync(
        &mut self,
        instrument: u32,
        out: &mut impl FnMut(Event),
        step: impl FnOnce(&mut BookSync, &[Event], &mut dyn FnMut(SyncNote, &L2Book)),
    ) {
        let Some(slot) = self.syncs.iter_mut().position(|s| s.0 == instrument) else {
            self.stats.other_instrument += 1;
            return;
        };
        let venue = self.venue;
        let depth = self.depth;
        let (_, sync, sent) = &mut self.syncs[slot];
        let stats = &mut self.stats;
        let current = &mut self.current;
        let mut emit = |note: SyncNote, book: &L2Book| match note {
            SyncNote::Applied { final_id, receive_ns } => {
                stats.book_updates += 1;
                for side in [Side::Bid, Side::Ask] {
                    current.clear();
                    current.extend(book.levels(side).take(depth).map(|l| (l.price, l.qty)));
                    let previous = if side == Side::Bid { &mut sent.bids } else { &mut sent.asks };
                    emit_level_changes(venue, instrument, side, final_id, receive_ns, previous, current, &mut |e| {
                        stats.events_out += 1;
                        out(e)
                    });
                    previous.clear();
                    previous.extend_from_slice(current);
                }
            }
            SyncNote::Gap(gap) => {
                stats.gaps += 1;
                stats.events_out += 1;
                out(gap);
                current.clear();
                for side in [Side::Bid, Side::Ask] {
                    let previous = if side == Side::Bid { &mut sent.bids } else { &mut sent.asks };
                    emit_level_changes(venue, instrument, side, gap.sequence, gap.receive_ns, previous, current, &mut |e| {
                        stats.events_out += 1;
                        out(e)
                    });
                    previous.clear();
                }
            }
        };
        step(sync, &self.scratch, &mut emit);
    }

    /// The connection was re-established (a `gavel/reconnect` marker): what
    /// the venue sent in between is lost, so every book of this venue is
    /// dropped at once: a `Gap` event (reason `RECONNECT`) and removals of
    /// every level sent, then a fresh sync that waits for the new session's
    /// snapshot (diffs until then are buffered, as at the start).
    pub fn on_reconnect(&mut self, receive_ns: i64, out: &mut impl FnMut(Event)) {
        self.stats.reconnects += 1;
        let venue = self.venue;
        let specs = self.instruments.specs().to_vec();
        for (id, sync, sent) in self.syncs.iter_mut() {
            let gap = Event::new(
                EventKind::Gap,
                venue,
                *id,
                GapMarker { expected: 0, reason: gap_reason::RECONNECT, reserved: 0 },
            )
            .with_times(0, 0, receive_ns);
            out(gap);
            self.stats.events_out += 1;
            for side in [Side::Bid, Side::Ask] {
                let previous = if side == Side::Bid { &mut sent.bids } else { &mut sent.asks };
                emit_level_changes(venue, *id, side, 0, receive_ns, previous, &[], &mut |e| {
                    self.stats.events_out += 1;
                    out(e)
                });
                previous.clear();
            }
            if let Some(fresh) = specs.iter().find(|s| s.id == *id).and_then(|spec| BookSync::for_venue(venue, spec)) {
                *sync = fresh;
            }
        }
    }

    /// Sync counters of every instrument's book.
    pub fn sync_stats(&self) -> Vec<(u32, crate::sync::SyncStats)> {
        self.syncs.iter().map(|(id, sync, _)| (*id, sync.stats())).collect()
    }
}

/// Emits `BookLevel` events turning `previous` into `current` (both best first,
/// distinct prices): first a removal (qty 0) for each price of `previous` absent
/// from `current`, in `previous` order, then each level of `current` that is new
/// or changed, in `current` order. Two linear merge walks, O(levels).
#[allow(clippy::too_many_arguments)]
fn emit_level_changes(
    venue: Venue,
    instrument: u32,
    side: Side,
    sequence: u64,
    receive_ns: i64,
    previous: &[(i64, i64)],
    current: &[(i64, i64)],
    out: &mut impl FnMut(Event),
) {
    let level = |price: i64, qty: i64| {
        Event::new(EventKind::BookLevel, venue, instrument, PriceLevel { price, qty, index: 0 })
            .with_side(side)
            .with_times(sequence, 0, receive_ns)
    };
    // Best first: bids by falling price, asks by rising price.
    let before = |a: i64, b: i64| if side == Side::Bid { a > b } else { a < b };
    let mut j = 0;
    for &(price, _) in previous {
        while j < current.len() && before(current[j].0, price) {
            j += 1;
        }
        if j == current.len() || current[j].0 != price {
            out(level(price, 0));
        }
    }
    let mut i = 0;
    for &(price, qty) in current {
        while i < previous.len() && before(previous[i].0, price) {
            i += 1;
        }
        if i == previous.len() || previous[i] != (price, qty) {
            out(level(price, qty));
        }
    }
}

/// The symbol a capture channel names, for REST snapshots: `rest/depth/BTCUSDT` → `BTCUSDT`.
pub fn channel_symbol(channel: &[u8]) -> Option<&[u8]> {
    channel.strip_prefix(b"rest/depth/").filter(|s| !s.is_empty())
}

/// The feed handlers' counters, by venue.
pub type VenueStats = Vec<(Venue, FeedStats)>;

/// Reads a gavel capture and sends every record through the feed handler of
/// its venue (created on first use with `instruments_for(venue)`), calling
/// `out(event, record_start_ticks)` with the resulting events in capture
/// order; `record_start_ticks` is `clock`'s reading before the record was
/// parsed, for latency measurement. Returns the handlers' counters by venue.
/// A damaged record stops the read after everything before it was handled
/// (the error is returned with the counters so far). A torn tail (a capture
/// killed mid-write) is not an error: a warning goes to stderr.
pub fn replay_capture(
    path: &Path,
    instruments_for: impl Fn(Venue) -> Instruments,
    depth: usize,
    clock: &crate::clock::Clock,
    out: &mut impl FnMut(Event, u64),
) -> Result<VenueStats, (InputError, VenueStats)> {
    let file = CaptureFile::open(path).map_err(|e| (e, Vec::new()))?;
    if let Some(warning) = file.torn_tail_warning() {
        // A torn tail is a warning, not an error: print it where the user sees it.
        eprintln!("{warning}");
    }
    let source = path.display().to_string();
    let mut feeds: Vec<VenueFeed> = Vec::new();
    let report = |feeds: &[VenueFeed]| feeds.iter().map(|f| (f.venue(), f.stats.clone())).collect::<Vec<_>>();
    for record in file.records() {
        let record = match record {
            Ok(record) => record,
            Err(err) => return Err((err, report(&feeds))),
        };
        let index = match feeds.iter().position(|f| f.venue() == record.venue) {
            Some(i) => i,
            None => match VenueFeed::new(record.venue, instruments_for(record.venue), depth) {
                Ok(feed) => {
                    feeds.push(feed);
                    feeds.len() - 1
                }
                Err(message) => {
                    let err = InputError::new(&source, Location::Offset(record.offset), "venue", message);
                    return Err((err, report(&feeds)));
                }
            },
        };
        if record.channel == crate::net::RECONNECT_CHANNEL.as_bytes() {
            let started = clock.now_ticks();
            feeds[index].on_reconnect(record.receive_ns, &mut |e| out(e, started));
            continue;
        }
        let offset = record.offset;
        let hint = channel_symbol(record.channel);
        let started = clock.now_ticks();
        feeds[index].on_message(record.message, record.receive_ns, hint, || (source.clone(), Location::Offset(offset)), &mut |e| {
            out(e, started)
        });
    }
    Ok(report(&feeds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_sim::generate::market::{write_crash_captures, CrashSpec, Dialect};
    use crate::decimal::Grid;
    use crate::venues::InstrumentSpec;
    use std::collections::BTreeMap;

    fn btc() -> Instruments {
        Instruments::new(vec![InstrumentSpec::new(
            "BTCUSDT",
            1,
            Grid::from_step("0.1").unwrap(),
            Grid::from_step("0.001").unwrap(),
        )])
    }

    /// Rebuilds a book from the emitted events, as the engine's mirror does.
    fn rebuild(events: &[Event], venue: Venue) -> (BTreeMap<i64, i64>, BTreeMap<i64, i64>) {
        let (mut bids, mut asks) = (BTreeMap::new(), BTreeMap::new());
        for e in events.iter().filter(|e| e.venue == venue as u8 && e.kind == EventKind::BookLevel as u8) {
            let l: PriceLevel = e.payload();
            let side = if e.side == Side::Bid as u8 { &mut bids } else { &mut asks };
            if l.qty == 0 {
                side.remove(&l.price);
            } else {
                side.insert(l.price, l.qty);
            }
        }
        (bids, asks)
    }

    #[test]
    fn only_the_last_event_of_each_message_ends_it() {
        let dir = std::env::temp_dir().join(format!("gavel-capture-feed-end-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = CrashSpec { duration_s: 10, ..CrashSpec::default() };
        let files = write_crash_captures(&spec, &dir, &[Dialect::BinanceUsdm]).unwrap();
        let file = crate::capture::CaptureFile::open(&files[0]).unwrap();
        let mut feed = VenueFeed::new(Venue::BinanceUsdm, btc(), 100).unwrap();
        let mut multi_event_messages = 0;
        for record in file.records() {
            let r = record.unwrap();
            let hint = channel_symbol(r.channel);
            let mut events = Vec::new();
            feed.on_message(r.message, r.receive_ns, hint, || (String::new(), Location::Offset(0)), &mut |e| events.push(e));
            let ends: Vec<bool> = events.iter().map(|e| e.flags & crate::wire::MESSAGE_END != 0).collect();
            if let Some((last, rest)) = ends.split_last() {
                assert!(*last, "the last event of a message carries MESSAGE_END");
                assert!(rest.iter().all(|f| !f), "only the last one does");
                multi_event_messages += usize::from(!rest.is_empty());
            }
        }
        assert!(multi_event_messages > 50, "{multi_event_messages} messages with several events");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn generated_crash_captures_replay_into_consistent_books() {
        let dir = std::env::temp_dir().join(format!("gavel-capture-feed-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = CrashSpec { duration_s: 20, ..CrashSpec::default() };
        let files = write_crash_captures(&spec, &dir, &[Dialect::BinanceUsdm, Dialect::BybitV5]).unwrap();
        for (file, venue) in files.iter().zip([Venue::BinanceUsdm, Venue::Bybit]) {
            let mut events = Vec::new();
            let clock = crate::clock::Clock::monotonic();
            let stats =
                replay_capture(file, |_| btc(), 100, &clock, &mut |e, _| events.push(e)).map_err(|e| e.0).unwrap();
            assert_eq!(stats.len(), 1);
            let (v, s) = &stats[0];
            assert_eq!(*v, venue);
            assert_eq!(s.parse_errors, 0, "{:?}", s.first_errors);
            assert_eq!(s.gaps, 0);
            assert!(s.book_updates >= 190, "{venue:?}: {} updates", s.book_updates);
            assert!(events.windows(2).all(|w| w[0].receive_ns <= w[1].receive_ns));
            let (bids, asks) = rebuild(&events, venue);
            assert_eq!(bids.len(), 50);
            assert_eq!(asks.len(), 50);
            assert!(bids.keys().next_back().unwrap() < asks.keys().next().unwrap(), "crossed");
            let trades = events.iter().filter(|e| e.kind == EventKind::Trade as u8).count();
            let marks = events.iter().filter(|e| e.kind == EventKind::MarkPrice as u8).count();
            assert!(trades > 100 && marks >= 19, "{trades} trades, {marks} marks");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn level_changes_remove_add_and_update() {
        let mut out = Vec::new();
        emit_level_changes(Venue::Synthetic, 1, Side::Bid, 7, 9, &[(10, 1), (9, 2)], &[(10, 3), (8, 4)], &mut |e| {
            out.push(e)
        });
        let got: Vec<(i64, i64)> = out.iter().map(|e| { let l: PriceLevel = e.payload(); (l.price, l.qty) }).collect();
        assert_eq!(got, vec![(9, 0), (10, 3), (8, 4)]);
        assert!(out.iter().all(|e| e.sequence == 7 && e.receive_ns == 9 && e.side == Side::Bid as u8));
    }

    proptest::proptest! {
        /// The merge walk emits exactly what the direct definition (quadratic search) does,
        /// in the same order, on both sides.
        #[test]
        fn level_changes_match_the_definition(
            previous in proptest::collection::btree_map(1i64..60, 1i64..4, 0..30),
            current in proptest::collection::btree_map(1i64..60, 1i64..4, 0..30),
            bid in proptest::bool::ANY,
        ) {
            let side = if bid { Side::Bid } else { Side::Ask };
            let best_first = |m: &std::collections::BTreeMap<i64, i64>| -> Vec<(i64, i64)> {
                let v: Vec<(i64, i64)> = m.iter().map(|(p, q)| (*p, *q)).collect();
                if bid { v.into_iter().rev().collect() } else { v }
            };
            let (previous, current) = (best_first(&previous), best_first(&current));
            let mut expected = Vec::new();
            for &(price, _) in &previous {
                if !current.iter().any(|c| c.0 == price) {
                    expected.push((price, 0));
                }
            }
            for &(price, qty) in &current {
                if !previous.iter().any(|p| p.0 == price && p.1 == qty) {
                    expected.push((price, qty));
                }
            }
            let mut got = Vec::new();
            emit_level_changes(Venue::Synthetic, 1, side, 7, 9, &previous, &current, &mut |e| {
                let l: PriceLevel = e.payload();
                got.push((l.price, l.qty));
            });
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn bad_messages_are_counted_with_their_place() {
        let mut feed = VenueFeed::new(Venue::BinanceUsdm, btc(), 10).unwrap();
        let mut out = Vec::new();
        feed.on_message(b"{not json", 1, None, || ("cap".into(), Location::Offset(99)), &mut |e| out.push(e));
        assert_eq!(feed.stats.parse_errors, 1);
        assert!(feed.stats.first_errors[0].starts_with("cap: offset 99"), "{:?}", feed.stats.first_errors);
        assert!(out.is_empty());
        assert!(VenueFeed::new(Venue::Lobster, btc(), 10).is_err());
        assert_eq!(channel_symbol(b"rest/depth/ETHUSDT"), Some(&b"ETHUSDT"[..]));
        assert_eq!(channel_symbol(b"rest/depth"), None);
    }
}

/// The venues a gavel capture holds records of, in order of first appearance.
pub fn capture_venues(path: &Path) -> Result<Vec<Venue>, InputError> {
    let file = CaptureFile::open(path)?;
    let mut venues = Vec::new();
    for record in file.records() {
        let record = record?;
        if !venues.contains(&record.venue) {
            venues.push(record.venue);
        }
    }
    Ok(venues)
}
