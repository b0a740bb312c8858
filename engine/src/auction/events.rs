//! Outcome events of liquidation execution, for the journal.
//!
//! Every state change of an auction, slice, backstop take or route decision is
//! one [`ExecutionEvent`]; replaying the same input events yields the same
//! sequence. Sinks implement [`EventSink`] (a `Vec` with reserved capacity does
//! not allocate on the hot path).

use gavel_feeds::wire::Venue;

use super::lot::LotSide;

/// Why an auction restarted (Maker's `redo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetReason {
    /// Older than `tail`.
    Tail,
    /// The curve fell below `cusp` × start price.
    Cusp,
}

/// Which execution path a lot takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Dutch auction to liquidators.
    Auction,
    /// Impact-limited child orders on venues.
    Slicing,
    /// Auction for part of the lot, slicing for the rest.
    Both,
    /// Baseline: everything at once at market on the deepest venue.
    Naive,
}

/// Why a route was chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteReason {
    /// The policy forces this route.
    Forced,
    /// Lowest expected value lost.
    LowestExpectedCost,
    /// No depth to estimate with; fell back to the auction (it has a floor and a deadline).
    NoDepth,
}

/// Why a liquidator bid was not executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// No running auction with that id.
    UnknownAuction,
    /// The auction price is worse for the liquidator than the bid's limit.
    PriceBeyondLimit,
    /// Quantity not positive.
    BadQuantity,
    /// The take would leave less than the minimum lot, or is itself below it.
    Dust,
    /// Not a `LiquidatorBid` event.
    NotABid,
    /// The auction is past its deadline.
    Expired,
}

/// How one fill's quote amount is split (quote units, all ≥ 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FillSplit {
    /// `price × qty × multiplier` exchanged with the counterparty.
    pub gross: i128,
    /// Penalty charged to the account for this fill (= `keeper + fund`).
    pub penalty: i128,
    /// Keeper incentive (`tip` share + `chip` × gross), paid out of the penalty.
    pub keeper: i128,
    /// Penalty left for the insurance fund.
    pub fund: i128,
    /// Penalty not charged because the fill left no equity above bankruptcy.
    pub waived: i128,
}

/// One journal record of liquidation execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutionEvent {
    /// A route was picked for a lot; expected value lost per route in quote units (`i128::MAX` = unavailable).
    RouteChosen {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Chosen route.
        route: Route,
        /// Why.
        reason: RouteReason,
        /// Lots sent to the auction (rest to slicing).
        auction_qty: i64,
        /// Expected value lost via auction.
        expected_auction: i128,
        /// Expected value lost via slicing.
        expected_slicing: i128,
        /// Expected value lost via the naive route.
        expected_naive: i128,
    },
    /// An auction started.
    AuctionStarted {
        /// Lot id (= auction id).
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Direction the protocol trades.
        side: LotSide,
        /// Lots auctioned.
        qty: i64,
        /// Start price in ticks (rounded in the account's favour).
        start_price: i64,
    },
    /// An auction restarted from a fresh reference price.
    AuctionReset {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Why.
        reason: ResetReason,
        /// New start price in ticks.
        start_price: i64,
    },
    /// A liquidator took part of an auction.
    Take {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Liquidator id.
        liquidator: u32,
        /// Lots taken.
        qty: i64,
        /// Price in ticks.
        price: i64,
        /// Money split.
        split: FillSplit,
        /// Lots still in the auction.
        remaining: i64,
    },
    /// A bid was rejected (counted, never dropped silently).
    BidRejected {
        /// Auction id named by the bid.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Liquidator id.
        liquidator: u32,
        /// Why.
        reason: RejectReason,
    },
    /// All lots of an auction were taken.
    AuctionCleared {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
    },
    /// The deadline passed with lots left.
    AuctionExpired {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Lots not taken.
        remaining: i64,
    },
    /// A child order was sent to a venue.
    SliceSent {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Target venue.
        venue: Venue,
        /// Lots.
        qty: i64,
        /// Limit price in ticks (the impact bound).
        limit_price: i64,
    },
    /// A child order (partly) filled.
    SliceFilled {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Venue.
        venue: Venue,
        /// Lots filled.
        qty: i64,
        /// Σ price × qty in tick·lots.
        notional: i128,
        /// Money split.
        split: FillSplit,
    },
    /// The naive baseline filled at market.
    NaiveFilled {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Venue.
        venue: Venue,
        /// Lots filled on the venue.
        qty: i64,
        /// Σ price × qty in tick·lots.
        notional: i128,
        /// Money split.
        split: FillSplit,
    },
    /// The backstop vault took lots.
    BackstopTook {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Lots taken.
        qty: i64,
        /// Price in ticks.
        price: i64,
        /// Money split.
        split: FillSplit,
        /// Vault position in the instrument after the take (lots, + long).
        vault_position: i64,
    },
    /// Lots handed back to the risk engine for auto-deleveraging.
    ReturnedForAdl {
        /// Lot id.
        lot: u32,
        /// Event time.
        at_ns: i64,
        /// Lots returned.
        qty: i64,
    },
}

/// Receives execution events.
pub trait EventSink {
    /// Records one event.
    fn emit(&mut self, event: ExecutionEvent);
}

impl EventSink for Vec<ExecutionEvent> {
    fn emit(&mut self, event: ExecutionEvent) {
        self.push(event);
    }
}

/// A sink that only counts (for benchmarks and callers that journal elsewhere).
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingSink(pub u64);

impl EventSink for CountingSink {
    fn emit(&mut self, _event: ExecutionEvent) {
        self.0 += 1;
    }
}
