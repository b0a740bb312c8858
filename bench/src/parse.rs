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
    /// Instrument of the corpus.
    pub spec: InstrumentSpec,
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
        symbol: &str,
        files: &[PathBuf],
    ) -> Result<Self, String> {
        let spec = resolve_spec(symbol, 1, None, files, None)?;
        let mut bytes = Vec::new();
        let mut messages = Vec::new();
        for path in files {
            let mut reader = RecordingReader::open(path).map_err(|e| e.to_string())?;
            loop {
                match reader.next_record() {
                    Ok(Some(rec)) if rec.kind == RecordKind::Received => {
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
            bytes,
            messages,
        })
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

/// One pass of gavel's parser; returns events produced.
fn pass_gavel(c: &Corpus, parser: &mut BinanceParser, out: &mut Vec<Event>) -> u64 {
    let mut events = 0u64;
    for &(start, end, ts) in &c.messages {
        out.clear();
        let _ = parser.parse(&c.bytes[start..end], ts, None, out);
        events += out.len() as u64;
    }
    events
}

/// One pass of serde_json.
fn pass_serde(c: &Corpus, out: &mut Vec<Event>) -> u64 {
    let mut events = 0u64;
    for &(start, end, ts) in &c.messages {
        out.clear();
        if let Ok(frame) = serde_json::from_slice::<Frame>(&c.bytes[start..end]) {
            let _ = emit(frame_payload(&frame), &c.spec, c.venue, ts, out);
        }
        events += out.len() as u64;
    }
    events
}

/// One pass of sonic-rs.
fn pass_sonic(c: &Corpus, out: &mut Vec<Event>) -> u64 {
    let mut events = 0u64;
    for &(start, end, ts) in &c.messages {
        out.clear();
        if let Ok(frame) = sonic_rs::from_slice::<Frame>(&c.bytes[start..end]) {
            let _ = emit(frame_payload(&frame), &c.spec, c.venue, ts, out);
        }
        events += out.len() as u64;
    }
    events
}

/// Checks that the three contenders produce identical events for every message.
pub fn verify(c: &Corpus) -> Result<u64, String> {
    let mut parser = BinanceParser::new(c.venue, Instruments::new(vec![c.spec.clone()]));
    let (mut a, mut b, mut s) = (Vec::new(), Vec::new(), Vec::new());
    let mut total = 0;
    for (n, &(start, end, ts)) in c.messages.iter().enumerate() {
        let msg = &c.bytes[start..end];
        a.clear();
        b.clear();
        s.clear();
        let _ = parser.parse(msg, ts, None, &mut a);
        if let Ok(frame) = serde_json::from_slice::<Frame>(msg) {
            let _ = emit(frame_payload(&frame), &c.spec, c.venue, ts, &mut b);
        }
        if let Ok(frame) = sonic_rs::from_slice::<Frame>(msg) {
            let _ = emit(frame_payload(&frame), &c.spec, c.venue, ts, &mut s);
        }
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
    let mut parser = BinanceParser::new(c.venue, Instruments::new(vec![c.spec.clone()]));
    let mut out_g = Vec::with_capacity(4096);
    let mut out_s = Vec::with_capacity(4096);
    let mut out_r = Vec::with_capacity(4096);
    let results = {
        let mut gavel = || {
            let t = Instant::now();
            std::hint::black_box(pass_gavel(c, &mut parser, &mut out_g));
            t.elapsed().as_secs_f64()
        };
        let mut serde_side = || {
            let t = Instant::now();
            std::hint::black_box(pass_serde(c, &mut out_s));
            t.elapsed().as_secs_f64()
        };
        let mut sonic_side = || {
            let t = Instant::now();
            std::hint::black_box(pass_sonic(c, &mut out_r));
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

/// The corpora: every Binance capture in the real-data folder.
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
            "BTCUSDT",
            &[file("hftbacktest/usdm/btcusdt_20240808.gz")?],
        )?,
        Corpus::load(
            "binance-coinm",
            Venue::BinanceCoinm,
            "BTCUSD_PERP",
            &[file("hftbacktest/cm/btcusd_perp_20240808.gz")?],
        )?,
        Corpus::load(
            "binance-spot",
            Venue::BinanceSpot,
            "BTCUSDT",
            &[file("hftbacktest/spot/btcusdt_20240808.gz")?],
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
