//! Bybit v5 public market data (linear, inverse and spot share the shapes).
//!
//! Topics: `orderbook.{depth}.{symbol}` (`type` snapshot/delta; `data.u` update
//! id, `data.seq` cross sequence), `publicTrade.{symbol}` (array of trades),
//! `tickers.{symbol}` (snapshot/delta of changed fields only: mark/index price,
//! funding rate, best bid/ask) and `allLiquidation.{symbol}` (array of
//! liquidations; `S` is the side of the liquidated *position*, so the
//! liquidation order is on the opposite side). Replies such as
//! `{"success":true,"op":"subscribe",…}` are [`Message::Control`].
//!
//! The older v2 API (USDT perpetuals `realtime_public`, still found in
//! archives) is detected by its topic: `orderBookL2_25.{symbol}` (also
//! `orderBookL2_200.`) sends `snapshot` (`data.order_book`, or `data` itself an
//! array) and `delta` (`data.delete`/`update`/`insert`) of id-keyed levels
//! `{price, symbol, id, side, size}` with a top-level `cross_seq` and
//! `timestamp_e6`; `trade.{symbol}` sends arrays of trades. A v2 level id is
//! the price × 10^4 (checked on every level), so the book stays price-keyed;
//! the level events carry [`FLAG_V2`] and the action bits below, which the v2
//! sync ([`crate::sync::bybit_v2`]) uses to detect levels it does not know.
//! v2 sizes are JSON floats (`10.969999`): they are rounded to the lot grid
//! and the event flagged [`FLAG_ROUNDED`] when inexact.

use super::{decimal, ms_to_ns, push_levels, Instruments, Message, ParseError, VenueParser};
use crate::decimal::Grid;
use crate::json_scan::Scanner;
use crate::venues::binance::FLAG_ROUNDED;
use crate::wire::{
    Event, EventKind, LiquidationPrint, MarkPrice, PriceLevel, Side, SnapshotInfo, TradePrint,
    Venue,
};

/// Flag bit: the event comes from a Bybit v2 `orderBookL2_*` message.
pub const FLAG_V2: u8 = 1 << 1;
/// Flag bit (v2 delta level): an `insert` (the level must be new).
pub const FLAG_V2_INSERT: u8 = 1 << 2;
/// Flag bit (v2 delta level): an `update` (the level must exist).
pub const FLAG_V2_UPDATE: u8 = 1 << 3;
/// Flag bit (v2 delta level): a `delete` (the level must exist; qty 0).
pub const FLAG_V2_DELETE: u8 = 1 << 4;

/// Bybit v2 level ids are the price in units of 10^-4.
const V2_ID_DECIMALS: u8 = 4;

/// Fields found at the top level of a v2 message.
#[derive(Clone, Copy, Default)]
struct V2Meta {
    cross_seq: Option<u64>,
    timestamp_e6: Option<u64>,
}

/// Parser for Bybit v5 public topics (and the v2 `orderBookL2_*`/`trade` topics).
#[derive(Clone, Debug)]
pub struct BybitParser {
    instruments: Instruments,
    funding: Grid,
    v2_id: Grid,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topic {
    OrderBook,
    Trade,
    Ticker,
    Liquidation,
    OrderBookV2,
    TradeV2,
}

impl BybitParser {
    /// A parser for the given instruments.
    pub fn new(instruments: Instruments) -> Self {
        BybitParser {
            instruments,
            funding: Grid::with_decimals(9).expect("9 decimals").signed(),
            v2_id: Grid::with_decimals(V2_ID_DECIMALS).expect("4 decimals"),
        }
    }

    fn parse_message(
        &self,
        message: &[u8],
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let mut s = Scanner::new(message);
        s.begin_object()?;
        let mut first = true;
        let (mut topic, mut kind, mut ts, mut data, mut op) = (None, None, None, None, false);
        let mut done = None;
        let mut v2 = V2Meta::default();
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"topic" => topic = Some(s.string()?),
                b"type" => kind = Some(s.string()?),
                b"ts" => ts = Some(s.u64()?),
                // Fast path: topic, time (and type) already seen: parse `data` in place.
                b"data" if topic.is_some() && ts.is_some() && kind.is_some() && done.is_none() => {
                    let start = out.len();
                    match self.dispatch(topic, kind, ts, v2, &mut s, receive_ns, out) {
                        Ok(message) => done = Some(message),
                        Err(e) => {
                            out.truncate(start);
                            return Err(e);
                        }
                    }
                }
                b"data" => data = Some(s.value_span()?),
                b"cross_seq" => v2.cross_seq = Some(text_u64(s.number_text()?, "cross_seq")?),
                b"timestamp_e6" => {
                    v2.timestamp_e6 = Some(text_u64(s.number_text()?, "timestamp_e6")?)
                }
                b"op" | b"success" => {
                    op = true;
                    s.skip_value()?;
                }
                _ => s.skip_value()?,
            }
        }
        s.end()?;
        if let Some(message) = done {
            return Ok(message);
        }
        if topic.is_none() {
            return if op {
                Ok(Message::Control)
            } else {
                Err(ParseError::MissingField("topic"))
            };
        }
        let data = data.ok_or(ParseError::MissingField("data"))?;
        let mut d = Scanner::new(data);
        let message = self.dispatch(topic, kind, ts, v2, &mut d, receive_ns, out)?;
        d.end()?;
        Ok(message)
    }

    /// Parses `data` at the scanner according to the topic.
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        topic: Option<&[u8]>,
        kind: Option<&[u8]>,
        ts: Option<u64>,
        v2: V2Meta,
        s: &mut Scanner<'_>,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let topic = topic.ok_or(ParseError::MissingField("topic"))?;
        let dot = topic.iter().position(|&b| b == b'.').unwrap_or(topic.len());
        let name = &topic[..dot];
        let which = match name {
            b"orderBookL2_25" | b"orderBookL2_200" => Topic::OrderBookV2,
            b"trade" => Topic::TradeV2,
            b"orderbook" => Topic::OrderBook,
            b"publicTrade" => Topic::Trade,
            b"tickers" => Topic::Ticker,
            b"allLiquidation" | b"liquidation" => Topic::Liquidation,
            other => return Err(ParseError::unknown(other)),
        };
        let exchange_ns = match ts {
            Some(ms) => ms_to_ns(ms, "ts")?,
            None => 0,
        };
        match which {
            Topic::OrderBook => {
                let snapshot = match kind.ok_or(ParseError::MissingField("type"))? {
                    b"snapshot" => true,
                    b"delta" => false,
                    _ => {
                        return Err(ParseError::BadField {
                            field: "type",
                            reason: "not snapshot or delta",
                        })
                    }
                };
                self.order_book(s, snapshot, exchange_ns, receive_ns, out)
            }
            Topic::Trade => self.trades(s, exchange_ns, receive_ns, out, false),
            Topic::Liquidation => self.trades(s, exchange_ns, receive_ns, out, true),
            Topic::Ticker => self.ticker(s, exchange_ns, receive_ns, out),
            Topic::OrderBookV2 => {
                let symbol = topic.get(dot + 1..).unwrap_or_default();
                let snapshot = match kind.ok_or(ParseError::MissingField("type"))? {
                    b"snapshot" => true,
                    b"delta" => false,
                    _ => {
                        return Err(ParseError::BadField {
                            field: "type",
                            reason: "not snapshot or delta",
                        })
                    }
                };
                self.order_book_v2(s, symbol, snapshot, v2, receive_ns, out)
            }
            Topic::TradeV2 => self.trades_v2(s, receive_ns, out),
        }
    }

    /// v2 `orderBookL2_*` data: a snapshot (`order_book` array, or the data
    /// itself an array) or a delta (`delete`, `update`, `insert` arrays).
    fn order_book_v2(
        &self,
        s: &mut Scanner<'_>,
        symbol: &[u8],
        snapshot: bool,
        v2: V2Meta,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let cross_seq = v2.cross_seq.ok_or(ParseError::MissingField("cross_seq"))?;
        let exchange_ns = match v2.timestamp_e6 {
            Some(us) => us
                .checked_mul(1_000)
                .filter(|&ns| ns <= i64::MAX as u64)
                .map(|ns| ns as i64)
                .ok_or(ParseError::BadField {
                    field: "timestamp_e6",
                    reason: "timestamp out of range",
                })?,
            None => 0,
        };
        let Some(spec) = self.instruments.find(symbol) else {
            s.skip_value()?;
            return Ok(Message::OtherInstrument);
        };
        let start = out.len();
        if snapshot {
            out.push(Event::ZERO);
            if s.peek() == Some(b'[') {
                self.levels_v2(s, spec, EventKind::SnapshotLevel, FLAG_V2, false, out)?;
            } else {
                s.begin_object()?;
                let mut first = true;
                let mut seen = false;
                while let Some(key) = s.next_key(&mut first)? {
                    if key == b"order_book" {
                        seen = true;
                        self.levels_v2(s, spec, EventKind::SnapshotLevel, FLAG_V2, false, out)?;
                    } else {
                        s.skip_value()?;
                    }
                }
                if !seen {
                    return Err(ParseError::MissingField("data.order_book"));
                }
            }
            let levels = &out[start + 1..];
            let bids = levels
                .iter()
                .filter(|e| e.side() == Some(Side::Bid))
                .count();
            let info = SnapshotInfo {
                bid_levels: bids as u64,
                ask_levels: (levels.len() - bids) as u64,
                reserved: 0,
            };
            out[start] = Event::new(EventKind::SnapshotBegin, Venue::Bybit, spec.id, info);
            out[start].flags = FLAG_V2;
            let mut end = Event::new(EventKind::SnapshotEnd, Venue::Bybit, spec.id, info);
            end.flags = FLAG_V2;
            out.push(end);
        } else {
            s.begin_object()?;
            let mut first = true;
            while let Some(key) = s.next_key(&mut first)? {
                let (action, delete) = match key {
                    b"delete" => (FLAG_V2_DELETE, true),
                    b"update" => (FLAG_V2_UPDATE, false),
                    b"insert" => (FLAG_V2_INSERT, false),
                    _ => {
                        s.skip_value()?;
                        continue;
                    }
                };
                self.levels_v2(s, spec, EventKind::BookLevel, FLAG_V2 | action, delete, out)?;
            }
        }
        for ev in &mut out[start..] {
            ev.sequence = cross_seq;
            ev.exchange_ns = exchange_ns;
            ev.receive_ns = receive_ns;
        }
        Ok(if snapshot {
            Message::BookSnapshot {
                instrument: spec.id,
                last_update_id: cross_seq,
                checksum: None,
            }
        } else {
            Message::BookDiff {
                instrument: spec.id,
                first_id: cross_seq,
                final_id: cross_seq,
                prev_final_id: None,
                checksum: None,
            }
        })
    }

    /// One array of v2 levels `{price, symbol, id, side, size}` (no `size`
    /// when `delete`): one `kind` event each, with `flags`.
    fn levels_v2(
        &self,
        s: &mut Scanner<'_>,
        spec: &crate::venues::InstrumentSpec,
        kind: EventKind,
        flags: u8,
        delete: bool,
        out: &mut Vec<Event>,
    ) -> Result<(), ParseError> {
        let start = out.len();
        s.begin_array()?;
        let mut first = true;
        while s.next_element(&mut first)? {
            s.begin_object()?;
            let mut inner = true;
            let (mut price, mut id, mut side, mut size) = (None, None, None, None);
            while let Some(key) = s.next_key(&mut inner)? {
                match key {
                    b"price" => price = Some(s.number_text()?),
                    b"id" => id = Some(text_u64(s.number_text()?, "id")?),
                    b"side" => side = Some(s.string()?),
                    b"size" => size = Some(s.number_text()?),
                    _ => s.skip_value()?,
                }
            }
            let price_text = price.ok_or(ParseError::MissingField("price"))?;
            let id = id.ok_or(ParseError::MissingField("id"))?;
            let side = match side.ok_or(ParseError::MissingField("side"))? {
                b"Buy" => Side::Bid,
                b"Sell" => Side::Ask,
                _ => {
                    return Err(ParseError::BadField {
                        field: "side",
                        reason: "not Buy or Sell",
                    })
                }
            };
            let price = decimal(&spec.price, price_text, "price")?;
            if decimal(&self.v2_id, price_text, "price")? as u64 != id {
                return Err(ParseError::BadField {
                    field: "id",
                    reason: "level id is not its price x 10^4",
                });
            }
            let mut ev_flags = flags;
            let qty = if delete {
                0
            } else {
                let text = size.ok_or(ParseError::MissingField("size"))?;
                let (qty, exact) =
                    spec.qty
                        .parse_rounded(text)
                        .map_err(|error| ParseError::Decimal {
                            field: "size",
                            error,
                        })?;
                if !exact {
                    ev_flags |= FLAG_ROUNDED;
                }
                qty
            };
            let index = (out.len() - start) as u64;
            let mut ev = Event::new(
                kind,
                Venue::Bybit,
                spec.id,
                PriceLevel { price, qty, index },
            )
            .with_side(side);
            ev.flags = ev_flags;
            out.push(ev);
        }
        Ok(())
    }

    /// v2 `trade` data: an array of `{symbol, side, size, price,
    /// trade_time_ms, trade_id}` (`trade_id` is a UUID: not carried).
    fn trades_v2(
        &self,
        s: &mut Scanner<'_>,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let mut instrument = None;
        let mut any_other = false;
        s.begin_array()?;
        let mut first = true;
        while s.next_element(&mut first)? {
            s.begin_object()?;
            let mut inner = true;
            let (mut sym, mut side, mut size, mut price, mut time) = (None, None, None, None, None);
            while let Some(key) = s.next_key(&mut inner)? {
                match key {
                    b"symbol" => sym = Some(s.string()?),
                    b"side" => side = Some(s.string()?),
                    b"size" => size = Some(s.number_text()?),
                    b"price" => price = Some(s.number_text()?),
                    b"trade_time_ms" => {
                        time = Some(text_u64(s.number_text()?, "data.trade_time_ms")?)
                    }
                    _ => s.skip_value()?,
                }
            }
            let sym = sym.ok_or(ParseError::MissingField("data.symbol"))?;
            let side = match side.ok_or(ParseError::MissingField("data.side"))? {
                b"Buy" => Side::Bid,
                b"Sell" => Side::Ask,
                _ => {
                    return Err(ParseError::BadField {
                        field: "data.side",
                        reason: "not Buy or Sell",
                    })
                }
            };
            let Some(spec) = self.instruments.find(sym) else {
                any_other = true;
                continue;
            };
            let price = decimal(
                &spec.price,
                price.ok_or(ParseError::MissingField("data.price"))?,
                "data.price",
            )?;
            let (qty, exact) = spec
                .qty
                .parse_rounded(size.ok_or(ParseError::MissingField("data.size"))?)
                .map_err(|error| ParseError::Decimal {
                    field: "data.size",
                    error,
                })?;
            let exchange_ns = match time {
                Some(ms) => ms_to_ns(ms, "data.trade_time_ms")?,
                None => 0,
            };
            let mut ev = Event::new(
                EventKind::Trade,
                Venue::Bybit,
                spec.id,
                TradePrint {
                    price,
                    qty,
                    trade_id: 0,
                },
            )
            .with_side(side)
            .with_times(0, exchange_ns, receive_ns);
            if !exact {
                ev.flags |= FLAG_ROUNDED;
            }
            out.push(ev);
            instrument = Some(spec.id);
        }
        Ok(match instrument {
            Some(instrument) => Message::Trades { instrument },
            None if any_other => Message::OtherInstrument,
            None => Message::Control,
        })
    }

    fn order_book(
        &self,
        s: &mut Scanner<'_>,
        snapshot: bool,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let start = out.len();
        if snapshot {
            out.push(Event::ZERO);
        }
        let level_kind = if snapshot {
            EventKind::SnapshotLevel
        } else {
            EventKind::BookLevel
        };
        s.begin_object()?;
        let mut first = true;
        let (mut spec, mut symbol_seen, mut update_id) = (None, false, None);
        let (mut bids_span, mut asks_span) = (None, None);
        let (mut bids, mut asks) = (None, None);
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"s" => {
                    let sym = s.string()?;
                    spec = self.instruments.find(sym);
                    symbol_seen = true;
                }
                b"b" | b"a" => {
                    let side = if key == b"b" { Side::Bid } else { Side::Ask };
                    match (symbol_seen, spec) {
                        (true, Some(spec)) => {
                            let n = push_levels(s, spec, Venue::Bybit, side, level_kind, out)?;
                            if side == Side::Bid {
                                bids = Some(n)
                            } else {
                                asks = Some(n)
                            }
                        }
                        (true, None) => s.skip_value()?,
                        (false, _) => {
                            let span = s.value_span()?;
                            if side == Side::Bid {
                                bids_span = Some(span)
                            } else {
                                asks_span = Some(span)
                            }
                        }
                    }
                }
                b"u" => update_id = Some(s.u64()?),
                _ => s.skip_value()?,
            }
        }
        if !symbol_seen {
            return Err(ParseError::MissingField("data.s"));
        }
        let Some(spec) = spec else {
            out.truncate(start);
            return Ok(Message::OtherInstrument);
        };
        for (side, span, done) in [
            (Side::Bid, bids_span, &mut bids),
            (Side::Ask, asks_span, &mut asks),
        ] {
            if done.is_none() {
                let span = span.ok_or(ParseError::MissingField(if side == Side::Bid {
                    "data.b"
                } else {
                    "data.a"
                }))?;
                *done = Some(push_levels(
                    &mut Scanner::new(span),
                    spec,
                    Venue::Bybit,
                    side,
                    level_kind,
                    out,
                )?);
            }
        }
        let u = update_id.ok_or(ParseError::MissingField("data.u"))?;
        if snapshot {
            let info = SnapshotInfo {
                bid_levels: bids.unwrap_or(0) as u64,
                ask_levels: asks.unwrap_or(0) as u64,
                reserved: 0,
            };
            out[start] = Event::new(EventKind::SnapshotBegin, Venue::Bybit, spec.id, info);
            out.push(Event::new(
                EventKind::SnapshotEnd,
                Venue::Bybit,
                spec.id,
                info,
            ));
        }
        for ev in &mut out[start..] {
            ev.sequence = u;
            ev.exchange_ns = exchange_ns;
            ev.receive_ns = receive_ns;
        }
        Ok(if snapshot {
            Message::BookSnapshot {
                instrument: spec.id,
                last_update_id: u,
                checksum: None,
            }
        } else {
            Message::BookDiff {
                instrument: spec.id,
                first_id: u,
                final_id: u,
                prev_final_id: None,
                checksum: None,
            }
        })
    }

    /// `publicTrade` and `allLiquidation` data: arrays of `{T,s,S,v,p,…}`.
    fn trades(
        &self,
        s: &mut Scanner<'_>,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
        liquidation: bool,
    ) -> Result<Message, ParseError> {
        let mut instrument = None;
        let mut any_other = false;
        // The legacy `liquidation` topic sends one object, `allLiquidation` an array.
        let single = s.peek() == Some(b'{');
        if !single {
            s.begin_array()?;
        }
        let mut first = true;
        while single || s.next_element(&mut first)? {
            s.begin_object()?;
            let mut inner = true;
            let (mut sym, mut side, mut size, mut price, mut time, mut seq) =
                (None, None, None, None, None, None);
            while let Some(key) = s.next_key(&mut inner)? {
                match key {
                    b"s" | b"symbol" => sym = Some(s.string()?),
                    b"S" | b"side" => side = Some(s.string()?),
                    b"v" | b"size" => size = Some(s.string()?),
                    b"p" | b"price" => price = Some(s.string()?),
                    b"T" | b"updatedTime" => time = Some(s.u64()?),
                    b"seq" => seq = Some(s.u64()?),
                    _ => s.skip_value()?,
                }
            }
            let sym = sym.ok_or(ParseError::MissingField("data.s"))?;
            let side = match side.ok_or(ParseError::MissingField("data.S"))? {
                b"Buy" => Side::Bid,
                b"Sell" => Side::Ask,
                _ => {
                    return Err(ParseError::BadField {
                        field: "data.S",
                        reason: "not Buy or Sell",
                    })
                }
            };
            match self.instruments.find(sym) {
                None => any_other = true,
                Some(spec) => {
                    let price = decimal(
                        &spec.price,
                        price.ok_or(ParseError::MissingField("data.p"))?,
                        "data.p",
                    )?;
                    let qty = decimal(
                        &spec.qty,
                        size.ok_or(ParseError::MissingField("data.v"))?,
                        "data.v",
                    )?;
                    let exch = match time {
                        Some(ms) => ms_to_ns(ms, "data.T")?,
                        None => exchange_ns,
                    };
                    let ev = if liquidation {
                        // `S` is the liquidated position's side; the order takes the other side.
                        Event::new(
                            EventKind::LiquidationPrint,
                            Venue::Bybit,
                            spec.id,
                            LiquidationPrint {
                                price,
                                qty,
                                avg_price: 0,
                            },
                        )
                        .with_side(side.opposite())
                    } else {
                        let trade_id = seq.unwrap_or(0);
                        Event::new(
                            EventKind::Trade,
                            Venue::Bybit,
                            spec.id,
                            TradePrint {
                                price,
                                qty,
                                trade_id,
                            },
                        )
                        .with_side(side)
                    };
                    out.push(ev.with_times(seq.unwrap_or(0), exch, receive_ns));
                    instrument = Some(spec.id);
                }
            }
            if single {
                break;
            }
        }
        Ok(match (instrument, liquidation) {
            (Some(instrument), false) => Message::Trades { instrument },
            (Some(instrument), true) => Message::Liquidations { instrument },
            (None, _) if any_other => Message::OtherInstrument,
            (None, _) => Message::Control,
        })
    }

    /// `tickers`: only the fields that changed are present in a delta.
    fn ticker(
        &self,
        s: &mut Scanner<'_>,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        s.begin_object()?;
        let mut first = true;
        let (mut sym, mut mark, mut index, mut funding) = (None, None, None, None);
        let (mut bid, mut bid_size, mut ask, mut ask_size) = (None, None, None, None);
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"symbol" => sym = Some(s.string()?),
                b"markPrice" => mark = Some(s.string()?),
                b"indexPrice" => index = Some(s.string()?),
                b"fundingRate" => funding = Some(s.string()?),
                b"bid1Price" => bid = Some(s.string()?),
                b"bid1Size" => bid_size = Some(s.string()?),
                b"ask1Price" => ask = Some(s.string()?),
                b"ask1Size" => ask_size = Some(s.string()?),
                _ => s.skip_value()?,
            }
        }
        let sym = sym.ok_or(ParseError::MissingField("data.symbol"))?;
        let Some(spec) = self.instruments.find(sym) else {
            return Ok(Message::OtherInstrument);
        };
        let start = out.len();
        if let Some(mark) = mark.filter(|m| !m.is_empty()) {
            let (mark, mark_exact) =
                spec.price
                    .parse_rounded(mark)
                    .map_err(|error| ParseError::Decimal {
                        field: "markPrice",
                        error,
                    })?;
            let (index, index_exact) = match index.filter(|i| !i.is_empty()) {
                Some(text) => {
                    spec.price
                        .parse_rounded(text)
                        .map_err(|error| ParseError::Decimal {
                            field: "indexPrice",
                            error,
                        })?
                }
                None => (0, true),
            };
            let funding_rate_e9 = match funding.filter(|f| !f.is_empty()) {
                Some(text) => decimal(&self.funding, text, "fundingRate")?,
                None => 0,
            };
            let mut ev = Event::new(
                EventKind::MarkPrice,
                Venue::Bybit,
                spec.id,
                MarkPrice {
                    mark,
                    index,
                    funding_rate_e9,
                },
            );
            if !(mark_exact && index_exact) {
                ev.flags |= FLAG_ROUNDED;
            }
            out.push(ev);
        }
        for (side, px, qty, pf, qf) in [
            (Side::Bid, bid, bid_size, "bid1Price", "bid1Size"),
            (Side::Ask, ask, ask_size, "ask1Price", "ask1Size"),
        ] {
            if let (Some(px), Some(qty)) = (px, qty) {
                let price = decimal(&spec.price, px, pf)?;
                let qty = decimal(&spec.qty, qty, qf)?;
                out.push(
                    Event::new(
                        EventKind::BookTop,
                        Venue::Bybit,
                        spec.id,
                        PriceLevel {
                            price,
                            qty,
                            index: 0,
                        },
                    )
                    .with_side(side),
                );
            }
        }
        for ev in &mut out[start..] {
            ev.exchange_ns = exchange_ns;
            ev.receive_ns = receive_ns;
        }
        Ok(Message::Ticker {
            instrument: spec.id,
        })
    }
}

/// Decimal digits (`"864131817"` or bare) as a u64.
fn text_u64(text: &[u8], field: &'static str) -> Result<u64, ParseError> {
    let bad = ParseError::BadField {
        field,
        reason: "not an unsigned integer",
    };
    if text.is_empty() || text.len() > 20 {
        return Err(bad);
    }
    let mut value: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return Err(bad);
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add((b - b'0') as u64))
            .ok_or(ParseError::BadField {
                field,
                reason: "integer out of range",
            })?;
    }
    Ok(value)
}

impl VenueParser for BybitParser {
    fn parse_events(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        _symbol_hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        self.parse_message(message, receive_ns, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venues::InstrumentSpec;
    use proptest::prelude::*;

    fn parser() -> BybitParser {
        let spec = InstrumentSpec::new(
            "BTCUSDT",
            3,
            Grid::with_decimals(2).unwrap(),
            Grid::with_decimals(3).unwrap(),
        );
        BybitParser::new(Instruments::new(vec![spec]))
    }

    #[test]
    fn order_book_snapshot_and_delta() {
        let mut p = parser();
        let mut out = Vec::new();
        let snap = br#"{"topic":"orderbook.200.BTCUSDT","type":"snapshot","ts":1786310818129,"data":{"s":"BTCUSDT","b":[["65114.20","6.054"]],"a":[["65114.30","1.000"],["65115.00","2"]],"u":7,"seq":99},"cts":1}"#;
        assert_eq!(
            p.parse(snap, 5, None, &mut out).unwrap(),
            Message::BookSnapshot {
                instrument: 3,
                last_update_id: 7,
                checksum: None
            }
        );
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].kind(), Some(EventKind::SnapshotBegin));
        assert_eq!(out[3].payload::<PriceLevel>().qty, 2000);
        out.clear();
        // Spot order: `ts` and `type` before `data`, `u` last.
        let delta = br#"{"topic":"orderbook.200.BTCUSDT","ts":1,"type":"delta","data":{"s":"BTCUSDT","b":[["65114.10","0"]],"a":[],"u":8,"seq":100},"cts":1}"#;
        assert_eq!(
            p.parse(delta, 5, None, &mut out).unwrap(),
            Message::BookDiff {
                instrument: 3,
                first_id: 8,
                final_id: 8,
                prev_final_id: None,
                checksum: None
            }
        );
        assert_eq!((out.len(), out[0].sequence), (1, 8));
    }

    #[test]
    fn trades_tickers_liquidations_and_control() {
        let mut p = parser();
        let mut out = Vec::new();
        let trade = br#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1786310819680,"s":"BTCUSDT","S":"Sell","v":"0.004","p":"65114.20","L":"MinusTick","i":"a9","BT":false,"seq":753843954913}]}"#;
        assert_eq!(
            p.parse(trade, 0, None, &mut out).unwrap(),
            Message::Trades { instrument: 3 }
        );
        assert_eq!(
            out[0].payload::<TradePrint>(),
            TradePrint {
                price: 6_511_420,
                qty: 4,
                trade_id: 753_843_954_913
            }
        );
        assert_eq!(out[0].side(), Some(Side::Ask));
        out.clear();
        let ticker = br#"{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"65117.44","indexPrice":"65137.765","fundingRate":"0.0001","bid1Price":"65114.20","bid1Size":"6.054"},"cs":1,"ts":1}"#;
        assert_eq!(
            p.parse(ticker, 0, None, &mut out).unwrap(),
            Message::Ticker { instrument: 3 }
        );
        assert_eq!(
            out[0].payload::<MarkPrice>(),
            MarkPrice {
                mark: 6_511_744,
                index: 6_513_777,
                funding_rate_e9: 100_000
            }
        );
        assert_eq!(out[0].flags, FLAG_ROUNDED);
        assert_eq!(out.len(), 2, "bid only: the ask fields were absent");
        out.clear();
        let liq = br#"{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1,"data":[{"T":1,"s":"BTCUSDT","S":"Buy","v":"0.010","p":"60000.00"}]}"#;
        assert_eq!(
            p.parse(liq, 0, None, &mut out).unwrap(),
            Message::Liquidations { instrument: 3 }
        );
        assert_eq!(out[0].side(), Some(Side::Ask), "a liquidated long is sold");
        out.clear();
        let ack = br#"{"success":true,"ret_msg":"","conn_id":"x","op":"subscribe"}"#;
        assert_eq!(p.parse(ack, 0, None, &mut out).unwrap(), Message::Control);
        let kline = br#"{"topic":"kline.1.BTCUSDT","data":[],"ts":1,"type":"snapshot"}"#;
        assert_eq!(
            p.parse(kline, 0, None, &mut out).unwrap_err().kind_name(),
            "unknown event type"
        );
        let bad = br#"{"topic":"orderbook.200.BTCUSDT","type":"delta","data":{"s":"BTCUSDT","b":[["1.001","1"]],"a":[],"u":8}}"#;
        assert_eq!(
            p.parse(bad, 0, None, &mut out).unwrap_err().field(),
            "b.price"
        );
        assert!(out.is_empty());
    }

    fn v2_parser() -> BybitParser {
        let spec = InstrumentSpec::new(
            "BCHUSDT",
            4,
            Grid::from_step("0.05").unwrap(),
            Grid::from_step("0.01").unwrap(),
        );
        BybitParser::new(Instruments::new(vec![spec]))
    }

    const V2_SNAPSHOT: &[u8] = br#"{"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","data":{"order_book":[{"price":"1053.05","symbol":"BCHUSDT","id":"10530500","side":"Buy","size":2.63},{"price":"1055.95","symbol":"BCHUSDT","id":"10559500","side":"Sell","size":29.04}]},"cross_seq":"864131773","timestamp_e6":"1618677786389362"}"#;
    const V2_DELTA: &[u8] = br#"{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{"delete":[{"price":"1053.05","symbol":"BCHUSDT","id":"10530500","side":"Buy"}],"update":[{"price":"1055.95","symbol":"BCHUSDT","id":"10559500","side":"Sell","size":3}],"insert":[{"price":"1054.15","symbol":"BCHUSDT","id":"10541500","side":"Buy","size":10.969999}]},"cross_seq":"864131817","timestamp_e6":"1618677786548764"}"#;

    #[test]
    fn v2_order_book_snapshot_and_delta() {
        let mut p = v2_parser();
        let mut out = Vec::new();
        assert_eq!(
            p.parse(V2_SNAPSHOT, 9, None, &mut out).unwrap(),
            Message::BookSnapshot {
                instrument: 4,
                last_update_id: 864_131_773,
                checksum: None
            }
        );
        assert_eq!(out.len(), 4);
        assert_eq!(out[0].kind(), Some(EventKind::SnapshotBegin));
        assert_eq!(
            out[0].payload::<SnapshotInfo>(),
            SnapshotInfo {
                bid_levels: 1,
                ask_levels: 1,
                reserved: 0
            }
        );
        assert_eq!(out[1].payload::<PriceLevel>().price, 21_061);
        assert_eq!(out[1].payload::<PriceLevel>().qty, 263);
        assert_eq!(out[2].side(), Some(Side::Ask));
        assert_eq!(out[2].payload::<PriceLevel>().qty, 2904);
        assert!(out.iter().all(|e| e.flags & FLAG_V2 != 0
            && e.sequence == 864_131_773
            && e.exchange_ns == 1_618_677_786_389_362_000
            && e.receive_ns == 9));
        out.clear();
        assert_eq!(
            p.parse(V2_DELTA, 10, None, &mut out).unwrap(),
            Message::BookDiff {
                instrument: 4,
                first_id: 864_131_817,
                final_id: 864_131_817,
                prev_final_id: None,
                checksum: None
            }
        );
        let actions: Vec<_> = out
            .iter()
            .map(|e| (e.flags, e.payload::<PriceLevel>().qty))
            .collect();
        assert_eq!(
            actions,
            vec![
                (FLAG_V2 | FLAG_V2_DELETE, 0),
                (FLAG_V2 | FLAG_V2_UPDATE, 300),
                (FLAG_V2 | FLAG_V2_INSERT | FLAG_ROUNDED, 1097),
            ]
        );
    }

    #[test]
    fn v2_bad_levels_trades_and_other_symbols() {
        let mut p = v2_parser();
        let mut out = Vec::new();
        let wrong_id = br#"{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{"delete":[{"price":"1053.05","symbol":"BCHUSDT","id":"10530000","side":"Buy"}],"update":[],"insert":[]},"cross_seq":"5"}"#;
        assert_eq!(
            p.parse(wrong_id, 0, None, &mut out).unwrap_err().field(),
            "id"
        );
        let no_seq = br#"{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{"delete":[],"update":[],"insert":[]}}"#;
        assert_eq!(
            p.parse(no_seq, 0, None, &mut out).unwrap_err(),
            ParseError::MissingField("cross_seq")
        );
        let no_size = br#"{"topic":"orderBookL2_25.BCHUSDT","type":"delta","data":{"insert":[{"price":"1053.05","id":"10530500","side":"Buy"}]},"cross_seq":"5"}"#;
        assert_eq!(
            p.parse(no_size, 0, None, &mut out).unwrap_err().field(),
            "size"
        );
        assert!(out.is_empty());
        let other = br#"{"topic":"orderBookL2_25.ETHUSDT","type":"delta","data":{"delete":[],"update":[],"insert":[]},"cross_seq":"5"}"#;
        assert_eq!(
            p.parse(other, 0, None, &mut out).unwrap(),
            Message::OtherInstrument
        );
        let trade = br#"{"topic":"trade.BCHUSDT","data":[{"symbol":"BCHUSDT","tick_direction":"MinusTick","price":"1053.90","size":0.14,"timestamp":"2021-04-17T16:43:05.000Z","trade_time_ms":"1618677785116","side":"Buy","trade_id":"01cacfe9-8d1c-5ee4-995d-d79a43f955a6"}]}"#;
        assert_eq!(
            p.parse(trade, 3, None, &mut out).unwrap(),
            Message::Trades { instrument: 4 }
        );
        assert_eq!(
            out[0].payload::<TradePrint>(),
            TradePrint {
                price: 21_078,
                qty: 14,
                trade_id: 0
            }
        );
        assert_eq!(out[0].side(), Some(Side::Bid));
        assert_eq!(out[0].exchange_ns, 1_618_677_785_116_000_000);
        out.clear();
        let ack = br#"{"success":true,"ret_msg":"","conn_id":"x","request":{"op":"subscribe","args":["orderBookL2_25.BCHUSDT"]}}"#;
        assert_eq!(p.parse(ack, 0, None, &mut out).unwrap(), Message::Control);
    }

    proptest! {
        #[test]
        fn no_mutation_of_a_v2_message_panics(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400, delta in any::<bool>()) {
            let base = if delta { V2_DELTA } else { V2_SNAPSHOT };
            let mut msg = base.to_vec();
            let pos = pos % msg.len();
            msg[pos] = byte;
            msg.truncate(cut.min(msg.len()));
            let mut out = Vec::new();
            if v2_parser().parse(&msg, 0, None, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
        }

        #[test]
        fn no_byte_string_after_a_v2_prefix_panics(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut msg = br#"{"topic":"orderBookL2_25.BCHUSDT","type":"delta","cross_seq":"7","data":"#.to_vec();
            msg.extend_from_slice(&tail);
            let mut out = Vec::new();
            if v2_parser().parse(&msg, 0, None, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
        }

        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            let _ = parser().parse(&bytes, 0, None, &mut out);
        }

        #[test]
        fn no_mutation_of_a_real_message_panics(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
            let base = br#"{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["65095.30","0.005"]],"a":[["65116.60","0"]],"u":8,"seq":9},"cts":1}"#;
            let mut msg = base.to_vec();
            let pos = pos % msg.len();
            msg[pos] = byte;
            msg.truncate(cut.min(msg.len()));
            let mut out = Vec::new();
            if parser().parse(&msg, 0, None, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
        }
    }
}
