//! Plain value types of the order book: requests, configuration, results and events.

use gavel_feeds::wire::Side;

/// A client's order id (unique among resting orders of one book).
pub type OrderId = u64;
/// An account id: the risk engine's (one width across the workspace).
pub type AccountId = crate::risk::AccountId;

/// How an order treats the part it cannot fill at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// Limit order; the unfilled rest stays on the book until cancelled (GTC).
    Limit,
    /// Immediate-or-cancel limit order: fills what it can, cancels the rest.
    Ioc,
    /// Fill-or-kill limit order: fills completely at once or is rejected untouched.
    Fok,
    /// Market order: an IOC whose limit is the book's price-protection band.
    Market,
}

/// Self-trade prevention: what happens when an incoming order would trade
/// with a resting order of the same account. The incoming order's mode rules.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Stp {
    /// Self-trades are allowed.
    #[default]
    None,
    /// The incoming (newest) order's remainder is cancelled; the resting order stays.
    CancelNewest,
    /// The resting (oldest) order is cancelled; the incoming order keeps matching.
    CancelOldest,
    /// Both the resting order and the incoming order's remainder are cancelled.
    CancelBoth,
}

impl Stp {
    /// Decodes the 2-bit STP code of `wire::order_flags` (0..=3).
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 0b11 {
            0 => Stp::None,
            1 => Stp::CancelNewest,
            2 => Stp::CancelOldest,
            _ => Stp::CancelBoth,
        }
    }

    /// The 2-bit code of this mode.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Client order id; must not be resting already.
    pub id: OrderId,
    /// Owning account.
    pub account: AccountId,
    /// Buy (`Side::Bid`) or sell (`Side::Ask`).
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Limit price in ticks (> 0; ignored for market orders).
    pub price: i64,
    /// Quantity in lots (> 0).
    pub qty: i64,
    /// Only add liquidity (limit orders only; see [`PostOnlyPolicy`]).
    pub post_only: bool,
    /// Only reduce the account's position (quantity capped by the [`ReduceOnlyCap`] hook).
    pub reduce_only: bool,
    /// Self-trade prevention mode.
    pub stp: Stp,
}

impl NewOrder {
    /// A plain GTC limit order with no flags.
    pub const fn limit(id: OrderId, account: AccountId, side: Side, price: i64, qty: i64) -> Self {
        NewOrder {
            id,
            account,
            side,
            order_type: OrderType::Limit,
            price,
            qty,
            post_only: false,
            reduce_only: false,
            stp: Stp::None,
        }
    }
}

/// What a post-only order does when its price would cross the opposite best.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PostOnlyPolicy {
    /// Reject it ([`Reject::PostOnlyWouldCross`]).
    #[default]
    Reject,
    /// Re-price it one tick behind the opposite best (bid: best ask − 1, ask: best bid + 1).
    Slide,
}

/// The price-protection band of market orders, around the opposite best price
/// at arrival: a buy may trade up to `best_ask + band`, a sell down to `best_bid − band`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceBand {
    /// A fixed number of ticks.
    Ticks(i64),
    /// Basis points of the reference price, rounded down to whole ticks.
    Bps(i64),
}

impl PriceBand {
    /// The band width in ticks around `reference` (never negative).
    pub fn width(self, reference: i64) -> i64 {
        match self {
            PriceBand::Ticks(t) => t.max(0),
            PriceBand::Bps(bps) => {
                let w = (reference as i128 * bps as i128) / 10_000;
                w.clamp(0, i64::MAX as i128) as i64
            }
        }
    }
}

/// Maker and taker fee rates in parts per million of the notional
/// (price ticks × lots). Negative rates are rebates.
///
/// Rounding: a fee is `ceil(price × qty × rate / 1_000_000)` computed in `i128`,
/// i.e. charges round up and rebates round toward zero — always in the venue's favour,
/// so the sum of rounded fees never under-collects.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FeeSchedule {
    /// Maker rate, per million (e.g. −50 = 0.5 bp rebate).
    pub maker_ppm: i64,
    /// Taker rate, per million (e.g. 400 = 4 bp).
    pub taker_ppm: i64,
}

impl FeeSchedule {
    /// The fee in quote units (price ticks × lots) for one fill at `rate_ppm`.
    pub fn fee(price: i64, qty: i64, rate_ppm: i64) -> i64 {
        // price × qty always fits in i128; × rate saturates instead of overflowing.
        let n = (price as i128 * qty as i128).saturating_mul(rate_ppm as i128);
        // ceil(n / d) for d > 0: floor(n / d), plus one if anything remains.
        let fee = n.div_euclid(1_000_000) + i128::from(n.rem_euclid(1_000_000) != 0);
        fee.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

/// Construction-time settings of a book; all storage is allocated from them once.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct BookConfig {
    /// Maximum number of resting orders (the order pool size).
    pub order_capacity: usize,
    /// Maximum number of price levels per side.
    pub level_capacity: usize,
    /// Post-only behaviour.
    pub post_only: PostOnlyPolicy,
    /// Market-order protection band.
    pub market_band: PriceBand,
    /// Fee rates.
    pub fees: FeeSchedule,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig {
            order_capacity: 1 << 16,
            level_capacity: 4096,
            post_only: PostOnlyPolicy::Reject,
            market_band: PriceBand::Bps(500),
            fees: FeeSchedule::default(),
        }
    }
}

/// Why a request was refused. A rejected request leaves the book untouched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// The order pool is full: the order would need a slot to rest.
    PoolFull,
    /// The side already holds `level_capacity` levels and the order needs a new one.
    LevelsFull,
    /// An order with this id is already resting.
    DuplicateId,
    /// No resting order has this id.
    UnknownOrder,
    /// Quantity ≤ 0.
    InvalidQty,
    /// Price ≤ 0 (limit orders).
    InvalidPrice,
    /// Side is neither bid nor ask.
    InvalidSide,
    /// The flag combination makes no sense (post-only with IOC/FOK/market).
    InvalidFlags,
    /// A post-only order would have crossed (policy [`PostOnlyPolicy::Reject`]).
    PostOnlyWouldCross,
    /// A fill-or-kill order could not be filled completely.
    FokUnfilled,
    /// A market order found no opposite price to anchor its band.
    NoLiquidity,
    /// The reduce-only hook allowed no quantity.
    ReduceOnly,
    /// The account id does not fit gavel's account id width (wire orders).
    InvalidAccount,
}

/// Result of an accepted order or modify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Lots filled at once.
    pub filled: i64,
    /// Lots left resting on the book.
    pub resting: i64,
    /// Lots cancelled (IOC/market remainder, self-trade prevention, reduce-only cap).
    pub cancelled: i64,
    /// Price the remainder rests at (after a post-only slide), or the limit used.
    pub price: i64,
}

/// One trade between a resting (maker) and an incoming (taker) order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Resting order's id.
    pub maker_id: OrderId,
    /// Incoming order's id.
    pub taker_id: OrderId,
    /// Resting order's account.
    pub maker_account: AccountId,
    /// Incoming order's account.
    pub taker_account: AccountId,
    /// Side of the incoming order (the aggressor).
    pub taker_side: Side,
    /// Trade price: the maker's price, in ticks.
    pub price: i64,
    /// Lots traded.
    pub qty: i64,
    /// Maker fee in quote units (negative = rebate).
    pub maker_fee: i64,
    /// Taker fee in quote units.
    pub taker_fee: i64,
}

/// Why a resting order left the book without trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// Self-trade prevention removed it (modes cancel-oldest and cancel-both).
    SelfTrade,
    /// A mass cancel of its account.
    MassCancel,
}

/// What the book reports to the caller's sink while it works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookEvent {
    /// A trade.
    Fill(Fill),
    /// A resting order was removed as a side effect of another request.
    Cancelled {
        /// The removed order's id.
        id: OrderId,
        /// Its account.
        account: AccountId,
        /// The quantity it still had.
        qty: i64,
        /// Its side.
        side: Side,
        /// Its price, ticks.
        price: i64,
        /// Why.
        reason: CancelReason,
    },
}

/// Aggregated quantity at one price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct DepthLevel {
    /// Price in ticks.
    pub price: i64,
    /// Total resting lots.
    pub qty: i64,
    /// Number of resting orders.
    pub orders: u32,
}

/// The cost of taking `qty` from one side of the book (see `Book::walk_cost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WalkCost {
    /// Lots available (≤ the requested quantity).
    pub filled: i64,
    /// Σ price × lots over the levels taken.
    pub notional: i128,
    /// The last (worst) price reached, or 0 when nothing was available.
    pub worst_price: i64,
}

/// A read-only view of one resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderView {
    /// Order id.
    pub id: OrderId,
    /// Account.
    pub account: AccountId,
    /// Side.
    pub side: Side,
    /// Price in ticks.
    pub price: i64,
    /// Remaining lots.
    pub qty: i64,
}

/// The reduce-only hook: the risk layer caps a reduce-only order's quantity by
/// the account's position. Returns the allowed quantity (≤ `qty`; ≤ 0 rejects).
pub trait ReduceOnlyCap {
    /// Allowed quantity for `account` trading `qty` lots on `side`.
    fn cap(&mut self, account: AccountId, side: Side, qty: i64) -> i64;
}

/// The default hook: allows the full quantity.
#[derive(Clone, Copy, Debug, Default)]
pub struct AllowAll;

impl ReduceOnlyCap for AllowAll {
    fn cap(&mut self, _account: AccountId, _side: Side, qty: i64) -> i64 {
        qty
    }
}

impl<F: FnMut(AccountId, Side, i64) -> i64> ReduceOnlyCap for F {
    fn cap(&mut self, account: AccountId, side: Side, qty: i64) -> i64 {
        self(account, side, qty)
    }
}
