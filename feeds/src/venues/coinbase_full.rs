//! Coinbase Exchange `full` channel (level 3, order by order) and the level-3
//! REST book (`GET /products/<id>/book?level=3`).
//!
//! Every `full` message carries the product's own `sequence`. Mapping to wire
//! events (payload [`OrderRef`], event `sequence` = the message's `sequence`):
//!
//! | message                          | events                                              |
//! |----------------------------------|-----------------------------------------------------|
//! | `received`                       | none (not on the book yet; counted)                 |
//! | `open`                           | `OrderAdd {id, price, remaining_size}`              |
//! | `done` (`filled` or `canceled`)  | `OrderCancel {id, price, qty: 0}` (0 = remove all)  |
//! | `match`                          | `OrderExecute {maker id, price, size}` + `Trade`    |
//! | `change`                         | `OrderModify {id, new_price or price, new_size}`    |
//! | `activate`                       | none, [`FullMessage::Other`] (stop orders, no seq)  |
//!
//! Market orders carry no `price`: their `done`/`change` produce no event (they
//! never rest on the book) and are counted in [`FullStats::unpriced`].
//! Anything else (heartbeats, `l2update`, `ticker`, …) goes to the ordinary
//! [`CoinbaseParser`], so a recording that mixes channels parses in one pass.
//!
//! ## Order ids
//!
//! Coinbase order ids are UUIDs (128 bits). The wire carries a `u64`, so the id
//! is a 64-bit mix of the UUID ([`order_id_of`]): a pure function, so a message
//! parsed before the REST snapshot and the snapshot itself agree on the id
//! without shared state. Collisions are detected by an [`OrderIdTable`]: a
//! preallocated open-addressing table of the UUIDs of orders on the book
//! (inserted at `open` and from snapshots, removed at `done`); a different UUID
//! with the same 64-bit id is refused as [`ParseError::BadField`]
//! (`order_id`, "64-bit order id collision"), and a full table is refused the
//! same way ("order id table full"): both are errors the caller resyncs on.
//! No allocation happens per message. The table restarts at each snapshot (it
//! then holds exactly the snapshot's orders), which is exact for one parser per
//! product, the intended use.

use super::coinbase::{rfc3339_to_ns, CoinbaseParser};
use super::{decimal, InstrumentSpec, Instruments, Message, ParseError, VenueParser};
use crate::json_scan::Scanner;
use crate::wire::{Event, EventKind, OrderRef, Side, SnapshotInfo, TradePrint, Venue};

/// Live orders the default parser can track for collision detection.
pub const DEFAULT_MAX_ORDERS: usize = 1 << 18;

/// Parses a canonical textual UUID (`8-4-4-4-12` hex digits) into 128 bits.
pub fn parse_uuid(text: &[u8]) -> Option<u128> {
    if text.len() != 36 {
        return None;
    }
    let mut value = 0u128;
    for (i, &c) in text.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | digit as u128;
    }
    Some(value)
}

#[inline]
fn mix64(mut x: u64) -> u64 {
    // SplitMix64 finaliser: every input bit affects every output bit.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The 64-bit wire order id of a 128-bit UUID (a fixed mix of both halves).
#[inline]
pub fn order_id_of(uuid: u128) -> u64 {
    mix64((uuid >> 64) as u64 ^ mix64(uuid as u64))
}

/// Why the order id table refused a UUID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdError {
    /// Another live UUID has the same 64-bit id.
    Collision,
    /// The table holds its maximum number of live orders.
    Full,
}

impl From<IdError> for ParseError {
    fn from(e: IdError) -> Self {
        ParseError::BadField {
            field: "order_id",
            reason: match e {
                IdError::Collision => "64-bit order id collision",
                IdError::Full => "order id table full",
            },
        }
    }
}

/// Open-addressing (linear probing, backward-shift deletion) set of live order
/// UUIDs, keyed by their 64-bit id. Capacity fixed at construction: twice the
/// maximum number of live orders, rounded up to a power of two, so probes stay
/// short; never reallocates.
#[derive(Clone, Debug)]
pub struct OrderIdTable {
    /// UUID per slot; 0 = empty (the nil UUID is refused as an order id).
    uuids: Vec<u128>,
    mask: usize,
    len: usize,
    max_len: usize,
}

impl OrderIdTable {
    /// A table for at most `max_orders` live orders.
    pub fn new(max_orders: usize) -> Self {
        let max_len = max_orders.max(1);
        let slots = (max_len * 2).next_power_of_two();
        OrderIdTable {
            uuids: vec![0; slots],
            mask: slots - 1,
            len: 0,
            max_len,
        }
    }

    /// Live orders held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no order is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum live orders.
    pub fn capacity(&self) -> usize {
        self.max_len
    }

    /// Forgets every order (O(slots)).
    pub fn clear(&mut self) {
        self.uuids.fill(0);
        self.len = 0;
    }

    /// Slot holding `uuid`, or the empty slot ending its probe; errors on a
    /// different UUID with the same 64-bit id.
    #[inline]
    fn probe(&self, uuid: u128, id: u64) -> Result<(usize, bool), IdError> {
        let mut i = id as usize & self.mask;
        loop {
            let held = self.uuids[i];
            if held == 0 {
                return Ok((i, false));
            }
            if held == uuid {
                return Ok((i, true));
            }
            if order_id_of(held) == id {
                return Err(IdError::Collision);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds a live order (idempotent); returns its id.
    pub fn insert(&mut self, uuid: u128) -> Result<u64, IdError> {
        let id = order_id_of(uuid);
        let (slot, found) = self.probe(uuid, id)?;
        if !found {
            if self.len == self.max_len {
                return Err(IdError::Full);
            }
            self.uuids[slot] = uuid;
            self.len += 1;
        }
        Ok(id)
    }

    /// The id of `uuid`, checking it against the live orders.
    pub fn check(&self, uuid: u128) -> Result<u64, IdError> {
        let id = order_id_of(uuid);
        self.probe(uuid, id)?;
        Ok(id)
    }

    /// Removes `uuid` if held; returns its id.
    pub fn remove(&mut self, uuid: u128) -> Result<u64, IdError> {
        let id = order_id_of(uuid);
        let (mut hole, found) = self.probe(uuid, id)?;
        if !found {
            return Ok(id);
        }
        self.len -= 1;
        // Backward shift: pull later entries of the cluster into the hole when
        // their home slot is not inside (hole, their slot].
        let mut i = hole;
        loop {
            i = (i + 1) & self.mask;
            let held = self.uuids[i];
            if held == 0 {
                break;
            }
            let home = order_id_of(held) as usize & self.mask;
            let distance_home = i.wrapping_sub(home) & self.mask;
            let distance_hole = i.wrapping_sub(hole) & self.mask;
            if distance_home >= distance_hole {
                self.uuids[hole] = held;
                hole = i;
            }
        }
        self.uuids[hole] = 0;
        Ok(id)
    }
}

/// What a parsed message was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FullMessage {
    /// A `full` channel message with its product `sequence`; events are the
    /// L3 events (none for `received` and unpriced orders).
    Order {
        /// gavel instrument id.
        instrument: u32,
        /// The product's sequence number.
        sequence: u64,
    },
    /// A level-3 REST book: `SnapshotBegin`, one `OrderAdd` per order (bids
    /// then asks), `SnapshotEnd`.
    Snapshot {
        /// gavel instrument id.
        instrument: u32,
        /// The sequence the book is consistent with.
        sequence: u64,
    },
    /// Anything else, as the level-2 parser saw it.
    Other(Message),
}

/// Counters of the full-channel parser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FullStats {
    /// `received` messages (orders not yet on the book).
    pub received: u64,
    /// `done`/`change` messages without a price (market orders): no event.
    pub unpriced: u64,
    /// Level-3 snapshots parsed.
    pub snapshots: u64,
}

/// Parser for the `full` channel, level-3 REST books, and (delegated) every
/// other Coinbase message.
#[derive(Clone, Debug)]
pub struct CoinbaseFullParser {
    instruments: Instruments,
    level2: CoinbaseParser,
    ids: OrderIdTable,
    /// Counters.
    pub stats: FullStats,
}

#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a [u8]>,
    product: Option<&'a [u8]>,
    sequence: Option<u64>,
    time: Option<&'a [u8]>,
    order_id: Option<&'a [u8]>,
    maker_order_id: Option<&'a [u8]>,
    side: Option<&'a [u8]>,
    price: Option<&'a [u8]>,
    new_price: Option<&'a [u8]>,
    size: Option<&'a [u8]>,
    new_size: Option<&'a [u8]>,
    remaining_size: Option<&'a [u8]>,
    trade_id: Option<u64>,
    reason: Option<&'a [u8]>,
    bids: Option<&'a [u8]>,
    asks: Option<&'a [u8]>,
}

fn side_of(text: Option<&[u8]>) -> Result<Side, ParseError> {
    match text.ok_or(ParseError::MissingField("side"))? {
        b"buy" => Ok(Side::Bid),
        b"sell" => Ok(Side::Ask),
        _ => Err(ParseError::BadField {
            field: "side",
            reason: "not buy or sell",
        }),
    }
}

fn uuid_field(text: Option<&[u8]>, field: &'static str) -> Result<u128, ParseError> {
    match parse_uuid(text.ok_or(ParseError::MissingField(field))?) {
        Some(u) if u != 0 => Ok(u),
        _ => Err(ParseError::BadField {
            field,
            reason: "not a non-nil UUID",
        }),
    }
}

impl CoinbaseFullParser {
    /// A parser for the given products tracking up to [`DEFAULT_MAX_ORDERS`] live orders.
    pub fn new(instruments: Instruments) -> Self {
        Self::with_max_orders(instruments, DEFAULT_MAX_ORDERS)
    }

    /// A parser whose order id table holds up to `max_orders` live orders.
    pub fn with_max_orders(instruments: Instruments, max_orders: usize) -> Self {
        CoinbaseFullParser {
            level2: CoinbaseParser::new(instruments.clone()),
            instruments,
            ids: OrderIdTable::new(max_orders),
            stats: FullStats::default(),
        }
    }

    /// The live-order table (for its size and capacity).
    pub fn order_ids(&self) -> &OrderIdTable {
        &self.ids
    }

    /// Parses one message. `product_hint` names the product of a REST book
    /// (which carries none); without it the only instrument is assumed. On
    /// error `out` is restored to its length before the call.
    pub fn parse_full(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        product_hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<FullMessage, ParseError> {
        let start = out.len();
        let result = self.parse_inner(message, receive_ns, product_hint, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn parse_inner(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        product_hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<FullMessage, ParseError> {
        let mut s = Scanner::new(message);
        s.begin_object()?;
        let mut first = true;
        let mut f = Fields::default();
        while let Some(key) = s.next_key(&mut first)? {
            match key {
                b"type" => f.kind = Some(s.string()?),
                b"product_id" => f.product = Some(s.string()?),
                b"sequence" => f.sequence = Some(s.u64()?),
                b"time" => f.time = Some(s.string()?),
                b"order_id" => f.order_id = Some(s.string()?),
                b"maker_order_id" => f.maker_order_id = Some(s.string()?),
                b"side" => f.side = Some(s.string()?),
                b"price" => f.price = Some(s.string()?),
                b"new_price" => f.new_price = Some(s.string()?),
                b"size" => f.size = Some(s.string()?),
                b"new_size" => f.new_size = Some(s.string()?),
                b"remaining_size" => f.remaining_size = Some(s.string()?),
                b"trade_id" => f.trade_id = Some(s.u64()?),
                b"reason" => f.reason = Some(s.string()?),
                b"bids" => f.bids = Some(s.value_span()?),
                b"asks" => f.asks = Some(s.value_span()?),
                _ => s.skip_value()?,
            }
        }
        s.end()?;
        let full = match f.kind {
            None => return self.rest_book(&f, product_hint, receive_ns, out),
            Some(b"received" | b"open" | b"done" | b"change") => true,
            Some(b"match") => f.maker_order_id.is_some(),
            Some(b"activate") => return Ok(FullMessage::Other(Message::Control)),
            Some(_) => false,
        };
        if !full {
            return self
                .level2
                .parse(message, receive_ns, None, out)
                .map(FullMessage::Other);
        }
        let kind = f.kind.unwrap_or_default();
        let product = f.product.ok_or(ParseError::MissingField("product_id"))?;
        let Some(spec) = self.instruments.find(product) else {
            return Ok(FullMessage::Other(Message::OtherInstrument));
        };
        let sequence = f.sequence.ok_or(ParseError::MissingField("sequence"))?;
        let exchange_ns = match f.time {
            Some(t) => rfc3339_to_ns(t).ok_or(ParseError::BadField {
                field: "time",
                reason: "not an RFC 3339 UTC time",
            })?,
            None => 0,
        };
        let side = side_of(f.side)?;
        let id = spec.id;
        let event = |kind: EventKind, order: OrderRef, side: Side| {
            Event::new(kind, Venue::Coinbase, id, order)
                .with_side(side)
                .with_times(sequence, exchange_ns, receive_ns)
        };
        match kind {
            b"received" => {
                // Validate what we rely on later, then count: no book change.
                uuid_field(f.order_id, "order_id")?;
                self.stats.received += 1;
            }
            b"open" => {
                let uuid = uuid_field(f.order_id, "order_id")?;
                let price = price_of(spec, f.price, "price")?;
                let qty = qty_of(spec, f.remaining_size, "remaining_size")?;
                let order_id = self.ids.insert(uuid)?;
                out.push(event(EventKind::OrderAdd, OrderRef { order_id, price, qty }, side));
            }
            b"done" => {
                let uuid = uuid_field(f.order_id, "order_id")?;
                match f.reason {
                    Some(b"filled" | b"canceled") => {}
                    Some(_) => {
                        return Err(ParseError::BadField {
                            field: "reason",
                            reason: "not filled or canceled",
                        })
                    }
                    None => return Err(ParseError::MissingField("reason")),
                }
                let order_id = self.ids.remove(uuid)?;
                match f.price {
                    None => self.stats.unpriced += 1,
                    Some(p) => {
                        let price = decimal(&spec.price, p, "price")?;
                        out.push(event(
                            EventKind::OrderCancel,
                            OrderRef {
                                order_id,
                                price,
                                qty: 0,
                            },
                            side,
                        ));
                    }
                }
            }
            b"match" => {
                let maker = uuid_field(f.maker_order_id, "maker_order_id")?;
                let price = price_of(spec, f.price, "price")?;
                let qty = qty_of(spec, f.size, "size")?;
                let order_id = self.ids.check(maker)?;
                let trade_id = f.trade_id.unwrap_or(0);
                out.push(event(EventKind::OrderExecute, OrderRef { order_id, price, qty }, side));
                // `side` is the maker's: the aggressor is on the other side.
                out.push(
                    Event::new(
                        EventKind::Trade,
                        Venue::Coinbase,
                        id,
                        TradePrint { price, qty, trade_id },
                    )
                    .with_side(side.opposite())
                    .with_times(sequence, exchange_ns, receive_ns),
                );
            }
            _ => {
                // change
                let uuid = uuid_field(f.order_id, "order_id")?;
                let order_id = self.ids.check(uuid)?;
                match (f.new_price.or(f.price), f.new_size) {
                    (Some(p), Some(q)) => {
                        let price = decimal(&spec.price, p, "price")?;
                        let qty = decimal(&spec.qty, q, "new_size")?;
                        out.push(event(EventKind::OrderModify, OrderRef { order_id, price, qty }, side));
                    }
                    // A market order's funds change: not on the book.
                    (None, _) | (_, None) => self.stats.unpriced += 1,
                }
            }
        }
        Ok(FullMessage::Order {
            instrument: id,
            sequence,
        })
    }

    /// `{"sequence":…,"bids":[[price,size,order_id],…],"asks":[…]}`.
    fn rest_book(
        &mut self,
        f: &Fields<'_>,
        product_hint: Option<&[u8]>,
        receive_ns: i64,
        out: &mut Vec<Event>,
    ) -> Result<FullMessage, ParseError> {
        let sequence = f.sequence.ok_or(ParseError::MissingField("type"))?;
        let (bids, asks) = match (f.bids, f.asks) {
            (Some(b), Some(a)) => (b, a),
            _ => return Err(ParseError::MissingField("bids")),
        };
        let spec = match product_hint.or(f.product) {
            Some(p) => match self.instruments.find(p) {
                Some(spec) => spec,
                None => return Ok(FullMessage::Other(Message::OtherInstrument)),
            },
            None => self
                .instruments
                .single()
                .ok_or(ParseError::MissingField("product_id"))?,
        };
        let id = spec.id;
        self.ids.clear();
        let start = out.len();
        out.push(Event::ZERO);
        let mut counts = [0u64; 2];
        for (n, (side, span)) in [(Side::Bid, bids), (Side::Ask, asks)].into_iter().enumerate() {
            let mut s = Scanner::new(span);
            s.begin_array()?;
            let mut first = true;
            while s.next_element(&mut first)? {
                s.begin_array()?;
                let mut g = true;
                let mut parts = [&b""[..]; 3];
                for part in parts.iter_mut() {
                    if !s.next_element(&mut g)? {
                        return Err(ParseError::BadField {
                            field: "bids/asks",
                            reason: "expected [price, size, order_id]",
                        });
                    }
                    *part = s.string()?;
                }
                if s.next_element(&mut g)? {
                    return Err(ParseError::BadField {
                        field: "bids/asks",
                        reason: "expected [price, size, order_id]",
                    });
                }
                let price = decimal(&spec.price, parts[0], "bids/asks.price")?;
                let qty = decimal(&spec.qty, parts[1], "bids/asks.size")?;
                let uuid = uuid_field(Some(parts[2]), "bids/asks.order_id")?;
                let order_id = self.ids.insert(uuid)?;
                out.push(
                    Event::new(
                        EventKind::OrderAdd,
                        Venue::Coinbase,
                        id,
                        OrderRef { order_id, price, qty },
                    )
                    .with_side(side)
                    .with_times(sequence, 0, receive_ns),
                );
                counts[n] += 1;
            }
            s.end()?;
        }
        let info = SnapshotInfo {
            bid_levels: counts[0],
            ask_levels: counts[1],
            reserved: 0,
        };
        out[start] =
            Event::new(EventKind::SnapshotBegin, Venue::Coinbase, id, info).with_times(sequence, 0, receive_ns);
        out.push(Event::new(EventKind::SnapshotEnd, Venue::Coinbase, id, info).with_times(sequence, 0, receive_ns));
        self.stats.snapshots += 1;
        Ok(FullMessage::Snapshot {
            instrument: id,
            sequence,
        })
    }
}

fn price_of(spec: &InstrumentSpec, text: Option<&[u8]>, field: &'static str) -> Result<i64, ParseError> {
    decimal(&spec.price, text.ok_or(ParseError::MissingField(field))?, field)
}

fn qty_of(spec: &InstrumentSpec, text: Option<&[u8]>, field: &'static str) -> Result<i64, ParseError> {
    decimal(&spec.qty, text.ok_or(ParseError::MissingField(field))?, field)
}

impl VenueParser for CoinbaseFullParser {
    /// `full` messages are reported as [`Message::BookDiff`] (`first_id` =
    /// `final_id` = `sequence`), REST books as [`Message::BookSnapshot`].
    fn parse_events(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        symbol_hint: Option<&[u8]>,
        out: &mut Vec<Event>,
    ) -> Result<Message, ParseError> {
        Ok(match self.parse_full(message, receive_ns, symbol_hint, out)? {
            FullMessage::Order { instrument, sequence } => Message::BookDiff {
                instrument,
                first_id: sequence,
                final_id: sequence,
                prev_final_id: None,
                checksum: None,
            },
            FullMessage::Snapshot { instrument, sequence } => Message::BookSnapshot {
                instrument,
                last_update_id: sequence,
                checksum: None,
            },
            FullMessage::Other(m) => m,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Fixtures are written by hand from Coinbase Exchange's published
    //! documentation of the `full` channel and the level-3 REST book: the
    //! recordings under GAVEL_DATA hold no full-channel data.
    use super::*;
    use crate::decimal::Grid;
    use proptest::prelude::*;
    use std::collections::HashSet;

    pub(crate) fn parser() -> CoinbaseFullParser {
        let spec = InstrumentSpec::new(
            "BTC-USD",
            7,
            Grid::with_decimals(2).unwrap(),
            Grid::with_decimals(8).unwrap(),
        );
        CoinbaseFullParser::with_max_orders(Instruments::new(vec![spec]), 64)
    }

    const A: &str = "d50ec984-77a8-460a-b958-66f114b0de9b";
    const B: &str = "ac928c66-ca53-498f-9c13-a110027a60e8";

    fn uuid(text: &str) -> u128 {
        parse_uuid(text.as_bytes()).unwrap()
    }

    #[test]
    fn uuids_parse_and_map_to_stable_ids() {
        assert_eq!(uuid(A), 0xd50ec98477a8460ab95866f114b0de9b);
        assert_eq!(parse_uuid(b"d50ec984-77a8-460a-b958-66f114b0de9"), None);
        assert_eq!(parse_uuid(b"d50ec984x77a8-460a-b958-66f114b0de9b"), None);
        assert_eq!(parse_uuid(b"g50ec984-77a8-460a-b958-66f114b0de9b"), None);
        assert_eq!(order_id_of(uuid(A)), order_id_of(uuid(A)));
        assert_ne!(order_id_of(uuid(A)), order_id_of(uuid(B)));
        // Both halves matter.
        assert_ne!(order_id_of(1 << 64), order_id_of(1));
    }

    #[test]
    fn each_message_type_maps_to_its_event() {
        let mut p = parser();
        let mut out = Vec::new();
        let received = format!(
            r#"{{"type":"received","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","sequence":10,"order_id":"{A}","size":"1.34","price":"502.10","side":"buy","order_type":"limit"}}"#
        );
        assert_eq!(
            p.parse_full(received.as_bytes(), 5, None, &mut out).unwrap(),
            FullMessage::Order {
                instrument: 7,
                sequence: 10
            }
        );
        assert!(out.is_empty());
        assert_eq!(p.stats.received, 1);

        let open = format!(
            r#"{{"type":"open","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","sequence":11,"order_id":"{A}","price":"502.10","remaining_size":"1.00","side":"buy"}}"#
        );
        p.parse_full(open.as_bytes(), 5, None, &mut out).unwrap();
        let id = order_id_of(uuid(A));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind(), Some(EventKind::OrderAdd));
        assert_eq!(out[0].side(), Some(Side::Bid));
        assert_eq!(out[0].sequence, 11);
        assert_eq!(out[0].exchange_ns, 1_415_348_367_028_459_000);
        assert_eq!(
            out[0].payload::<OrderRef>(),
            OrderRef {
                order_id: id,
                price: 50_210,
                qty: 100_000_000
            }
        );
        assert_eq!(p.order_ids().len(), 1);
        out.clear();

        let matched = format!(
            r#"{{"type":"match","trade_id":10,"sequence":12,"maker_order_id":"{A}","taker_order_id":"{B}","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","size":"0.25","price":"502.10","side":"buy"}}"#
        );
        p.parse_full(matched.as_bytes(), 5, None, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].kind(), Some(EventKind::OrderExecute));
        assert_eq!(
            out[0].payload::<OrderRef>(),
            OrderRef {
                order_id: id,
                price: 50_210,
                qty: 25_000_000
            }
        );
        assert_eq!(out[1].kind(), Some(EventKind::Trade));
        assert_eq!(out[1].side(), Some(Side::Ask), "a buy maker was hit by a seller");
        assert_eq!(out[1].payload::<TradePrint>().trade_id, 10);
        out.clear();

        let change = format!(
            r#"{{"type":"change","reason":"modify_order","time":"2014-11-07T08:19:27.028459Z","sequence":13,"order_id":"{A}","product_id":"BTC-USD","new_size":"0.50","old_size":"0.75","new_price":"502.00","old_price":"502.10","side":"buy"}}"#
        );
        p.parse_full(change.as_bytes(), 5, None, &mut out).unwrap();
        assert_eq!(out[0].kind(), Some(EventKind::OrderModify));
        assert_eq!(
            out[0].payload::<OrderRef>(),
            OrderRef {
                order_id: id,
                price: 50_200,
                qty: 50_000_000
            }
        );
        out.clear();

        let done = format!(
            r#"{{"type":"done","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","sequence":14,"price":"502.00","order_id":"{A}","reason":"canceled","side":"buy","remaining_size":"0.50"}}"#
        );
        p.parse_full(done.as_bytes(), 5, None, &mut out).unwrap();
        assert_eq!(out[0].kind(), Some(EventKind::OrderCancel));
        assert_eq!(
            out[0].payload::<OrderRef>(),
            OrderRef {
                order_id: id,
                price: 50_200,
                qty: 0
            }
        );
        assert!(p.order_ids().is_empty(), "done releases the id");
        out.clear();

        // A market order: no price anywhere, so no book event.
        let market_done = format!(
            r#"{{"type":"done","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","sequence":15,"order_id":"{B}","reason":"filled","side":"sell"}}"#
        );
        p.parse_full(market_done.as_bytes(), 5, None, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(p.stats.unpriced, 1);

        let activate = format!(
            r#"{{"type":"activate","product_id":"BTC-USD","timestamp":"1483736448.299000","order_id":"{B}","stop_type":"entry","side":"buy","stop_price":"80.00","size":"2.00","funds":"50","private":true}}"#
        );
        assert_eq!(
            p.parse_full(activate.as_bytes(), 5, None, &mut out).unwrap(),
            FullMessage::Other(Message::Control)
        );
        let heartbeat = br#"{"type":"heartbeat","sequence":90,"last_trade_id":20,"product_id":"BTC-USD","time":"2014-11-07T08:19:28.464459Z"}"#;
        assert_eq!(
            p.parse_full(heartbeat, 5, None, &mut out).unwrap(),
            FullMessage::Other(Message::Control)
        );
        let other = format!(
            r#"{{"type":"open","product_id":"ETH-USD","sequence":1,"order_id":"{A}","price":"1","remaining_size":"1","side":"buy"}}"#
        );
        assert_eq!(
            p.parse_full(other.as_bytes(), 5, None, &mut out).unwrap(),
            FullMessage::Other(Message::OtherInstrument)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn bad_messages_name_the_field_and_leave_no_events() {
        let mut p = parser();
        let mut out = Vec::new();
        let cases = [
            (
                r#"{"type":"open","product_id":"BTC-USD","sequence":1,"order_id":"not-a-uuid","price":"1.00","remaining_size":"1","side":"buy"}"#
                    .to_string(),
                "order_id",
            ),
            (
                format!(
                    r#"{{"type":"open","product_id":"BTC-USD","sequence":1,"order_id":"{A}","price":"1.001","remaining_size":"1","side":"buy"}}"#
                ),
                "price",
            ),
            (
                format!(
                    r#"{{"type":"open","product_id":"BTC-USD","order_id":"{A}","price":"1.00","remaining_size":"1","side":"buy"}}"#
                ),
                "sequence",
            ),
            (
                format!(
                    r#"{{"type":"open","product_id":"BTC-USD","sequence":1,"order_id":"{A}","price":"1.00","remaining_size":"1","side":"up"}}"#
                ),
                "side",
            ),
            (
                format!(
                    r#"{{"type":"done","product_id":"BTC-USD","sequence":1,"order_id":"{A}","price":"1.00","reason":"expired","side":"buy"}}"#
                ),
                "reason",
            ),
            (
                format!(
                    r#"{{"type":"match","product_id":"BTC-USD","sequence":1,"maker_order_id":"{A}","price":"1.00","side":"buy"}}"#
                ),
                "size",
            ),
            (
                r#"{"sequence":5,"bids":[["1.00","1"]],"asks":[]}"#.to_string(),
                "bids/asks",
            ),
        ];
        for (text, field) in cases {
            let err = p.parse_full(text.as_bytes(), 0, None, &mut out).unwrap_err();
            assert_eq!(err.field(), field, "{text}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn rest_level3_book() {
        let mut p = parser();
        let mut out = Vec::new();
        let book = format!(
            r#"{{"sequence":3,"bids":[["295.96","0.05088265","{A}"]],"asks":[["295.97","5.72036512","{B}"]]}}"#
        );
        assert_eq!(
            p.parse_full(book.as_bytes(), 9, None, &mut out).unwrap(),
            FullMessage::Snapshot {
                instrument: 7,
                sequence: 3
            }
        );
        let kinds: Vec<_> = out.iter().map(|e| e.kind().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                EventKind::SnapshotBegin,
                EventKind::OrderAdd,
                EventKind::OrderAdd,
                EventKind::SnapshotEnd
            ]
        );
        assert_eq!(out[2].side(), Some(Side::Ask));
        assert_eq!(
            out[2].payload::<OrderRef>(),
            OrderRef {
                order_id: order_id_of(uuid(B)),
                price: 29_597,
                qty: 572_036_512
            }
        );
        assert_eq!(out[0].payload::<SnapshotInfo>().bid_levels, 1);
        assert_eq!(p.order_ids().len(), 2);
        out.clear();
        // Named for another product through the hint: not ours.
        assert_eq!(
            p.parse_full(book.as_bytes(), 9, Some(b"ETH-USD"), &mut out).unwrap(),
            FullMessage::Other(Message::OtherInstrument)
        );
    }

    #[test]
    fn table_full_is_an_error() {
        let mut t = OrderIdTable::new(2);
        t.insert(1).unwrap();
        t.insert(2).unwrap();
        assert_eq!(t.insert(2), Ok(order_id_of(2)), "re-inserting is idempotent");
        assert_eq!(t.insert(3), Err(IdError::Full));
        t.remove(1).unwrap();
        t.insert(3).unwrap();
        assert_eq!(t.len(), 2);
    }

    proptest! {
        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut p = parser();
            let mut out = Vec::new();
            if p.parse_full(&bytes, 0, None, &mut out).is_err() {
                prop_assert!(out.is_empty());
            }
        }

        #[test]
        fn mutated_messages_never_panic(cut in 0usize..200, byte in any::<u8>()) {
            let mut text = format!(r#"{{"type":"open","time":"2014-11-07T08:19:27.028459Z","product_id":"BTC-USD","sequence":11,"order_id":"{A}","price":"502.10","remaining_size":"1.00","side":"buy"}}"#).into_bytes();
            let i = cut % text.len();
            text[i] = byte;
            let mut out = Vec::new();
            let _ = parser().parse_full(&text, 0, None, &mut out);
        }

        /// The table against a set model, with a small table so clusters wrap.
        #[test]
        fn id_table_matches_a_set(ops in proptest::collection::vec((any::<bool>(), 1u128..40), 0..300)) {
            let mut t = OrderIdTable::new(16);
            let mut model = HashSet::new();
            for (insert, uuid) in ops {
                if insert {
                    let r = t.insert(uuid);
                    if model.len() == 16 && !model.contains(&uuid) {
                        prop_assert_eq!(r, Err(IdError::Full));
                    } else {
                        prop_assert_eq!(r, Ok(order_id_of(uuid)));
                        model.insert(uuid);
                    }
                } else {
                    t.remove(uuid).unwrap();
                    model.remove(&uuid);
                }
                prop_assert_eq!(t.len(), model.len());
                for u in 1u128..40 {
                    let (_, found) = t.probe(u, order_id_of(u)).unwrap();
                    prop_assert_eq!(found, model.contains(&u));
                }
            }
        }
    }
}
