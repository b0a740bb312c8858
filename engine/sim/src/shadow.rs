//! Market impact in replay: a shadow over a mirrored venue book.
//!
//! A recorded book does not react to the orders a simulation sends, so the
//! simulation must: every lot our liquidations take from a venue level is
//! remembered as *consumed* at that price, and the depth the engine sees is
//! the recorded depth minus what was consumed. Consumed liquidity recovers
//! over event time with a half-life (the book's resilience), so the same
//! liquidity is never used twice, yet a book that was swept refills.
//!
//! Recovery is integer arithmetic: after `dt` of event time the consumed
//! amount `c` becomes `c / 2^(dt / half_life)` for whole half-lives, and the
//! remaining fraction of a half-life removes a straight-line share of the next
//! halving (`c × frac / 2`), rounded down. That is within 3 % of the
//! exponential and exactly reproducible.

use gavel_feeds::wire::Side;

/// One price level of a book: `(price ticks, quantity lots)`.
pub type Level = (i64, i64);

/// Result of walking a book for a quantity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkResult {
    /// Lots filled.
    pub filled: i64,
    /// Sum of price × lots over the fills (ticks × lots).
    pub notional: i128,
    /// Worst price reached (0 when nothing filled).
    pub worst_price: i64,
}

/// What liquidity a simulation consumed on one side of one venue book, and its recovery.
#[derive(Clone, Debug)]
pub struct ShadowSide {
    /// `(price, consumed lots)`, sorted by price (levels touched recently).
    consumed: Vec<Level>,
}

/// Shadow of one mirrored venue book (both sides).
#[derive(Clone, Debug)]
pub struct ShadowBook {
    bids: ShadowSide,
    asks: ShadowSide,
    half_life_ns: i64,
    last_decay_ns: i64,
}

impl ShadowSide {
    /// Lots consumed at `price`.
    fn at(&self, price: i64) -> i64 {
        self.consumed.binary_search_by_key(&price, |l| l.0).map_or(0, |i| self.consumed[i].1)
    }
}

impl ShadowBook {
    /// A shadow with the given resilience half-life (0 = consumed liquidity never recovers).
    pub fn new(half_life_ns: i64) -> Self {
        ShadowBook {
            bids: ShadowSide { consumed: Vec::with_capacity(64) },
            asks: ShadowSide { consumed: Vec::with_capacity(64) },
            half_life_ns,
            last_decay_ns: i64::MIN,
        }
    }

    fn side(&self, side: Side) -> &ShadowSide {
        if side == Side::Bid {
            &self.bids
        } else {
            &self.asks
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut ShadowSide {
        if side == Side::Bid {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }

    /// Lots consumed and not yet recovered at `price` on `side`.
    pub fn consumed_at(&self, side: Side, price: i64) -> i64 {
        self.side(side).at(price)
    }

    /// The unrecovered consumption on `side`, `(price, lots)` per level.
    pub fn consumed_levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.side(side).consumed.iter().copied()
    }

    /// Total consumed lots on `side`.
    pub fn consumed_total(&self, side: Side) -> i64 {
        self.side(side).consumed.iter().map(|l| l.1).sum()
    }

    /// Lets consumed liquidity recover up to event time `now_ns`.
    pub fn recover(&mut self, now_ns: i64) {
        if self.last_decay_ns == i64::MIN || now_ns <= self.last_decay_ns {
            self.last_decay_ns = self.last_decay_ns.max(now_ns);
            return;
        }
        let dt = now_ns - self.last_decay_ns;
        self.last_decay_ns = now_ns;
        if self.half_life_ns <= 0 {
            return;
        }
        let halvings = dt / self.half_life_ns;
        let frac_num = dt % self.half_life_ns;
        let half_life = self.half_life_ns;
        for side in [&mut self.bids, &mut self.asks] {
            for level in side.consumed.iter_mut() {
                let mut c = if halvings >= 63 { 0 } else { level.1 >> halvings };
                c -= (i128::from(c) * i128::from(frac_num) / (2 * i128::from(half_life))) as i64;
                level.1 = c;
            }
            side.consumed.retain(|l| l.1 > 0);
        }
    }

    /// The visible depth of `side`: `levels` (best first, as recorded) minus
    /// consumption, skipping emptied levels, written into `out` (cleared first).
    pub fn visible_levels(&self, side: Side, levels: impl IntoIterator<Item = Level>, out: &mut Vec<Level>) {
        out.clear();
        let shadow = self.side(side);
        for (price, qty) in levels {
            let used = shadow.at(price);
            if qty > used {
                out.push((price, qty - used));
            }
        }
    }

    /// Best visible price of `side` given the recorded levels (best first).
    pub fn best_visible(&self, side: Side, levels: impl IntoIterator<Item = Level>) -> Option<i64> {
        let shadow = self.side(side);
        levels
            .into_iter()
            .find(|&(price, qty)| qty > shadow.at(price))
            .map(|l| l.0)
    }

    /// Takes up to `qty` lots from `side` (the side that rests: `Bid` for a
    /// sell order) walking recorded `levels` best first, never past
    /// `limit_price` (inclusive), and records the consumption.
    pub fn take(&mut self, side: Side, levels: impl IntoIterator<Item = Level>, qty: i64, limit_price: i64) -> WalkResult {
        let mut result = WalkResult::default();
        let shadow = self.side_mut(side);
        for (price, level_qty) in levels {
            if result.filled >= qty {
                break;
            }
            let beyond_limit = if side == Side::Bid { price < limit_price } else { price > limit_price };
            if beyond_limit {
                break;
            }
            let found = shadow.consumed.binary_search_by_key(&price, |l| l.0);
            let slot = found.ok();
            let used = slot.map_or(0, |i| shadow.consumed[i].1);
            let available = level_qty - used;
            if available <= 0 {
                continue;
            }
            let fill = available.min(qty - result.filled);
            match slot {
                Some(i) => shadow.consumed[i].1 += fill,
                None => shadow.consumed.insert(found.unwrap_or_else(|at| at), (price, fill)),
            }
            result.filled += fill;
            result.notional += i128::from(price) * i128::from(fill);
            result.worst_price = price;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const BIDS: [Level; 3] = [(100, 5), (99, 5), (98, 10)];

    #[test]
    fn taking_consumes_and_the_same_liquidity_is_not_used_twice() {
        let mut shadow = ShadowBook::new(1_000);
        let first = shadow.take(Side::Bid, BIDS, 7, 0);
        assert_eq!(first, WalkResult { filled: 7, notional: 100 * 5 + 99 * 2, worst_price: 99 });
        let second = shadow.take(Side::Bid, BIDS, 7, 0);
        assert_eq!(second, WalkResult { filled: 7, notional: 99 * 3 + 98 * 4, worst_price: 98 });
        assert_eq!(shadow.best_visible(Side::Bid, BIDS), Some(98));
        let mut visible = Vec::new();
        shadow.visible_levels(Side::Bid, BIDS, &mut visible);
        assert_eq!(visible, vec![(98, 6)]);
        // The limit stops the walk.
        assert_eq!(shadow.take(Side::Bid, BIDS, 10, 99).filled, 0);
    }

    #[test]
    fn consumed_liquidity_recovers_by_half_lives() {
        let mut shadow = ShadowBook::new(1_000);
        shadow.recover(0);
        shadow.take(Side::Ask, [(10, 1000)], 800, i64::MAX);
        shadow.recover(1_000);
        assert_eq!(shadow.consumed_at(Side::Ask, 10), 400);
        shadow.recover(2_500); // one and a half more half-lives: 400 → 200 → 150
        assert_eq!(shadow.consumed_at(Side::Ask, 10), 150);
        shadow.recover(100_000);
        assert_eq!(shadow.consumed_total(Side::Ask), 0);
        // Time going backwards changes nothing.
        shadow.take(Side::Ask, [(10, 1000)], 10, i64::MAX);
        shadow.recover(50);
        assert_eq!(shadow.consumed_at(Side::Ask, 10), 10);
    }

    #[test]
    fn zero_half_life_never_recovers() {
        let mut shadow = ShadowBook::new(0);
        shadow.recover(0);
        shadow.take(Side::Bid, BIDS, 3, 0);
        shadow.recover(1_000_000_000);
        assert_eq!(shadow.consumed_at(Side::Bid, 100), 3);
    }

    proptest! {
        /// Fills never exceed recorded depth, whatever the order of takes and recoveries.
        #[test]
        fn fills_never_exceed_recorded_depth(ops in proptest::collection::vec((1i64..30, 0i64..2_000), 1..40)) {
            let levels: Vec<Level> = (0..10).map(|i| (1000 - i, 3 + i)).collect();
            let depth: i64 = levels.iter().map(|l| l.1).sum();
            let mut shadow = ShadowBook::new(0);
            shadow.recover(0);
            let mut filled = 0;
            for (qty, _) in ops {
                let r = shadow.take(Side::Bid, levels.iter().copied(), qty, 0);
                prop_assert!(r.filled <= qty);
                filled += r.filled;
                prop_assert_eq!(shadow.consumed_total(Side::Bid), filled);
            }
            prop_assert!(filled <= depth);
        }

        /// Recovery only ever shrinks consumption, and is monotone in elapsed time.
        #[test]
        fn recovery_is_monotone(consumed in 1i64..1_000_000, dt1 in 0i64..10_000, dt2 in 0i64..10_000) {
            let run = |dt: i64| {
                let mut s = ShadowBook::new(1_000);
                s.recover(0);
                s.take(Side::Ask, [(5, consumed)], consumed, i64::MAX);
                s.recover(dt);
                s.consumed_at(Side::Ask, 5)
            };
            let (a, b) = (run(dt1.min(dt2)), run(dt1.max(dt2)));
            prop_assert!(a <= consumed && b <= a);
        }
    }
}
