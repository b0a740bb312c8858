//! Route choice: auction, slicing, both, or the naive baseline, by expected
//! value lost (penalty + expected slippage, quote units).
//!
//! Estimates, all from the depth at decision time (`X` lots, mark `P`):
//! - **naive**: walk the deepest venue for `X`; rest at the bankruptcy price.
//! - **slicing**: the [`super::slicing::plan`] cost `U(N*)` (slippage + timing risk).
//! - **auction**: liquidators hedge on all venues, so the expected clearing
//!   notional is the merged-depth hedge notional `H(X)` (rest at the hard limit),
//!   less their margin (`expected_liquidator_margin_bps`) and less half a curve
//!   step (the price jumps past a bidder's limit by at most one step), but never
//!   below the auction floor.
//! - **both**: one slice of `s = min(C, X − min_lot)` lots within the impact limit
//!   (`C` = capacity), auction for the rest on the depth behind it.
//!
//! Each estimate is slippage against the mark (quote units) plus the lot's penalty
//! budget (for "both", each part's prorated budget; the parts sum to the whole). `auto` picks the minimum over auction, slicing
//! and both (ties in that order); the naive estimate is reported for comparison
//! only. A policy can force any route. With no depth at all, `auto` picks the
//! auction (it has a floor and a deadline).

use super::curve::{Curve, NS_PER_SEC};
use super::depth::{walk_venues, DepthView};
use super::events::{EventSink, ExecutionEvent, Route, RouteReason};
use super::fixed::{mul_div_floor, Ray, RAY};
use super::lot::{lost_for, value, LiquidationLot, LotSide};
use super::naive::expected_naive_cost;
use super::policy::{InstrumentPolicy, RouteMode};
use super::slicing::{capacity, plan};

/// Expected clearing notional of an auction of `qty` lots after the first `skip`
/// lots of depth are gone (see the module docs).
fn auction_notional(
    lot: &LiquidationLot,
    skip: i64,
    qty: i64,
    policy: &InstrumentPolicy,
    views: &[&dyn DepthView],
) -> i128 {
    let ap = &policy.auction;
    let mark = lot.mark as i128;
    let hard = match lot.side {
        LotSide::Sell => mark * (10_000 - ap.max_discount_bps as i128) / 10_000,
        LotSide::Buy => mark * (10_000 + ap.max_discount_bps as i128) / 10_000,
    };
    let all = walk_venues(views, lot.side, skip + qty, None);
    let before = walk_venues(views, lot.side, skip, None);
    let filled = all.filled - before.filled;
    let hedge = all.notional - before.notional + hard * (qty - filled) as i128;
    let step_ns = match ap.curve {
        Curve::Stairstep { step_s, .. } => step_s as i64 * NS_PER_SEC,
        Curve::Linear { .. } | Curve::Exponential { .. } => NS_PER_SEC,
    };
    let half_step = (RAY - ap.curve.factor(step_ns)) / 2;
    let m = Ray::from_bps(ap.expected_liquidator_margin_bps as u64).0;
    let floor_m = Ray::from_bps(ap.floor_margin_bps as u64).0;
    let h = hedge.max(0) as u128;
    let expected = match lot.side {
        LotSide::Sell => {
            let keep = mul_div_floor(RAY - m.min(RAY), RAY - half_step, RAY).unwrap_or(0);
            let floor = mul_div_floor(h, RAY - floor_m.min(RAY), RAY)
                .unwrap_or(0)
                .max((hard * qty as i128) as u128);
            mul_div_floor(h, keep, RAY).unwrap_or(0).max(floor)
        }
        LotSide::Buy => {
            let pay = mul_div_floor(RAY + m, RAY + half_step, RAY).unwrap_or(u128::MAX);
            let ceiling = mul_div_floor(h, RAY + floor_m, RAY)
                .unwrap_or(u128::MAX)
                .min((hard * qty as i128) as u128);
            mul_div_floor(h, pay, RAY).unwrap_or(u128::MAX).min(ceiling)
        }
    };
    i128::try_from(expected).unwrap_or(i128::MAX)
}

/// Expected value lost per route for `lot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteEstimate {
    /// Whole lot by auction.
    pub auction: i128,
    /// Whole lot by slicing (`i128::MAX` without depth).
    pub slicing: i128,
    /// One slice plus auction (`i128::MAX` when not applicable).
    pub both: i128,
    /// Naive baseline.
    pub naive: i128,
    /// Lots the "both" route would auction.
    pub both_auction_qty: i64,
}

/// Estimates every route for `lot` at `now_ns` on `views`.
pub fn estimate(
    lot: &LiquidationLot,
    policy: &InstrumentPolicy,
    views: &[&dyn DepthView],
    now_ns: i64,
) -> RouteEstimate {
    let m = policy.contract_multiplier;
    let auction = lost_for(lot, auction_notional(lot, 0, lot.qty, policy, views), m);
    let slicing = match plan(lot.qty, lot, lot.mark, policy, views, now_ns) {
        Some(p) => {
            let slippage_ticks = p.expected_impact / m as i128;
            let notional = match lot.side {
                LotSide::Sell => value(lot.mark, lot.qty, 1) - slippage_ticks,
                LotSide::Buy => value(lot.mark, lot.qty, 1) + slippage_ticks,
            };
            lost_for(lot, notional, m).saturating_add(p.expected_risk)
        }
        None => i128::MAX,
    };
    let cap = capacity(views, lot.side, policy.slicing.impact_limit_bps);
    let s = cap.min(lot.qty - policy.auction.min_lot);
    let (both, both_auction_qty) = if s > 0 {
        let (sliced, auctioned) = lot.split(s);
        let w = walk_venues(views, lot.side, s, None);
        let slice_lost = lost_for(&sliced, w.notional + lot.bankruptcy as i128 * (s - w.filled) as i128, m);
        let auction_lost = lost_for(&auctioned, auction_notional(lot, s, auctioned.qty, policy, views), m);
        (slice_lost + auction_lost, auctioned.qty)
    } else {
        (i128::MAX, lot.qty)
    };
    RouteEstimate {
        auction,
        slicing,
        both,
        naive: expected_naive_cost(lot, policy, views),
        both_auction_qty,
    }
}

/// The decision for one lot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteDecision {
    /// Chosen route.
    pub route: Route,
    /// Why.
    pub reason: RouteReason,
    /// Lots for the auction (the rest is sliced; the whole lot for `Auction`, 0 for `Slicing`/`Naive`).
    pub auction_qty: i64,
    /// The estimates behind it.
    pub estimate: RouteEstimate,
}

/// Chooses the route for `lot` and journals it as `RouteChosen`.
pub fn choose(
    lot: &LiquidationLot,
    policy: &InstrumentPolicy,
    views: &[&dyn DepthView],
    now_ns: i64,
    sink: &mut impl EventSink,
) -> RouteDecision {
    let estimate = estimate(lot, policy, views, now_ns);
    let has_depth = walk_venues(views, lot.side, 1, None).filled > 0;
    let (route, reason) = match policy.route {
        RouteMode::Force(route) => (route, RouteReason::Forced),
        RouteMode::Auto if !has_depth => (Route::Auction, RouteReason::NoDepth),
        RouteMode::Auto => {
            let mut best = (Route::Auction, estimate.auction);
            for (route, cost) in [(Route::Slicing, estimate.slicing), (Route::Both, estimate.both)] {
                if cost < best.1 {
                    best = (route, cost);
                }
            }
            (best.0, RouteReason::LowestExpectedCost)
        }
    };
    let auction_qty = match route {
        Route::Auction => lot.qty,
        Route::Both if estimate.both_auction_qty < lot.qty => estimate.both_auction_qty,
        Route::Both => lot.qty,
        Route::Slicing | Route::Naive => 0,
    };
    sink.emit(ExecutionEvent::RouteChosen {
        lot: lot.id,
        at_ns: now_ns,
        route,
        reason,
        auction_qty,
        expected_auction: estimate.auction,
        expected_slicing: estimate.slicing,
        expected_naive: estimate.naive,
    });
    RouteDecision {
        route,
        reason,
        auction_qty,
        estimate,
    }
}
