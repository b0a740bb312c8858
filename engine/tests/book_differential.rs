//! Differential test: random operation sequences against gavel's book and a
//! deliberately simple reference book (BTreeMap of price → VecDeque of orders)
//! written here from the rules in docs/BOOK.md. After every step: identical
//! results, identical events (fills with fees, side-effect cancels), identical
//! depth; never crossed at rest; quantity conserved; fills within both limits.

use gavel_engine::book::*;
use gavel_feeds::Side;
use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};

// ----- the reference book ------------------------------------------------

#[derive(Clone, Debug)]
struct RefOrder {
    id: u64,
    account: u32,
    price: i64,
    qty: i64,
    stp: Stp,
    post_only: bool,
}

#[derive(Clone)]
struct RefBook {
    cfg: BookConfig,
    bids: BTreeMap<i64, VecDeque<RefOrder>>,
    asks: BTreeMap<i64, VecDeque<RefOrder>>,
}

fn cap_hook(account: u32, side: Side, qty: i64) -> i64 {
    // Deterministic "position" per account and side: 0 (reject), or a cap.
    let position = ((u64::from(account) * 3 + side as u64) % 5) as i64 * 2;
    qty.min(position)
}

impl RefBook {
    fn new(cfg: BookConfig) -> Self {
        RefBook {
            cfg,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        }
    }

    fn side(&mut self, side: Side) -> &mut BTreeMap<i64, VecDeque<RefOrder>> {
        if side == Side::Bid {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }

    fn best(&self, side: Side) -> Option<i64> {
        if side == Side::Bid {
            self.bids.keys().next_back().copied()
        } else {
            self.asks.keys().next().copied()
        }
    }

    fn count(&self) -> usize {
        self.bids
            .values()
            .chain(self.asks.values())
            .map(VecDeque::len)
            .sum()
    }

    fn find(&self, id: u64) -> Option<(Side, RefOrder)> {
        for (side, map) in [(Side::Bid, &self.bids), (Side::Ask, &self.asks)] {
            for q in map.values() {
                if let Some(o) = q.iter().find(|o| o.id == id) {
                    return Some((side, o.clone()));
                }
            }
        }
        None
    }

    fn remove(&mut self, id: u64) -> Option<(Side, RefOrder)> {
        let (side, o) = self.find(id)?;
        let map = self.side(side);
        let q = map.get_mut(&o.price).unwrap();
        q.retain(|x| x.id != id);
        if q.is_empty() {
            map.remove(&o.price);
        }
        Some((side, o))
    }

    fn depth(&self, side: Side) -> Vec<DepthLevel> {
        let level = |(p, q): (&i64, &VecDeque<RefOrder>)| DepthLevel {
            price: *p,
            qty: q.iter().map(|o| o.qty).sum(),
            orders: q.len() as u32,
        };
        if side == Side::Bid {
            self.bids.iter().rev().map(level).collect()
        } else {
            self.asks.iter().map(level).collect()
        }
    }

    fn submit(&mut self, o: NewOrder, ev: &mut Vec<BookEvent>) -> Result<Outcome, Reject> {
        if o.side == Side::None {
            return Err(Reject::InvalidSide);
        }
        if o.qty <= 0 {
            return Err(Reject::InvalidQty);
        }
        if o.post_only && o.order_type != OrderType::Limit {
            return Err(Reject::InvalidFlags);
        }
        if o.order_type != OrderType::Market && o.price <= 0 {
            return Err(Reject::InvalidPrice);
        }
        if self.find(o.id).is_some() {
            return Err(Reject::DuplicateId);
        }
        let opp = o.side.opposite();
        let opp_best = self.best(opp);
        let mut price = o.price;
        if o.order_type == OrderType::Market {
            let Some(r) = opp_best else {
                return Err(Reject::NoLiquidity);
            };
            let w = match self.cfg.market_band {
                PriceBand::Ticks(t) => t.max(0),
                PriceBand::Bps(b) => (r * b / 10_000).max(0),
            };
            price = if o.side == Side::Bid {
                r + w
            } else {
                (r - w).max(1)
            };
        }
        let crosses = |side: Side, limit: i64, p: i64| {
            if side == Side::Bid {
                limit >= p
            } else {
                limit <= p
            }
        };
        if o.post_only {
            if let Some(b) = opp_best {
                if crosses(o.side, price, b) {
                    if self.cfg.post_only == PostOnlyPolicy::Reject {
                        return Err(Reject::PostOnlyWouldCross);
                    }
                    price = if o.side == Side::Bid { b - 1 } else { b + 1 };
                    if price <= 0 {
                        return Err(Reject::PostOnlyWouldCross);
                    }
                }
            }
        }
        let mut qty = o.qty;
        let mut cancelled = 0;
        if o.reduce_only {
            let allowed = cap_hook(o.account, o.side, qty).min(qty);
            if allowed <= 0 {
                return Err(Reject::ReduceOnly);
            }
            cancelled = qty - allowed;
            qty = allowed;
        }
        if o.order_type == OrderType::Limit {
            if self.count() >= self.cfg.order_capacity {
                return Err(Reject::PoolFull);
            }
            let own = self.side(o.side);
            if !own.contains_key(&price) && own.len() >= self.cfg.level_capacity {
                return Err(Reject::LevelsFull);
            }
        }
        if o.order_type == OrderType::Fok {
            // Trial run on a copy: fillable iff it fills completely.
            let mut trial = self.clone();
            let (left, _) = trial.match_in(&o, price, qty, &mut Vec::new());
            if left > 0 {
                return Err(Reject::FokUnfilled);
            }
        }
        let (left, stopped) = if o.post_only {
            (qty, false)
        } else {
            self.match_in(&o, price, qty, ev)
        };
        let mut out = Outcome {
            filled: qty - left,
            resting: 0,
            cancelled,
            price,
        };
        if left > 0 {
            if o.order_type == OrderType::Limit && !stopped {
                self.side(o.side)
                    .entry(price)
                    .or_default()
                    .push_back(RefOrder {
                        id: o.id,
                        account: o.account,
                        price,
                        qty: left,
                        stp: o.stp,
                        post_only: o.post_only,
                    });
                out.resting = left;
            } else {
                out.cancelled += left;
            }
        }
        Ok(out)
    }

    /// Returns (remaining, stopped by STP).
    fn match_in(
        &mut self,
        o: &NewOrder,
        limit: i64,
        mut left: i64,
        ev: &mut Vec<BookEvent>,
    ) -> (i64, bool) {
        let fees = self.cfg.fees;
        let opp = o.side.opposite();
        while left > 0 {
            let Some(p) = self.best(opp) else { break };
            if (o.side == Side::Bid && p > limit) || (o.side == Side::Ask && p < limit) {
                break;
            }
            let map = self.side(opp);
            let q = map.get_mut(&p).unwrap();
            let maker = q.front_mut().unwrap();
            if o.stp != Stp::None && maker.account == o.account {
                if o.stp == Stp::CancelNewest {
                    return (left, true);
                }
                let m = q.pop_front().unwrap();
                ev.push(BookEvent::Cancelled {
                    id: m.id,
                    account: m.account,
                    qty: m.qty,
                    side: opp,
                    price: m.price,
                    reason: CancelReason::SelfTrade,
                });
                if q.is_empty() {
                    map.remove(&p);
                }
                if o.stp == Stp::CancelBoth {
                    return (left, true);
                }
                continue;
            }
            let t = left.min(maker.qty);
            let fee = |rate: i64| {
                let n = p as i128 * t as i128 * rate as i128;
                // Ceiling division, written differently from the book's.
                let (d, r) = (n / 1_000_000, n % 1_000_000);
                (if r > 0 { d + 1 } else { d }) as i64
            };
            ev.push(BookEvent::Fill(Fill {
                maker_id: maker.id,
                taker_id: o.id,
                maker_account: maker.account,
                taker_account: o.account,
                taker_side: o.side,
                price: p,
                qty: t,
                maker_fee: fee(fees.maker_ppm),
                taker_fee: fee(fees.taker_ppm),
            }));
            maker.qty -= t;
            left -= t;
            if maker.qty == 0 {
                q.pop_front();
                if q.is_empty() {
                    map.remove(&p);
                }
            }
        }
        (left, false)
    }

    fn modify(
        &mut self,
        id: u64,
        price: i64,
        qty: i64,
        ev: &mut Vec<BookEvent>,
    ) -> Result<Outcome, Reject> {
        let Some((side, o)) = self.find(id) else {
            return Err(Reject::UnknownOrder);
        };
        if qty <= 0 {
            return Err(Reject::InvalidQty);
        }
        if price <= 0 {
            return Err(Reject::InvalidPrice);
        }
        if price == o.price && qty <= o.qty {
            let q = self.side(side).get_mut(&price).unwrap();
            q.iter_mut().find(|x| x.id == id).unwrap().qty = qty;
            return Ok(Outcome {
                filled: 0,
                resting: qty,
                cancelled: 0,
                price,
            });
        }
        if o.post_only && self.cfg.post_only == PostOnlyPolicy::Reject {
            if let Some(b) = self.best(side.opposite()) {
                if (side == Side::Bid && price >= b) || (side == Side::Ask && price <= b) {
                    return Err(Reject::PostOnlyWouldCross);
                }
            }
        }
        let cap = self.cfg.level_capacity;
        let own = self.side(side);
        let alone = own[&o.price].len() == 1;
        if price != o.price && !own.contains_key(&price) && own.len() >= cap && !alone {
            return Err(Reject::LevelsFull);
        }
        self.remove(id);
        let n = NewOrder {
            id,
            account: o.account,
            side,
            order_type: OrderType::Limit,
            price,
            qty,
            post_only: o.post_only,
            reduce_only: false,
            stp: o.stp,
        };
        self.submit(n, ev)
    }

    fn mass_cancel(&mut self, account: u32, ev: &mut Vec<BookEvent>) -> usize {
        let mut n = 0;
        for side in [Side::Bid, Side::Ask] {
            let prices: Vec<i64> = if side == Side::Bid {
                self.bids.keys().rev().copied().collect()
            } else {
                self.asks.keys().copied().collect()
            };
            for p in prices {
                let map = self.side(side);
                let q = map.get_mut(&p).unwrap();
                for o in q.iter().filter(|o| o.account == account) {
                    ev.push(BookEvent::Cancelled {
                        id: o.id,
                        account,
                        qty: o.qty,
                        side,
                        price: o.price,
                        reason: CancelReason::MassCancel,
                    });
                    n += 1;
                }
                q.retain(|o| o.account != account);
                if q.is_empty() {
                    map.remove(&p);
                }
            }
        }
        n
    }
}

// ----- operations ---------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Submit {
        account: u32,
        bid: bool,
        kind: u8,
        price: i64,
        qty: i64,
        post_only: bool,
        reduce_only: bool,
        stp: u8,
        reuse: Option<usize>,
    },
    Cancel(usize),
    Modify(usize, i64, i64),
    MassCancel(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u32..4, any::<bool>(), 0u8..4, 94i64..107, 1i64..12, prop::bool::weighted(0.2), prop::bool::weighted(0.1),
              0u8..4, prop::option::weighted(0.05, 0usize..64))
            .prop_map(|(account, bid, kind, price, qty, post_only, reduce_only, stp, reuse)| Op::Submit {
                account, bid, kind, price, qty, post_only, reduce_only, stp, reuse
            }),
        2 => (0usize..64).prop_map(Op::Cancel),
        2 => (0usize..64, 94i64..107, 0i64..12).prop_map(|(i, p, q)| Op::Modify(i, p, q)),
        1 => (1u32..4).prop_map(Op::MassCancel),
    ]
}

fn config() -> impl Strategy<Value = BookConfig> {
    (
        prop::sample::select(vec![(8usize, 3usize), (4096, 4096)]),
        any::<bool>(),
        prop_oneof![
            (0i64..4).prop_map(PriceBand::Ticks),
            (0i64..300).prop_map(PriceBand::Bps)
        ],
        -300i64..300,
        0i64..1000,
    )
        .prop_map(|((orders, levels), slide, band, maker, taker)| BookConfig {
            order_capacity: orders,
            level_capacity: levels,
            post_only: if slide {
                PostOnlyPolicy::Slide
            } else {
                PostOnlyPolicy::Reject
            },
            market_band: band,
            fees: FeeSchedule {
                maker_ppm: maker,
                taker_ppm: taker,
            },
        })
}

fn total_depth(b: &Book<fn(u32, Side, i64) -> i64>, side: Side) -> Vec<DepthLevel> {
    let mut buf = vec![DepthLevel::default(); 5000];
    let n = b.depth(side, &mut buf);
    buf.truncate(n);
    buf
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fast_book_matches_reference(cfg in config(), ops in prop::collection::vec(op(), 1..120)) {
        let mut fast: Book<fn(u32, Side, i64) -> i64> = Book::with_reduce_only(cfg, cap_hook as fn(u32, Side, i64) -> i64);
        let mut reference = RefBook::new(cfg);
        let mut ids: Vec<u64> = Vec::new();
        let mut next_id = 1u64;
        let (mut added, mut filled, mut cancelled) = (0i64, 0i64, 0i64);
        for op in ops {
            // Every price resting before the step: a fill must happen at its maker's own price.
            let resting_before: Vec<(Side, i64)> = [Side::Bid, Side::Ask]
                .into_iter()
                .flat_map(|side| total_depth(&fast, side).into_iter().map(move |l| (side, l.price)))
                .collect();
            let mut ev_fast = Vec::new();
            let mut ev_ref = Vec::new();
            match op {
                Op::Submit { account, bid, kind, price, qty, post_only, reduce_only, stp, reuse } => {
                    let id = match reuse {
                        Some(i) if !ids.is_empty() => ids[i % ids.len()],
                        _ => { next_id += 1; next_id }
                    };
                    ids.push(id);
                    let order_type = [OrderType::Limit, OrderType::Ioc, OrderType::Fok, OrderType::Market][kind as usize];
                    let o = NewOrder {
                        id, account, side: if bid { Side::Bid } else { Side::Ask }, order_type, price, qty,
                        post_only: post_only && order_type == OrderType::Limit, reduce_only, stp: Stp::from_bits(stp),
                    };
                    let a = fast.submit(o, &mut |e| ev_fast.push(e));
                    let b = reference.submit(o, &mut ev_ref);
                    prop_assert_eq!(a, b, "submit {:?}", o);
                    if let Ok(out) = a {
                        added += qty;
                        cancelled += out.cancelled;
                        prop_assert_eq!(out.filled + out.resting + out.cancelled, qty);
                        for e in &ev_fast {
                            if let BookEvent::Fill(f) = e {
                                // Within both limits: the taker's limit, and the maker's own price.
                                if o.side == Side::Bid { prop_assert!(f.price <= out.price) } else { prop_assert!(f.price >= out.price) }
                                prop_assert!(f.maker_id != id);
                            }
                        }
                    }
                }
                Op::Cancel(i) => {
                    let id = if ids.is_empty() { 0 } else { ids[i % ids.len()] };
                    let a = fast.cancel(id);
                    let b = reference.remove(id).map(|(_, o)| o.qty).ok_or(Reject::UnknownOrder);
                    prop_assert_eq!(a, b);
                    if let Ok(q) = a { cancelled += q; }
                }
                Op::Modify(i, price, qty) => {
                    let id = if ids.is_empty() { 0 } else { ids[i % ids.len()] };
                    let before = fast.order(id);
                    let a = fast.modify(id, price, qty, &mut |e| ev_fast.push(e));
                    let b = reference.modify(id, price, qty, &mut ev_ref);
                    prop_assert_eq!(a, b, "modify {} to {}@{}", id, qty, price);
                    if let (Ok(out), Some(old)) = (a, before) {
                        if price == old.price && qty <= old.qty {
                            cancelled += old.qty - qty;
                        } else {
                            cancelled += old.qty + out.cancelled;
                            added += qty;
                        }
                    }
                }
                Op::MassCancel(account) => {
                    let a = fast.mass_cancel(account, &mut |e| ev_fast.push(e));
                    let b = reference.mass_cancel(account, &mut ev_ref);
                    prop_assert_eq!(a, b);
                }
            }
            prop_assert_eq!(&ev_fast, &ev_ref);
            for e in &ev_fast {
                match e {
                    BookEvent::Fill(f) => {
                        filled += 2 * f.qty;
                        prop_assert!(f.qty > 0);
                        prop_assert!(
                            resting_before.contains(&(f.taker_side.opposite(), f.price)),
                            "fill at {} where no maker rested", f.price
                        );
                    }
                    BookEvent::Cancelled { qty, .. } => cancelled += qty,
                }
            }
            let (bids, asks) = (total_depth(&fast, Side::Bid), total_depth(&fast, Side::Ask));
            prop_assert_eq!(&bids, &reference.depth(Side::Bid));
            prop_assert_eq!(&asks, &reference.depth(Side::Ask));
            if let (Some(b), Some(a)) = (bids.first(), asks.first()) {
                prop_assert!(b.price < a.price, "crossed at rest: {:?} / {:?}", b, a);
            }
            let resting: i64 = bids.iter().chain(&asks).map(|l| l.qty).sum();
            prop_assert_eq!(added, resting + filled + cancelled, "quantity not conserved");
            prop_assert_eq!(fast.len(), reference.count());
        }
    }
}
