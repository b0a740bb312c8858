//! Impact-aware slicing: child orders over time, each within an impact limit,
//! spread over venues in proportion to their depth inside that limit.
//!
//! **Impact.** The touch `P₀` is the best price across venues on the side the
//! lot consumes; the limit price is `P₀ × (1 ∓ impact_limit_bps)`. The capacity of
//! one slice is `C = Σ_v d_v`, with `d_v` the lots venue `v` shows at or inside the
//! limit. A slice of `q ≤ C` lots is split `q_v = ⌊q × d_v / C⌋`, the leftover lots
//! going one each to the largest remainders (ties: lower venue index).
//!
//! **Schedule (Almgren–Chriss trade-off).** With `X` lots open, `τ` the slice
//! interval and `N_avail = min(max_slices, ⌊(deadline − now) / τ⌋)` (at least 1),
//! every `N ∈ [min(⌈X / C⌉, N_avail), N_avail]` is scored
//!
//! `U(N) = N × I(⌈X / N⌉) + z × σ_τ × √(Σ_{k=1}^{N−1} (x_k × P × m)²) / 10⁴`,
//!
//! where `I(q)` is the slippage of a `q`-lot slice against the mark, from walking
//! current depth (the book is assumed to refill between slices), `x_k = X − k⌈X/N⌉`
//! the inventory still held during interval `k`, `σ_τ` the volatility per interval
//! in bps and `z` the risk aversion. The first term (temporary impact) falls as
//! slices shrink; the second (timing risk, Almgren–Chriss's variance term in its
//! value-at-risk form) grows with time to solvency. The smallest `N` minimising
//! `U` wins. If even `N_avail` slices cannot stay within the limit, the lot is
//! cut into `N_avail` slices anyway (time to solvency is bounded, the limit is not)
//! and those slices carry the limit price their size needs.
//!
//! The plan is recomputed before every slice from the open quantity, the time
//! left and live depth, so unfilled child orders are picked up by later slices.

use super::depth::{depth_within, for_each_merged_level, walk_venues, DepthView, MAX_VENUES};
use super::events::{EventSink, ExecutionEvent};
use super::fixed::Ray;
use super::ledger::LotLedger;
use super::lot::{value, LiquidationLot, LotSide};
use super::policy::{InstrumentPolicy, SlicingPolicy};

/// One child order for one venue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildOrder {
    /// Index of the venue in the `views` slice.
    pub venue: usize,
    /// Lots.
    pub qty: i64,
    /// Limit price in ticks (immediate-or-cancel at this price or better).
    pub limit: i64,
}

/// Child orders of one slice, without allocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildOrders {
    /// Number of valid entries in `orders`.
    pub len: usize,
    /// The orders; only `..len` are valid.
    pub orders: [ChildOrder; MAX_VENUES],
}

impl ChildOrders {
    /// The valid orders.
    pub fn as_slice(&self) -> &[ChildOrder] {
        &self.orders[..self.len]
    }
}

/// The chosen schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlicePlan {
    /// Number of slices.
    pub slices: i64,
    /// Lots per slice (the last may be smaller).
    pub slice_qty: i64,
    /// Whether every slice fits within the impact limit.
    pub within_limit: bool,
    /// Expected slippage against the mark over all slices, quote units.
    pub expected_impact: i128,
    /// Timing-risk term, quote units.
    pub expected_risk: i128,
}

impl SlicePlan {
    /// `U(N)`: expected impact plus timing risk.
    pub fn expected_cost(&self) -> i128 {
        self.expected_impact + self.expected_risk
    }
}

/// Best price across venues on the side `side` consumes.
fn touch(views: &[&dyn DepthView], side: LotSide) -> Option<i64> {
    let mut best = None;
    for_each_merged_level(views, side, |_, price, _| {
        best = Some(price);
        false
    });
    best
}

/// The impact-limit price: `touch × (1 ∓ limit_bps)`, rounded toward the touch.
pub fn limit_price(touch: i64, side: LotSide, limit_bps: u32) -> i64 {
    let t = touch as i128;
    let b = limit_bps as i128;
    match side {
        LotSide::Sell => (t * (10_000 - b) + 9_999) / 10_000,
        LotSide::Buy => t * (10_000 + b) / 10_000,
    }
    .clamp(0, i64::MAX as i128) as i64
}

/// Slippage against `mark` of a `qty`-lot slice walking `views` (unfillable rest at `fallback` price).
fn slice_impact(views: &[&dyn DepthView], side: LotSide, qty: i64, mark: i64, fallback: i64, multiplier: i64) -> i128 {
    let w = walk_venues(views, side, qty, None);
    let notional = w.notional + fallback as i128 * (qty - w.filled) as i128;
    let at_mark = mark as i128 * qty as i128;
    multiplier as i128
        * match side {
            LotSide::Sell => at_mark - notional,
            LotSide::Buy => notional - at_mark,
        }
}

/// Integer square root (largest `r` with `r² ≤ n`), by Newton's method.
pub fn isqrt(n: u128) -> u128 {
    if n < 2 {
        return n;
    }
    let mut x = 1u128 << ((128 - n.leading_zeros()).div_ceil(2));
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// Lots the venues show within the impact limit (the capacity of one slice).
pub fn capacity(views: &[&dyn DepthView], side: LotSide, limit_bps: u32) -> i64 {
    match touch(views, side) {
        Some(t) => {
            let limit = limit_price(t, side, limit_bps);
            views
                .iter()
                .take(MAX_VENUES)
                .map(|v| depth_within(*v, side, limit))
                .sum()
        }
        None => 0,
    }
}

/// Chooses the number of slices for `open` lots (see the module docs); `None` when
/// there is no depth at all.
pub fn plan(
    open: i64,
    lot: &LiquidationLot,
    mark: i64,
    policy: &InstrumentPolicy,
    views: &[&dyn DepthView],
    now_ns: i64,
) -> Option<SlicePlan> {
    let sp: &SlicingPolicy = &policy.slicing;
    if open <= 0 {
        return None;
    }
    let cap = capacity(views, lot.side, sp.impact_limit_bps);
    if cap <= 0 {
        return None;
    }
    let interval = (sp.interval_ms as i64).saturating_mul(1_000_000).max(1);
    let time_slices = ((lot.deadline_ns - now_ns) / interval).max(1);
    let n_avail = time_slices.min(sp.max_slices as i64).max(1);
    let n_min = ((open + cap - 1) / cap).min(n_avail);
    let m = policy.contract_multiplier;
    let mut best: Option<SlicePlan> = None;
    for n in n_min..=n_avail {
        let q = (open + n - 1) / n;
        let slices = (open + q - 1) / q;
        let last = open - q * (slices - 1);
        let impact = slice_impact(views, lot.side, q, mark, lot.bankruptcy, m) * (slices - 1) as i128
            + slice_impact(views, lot.side, last, mark, lot.bankruptcy, m);
        let mut sum_sq: u128 = 0;
        for k in 1..slices {
            let held = value(mark, open - k * q, m).max(0) as u128;
            sum_sq = sum_sq.saturating_add(held.saturating_mul(held));
        }
        let risk = (isqrt(sum_sq) as i128) * sp.sigma_bps as i128 * sp.risk_z_centi as i128 / 1_000_000;
        let candidate = SlicePlan {
            slices,
            slice_qty: q,
            within_limit: q <= cap,
            expected_impact: impact,
            expected_risk: risk,
        };
        if best.is_none_or(|b| candidate.expected_cost() < b.expected_cost()) {
            best = Some(candidate);
        }
        if q == 1 {
            break;
        }
    }
    best
}

/// Splits `qty` lots across venues in proportion to their depth within `limit`
/// (largest remainders get the leftover lots). If the venues show less than
/// `qty` within the limit, each venue gets its own depth within the limit and
/// the rest goes to venues in depth-walk order at the prices the walk needs.
pub fn split_across_venues(views: &[&dyn DepthView], side: LotSide, qty: i64, limit: i64) -> ChildOrders {
    let n = views.len().min(MAX_VENUES);
    let mut depth = [0i64; MAX_VENUES];
    for (i, view) in views.iter().take(n).enumerate() {
        depth[i] = depth_within(*view, side, limit);
    }
    split_by_depth(views, side, qty, limit, &depth[..n])
}

/// [`split_across_venues`] with each venue's depth within `limit` already known
/// (`depth[i]` for `views[i]`). With one venue, its depth may be counted only up to
/// `qty`: the split is the same.
pub fn split_by_depth(views: &[&dyn DepthView], side: LotSide, qty: i64, limit: i64, depth: &[i64]) -> ChildOrders {
    let mut out = ChildOrders::default();
    let n = views.len().min(depth.len()).min(MAX_VENUES);
    let total: i64 = depth[..n].iter().sum();
    let mut alloc = [0i64; MAX_VENUES];
    let mut limits = [limit; MAX_VENUES];
    if total >= qty && total > 0 {
        let mut given = 0;
        let mut rema = [0i128; MAX_VENUES];
        for i in 0..n {
            let exact = qty as i128 * depth[i] as i128;
            alloc[i] = (exact / total as i128) as i64;
            rema[i] = exact % total as i128;
            given += alloc[i];
        }
        while given < qty {
            let mut pick = None;
            for i in 0..n {
                if alloc[i] < depth[i] && pick.is_none_or(|p: usize| rema[i] > rema[p]) {
                    pick = Some(i);
                }
            }
            let Some(p) = pick else { break };
            alloc[p] += 1;
            rema[p] = -1;
            given += 1;
        }
    } else {
        // Over the limit: walk merged depth for the whole slice; each venue gets
        // what the walk takes from it, limited at the worst price taken there.
        let mut left = qty;
        for_each_merged_level(views, side, |venue, price, level_qty| {
            if left <= 0 {
                return false;
            }
            let take = level_qty.min(left);
            alloc[venue] += take;
            limits[venue] = price;
            left -= take;
            true
        });
    }
    for i in 0..n {
        if alloc[i] > 0 {
            out.orders[out.len] = ChildOrder {
                venue: i,
                qty: alloc[i],
                limit: limits[i],
            };
            out.len += 1;
        }
    }
    out
}

/// Executes part of a lot by slicing; fills come back through [`Slicer::on_fill`].
#[derive(Clone, Debug)]
pub struct Slicer {
    lot: LiquidationLot,
    policy: InstrumentPolicy,
    mark: i64,
    next_send_ns: i64,
    /// Slices sent so far.
    pub slices_sent: u32,
    /// Money and quantity accounting of the sliced lots.
    pub ledger: LotLedger,
}

impl Slicer {
    /// A slicer for `lot` (its whole quantity) starting at `now_ns`.
    pub fn new(lot: &LiquidationLot, policy: &InstrumentPolicy, now_ns: i64) -> Self {
        Self {
            lot: *lot,
            policy: *policy,
            mark: lot.mark,
            next_send_ns: now_ns,
            slices_sent: 0,
            ledger: LotLedger::new(lot, policy.contract_multiplier, 0),
        }
    }

    /// A slicer that continues an existing ledger (e.g. the backstop's overflow),
    /// with `lot.deadline_ns` as its new deadline; it slices the ledger's open lots.
    pub fn with_ledger(lot: &LiquidationLot, policy: &InstrumentPolicy, now_ns: i64, ledger: LotLedger) -> Self {
        Self {
            ledger,
            ..Self::new(lot, policy, now_ns)
        }
    }

    /// Lots not yet filled.
    pub fn open(&self) -> i64 {
        self.ledger.open()
    }

    /// Event time of the next slice.
    pub fn next_send_ns(&self) -> i64 {
        self.next_send_ns
    }

    /// Updates the reference (mark) price.
    pub fn set_mark(&mut self, mark: i64) {
        if mark > 0 {
            self.mark = mark;
        }
    }

    /// At or after the next send time and before the deadline, re-plans and
    /// returns the child orders of one slice (each journaled as `SliceSent`).
    pub fn on_time(&mut self, now_ns: i64, views: &[&dyn DepthView], sink: &mut impl EventSink) -> ChildOrders {
        let mut out = ChildOrders::default();
        let open = self.open();
        if open <= 0 || now_ns < self.next_send_ns || now_ns >= self.lot.deadline_ns {
            return out;
        }
        let interval = (self.policy.slicing.interval_ms as i64)
            .saturating_mul(1_000_000)
            .max(1);
        self.next_send_ns = now_ns.saturating_add(interval);
        let Some(plan) = plan(open, &self.lot, self.mark, &self.policy, views, now_ns) else {
            return out;
        };
        let Some(t) = touch(views, self.lot.side) else {
            return out;
        };
        let qty = plan.slice_qty.min(open);
        let limit = limit_price(t, self.lot.side, self.policy.slicing.impact_limit_bps);
        out = split_across_venues(views, self.lot.side, qty, limit);
        for order in out.as_slice() {
            sink.emit(ExecutionEvent::SliceSent {
                lot: self.lot.id,
                at_ns: now_ns,
                venue: views[order.venue].venue(),
                qty: order.qty,
                limit_price: order.limit,
            });
        }
        self.slices_sent += 1;
        out
    }

    /// Books a child-order fill of `qty` lots worth `notional` tick·lots on `venue`.
    pub fn on_fill(
        &mut self,
        now_ns: i64,
        venue: gavel_feeds::wire::Venue,
        qty: i64,
        notional: i128,
        sink: &mut impl EventSink,
    ) {
        if qty <= 0 {
            return;
        }
        let split = self.ledger.record_fill_notional(qty, notional, Ray::ZERO, false);
        sink.emit(ExecutionEvent::SliceFilled {
            lot: self.lot.id,
            at_ns: now_ns,
            venue,
            qty,
            notional,
            split,
        });
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use crate::auction::curve::NS_PER_SEC;
    use crate::auction::depth::L2Book;
    use gavel_feeds::wire::Venue;

    fn lot(qty: i64) -> LiquidationLot {
        LiquidationLot {
            id: 3,
            instrument: 1,
            account: 1,
            side: LotSide::Sell,
            qty,
            mark: 10_000,
            bankruptcy: 9_000,
            penalty_budget: 0,
            created_ns: 0,
            deadline_ns: 600 * NS_PER_SEC,
        }
    }

    #[test]
    fn isqrt_is_exact() {
        for n in [0u128, 1, 2, 3, 4, 15, 16, 17, 1 << 100, u128::MAX] {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1).checked_mul(r + 1).is_none_or(|s| s > n), "{n}");
        }
    }

    #[test]
    fn split_is_proportional_to_depth_within_the_limit() {
        let a = L2Book::from_levels(Venue::BinanceUsdm, &[(9_999, 30), (9_990, 100)], &[]);
        let b = L2Book::from_levels(Venue::Okx, &[(9_998, 10)], &[]);
        // Touch 9 999, 5 bps limit → 9 994.0005 → 9 995 (rounded toward the touch): a 30, b 10.
        assert_eq!(limit_price(9_999, LotSide::Sell, 5), 9_995);
        assert_eq!(capacity(&[&a, &b], LotSide::Sell, 5), 40);
        let orders = split_across_venues(&[&a, &b], LotSide::Sell, 20, 9_995);
        assert_eq!(
            orders.as_slice(),
            &[
                ChildOrder {
                    venue: 0,
                    qty: 15,
                    limit: 9_995
                },
                ChildOrder {
                    venue: 1,
                    qty: 5,
                    limit: 9_995
                }
            ]
        );
        // 7 lots: exact shares 5.25 and 1.75 → 5 + 1, leftover to the larger remainder (b).
        let orders = split_across_venues(&[&a, &b], LotSide::Sell, 7, 9_995);
        assert_eq!(orders.as_slice()[0].qty, 5);
        assert_eq!(orders.as_slice()[1].qty, 2);
    }

    #[test]
    fn plan_trades_impact_against_time() {
        // 10 lots per tick level down from 9 999: each slice's impact grows with its size.
        let levels: Vec<(i64, i64)> = (0..200).map(|i| (9_999 - i, 10)).collect();
        let book = L2Book::from_levels(Venue::Bybit, &levels, &[]);
        let mut policy = InstrumentPolicy::default();
        policy.slicing.impact_limit_bps = 10; // limit 9 989: capacity 110 lots
        policy.slicing.sigma_bps = 0;
        // No timing risk: the fewest slices with the least impact win — 50 slices of
        // 10 lots each stay on the top level (1 tick from the mark per lot); smaller
        // slices cost no less.
        let p = plan(500, &lot(500), 10_000, &policy, &[&book], 0).unwrap();
        assert_eq!((p.slices, p.slice_qty, p.expected_impact), (50, 10, 500));
        assert!(p.within_limit);
        // Heavy timing risk: the fewest slices that respect the limit (⌈500/110⌉ = 5).
        policy.slicing.sigma_bps = 1_000;
        policy.slicing.risk_z_centi = 1_000;
        let p = plan(500, &lot(500), 10_000, &policy, &[&book], 0).unwrap();
        assert_eq!(p.slices, 5);
        assert_eq!(p.slice_qty, 100);
        // Too little time: the deadline bounds the slices even beyond the limit.
        let mut short = lot(500);
        short.deadline_ns = 2 * NS_PER_SEC;
        let p = plan(500, &short, 10_000, &policy, &[&book], 0).unwrap();
        assert_eq!((p.slices, p.slice_qty, p.within_limit), (2, 250, false));
    }

    #[test]
    fn slicer_sends_spaced_slices_and_books_fills() {
        let levels: Vec<(i64, i64)> = (0..50).map(|i| (9_999 - i, 10)).collect();
        let book = L2Book::from_levels(Venue::Bybit, &levels, &[]);
        let mut policy = InstrumentPolicy::default();
        policy.slicing.impact_limit_bps = 3;
        policy.slicing.sigma_bps = 100;
        let mut slicer = Slicer::new(&lot(100), &policy, 0);
        let mut events = Vec::new();
        let orders = slicer.on_time(0, &[&book], &mut events);
        assert_eq!(orders.len, 1);
        let first = orders.as_slice()[0];
        assert!(first.qty <= 40 && first.limit == 9_997, "{first:?}");
        // Not again before the interval.
        assert_eq!(slicer.on_time(NS_PER_SEC - 1, &[&book], &mut events).len, 0);
        slicer.on_fill(5, Venue::Bybit, first.qty, first.qty as i128 * 9_998, &mut events);
        assert_eq!(slicer.open(), 100 - first.qty);
        assert!(matches!(events.last(), Some(ExecutionEvent::SliceFilled { qty, .. }) if *qty == first.qty));
        assert_eq!(slicer.on_time(NS_PER_SEC, &[&book], &mut events).len, 1);
        assert!(slicer.ledger.is_balanced());
    }
}
