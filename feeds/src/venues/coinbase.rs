//! Coinbase market data: Advanced Trade (`channel` frames with a
//! per-connection `sequence_num`) and the older Exchange/Pro feed (`type`
//! frames).
//!
//! Advanced Trade: `l2_data` (`events[]` of `type` snapshot/update with
//! `product_id` and `updates[]` of `{side: bid|offer, price_level,
//! new_quantity}`), `market_trades` (`trades[]`), `ticker` (`tickers[]` with
//! best bid/ask and quantities); `heartbeats`, `subscriptions`, `candles`,
//! `status` are [`Message::Control`]. Every frame's `sequence_num` is kept in
//! [`CoinbaseParser::last_sequence_num`]: it numbers all frames of the
//! connection, so the sync checks it on every frame, not only on book frames.
//!
//! Exchange/Pro: `snapshot` (`bids`/`asks`), `l2update` (`changes[]` of
//! `[buy|sell, price, size]`), `match`/`last_match` (trade, `side` = maker
//! side), `ticker`; `subscriptions`/`heartbeat` are control. These frames have
//! no book sequence.

use super::{decimal, push_levels, InstrumentSpec, Instruments, Message, ParseError, VenueParser};
use crate::json_scan::Scanner;
use crate::wire::{Event, EventKind, PriceLevel, Side, SnapshotInfo, TradePrint, Venue};

/// Parser for Coinbase frames.
#[derive(Clone, Debug)]
pub struct CoinbaseParser {
    instruments: Instruments,
    /// `sequence_num` of the last Advanced Trade frame parsed (any channel).
    pub last_sequence_num: Option<u64>,
}

/// RFC 3339 UTC time (`2026-08-09T21:05:48.483587501Z`) → ns since the epoch.
pub fn rfc3339_to_ns(text: &[u8]) -> Option<i64> {
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            part.iter()
                .fold(0i64, |acc, &d| acc * 10 + (d - b'0') as i64),
        )
    };
    if text.len() < 20
        || text[4] != b'-'
        || text[7] != b'-'
        || text[10] != b'T'
        || text[13] != b':'
        || text[16] != b':'
    {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ns = 0i64;
    if text.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(&c) = text.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if digits < 9 {
                frac_ns = frac_ns * 10 + (c - b'0') as i64;
                digits += 1;
            }
            i += 1;
        }
        for _ in digits..9 {
            frac_ns *= 10;
        }
    }
    if text.get(i..) != Some(b"Z") {
        return None;
    }
    // Days from civil (proleptic Gregorian), after H. Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

fn time_field(text: &[u8], field: &'static str) -> Result<i64, ParseError> {
    rfc3339_to_ns(text).ok_or(ParseError::BadField {
        field,
        reason: "not an RFC 3339 UTC time",
    })
}

impl CoinbaseParser {
    /// A parser for the given products (`BTC-USD`, …).
    pub fn new(instruments: Instruments) -> Self {
        CoinbaseParser {
            instruments,
            last_sequence_num: None,
        }
    }

    fn parse_message(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        self.last_sequence_num = None;
        let mut s = Scanner::new(message);
        s.begin_object()?;
        let mut first = true;
        let (mut channel, mut kind, mut seq, mut events, mut ts) = (None, None, None, None, None);
        let mut done = None;
        // Exchange/Pro fields.
        let (
            mut product,
            mut bids,
            mut asks,
            mut changes,
            mut price,
            mut size,
            mut side,
            mut trade_id,
        ) = (None, None, None, None, None, None, None, None);
        let (mut best_bid, mut best_ask) = (None, None);
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"channel" => channel = Some(s.string()?),
                b"type" => kind = Some(s.string()?),
                b"sequence_num" => seq = Some(s.u64()?),
                // Fast path: channel, sequence and time already seen: parse `events` in place.
                b"events"
                    if channel.is_some() && seq.is_some() && ts.is_some() && done.is_none() =>
                {
                    let exchange_ns = time_field(ts.unwrap_or_default(), "timestamp")?;
                    done = Some(self.channel_events(
                        channel.unwrap_or_default(),
                        seq.unwrap_or(0),
                        exchange_ns,
                        &mut s,
                        receive_ns,
                        out,
                    )?);
                }
                b"events" => events = Some(s.value_span()?),
                b"timestamp" | b"time" => ts = Some(s.string()?),
                b"product_id" => product = Some(s.string()?),
                b"bids" => bids = Some(s.value_span()?),
                b"asks" => asks = Some(s.value_span()?),
                b"changes" => changes = Some(s.value_span()?),
                b"price" => price = Some(s.string()?),
                b"size" => size = Some(s.string()?),
                b"side" => side = Some(s.string()?),
                b"trade_id" => trade_id = Some(s.u64()?),
                b"best_bid" => best_bid = Some(s.string()?),
                b"best_ask" => best_ask = Some(s.string()?),
                _ => s.skip_value()?,
            }
        }
        s.end()?;
        if let Some(message) = done {
            self.last_sequence_num = seq;
            return Ok(message);
        }
        let exchange_ns = match ts {
            Some(t) => time_field(t, "timestamp")?,
            None => 0,
        };
        if let Some(channel) = channel {
            self.last_sequence_num = seq;
            let seq = seq.ok_or(ParseError::MissingField("sequence_num"))?;
            let events = events.ok_or(ParseError::MissingField("events"))?;
            let mut e = Scanner::new(events);
            let message =
                self.channel_events(channel, seq, exchange_ns, &mut e, receive_ns, out)?;
            e.end()?;
            return Ok(message);
        }
        // Exchange/Pro frame.
        let kind = kind.ok_or(ParseError::MissingField("type"))?;
        let spec = match kind {
            b"subscriptions" | b"heartbeat" | b"error" => return Ok(Message::Control),
            b"snapshot" | b"l2update" | b"match" | b"last_match" | b"ticker" => {
                match self
                    .instruments
                    .find(product.ok_or(ParseError::MissingField("product_id"))?)
                {
                    Some(spec) => spec,
                    None => return Ok(Message::OtherInstrument),
                }
            }
            other => return Err(ParseError::unknown(other)),
        };
        let start = out.len();
        match kind {
            b"snapshot" => {
                out.push(Event::ZERO);
                let b = push_levels(
                    &mut Scanner::new(bids.ok_or(ParseError::MissingField("bids"))?),
                    spec,
                    Venue::Coinbase,
                    Side::Bid,
                    EventKind::SnapshotLevel,
                    out,
                )?;
                let a = push_levels(
                    &mut Scanner::new(asks.ok_or(ParseError::MissingField("asks"))?),
                    spec,
                    Venue::Coinbase,
                    Side::Ask,
                    EventKind::SnapshotLevel,
                    out,
                )?;
                let info = SnapshotInfo {
                    bid_levels: b as u64,
                    ask_levels: a as u64,
                    reserved: 0,
                };
                out[start] = Event::new(EventKind::SnapshotBegin, Venue::Coinbase, spec.id, info);
                out.push(Event::new(
                    EventKind::SnapshotEnd,
                    Venue::Coinbase,
                    spec.id,
                    info,
                ));
                stamp(&mut out[start..], 0, exchange_ns, receive_ns);
                Ok(Message::BookSnapshot {
                    instrument: spec.id,
                    last_update_id: 0,
                    checksum: None,
                })
            }
            b"l2update" => {
                let mut c = Scanner::new(changes.ok_or(ParseError::MissingField("changes"))?);
                c.begin_array()?;
                let mut f = true;
                while c.next_element(&mut f)? {
                    c.begin_array()?;
                    let mut g = true;
                    let mut parts = [&b""[..]; 3];
                    for part in parts.iter_mut() {
                        if !c.next_element(&mut g)? {
                            return Err(ParseError::BadField {
                                field: "changes",
                                reason: "expected [side, price, size]",
                            });
                        }
                        *part = c.string()?;
                    }
                    if c.next_element(&mut g)? {
                        return Err(ParseError::BadField {
                            field: "changes",
                            reason: "expected [side, price, size]",
                        });
                    }
                    let side = match parts[0] {
                        b"buy" => Side::Bid,
                        b"sell" => Side::Ask,
                        _ => {
                            return Err(ParseError::BadField {
                                field: "changes.side",
                                reason: "not buy or sell",
                            })
                        }
                    };
                    let level = PriceLevel {
                        price: decimal(&spec.price, parts[1], "changes.price")?,
                        qty: decimal(&spec.qty, parts[2], "changes.size")?,
                        index: 0,
                    };
                    out.push(
                        Event::new(EventKind::BookLevel, Venue::Coinbase, spec.id, level)
                            .with_side(side),
                    );
                }
                stamp(&mut out[start..], 0, exchange_ns, receive_ns);
                Ok(Message::BookDiff {
                    instrument: spec.id,
                    first_id: 0,
                    final_id: 0,
                    prev_final_id: None,
                    checksum: None,
                })
            }
            b"match" | b"last_match" => {
                let price = decimal(
                    &spec.price,
                    price.ok_or(ParseError::MissingField("price"))?,
                    "price",
                )?;
                let qty = decimal(
                    &spec.qty,
                    size.ok_or(ParseError::MissingField("size"))?,
                    "size",
                )?;
                // `side` is the maker's side: the aggressor is the other one.
                let maker = match side.ok_or(ParseError::MissingField("side"))? {
                    b"buy" => Side::Bid,
                    b"sell" => Side::Ask,
                    _ => {
                        return Err(ParseError::BadField {
                            field: "side",
                            reason: "not buy or sell",
                        })
                    }
                };
                let trade_id = trade_id.unwrap_or(0);
                out.push(
                    Event::new(
                        EventKind::Trade,
                        Venue::Coinbase,
                        spec.id,
                        TradePrint {
                            price,
                            qty,
                            trade_id,
                        },
                    )
                    .with_side(maker.opposite())
                    .with_times(trade_id, exchange_ns, receive_ns),
                );
                Ok(Message::Trades {
                    instrument: spec.id,
                })
            }
            _ => {
                // ticker: best prices only (no quantities in this feed); qty 0 means unknown.
                for (side, px) in [(Side::Bid, best_bid), (Side::Ask, best_ask)] {
                    if let Some(px) = px {
                        let price = decimal(&spec.price, px, "best_bid/best_ask")?;
                        out.push(
                            Event::new(
                                EventKind::BookTop,
                                Venue::Coinbase,
                                spec.id,
                                PriceLevel {
                                    price,
                                    qty: 0,
                                    index: 0,
                                },
                            )
                            .with_side(side)
                            .with_times(0, exchange_ns, receive_ns),
                        );
                    }
                }
                Ok(Message::Ticker {
                    instrument: spec.id,
                })
            }
        }
    }

    /// Parses an Advanced Trade frame's `events` at the scanner by channel.
    fn channel_events(
        &self,
        channel: &[u8],
        seq: u64,
        exchange_ns: i64,
        s: &mut Scanner<'_>,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        match channel {
            b"l2_data" | b"level2" => self.l2_events(s, seq, exchange_ns, receive_ns, out),
            b"market_trades" => self.trade_events(s, exchange_ns, receive_ns, out),
            b"ticker" | b"ticker_batch" => self.ticker_events(s, exchange_ns, receive_ns, out),
            b"heartbeats" | b"subscriptions" | b"candles" | b"status" => {
                s.skip_value()?;
                Ok(Message::Control)
            }
            other => Err(ParseError::unknown(other)),
        }
    }

    fn l2_events(
        &self,
        s: &mut Scanner<'_>,
        seq: u64,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        s.begin_array()?;
        let mut first = true;
        let mut result = Message::OtherInstrument;
        while s.next_element(&mut first)? {
            s.begin_object()?;
            let mut f = true;
            let (mut kind, mut product, mut updates) = (None, None, None);
            let mut handled = false;
            while let Some(key) = s.next_key(&mut f)? {
                match key {
                    b"type" => kind = Some(s.string()?),
                    b"product_id" => product = Some(s.string()?),
                    // Fast path: type and product already seen: read the levels in place.
                    b"updates" if kind.is_some() && product.is_some() && !handled => {
                        handled = true;
                        self.l2_event(
                            kind,
                            product,
                            s,
                            seq,
                            exchange_ns,
                            receive_ns,
                            out,
                            &mut result,
                        )?;
                    }
                    b"updates" => updates = Some(s.value_span()?),
                    _ => s.skip_value()?,
                }
            }
            if !handled {
                let span = updates.ok_or(ParseError::MissingField("events.updates"))?;
                let mut u = Scanner::new(span);
                self.l2_event(
                    kind,
                    product,
                    &mut u,
                    seq,
                    exchange_ns,
                    receive_ns,
                    out,
                    &mut result,
                )?;
                u.end()?;
            }
        }
        Ok(result)
    }

    /// One `l2_data` event: its `updates` array is at the scanner.
    #[allow(clippy::too_many_arguments)]
    fn l2_event(
        &self,
        kind: Option<&[u8]>,
        product: Option<&[u8]>,
        s: &mut Scanner<'_>,
        seq: u64,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
        result: &mut Message,
    ) -> Result<(), ParseError> {
        let snapshot = match kind.ok_or(ParseError::MissingField("events.type"))? {
            b"snapshot" => true,
            b"update" => false,
            _ => {
                return Err(ParseError::BadField {
                    field: "events.type",
                    reason: "not snapshot or update",
                })
            }
        };
        let Some(spec) = self
            .instruments
            .find(product.ok_or(ParseError::MissingField("events.product_id"))?)
        else {
            return Ok(s.skip_value()?);
        };
        if !matches!(result, Message::OtherInstrument) {
            return Err(ParseError::BadField {
                field: "events",
                reason: "two book events for one product in a frame",
            });
        }
        let start = out.len();
        if snapshot {
            out.push(Event::ZERO);
        }
        let (bids, asks) = self.l2_updates(s, spec, snapshot, out)?;
        if snapshot {
            let info = SnapshotInfo {
                bid_levels: bids,
                ask_levels: asks,
                reserved: 0,
            };
            out[start] = Event::new(EventKind::SnapshotBegin, Venue::Coinbase, spec.id, info);
            out.push(Event::new(
                EventKind::SnapshotEnd,
                Venue::Coinbase,
                spec.id,
                info,
            ));
        }
        stamp(&mut out[start..], seq, exchange_ns, receive_ns);
        *result = if snapshot {
            Message::BookSnapshot {
                instrument: spec.id,
                last_update_id: seq,
                checksum: None,
            }
        } else {
            Message::BookDiff {
                instrument: spec.id,
                first_id: seq,
                final_id: seq,
                prev_final_id: None,
                checksum: None,
            }
        };
        Ok(())
    }

    fn l2_updates(
        &self,
        s: &mut Scanner<'_>,
        spec: &InstrumentSpec,
        snapshot: bool,
        out: &mut Vec<Event>,
    ) -> Result<(u64, u64), ParseError> {
        let kind = if snapshot {
            EventKind::SnapshotLevel
        } else {
            EventKind::BookLevel
        };
        s.begin_array()?;
        let mut first = true;
        let (mut bids, mut asks) = (0u64, 0u64);
        while s.next_element(&mut first)? {
            s.begin_object()?;
            let mut f = true;
            let (mut side, mut price, mut qty) = (None, None, None);
            while let Some(key) = s.next_key(&mut f)? {
                match key {
                    b"side" => side = Some(s.string()?),
                    b"price_level" => price = Some(s.string()?),
                    b"new_quantity" => qty = Some(s.string()?),
                    _ => s.skip_value()?,
                }
            }
            let side = match side.ok_or(ParseError::MissingField("updates.side"))? {
                b"bid" => Side::Bid,
                b"offer" | b"ask" => Side::Ask,
                _ => {
                    return Err(ParseError::BadField {
                        field: "updates.side",
                        reason: "not bid or offer",
                    })
                }
            };
            let index = if side == Side::Bid { bids } else { asks };
            let level = PriceLevel {
                price: decimal(
                    &spec.price,
                    price.ok_or(ParseError::MissingField("updates.price_level"))?,
                    "updates.price_level",
                )?,
                qty: decimal(
                    &spec.qty,
                    qty.ok_or(ParseError::MissingField("updates.new_quantity"))?,
                    "updates.new_quantity",
                )?,
                index,
            };
            if side == Side::Bid {
                bids += 1
            } else {
                asks += 1
            }
            out.push(Event::new(kind, Venue::Coinbase, spec.id, level).with_side(side));
        }
        Ok((bids, asks))
    }

    fn trade_events(
        &self,
        s: &mut Scanner<'_>,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        self.records(s, b"trades", exchange_ns, receive_ns, out, true)
    }

    fn ticker_events(
        &self,
        s: &mut Scanner<'_>,
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        self.records(s, b"tickers", exchange_ns, receive_ns, out, false)
    }

    /// `events[].trades[]` or `events[].tickers[]`.
    fn records(
        &self,
        s: &mut Scanner<'_>,
        list: &[u8],
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
        trades: bool,
    ) -> Result<Message, ParseError> {
        s.begin_array()?;
        let mut first = true;
        let (mut instrument, mut other) = (None, false);
        while s.next_element(&mut first)? {
            s.begin_object()?;
            let mut f = true;
            while let Some(key) = s.next_key(&mut f)? {
                if key != list {
                    s.skip_value()?;
                    continue;
                }
                s.begin_array()?;
                let mut g = true;
                while s.next_element(&mut g)? {
                    s.begin_object()?;
                    let mut h = true;
                    let (mut product, mut price, mut size, mut side, mut id, mut time) =
                        (None, None, None, None, None, None);
                    let (mut bid, mut bid_q, mut ask, mut ask_q) = (None, None, None, None);
                    while let Some(k) = s.next_key(&mut h)? {
                        match k {
                            b"product_id" => product = Some(s.string()?),
                            b"price" => price = Some(s.string()?),
                            b"size" => size = Some(s.string()?),
                            b"side" => side = Some(s.string()?),
                            b"trade_id" => id = Some(s.string()?),
                            b"time" => time = Some(s.string()?),
                            b"best_bid" => bid = Some(s.string()?),
                            b"best_bid_quantity" => bid_q = Some(s.string()?),
                            b"best_ask" => ask = Some(s.string()?),
                            b"best_ask_quantity" => ask_q = Some(s.string()?),
                            _ => s.skip_value()?,
                        }
                    }
                    let Some(spec) = self
                        .instruments
                        .find(product.ok_or(ParseError::MissingField("product_id"))?)
                    else {
                        other = true;
                        continue;
                    };
                    instrument = Some(spec.id);
                    if trades {
                        let price = decimal(
                            &spec.price,
                            price.ok_or(ParseError::MissingField("price"))?,
                            "price",
                        )?;
                        let qty = decimal(
                            &spec.qty,
                            size.ok_or(ParseError::MissingField("size"))?,
                            "size",
                        )?;
                        let side = match side.ok_or(ParseError::MissingField("side"))? {
                            b"BUY" => Side::Bid,
                            b"SELL" => Side::Ask,
                            _ => {
                                return Err(ParseError::BadField {
                                    field: "side",
                                    reason: "not BUY or SELL",
                                })
                            }
                        };
                        let trade_id = match id {
                            Some(text) => {
                                Scanner::new(text).u64().map_err(|_| ParseError::BadField {
                                    field: "trade_id",
                                    reason: "not an integer",
                                })?
                            }
                            None => 0,
                        };
                        let exch = match time {
                            Some(t) => time_field(t, "time")?,
                            None => exchange_ns,
                        };
                        out.push(
                            Event::new(
                                EventKind::Trade,
                                Venue::Coinbase,
                                spec.id,
                                TradePrint {
                                    price,
                                    qty,
                                    trade_id,
                                },
                            )
                            .with_side(side)
                            .with_times(trade_id, exch, receive_ns),
                        );
                    } else {
                        for (side, px, q, pf, qf) in [
                            (Side::Bid, bid, bid_q, "best_bid", "best_bid_quantity"),
                            (Side::Ask, ask, ask_q, "best_ask", "best_ask_quantity"),
                        ] {
                            if let (Some(px), Some(q)) = (px, q) {
                                let level = PriceLevel {
                                    price: decimal(&spec.price, px, pf)?,
                                    qty: decimal(&spec.qty, q, qf)?,
                                    index: 0,
                                };
                                out.push(
                                    Event::new(EventKind::BookTop, Venue::Coinbase, spec.id, level)
                                        .with_side(side)
                                        .with_times(0, exchange_ns, receive_ns),
                                );
                            }
                        }
                    }
                }
            }
        }
        Ok(match instrument {
            Some(instrument) if trades => Message::Trades { instrument },
            Some(instrument) => Message::Ticker { instrument },
            None if other => Message::OtherInstrument,
            None => Message::Control,
        })
    }
}

fn stamp(events: &mut [Event], sequence: u64, exchange_ns: i64, receive_ns: i64) {
    for ev in events {
        ev.sequence = sequence;
        ev.exchange_ns = exchange_ns;
        ev.receive_ns = receive_ns;
    }
}

impl VenueParser for CoinbaseParser {
    fn parse_events(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        _symbol_hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        self.parse_message(message, receive_ns, out)
    }

    fn connection_sequence(&self) -> Option<u64> {
        self.last_sequence_num
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::Grid;
    use proptest::prelude::*;

    fn parser() -> CoinbaseParser {
        let spec = InstrumentSpec::new(
            "BTC-USD",
            6,
            Grid::with_decimals(2).unwrap(),
            Grid::with_decimals(8).unwrap(),
        );
        CoinbaseParser::new(Instruments::new(vec![spec]))
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_to_ns(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_to_ns(b"2021-04-17T16:43:37.075687Z"),
            Some(1_618_677_817_075_687_000)
        );
        assert_eq!(
            rfc3339_to_ns(b"2026-08-09T21:05:48.483587501Z"),
            Some(1_786_309_548_483_587_501)
        );
        assert_eq!(rfc3339_to_ns(b"2026-13-09T21:05:48Z"), None);
        assert_eq!(rfc3339_to_ns(b"2026-08-09 21:05:48Z"), None);
    }

    #[test]
    fn advanced_trade_frames() {
        let mut p = parser();
        let mut out = Vec::new();
        let snap = br#"{"channel":"l2_data","timestamp":"2026-08-09T21:05:48.483587501Z","sequence_num":13,"events":[{"type":"snapshot","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"x","price_level":"65083.66","new_quantity":"0.20371215"},{"side":"offer","event_time":"x","price_level":"65083.67","new_quantity":"1"}]}]}"#;
        assert_eq!(
            p.parse(snap, 0, None, &mut out).unwrap(),
            Message::BookSnapshot {
                instrument: 6,
                last_update_id: 13,
                checksum: None
            }
        );
        assert_eq!(out.len(), 4);
        assert_eq!(p.connection_sequence(), Some(13));
        out.clear();
        let hb = br#"{"channel":"heartbeats","timestamp":"2026-08-09T21:05:48.856364007Z","sequence_num":35,"events":[{"current_time":"x","heartbeat_counter":41691}]}"#;
        assert_eq!(p.parse(hb, 0, None, &mut out).unwrap(), Message::Control);
        assert_eq!(p.connection_sequence(), Some(35));
        let trade = br#"{"channel":"market_trades","timestamp":"2026-08-09T21:05:48.251397169Z","sequence_num":9,"events":[{"type":"update","trades":[{"product_id":"BTC-USD","trade_id":"1068572091","price":"65083.67","size":"0.01034361","time":"2026-08-09T21:05:48.167634Z","side":"SELL"}]}]}"#;
        assert_eq!(
            p.parse(trade, 0, None, &mut out).unwrap(),
            Message::Trades { instrument: 6 }
        );
        assert_eq!(
            out[0].payload::<TradePrint>(),
            TradePrint {
                price: 6_508_367,
                qty: 1_034_361,
                trade_id: 1_068_572_091
            }
        );
        out.clear();
        let bad = br#"{"channel":"l2_data","timestamp":"2026-08-09T21:05:48Z","sequence_num":14,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"bid","price_level":"1.001","new_quantity":"1"}]}]}"#;
        assert_eq!(
            p.parse(bad, 0, None, &mut out).unwrap_err().field(),
            "updates.price_level"
        );
        assert!(out.is_empty());
    }

    #[test]
    fn exchange_frames() {
        let mut p = parser();
        let mut out = Vec::new();
        let upd = br#"{"type":"l2update","product_id":"BTC-USD","changes":[["sell","60000.01","0.5"],["buy","59999.00","0"]],"time":"2021-04-17T16:43:37.075687Z"}"#;
        assert!(matches!(
            p.parse(upd, 0, None, &mut out).unwrap(),
            Message::BookDiff { instrument: 6, .. }
        ));
        assert_eq!(
            (out[0].side(), out[1].side()),
            (Some(Side::Ask), Some(Side::Bid))
        );
        out.clear();
        let m = br#"{"type":"match","trade_id":280232,"side":"sell","size":"985","price":"1.00","product_id":"BTC-USD","sequence":1,"time":"2021-04-17T16:43:37.089723Z"}"#;
        p.parse(m, 0, None, &mut out).unwrap();
        assert_eq!(
            out[0].side(),
            Some(Side::Bid),
            "a sell maker was hit by a buyer"
        );
    }

    proptest! {
        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            let _ = parser().parse(&bytes, 0, None, &mut out);
            let _ = rfc3339_to_ns(&bytes);
        }
    }
}
