//! The wire format: fixed-size, one-cache-line events that travel from feed
//! handlers through shared-memory rings into the engine, and into captures.
//!
//! Every [`Event`] is 64 bytes, `#[repr(C, align(64))]` and [`bytemuck::Pod`],
//! so a ring slot is exactly one cache line and an event can be copied in and
//! out of shared memory without serialisation. Layout:
//!
//! | offset | size | field           | meaning                                              |
//! |-------:|-----:|-----------------|------------------------------------------------------|
//! | 0      | 1    | `kind`          | [`EventKind`] as `u8`                                |
//! | 1      | 1    | `venue`         | [`Venue`] as `u8`                                    |
//! | 2      | 1    | `side`          | [`Side`] as `u8` (0 none, 1 bid/buy, 2 ask/sell)     |
//! | 3      | 1    | `flags`         | kind-specific bit flags                              |
//! | 4      | 4    | `instrument`    | gavel instrument id                                  |
//! | 8      | 8    | `sequence`      | venue or producer sequence number                    |
//! | 16     | 8    | `exchange_ns`   | venue event time, ns since the Unix epoch            |
//! | 24     | 8    | `receive_ns`    | local receive time, ns since the Unix epoch          |
//! | 32     | 24   | `payload`       | three 64-bit words, typed per kind (see below)       |
//! | 56     | 8    | `publish_ticks` | clock ticks stamped by the ring producer at publish  |
//!
//! On the output ring of `gavel serve` (engine → gateway), `exchange_ns` of an
//! engine output carries the input journal sequence of the input that caused
//! it (the engine itself leaves it 0 on outputs; the serve engine thread
//! stamps it); the gateway holds the output until that sequence is durable.
//! On the serve journal ring (engine → journal writer), `publish_ticks` of an
//! input carries its journal sequence.
//!
//! Prices are integer ticks, quantities integer lots (both `i64`). Engine logic
//! runs on `receive_ns` (event time); `publish_ticks` exists only for latency
//! measurement and never influences logic.

use bytemuck::{Pod, Zeroable};

/// Size of one event in bytes: one cache line.
pub const EVENT_SIZE: usize = 64;

/// One wire event: a 40-byte header and a 24-byte typed payload.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Event {
    /// [`EventKind`] discriminant.
    pub kind: u8,
    /// [`Venue`] discriminant.
    pub venue: u8,
    /// [`Side`] discriminant (bid/buy, ask/sell, or none).
    pub side: u8,
    /// Kind-specific flags (see [`order_flags`] for client orders).
    pub flags: u8,
    /// gavel instrument id.
    pub instrument: u32,
    /// Venue sequence (e.g. Binance final update id `u`) or producer sequence.
    pub sequence: u64,
    /// Venue event time, ns since the Unix epoch (0 when unknown).
    pub exchange_ns: i64,
    /// Local receive time, ns since the Unix epoch: the engine's event time.
    pub receive_ns: i64,
    /// Three payload words; interpret through the typed accessors.
    pub payload: [u64; 3],
    /// Producer clock ticks at publish, for hop latency only (0 = unstamped).
    pub publish_ticks: u64,
}

const _: () = assert!(core::mem::size_of::<Event>() == EVENT_SIZE);
const _: () = assert!(core::mem::align_of::<Event>() == EVENT_SIZE);
const _: () = assert!(core::mem::offset_of!(Event, payload) == 32);
const _: () = assert!(core::mem::offset_of!(Event, publish_ticks) == 56);

/// What an event means; selects the payload layout.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// Liveness signal from a producer. Payload: [`Heartbeat`].
    Heartbeat = 1,
    /// L2 price-level update (absolute quantity at a price; 0 removes it). Payload: [`PriceLevel`].
    BookLevel = 2,
    /// Start of a full book snapshot; `sequence` = snapshot update id. Payload: [`SnapshotInfo`].
    SnapshotBegin = 3,
    /// One level of a snapshot in progress. Payload: [`PriceLevel`].
    SnapshotLevel = 4,
    /// End of a snapshot; the book is now consistent. Payload: [`SnapshotInfo`].
    SnapshotEnd = 5,
    /// A trade print; `side` is the aggressor. Payload: [`TradePrint`].
    Trade = 6,
    /// Venue mark and index price. Payload: [`MarkPrice`].
    MarkPrice = 7,
    /// A venue's own liquidation order print; `side` is the order's side. Payload: [`LiquidationPrint`].
    LiquidationPrint = 8,
    /// L3 order added to a venue book. Payload: [`OrderRef`].
    OrderAdd = 9,
    /// L3 order cancelled, fully or partly. Payload: [`OrderRef`] (qty = amount removed, 0 = all).
    OrderCancel = 10,
    /// L3 order modified to a new price and quantity. Payload: [`OrderRef`].
    OrderModify = 11,
    /// L3 order executed against. Payload: [`OrderRef`] (qty = executed amount).
    OrderExecute = 12,
    /// Order from a protocol client into gavel's own book; `sequence` = client order id. Payload: [`ClientOrder`].
    ClientOrder = 13,
    /// Cancel of a client order in gavel's own book. Payload: [`ClientCancel`].
    ClientCancel = 14,
    /// A liquidator's take on a running auction; `sequence` = bid id. Payload: [`LiquidatorBid`].
    LiquidatorBid = 15,
    /// A detected sequence gap; the consumer must resync. Payload: [`GapMarker`].
    Gap = 16,
    /// Venue best bid or offer (one event per side). Payload: [`PriceLevel`].
    BookTop = 17,
    /// Engine input: event time passes (`receive_ns`), nothing else. Payload: zero.
    Timer = 18,
    /// Engine input: an external venue executed (part of) a routed intent;
    /// `sequence` = intent id, `venue` = where, `flags` bit 0 = the intent is done. Payload: [`OrderRef`]
    /// (order id = intent id, price = fill price, qty = lots filled, possibly 0 when done unfilled).
    IntentFill = 19,
    /// Engine output: an execution report for a client order; `sequence` = client order id,
    /// `flags` = [`report`] type and reason. Payload: [`ExecReport`].
    ExecReport = 20,
    /// Engine output: a liquidation changed stage; `sequence` = liquidation id,
    /// `flags` = [`liquidation_stage`] code, `side` = the closing side. Payload: [`LiquidationNotice`].
    LiquidationUpdate = 21,
    /// Engine output: an auction started, moved, was taken or ended; `sequence` = auction id
    /// (= liquidation id), `flags` = [`auction_update`] code. Payload: [`AuctionNotice`].
    AuctionUpdate = 22,
    /// Engine output: an order the engine asks the world to place on an external venue;
    /// `sequence` = intent id, `venue` = the venue. Payload: [`RoutedIntent`].
    RoutedIntent = 23,
    /// Engine output: one movement of money or position in the ledger (journal);
    /// `flags` = [`ledger_record`] type. Payload: [`LedgerEntry`].
    LedgerRecord = 24,
    /// Cancel of every resting client order of an account in one instrument
    /// (`instrument` = `u32::MAX`: all); `sequence` = request id. Payload: [`ClientCancel`] (order id ignored).
    ClientMassCancel = 25,
    /// Engine output: the outcome of a [`EventKind::LiquidatorBid`]; `sequence` = bid id,
    /// `flags` = [`report`] type (FILL or REJECT) and reason. Payload: [`BidReport`].
    BidReport = 26,
    /// Engine output: an account's position in `instrument` after a fill or ADL. Payload: [`PositionNotice`].
    PositionUpdate = 27,
    /// Engine output: a predictive margin call — the account is not liquidatable, but a
    /// k-sigma adverse move over the horizon would make it so. Payload: [`MarginCallNotice`].
    MarginCall = 28,
    /// Engine input: an option-implied volatility for `instrument`'s underlying (e.g. an
    /// at-the-money implied vol or a vol index), taken by the predictive margin calls
    /// beside the realised estimate. Payload: [`ImpliedVolQuote`].
    ImpliedVol = 29,
}

impl EventKind {
    /// Decodes a kind byte; `None` for unknown values (bad input, never a panic).
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Heartbeat,
            2 => Self::BookLevel,
            3 => Self::SnapshotBegin,
            4 => Self::SnapshotLevel,
            5 => Self::SnapshotEnd,
            6 => Self::Trade,
            7 => Self::MarkPrice,
            8 => Self::LiquidationPrint,
            9 => Self::OrderAdd,
            10 => Self::OrderCancel,
            11 => Self::OrderModify,
            12 => Self::OrderExecute,
            13 => Self::ClientOrder,
            14 => Self::ClientCancel,
            15 => Self::LiquidatorBid,
            16 => Self::Gap,
            17 => Self::BookTop,
            18 => Self::Timer,
            19 => Self::IntentFill,
            20 => Self::ExecReport,
            21 => Self::LiquidationUpdate,
            22 => Self::AuctionUpdate,
            23 => Self::RoutedIntent,
            24 => Self::LedgerRecord,
            25 => Self::ClientMassCancel,
            26 => Self::BidReport,
            27 => Self::PositionUpdate,
            28 => Self::MarginCall,
            29 => Self::ImpliedVol,
            _ => return None,
        })
    }

    /// Every kind, in discriminant order.
    pub const ALL: [EventKind; 29] = [
        Self::Heartbeat,
        Self::BookLevel,
        Self::SnapshotBegin,
        Self::SnapshotLevel,
        Self::SnapshotEnd,
        Self::Trade,
        Self::MarkPrice,
        Self::LiquidationPrint,
        Self::OrderAdd,
        Self::OrderCancel,
        Self::OrderModify,
        Self::OrderExecute,
        Self::ClientOrder,
        Self::ClientCancel,
        Self::LiquidatorBid,
        Self::Gap,
        Self::BookTop,
        Self::Timer,
        Self::IntentFill,
        Self::ExecReport,
        Self::LiquidationUpdate,
        Self::AuctionUpdate,
        Self::RoutedIntent,
        Self::LedgerRecord,
        Self::ClientMassCancel,
        Self::BidReport,
        Self::PositionUpdate,
        Self::MarginCall,
        Self::ImpliedVol,
    ];
}

/// Where an event came from.
#[repr(u8)]
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    /// gavel itself (its own book, clients, liquidators, synthetic generators).
    Gavel = 0,
    /// Binance USD-M futures.
    BinanceUsdm = 1,
    /// Binance COIN-M futures.
    BinanceCoinm = 2,
    /// Binance spot.
    BinanceSpot = 3,
    /// Bybit v5.
    Bybit = 4,
    /// OKX v5.
    Okx = 5,
    /// Coinbase.
    Coinbase = 6,
    /// Nasdaq order flow reconstructed by LOBSTER.
    Lobster = 7,
    /// A synthetic venue from the scenario generator.
    Synthetic = 8,
    /// Deribit (options tickers: implied volatility, not a book the engine mirrors).
    Deribit = 9,
}

impl Venue {
    /// Decodes a venue byte; `None` for unknown values.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::Gavel,
            1 => Self::BinanceUsdm,
            2 => Self::BinanceCoinm,
            3 => Self::BinanceSpot,
            4 => Self::Bybit,
            5 => Self::Okx,
            6 => Self::Coinbase,
            7 => Self::Lobster,
            8 => Self::Synthetic,
            9 => Self::Deribit,
            _ => return None,
        })
    }

    /// The venue's short name in reports (`own_book` for gavel itself).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Gavel => "own_book",
            Self::BinanceUsdm => "binance-usdm",
            Self::BinanceCoinm => "binance-coinm",
            Self::BinanceSpot => "binance-spot",
            Self::Bybit => "bybit",
            Self::Okx => "okx",
            Self::Coinbase => "coinbase",
            Self::Lobster => "lobster",
            Self::Synthetic => "synthetic",
            Self::Deribit => "deribit",
        }
    }
}

/// Book side or trade direction.
#[repr(u8)]
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Not applicable.
    None = 0,
    /// Bid side / buy.
    Bid = 1,
    /// Ask side / sell.
    Ask = 2,
}

impl Side {
    /// Decodes a side byte; `None` for values other than 0, 1, 2.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0 => Self::None,
            1 => Self::Bid,
            2 => Self::Ask,
            _ => return None,
        })
    }

    /// The other side (`None` stays `None`).
    pub const fn opposite(self) -> Self {
        match self {
            Self::Bid => Self::Ask,
            Self::Ask => Self::Bid,
            Self::None => Self::None,
        }
    }
}

/// Flag bit of market-data events (book levels, trades, marks): the last event
/// of one venue message. The engine computes a due mark once the message that
/// completes a book update has arrived, without waiting for the next event.
pub const MESSAGE_END: u8 = 1 << 7;

/// Flag bits of a [`EventKind::ClientOrder`] event's `flags` byte.
pub mod order_flags {
    /// Bits 0..=2: order type (see the `TYPE_*` constants).
    pub const TYPE_MASK: u8 = 0b0000_0111;
    /// Limit order resting until cancelled (GTC).
    pub const TYPE_LIMIT: u8 = 0;
    /// Immediate-or-cancel limit order.
    pub const TYPE_IOC: u8 = 1;
    /// Fill-or-kill limit order.
    pub const TYPE_FOK: u8 = 2;
    /// Market order, bounded by the book's price-protection band.
    pub const TYPE_MARKET: u8 = 3;
    /// The order may only add liquidity.
    pub const POST_ONLY: u8 = 1 << 3;
    /// The order may only reduce the account's position.
    pub const REDUCE_ONLY: u8 = 1 << 4;
    /// Bits 5..=6: self-trade prevention mode (0 none, 1 cancel newest, 2 cancel oldest, 3 cancel both).
    pub const STP_SHIFT: u8 = 5;
    /// Mask of the self-trade prevention bits.
    pub const STP_MASK: u8 = 0b0110_0000;
}

/// Typed payload: a price level (L2 update, snapshot level, top of book).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct PriceLevel {
    /// Price in ticks.
    pub price: i64,
    /// Quantity in lots at that price (absolute, 0 = level removed).
    pub qty: i64,
    /// Position of the level in a snapshot, or 0.
    pub index: u64,
}

/// Typed payload: snapshot framing.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct SnapshotInfo {
    /// Number of bid levels in the snapshot.
    pub bid_levels: u64,
    /// Number of ask levels in the snapshot.
    pub ask_levels: u64,
    /// Reserved, 0.
    pub reserved: u64,
}

/// Typed payload: a trade print.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct TradePrint {
    /// Price in ticks.
    pub price: i64,
    /// Quantity in lots.
    pub qty: i64,
    /// Venue trade id.
    pub trade_id: u64,
}

/// Typed payload: venue mark and index price.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct MarkPrice {
    /// Mark price in ticks.
    pub mark: i64,
    /// Index price in ticks (0 when the venue does not publish one).
    pub index: i64,
    /// Funding rate in units of 1e-9 (0.0001 = 100_000).
    pub funding_rate_e9: i64,
}

/// Typed payload: a venue's liquidation order print.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct LiquidationPrint {
    /// Order price in ticks.
    pub price: i64,
    /// Order quantity in lots.
    pub qty: i64,
    /// Average fill price in ticks (0 when unknown).
    pub avg_price: i64,
}

/// Typed payload: an L3 order reference (add, cancel, modify, execute).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct OrderRef {
    /// Venue order id.
    pub order_id: u64,
    /// Price in ticks (new price for modify; execution price for execute).
    pub price: i64,
    /// Quantity in lots (see the kind for its meaning).
    pub qty: i64,
}

/// Typed payload: a client order into gavel's own book. Side in the header,
/// type/post-only/reduce-only/STP in `flags`, client order id in `sequence`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ClientOrder {
    /// Account id.
    pub account: u64,
    /// Limit price in ticks (ignored for market orders).
    pub price: i64,
    /// Quantity in lots.
    pub qty: i64,
}

/// Typed payload: cancel of a client order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ClientCancel {
    /// Account id.
    pub account: u64,
    /// Client order id to cancel.
    pub order_id: u64,
    /// Reserved, 0.
    pub reserved: u64,
}

/// Typed payload: a liquidator's take on an auction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct LiquidatorBid {
    /// Liquidator id in the low 32 bits, auction id in the high 32 bits.
    pub liquidator_and_auction: u64,
    /// Worst price the liquidator accepts, in ticks.
    pub max_price: i64,
    /// Quantity to take, in lots.
    pub qty: i64,
}

impl LiquidatorBid {
    /// Builds a bid payload from its parts.
    pub const fn new(liquidator: u32, auction: u32, max_price: i64, qty: i64) -> Self {
        Self {
            liquidator_and_auction: (liquidator as u64) | ((auction as u64) << 32),
            max_price,
            qty,
        }
    }

    /// The liquidator's id.
    pub const fn liquidator(&self) -> u32 {
        self.liquidator_and_auction as u32
    }

    /// The auction's id.
    pub const fn auction(&self) -> u32 {
        (self.liquidator_and_auction >> 32) as u32
    }
}

/// Typed payload: a sequence gap seen by a feed handler (`sequence` = what arrived).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct GapMarker {
    /// The sequence number that was expected.
    pub expected: u64,
    /// Why the gap was declared (see [`gap_reason`]).
    pub reason: u64,
    /// Reserved, 0.
    pub reserved: u64,
}

/// Reasons carried by a [`GapMarker`].
pub mod gap_reason {
    /// A sequence number was skipped.
    pub const SEQUENCE: u64 = 1;
    /// The venue's checksum disagreed with the mirrored book.
    pub const CHECKSUM: u64 = 2;
    /// The mirrored book became crossed.
    pub const CROSSED: u64 = 3;
    /// The connection dropped and was re-established.
    pub const RECONNECT: u64 = 4;
}

/// Typed payload: producer liveness.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Heartbeat {
    /// Producer process id.
    pub pid: u64,
    /// Monotonic heartbeat counter.
    pub counter: u64,
    /// Reserved, 0.
    pub reserved: u64,
}

/// Typed payload: an execution report (engine output). The header's `sequence`
/// is the client order id; the engine's own book id is `account << 32 | client id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ExecReport {
    /// Account the report is for.
    pub account: u64,
    /// Price in ticks (ack: resting price; fill: trade price; else the order's limit).
    pub price: i64,
    /// Lots (ack: resting; fill: traded; cancel: removed; reject: requested).
    pub qty: i64,
}

/// Execution report types and reject reasons (`flags` of [`EventKind::ExecReport`]:
/// bits 0..=2 the type, bits 3..=7 the reason code of a reject).
pub mod report {
    /// Accepted.
    pub const ACK: u8 = 1;
    /// Traded.
    pub const FILL: u8 = 2;
    /// Left the book without trading (IOC rest, self-trade prevention, client cancel, liquidation).
    pub const CANCEL: u8 = 3;
    /// Refused; the reason is in bits 3..=7.
    pub const REJECT: u8 = 4;
    /// Mask of the type bits.
    pub const TYPE_MASK: u8 = 0b111;
    /// Shift of the reason bits.
    pub const REASON_SHIFT: u8 = 3;
    /// Reason bits of a FILL: the order took liquidity.
    pub const TAKER: u8 = 1;
    /// Reason bits of a FILL: the order was resting (made liquidity).
    pub const MAKER: u8 = 2;
}

/// Typed payload: a liquidation's stage change (engine output).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct LiquidationNotice {
    /// Liquidated account.
    pub account: u64,
    /// Price of the stage (fill price, limit, bankruptcy price), ticks.
    pub price: i64,
    /// Lots concerned (filled, planned, remaining).
    pub qty: i64,
}

/// Stage codes of [`EventKind::LiquidationUpdate`] (`flags`).
pub mod liquidation_stage {
    /// The account crossed its threshold; qty = lots planned, price = mark.
    pub const TRIGGERED: u8 = 1;
    /// Lots filled in gavel's own book; price = average.
    pub const OWN_BOOK: u8 = 2;
    /// Lots taken in the auction; price = clearing price.
    pub const AUCTION: u8 = 3;
    /// Lots filled on an external venue; price = fill price.
    pub const ROUTED: u8 = 4;
    /// Lots taken by the backstop vault; price = executable price.
    pub const BACKSTOP: u8 = 5;
    /// Lots auto-deleveraged at the bankruptcy price.
    pub const ADL: u8 = 6;
    /// An attempt that filled nothing; qty = lots it tried.
    pub const ZERO_FILL: u8 = 7;
    /// The liquidation ended; qty = lots left open.
    pub const DONE: u8 = 8;
    /// A pre-emptive reduction started on a margin call (not a liquidation); qty = lots
    /// planned, price = mark. Its fills use the route codes above; a later `TRIGGERED`
    /// for the same id says it became a liquidation.
    pub const PREEMPTIVE: u8 = 9;
}

/// Typed payload: an auction notice for liquidators (engine output).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct AuctionNotice {
    /// Liquidated account.
    pub account: u64,
    /// Current price in ticks (start, step, take) or 0 (end).
    pub price: i64,
    /// Lots still for sale.
    pub remaining: i64,
}

/// Codes of [`EventKind::AuctionUpdate`] (`flags`).
pub mod auction_update {
    /// The auction opened; `side` = the side liquidators take (bid: they buy).
    pub const START: u8 = 1;
    /// The price moved with event time.
    pub const PRICE: u8 = 2;
    /// A liquidator took lots.
    pub const TAKEN: u8 = 3;
    /// The auction ended (cleared or expired).
    pub const END: u8 = 4;
}

/// Typed payload: an order the engine routes to an external venue (engine output).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct RoutedIntent {
    /// The liquidation it serves.
    pub liquidation: u64,
    /// Worst price accepted, ticks.
    pub limit: i64,
    /// Lots.
    pub qty: i64,
}

/// Typed payload: the outcome of a liquidator's take (engine output).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct BidReport {
    /// Liquidator id in the low 32 bits, auction id in the high 32 bits (as in [`LiquidatorBid`]).
    pub liquidator_and_auction: u64,
    /// Price of the take in ticks (0 when rejected).
    pub price: i64,
    /// Lots taken (a reject: lots asked).
    pub qty: i64,
}

/// Typed payload: an account's position (engine output).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct PositionNotice {
    /// Account id.
    pub account: u64,
    /// Signed lots held after the change.
    pub position: i64,
    /// Reserved, 0.
    pub reserved: i64,
}

/// Typed payload: a predictive margin call (engine output).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct MarginCallNotice {
    /// Account id.
    pub account: u64,
    /// The nearest price at which the position is liquidatable (for a multi-position
    /// account, a conservative bound), ticks.
    pub liquidation_price: i64,
    /// The relative move from the mark to it, in standard deviations over the horizon, × 1000.
    pub distance_sigma_milli: i64,
}

/// Largest implied vol an [`ImpliedVolQuote`] may carry, millionths (1,000 %).
pub const MAX_IMPLIED_VOL_E6: i64 = 10_000_000;

/// Typed payload: an implied volatility (engine input).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ImpliedVolQuote {
    /// Annualised volatility in millionths (0.65 = 650,000); the engine takes
    /// 1..=[`MAX_IMPLIED_VOL_E6`] and counts anything else as ignored.
    pub vol_e6: i64,
    /// Time to expiry of the options it was read from, ns (0 when not known); informational.
    pub tenor_ns: i64,
    /// Zero.
    pub reserved: i64,
}

/// Typed payload: one ledger movement (engine output, journal).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct LedgerEntry {
    /// Account in the low 32 bits, counterparty (or `u32::MAX`) in the high 32 bits.
    pub accounts: u64,
    /// Price in ticks, or 0.
    pub price: i64,
    /// Lots (fills) or quote units (money movements).
    pub amount: i64,
}

/// Types of [`EventKind::LedgerRecord`] (`flags`).
pub mod ledger_record {
    /// A trade between two accounts (own book, auction, backstop); amount = signed lots of the first.
    pub const FILL: u8 = 1;
    /// A trade against an external venue; amount = signed lots of the account.
    pub const EXTERNAL_FILL: u8 = 2;
    /// Liquidation penalty paid into the insurance fund; amount = quote units.
    pub const PENALTY: u8 = 3;
    /// The insurance fund covered a deficit; amount = quote units.
    pub const FUND_DRAW: u8 = 4;
    /// Loss no one covered; amount = quote units.
    pub const BAD_DEBT: u8 = 5;
    /// Lots deleveraged onto a counterparty; price = bankruptcy price, amount = lots.
    pub const ADL: u8 = 6;
    /// Trading fee paid into the fee pool by `account`; amount = quote units (negative = rebate).
    pub const FEE: u8 = 7;
}

/// A payload type that fits an event's three payload words.
pub trait Payload: Pod {}
impl Payload for PriceLevel {}
impl Payload for SnapshotInfo {}
impl Payload for TradePrint {}
impl Payload for MarkPrice {}
impl Payload for LiquidationPrint {}
impl Payload for OrderRef {}
impl Payload for ClientOrder {}
impl Payload for ClientCancel {}
impl Payload for LiquidatorBid {}
impl Payload for GapMarker {}
impl Payload for Heartbeat {}
impl Payload for ExecReport {}
impl Payload for LiquidationNotice {}
impl Payload for AuctionNotice {}
impl Payload for RoutedIntent {}
impl Payload for LedgerEntry {}
impl Payload for BidReport {}
impl Payload for PositionNotice {}
impl Payload for MarginCallNotice {}
impl Payload for ImpliedVolQuote {}

macro_rules! assert_payload_layout {
    ($($t:ty),*) => {$(
        const _: () = assert!(core::mem::size_of::<$t>() == 24);
        const _: () = assert!(core::mem::align_of::<$t>() <= 8);
    )*};
}
assert_payload_layout!(
    PriceLevel,
    SnapshotInfo,
    TradePrint,
    MarkPrice,
    LiquidationPrint,
    OrderRef,
    ClientOrder,
    ClientCancel,
    LiquidatorBid,
    GapMarker,
    Heartbeat,
    ExecReport,
    LiquidationNotice,
    AuctionNotice,
    RoutedIntent,
    LedgerEntry,
    BidReport,
    PositionNotice,
    MarginCallNotice,
    ImpliedVolQuote
);

impl Event {
    /// An all-zero event (kind 0 is invalid; used as an empty slot).
    pub const ZERO: Event = Event {
        kind: 0,
        venue: 0,
        side: 0,
        flags: 0,
        instrument: 0,
        sequence: 0,
        exchange_ns: 0,
        receive_ns: 0,
        payload: [0; 3],
        publish_ticks: 0,
    };

    /// Builds an event of `kind` with a typed payload and the remaining header fields zeroed.
    #[inline]
    pub fn new<P: Payload>(kind: EventKind, venue: Venue, instrument: u32, payload: P) -> Self {
        Event {
            kind: kind as u8,
            venue: venue as u8,
            instrument,
            payload: bytemuck::cast(payload),
            ..Event::ZERO
        }
    }

    /// Sets side, returning the event (builder style).
    #[inline]
    pub fn with_side(mut self, side: Side) -> Self {
        self.side = side as u8;
        self
    }

    /// Sets sequence, exchange time and receive time, returning the event.
    #[inline]
    pub fn with_times(mut self, sequence: u64, exchange_ns: i64, receive_ns: i64) -> Self {
        self.sequence = sequence;
        self.exchange_ns = exchange_ns;
        self.receive_ns = receive_ns;
        self
    }

    /// The decoded kind, or `None` for an unknown kind byte.
    #[inline]
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_u8(self.kind)
    }

    /// The decoded side, or `None` for an invalid side byte.
    #[inline]
    pub fn side(&self) -> Option<Side> {
        Side::from_u8(self.side)
    }

    /// The payload interpreted as `P` (a plain reinterpretation; the caller picks `P` by kind).
    #[inline]
    pub fn payload<P: Payload>(&self) -> P {
        bytemuck::cast(self.payload)
    }

    /// Replaces the payload with `payload`.
    #[inline]
    pub fn set_payload<P: Payload>(&mut self, payload: P) {
        self.payload = bytemuck::cast(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_byte() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_u8(kind as u8), Some(kind));
        }
        assert_eq!(EventKind::from_u8(0), None);
        assert_eq!(EventKind::from_u8(200), None);
    }

    #[test]
    fn payload_round_trips_and_lands_at_offset_32() {
        let ev = Event::new(
            EventKind::OrderAdd,
            Venue::Lobster,
            7,
            OrderRef { order_id: 42, price: -5, qty: 9 },
        )
        .with_side(Side::Ask)
        .with_times(11, 12, 13);
        let bytes = bytemuck::bytes_of(&ev);
        assert_eq!(bytes.len(), 64);
        assert_eq!(&bytes[32..40], &42u64.to_ne_bytes());
        assert_eq!(&bytes[40..48], &(-5i64).to_ne_bytes());
        let back: OrderRef = ev.payload();
        assert_eq!(back, OrderRef { order_id: 42, price: -5, qty: 9 });
        assert_eq!(ev.side(), Some(Side::Ask));
        assert_eq!(ev.kind(), Some(EventKind::OrderAdd));
        assert_eq!((ev.sequence, ev.exchange_ns, ev.receive_ns), (11, 12, 13));
    }

    #[test]
    fn liquidator_bid_packs_both_ids() {
        let bid = LiquidatorBid::new(u32::MAX, 3, 100, 2);
        assert_eq!(bid.liquidator(), u32::MAX);
        assert_eq!(bid.auction(), 3);
    }

    #[test]
    fn invalid_bytes_decode_to_none() {
        let mut ev = Event::ZERO;
        ev.side = 9;
        ev.kind = 99;
        assert_eq!(ev.side(), None);
        assert_eq!(ev.kind(), None);
        assert_eq!(Venue::from_u8(250), None);
    }
}
