//! Venue message parsers: raw bytes in, [`Event`](crate::Event)s out.
//!
//! Each parser walks one message with the [`json_scan`](crate::json_scan)
//! scanner, converts every price and quantity exactly with the instrument's
//! [`Grid`]s, appends the events to a caller-owned `Vec<Event>` (no allocation
//! once its capacity is warm) and returns a [`Message`] that says what the
//! events were, carrying the sequence fields the venue's book sync needs.

pub mod binance;
pub mod bybit;
pub mod coinbase;
pub mod coinbase_full;
pub mod deribit;
pub mod okx;
pub mod tardis;

use crate::decimal::{DecimalError, Grid};
use crate::json_scan::ScanError;
use std::fmt;

/// One instrument as a parser knows it: venue symbol, gavel id and grids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstrumentSpec {
    /// Venue symbol as in messages (`BTCUSDT`, `BTC-USDT-SWAP`); matched case-insensitively.
    pub symbol: String,
    /// gavel instrument id written into events.
    pub id: u32,
    /// Price grid (tick).
    pub price: Grid,
    /// Quantity grid (lot).
    pub qty: Grid,
    /// Decimal places the venue prints prices with (for output as the venue prints them).
    pub price_places: u8,
    /// Decimal places the venue prints quantities with.
    pub qty_places: u8,
    /// The venue prints the shortest decimal (`30261`, `30249.4`) rather than a
    /// fixed number of places; output follows it.
    pub print_shortest: bool,
}

impl InstrumentSpec {
    /// A spec printing values with exactly the grids' decimal places.
    pub fn new(symbol: &str, id: u32, price: Grid, qty: Grid) -> Self {
        InstrumentSpec {
            symbol: symbol.to_string(),
            id,
            price,
            qty,
            price_places: price.decimals(),
            qty_places: qty.decimals(),
            print_shortest: false,
        }
    }
}

/// The instruments a parser handles (a handful per connection; linear lookup).
#[derive(Clone, Debug, Default)]
pub struct Instruments {
    specs: Vec<InstrumentSpec>,
}

impl Instruments {
    /// A table of the given instruments.
    pub fn new(specs: Vec<InstrumentSpec>) -> Self {
        Instruments { specs }
    }

    /// The spec for a symbol as it appears in a message.
    #[inline]
    pub fn find(&self, symbol: &[u8]) -> Option<&InstrumentSpec> {
        self.specs
            .iter()
            .find(|s| s.symbol.as_bytes().eq_ignore_ascii_case(symbol))
    }

    /// The only instrument, when there is exactly one (for messages without a symbol).
    pub fn single(&self) -> Option<&InstrumentSpec> {
        if self.specs.len() == 1 {
            self.specs.first()
        } else {
            None
        }
    }

    /// All specs.
    pub fn specs(&self) -> &[InstrumentSpec] {
        &self.specs
    }
}

/// What a parsed message was. Book messages carry the venue's sequence fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message {
    /// An incremental book update; events are `BookLevel`s.
    BookDiff {
        /// gavel instrument id.
        instrument: u32,
        /// First update id covered (Binance `U`; Bybit/OKX: same as `final_id`).
        first_id: u64,
        /// Final update id (Binance `u`, Bybit `u`, OKX `seqId`).
        final_id: u64,
        /// The previous message's final id as the venue states it (Binance futures `pu`,
        /// OKX `prevSeqId`), when the venue sends one.
        prev_final_id: Option<u64>,
        /// Venue checksum of the book after this update (OKX), when sent.
        checksum: Option<i32>,
    },
    /// A full book snapshot; events are `SnapshotBegin`, `SnapshotLevel`s, `SnapshotEnd`.
    BookSnapshot {
        /// gavel instrument id.
        instrument: u32,
        /// Update id the snapshot is consistent with (Binance `lastUpdateId`).
        last_update_id: u64,
        /// Venue checksum of the book (OKX), when sent.
        checksum: Option<i32>,
    },
    /// The venue's own best bid and offer; events: two `BookTop`s (bid, ask).
    BookTicker {
        /// gavel instrument id.
        instrument: u32,
        /// Book update id the ticker reflects (Binance `u`).
        update_id: u64,
    },
    /// Trade prints; events are `Trade`s.
    Trades {
        /// gavel instrument id.
        instrument: u32,
    },
    /// A mark price update; one `MarkPrice` event.
    Mark {
        /// gavel instrument id.
        instrument: u32,
    },
    /// Liquidation orders; `LiquidationPrint` events.
    Liquidations {
        /// gavel instrument id.
        instrument: u32,
    },
    /// A venue ticker: `MarkPrice` and/or `BookTop` events for the fields it carried.
    Ticker {
        /// gavel instrument id.
        instrument: u32,
    },
    /// A well-formed message for an instrument not in the table (no events).
    OtherInstrument,
    /// A well-formed control message (subscription ack, pong, …); no events.
    Control,
}

/// Why a message was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The bytes are not well-formed JSON of the expected shape.
    Json(ScanError),
    /// A field holds a number that is not exact on the instrument's grid.
    Decimal {
        /// JSON key of the field.
        field: &'static str,
        /// What was wrong.
        error: DecimalError,
    },
    /// A required field is missing.
    MissingField(&'static str),
    /// A field has the wrong type or an unknown value.
    BadField {
        /// JSON key of the field.
        field: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
    /// An event type this parser does not know (its name, truncated to 32 bytes).
    UnknownEvent(String),
}

impl ParseError {
    /// The field name to report in an [`InputError`](crate::InputError).
    pub fn field(&self) -> &str {
        match self {
            ParseError::Json(_) => "<json>",
            ParseError::Decimal { field, .. } => field,
            ParseError::MissingField(field) => field,
            ParseError::BadField { field, .. } => field,
            ParseError::UnknownEvent(_) => "event type",
        }
    }

    /// A short stable name for counting errors by kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ParseError::Json(_) => "malformed JSON",
            ParseError::Decimal { .. } => "bad decimal",
            ParseError::MissingField(_) => "missing field",
            ParseError::BadField { .. } => "bad field",
            ParseError::UnknownEvent(_) => "unknown event type",
        }
    }

    pub(crate) fn unknown(name: &[u8]) -> Self {
        let cut = &name[..name.len().min(32)];
        ParseError::UnknownEvent(String::from_utf8_lossy(cut).into_owned())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Json(e) => write!(f, "{e}"),
            ParseError::Decimal { error, .. } => write!(f, "{error}"),
            ParseError::MissingField(field) => write!(f, "missing field `{field}`"),
            ParseError::BadField { reason, .. } => write!(f, "{reason}"),
            ParseError::UnknownEvent(name) => write!(f, "unknown event type `{name}`"),
        }
    }
}

impl std::error::Error for ParseError {}

impl From<ScanError> for ParseError {
    fn from(e: ScanError) -> Self {
        ParseError::Json(e)
    }
}

/// Parses `text` on `grid`, naming `field` on failure.
#[inline]
pub(crate) fn decimal(grid: &Grid, text: &[u8], field: &'static str) -> Result<i64, ParseError> {
    grid.parse(text)
        .map_err(|error| ParseError::Decimal { field, error })
}

/// Milliseconds since the epoch → nanoseconds, refusing overflow.
#[inline]
pub(crate) fn ms_to_ns(ms: u64, field: &'static str) -> Result<i64, ParseError> {
    ms.checked_mul(1_000_000)
        .filter(|&ns| ns <= i64::MAX as u64)
        .map(|ns| ns as i64)
        .ok_or(ParseError::BadField {
            field,
            reason: "timestamp out of range",
        })
}

/// Parses a level array `[[price, qty, …], …]` (strings) at the scanner,
/// appending one `kind` event per level; elements after the first two are
/// skipped. Returns the number of levels.
#[inline]
pub(crate) fn push_levels(
    s: &mut crate::json_scan::Scanner<'_>,
    spec: &InstrumentSpec,
    venue: crate::Venue,
    side: crate::Side,
    kind: crate::EventKind,
    out: &mut Vec<crate::Event>,
) -> Result<usize, ParseError> {
    let (field, price_field, qty_field) = match side {
        crate::Side::Bid => ("b", "b.price", "b.qty"),
        _ => ("a", "a.price", "a.qty"),
    };
    let start = out.len();
    s.begin_array()?;
    let mut first = true;
    while s.next_element(&mut first)? {
        s.begin_array()?;
        let mut inner = true;
        if !s.next_element(&mut inner)? {
            return Err(ParseError::BadField {
                field,
                reason: "empty level",
            });
        }
        let p = s.string()?;
        if !s.next_element(&mut inner)? {
            return Err(ParseError::BadField {
                field,
                reason: "level without quantity",
            });
        }
        let q = s.string()?;
        while s.next_element(&mut inner)? {
            // OKX: liquidated-orders and order-count strings.
            if s.peek() == Some(b'"') {
                s.string()?;
            } else {
                s.skip_value()?;
            }
        }
        let price = decimal(&spec.price, p, price_field)?;
        let qty = decimal(&spec.qty, q, qty_field)?;
        let index = (out.len() - start) as u64;
        out.push(
            crate::Event::new(
                kind,
                venue,
                spec.id,
                crate::wire::PriceLevel { price, qty, index },
            )
            .with_side(side),
        );
    }
    Ok(out.len() - start)
}

/// A parser of one venue's messages into events.
pub trait VenueParser {
    /// Parses one message received at `receive_ns`, appending its events to
    /// `out`; on error it may leave some of them behind (callers use [`parse`](Self::parse)).
    /// `symbol_hint` names the instrument for messages that do not (REST
    /// snapshots, whose symbol is in the request URL).
    fn parse_events(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        symbol_hint: Option<&[u8]>,
        out: &mut Vec<crate::Event>,
    ) -> Result<Message, ParseError>;

    /// [`parse_events`](Self::parse_events), with `out` restored to its length
    /// before the call when the message is refused: a bad message adds no event.
    fn parse(
        &mut self,
        message: &[u8],
        receive_ns: i64,
        symbol_hint: Option<&[u8]>,
        out: &mut Vec<crate::Event>,
    ) -> Result<Message, ParseError> {
        let start = out.len();
        let result = self.parse_events(message, receive_ns, symbol_hint, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// A per-connection sequence number of the last message parsed, for venues
    /// that number every frame of a connection (Coinbase Advanced Trade).
    fn connection_sequence(&self) -> Option<u64> {
        None
    }
}
