//! gavel's own L3 order book: one book per instrument, price-time priority,
//! integer ticks and lots.
//!
//! Storage is allocated once in [`Book::new`] and never grows: a slab of order
//! slots with a free list, a slab of price levels, per side a sorted array of
//! levels with the best at the end, and an id → slot hash map sized for the
//! pool. Each level holds an intrusive doubly linked FIFO of its orders, so a
//! cancel by id is O(1) except when it empties a level (then one short move in
//! the sorted array). Fills and side-effect cancels go to a caller-provided
//! sink (`FnMut(BookEvent)`); nothing allocates after construction.
//!
//! See `docs/BOOK.md` for the semantics of every order type, self-trade
//! prevention and fee rounding.

mod idmap;
mod ladder;
pub mod lobster_replay;
mod types;
mod walk;
pub mod wire_adapter;
mod image;

pub use types::*;

use gavel_feeds::wire::Side;
use idmap::IdMap;
use ladder::{Ladder, LevelSlab, NIL};

/// One resting order in the pool.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: OrderId,
    account: AccountId,
    price: i64,
    qty: i64,
    prev: u32,
    next: u32,
    level: u32,
    /// Free-list link when the slot is free; unused otherwise.
    next_free: u32,
    side: Side,
    stp: Stp,
    post_only: bool,
}

// One slot per resting order; keep it within 48 bytes.
const _: () = assert!(core::mem::size_of::<Slot>() == 48);

impl Slot {
    const EMPTY: Slot = Slot {
        id: 0,
        account: 0,
        price: 0,
        qty: 0,
        prev: NIL,
        next: NIL,
        level: NIL,
        next_free: NIL,
        side: Side::None,
        stp: Stp::None,
        post_only: false,
    };
}

/// An L3 limit order book for one instrument.
///
/// `R` is the reduce-only hook ([`ReduceOnlyCap`]); the default allows all.
pub struct Book<R: ReduceOnlyCap = AllowAll> {
    config: BookConfig,
    slots: Vec<Slot>,
    free_head: u32,
    live: usize,
    ids: IdMap,
    levels: LevelSlab,
    bids: Ladder,
    asks: Ladder,
    reduce_only: R,
    market_reference: Option<i64>,
}

/// The incoming order while it matches.
struct Taker {
    id: OrderId,
    account: AccountId,
    side: Side,
    stp: Stp,
    limit: i64,
    remaining: i64,
}

impl Book<AllowAll> {
    /// A book with the default reduce-only hook (allows everything).
    pub fn new(config: BookConfig) -> Self {
        Book::with_reduce_only(config, AllowAll)
    }
}

impl<R: ReduceOnlyCap> Book<R> {
    /// A book whose reduce-only orders are capped by `hook`.
    pub fn with_reduce_only(config: BookConfig, hook: R) -> Self {
        let n = config.order_capacity.min(NIL as usize - 1);
        let mut slots = vec![Slot::EMPTY; n];
        for (i, s) in slots.iter_mut().enumerate() {
            s.next_free = if i + 1 < n { (i + 1) as u32 } else { NIL };
        }
        Book {
            config,
            slots,
            free_head: if n > 0 { 0 } else { NIL },
            live: 0,
            ids: IdMap::with_capacity(n),
            levels: LevelSlab::with_capacity(2 * config.level_capacity),
            bids: Ladder::new(config.level_capacity, true),
            asks: Ladder::new(config.level_capacity, false),
            reduce_only: hook,
            market_reference: None,
        }
    }

    /// The configuration the book was built with.
    pub fn config(&self) -> &BookConfig {
        &self.config
    }

    /// Sets (or clears) an external reference price, e.g. the mark price, for
    /// the market-order protection band. Without one the band is anchored at
    /// the opposite best price at each market order's arrival.
    pub fn set_market_reference(&mut self, reference: Option<i64>) {
        self.market_reference = reference.filter(|p| *p > 0);
    }

    /// The reduce-only hook, e.g. to update the positions it reads.
    pub fn reduce_only_hook(&mut self) -> &mut R {
        &mut self.reduce_only
    }

    /// Number of resting orders.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no order rests.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    // ----- queries -------------------------------------------------------

    #[inline]
    fn ladder(&self, side: Side) -> &Ladder {
        if side == Side::Bid {
            &self.bids
        } else {
            &self.asks
        }
    }

    #[inline]
    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        if side == Side::Bid {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }

    /// Best price and its total quantity on `side`.
    #[inline]
    pub fn best(&self, side: Side) -> Option<(i64, i64)> {
        if side == Side::None {
            return None;
        }
        self.ladder(side).best().map(|s| {
            let l = &self.levels.levels[s as usize];
            (l.price, l.total)
        })
    }

    /// Best bid price and quantity.
    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.best(Side::Bid)
    }

    /// Best ask price and quantity.
    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.best(Side::Ask)
    }

    /// Writes up to `out.len()` levels of `side`, best first; returns how many.
    pub fn depth(&self, side: Side, out: &mut [DepthLevel]) -> usize {
        if side == Side::None {
            return 0;
        }
        let mut n = 0;
        for (slot, dst) in self.ladder(side).iter_best_first().zip(out.iter_mut()) {
            let l = &self.levels.levels[slot as usize];
            *dst = DepthLevel {
                price: l.price,
                qty: l.total,
                orders: l.count,
            };
            n += 1;
        }
        n
    }

    /// Number of price levels on `side`.
    pub fn level_count(&self, side: Side) -> usize {
        if side == Side::None {
            0
        } else {
            self.ladder(side).len()
        }
    }

    /// Total resting quantity at `price` on `side` (0 if no level).
    pub fn level_qty(&self, side: Side, price: i64) -> i64 {
        if side == Side::None {
            return 0;
        }
        let ladder = self.ladder(side);
        match ladder.find(price) {
            Ok(i) => self.levels.levels[ladder.slot_at(i) as usize].total,
            Err(_) => 0,
        }
    }

    /// Rank of the level at `price` on `side` (0 = best), if it exists.
    pub fn level_rank(&self, side: Side, price: i64) -> Option<usize> {
        if side == Side::None {
            return None;
        }
        let ladder = self.ladder(side);
        ladder.find(price).ok().map(|i| ladder.len() - 1 - i)
    }

    /// Price of the level of rank `rank` on `side` (0 = best).
    pub fn level_price_at(&self, side: Side, rank: usize) -> Option<i64> {
        if side == Side::None {
            return None;
        }
        self.ladder(side)
            .nth_from_best(rank)
            .map(|s| self.levels.levels[s as usize].price)
    }

    /// A resting order by id.
    pub fn order(&self, id: OrderId) -> Option<OrderView> {
        let s = &self.slots[self.find_id(id)? as usize];
        Some(OrderView {
            id: s.id,
            account: s.account,
            side: s.side,
            price: s.price,
            qty: s.qty,
        })
    }

    /// Cost of an order on `taker_side` taking `qty` lots from the opposite side,
    /// optionally bounded by a limit price. Does not change the book.
    pub fn walk_cost(&self, taker_side: Side, qty: i64, limit: Option<i64>) -> WalkCost {
        let mut cost = WalkCost::default();
        if taker_side == Side::None || qty <= 0 {
            return cost;
        }
        let opp = self.ladder(taker_side.opposite());
        for slot in opp.iter_best_first() {
            let l = &self.levels.levels[slot as usize];
            if let Some(lim) = limit {
                if !crosses(taker_side, lim, l.price) {
                    break;
                }
            }
            let take = (qty - cost.filled).min(l.total);
            cost.filled += take;
            cost.notional += l.price as i128 * take as i128;
            cost.worst_price = l.price;
            if cost.filled >= qty {
                break;
            }
        }
        cost
    }

    // ----- order entry ---------------------------------------------------

    /// Submits a new order; fills and side-effect cancels go to `sink`.
    ///
    /// A rejected order leaves the book untouched and emits nothing.
    pub fn submit(
        &mut self,
        order: NewOrder,
        sink: &mut impl FnMut(BookEvent),
    ) -> Result<Outcome, Reject> {
        if order.side != Side::Bid && order.side != Side::Ask {
            return Err(Reject::InvalidSide);
        }
        if order.qty <= 0 {
            return Err(Reject::InvalidQty);
        }
        if order.post_only && order.order_type != OrderType::Limit {
            return Err(Reject::InvalidFlags);
        }
        if order.order_type != OrderType::Market && order.price <= 0 {
            return Err(Reject::InvalidPrice);
        }
        if self.find_id(order.id).is_some() {
            return Err(Reject::DuplicateId);
        }
        let side = order.side;
        let opp_best = self.best(side.opposite()).map(|(p, _)| p);

        // Limit price (market band, post-only slide).
        let mut price = order.price;
        if order.order_type == OrderType::Market {
            let Some(best) = opp_best else {
                return Err(Reject::NoLiquidity);
            };
            let reference = self.market_reference.unwrap_or(best);
            let band = self.config.market_band.width(reference);
            price = if side == Side::Bid {
                reference.saturating_add(band)
            } else {
                (reference - band).max(1)
            };
        }
        if order.post_only {
            if let Some(best) = opp_best {
                if crosses(side, price, best) {
                    match self.config.post_only {
                        PostOnlyPolicy::Reject => return Err(Reject::PostOnlyWouldCross),
                        PostOnlyPolicy::Slide => {
                            let slid = if side == Side::Bid {
                                best.checked_sub(1)
                            } else {
                                best.checked_add(1)
                            };
                            match slid {
                                Some(p) if p > 0 => price = p,
                                _ => return Err(Reject::PostOnlyWouldCross),
                            }
                        }
                    }
                }
            }
        }

        // Reduce-only cap.
        let mut qty = order.qty;
        let mut capped = 0;
        if order.reduce_only {
            let allowed = self.reduce_only.cap(order.account, side, qty).min(qty);
            if allowed <= 0 {
                return Err(Reject::ReduceOnly);
            }
            capped = qty - allowed;
            qty = allowed;
        }

        // Capacity for a resting remainder is checked up front so that a
        // rejection never follows partial fills.
        // The position found here stays valid for `rest`: matching only
        // touches the opposite side.
        let mut own_position = None;
        if order.order_type == OrderType::Limit {
            if self.free_head == NIL {
                return Err(Reject::PoolFull);
            }
            let ladder = self.ladder(side);
            let position = ladder.find(price);
            if position.is_err() && ladder.is_full() {
                return Err(Reject::LevelsFull);
            }
            own_position = Some(position);
        }

        if order.order_type == OrderType::Fok
            && !self.fok_fillable(order.account, side, order.stp, price, qty)
        {
            return Err(Reject::FokUnfilled);
        }

        let mut taker = Taker {
            id: order.id,
            account: order.account,
            side,
            stp: order.stp,
            limit: price,
            remaining: qty,
        };
        let stp_stopped = if order.post_only {
            false
        } else {
            self.match_taker(&mut taker, sink)
        };
        let filled = qty - taker.remaining;
        let mut outcome = Outcome {
            filled,
            resting: 0,
            cancelled: capped,
            price,
        };
        if taker.remaining > 0 {
            if order.order_type == OrderType::Limit && !stp_stopped {
                let position = own_position.unwrap_or_else(|| self.ladder(side).find(price));
                self.rest(
                    position,
                    order.id,
                    order.account,
                    side,
                    price,
                    taker.remaining,
                    order.stp,
                    order.post_only,
                );
                outcome.resting = taker.remaining;
            } else {
                outcome.cancelled += taker.remaining;
            }
        }
        Ok(outcome)
    }

    /// Places an order on the book without matching, e.g. to mirror an external
    /// venue's book. Used by the LOBSTER replay, whose submits never cross.
    pub fn place(
        &mut self,
        id: OrderId,
        account: AccountId,
        side: Side,
        price: i64,
        qty: i64,
    ) -> Result<(), Reject> {
        if side != Side::Bid && side != Side::Ask {
            return Err(Reject::InvalidSide);
        }
        if qty <= 0 {
            return Err(Reject::InvalidQty);
        }
        if self.find_id(id).is_some() {
            return Err(Reject::DuplicateId);
        }
        if self.free_head == NIL {
            return Err(Reject::PoolFull);
        }
        let ladder = self.ladder(side);
        let position = ladder.find(price);
        if position.is_err() && ladder.is_full() {
            return Err(Reject::LevelsFull);
        }
        self.rest(position, id, account, side, price, qty, Stp::None, false);
        Ok(())
    }

    /// Cancels a resting order; returns the quantity it still had.
    pub fn cancel(&mut self, id: OrderId) -> Result<i64, Reject> {
        let slot = self.find_id(id).ok_or(Reject::UnknownOrder)?;
        let qty = self.slots[slot as usize].qty;
        self.remove_slot(slot);
        Ok(qty)
    }

    /// Reduces a resting order by `by` lots keeping its priority (removing it at
    /// zero); returns the quantity actually removed.
    pub fn reduce(&mut self, id: OrderId, by: i64) -> Result<i64, Reject> {
        if by <= 0 {
            return Err(Reject::InvalidQty);
        }
        let slot = self.find_id(id).ok_or(Reject::UnknownOrder)?;
        let s = self.slots[slot as usize];
        if by >= s.qty {
            self.remove_slot(slot);
            return Ok(s.qty);
        }
        self.slots[slot as usize].qty -= by;
        self.levels.levels[s.level as usize].total -= by;
        Ok(by)
    }

    /// Modifies a resting order. A lower quantity at the same price keeps time
    /// priority; a price change or a higher quantity re-enters the order at the
    /// back of its new level as a GTC limit order (which may trade if it now crosses).
    pub fn modify(
        &mut self,
        id: OrderId,
        new_price: i64,
        new_qty: i64,
        sink: &mut impl FnMut(BookEvent),
    ) -> Result<Outcome, Reject> {
        let slot = self.find_id(id).ok_or(Reject::UnknownOrder)?;
        if new_qty <= 0 {
            return Err(Reject::InvalidQty);
        }
        if new_price <= 0 {
            return Err(Reject::InvalidPrice);
        }
        let s = self.slots[slot as usize];
        if new_price == s.price && new_qty <= s.qty {
            let by = s.qty - new_qty;
            self.slots[slot as usize].qty = new_qty;
            self.levels.levels[s.level as usize].total -= by;
            return Ok(Outcome {
                filled: 0,
                resting: new_qty,
                cancelled: 0,
                price: new_price,
            });
        }
        // Pre-check what would make the re-entry fail, so a rejected modify leaves the order as it was.
        if s.post_only && self.config.post_only == PostOnlyPolicy::Reject {
            if let Some((best, _)) = self.best(s.side.opposite()) {
                if crosses(s.side, new_price, best) {
                    return Err(Reject::PostOnlyWouldCross);
                }
            }
        }
        if new_price != s.price {
            let ladder = self.ladder(s.side);
            let own_level_empties = self.levels.levels[s.level as usize].count == 1;
            if ladder.find(new_price).is_err() && ladder.is_full() && !own_level_empties {
                return Err(Reject::LevelsFull);
            }
        }
        self.remove_slot(slot);
        let order = NewOrder {
            id,
            account: s.account,
            side: s.side,
            order_type: OrderType::Limit,
            price: new_price,
            qty: new_qty,
            post_only: s.post_only,
            reduce_only: false,
            stp: s.stp,
        };
        self.submit(order, sink)
    }

    /// Cancels every resting order of `account`; each one is reported to `sink`
    /// as [`CancelReason::MassCancel`]. Returns how many were cancelled.
    /// O(resting orders).
    pub fn mass_cancel(&mut self, account: AccountId, sink: &mut impl FnMut(BookEvent)) -> usize {
        let mut n = 0;
        for side in [Side::Bid, Side::Ask] {
            let mut depth = 0;
            while let Some(level) = self.ladder(side).nth_from_best(depth) {
                let mut cur = self.levels.levels[level as usize].head;
                let mut emptied = false;
                while cur != NIL {
                    let s = self.slots[cur as usize];
                    if s.account == account {
                        let last = self.levels.levels[level as usize].count == 1;
                        self.remove_slot(cur);
                        sink(BookEvent::Cancelled {
                            id: s.id,
                            account,
                            qty: s.qty,
                            side: s.side,
                            price: s.price,
                            reason: CancelReason::MassCancel,
                        });
                        n += 1;
                        if last {
                            emptied = true;
                            break;
                        }
                    }
                    cur = s.next;
                }
                if !emptied {
                    depth += 1;
                }
            }
        }
        n
    }

    /// Removes up to `qty` lots from the level at `price` on `side`, oldest
    /// orders first (for mirrored books: an execution or cancel of an order
    /// the book never saw). Returns the quantity removed.
    pub fn reduce_level(&mut self, side: Side, price: i64, qty: i64) -> i64 {
        if side == Side::None || qty <= 0 {
            return 0;
        }
        let ladder = self.ladder(side);
        let Ok(i) = ladder.find(price) else { return 0 };
        let level = ladder.slot_at(i);
        let mut removed = 0;
        while removed < qty {
            let head = self.levels.levels[level as usize].head;
            if head == NIL {
                break;
            }
            let have = self.slots[head as usize].qty;
            let take = have.min(qty - removed);
            removed += take;
            if take == have {
                let last = self.levels.levels[level as usize].count == 1;
                self.remove_slot(head);
                if last {
                    break;
                }
            } else {
                self.slots[head as usize].qty -= take;
                self.levels.levels[level as usize].total -= take;
            }
        }
        removed
    }

    /// Removes every order at `price` on `side`; returns the quantity removed.
    pub fn clear_level(&mut self, side: Side, price: i64) -> i64 {
        self.reduce_level(side, price, i64::MAX)
    }

    // ----- internals -----------------------------------------------------

    /// The pool slot of a resting order.
    #[inline]
    fn find_id(&self, id: OrderId) -> Option<u32> {
        self.ids.get(id, |i| self.slots[i as usize].id)
    }

    /// Can a FOK order be filled completely, given its STP mode? Mirrors the
    /// matching loop without changing anything.
    fn fok_fillable(&self, account: AccountId, side: Side, stp: Stp, limit: i64, qty: i64) -> bool {
        let mut available = 0i64;
        for level in self.ladder(side.opposite()).iter_best_first() {
            let l = &self.levels.levels[level as usize];
            if !crosses(side, limit, l.price) {
                return false;
            }
            let mut cur = l.head;
            while cur != NIL {
                let s = &self.slots[cur as usize];
                if stp != Stp::None && s.account == account {
                    match stp {
                        Stp::CancelOldest => {}
                        _ => return false,
                    }
                } else {
                    available += s.qty;
                    if available >= qty {
                        return true;
                    }
                }
                cur = s.next;
            }
        }
        false
    }

    /// Matches the taker against the opposite side. Returns true when
    /// self-trade prevention stopped the taker (its remainder must be cancelled).
    #[inline]
    fn match_taker(&mut self, taker: &mut Taker, sink: &mut impl FnMut(BookEvent)) -> bool {
        let fees = self.config.fees;
        let opp_side = taker.side.opposite();
        while taker.remaining > 0 {
            let Some(level) = self.ladder(opp_side).best() else {
                return false;
            };
            let lp = self.levels.levels[level as usize].price;
            if !crosses(taker.side, taker.limit, lp) {
                return false;
            }
            // Walk the level's FIFO.
            loop {
                let head = self.levels.levels[level as usize].head;
                let maker = self.slots[head as usize];
                if taker.stp != Stp::None && maker.account == taker.account {
                    if taker.stp == Stp::CancelNewest {
                        return true;
                    }
                    let level_empties = self.levels.levels[level as usize].count == 1;
                    self.remove_slot(head);
                    sink(BookEvent::Cancelled {
                        id: maker.id,
                        account: maker.account,
                        qty: maker.qty,
                        side: maker.side,
                        price: maker.price,
                        reason: CancelReason::SelfTrade,
                    });
                    if taker.stp == Stp::CancelBoth {
                        return true;
                    }
                    if level_empties {
                        break;
                    }
                    continue;
                }
                let q = taker.remaining.min(maker.qty);
                sink(BookEvent::Fill(Fill {
                    maker_id: maker.id,
                    taker_id: taker.id,
                    maker_account: maker.account,
                    taker_account: taker.account,
                    taker_side: taker.side,
                    price: lp,
                    qty: q,
                    maker_fee: FeeSchedule::fee(lp, q, fees.maker_ppm),
                    taker_fee: FeeSchedule::fee(lp, q, fees.taker_ppm),
                }));
                taker.remaining -= q;
                if q == maker.qty {
                    let level_empties = self.levels.levels[level as usize].count == 1;
                    self.remove_slot(head);
                    if level_empties {
                        break;
                    }
                } else {
                    self.slots[head as usize].qty -= q;
                    self.levels.levels[level as usize].total -= q;
                }
                if taker.remaining == 0 {
                    return false;
                }
            }
        }
        false
    }

    /// Appends an order to its level (creating the level). Capacity was checked.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn rest(
        &mut self,
        position: Result<usize, usize>,
        id: OrderId,
        account: AccountId,
        side: Side,
        price: i64,
        qty: i64,
        stp: Stp,
        post_only: bool,
    ) {
        let ladder = self.ladder(side);
        debug_assert_eq!(position, ladder.find(price));
        let level = match position {
            Ok(i) => ladder.slot_at(i),
            Err(i) => {
                let level = self
                    .levels
                    .alloc(price)
                    .expect("level slab sized for both ladders");
                self.ladder_mut(side).insert(i, price, level);
                level
            }
        };
        let slot = self.free_head;
        debug_assert_ne!(slot, NIL);
        self.free_head = self.slots[slot as usize].next_free;
        let tail = self.levels.levels[level as usize].tail;
        self.slots[slot as usize] = Slot {
            id,
            account,
            price,
            qty,
            prev: tail,
            next: NIL,
            level,
            next_free: NIL,
            side,
            stp,
            post_only,
        };
        let l = &mut self.levels.levels[level as usize];
        if tail == NIL {
            l.head = slot;
        } else {
            self.slots[tail as usize].next = slot;
        }
        l.tail = slot;
        l.count += 1;
        l.total += qty;
        self.ids.insert(id, slot);
        self.live += 1;
    }

    /// Unlinks a resting order, frees its slot, and drops its level if emptied.
    #[inline]
    fn remove_slot(&mut self, slot: u32) {
        let s = self.slots[slot as usize];
        let l = &mut self.levels.levels[s.level as usize];
        l.total -= s.qty;
        l.count -= 1;
        if s.prev == NIL {
            l.head = s.next;
        } else {
            self.slots[s.prev as usize].next = s.next;
        }
        if s.next == NIL {
            l.tail = s.prev;
        } else {
            self.slots[s.next as usize].prev = s.prev;
        }
        if l.count == 0 {
            let ladder = self.ladder_mut(s.side);
            if ladder.best() == Some(s.level) {
                ladder.pop_best();
            } else {
                ladder.remove_price(s.price);
            }
            self.levels.release(s.level);
        }
        let slots = &self.slots;
        self.ids.remove(s.id, |i| slots[i as usize].id);
        self.slots[slot as usize].next_free = self.free_head;
        self.slots[slot as usize].qty = 0;
        self.free_head = slot;
        self.live -= 1;
    }
}

/// Does a `side` order limited at `limit` trade with a resting price `resting`?
#[inline]
fn crosses(side: Side, limit: i64, resting: i64) -> bool {
    if side == Side::Bid {
        limit >= resting
    } else {
        limit <= resting
    }
}

#[cfg(test)]
mod tests;
