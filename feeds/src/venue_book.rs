//! A mirrored venue L2 book: price → aggregate quantity, per side.
//!
//! Each side is a `Vec` sorted so that the best price is the last element
//! (bids ascending, asks descending): updates cluster near the top of the
//! book, so inserts and removals there move few elements, and the best level
//! is one load away. Lookups are binary searches. Capacity is kept across
//! clears, so a warmed-up book does not allocate.

use crate::wire::Side;

/// One price level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Price in ticks.
    pub price: i64,
    /// Quantity in lots (always > 0 inside a book).
    pub qty: i64,
}

/// Both sides of a mirrored L2 book.
#[derive(Clone, Debug, Default)]
pub struct L2Book {
    /// Bids, ascending by price (best = last).
    bids: Vec<Level>,
    /// Asks, descending by price (best = last).
    asks: Vec<Level>,
}

impl L2Book {
    /// An empty book with room for `levels` per side.
    pub fn with_capacity(levels: usize) -> Self {
        L2Book {
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
        }
    }

    /// Removes every level (keeps capacity).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Sets the absolute quantity at a price; 0 removes the level (removing an
    /// absent level is a no-op, as venues send such updates).
    #[inline]
    pub fn set(&mut self, side: Side, price: i64, qty: i64) {
        let (levels, search) = match side {
            Side::Bid => (
                &mut self.bids,
                price_ascending as fn(&Level, i64) -> std::cmp::Ordering,
            ),
            Side::Ask => (
                &mut self.asks,
                price_descending as fn(&Level, i64) -> std::cmp::Ordering,
            ),
            Side::None => return,
        };
        match levels.binary_search_by(|l| search(l, price)) {
            Ok(i) => {
                if qty == 0 {
                    levels.remove(i);
                } else {
                    levels[i].qty = qty;
                }
            }
            Err(i) => {
                if qty != 0 {
                    levels.insert(i, Level { price, qty });
                }
            }
        }
    }

    /// Quantity at a price (0 when the level is absent).
    #[inline]
    pub fn qty_at(&self, side: Side, price: i64) -> i64 {
        let found = match side {
            Side::Bid => self.bids.binary_search_by(|l| price_ascending(l, price)).map(|i| self.bids[i].qty),
            Side::Ask => self.asks.binary_search_by(|l| price_descending(l, price)).map(|i| self.asks[i].qty),
            Side::None => return 0,
        };
        found.unwrap_or(0)
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
        let levels: &[Level] = match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
            Side::None => &[],
        };
        levels.iter().rev().copied()
    }

    /// Number of levels on a side.
    pub fn depth(&self, side: Side) -> usize {
        match side {
            Side::Bid => self.bids.len(),
            Side::Ask => self.asks.len(),
            Side::None => 0,
        }
    }
}

#[inline]
fn price_ascending(level: &Level, price: i64) -> std::cmp::Ordering {
    level.price.cmp(&price)
}

#[inline]
fn price_descending(level: &Level, price: i64) -> std::cmp::Ordering {
    price.cmp(&level.price)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn best_levels_and_removal() {
        let mut book = L2Book::default();
        book.set(Side::Bid, 100, 5);
        book.set(Side::Bid, 101, 1);
        book.set(Side::Ask, 103, 2);
        book.set(Side::Ask, 102, 7);
        assert_eq!(book.best_bid(), Some(Level { price: 101, qty: 1 }));
        assert_eq!(book.best_ask(), Some(Level { price: 102, qty: 7 }));
        book.set(Side::Bid, 101, 0);
        book.set(Side::Bid, 99, 0);
        assert_eq!(book.best_bid(), Some(Level { price: 100, qty: 5 }));
        assert!(!book.is_crossed());
        book.set(Side::Bid, 102, 1);
        assert!(book.is_crossed());
        assert_eq!(
            book.levels(Side::Ask).map(|l| l.price).collect::<Vec<_>>(),
            vec![102, 103]
        );
    }

    proptest! {
        #[test]
        fn matches_a_btreemap_model(ops in proptest::collection::vec((any::<bool>(), 0i64..50, 0i64..4), 0..300)) {
            let mut book = L2Book::default();
            let mut bids = BTreeMap::new();
            let mut asks = BTreeMap::new();
            for (bid, price, qty) in ops {
                let (side, model) = if bid { (Side::Bid, &mut bids) } else { (Side::Ask, &mut asks) };
                book.set(side, price, qty);
                if qty == 0 { model.remove(&price); } else { model.insert(price, qty); }
            }
            let want_bids: Vec<_> = bids.iter().rev().map(|(&price, &qty)| Level { price, qty }).collect();
            let want_asks: Vec<_> = asks.iter().map(|(&price, &qty)| Level { price, qty }).collect();
            prop_assert_eq!(book.levels(Side::Bid).collect::<Vec<_>>(), want_bids);
            prop_assert_eq!(book.levels(Side::Ask).collect::<Vec<_>>(), want_asks);
        }
    }
}
