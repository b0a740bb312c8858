//! OKX v5 public market data.
//!
//! Channels: `books*` (`action` snapshot/update; `data[0]` with `asks`/`bids`
//! as `[px, sz, liquidated orders, orders]`, `ts`, `checksum` = CRC32 of the
//! top 25 levels, and on newer feeds `seqId`/`prevSeqId`), `trades`,
//! `mark-price`, `liquidation-orders` (`details` per order: `side`, `sz`,
//! bankruptcy price `bkPx`) and `tickers` (best bid/ask). Subscription replies
//! (`{"event":…}`) are [`Message::Control`].

use super::{
    decimal, ms_to_ns, push_levels, InstrumentSpec, Instruments, Message, ParseError, VenueParser,
};
use crate::json_scan::Scanner;
use crate::venues::binance::FLAG_ROUNDED;
use crate::wire::{
    Event, EventKind, LiquidationPrint, MarkPrice, PriceLevel, Side, SnapshotInfo, TradePrint,
    Venue,
};

/// Parser for OKX v5 public channels.
#[derive(Clone, Debug)]
pub struct OkxParser {
    instruments: Instruments,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Books,
    Trades,
    MarkPrice,
    Liquidations,
    Tickers,
}

fn ms_text(text: &[u8], field: &'static str) -> Result<i64, ParseError> {
    let mut s = Scanner::new(text);
    let ms = s.u64().map_err(|_| ParseError::BadField {
        field,
        reason: "not a millisecond timestamp",
    })?;
    s.end().map_err(|_| ParseError::BadField {
        field,
        reason: "not a millisecond timestamp",
    })?;
    ms_to_ns(ms, field)
}

impl OkxParser {
    /// A parser for the given instruments (symbols are OKX `instId`s, e.g. `BTC-USDT`).
    pub fn new(instruments: Instruments) -> Self {
        OkxParser { instruments }
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
        let (mut channel, mut inst, mut action, mut data, mut event) =
            (None, None, None, None, false);
        let mut done = None;
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"arg" => {
                    s.begin_object()?;
                    let mut f = true;
                    while let Some(k) = s.next_key(&mut f)? {
                        match k {
                            b"channel" => channel = Some(s.string()?),
                            b"instId" => inst = Some(s.string()?),
                            _ => s.skip_value()?,
                        }
                    }
                }
                b"action" => action = Some(s.string()?),
                // Fast path: `arg` (and `action` for books) already seen: parse `data` in place.
                b"data"
                    if done.is_none()
                        && !event
                        && channel.is_some_and(|c: &[u8]| {
                            !c.starts_with(b"books") || action.is_some()
                        }) =>
                {
                    done = Some(self.dispatch(channel, inst, action, &mut s, receive_ns, out)?);
                }
                b"data" => data = Some(s.value_span()?),
                b"event" => {
                    event = true;
                    s.skip_value()?;
                }
                _ => s.skip_value()?,
            }
        }
        s.end()?;
        if event {
            return Ok(Message::Control);
        }
        if let Some(message) = done {
            return Ok(message);
        }
        let data = data.ok_or(ParseError::MissingField("data"))?;
        let mut d = Scanner::new(data);
        let message = self.dispatch(channel, inst, action, &mut d, receive_ns, out)?;
        d.end()?;
        Ok(message)
    }

    /// Parses `data` at the scanner according to the channel.
    fn dispatch(
        &self,
        channel: Option<&[u8]>,
        inst: Option<&[u8]>,
        action: Option<&[u8]>,
        s: &mut Scanner<'_>,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let channel = channel.ok_or(ParseError::MissingField("arg.channel"))?;
        let which = match channel {
            c if c.starts_with(b"books") => Channel::Books,
            b"trades" | b"trades-all" => Channel::Trades,
            b"mark-price" => Channel::MarkPrice,
            b"liquidation-orders" => Channel::Liquidations,
            b"tickers" => Channel::Tickers,
            other => return Err(ParseError::unknown(other)),
        };
        if which == Channel::Books {
            let inst = inst.ok_or(ParseError::MissingField("arg.instId"))?;
            let snapshot = match action {
                Some(b"snapshot") | None => true,
                Some(b"update") => false,
                Some(_) => {
                    return Err(ParseError::BadField {
                        field: "action",
                        reason: "not snapshot or update",
                    })
                }
            };
            let Some(spec) = self.instruments.find(inst) else {
                s.skip_value()?;
                return Ok(Message::OtherInstrument);
            };
            return self.books(spec, s, snapshot, receive_ns, out);
        }
        self.records(which, inst, s, receive_ns, out)
    }

    fn books(
        &self,
        spec: &InstrumentSpec,
        s: &mut Scanner<'_>,
        snapshot: bool,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let start = out.len();
        if snapshot {
            out.push(Event::ZERO);
        }
        let kind = if snapshot {
            EventKind::SnapshotLevel
        } else {
            EventKind::BookLevel
        };
        s.begin_array()?;
        let mut first = true;
        if !s.next_element(&mut first)? {
            return Err(ParseError::MissingField("data[0]"));
        }
        s.begin_object()?;
        let mut f = true;
        let (mut ts, mut checksum, mut seq, mut prev) = (None, None, None, None);
        let (mut bids, mut asks) = (None, None);
        while let Some(key) = s.next_key(&mut f)? {
            match key {
                b"bids" => bids = Some(push_levels(s, spec, Venue::Okx, Side::Bid, kind, out)?),
                b"asks" => asks = Some(push_levels(s, spec, Venue::Okx, Side::Ask, kind, out)?),
                b"ts" => ts = Some(ms_text(s.string()?, "ts")?),
                b"checksum" => {
                    let text = s.number_text()?;
                    let value = std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok());
                    let value = value.and_then(|v| i32::try_from(v).ok());
                    checksum = Some(value.ok_or(ParseError::BadField {
                        field: "checksum",
                        reason: "not a 32-bit integer",
                    })?);
                }
                b"seqId" => seq = Some(s.u64()?),
                b"prevSeqId" => {
                    let text = s.number_text()?;
                    prev = match text {
                        b"-1" => None,
                        _ => Some(Scanner::new(text).u64().map_err(|_| ParseError::BadField {
                            field: "prevSeqId",
                            reason: "not an integer",
                        })?),
                    };
                }
                _ => s.skip_value()?,
            }
        }
        while s.next_element(&mut first)? {
            s.skip_value()?;
        }
        let (bids, asks) = (
            bids.ok_or(ParseError::MissingField("bids"))?,
            asks.ok_or(ParseError::MissingField("asks"))?,
        );
        let exchange_ns = ts.unwrap_or(0);
        // Without seqId (feeds before 2023) the update time orders updates.
        let final_id = seq.unwrap_or((exchange_ns / 1_000_000) as u64);
        if snapshot {
            let info = SnapshotInfo {
                bid_levels: bids as u64,
                ask_levels: asks as u64,
                reserved: 0,
            };
            out[start] = Event::new(EventKind::SnapshotBegin, Venue::Okx, spec.id, info);
            out.push(Event::new(
                EventKind::SnapshotEnd,
                Venue::Okx,
                spec.id,
                info,
            ));
        }
        for ev in &mut out[start..] {
            ev.sequence = final_id;
            ev.exchange_ns = exchange_ns;
            ev.receive_ns = receive_ns;
        }
        Ok(if snapshot {
            Message::BookSnapshot {
                instrument: spec.id,
                last_update_id: final_id,
                checksum,
            }
        } else {
            Message::BookDiff {
                instrument: spec.id,
                first_id: final_id,
                final_id,
                prev_final_id: prev,
                checksum,
            }
        })
    }

    /// Trades, mark prices, liquidation orders and tickers: arrays of records.
    fn records(
        &self,
        which: Channel,
        arg_inst: Option<&[u8]>,
        s: &mut Scanner<'_>,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        s.begin_array()?;
        let mut first = true;
        let mut instrument = None;
        let mut other = false;
        while s.next_element(&mut first)? {
            s.begin_object()?;
            let mut f = true;
            let mut inst = arg_inst;
            let (mut px, mut sz, mut side, mut ts, mut id) = (None, None, None, None, None);
            let (mut bid, mut bid_sz, mut ask, mut ask_sz, mut details) =
                (None, None, None, None, None);
            while let Some(key) = s.next_key(&mut f)? {
                match key {
                    b"instId" => inst = Some(s.string()?),
                    b"px" | b"markPx" => px = Some(s.string()?),
                    b"sz" => sz = Some(s.string()?),
                    b"side" => side = Some(s.string()?),
                    b"ts" => ts = Some(ms_text(s.string()?, "ts")?),
                    b"tradeId" => id = Some(s.string()?),
                    b"bidPx" => bid = Some(s.string()?),
                    b"bidSz" => bid_sz = Some(s.string()?),
                    b"askPx" => ask = Some(s.string()?),
                    b"askSz" => ask_sz = Some(s.string()?),
                    b"details" => details = Some(s.value_span()?),
                    _ => s.skip_value()?,
                }
            }
            let inst = inst.ok_or(ParseError::MissingField("instId"))?;
            let Some(spec) = self.instruments.find(inst) else {
                other = true;
                continue;
            };
            instrument = Some(spec.id);
            let exchange_ns = ts.unwrap_or(0);
            match which {
                Channel::Trades => {
                    let price =
                        decimal(&spec.price, px.ok_or(ParseError::MissingField("px"))?, "px")?;
                    let qty = decimal(&spec.qty, sz.ok_or(ParseError::MissingField("sz"))?, "sz")?;
                    let trade_id = match id {
                        Some(text) => {
                            Scanner::new(text).u64().map_err(|_| ParseError::BadField {
                                field: "tradeId",
                                reason: "not an integer",
                            })?
                        }
                        None => 0,
                    };
                    let side = order_side(side.ok_or(ParseError::MissingField("side"))?, "side")?;
                    out.push(
                        Event::new(
                            EventKind::Trade,
                            Venue::Okx,
                            spec.id,
                            TradePrint {
                                price,
                                qty,
                                trade_id,
                            },
                        )
                        .with_side(side)
                        .with_times(trade_id, exchange_ns, receive_ns),
                    );
                }
                Channel::MarkPrice => {
                    let text = px.ok_or(ParseError::MissingField("markPx"))?;
                    let (mark, exact) =
                        spec.price
                            .parse_rounded(text)
                            .map_err(|error| ParseError::Decimal {
                                field: "markPx",
                                error,
                            })?;
                    let mut ev = Event::new(
                        EventKind::MarkPrice,
                        Venue::Okx,
                        spec.id,
                        MarkPrice {
                            mark,
                            index: 0,
                            funding_rate_e9: 0,
                        },
                    )
                    .with_times(0, exchange_ns, receive_ns);
                    if !exact {
                        ev.flags |= FLAG_ROUNDED;
                    }
                    out.push(ev);
                }
                Channel::Tickers => {
                    for (side, px, sz) in [(Side::Bid, bid, bid_sz), (Side::Ask, ask, ask_sz)] {
                        if let (Some(px), Some(sz)) = (px, sz) {
                            if px.is_empty() || sz.is_empty() {
                                continue;
                            }
                            let price = decimal(&spec.price, px, "bidPx/askPx")?;
                            let qty = decimal(&spec.qty, sz, "bidSz/askSz")?;
                            out.push(
                                Event::new(
                                    EventKind::BookTop,
                                    Venue::Okx,
                                    spec.id,
                                    PriceLevel {
                                        price,
                                        qty,
                                        index: 0,
                                    },
                                )
                                .with_side(side)
                                .with_times(
                                    0,
                                    exchange_ns,
                                    receive_ns,
                                ),
                            );
                        }
                    }
                }
                Channel::Liquidations => {
                    let span = details.ok_or(ParseError::MissingField("details"))?;
                    let mut d = Scanner::new(span);
                    d.begin_array()?;
                    let mut df = true;
                    while d.next_element(&mut df)? {
                        d.begin_object()?;
                        let mut kf = true;
                        let (mut side, mut sz, mut bk, mut ts) = (None, None, None, None);
                        while let Some(key) = d.next_key(&mut kf)? {
                            match key {
                                b"side" => side = Some(d.string()?),
                                b"sz" => sz = Some(d.string()?),
                                b"bkPx" => bk = Some(d.string()?),
                                b"ts" => ts = Some(ms_text(d.string()?, "details.ts")?),
                                _ => d.skip_value()?,
                            }
                        }
                        let side = order_side(
                            side.ok_or(ParseError::MissingField("details.side"))?,
                            "details.side",
                        )?;
                        let price = decimal(
                            &spec.price,
                            bk.ok_or(ParseError::MissingField("details.bkPx"))?,
                            "details.bkPx",
                        )?;
                        let qty = decimal(
                            &spec.qty,
                            sz.ok_or(ParseError::MissingField("details.sz"))?,
                            "details.sz",
                        )?;
                        out.push(
                            Event::new(
                                EventKind::LiquidationPrint,
                                Venue::Okx,
                                spec.id,
                                LiquidationPrint {
                                    price,
                                    qty,
                                    avg_price: 0,
                                },
                            )
                            .with_side(side)
                            .with_times(
                                0,
                                ts.unwrap_or(exchange_ns),
                                receive_ns,
                            ),
                        );
                    }
                }
                Channel::Books => unreachable!("books are parsed by `books`"),
            }
        }
        Ok(match (instrument, which) {
            (Some(instrument), Channel::Trades) => Message::Trades { instrument },
            (Some(instrument), Channel::MarkPrice) => Message::Mark { instrument },
            (Some(instrument), Channel::Liquidations) => Message::Liquidations { instrument },
            (Some(instrument), _) => Message::Ticker { instrument },
            (None, _) if other => Message::OtherInstrument,
            (None, _) => Message::Control,
        })
    }
}

fn order_side(text: &[u8], field: &'static str) -> Result<Side, ParseError> {
    match text {
        b"buy" => Ok(Side::Bid),
        b"sell" => Ok(Side::Ask),
        _ => Err(ParseError::BadField {
            field,
            reason: "not buy or sell",
        }),
    }
}

impl VenueParser for OkxParser {
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
    use crate::decimal::Grid;
    use proptest::prelude::*;

    fn parser() -> OkxParser {
        let spec = InstrumentSpec::new(
            "BTC-USDT",
            5,
            Grid::with_decimals(1).unwrap(),
            Grid::with_decimals(8).unwrap(),
        );
        OkxParser::new(Instruments::new(vec![spec]))
    }

    #[test]
    fn books_trades_mark_liquidation() {
        let mut p = parser();
        let mut out = Vec::new();
        let update = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30243.5","1.2112","0","4"]],"bids":[],"ts":"1652459225464","checksum":-914047754,"seqId":12,"prevSeqId":11}]}"#;
        assert_eq!(
            p.parse(update, 0, None, &mut out).unwrap(),
            Message::BookDiff {
                instrument: 5,
                first_id: 12,
                final_id: 12,
                prev_final_id: Some(11),
                checksum: Some(-914_047_754)
            }
        );
        assert_eq!(
            out[0].payload::<PriceLevel>(),
            PriceLevel {
                price: 302_435,
                qty: 121_120_000,
                index: 0
            }
        );
        out.clear();
        let snap = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[],"bids":[["30236","1","0","1"]],"ts":"1","checksum":5,"prevSeqId":-1,"seqId":3}]}"#;
        assert_eq!(
            p.parse(snap, 0, None, &mut out).unwrap(),
            Message::BookSnapshot {
                instrument: 5,
                last_update_id: 3,
                checksum: Some(5)
            }
        );
        out.clear();
        let trade = br#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476307","px":"30236","sz":"0.0002","side":"buy","ts":"1652459224818"}]}"#;
        assert_eq!(
            p.parse(trade, 0, None, &mut out).unwrap(),
            Message::Trades { instrument: 5 }
        );
        assert_eq!(
            out[0].payload::<TradePrint>(),
            TradePrint {
                price: 302_360,
                qty: 20_000,
                trade_id: 338_476_307
            }
        );
        out.clear();
        let mark = br#"{"arg":{"channel":"mark-price","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","instType":"MARGIN","markPx":"30236.17","ts":"1"}]}"#;
        assert_eq!(
            p.parse(mark, 0, None, &mut out).unwrap(),
            Message::Mark { instrument: 5 }
        );
        assert_eq!(out[0].payload::<MarkPrice>().mark, 302_362);
        out.clear();
        let liq = br#"{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"30000.5","ccy":"","posSide":"short","side":"buy","sz":"0.5","ts":"1"}],"instId":"BTC-USDT","instType":"SWAP"}]}"#;
        assert_eq!(
            p.parse(liq, 0, None, &mut out).unwrap(),
            Message::Liquidations { instrument: 5 }
        );
        assert_eq!(out[0].side(), Some(Side::Bid));
        assert_eq!(
            p.parse(
                br#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}"#,
                0,
                None,
                &mut out
            )
            .unwrap(),
            Message::Control
        );
        let bad = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30243.55","1","0","4"]],"bids":[],"ts":"1","checksum":1}]}"#;
        let len = out.len();
        assert_eq!(
            p.parse(bad, 0, None, &mut out).unwrap_err().field(),
            "a.price"
        );
        assert_eq!(out.len(), len);
    }

    proptest! {
        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            let _ = parser().parse(&bytes, 0, None, &mut out);
        }

        #[test]
        fn no_mutation_of_a_real_message_panics(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..200) {
            let base = br#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[["30243.5","1.2112","0","4"]],"bids":[],"ts":"1652459225464","checksum":-914047754}]}"#;
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
