//! Binance (USD-M futures, COIN-M futures, spot) market-data messages.
//!
//! Accepted shapes, bare or inside the combined-stream wrapper
//! `{"stream":…,"data":{…}}`:
//! `depthUpdate` (`U`, `u`, futures also `pu`), the REST depth snapshot
//! (`lastUpdateId`, `bids`, `asks`; futures also `E`/`T`, COIN-M also `symbol`),
//! `bookTicker` (spot sends it without `e`/`E`), `trade`, `aggTrade`,
//! `markPriceUpdate` and `forceOrder`. The three venues share these shapes;
//! only the [`Venue`] stamped on events and the book sync rule differ.

use super::{decimal, ms_to_ns, InstrumentSpec, Instruments, Message, ParseError, VenueParser};
use crate::decimal::Grid;
use crate::json_scan::Scanner;
use crate::wire::{
    Event, EventKind, LiquidationPrint, MarkPrice, PriceLevel, Side, SnapshotInfo, TradePrint,
    Venue,
};

/// Event flag: a price in this event was rounded to the tick grid (mark, index
/// or average fill price, which venues publish finer than the tick).
pub const FLAG_ROUNDED: u8 = 1;

/// Funding rates are carried in units of 1e-9.
fn funding_grid() -> Grid {
    Grid::with_decimals(9)
        .expect("9 decimals is within range")
        .signed()
}

/// Parser for one Binance market (futures or spot) and its instruments.
#[derive(Clone, Debug)]
pub struct BinanceParser {
    venue: Venue,
    instruments: Instruments,
    funding: Grid,
}

/// Everything a Binance message may carry, as raw text or spans.
#[derive(Default)]
struct Fields<'a> {
    event: Option<&'a [u8]>,
    event_time: Option<u64>,
    trade_time: Option<u64>,
    symbol: Option<&'a [u8]>,
    first_id: Option<u64>,
    final_id: Option<u64>,
    prev_final_id: Option<u64>,
    last_update_id: Option<u64>,
    /// `b`: level array (depth) or best bid price (bookTicker).
    b: Option<&'a [u8]>,
    /// `a`: level array (depth), best ask price (bookTicker) or aggregate trade id.
    a: Option<&'a [u8]>,
    /// `b` when it is a string (bookTicker best bid price).
    b_text: Option<&'a [u8]>,
    /// `a` when it is a string (bookTicker best ask price).
    a_text: Option<&'a [u8]>,
    bid_qty: Option<&'a [u8]>,
    ask_qty: Option<&'a [u8]>,
    price: Option<&'a [u8]>,
    qty: Option<&'a [u8]>,
    index: Option<&'a [u8]>,
    funding: Option<&'a [u8]>,
    trade_id: Option<u64>,
    buyer_is_maker: Option<bool>,
    order: Option<&'a [u8]>,
    /// Levels already emitted while scanning (bids, asks), when parsed in place.
    bids_done: Option<usize>,
    asks_done: Option<usize>,
    result_or_id: bool,
}

impl BinanceParser {
    /// A parser stamping `venue` (one of the three Binance venues) on its events.
    pub fn new(venue: Venue, instruments: Instruments) -> Self {
        BinanceParser {
            venue,
            instruments,
            funding: funding_grid(),
        }
    }

    /// The instrument table.
    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    fn resolve<'s>(&'s self, f: &Fields<'_>, hint: Option<&[u8]>) -> Option<&'s InstrumentSpec> {
        match f.symbol {
            Some(sym) => self.instruments.find(sym),
            None => hint
                .and_then(|h| self.instruments.find(h))
                .or_else(|| self.instruments.single()),
        }
    }

    /// Walks one object's keys into `f`; descends into `data`.
    fn collect<'a>(
        &self,
        s: &mut Scanner<'a>,
        f: &mut Fields<'a>,
        hint: Option<&[u8]>,
        out: &mut Vec<Event>,
        nested: bool,
    ) -> Result<(), ParseError> {
        s.begin_object()?;
        let mut first = true;
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"data" if !nested => self.collect(s, f, hint, out, true)?,
                b"e" => f.event = Some(s.string()?),
                b"E" => f.event_time = Some(s.u64()?),
                b"T" => f.trade_time = Some(s.u64()?),
                b"s" | b"symbol" => f.symbol = Some(s.string()?),
                b"U" => f.first_id = Some(s.u64()?),
                b"u" => f.final_id = Some(s.u64()?),
                b"pu" => f.prev_final_id = Some(s.u64()?),
                b"lastUpdateId" => f.last_update_id = Some(s.u64()?),
                b"b" | b"bids" | b"a" | b"asks" => {
                    let bid = key[0] == b'b';
                    let is_book = f.last_update_id.is_some() || f.event == Some(b"depthUpdate");
                    let known_symbol = f.symbol.is_some() || f.last_update_id.is_some();
                    if is_book && known_symbol && s.peek() == Some(b'[') {
                        // Fast path: the instrument is known, emit levels while scanning.
                        let spec = self.resolve(f, hint);
                        let n = match spec {
                            Some(spec) => {
                                self.levels_in_place(s, spec, bid, f.last_update_id.is_some(), out)?
                            }
                            None => {
                                s.skip_value()?;
                                0
                            }
                        };
                        if bid {
                            f.bids_done = Some(n);
                        } else {
                            f.asks_done = Some(n);
                        }
                    } else if s.peek() == Some(b'"') {
                        // bookTicker price: keep the text only.
                        let text = s.string()?;
                        if bid {
                            f.b_text = Some(text);
                        } else {
                            f.a_text = Some(text);
                        }
                    } else {
                        let span = s.value_span()?;
                        if bid {
                            f.b = Some(span);
                        } else {
                            f.a = Some(span);
                        }
                    }
                }
                b"B" => f.bid_qty = Some(s.string()?),
                b"A" => f.ask_qty = Some(s.string()?),
                b"p" => f.price = Some(s.string()?),
                b"q" => f.qty = Some(s.string()?),
                b"i" => f.index = Some(s.string()?),
                b"r" => f.funding = Some(s.string()?),
                b"t" => f.trade_id = Some(s.u64()?),
                b"m" => f.buyer_is_maker = Some(s.bool()?),
                b"o" => f.order = Some(s.value_span()?),
                b"result" | b"id" => {
                    f.result_or_id = true;
                    s.skip_value()?;
                }
                _ => s.skip_value()?,
            }
        }
        Ok(())
    }

    /// Parses a level array at the scanner and appends one event per level.
    #[inline]
    fn levels_in_place(
        &self,
        s: &mut Scanner<'_>,
        spec: &InstrumentSpec,
        bid: bool,
        snapshot: bool,
        out: &mut Vec<Event>,
    ) -> Result<usize, ParseError> {
        let side = if bid { Side::Bid } else { Side::Ask };
        let kind = if snapshot {
            EventKind::SnapshotLevel
        } else {
            EventKind::BookLevel
        };
        let start = out.len();
        s.begin_array()?;
        let mut first = true;
        while s.next_element(&mut first)? {
            if let Some((p, q)) = s.compact_pair() {
                let price = decimal(&spec.price, p, if bid { "b.price" } else { "a.price" })?;
                let qty = decimal(&spec.qty, q, if bid { "b.qty" } else { "a.qty" })?;
                let index = (out.len() - start) as u64;
                out.push(
                    Event::new(kind, self.venue, spec.id, PriceLevel { price, qty, index })
                        .with_side(side),
                );
                continue;
            }
            s.begin_array()?;
            let mut inner = true;
            if !s.next_element(&mut inner)? {
                return Err(ParseError::BadField {
                    field: if bid { "b" } else { "a" },
                    reason: "empty level",
                });
            }
            let p = s.string()?;
            if !s.next_element(&mut inner)? {
                return Err(ParseError::BadField {
                    field: if bid { "b" } else { "a" },
                    reason: "level without quantity",
                });
            }
            let q = s.string()?;
            if s.next_element(&mut inner)? {
                return Err(ParseError::BadField {
                    field: if bid { "b" } else { "a" },
                    reason: "level with extra elements",
                });
            }
            let price = decimal(&spec.price, p, if bid { "b.price" } else { "a.price" })?;
            let qty = decimal(&spec.qty, q, if bid { "b.qty" } else { "a.qty" })?;
            let index = (out.len() - start) as u64;
            out.push(
                Event::new(kind, self.venue, spec.id, PriceLevel { price, qty, index })
                    .with_side(side),
            );
        }
        Ok(out.len() - start)
    }

    fn levels_from_span(
        &self,
        span: &[u8],
        spec: &InstrumentSpec,
        bid: bool,
        snapshot: bool,
        out: &mut Vec<Event>,
    ) -> Result<usize, ParseError> {
        let mut s = Scanner::new(span);
        self.levels_in_place(&mut s, spec, bid, snapshot, out)
    }

    fn parse_message(
        &self,
        message: &[u8],
        receive_ns: i64,
        hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let start = out.len();
        let mut s = Scanner::new(message);
        let mut f = Fields::default();
        // A snapshot's SnapshotBegin must precede its levels: reserve its slot.
        let snapshot_slot = message
            .get(..20)
            .is_some_and(|head| contains(head, b"lastUpdateId"));
        if snapshot_slot {
            out.push(Event::ZERO);
        }
        self.collect(&mut s, &mut f, hint, out, false)?;
        s.end()?;
        let exchange_ns = match f.event_time.or(f.trade_time) {
            Some(ms) => ms_to_ns(ms, "E")?,
            None => 0,
        };

        if let Some(last_update_id) = f.last_update_id {
            if !snapshot_slot {
                out.insert(start, Event::ZERO);
            }
            let Some(spec) = self.resolve(&f, hint) else {
                out.truncate(start);
                return Ok(Message::OtherInstrument);
            };
            let bids = match (f.bids_done, f.b) {
                (Some(n), _) => n,
                (None, Some(span)) => self.levels_from_span(span, spec, true, true, out)?,
                (None, None) => return Err(ParseError::MissingField("bids")),
            };
            let asks = match (f.asks_done, f.a) {
                (Some(n), _) => n,
                (None, Some(span)) => self.levels_from_span(span, spec, false, true, out)?,
                (None, None) => return Err(ParseError::MissingField("asks")),
            };
            let info = SnapshotInfo {
                bid_levels: bids as u64,
                ask_levels: asks as u64,
                reserved: 0,
            };
            out[start] = Event::new(EventKind::SnapshotBegin, self.venue, spec.id, info);
            out.push(Event::new(
                EventKind::SnapshotEnd,
                self.venue,
                spec.id,
                info,
            ));
            stamp(&mut out[start..], last_update_id, exchange_ns, receive_ns);
            return Ok(Message::BookSnapshot {
                instrument: spec.id,
                last_update_id,
                checksum: None,
            });
        }

        let event = match f.event {
            Some(e) => e,
            None if f.final_id.is_some() && f.bid_qty.is_some() => b"bookTicker",
            None if f.result_or_id => return Ok(Message::Control),
            None => return Err(ParseError::MissingField("e")),
        };
        let spec = match event {
            b"forceOrder" => None,
            _ => {
                let sym = f.symbol.ok_or(ParseError::MissingField("s"))?;
                match self.instruments.find(sym) {
                    Some(spec) => Some(spec),
                    None => {
                        if !matches!(
                            event,
                            b"depthUpdate"
                                | b"bookTicker"
                                | b"trade"
                                | b"aggTrade"
                                | b"markPriceUpdate"
                        ) {
                            return Err(ParseError::unknown(event));
                        }
                        out.truncate(start);
                        return Ok(Message::OtherInstrument);
                    }
                }
            }
        };
        match event {
            b"depthUpdate" => {
                let spec = spec.expect("resolved above");
                let final_id = f.final_id.ok_or(ParseError::MissingField("u"))?;
                let first_id = f.first_id.ok_or(ParseError::MissingField("U"))?;
                if first_id > final_id {
                    return Err(ParseError::BadField {
                        field: "U",
                        reason: "first update id after final id",
                    });
                }
                if f.bids_done.is_none() {
                    let span = f.b.ok_or(ParseError::MissingField("b"))?;
                    self.levels_from_span(span, spec, true, false, out)?;
                }
                if f.asks_done.is_none() {
                    let span = f.a.ok_or(ParseError::MissingField("a"))?;
                    self.levels_from_span(span, spec, false, false, out)?;
                }
                stamp(&mut out[start..], final_id, exchange_ns, receive_ns);
                Ok(Message::BookDiff {
                    instrument: spec.id,
                    first_id,
                    final_id,
                    prev_final_id: f.prev_final_id,
                    checksum: None,
                })
            }
            b"bookTicker" => {
                let spec = spec.expect("resolved above");
                let update_id = f.final_id.ok_or(ParseError::MissingField("u"))?;
                let bid_px = decimal(
                    &spec.price,
                    f.b_text.ok_or(ParseError::MissingField("b"))?,
                    "b",
                )?;
                let ask_px = decimal(
                    &spec.price,
                    f.a_text.ok_or(ParseError::MissingField("a"))?,
                    "a",
                )?;
                let bid_qty = decimal(
                    &spec.qty,
                    f.bid_qty.ok_or(ParseError::MissingField("B"))?,
                    "B",
                )?;
                let ask_qty = decimal(
                    &spec.qty,
                    f.ask_qty.ok_or(ParseError::MissingField("A"))?,
                    "A",
                )?;
                out.push(
                    Event::new(
                        EventKind::BookTop,
                        self.venue,
                        spec.id,
                        PriceLevel {
                            price: bid_px,
                            qty: bid_qty,
                            index: 0,
                        },
                    )
                    .with_side(Side::Bid),
                );
                out.push(
                    Event::new(
                        EventKind::BookTop,
                        self.venue,
                        spec.id,
                        PriceLevel {
                            price: ask_px,
                            qty: ask_qty,
                            index: 0,
                        },
                    )
                    .with_side(Side::Ask),
                );
                stamp(&mut out[start..], update_id, exchange_ns, receive_ns);
                Ok(Message::BookTicker {
                    instrument: spec.id,
                    update_id,
                })
            }
            b"trade" | b"aggTrade" => {
                let spec = spec.expect("resolved above");
                let trade_id = if event == b"trade" {
                    f.trade_id.ok_or(ParseError::MissingField("t"))?
                } else {
                    let span = f.a.ok_or(ParseError::MissingField("a"))?;
                    Scanner::new(span).u64().map_err(|_| ParseError::BadField {
                        field: "a",
                        reason: "not an integer id",
                    })?
                };
                let price = decimal(
                    &spec.price,
                    f.price.ok_or(ParseError::MissingField("p"))?,
                    "p",
                )?;
                let qty = decimal(&spec.qty, f.qty.ok_or(ParseError::MissingField("q"))?, "q")?;
                let maker_is_buyer = f.buyer_is_maker.ok_or(ParseError::MissingField("m"))?;
                // The buyer being the maker means the seller took liquidity.
                let aggressor = if maker_is_buyer { Side::Ask } else { Side::Bid };
                out.push(
                    Event::new(
                        EventKind::Trade,
                        self.venue,
                        spec.id,
                        TradePrint {
                            price,
                            qty,
                            trade_id,
                        },
                    )
                    .with_side(aggressor),
                );
                stamp(&mut out[start..], trade_id, exchange_ns, receive_ns);
                Ok(Message::Trades {
                    instrument: spec.id,
                })
            }
            b"markPriceUpdate" => {
                let spec = spec.expect("resolved above");
                let (mark, mark_exact) = rounded(
                    &spec.price,
                    f.price.ok_or(ParseError::MissingField("p"))?,
                    "p",
                )?;
                let (index, index_exact) = match f.index {
                    Some(text) if !text.is_empty() => rounded(&spec.price, text, "i")?,
                    _ => (0, true),
                };
                let funding_rate_e9 = match f.funding {
                    Some(text) if !text.is_empty() => decimal(&self.funding, text, "r")?,
                    _ => 0,
                };
                let mut ev = Event::new(
                    EventKind::MarkPrice,
                    self.venue,
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
                stamp(&mut out[start..], 0, exchange_ns, receive_ns);
                Ok(Message::Mark {
                    instrument: spec.id,
                })
            }
            b"forceOrder" => {
                let span = f.order.ok_or(ParseError::MissingField("o"))?;
                self.force_order(span, exchange_ns, receive_ns, out)
            }
            other => Err(ParseError::unknown(other)),
        }
    }

    fn force_order(
        &self,
        span: &[u8],
        exchange_ns: i64,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        let mut s = Scanner::new(span);
        s.begin_object()?;
        let (mut symbol, mut side, mut price, mut qty, mut avg) = (None, None, None, None, None);
        let mut first = true;
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"s" => symbol = Some(s.string()?),
                b"S" => side = Some(s.string()?),
                b"p" => price = Some(s.string()?),
                b"q" => qty = Some(s.string()?),
                b"ap" => avg = Some(s.string()?),
                _ => s.skip_value()?,
            }
        }
        let symbol = symbol.ok_or(ParseError::MissingField("o.s"))?;
        let Some(spec) = self.instruments.find(symbol) else {
            return Ok(Message::OtherInstrument);
        };
        let side = match side.ok_or(ParseError::MissingField("o.S"))? {
            b"BUY" => Side::Bid,
            b"SELL" => Side::Ask,
            _ => {
                return Err(ParseError::BadField {
                    field: "o.S",
                    reason: "not BUY or SELL",
                })
            }
        };
        let price = decimal(
            &spec.price,
            price.ok_or(ParseError::MissingField("o.p"))?,
            "o.p",
        )?;
        let qty = decimal(
            &spec.qty,
            qty.ok_or(ParseError::MissingField("o.q"))?,
            "o.q",
        )?;
        let (avg_price, exact) = match avg {
            Some(text) => rounded(&spec.price, text, "o.ap")?,
            None => (0, true),
        };
        let mut ev = Event::new(
            EventKind::LiquidationPrint,
            self.venue,
            spec.id,
            LiquidationPrint {
                price,
                qty,
                avg_price,
            },
        )
        .with_side(side)
        .with_times(0, exchange_ns, receive_ns);
        if !exact {
            ev.flags |= FLAG_ROUNDED;
        }
        out.push(ev);
        Ok(Message::Liquidations {
            instrument: spec.id,
        })
    }
}

impl VenueParser for BinanceParser {
    fn parse_events(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        symbol_hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        self.parse_message(message, receive_ns, symbol_hint, out)
    }
}

#[inline]
fn stamp(events: &mut [Event], sequence: u64, exchange_ns: i64, receive_ns: i64) {
    for ev in events {
        ev.sequence = sequence;
        ev.exchange_ns = exchange_ns;
        ev.receive_ns = receive_ns;
    }
}

#[inline]
fn rounded(grid: &Grid, text: &[u8], field: &'static str) -> Result<(i64, bool), ParseError> {
    grid.parse_rounded(text)
        .map_err(|error| ParseError::Decimal { field, error })
}

#[inline]
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usdm() -> BinanceParser {
        let spec = InstrumentSpec::new(
            "BTCUSDT",
            7,
            Grid::with_decimals(2).unwrap(),
            Grid::with_decimals(3).unwrap(),
        );
        BinanceParser::new(Venue::BinanceUsdm, Instruments::new(vec![spec]))
    }

    #[test]
    fn depth_update_in_combined_stream() {
        let msg = br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1723161256299,"T":1723161256298,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["58710.20","0.014"],["61510.90","0.000"]],"a":[["61800.30","2.510"]]}}"#;
        let mut out = Vec::new();
        let msg = usdm().parse(msg, 5, None, &mut out).unwrap();
        assert_eq!(
            msg,
            Message::BookDiff {
                instrument: 7,
                first_id: 10,
                final_id: 12,
                prev_final_id: Some(9),
                checksum: None
            }
        );
        assert_eq!(out.len(), 3);
        let lv: PriceLevel = out[0].payload();
        assert_eq!(
            (lv.price, lv.qty, out[0].side()),
            (5_871_020, 14, Some(Side::Bid))
        );
        let lv: PriceLevel = out[1].payload();
        assert_eq!((lv.price, lv.qty), (6_151_090, 0));
        let lv: PriceLevel = out[2].payload();
        assert_eq!(
            (lv.price, lv.qty, out[2].side()),
            (6_180_030, 2510, Some(Side::Ask))
        );
        assert!(out.iter().all(|e| e.sequence == 12
            && e.receive_ns == 5
            && e.exchange_ns == 1_723_161_256_299_000_000));
    }

    #[test]
    fn snapshot_with_spaces_and_symbol_hint() {
        let msg = br#"{"lastUpdateId": 100, "E": 1, "T": 1, "bids": [["10.00", "1.000"]], "asks": [["10.10", "2.000"], ["10.20", "3.000"]]}"#;
        let mut out = Vec::new();
        let m = usdm().parse(msg, 0, Some(b"btcusdt"), &mut out).unwrap();
        assert_eq!(
            m,
            Message::BookSnapshot {
                instrument: 7,
                last_update_id: 100,
                checksum: None
            }
        );
        let kinds: Vec<_> = out.iter().map(|e| e.kind().unwrap()).collect();
        assert_eq!(kinds[0], EventKind::SnapshotBegin);
        assert_eq!(kinds[4], EventKind::SnapshotEnd);
        let info: SnapshotInfo = out[0].payload();
        assert_eq!((info.bid_levels, info.ask_levels), (1, 2));
    }

    #[test]
    fn ticker_trades_mark_and_liquidation() {
        let mut p = usdm();
        let mut out = Vec::new();
        let spot_style =
            br#"{"u":50,"s":"BTCUSDT","b":"61837.63","B":"3.788","a":"61837.64","A":"1.546"}"#;
        assert_eq!(
            p.parse(spot_style, 0, None, &mut out).unwrap(),
            Message::BookTicker {
                instrument: 7,
                update_id: 50
            }
        );
        assert_eq!(out[1].payload::<PriceLevel>().price, 6_183_764);
        out.clear();
        let trade = br#"{"e":"trade","E":1,"T":1,"s":"BTCUSDT","t":99,"p":"61800.30","q":"0.006","X":"MARKET","m":true}"#;
        p.parse(trade, 0, None, &mut out).unwrap();
        assert_eq!(
            out[0].payload::<TradePrint>(),
            TradePrint {
                price: 6_180_030,
                qty: 6,
                trade_id: 99
            }
        );
        assert_eq!(out[0].side(), Some(Side::Ask));
        out.clear();
        let agg = br#"{"e":"aggTrade","E":1,"a":77,"s":"BTCUSDT","p":"1.00","q":"1.000","f":1,"l":2,"T":1,"m":false}"#;
        p.parse(agg, 0, None, &mut out).unwrap();
        assert_eq!(out[0].payload::<TradePrint>().trade_id, 77);
        assert_eq!(out[0].side(), Some(Side::Bid));
        out.clear();
        let mark = br#"{"e":"markPriceUpdate","E":1680652701000,"s":"BTCUSDT","p":"28147.27373413","P":"1","i":"28159.75","r":"-0.00002754","T":1}"#;
        p.parse(mark, 0, None, &mut out).unwrap();
        assert_eq!(
            out[0].payload::<MarkPrice>(),
            MarkPrice {
                mark: 2_814_727,
                index: 2_815_975,
                funding_rate_e9: -27_540
            }
        );
        assert_eq!(out[0].flags & FLAG_ROUNDED, FLAG_ROUNDED);
        out.clear();
        let liq = br#"{"e":"forceOrder","E":1,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910.00","ap":"9910.00","X":"FILLED","l":"0.014","z":"0.014","T":1}}"#;
        p.parse(liq, 0, None, &mut out).unwrap();
        assert_eq!(
            out[0].payload::<LiquidationPrint>(),
            LiquidationPrint {
                price: 991_000,
                qty: 14,
                avg_price: 991_000
            }
        );
        assert_eq!(out[0].side(), Some(Side::Ask));
    }

    #[test]
    fn bad_messages_are_errors_and_leave_no_events() {
        let mut p = usdm();
        let mut out = Vec::new();
        let cases: [(&[u8], &str); 7] = [
            (
                br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1.001","1"]],"a":[]}"#,
                "b.price",
            ),
            (
                br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["NaN","1"]],"a":[]}"#,
                "b.price",
            ),
            (
                br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1.00","-1"]],"a":[]}"#,
                "b.qty",
            ),
            (
                br#"{"e":"depthUpdate","s":"BTCUSDT","U":"1","u":2,"b":[],"a":[]}"#,
                "<json>",
            ),
            (
                br#"{"e":"depthUpdate","s":"BTCUSDT","U":1,"u":2,"b":[["1.00","1"]],"a":[["2.00""#,
                "<json>",
            ),
            (br#"{"e":"kline","s":"BTCUSDT","k":{}}"#, "event type"),
            (
                br#"{"e":"depthUpdate","s":"BTCUSDT","U":3,"u":2,"b":[],"a":[]}"#,
                "U",
            ),
        ];
        for (msg, field) in cases {
            let err = p.parse(msg, 0, None, &mut out).unwrap_err();
            assert_eq!(err.field(), field, "{err}");
            assert!(out.is_empty());
        }
        let other = br#"{"e":"trade","E":1,"T":1,"s":"ETHUSDT","t":1,"p":"1","q":"1","m":true}"#;
        assert_eq!(
            p.parse(other, 0, None, &mut out).unwrap(),
            Message::OtherInstrument
        );
    }

    proptest! {
        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut out = Vec::new();
            let _ = usdm().parse(&bytes, 0, None, &mut out);
        }

        #[test]
        fn no_mutation_of_a_real_message_panics(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..220) {
            let base = br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["58710.20","0.014"]],"a":[["61800.30","2.510"]]}}"#;
            let mut msg = base.to_vec();
            let pos = pos % msg.len();
            msg[pos] = byte;
            msg.truncate(cut.min(msg.len()));
            let mut out = Vec::new();
            let _ = usdm().parse(&msg, 0, None, &mut out);
        }
    }
}
