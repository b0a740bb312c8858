//! Simulated liquidators for replay and tests.
//!
//! A liquidator watches running auctions and bids when it can lay the lot off
//! on the mirrored venue books at a profit: for a sale it buys from the auction
//! and sells into venue bids; for a buy-back it sells to the auction and buys
//! venue asks. It sizes the take as the largest quantity whose hedge VWAP beats
//! the auction price by its required margin, within its capital, and bids that
//! quantity with a limit equal to the hedge VWAP less (plus) the margin. Its bid
//! reaches gavel `latency_ns` after the decision, as a wire `LiquidatorBid`
//! event. Everything is integer and a pure function of the auction and depth,
//! so a replay is deterministic. Real liquidators send the same wire events.

use gavel_feeds::wire::{Event, EventKind, LiquidatorBid, Venue};

use super::depth::{for_each_merged_level, DepthView};
use super::dutch::{Auction, AuctionStatus};
use super::lot::LotSide;

/// A simulated liquidator's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LiquidatorConfig {
    /// Liquidator id (low 32 bits of the wire bid).
    pub id: u32,
    /// Decision-to-arrival delay in ns.
    pub latency_ns: i64,
    /// Most quote units it commits to one take (`price × qty × multiplier`).
    pub capital: i64,
    /// Profit it requires over its hedge, in bps of the hedge price.
    pub margin_bps: u32,
}

/// A bid decided but not yet arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedBid {
    /// Arrival (event) time at gavel.
    pub arrive_ns: i64,
    /// Auction (lot) id.
    pub auction: u32,
    /// Lots.
    pub qty: i64,
    /// Worst acceptable auction price in ticks.
    pub limit: i64,
}

impl PlannedBid {
    /// The wire event this bid becomes (`receive_ns` = arrival time).
    pub fn to_event(&self, liquidator: u32, instrument: u32, sequence: u64) -> Event {
        Event::new(
            EventKind::LiquidatorBid,
            Venue::Gavel,
            instrument,
            LiquidatorBid::new(liquidator, self.auction, self.limit, self.qty),
        )
        .with_times(sequence, self.arrive_ns, self.arrive_ns)
    }
}

/// The largest `qty ≤ max_qty` whose hedge on `venues` beats `price` by
/// `margin_bps`, with that hedge's notional: for a sale (liquidator buys from
/// the auction, sells venue bids) `hedge_notional × (1 − m) ≥ price × qty`; for a
/// buy-back `price × qty ≥ hedge_notional × (1 + m)`. Returns `(qty, notional)`.
pub fn profitable_size(
    venues: &[&dyn DepthView],
    side: LotSide,
    price: i64,
    margin_bps: u32,
    max_qty: i64,
) -> (i64, i128) {
    let m = margin_bps as i128;
    let price = price as i128;
    let (mut filled, mut notional) = (0i128, 0i128);
    for_each_merged_level(venues, side, |_, level_price, level_qty| {
        let room = max_qty as i128 - filled;
        if room <= 0 {
            return false;
        }
        let level_price = level_price as i128;
        // Adding x lots at L keeps the condition iff x × gain_per_lot ≥ −slack.
        let (gain_per_lot, slack) = match side {
            LotSide::Sell => (
                level_price * (10_000 - m) - price * 10_000,
                notional * (10_000 - m) - price * 10_000 * filled,
            ),
            LotSide::Buy => (
                price * 10_000 - level_price * (10_000 + m),
                price * 10_000 * filled - notional * (10_000 + m),
            ),
        };
        let x = if gain_per_lot >= 0 {
            room.min(level_qty as i128)
        } else {
            // x ≤ slack / −gain: the level's worse price eats the slack.
            (slack.max(0) / -gain_per_lot).min(room).min(level_qty as i128)
        };
        filled += x;
        notional += level_price * x;
        x == level_qty as i128 && gain_per_lot >= 0
    });
    (filled as i64, notional)
}

/// A simulated liquidator.
#[derive(Clone, Debug)]
pub struct SimLiquidator {
    /// Parameters.
    pub config: LiquidatorConfig,
    /// Bid in flight, if any (one at a time).
    pub pending: Option<PlannedBid>,
    /// Takes that executed.
    pub takes: u32,
    /// Profit booked against the hedge, quote units (hedge proceeds − auction payment for sales).
    pub profit: i128,
}

impl SimLiquidator {
    /// A liquidator with no bid in flight.
    pub fn new(config: LiquidatorConfig) -> Self {
        Self {
            config,
            pending: None,
            takes: 0,
            profit: 0,
        }
    }

    /// Decides at `now_ns` whether to bid on `auction`; the bid arrives `latency_ns` later.
    /// The liquidator prices the auction at its arrival time (the curve is public).
    pub fn decide(
        &self,
        auction: &Auction,
        now_ns: i64,
        multiplier: i64,
        venues: &[&dyn DepthView],
    ) -> Option<PlannedBid> {
        if self.pending.is_some() || auction.status() != AuctionStatus::Running {
            return None;
        }
        let arrive_ns = now_ns.saturating_add(self.config.latency_ns.max(0));
        if arrive_ns >= auction.lot().deadline_ns || auction.reset_reason(arrive_ns).is_some() {
            return None;
        }
        let side = auction.lot().side;
        let price = auction.price(arrive_ns, venues);
        if price <= 0 {
            return None;
        }
        let affordable = (self.config.capital as i128 / (price as i128 * multiplier.max(1) as i128)) as i64;
        let remaining = auction.remaining();
        let (mut qty, _) = profitable_size(venues, side, price, self.config.margin_bps, affordable.min(remaining));
        // Respect the dust rule: take everything, or leave at least `min_lot`.
        let min_lot = auction.min_lot();
        if qty < remaining && remaining - qty < min_lot {
            qty = remaining - min_lot;
        }
        if qty <= 0 || (qty < min_lot && qty < remaining) {
            return None;
        }
        // Limit: the hedge VWAP for this size less (plus) the margin.
        let (_, notional) = profitable_size(venues, side, price, self.config.margin_bps, qty);
        let m = self.config.margin_bps as i128;
        let limit = match side {
            LotSide::Sell => notional * (10_000 - m) / (10_000 * qty as i128),
            LotSide::Buy => (notional * (10_000 + m) + 10_000 * qty as i128 - 1) / (10_000 * qty as i128),
        } as i64;
        Some(PlannedBid {
            arrive_ns,
            auction: auction.lot().id,
            qty,
            limit,
        })
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use crate::auction::depth::L2Book;

    #[test]
    fn profitable_size_stops_where_the_hedge_stops_paying() {
        let bids = L2Book::from_levels(Venue::Okx, &[(10_000, 5), (9_990, 5), (9_900, 100)], &[]);
        // Price 9 950, margin 0: levels 10 000 and 9 990 are fine (10 lots, notional 99 950);
        // at 9 900 the slack 99 950 − 99 500 = 450 allows ⌊450 / 50⌋ = 9 more lots.
        let (qty, notional) = profitable_size(&[&bids], LotSide::Sell, 9_950, 0, 1_000);
        assert_eq!(qty, 19);
        assert_eq!(notional, 99_950 + 9 * 9_900);
        assert!(notional >= 9_950 * 19);
        // With a 100 bps margin nothing below 10 050 × 0.99 … price too high: none.
        assert_eq!(profitable_size(&[&bids], LotSide::Sell, 9_990, 100, 1_000).0, 0);
        // Buy-back mirror: liquidator sells at 10 050 to the protocol, buys asks.
        let asks = L2Book::from_levels(Venue::Okx, &[], &[(10_000, 5), (10_100, 100)]);
        let (qty, _) = profitable_size(&[&asks], LotSide::Buy, 10_050, 0, 1_000);
        assert_eq!(qty, 10); // 5 @ 10 000 gives slack 250, 5 more at a loss of 50 each
        assert_eq!(profitable_size(&[&asks], LotSide::Buy, 10_050, 0, 3).0, 3);
    }
}
