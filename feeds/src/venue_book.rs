//! The one L2 book type: a venue's mirrored depth, price → aggregate quantity, per side.
//!
//! Each side is a `Vec` sorted so that the best price is the last element
//! (bids ascending, asks descending): updates cluster near the top of the
//! book, so inserts and removals there move few elements, and the best level
//! is one load away. Lookups are binary searches. Capacity is kept across
//! clears; [`L2Book::set_level_bounded`] refuses a new level on a full side
//! instead of growing it, so a book built with [`L2Book::with_capacity`] never
//! allocates after construction. The feed-side venue syncs, the engine's
//! mirrors and the simulated venues all use this type (the engine reads it
//! through its `DepthView` trait).

use crate::wire::{Event, EventKind, PriceLevel, Side, Venue};

/// One price level.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Price in ticks.
    pub price: i64,
    /// Quantity in lots (always > 0 inside a book).
    pub qty: i64,
}

/// What taking liquidity from depth fills, and for how much.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// Lots that would fill.
    pub filled: i64,
    /// Σ price × qty over the fills, in tick·lots.
    pub notional: i128,
    /// Price of the last (worst) level touched, 0 if none.
    pub worst_price: i64,
}

impl Walk {
    /// Volume-weighted average price in ticks, rounded down; `None` if nothing filled.
    pub fn vwap_floor(&self) -> Option<i64> {
        (self.filled > 0).then(|| (self.notional / self.filled as i128) as i64)
    }
}

/// Both sides of one venue's L2 book, best level last.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct L2Book {
    venue: Venue,
    /// Bids, ascending by price (best = last).
    bids: Vec<Level>,
    /// Asks, descending by price (best = last).
    asks: Vec<Level>,
}

impl L2Book {
    /// An empty book for `venue`.
    pub fn new(venue: Venue) -> Self {
        Self::with_capacity(venue, 0)
    }

    /// An empty book for `venue` with room for `levels` price levels per side
    /// (see [`L2Book::set_level_bounded`]).
    pub fn with_capacity(venue: Venue, levels: usize) -> Self {
        L2Book {
            venue,
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
        }
    }

    /// Gives each side room for `levels` price levels (a book read back from a snapshot holds
    /// only its levels); as [`L2Book::with_capacity`], this bounds [`L2Book::set_level_bounded`].
    pub fn reserve_levels(&mut self, levels: usize) {
        self.bids.reserve_exact(levels.saturating_sub(self.bids.len()));
        self.asks.reserve_exact(levels.saturating_sub(self.asks.len()));
    }

    /// A book from unsorted `(price, qty)` levels (non-positive quantities dropped).
    pub fn from_levels(venue: Venue, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> Self {
        let mut book = Self::new(venue);
        for &(price, qty) in bids {
            book.set_level(Side::Bid, price, qty);
        }
        for &(price, qty) in asks {
            book.set_level(Side::Ask, price, qty);
        }
        book
    }

    /// The venue this book mirrors.
    #[inline]
    pub fn venue(&self) -> Venue {
        self.venue
    }

    /// Removes every level (keeps capacity).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    #[inline]
    fn side(&self, side: Side) -> &[Level] {
        match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
            Side::None => &[],
        }
    }

    #[inline]
    fn side_mut(&mut self, side: Side) -> Option<&mut Vec<Level>> {
        match side {
            Side::Bid => Some(&mut self.bids),
            Side::Ask => Some(&mut self.asks),
            Side::None => None,
        }
    }

    /// Where `price` is (or would go) in a side stored best-last.
    #[inline]
    fn search(levels: &[Level], side: Side, price: i64) -> Result<usize, usize> {
        levels.binary_search_by(|l| match side {
            Side::Bid => l.price.cmp(&price),
            _ => price.cmp(&l.price),
        })
    }

    /// Sets the absolute quantity at `price` (0 or less removes the level;
    /// removing an absent level is a no-op, as venues send such updates).
    /// `Side::None` is ignored and reported as `false`.
    #[inline]
    pub fn set_level(&mut self, side: Side, price: i64, qty: i64) -> bool {
        let Some(levels) = self.side_mut(side) else {
            return false;
        };
        match (Self::search(levels, side, price), qty > 0) {
            (Ok(i), true) => levels[i].qty = qty,
            (Ok(i), false) => {
                levels.remove(i);
            }
            (Err(i), true) => levels.insert(i, Level { price, qty }),
            (Err(_), false) => {}
        }
        true
    }

    /// Like [`L2Book::set_level`], but a new level on a side already at its capacity is
    /// refused (returns `false`, nothing changes) instead of growing the storage.
    #[inline]
    pub fn set_level_bounded(&mut self, side: Side, price: i64, qty: i64) -> bool {
        if side == Side::None {
            return false;
        }
        let levels = self.side(side);
        if levels.len() == self.capacity(side) && qty > 0 && Self::search(levels, side, price).is_err() {
            return false;
        }
        self.set_level(side, price, qty)
    }

    #[inline]
    fn capacity(&self, side: Side) -> usize {
        match side {
            Side::Bid => self.bids.capacity(),
            Side::Ask => self.asks.capacity(),
            Side::None => 0,
        }
    }

    /// Applies a wire `BookLevel`/`SnapshotLevel` event; returns false
    /// (and changes nothing) for other kinds or a bad side.
    pub fn apply(&mut self, event: &Event) -> bool {
        match event.kind() {
            Some(EventKind::BookLevel | EventKind::SnapshotLevel) => {
                let level: PriceLevel = event.payload();
                match event.side() {
                    Some(side @ (Side::Bid | Side::Ask)) => self.set_level(side, level.price, level.qty),
                    _ => false,
                }
            }
            _ => false,
        }
    }

    /// Takes liquidity from `side` best price first, as a marketable order for up
    /// to `qty` lots, not beyond `limit` if given (bids at or above it, asks at or
    /// below it); returns what filled.
    pub fn consume(&mut self, side: Side, qty: i64, limit: Option<i64>) -> Walk {
        let mut out = Walk::default();
        let Some(levels) = self.side_mut(side) else {
            return out;
        };
        let within = |price: i64, limit: i64| if side == Side::Bid { price >= limit } else { price <= limit };
        let mut emptied = 0;
        for level in levels.iter_mut().rev() {
            if out.filled >= qty || limit.is_some_and(|l| !within(level.price, l)) {
                break;
            }
            let take = level.qty.min(qty - out.filled);
            out.filled += take;
            out.notional += level.price as i128 * take as i128;
            out.worst_price = level.price;
            level.qty -= take;
            if level.qty == 0 {
                emptied += 1;
            }
        }
        let keep = levels.len() - emptied;
        levels.truncate(keep);
        out
    }

    /// Quantity at a price (0 when the level is absent).
    #[inline]
    pub fn qty_at(&self, side: Side, price: i64) -> i64 {
        let levels = self.side(side);
        Self::search(levels, side, price).map_or(0, |i| levels[i].qty)
    }

    /// The `index`-th best level of `side` (0 = best); `None` past the last level.
    #[inline]
    pub fn nth_best(&self, side: Side, index: usize) -> Option<Level> {
        let levels = self.side(side);
        levels.len().checked_sub(index + 1).map(|i| levels[i])
    }

    /// Best bid.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.bids.last().copied()
    }

    /// Best ask.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.asks.last().copied()
    }

    /// True when the best bid is at or above the best ask.
    #[inline]
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Levels of one side from the best outward.
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.side(side).iter().rev().copied()
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// Total lots on `side`.
    pub fn total_qty(&self, side: Side) -> i64 {
        self.side(side).iter().map(|l| l.qty).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn best_levels_and_removal() {
        let mut book = L2Book::new(Venue::Synthetic);
        book.set_level(Side::Bid, 100, 5);
        book.set_level(Side::Bid, 101, 1);
        book.set_level(Side::Ask, 103, 2);
        book.set_level(Side::Ask, 102, 7);
        assert_eq!(book.best_bid(), Some(Level { price: 101, qty: 1 }));
        assert_eq!(book.best_ask(), Some(Level { price: 102, qty: 7 }));
        assert_eq!(book.nth_best(Side::Ask, 1), Some(Level { price: 103, qty: 2 }));
        book.set_level(Side::Bid, 101, 0);
        book.set_level(Side::Bid, 99, 0);
        assert_eq!(book.best_bid(), Some(Level { price: 100, qty: 5 }));
        assert!(!book.is_crossed());
        book.set_level(Side::Bid, 102, 1);
        assert!(book.is_crossed());
        assert_eq!(book.levels(Side::Ask).map(|l| l.price).collect::<Vec<_>>(), vec![102, 103]);
        assert!(!book.set_level(Side::None, 1, 1));
    }

    #[test]
    fn a_bounded_side_refuses_new_levels_but_updates_existing_ones() {
        let mut book = L2Book::with_capacity(Venue::Okx, 2);
        let cap = book.capacity(Side::Bid);
        for p in 0..cap as i64 {
            assert!(book.set_level_bounded(Side::Bid, 100 + p, 1));
        }
        assert!(!book.set_level_bounded(Side::Bid, 50, 1));
        assert!(book.set_level_bounded(Side::Bid, 100, 9));
        assert!(book.set_level_bounded(Side::Bid, 101, 0));
        assert!(book.set_level_bounded(Side::Bid, 50, 1));
        assert_eq!(book.capacity(Side::Bid), cap, "no growth");
        assert_eq!(book.qty_at(Side::Bid, 100), 9);
    }

    #[test]
    fn consume_removes_liquidity_up_to_the_limit() {
        let mut b = L2Book::from_levels(Venue::Synthetic, &[], &[(101, 1), (102, 2), (103, 4)]);
        let w = b.consume(Side::Ask, 2, None);
        assert_eq!(w, Walk { filled: 2, notional: 101 + 102, worst_price: 102 });
        assert_eq!(b.best_ask(), Some(Level { price: 102, qty: 1 }));
        assert_eq!(b.consume(Side::Ask, 10, Some(102)).filled, 1);
        assert_eq!(b.total_qty(Side::Ask), 4);
        let mut b = L2Book::from_levels(Venue::Synthetic, &[(100, 2), (99, 3)], &[]);
        assert_eq!(b.consume(Side::Bid, 10, Some(100)).filled, 2);
        assert_eq!(b.consume(Side::None, 10, None), Walk::default());
    }

    #[test]
    fn wire_level_events_update_the_book() {
        let mut b = L2Book::new(Venue::BinanceUsdm);
        let level = PriceLevel { price: 100, qty: 5, index: 0 };
        let ev = Event::new(EventKind::BookLevel, Venue::BinanceUsdm, 1, level).with_side(Side::Bid);
        assert!(b.apply(&ev));
        assert_eq!(b.best_bid(), Some(Level { price: 100, qty: 5 }));
        let mut bad = ev;
        bad.side = 0;
        assert!(!b.apply(&bad));
    }

    proptest! {
        #[test]
        fn matches_a_btreemap_model(ops in proptest::collection::vec((any::<bool>(), 0i64..50, 0i64..4), 0..300)) {
            let mut book = L2Book::new(Venue::Synthetic);
            let mut bids = BTreeMap::new();
            let mut asks = BTreeMap::new();
            for (bid, price, qty) in ops {
                let (side, model) = if bid { (Side::Bid, &mut bids) } else { (Side::Ask, &mut asks) };
                book.set_level(side, price, qty);
                if qty == 0 { model.remove(&price); } else { model.insert(price, qty); }
            }
            let want_bids: Vec<_> = bids.iter().rev().map(|(&price, &qty)| Level { price, qty }).collect();
            let want_asks: Vec<_> = asks.iter().map(|(&price, &qty)| Level { price, qty }).collect();
            prop_assert_eq!(book.levels(Side::Bid).collect::<Vec<_>>(), want_bids);
            prop_assert_eq!(book.levels(Side::Ask).collect::<Vec<_>>(), want_asks);
        }
    }
}
