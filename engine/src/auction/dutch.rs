//! The Dutch auction of one lot (MakerDAO Liquidations 2.0 "Clipper" semantics,
//! mirrored for buy-backs, with a floor from live depth).
//!
//! **Sale** (a long is liquidated, liquidators buy): start `top = mark × (1 + buf)`,
//! price `p(t) = top × f(t)` with `f` the curve factor ([`super::curve`]).
//! **Buy-back** (a short is liquidated, liquidators sell to the protocol): start
//! `bottom = mark × (1 − buf)`, price `p(t) = bottom × (2 − f(t))`: the same
//! relative step as the sale, upward, so both sides give liquidators the same
//! edge per unit of time.
//!
//! **Floor / ceiling.** Unlike Maker, the price never passes what the remaining
//! lots would fetch on the mirrored venue books: walk all venues for the
//! remaining qty (unfilled rest valued at the hard limit `mark × (1 ∓ max_discount)`),
//! take the VWAP, less (plus, for a buy-back) `floor_margin_bps`; a sale never goes
//! below `max(that, mark × (1 − max_discount))`, a buy-back never above
//! `min(that, mark × (1 + max_discount))`. The bound is re-evaluated at every price
//! request, against the depth at that moment.
//!
//! **Reset (`redo`).** An auction older than `tail` (`now − start > tail`) or whose
//! curve factor fell below `cusp` restarts from the current mark. **Deadline.** At
//! or after the lot's deadline the auction expires; the rest goes to the backstop.
//!
//! **Take.** A liquidator takes `min(qty, remaining)` at the current price if the
//! price is within its limit; a take must not leave `0 < remaining < min_lot`, nor
//! be smaller than `min_lot` unless it takes everything (dust rule, Maker's `chost`).
//!
//! **Arithmetic.** Prices are RAY-scaled ticks (`u128`); the curve uses Maker's
//! rounding; the clearing price is rounded to whole ticks in the liquidated
//! account's favour: up for a sale, down for a buy-back.

use gavel_feeds::wire::{Event, EventKind, LiquidatorBid};

use super::depth::{walk_venues, DepthView};
use super::events::{EventSink, ExecutionEvent, FillSplit, RejectReason, ResetReason};
use super::fixed::{mul_div_floor, rmul, Ray, RAY};
use super::ledger::LotLedger;
use super::lot::{LiquidationLot, LotError, LotSide};
use super::policy::{AuctionPolicy, InstrumentPolicy};
use crate::auction::curve::{PreparedCurve, NS_PER_SEC};

/// Lifecycle of an auction.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuctionStatus {
    /// Accepting takes.
    Running,
    /// Every lot taken.
    Cleared,
    /// Deadline passed with lots left.
    Expired,
}

/// One running (or finished) Dutch auction.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Auction {
    lot: LiquidationLot,
    policy: AuctionPolicy,
    curve: PreparedCurve,
    mark: i64,
    top: u128,
    started_ns: i64,
    remaining: i64,
    status: AuctionStatus,
    resets: u32,
    /// Money and quantity accounting of the lot (shared with other routes by the caller).
    pub ledger: LotLedger,
}

/// `bps` as a RAY fraction.
fn bps_ray(bps: u32) -> u128 {
    Ray::from_bps(bps as u64).0
}

impl Auction {
    /// Starts an auction for `qty` lots of `lot` (all of it, or the auction part
    /// of a split route) at event time `now_ns`.
    pub fn start(
        lot: &LiquidationLot,
        qty: i64,
        policy: &InstrumentPolicy,
        now_ns: i64,
        sink: &mut impl EventSink,
    ) -> Result<Self, LotError> {
        lot.validate()?;
        if qty <= 0 || qty > lot.qty {
            return Err(LotError {
                lot: lot.id,
                field: "qty",
                message: "auction qty must be in 1..=lot qty",
            });
        }
        let mut auction = Auction {
            lot: *lot,
            policy: policy.auction,
            curve: PreparedCurve::new(policy.auction.curve),
            mark: lot.mark,
            top: 0,
            started_ns: now_ns,
            remaining: qty,
            status: AuctionStatus::Running,
            resets: 0,
            ledger: LotLedger::new(lot, policy.contract_multiplier, policy.auction.tip),
        };
        auction.top = auction.start_ray(lot.mark);
        sink.emit(ExecutionEvent::AuctionStarted {
            lot: lot.id,
            at_ns: now_ns,
            side: lot.side,
            qty,
            start_price: auction.round(auction.top),
        });
        Ok(auction)
    }

    /// The lot being auctioned.
    pub fn lot(&self) -> &LiquidationLot {
        &self.lot
    }

    /// Minimum lot of the dust rule.
    pub fn min_lot(&self) -> i64 {
        self.policy.min_lot
    }

    /// Lots not yet taken.
    pub fn remaining(&self) -> i64 {
        self.remaining
    }

    /// Current status.
    pub fn status(&self) -> AuctionStatus {
        self.status
    }

    /// How many times the auction restarted.
    pub fn resets(&self) -> u32 {
        self.resets
    }

    /// Event time of the current (re)start.
    pub fn started_ns(&self) -> i64 {
        self.started_ns
    }

    /// Updates the reference (mark) price used by resets and the hard limit.
    pub fn set_mark(&mut self, mark: i64) {
        if mark > 0 {
            self.mark = mark;
        }
    }

    /// Start price in ray-ticks from `mark`: `mark × (1 ± buf)`.
    fn start_ray(&self, mark: i64) -> u128 {
        let mark = mark.max(0) as u128 * RAY;
        match self.lot.side {
            LotSide::Sell => rmul(mark, RAY + self.policy.buf.0),
            LotSide::Buy => rmul(mark, RAY.saturating_sub(self.policy.buf.0)),
        }
    }

    /// Rounds a ray-tick price to ticks in the account's favour.
    fn round(&self, price: u128) -> i64 {
        match self.lot.side {
            LotSide::Sell => Ray(price).ceil_ticks(),
            LotSide::Buy => Ray(price).floor_ticks(),
        }
    }

    /// The curve price in ray-ticks at `now_ns`, before the depth bound.
    pub fn curve_price_ray(&self, now_ns: i64) -> u128 {
        let factor = self.curve.factor(now_ns - self.started_ns);
        match self.lot.side {
            LotSide::Sell => rmul(self.top, factor),
            LotSide::Buy => mul_div_floor(self.top, 2 * RAY - factor, RAY).unwrap_or(u128::MAX),
        }
    }

    /// The depth bound in ray-ticks: the floor of a sale, the ceiling of a buy-back.
    pub fn bound_ray(&self, venues: &[&dyn DepthView]) -> u128 {
        let qty = self.remaining.max(1);
        let mark = self.mark as u128 * RAY;
        let discount = bps_ray(self.policy.max_discount_bps);
        let margin = bps_ray(self.policy.floor_margin_bps);
        let hard = match self.lot.side {
            LotSide::Sell => rmul(mark, RAY - discount),
            LotSide::Buy => rmul(mark, RAY + discount),
        };
        let walk = walk_venues(venues, self.lot.side, qty, None);
        let unfilled = (qty - walk.filled) as u128;
        let vwap = mul_div_floor(walk.notional.max(0) as u128, RAY, qty as u128).unwrap_or(u128::MAX)
            + mul_div_floor(unfilled, hard, qty as u128).unwrap_or(u128::MAX);
        match self.lot.side {
            LotSide::Sell => rmul(vwap, RAY - margin).max(hard),
            LotSide::Buy => rmul(vwap, RAY + margin).min(hard),
        }
    }

    /// The auction price in ray-ticks at `now_ns`: curve price bounded by depth.
    pub fn price_ray(&self, now_ns: i64, venues: &[&dyn DepthView]) -> u128 {
        let curve = self.curve_price_ray(now_ns);
        let bound = self.bound_ray(venues);
        match self.lot.side {
            LotSide::Sell => curve.max(bound),
            LotSide::Buy => curve.min(bound),
        }
    }

    /// The clearing price in ticks at `now_ns` (rounded in the account's favour).
    pub fn price(&self, now_ns: i64, venues: &[&dyn DepthView]) -> i64 {
        self.round(self.price_ray(now_ns, venues))
    }

    /// Why the auction needs a restart at `now_ns`, if it does (Maker's `status`).
    pub fn reset_reason(&self, now_ns: i64) -> Option<ResetReason> {
        let age = now_ns - self.started_ns;
        if age as i128 > self.policy.tail_s as i128 * NS_PER_SEC as i128 {
            Some(ResetReason::Tail)
        } else if self.curve.factor(age) < self.policy.cusp.0 {
            Some(ResetReason::Cusp)
        } else {
            None
        }
    }

    /// Brings the auction to `now_ns`: expires it at the deadline, restarts it
    /// when `tail` or `cusp` says so. Returns the status afterwards.
    pub fn advance(&mut self, now_ns: i64, sink: &mut impl EventSink) -> AuctionStatus {
        if self.status != AuctionStatus::Running {
            return self.status;
        }
        if now_ns >= self.lot.deadline_ns {
            self.status = AuctionStatus::Expired;
            sink.emit(ExecutionEvent::AuctionExpired {
                lot: self.lot.id,
                at_ns: now_ns,
                remaining: self.remaining,
            });
        } else if let Some(reason) = self.reset_reason(now_ns) {
            self.started_ns = now_ns;
            self.top = self.start_ray(self.mark);
            self.resets += 1;
            sink.emit(ExecutionEvent::AuctionReset {
                lot: self.lot.id,
                at_ns: now_ns,
                reason,
                start_price: self.round(self.top),
            });
        }
        self.status
    }

    /// A liquidator's take of up to `qty` lots at event time `now_ns`, accepted
    /// if the price is within `limit` (sale: price ≤ limit; buy-back: price ≥ limit).
    pub fn take(
        &mut self,
        now_ns: i64,
        liquidator: u32,
        qty: i64,
        limit: i64,
        venues: &[&dyn DepthView],
        sink: &mut impl EventSink,
    ) -> Result<FillSplit, RejectReason> {
        match self.advance(now_ns, sink) {
            AuctionStatus::Running => {}
            AuctionStatus::Expired => return Err(RejectReason::Expired),
            AuctionStatus::Cleared => return Err(RejectReason::UnknownAuction),
        }
        if qty <= 0 {
            return Err(RejectReason::BadQuantity);
        }
        let price = self.price(now_ns, venues);
        let acceptable = match self.lot.side {
            LotSide::Sell => price <= limit,
            LotSide::Buy => price >= limit,
        };
        if !acceptable {
            return Err(RejectReason::PriceBeyondLimit);
        }
        let slice = qty.min(self.remaining);
        let left = self.remaining - slice;
        if left > 0 && (left < self.policy.min_lot || slice < self.policy.min_lot) {
            return Err(RejectReason::Dust);
        }
        let split = self.ledger.record_fill(slice, price, self.policy.chip, true);
        self.remaining = left;
        sink.emit(ExecutionEvent::Take {
            lot: self.lot.id,
            at_ns: now_ns,
            liquidator,
            qty: slice,
            price,
            split,
            remaining: left,
        });
        if left == 0 {
            self.status = AuctionStatus::Cleared;
            sink.emit(ExecutionEvent::AuctionCleared {
                lot: self.lot.id,
                at_ns: now_ns,
            });
        }
        Ok(split)
    }
}

/// All running auctions, fed by wire `LiquidatorBid` events.
#[derive(Debug, Default)]
pub struct AuctionHouse {
    auctions: Vec<Auction>,
    /// Bids rejected so far (each also journaled as `BidRejected`).
    pub rejected_bids: u64,
    /// Takes executed so far.
    pub takes: u64,
}

impl AuctionHouse {
    /// An empty house with room for `capacity` concurrent auctions.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            auctions: Vec::with_capacity(capacity),
            rejected_bids: 0,
            takes: 0,
        }
    }

    /// Starts an auction (see [`Auction::start`]).
    pub fn start(
        &mut self,
        lot: &LiquidationLot,
        qty: i64,
        policy: &InstrumentPolicy,
        now_ns: i64,
        sink: &mut impl EventSink,
    ) -> Result<(), LotError> {
        let auction = Auction::start(lot, qty, policy, now_ns, sink)?;
        self.auctions.push(auction);
        Ok(())
    }

    /// The auction of lot `id`.
    pub fn get(&self, id: u32) -> Option<&Auction> {
        self.auctions.iter().find(|a| a.lot.id == id)
    }

    /// Mutable access to the auction of lot `id`.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Auction> {
        self.auctions.iter_mut().find(|a| a.lot.id == id)
    }

    /// Running auctions.
    pub fn running(&self) -> impl Iterator<Item = &Auction> {
        self.auctions.iter().filter(|a| a.status == AuctionStatus::Running)
    }

    /// Updates the reference (mark) price of every auction of `instrument`
    /// (used by resets and the hard limit), e.g. on a wire `MarkPrice` event.
    pub fn on_mark(&mut self, instrument: u32, mark: i64) {
        for auction in self.auctions.iter_mut().filter(|a| a.lot.instrument == instrument) {
            auction.set_mark(mark);
        }
    }

    /// Handles one wire event that should be a `LiquidatorBid` (event time
    /// `receive_ns`; `venues` = mirrored books of the event's instrument). The
    /// payload's `max_price` is the most the liquidator pays in a sale and the
    /// least it accepts in a buy-back; `qty` is the most it takes. Any rejection
    /// is counted and journaled as `BidRejected`.
    pub fn on_bid(
        &mut self,
        event: &Event,
        venues: &[&dyn DepthView],
        sink: &mut impl EventSink,
    ) -> Result<FillSplit, RejectReason> {
        let bid: LiquidatorBid = event.payload();
        let result = if event.kind() != Some(EventKind::LiquidatorBid) {
            Err(RejectReason::NotABid)
        } else {
            match self.auctions.iter_mut().find(|a| a.lot.id == bid.auction()) {
                None => Err(RejectReason::UnknownAuction),
                Some(auction) if auction.lot.instrument != event.instrument => Err(RejectReason::UnknownAuction),
                Some(auction) => auction.take(event.receive_ns, bid.liquidator(), bid.qty, bid.max_price, venues, sink),
            }
        };
        match result {
            Ok(_) => self.takes += 1,
            Err(reason) => {
                self.rejected_bids += 1;
                sink.emit(ExecutionEvent::BidRejected {
                    lot: bid.auction(),
                    at_ns: event.receive_ns,
                    liquidator: bid.liquidator(),
                    reason,
                });
            }
        }
        result
    }

    /// Advances every auction to `now_ns` (expiries and resets).
    pub fn advance_all(&mut self, now_ns: i64, sink: &mut impl EventSink) {
        for auction in &mut self.auctions {
            auction.advance(now_ns, sink);
        }
    }

    /// Removes finished auctions, handing each to `finished` (e.g. expired ones to the backstop).
    pub fn drain_finished(&mut self, mut finished: impl FnMut(Auction)) {
        let mut i = 0;
        while i < self.auctions.len() {
            if self.auctions[i].status != AuctionStatus::Running {
                finished(self.auctions.remove(i));
            } else {
                i += 1;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use crate::auction::curve::Curve;
    use crate::auction::depth::L2Book;
    use crate::auction::events::ExecutionEvent as E;
    use gavel_feeds::wire::{Side, Venue};
    use proptest::prelude::*;

    const S: i64 = NS_PER_SEC;

    fn lot(side: LotSide, qty: i64) -> LiquidationLot {
        LiquidationLot {
            id: 5,
            instrument: 1,
            account: 77,
            side,
            qty,
            mark: 10_000,
            bankruptcy: match side {
                LotSide::Sell => 9_000,
                LotSide::Buy => 11_000,
            },
            penalty_budget: 5_000,
            created_ns: 0,
            deadline_ns: 3_600 * S,
        }
    }

    fn policy() -> InstrumentPolicy {
        let mut p = InstrumentPolicy::default();
        p.auction.curve = Curve::Stairstep {
            cut: Ray::from_bps(9_900),
            step_s: 10,
        };
        p.auction.buf = Ray::from_bps(200);
        p.auction.cusp = Ray::from_bps(9_000);
        p.auction.tail_s = 600;
        p.auction.min_lot = 2;
        p
    }

    #[test]
    fn sale_starts_above_mark_and_steps_down() {
        let mut events = Vec::new();
        let a = Auction::start(&lot(LotSide::Sell, 10), 10, &policy(), 0, &mut events).unwrap();
        assert_eq!(
            events[0],
            E::AuctionStarted {
                lot: 5,
                at_ns: 0,
                side: LotSide::Sell,
                qty: 10,
                start_price: 10_200
            }
        );
        let none: [&dyn DepthView; 0] = [];
        assert_eq!(a.price(0, &none), 10_200);
        assert_eq!(a.price(10 * S - 1, &none), 10_200);
        assert_eq!(a.price(10 * S, &none), 10_098); // 10200 × 0.99
        assert_eq!(a.price(20 * S, &none), 9_998); // 10200 × 0.9801 = 9997.02 → rounded up
    }

    #[test]
    fn buy_back_mirrors_the_curve_upward() {
        let mut events = Vec::new();
        let a = Auction::start(&lot(LotSide::Buy, 10), 10, &policy(), 0, &mut events).unwrap();
        let none: [&dyn DepthView; 0] = [];
        assert_eq!(a.price(0, &none), 9_800);
        assert_eq!(a.price(10 * S, &none), 9_898); // 9800 × (2 − 0.99)
        assert_eq!(a.price(20 * S, &none), 9_995); // 9800 × 1.0199 = 9995.02 → rounded down
                                                   // Ceiling from asks: VWAP 10 020, +0.5 % = 10 070.1 → 10 070.
        let asks = L2Book::from_levels(Venue::Okx, &[], &[(10_010, 5), (10_030, 5)]);
        assert_eq!(a.price(500 * S, &[&asks]), 10_070);
    }

    #[test]
    fn resets_on_cusp_and_on_tail() {
        let mut events = Vec::new();
        let mut a = Auction::start(&lot(LotSide::Sell, 10), 10, &policy(), 0, &mut events).unwrap();
        // 0.99^10 = 0.904 ≥ cusp 0.9; 0.99^11 = 0.895 < 0.9 → reset at 110 s.
        assert_eq!(a.reset_reason(109 * S), None);
        assert_eq!(a.reset_reason(110 * S), Some(ResetReason::Cusp));
        a.set_mark(9_000);
        assert_eq!(a.advance(110 * S, &mut events), AuctionStatus::Running);
        assert_eq!(
            events.last(),
            Some(&E::AuctionReset {
                lot: 5,
                at_ns: 110 * S,
                reason: ResetReason::Cusp,
                start_price: 9_180
            })
        );
        assert_eq!(a.resets(), 1);

        let mut p = policy();
        p.auction.curve = Curve::Linear { tau_s: 100_000 };
        p.auction.tail_s = 60;
        let mut a = Auction::start(&lot(LotSide::Sell, 10), 10, &p, 0, &mut events).unwrap();
        assert_eq!(a.reset_reason(60 * S), None);
        assert_eq!(a.reset_reason(60 * S + 1), Some(ResetReason::Tail));
        a.advance(60 * S + 1, &mut events);
        assert_eq!(a.started_ns(), 60 * S + 1);
        assert!(matches!(
            events.last(),
            Some(E::AuctionReset {
                reason: ResetReason::Tail,
                ..
            })
        ));
    }

    #[test]
    fn partial_takes_follow_the_dust_rule() {
        let mut events = Vec::new();
        let none: [&dyn DepthView; 0] = [];
        let mut a = Auction::start(&lot(LotSide::Sell, 10), 10, &policy(), 0, &mut events).unwrap();
        // min_lot 2: leaving 1 is dust, taking 1 is dust.
        assert_eq!(a.take(S, 1, 9, 20_000, &none, &mut events), Err(RejectReason::Dust));
        assert_eq!(a.take(S, 1, 1, 20_000, &none, &mut events), Err(RejectReason::Dust));
        // Limit below the price.
        assert_eq!(
            a.take(S, 1, 5, 10_199, &none, &mut events),
            Err(RejectReason::PriceBeyondLimit)
        );
        assert_eq!(
            a.take(S, 1, 0, 20_000, &none, &mut events),
            Err(RejectReason::BadQuantity)
        );
        let split = a.take(S, 1, 8, 10_200, &none, &mut events).unwrap();
        assert_eq!(split.gross, 8 * 10_200);
        assert_eq!(a.remaining(), 2);
        // More than remaining takes what is left and clears.
        a.take(12 * S, 2, 50, 20_000, &none, &mut events).unwrap();
        assert_eq!(a.status(), AuctionStatus::Cleared);
        assert!(matches!(
            events[events.len() - 2],
            E::Take {
                qty: 2,
                price: 10_098,
                liquidator: 2,
                remaining: 0,
                ..
            }
        ));
        assert_eq!(events.last(), Some(&E::AuctionCleared { lot: 5, at_ns: 12 * S }));
        assert_eq!(
            a.take(13 * S, 1, 2, 20_000, &none, &mut events),
            Err(RejectReason::UnknownAuction)
        );
        assert_eq!(a.ledger.filled, 10);
        assert!(a.ledger.is_balanced());
    }

    #[test]
    fn floor_comes_from_live_depth_and_never_from_an_empty_book_near_zero() {
        let mut p = policy();
        p.auction.curve = Curve::Linear { tau_s: 100 };
        p.auction.cusp = Ray::ZERO;
        p.auction.tail_s = 10_000;
        let mut events = Vec::new();
        let a = Auction::start(&lot(LotSide::Sell, 10), 10, &p, 0, &mut events).unwrap();
        let bids = L2Book::from_levels(Venue::BinanceUsdm, &[(9_950, 5), (9_900, 5)], &[]);
        // VWAP 9925 × (1 − 0.005) = 9875.375 → 9876 (rounded up for a sale).
        assert_eq!(a.price(99 * S, &[&bids]), 9_876);
        // Half the depth: 5 @ 9950, 5 at the hard floor 9000 → VWAP 9475 × 0.995 = 9427.625 → 9428.
        let thin = L2Book::from_levels(Venue::BinanceUsdm, &[(9_950, 5)], &[]);
        assert_eq!(a.price(99 * S, &[&thin]), 9_428);
        // No depth at all: the hard floor mark × 0.9.
        let empty = L2Book::new(Venue::BinanceUsdm);
        assert_eq!(a.price(100 * S, &[&empty]), 9_000);
        // Early on the curve is above the floor.
        assert_eq!(a.price(0, &[&bids]), 10_200);
    }

    #[test]
    fn expiry_at_the_deadline_and_wire_bids() {
        let mut events = Vec::new();
        let mut house = AuctionHouse::with_capacity(4);
        house
            .start(&lot(LotSide::Sell, 10), 10, &policy(), 0, &mut events)
            .unwrap();
        let none: [&dyn DepthView; 0] = [];
        let bid = |auction: u32, qty: i64, at: i64| {
            Event::new(
                EventKind::LiquidatorBid,
                Venue::Gavel,
                1,
                LiquidatorBid::new(3, auction, 10_500, qty),
            )
            .with_times(1, at, at)
        };
        assert_eq!(
            house.on_bid(&bid(99, 4, S), &none, &mut events),
            Err(RejectReason::UnknownAuction)
        );
        assert!(matches!(
            events.last(),
            Some(E::BidRejected {
                lot: 99,
                reason: RejectReason::UnknownAuction,
                ..
            })
        ));
        assert!(house.on_bid(&bid(5, 4, S), &none, &mut events).is_ok());
        let mut wrong_kind = bid(5, 4, S);
        wrong_kind.kind = EventKind::Trade as u8;
        assert_eq!(
            house.on_bid(&wrong_kind, &none, &mut events),
            Err(RejectReason::NotABid)
        );
        assert_eq!((house.takes, house.rejected_bids), (1, 2));
        assert_eq!(
            house.on_bid(&bid(5, 4, 3_600 * S), &none, &mut events),
            Err(RejectReason::Expired)
        );
        assert!(events
            .iter()
            .any(|e| matches!(e, E::AuctionExpired { remaining: 6, .. })));
        let mut finished = Vec::new();
        house.drain_finished(|a| finished.push(a.remaining()));
        assert_eq!(finished, vec![6]);
        assert_eq!(house.running().count(), 0);
        let _ = Side::Bid;
    }

    proptest! {
        #[test]
        fn random_takes_conserve_value_and_respect_floor_and_dust(
            qty in 1i64..200,
            min_lot in 1i64..5,
            sell in any::<bool>(),
            steps in proptest::collection::vec((0i64..40 * S, 0i64..60, 9_000i64..11_000), 1..40),
        ) {
            let side = if sell { LotSide::Sell } else { LotSide::Buy };
            let mut p = policy();
            p.auction.min_lot = min_lot;
            p.auction.tip = 37;
            let lot = lot(side, qty);
            let depth = L2Book::from_levels(Venue::Bybit, &[(9_990, 20), (9_950, 40)], &[(10_010, 20), (10_050, 40)]);
            let venues: [&dyn DepthView; 1] = [&depth];
            let mut events = Vec::new();
            let mut a = Auction::start(&lot, qty, &p, 0, &mut events).unwrap();
            let mut now = 0;
            for (dt, take, limit) in steps {
                now += dt;
                a.advance(now, &mut events);
                let before = a.remaining();
                let price = a.price(now, &venues);
                let bound = a.bound_ray(&venues);
                let result = a.take(now, 1, take, limit, &venues, &mut events);
                if let Ok(split) = result {
                    let taken = before - a.remaining();
                    prop_assert_eq!(split.gross, taken as i128 * price as i128);
                    prop_assert!(a.remaining() == 0 || a.remaining() >= min_lot.min(qty));
                    // Never past the depth bound.
                    match side {
                        LotSide::Sell => prop_assert!(price as u128 * RAY >= bound),
                        LotSide::Buy => prop_assert!(price as u128 * RAY <= bound),
                    }
                }
                prop_assert!(a.ledger.is_balanced());
            }
            // Conservation from the journal alone.
            let (mut qty_taken, mut gross, mut account, mut keeper, mut fund) = (0i64, 0i128, 0i128, 0i128, 0i128);
            for e in &events {
                if let E::Take { qty, price, split, .. } = e {
                    qty_taken += qty;
                    prop_assert_eq!(split.gross, *qty as i128 * *price as i128);
                    gross += split.gross;
                    keeper += split.keeper;
                    fund += split.fund;
                    account += match side { LotSide::Sell => split.gross - split.penalty, LotSide::Buy => split.gross + split.penalty };
                }
            }
            prop_assert_eq!(qty_taken + a.remaining(), qty);
            match side {
                LotSide::Sell => prop_assert_eq!(gross, account + keeper + fund),
                LotSide::Buy => prop_assert_eq!(account, gross + keeper + fund),
            }
            if a.remaining() == 0 {
                // Fully taken: the penalty budget is charged or waived to the unit, and the tip fully paid.
                prop_assert_eq!(a.ledger.penalty + a.ledger.waived, lot.penalty_budget as i128);
            }
        }
    }
}
