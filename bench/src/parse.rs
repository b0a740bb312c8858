//! `gavel bench parse`: venue message parsing throughput on real captures.
//!
//! Each corpus is loaded into memory first (the JSON payloads of a recording,
//! back to back). Three contenders turn every message into the same
//! `gavel_feeds::Event`s with the same exact decimal conversion:
//! gavel's hand-written scanner, a straightforward `serde_json` parse into
//! borrowed structs, and the same structs through `sonic-rs`. Before timing,
//! the three outputs are compared event for event. Rounds are interleaved
//! (gavel, serde_json, sonic-rs, gavel, …) and each side's median is reported.

use crate::stats::{interleave, median_f64};
use gavel_feeds::decimal::Grid;
use gavel_feeds::recording::{RecordError, RecordKind, RecordingReader};
use gavel_feeds::replay::resolve_spec;
use gavel_feeds::venues::binance::BinanceParser;
use gavel_feeds::venues::bybit::BybitParser;
use gavel_feeds::venues::coinbase::{rfc3339_to_ns, CoinbaseParser};
use gavel_feeds::venues::okx::OkxParser;
use gavel_feeds::venues::{InstrumentSpec, Instruments, VenueParser};
use gavel_feeds::wire::{EventKind, MarkPrice, PriceLevel, SnapshotInfo, TradePrint};
use gavel_feeds::{Event, Side, Venue};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

/// One venue's corpus: messages back to back plus their boundaries.
pub struct Corpus {
    /// Venue name as on the command line (`binance-usdm`).
    pub name: &'static str,
    /// Venue stamped on events.
    pub venue: Venue,
    /// Instrument of the corpus (the first of `specs`).
    pub spec: InstrumentSpec,
    /// Every instrument the parsers know (one for Binance; all symbols of a Bybit connection).
    pub specs: Vec<InstrumentSpec>,
    /// All payload bytes.
    pub bytes: Vec<u8>,
    /// `(start, end, receive_ns)` of each message in `bytes`.
    pub messages: Vec<(usize, usize, i64)>,
}

impl Corpus {
    /// Loads every received message of the given captures.
    pub fn load(
        name: &'static str,
        venue: Venue,
        symbols: &[&str],
        files: &[PathBuf],
        url_filter: Option<&str>,
    ) -> Result<Self, String> {
        let mut specs = Vec::new();
        for (i, symbol) in symbols.iter().enumerate() {
            specs.push(resolve_spec(symbol, i as u32 + 1, None, files, url_filter)?);
        }
        let spec = specs[0].clone();
        let mut bytes = Vec::new();
        let mut messages = Vec::new();
        for path in files {
            let mut reader = RecordingReader::open(path).map_err(|e| e.to_string())?;
            loop {
                match reader.next_record() {
                    Ok(Some(rec))
                        if rec.kind == RecordKind::Received
                            && url_filter.is_none_or_contained(rec.url) =>
                    {
                        let start = bytes.len();
                        bytes.extend_from_slice(rec.payload);
                        messages.push((start, bytes.len(), rec.receive_ns));
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(RecordError::Bad(_)) => {}
                    Err(RecordError::Fatal(e)) => return Err(e.to_string()),
                }
            }
        }
        Ok(Corpus {
            name,
            venue,
            spec,
            specs,
            bytes,
            messages,
        })
    }
}

trait UrlFilter {
    fn is_none_or_contained(&self, url: &[u8]) -> bool;
}

impl UrlFilter for Option<&str> {
    fn is_none_or_contained(&self, url: &[u8]) -> bool {
        match self {
            None => true,
            Some(f) => url.is_empty() || url.windows(f.len()).any(|w| w == f.as_bytes()),
        }
    }
}

/// Figures for one venue (medians over the rounds).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ParseFigures {
    /// gavel parser, MB/s (10^6 bytes of message text per second).
    pub gavel_mb_s: f64,
    /// serde_json into borrowed structs, MB/s.
    pub serde_json_mb_s: f64,
    /// sonic-rs into the same structs, MB/s.
    pub sonic_rs_mb_s: f64,
    /// gavel parser, messages per second.
    pub gavel_msgs_s: f64,
    /// serde_json, messages per second.
    pub serde_json_msgs_s: f64,
    /// sonic-rs, messages per second.
    pub sonic_rs_msgs_s: f64,
    /// Messages in the corpus.
    pub messages: u64,
    /// Bytes in the corpus.
    pub bytes: u64,
    /// Events produced per pass (identical for all three).
    pub events: u64,
}

/// A `b`/`a` field: a level array (depth) or a single price (bookTicker) or an id (aggTrade).
enum BookSide<'a> {
    Levels(Vec<(&'a str, &'a str)>),
    Text(&'a str),
    Number(u64),
}

impl<'de: 'a, 'a> Deserialize<'de> for BookSide<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BookSide<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a level array, a decimal string or an id")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(BookSide::Text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(BookSide::Number(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut levels = Vec::with_capacity(seq.size_hint().unwrap_or(8));
                while let Some(level) = seq.next_element::<(&'de str, &'de str)>()? {
                    levels.push(level);
                }
                Ok(BookSide::Levels(levels))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The union of the Binance message fields, as a straightforward serde parse sees them.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct Payload<'a> {
    #[serde(borrow)]
    e: Option<&'a str>,
    E: Option<u64>,
    T: Option<u64>,
    #[serde(borrow)]
    s: Option<&'a str>,
    U: Option<u64>,
    u: Option<u64>,
    pu: Option<u64>,
    #[serde(rename = "lastUpdateId")]
    last_update_id: Option<u64>,
    #[serde(borrow)]
    b: Option<BookSide<'a>>,
    #[serde(borrow)]
    a: Option<BookSide<'a>>,
    #[serde(borrow)]
    bids: Option<Vec<(&'a str, &'a str)>>,
    #[serde(borrow)]
    asks: Option<Vec<(&'a str, &'a str)>>,
    #[serde(borrow)]
    B: Option<&'a str>,
    #[serde(borrow)]
    A: Option<&'a str>,
    #[serde(borrow)]
    p: Option<&'a str>,
    #[serde(borrow)]
    q: Option<&'a str>,
    #[serde(borrow)]
    i: Option<&'a str>,
    #[serde(borrow)]
    r: Option<&'a str>,
    t: Option<u64>,
    m: Option<bool>,
    /// The combined-stream wrapper's payload (`{"stream":…,"data":{…}}`).
    #[serde(borrow)]
    data: Option<Box<Payload<'a>>>,
}

/// A message, bare or inside the combined-stream wrapper.
type Frame<'a> = Payload<'a>;

/// Turns a serde-parsed message into the same events as gavel's parser.
fn emit(
    p: &Payload<'_>,
    spec: &InstrumentSpec,
    venue: Venue,
    receive_ns: i64,
    out: &mut Vec<Event>,
) -> Option<()> {
    let exchange_ns = p.E.or(p.T).map_or(0, |ms| ms as i64 * 1_000_000);
    let price = |t: &str| spec.price.parse(t.as_bytes()).ok();
    let qty = |t: &str| spec.qty.parse(t.as_bytes()).ok();
    let start = out.len();
    let level = |kind, side, (pt, qt): &(&str, &str), index| {
        Some(
            Event::new(
                kind,
                venue,
                spec.id,
                PriceLevel {
                    price: price(pt)?,
                    qty: qty(qt)?,
                    index,
                },
            )
            .with_side(side)
            .with_times(0, exchange_ns, receive_ns),
        )
    };
    if let Some(id) = p.last_update_id {
        let (bids, asks) = (p.bids.as_ref()?, p.asks.as_ref()?);
        let info = SnapshotInfo {
            bid_levels: bids.len() as u64,
            ask_levels: asks.len() as u64,
            reserved: 0,
        };
        out.push(Event::new(EventKind::SnapshotBegin, venue, spec.id, info));
        for (i, l) in bids.iter().enumerate() {
            out.push(level(EventKind::SnapshotLevel, Side::Bid, l, i as u64)?);
        }
        for (i, l) in asks.iter().enumerate() {
            out.push(level(EventKind::SnapshotLevel, Side::Ask, l, i as u64)?);
        }
        out.push(Event::new(EventKind::SnapshotEnd, venue, spec.id, info));
        for ev in &mut out[start..] {
            *ev = ev.with_times(id, exchange_ns, receive_ns);
        }
        return Some(());
    }
    if !spec.symbol.eq_ignore_ascii_case(p.s?) {
        return Some(());
    }
    match p.e {
        Some("depthUpdate") => {
            let u = p.u?;
            // The sync needs these too; gavel's parser returns them.
            if p.U? > u {
                return None;
            }
            std::hint::black_box(p.pu);
            for (side, levels) in [(Side::Bid, p.b.as_ref()?), (Side::Ask, p.a.as_ref()?)] {
                let BookSide::Levels(levels) = levels else {
                    return None;
                };
                for (i, l) in levels.iter().enumerate() {
                    out.push(level(EventKind::BookLevel, side, l, i as u64)?.with_times(
                        u,
                        exchange_ns,
                        receive_ns,
                    ));
                }
            }
        }
        None | Some("bookTicker") => {
            let u = p.u?;
            let (Some(BookSide::Text(b)), Some(BookSide::Text(a))) = (&p.b, &p.a) else {
                return None;
            };
            for (side, px, q) in [(Side::Bid, b, p.B?), (Side::Ask, a, p.A?)] {
                let lv = PriceLevel {
                    price: price(px)?,
                    qty: qty(q)?,
                    index: 0,
                };
                out.push(
                    Event::new(EventKind::BookTop, venue, spec.id, lv)
                        .with_side(side)
                        .with_times(u, exchange_ns, receive_ns),
                );
            }
        }
        Some(kind @ ("trade" | "aggTrade")) => {
            let trade_id = if kind == "trade" {
                p.t?
            } else {
                match p.a {
                    Some(BookSide::Number(id)) => id,
                    _ => return None,
                }
            };
            let tp = TradePrint {
                price: price(p.p?)?,
                qty: qty(p.q?)?,
                trade_id,
            };
            let side = if p.m? { Side::Ask } else { Side::Bid };
            out.push(
                Event::new(EventKind::Trade, venue, spec.id, tp)
                    .with_side(side)
                    .with_times(trade_id, exchange_ns, receive_ns),
            );
        }
        Some("markPriceUpdate") => {
            let (mark, mark_exact) = spec.price.parse_rounded(p.p?.as_bytes()).ok()?;
            let (index, index_exact) = spec.price.parse_rounded(p.i?.as_bytes()).ok()?;
            let funding = Grid::with_decimals(9).ok()?.signed();
            let funding_rate_e9 = funding.parse(p.r?.as_bytes()).ok()?;
            let mut ev = Event::new(
                EventKind::MarkPrice,
                venue,
                spec.id,
                MarkPrice {
                    mark,
                    index,
                    funding_rate_e9,
                },
            )
            .with_times(0, exchange_ns, receive_ns);
            if !(mark_exact && index_exact) {
                ev.flags |= gavel_feeds::venues::binance::FLAG_ROUNDED;
            }
            out.push(ev);
        }
        _ => {}
    }
    Some(())
}

fn frame_payload<'f, 'a>(frame: &'f Frame<'a>) -> &'f Payload<'a> {
    frame.data.as_deref().unwrap_or(frame)
}

/// A gavel parser for the corpus's venue.
fn gavel_parser(c: &Corpus) -> Box<dyn VenueParser> {
    let instruments = Instruments::new(c.specs.clone());
    match c.venue {
        Venue::Bybit => Box::new(BybitParser::new(instruments)),
        Venue::Okx => Box::new(OkxParser::new(instruments)),
        Venue::Coinbase => Box::new(CoinbaseParser::new(instruments)),
        venue => Box::new(BinanceParser::new(venue, instruments)),
    }
}

/// The straightforward serde path for one message, with either deserializer.
#[derive(Clone, Copy)]
enum Backend {
    SerdeJson,
    SonicRs,
}

fn serde_one(c: &Corpus, backend: Backend, msg: &[u8], ts: i64, out: &mut Vec<Event>) {
    match c.venue {
        Venue::Coinbase => decode_and_emit(backend, msg, out, |f: CbFrame, out| emit_coinbase(&f, &c.specs, ts, out)),
        Venue::Okx => decode_and_emit(backend, msg, out, |f: OkxFrame, out| emit_okx(&f, &c.specs, ts, out)),
        Venue::Bybit => decode_and_emit(backend, msg, out, |f: BybitFrame, out| emit_bybit(&f, &c.specs, ts, out)),
        _ => decode_and_emit(backend, msg, out, |f: Frame, out| emit(frame_payload(&f), &c.spec, c.venue, ts, out)),
    }
}

/// Decodes `msg` into `T` with the chosen peer and emits its events; a message
/// that fails either step leaves `out` as it was (as gavel's parsers do).
fn decode_and_emit<'a, T: Deserialize<'a>>(
    backend: Backend,
    msg: &'a [u8],
    out: &mut Vec<Event>,
    emit_frame: impl FnOnce(T, &mut Vec<Event>) -> Option<()>,
) {
    let frame = match backend {
        Backend::SerdeJson => serde_json::from_slice::<T>(msg).ok(),
        Backend::SonicRs => sonic_rs::from_slice::<T>(msg).ok(),
    };
    if let Some(frame) = frame {
        let start = out.len();
        if emit_frame(frame, out).is_none() {
            out.truncate(start);
        }
    }
}

/// A Bybit v5 frame as a straightforward serde parse sees it.
#[derive(Deserialize)]
struct BybitFrame<'a> {
    #[serde(borrow)]
    topic: Option<&'a str>,
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    ts: Option<u64>,
    #[serde(borrow)]
    data: Option<BybitData<'a>>,
}

/// `data`: an object (order book, ticker) or an array (trades, liquidations).
enum BybitData<'a> {
    Object(BybitObject<'a>),
    Array(Vec<BybitRecord<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for BybitData<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BybitData<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or an array")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                BybitObject::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(BybitData::Object)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(BybitData::Array)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct BybitObject<'a> {
    #[serde(borrow)]
    s: Option<&'a str>,
    #[serde(borrow)]
    b: Option<Vec<(&'a str, &'a str)>>,
    #[serde(borrow)]
    a: Option<Vec<(&'a str, &'a str)>>,
    u: Option<u64>,
    #[serde(borrow)]
    symbol: Option<&'a str>,
    #[serde(borrow)]
    markPrice: Option<&'a str>,
    #[serde(borrow)]
    indexPrice: Option<&'a str>,
    #[serde(borrow)]
    fundingRate: Option<&'a str>,
    #[serde(borrow)]
    bid1Price: Option<&'a str>,
    #[serde(borrow)]
    bid1Size: Option<&'a str>,
    #[serde(borrow)]
    ask1Price: Option<&'a str>,
    #[serde(borrow)]
    ask1Size: Option<&'a str>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct BybitRecord<'a> {
    T: Option<u64>,
    #[serde(borrow)]
    s: &'a str,
    #[serde(borrow)]
    S: &'a str,
    #[serde(borrow)]
    v: &'a str,
    #[serde(borrow)]
    p: &'a str,
    seq: Option<u64>,
}

/// Turns a serde-parsed Bybit frame into the same events as gavel's parser.
fn emit_bybit(
    f: &BybitFrame<'_>,
    specs: &[InstrumentSpec],
    receive_ns: i64,
    out: &mut Vec<Event>,
) -> Option<()> {
    let find = |sym: &str| specs.iter().find(|s| s.symbol.eq_ignore_ascii_case(sym));
    let topic = f.topic?;
    let exchange_ns = f.ts.map_or(0, |ms| ms as i64 * 1_000_000);
    let venue = Venue::Bybit;
    match (topic.split('.').next()?, f.data.as_ref()?) {
        ("orderbook", BybitData::Object(o)) => {
            let snapshot = match f.kind? {
                "snapshot" => true,
                "delta" => false,
                _ => return None,
            };
            let Some(spec) = find(o.s?) else {
                return Some(());
            };
            let (bids, asks, u) = (o.b.as_ref()?, o.a.as_ref()?, o.u?);
            let kind = if snapshot {
                EventKind::SnapshotLevel
            } else {
                EventKind::BookLevel
            };
            let start = out.len();
            let info = SnapshotInfo {
                bid_levels: bids.len() as u64,
                ask_levels: asks.len() as u64,
                reserved: 0,
            };
            if snapshot {
                out.push(Event::new(EventKind::SnapshotBegin, venue, spec.id, info));
            }
            for (side, levels) in [(Side::Bid, bids), (Side::Ask, asks)] {
                for (i, (p, q)) in levels.iter().enumerate() {
                    let level = PriceLevel {
                        price: spec.price.parse(p.as_bytes()).ok()?,
                        qty: spec.qty.parse(q.as_bytes()).ok()?,
                        index: i as u64,
                    };
                    out.push(Event::new(kind, venue, spec.id, level).with_side(side));
                }
            }
            if snapshot {
                out.push(Event::new(EventKind::SnapshotEnd, venue, spec.id, info));
            }
            for ev in &mut out[start..] {
                *ev = ev.with_times(u, exchange_ns, receive_ns);
            }
        }
        ("publicTrade", BybitData::Array(records)) => {
            for r in records {
                let Some(spec) = find(r.s) else { continue };
                let side = match r.S {
                    "Buy" => Side::Bid,
                    "Sell" => Side::Ask,
                    _ => return None,
                };
                let tp = TradePrint {
                    price: spec.price.parse(r.p.as_bytes()).ok()?,
                    qty: spec.qty.parse(r.v.as_bytes()).ok()?,
                    trade_id: r.seq.unwrap_or(0),
                };
                let exch = r.T.map_or(exchange_ns, |ms| ms as i64 * 1_000_000);
                out.push(
                    Event::new(EventKind::Trade, venue, spec.id, tp)
                        .with_side(side)
                        .with_times(r.seq.unwrap_or(0), exch, receive_ns),
                );
            }
        }
        ("tickers", BybitData::Object(o)) => {
            let Some(spec) = find(o.symbol?) else {
                return Some(());
            };
            let start = out.len();
            if let Some(mark) = o.markPrice.filter(|m| !m.is_empty()) {
                let (mark, mark_exact) = spec.price.parse_rounded(mark.as_bytes()).ok()?;
                let (index, index_exact) = match o.indexPrice.filter(|i| !i.is_empty()) {
                    Some(t) => spec.price.parse_rounded(t.as_bytes()).ok()?,
                    None => (0, true),
                };
                let funding = Grid::with_decimals(9).ok()?.signed();
                let funding_rate_e9 = match o.fundingRate.filter(|f| !f.is_empty()) {
                    Some(t) => funding.parse(t.as_bytes()).ok()?,
                    None => 0,
                };
                let mut ev = Event::new(
                    EventKind::MarkPrice,
                    venue,
                    spec.id,
                    MarkPrice {
                        mark,
                        index,
                        funding_rate_e9,
                    },
                );
                if !(mark_exact && index_exact) {
                    ev.flags |= gavel_feeds::venues::binance::FLAG_ROUNDED;
                }
                out.push(ev);
            }
            for (side, px, q) in [
                (Side::Bid, o.bid1Price, o.bid1Size),
                (Side::Ask, o.ask1Price, o.ask1Size),
            ] {
                if let (Some(px), Some(q)) = (px, q) {
                    let level = PriceLevel {
                        price: spec.price.parse(px.as_bytes()).ok()?,
                        qty: spec.qty.parse(q.as_bytes()).ok()?,
                        index: 0,
                    };
                    out.push(Event::new(EventKind::BookTop, venue, spec.id, level).with_side(side));
                }
            }
            for ev in &mut out[start..] {
                ev.exchange_ns = exchange_ns;
                ev.receive_ns = receive_ns;
            }
        }
        _ => return None,
    }
    Some(())
}

/// An OKX v5 frame as a straightforward serde parse sees it.
#[derive(Deserialize)]
struct OkxFrame<'a> {
    #[serde(borrow)]
    arg: Option<OkxArg<'a>>,
    #[serde(borrow)]
    action: Option<&'a str>,
    #[serde(borrow)]
    data: Option<Vec<OkxRecord<'a>>>,
    #[serde(borrow)]
    event: Option<&'a str>,
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct OkxArg<'a> {
    #[serde(borrow)]
    channel: &'a str,
    #[serde(borrow)]
    instId: Option<&'a str>,
}

type OkxLevel<'a> = (&'a str, &'a str, &'a str, &'a str);

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct OkxRecord<'a> {
    #[serde(borrow)]
    asks: Option<Vec<OkxLevel<'a>>>,
    #[serde(borrow)]
    bids: Option<Vec<OkxLevel<'a>>>,
    #[serde(borrow)]
    ts: Option<&'a str>,
    checksum: Option<i64>,
    seqId: Option<u64>,
    #[serde(borrow)]
    instId: Option<&'a str>,
    #[serde(borrow)]
    tradeId: Option<&'a str>,
    #[serde(borrow)]
    px: Option<&'a str>,
    #[serde(borrow)]
    sz: Option<&'a str>,
    #[serde(borrow)]
    side: Option<&'a str>,
    #[serde(borrow)]
    bidPx: Option<&'a str>,
    #[serde(borrow)]
    bidSz: Option<&'a str>,
    #[serde(borrow)]
    askPx: Option<&'a str>,
    #[serde(borrow)]
    askSz: Option<&'a str>,
}

/// Turns a serde-parsed OKX frame into the same events as gavel's parser
/// (books: `asks` before `bids`, the order OKX sends them in).
fn emit_okx(
    f: &OkxFrame<'_>,
    specs: &[InstrumentSpec],
    receive_ns: i64,
    out: &mut Vec<Event>,
) -> Option<()> {
    if f.event.is_some() {
        return Some(());
    }
    let find = |sym: &str| specs.iter().find(|s| s.symbol.eq_ignore_ascii_case(sym));
    let arg = f.arg.as_ref()?;
    let data = f.data.as_ref()?;
    let venue = Venue::Okx;
    let ms = |t: Option<&str>| -> Option<i64> {
        t.map_or(Some(0), |t| t.parse::<i64>().ok().map(|v| v * 1_000_000))
    };
    if arg.channel.starts_with("books") {
        let Some(spec) = find(arg.instId?) else {
            return Some(());
        };
        let snapshot = match f.action {
            Some("snapshot") | None => true,
            Some("update") => false,
            _ => return None,
        };
        let rec = data.first()?;
        let _ = rec.checksum;
        let (asks, bids) = (rec.asks.as_ref()?, rec.bids.as_ref()?);
        let exchange_ns = ms(rec.ts)?;
        let seq = rec.seqId.unwrap_or((exchange_ns / 1_000_000) as u64);
        let kind = if snapshot {
            EventKind::SnapshotLevel
        } else {
            EventKind::BookLevel
        };
        let info = SnapshotInfo {
            bid_levels: bids.len() as u64,
            ask_levels: asks.len() as u64,
            reserved: 0,
        };
        let start = out.len();
        if snapshot {
            out.push(Event::new(EventKind::SnapshotBegin, venue, spec.id, info));
        }
        for (side, levels) in [(Side::Ask, asks), (Side::Bid, bids)] {
            for (i, (p, q, _, _)) in levels.iter().enumerate() {
                let level = PriceLevel {
                    price: spec.price.parse(p.as_bytes()).ok()?,
                    qty: spec.qty.parse(q.as_bytes()).ok()?,
                    index: i as u64,
                };
                out.push(Event::new(kind, venue, spec.id, level).with_side(side));
            }
        }
        if snapshot {
            out.push(Event::new(EventKind::SnapshotEnd, venue, spec.id, info));
        }
        for ev in &mut out[start..] {
            *ev = ev.with_times(seq, exchange_ns, receive_ns);
        }
        return Some(());
    }
    for rec in data {
        let Some(spec) = find(rec.instId.or(arg.instId)?) else {
            continue;
        };
        let exchange_ns = ms(rec.ts)?;
        match arg.channel {
            "trades" => {
                let trade_id = match rec.tradeId {
                    Some(t) => t.parse().ok()?,
                    None => 0,
                };
                let side = match rec.side? {
                    "buy" => Side::Bid,
                    "sell" => Side::Ask,
                    _ => return None,
                };
                let tp = TradePrint {
                    price: spec.price.parse(rec.px?.as_bytes()).ok()?,
                    qty: spec.qty.parse(rec.sz?.as_bytes()).ok()?,
                    trade_id,
                };
                out.push(
                    Event::new(EventKind::Trade, venue, spec.id, tp)
                        .with_side(side)
                        .with_times(trade_id, exchange_ns, receive_ns),
                );
            }
            "tickers" => {
                for (side, px, sz) in [
                    (Side::Bid, rec.bidPx, rec.bidSz),
                    (Side::Ask, rec.askPx, rec.askSz),
                ] {
                    if let (Some(px), Some(sz)) = (px, sz) {
                        if px.is_empty() || sz.is_empty() {
                            continue;
                        }
                        let level = PriceLevel {
                            price: spec.price.parse(px.as_bytes()).ok()?,
                            qty: spec.qty.parse(sz.as_bytes()).ok()?,
                            index: 0,
                        };
                        out.push(
                            Event::new(EventKind::BookTop, venue, spec.id, level)
                                .with_side(side)
                                .with_times(0, exchange_ns, receive_ns),
                        );
                    }
                }
            }
            _ => return None,
        }
    }
    Some(())
}

/// A Coinbase Advanced Trade frame as a straightforward serde parse sees it.
#[derive(Deserialize)]
struct CbFrame<'a> {
    #[serde(borrow)]
    channel: &'a str,
    #[serde(borrow)]
    timestamp: Option<&'a str>,
    sequence_num: u64,
    #[serde(borrow)]
    events: Vec<CbEvent<'a>>,
}

#[derive(Deserialize)]
struct CbEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    product_id: Option<&'a str>,
    #[serde(borrow)]
    updates: Option<Vec<CbUpdate<'a>>>,
    #[serde(borrow)]
    trades: Option<Vec<CbRecord<'a>>>,
    #[serde(borrow)]
    tickers: Option<Vec<CbRecord<'a>>>,
}

#[derive(Deserialize)]
struct CbUpdate<'a> {
    #[serde(borrow)]
    side: &'a str,
    #[serde(borrow)]
    price_level: &'a str,
    #[serde(borrow)]
    new_quantity: &'a str,
}

#[derive(Deserialize)]
struct CbRecord<'a> {
    #[serde(borrow)]
    product_id: &'a str,
    #[serde(borrow)]
    trade_id: Option<&'a str>,
    #[serde(borrow)]
    price: Option<&'a str>,
    #[serde(borrow)]
    size: Option<&'a str>,
    #[serde(borrow)]
    side: Option<&'a str>,
    #[serde(borrow)]
    time: Option<&'a str>,
    #[serde(borrow)]
    best_bid: Option<&'a str>,
    #[serde(borrow)]
    best_bid_quantity: Option<&'a str>,
    #[serde(borrow)]
    best_ask: Option<&'a str>,
    #[serde(borrow)]
    best_ask_quantity: Option<&'a str>,
}

/// Turns a serde-parsed Coinbase frame into the same events as gavel's parser.
fn emit_coinbase(
    f: &CbFrame<'_>,
    specs: &[InstrumentSpec],
    receive_ns: i64,
    out: &mut Vec<Event>,
) -> Option<()> {
    let find = |sym: &str| specs.iter().find(|s| s.symbol.eq_ignore_ascii_case(sym));
    let venue = Venue::Coinbase;
    let exchange_ns = match f.timestamp {
        Some(t) => rfc3339_to_ns(t.as_bytes())?,
        None => 0,
    };
    match f.channel {
        "l2_data" | "level2" => {
            for e in &f.events {
                let snapshot = match e.kind? {
                    "snapshot" => true,
                    "update" => false,
                    _ => return None,
                };
                let Some(spec) = find(e.product_id?) else {
                    continue;
                };
                let updates = e.updates.as_ref()?;
                let kind = if snapshot {
                    EventKind::SnapshotLevel
                } else {
                    EventKind::BookLevel
                };
                let start = out.len();
                if snapshot {
                    out.push(Event::ZERO);
                }
                let (mut bids, mut asks) = (0u64, 0u64);
                for u in updates {
                    let side = match u.side {
                        "bid" => Side::Bid,
                        "offer" | "ask" => Side::Ask,
                        _ => return None,
                    };
                    let index = if side == Side::Bid { bids } else { asks };
                    let level = PriceLevel {
                        price: spec.price.parse(u.price_level.as_bytes()).ok()?,
                        qty: spec.qty.parse(u.new_quantity.as_bytes()).ok()?,
                        index,
                    };
                    if side == Side::Bid {
                        bids += 1
                    } else {
                        asks += 1
                    }
                    out.push(Event::new(kind, venue, spec.id, level).with_side(side));
                }
                if snapshot {
                    let info = SnapshotInfo {
                        bid_levels: bids,
                        ask_levels: asks,
                        reserved: 0,
                    };
                    out[start] = Event::new(EventKind::SnapshotBegin, venue, spec.id, info);
                    out.push(Event::new(EventKind::SnapshotEnd, venue, spec.id, info));
                }
                for ev in &mut out[start..] {
                    *ev = ev.with_times(f.sequence_num, exchange_ns, receive_ns);
                }
            }
        }
        "market_trades" | "ticker" | "ticker_batch" => {
            let trades = f.channel == "market_trades";
            for e in &f.events {
                let list = if trades {
                    e.trades.as_ref()
                } else {
                    e.tickers.as_ref()
                };
                for r in list.into_iter().flatten() {
                    let Some(spec) = find(r.product_id) else {
                        continue;
                    };
                    if trades {
                        let side = match r.side? {
                            "BUY" => Side::Bid,
                            "SELL" => Side::Ask,
                            _ => return None,
                        };
                        let trade_id = match r.trade_id {
                            Some(t) => t.parse().ok()?,
                            None => 0,
                        };
                        let tp = TradePrint {
                            price: spec.price.parse(r.price?.as_bytes()).ok()?,
                            qty: spec.qty.parse(r.size?.as_bytes()).ok()?,
                            trade_id,
                        };
                        let exch = match r.time {
                            Some(t) => rfc3339_to_ns(t.as_bytes())?,
                            None => exchange_ns,
                        };
                        out.push(
                            Event::new(EventKind::Trade, venue, spec.id, tp)
                                .with_side(side)
                                .with_times(trade_id, exch, receive_ns),
                        );
                    } else {
                        for (side, px, q) in [
                            (Side::Bid, r.best_bid, r.best_bid_quantity),
                            (Side::Ask, r.best_ask, r.best_ask_quantity),
                        ] {
                            if let (Some(px), Some(q)) = (px, q) {
                                let level = PriceLevel {
                                    price: spec.price.parse(px.as_bytes()).ok()?,
                                    qty: spec.qty.parse(q.as_bytes()).ok()?,
                                    index: 0,
                                };
                                out.push(
                                    Event::new(EventKind::BookTop, venue, spec.id, level)
                                        .with_side(side)
                                        .with_times(0, exchange_ns, receive_ns),
                                );
                            }
                        }
                    }
                }
            }
        }
        "heartbeats" | "subscriptions" | "candles" | "status" => {}
        _ => return None,
    }
    Some(())
}

/// One pass of gavel's parser (statically dispatched); returns events produced.
fn pass_gavel<P: VenueParser + ?Sized>(c: &Corpus, parser: &mut P, out: &mut Vec<Event>) -> u64 {
    let mut events = 0u64;
    for &(start, end, ts) in &c.messages {
        out.clear();
        let _ = parser.parse(&c.bytes[start..end], ts, None, out);
        events += out.len() as u64;
    }
    events
}

/// One pass of a serde backend.
fn pass_serde(c: &Corpus, backend: Backend, out: &mut Vec<Event>) -> u64 {
    let mut events = 0u64;
    for &(start, end, ts) in &c.messages {
        out.clear();
        serde_one(c, backend, &c.bytes[start..end], ts, out);
        events += out.len() as u64;
    }
    events
}

/// Checks that the three contenders produce identical events for every message.
pub fn verify(c: &Corpus) -> Result<u64, String> {
    let mut parser = gavel_parser(c);
    let (mut a, mut b, mut s) = (Vec::new(), Vec::new(), Vec::new());
    let mut total = 0;
    for (n, &(start, end, ts)) in c.messages.iter().enumerate() {
        let msg = &c.bytes[start..end];
        a.clear();
        b.clear();
        s.clear();
        let _ = parser.parse(msg, ts, None, &mut a);
        serde_one(c, Backend::SerdeJson, msg, ts, &mut b);
        serde_one(c, Backend::SonicRs, msg, ts, &mut s);
        if a != b || a != s {
            return Err(format!(
                "{}: message {n}: gavel {} events, serde_json {}, sonic-rs {}",
                c.name,
                a.len(),
                b.len(),
                s.len()
            ));
        }
        total += a.len() as u64;
    }
    Ok(total)
}

/// Runs `rounds` interleaved rounds on one corpus.
pub fn bench_corpus(c: &Corpus, rounds: usize) -> Result<ParseFigures, String> {
    let events = verify(c)?;
    let instruments = Instruments::new(c.specs.clone());
    let mut binance = BinanceParser::new(c.venue, instruments.clone());
    let mut bybit = BybitParser::new(instruments.clone());
    let mut okx = OkxParser::new(instruments.clone());
    let mut coinbase = CoinbaseParser::new(instruments);
    let mut out_g = Vec::with_capacity(4096);
    let mut out_s = Vec::with_capacity(4096);
    let mut out_r = Vec::with_capacity(4096);
    let results = {
        let mut gavel = || {
            let t = Instant::now();
            let n = match c.venue {
                Venue::Bybit => pass_gavel(c, &mut bybit, &mut out_g),
                Venue::Okx => pass_gavel(c, &mut okx, &mut out_g),
                Venue::Coinbase => pass_gavel(c, &mut coinbase, &mut out_g),
                _ => pass_gavel(c, &mut binance, &mut out_g),
            };
            std::hint::black_box(n);
            t.elapsed().as_secs_f64()
        };
        let mut serde_side = || {
            let t = Instant::now();
            std::hint::black_box(pass_serde(c, Backend::SerdeJson, &mut out_s));
            t.elapsed().as_secs_f64()
        };
        let mut sonic_side = || {
            let t = Instant::now();
            std::hint::black_box(pass_serde(c, Backend::SonicRs, &mut out_r));
            t.elapsed().as_secs_f64()
        };
        interleave(rounds, &mut [&mut gavel, &mut serde_side, &mut sonic_side])
    };
    let bytes = c.bytes.len() as f64;
    let msgs = c.messages.len() as f64;
    let secs: Vec<f64> = results.iter().map(|r| median_f64(r)).collect();
    Ok(ParseFigures {
        gavel_mb_s: bytes / secs[0] / 1e6,
        serde_json_mb_s: bytes / secs[1] / 1e6,
        sonic_rs_mb_s: bytes / secs[2] / 1e6,
        gavel_msgs_s: msgs / secs[0],
        serde_json_msgs_s: msgs / secs[1],
        sonic_rs_msgs_s: msgs / secs[2],
        messages: c.messages.len() as u64,
        bytes: c.bytes.len() as u64,
        events,
    })
}

/// The corpora: every Binance capture in the real-data folder, and the Bybit
/// v5 linear connection of `cryptofeed/v3/BYBIT.jsonl.gz` (4 symbols).
pub fn default_corpora() -> Result<Vec<Corpus>, String> {
    let file = |rel: &str| {
        let path = gavel_feeds::data_dir::data_dir().join(rel);
        if path.exists() {
            Ok(path)
        } else {
            Err(format!("{} missing: set GAVEL_DATA", path.display()))
        }
    };
    Ok(vec![
        Corpus::load(
            "binance-usdm",
            Venue::BinanceUsdm,
            &["BTCUSDT"],
            &[file("hftbacktest/usdm/btcusdt_20240808.gz")?],
            None,
        )?,
        Corpus::load(
            "binance-coinm",
            Venue::BinanceCoinm,
            &["BTCUSD_PERP"],
            &[file("hftbacktest/cm/btcusd_perp_20240808.gz")?],
            None,
        )?,
        Corpus::load(
            "binance-spot",
            Venue::BinanceSpot,
            &["BTCUSDT"],
            &[file("hftbacktest/spot/btcusdt_20240808.gz")?],
            None,
        )?,
        Corpus::load(
            "bybit",
            Venue::Bybit,
            &["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"],
            &[file("cryptofeed/v3/BYBIT.jsonl.gz")?],
            Some("/linear"),
        )?,
        Corpus::load(
            "okx",
            Venue::Okx,
            &["BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"],
            &[file("cryptofeed/OKX.ws.1.0")?],
            None,
        )?,
        Corpus::load(
            "coinbase",
            Venue::Coinbase,
            &["BTC-USD", "ETH-USD"],
            &[file("cryptofeed/v3/COINBASE.jsonl.gz")?],
            None,
        )?,
    ])
}

/// Runs the whole benchmark.
pub fn run(rounds: usize) -> Result<BTreeMap<&'static str, ParseFigures>, String> {
    let mut figures = BTreeMap::new();
    for corpus in default_corpora()? {
        figures.insert(corpus.name, bench_corpus(&corpus, rounds)?);
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(venue: Venue, specs: Vec<InstrumentSpec>, messages: &[&str]) -> Corpus {
        let mut bytes = Vec::new();
        let mut spans = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            let start = bytes.len();
            bytes.extend_from_slice(m.as_bytes());
            spans.push((start, bytes.len(), i as i64));
        }
        Corpus {
            name: "test",
            venue,
            spec: specs[0].clone(),
            specs,
            bytes,
            messages: spans,
        }
    }

    #[test]
    fn serde_baselines_emit_exactly_gavels_events() {
        let spec = InstrumentSpec::new(
            "BTCUSDT",
            1,
            Grid::with_decimals(2).unwrap(),
            Grid::with_decimals(3).unwrap(),
        );
        let binance = corpus(
            Venue::BinanceUsdm,
            vec![spec.clone()],
            &[
                r#"{"stream":"x","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"pu":0,"b":[["1.00","1.000"]],"a":[["2.00","0.000"]]}}"#,
                r#"{"lastUpdateId":5,"E":1,"T":1,"bids":[["1.00","1.000"]],"asks":[["2.00","3.000"]]}"#,
                r#"{"e":"bookTicker","u":3,"s":"BTCUSDT","b":"1.00","B":"1.000","a":"2.00","A":"3.000","T":1,"E":2}"#,
                r#"{"e":"aggTrade","E":1,"a":77,"s":"BTCUSDT","p":"1.00","q":"1.000","f":1,"l":2,"T":1,"m":false}"#,
                r#"{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":9,"p":"1.50","q":"0.001","m":true}"#,
                r#"{"e":"markPriceUpdate","E":1,"s":"BTCUSDT","p":"28147.27373413","P":"1","i":"28159.75","r":"0.0001","T":1}"#,
                r#"{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.001","1"]],"a":[]}"#,
                r#"{"e":"trade","E":1,"T":1,"s":"ETHUSDT","t":9,"p":"1.50","q":"0.001","m":true}"#,
            ],
        );
        assert_eq!(verify(&binance), Ok(2 + 4 + 2 + 1 + 1 + 1));
        let bybit = corpus(
            Venue::Bybit,
            vec![spec],
            &[
                r#"{"topic":"orderbook.200.BTCUSDT","type":"snapshot","ts":1,"data":{"s":"BTCUSDT","b":[["1.00","1.000"]],"a":[["2.00","1"]],"u":1,"seq":5},"cts":1}"#,
                r#"{"topic":"orderbook.200.BTCUSDT","ts":1,"type":"delta","data":{"s":"BTCUSDT","b":[],"a":[["2.00","0"]],"u":2,"seq":6},"cts":1}"#,
                r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":2,"s":"BTCUSDT","S":"Buy","v":"0.004","p":"1.20","seq":3}]}"#,
                r#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"1.005","bid1Price":"1.00","bid1Size":"2"},"cs":1,"ts":1}"#,
                r#"{"success":true,"op":"subscribe"}"#,
                r#"{"topic":"kline.1.BTCUSDT","data":[{"start":1}],"ts":1,"type":"snapshot"}"#,
            ],
        );
        assert_eq!(verify(&bybit), Ok(4 + 1 + 1 + 2));
    }
}
