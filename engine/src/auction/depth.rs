//! Read access to mirrored venue depth, and walking it.
//!
//! [`DepthView`] is the small interface execution needs from a book (a venue's
//! mirrored L2 book or gavel's own): the `i`-th best level of a side. It is
//! object safe, so execution takes `&[&dyn DepthView]` (one per venue) and merges
//! them best-first without allocating. [`L2Book`] is a plain sorted-`Vec`
//! implementation used by tests and the simulation; the lead wires the real
//! mirrored books by implementing [`DepthView`] for them.

use gavel_feeds::wire::{Event, EventKind, PriceLevel, Side, Venue};

use super::lot::LotSide;

/// Most venues a multi-venue walk merges (cursor array lives on the stack).
pub const MAX_VENUES: usize = 16;

/// One book's depth, level by level from the best price outward.
pub trait DepthView {
    /// The venue this book mirrors.
    fn venue(&self) -> Venue;
    /// The `index`-th best level of `side` as `(price ticks, qty lots)`
    /// (bids by falling price, asks by rising price); `None` past the last level.
    fn level(&self, side: Side, index: usize) -> Option<(i64, i64)>;
    /// Best level of `side`.
    fn best(&self, side: Side) -> Option<(i64, i64)> {
        self.level(side, 0)
    }
}

/// The book side a trade in `direction` consumes: selling hits bids, buying lifts asks.
pub const fn side_hit(direction: LotSide) -> Side {
    match direction {
        LotSide::Sell => Side::Bid,
        LotSide::Buy => Side::Ask,
    }
}

/// Whether `price` is at least as good as `limit` for a trade in `direction`.
pub const fn within_limit(direction: LotSide, price: i64, limit: i64) -> bool {
    match direction {
        LotSide::Sell => price >= limit,
        LotSide::Buy => price <= limit,
    }
}

/// The result of walking depth: how much would fill and for how much.
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

/// Walks one book for `qty` lots in `direction`, stopping at `limit` (inclusive) if given.
pub fn walk(view: &dyn DepthView, direction: LotSide, qty: i64, limit: Option<i64>) -> Walk {
    walk_venues(&[view], direction, qty, limit)
}

/// Walks several books merged best-first (ties: lower slice index first) for
/// `qty` lots in `direction`, stopping at `limit` (inclusive) if given. Venues
/// beyond [`MAX_VENUES`] are ignored.
pub fn walk_venues(views: &[&dyn DepthView], direction: LotSide, qty: i64, limit: Option<i64>) -> Walk {
    let mut out = Walk::default();
    for_each_merged_level(views, direction, |_, price, level_qty| {
        if out.filled >= qty || limit.is_some_and(|l| !within_limit(direction, price, l)) {
            return false;
        }
        let take = level_qty.min(qty - out.filled);
        out.filled += take;
        out.notional += price as i128 * take as i128;
        out.worst_price = price;
        true
    });
    out
}

/// Lots available on `view` at prices no worse than `limit` for `direction`.
pub fn depth_within(view: &dyn DepthView, direction: LotSide, limit: i64) -> i64 {
    depth_within_up_to(view, direction, limit, i64::MAX)
}

/// Lots available on `view` at prices no worse than `limit`, counted up to `cap`
/// (the walk stops there: callers that only need to know whether `cap` lots are
/// there need not walk a deep book to its limit).
pub fn depth_within_up_to(view: &dyn DepthView, direction: LotSide, limit: i64, cap: i64) -> i64 {
    walk(view, direction, cap, Some(limit)).filled
}

/// Calls `visit(venue index, price, qty)` for every level of the side that
/// `direction` consumes, across `views`, best price first, until it returns false.
pub fn for_each_merged_level(
    views: &[&dyn DepthView],
    direction: LotSide,
    mut visit: impl FnMut(usize, i64, i64) -> bool,
) {
    let side = side_hit(direction);
    let count = views.len().min(MAX_VENUES);
    let mut cursor = [0usize; MAX_VENUES];
    loop {
        let mut best: Option<(usize, i64, i64)> = None;
        for (venue, view) in views.iter().enumerate().take(count) {
            if let Some((price, qty)) = view.level(side, cursor[venue]) {
                let better = match best {
                    None => true,
                    Some((_, best_price, _)) => match direction {
                        LotSide::Sell => price > best_price,
                        LotSide::Buy => price < best_price,
                    },
                };
                if better {
                    best = Some((venue, price, qty));
                }
            }
        }
        let Some((venue, price, qty)) = best else { return };
        cursor[venue] += 1;
        if qty > 0 && !visit(venue, price, qty) {
            return;
        }
    }
}

/// A simple L2 book: levels in sorted `Vec`s with the best price at the end (bids
/// ascending, asks descending), so that the busy top of the book moves little memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L2Book {
    venue: Venue,
    bids: Vec<(i64, i64)>,
    asks: Vec<(i64, i64)>,
}

impl L2Book {
    /// An empty book for `venue`.
    pub fn new(venue: Venue) -> Self {
        Self {
            venue,
            bids: Vec::new(),
            asks: Vec::new(),
        }
    }

    /// An empty book for `venue` with room for `levels` price levels per side
    /// (see [`L2Book::set_level_bounded`]).
    pub fn with_capacity(venue: Venue, levels: usize) -> Self {
        Self {
            venue,
            bids: Vec::with_capacity(levels),
            asks: Vec::with_capacity(levels),
        }
    }

    /// Quantity resting at `price` on `side` (0 when there is no such level).
    pub fn qty_at(&self, side: Side, price: i64) -> i64 {
        let levels = match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
            Side::None => return 0,
        };
        Self::search(levels, side, price).map_or(0, |i| levels[i].1)
    }

    /// Removes every level.
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Like [`L2Book::set_level`], but a new level on a side already at its capacity is
    /// refused (returns `false`, nothing changes) instead of growing the storage.
    pub fn set_level_bounded(&mut self, side: Side, price: i64, qty: i64) -> bool {
        let full = match side {
            Side::Bid => self.bids.len() == self.bids.capacity(),
            Side::Ask => self.asks.len() == self.asks.capacity(),
            Side::None => return false,
        };
        if full && qty > 0 {
            let levels = if side == Side::Bid { &self.bids } else { &self.asks };
            let exists = Self::search(levels, side, price).is_ok();
            if !exists {
                return false;
            }
        }
        self.set_level(side, price, qty)
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

    fn levels_mut(&mut self, side: Side) -> Option<&mut Vec<(i64, i64)>> {
        match side {
            Side::Bid => Some(&mut self.bids),
            Side::Ask => Some(&mut self.asks),
            Side::None => None,
        }
    }

    /// Where `price` is (or would go) in a side stored best-last.
    fn search(levels: &[(i64, i64)], side: Side, price: i64) -> Result<usize, usize> {
        levels.binary_search_by(|&(p, _)| match side {
            Side::Bid => p.cmp(&price),
            _ => price.cmp(&p),
        })
    }

    /// Sets the absolute quantity at `price` (0 or less removes the level);
    /// `Side::None` is ignored and reported as `false`.
    pub fn set_level(&mut self, side: Side, price: i64, qty: i64) -> bool {
        let Some(levels) = self.levels_mut(side) else {
            return false;
        };
        let position = Self::search(levels, side, price);
        match (position, qty > 0) {
            (Ok(i), true) => levels[i].1 = qty,
            (Ok(i), false) => {
                levels.remove(i);
            }
            (Err(i), true) => levels.insert(i, (price, qty)),
            (Err(_), false) => {}
        }
        true
    }

    /// Applies a wire `BookLevel`/`SnapshotLevel`/`BookTop` event; returns false
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

    /// Consumes liquidity as a marketable order in `direction` for up to `qty`
    /// lots, not beyond `limit` if given; returns what filled.
    pub fn consume(&mut self, direction: LotSide, qty: i64, limit: Option<i64>) -> Walk {
        let side = side_hit(direction);
        let mut out = Walk::default();
        let Some(levels) = self.levels_mut(side) else {
            return out;
        };
        let mut emptied = 0;
        for level in levels.iter_mut().rev() {
            if out.filled >= qty || limit.is_some_and(|l| !within_limit(direction, level.0, l)) {
                break;
            }
            let take = level.1.min(qty - out.filled);
            out.filled += take;
            out.notional += level.0 as i128 * take as i128;
            out.worst_price = level.0;
            level.1 -= take;
            if level.1 == 0 {
                emptied += 1;
            }
        }
        let keep = levels.len() - emptied;
        levels.truncate(keep);
        out
    }

    /// Total lots on `side`.
    pub fn total_qty(&self, side: Side) -> i64 {
        match side {
            Side::Bid => self.bids.iter().map(|l| l.1).sum(),
            Side::Ask => self.asks.iter().map(|l| l.1).sum(),
            Side::None => 0,
        }
    }
}

impl DepthView for L2Book {
    fn venue(&self) -> Venue {
        self.venue
    }

    fn level(&self, side: Side, index: usize) -> Option<(i64, i64)> {
        let levels = match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
            Side::None => return None,
        };
        levels.len().checked_sub(index + 1).map(|i| levels[i])
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    fn book(venue: Venue, bids: &[(i64, i64)], asks: &[(i64, i64)]) -> L2Book {
        L2Book::from_levels(venue, bids, asks)
    }

    #[test]
    fn levels_are_kept_sorted_and_removable() {
        let mut b = book(Venue::Synthetic, &[(99, 1), (101, 2), (100, 3)], &[(105, 1), (103, 2)]);
        assert_eq!(b.best(Side::Bid), Some((101, 2)));
        assert_eq!(b.level(Side::Bid, 2), Some((99, 1)));
        assert_eq!(b.best(Side::Ask), Some((103, 2)));
        b.set_level(Side::Bid, 101, 0);
        assert_eq!(b.best(Side::Bid), Some((100, 3)));
        b.set_level(Side::Bid, 100, 7);
        assert_eq!(b.best(Side::Bid), Some((100, 7)));
        assert!(!b.set_level(Side::None, 1, 1));
    }

    #[test]
    fn walking_sums_notional_and_respects_the_limit() {
        let b = book(Venue::Synthetic, &[(100, 2), (99, 3), (97, 10)], &[]);
        let w = walk(&b, LotSide::Sell, 4, None);
        assert_eq!(
            w,
            Walk {
                filled: 4,
                notional: 2 * 100 + 2 * 99,
                worst_price: 99
            }
        );
        let w = walk(&b, LotSide::Sell, 100, Some(98));
        assert_eq!(w.filled, 5);
        assert_eq!(depth_within(&b, LotSide::Sell, 97), 15);
        assert_eq!(walk(&b, LotSide::Buy, 1, None), Walk::default());
    }

    #[test]
    fn merged_walk_takes_the_best_price_across_venues() {
        let a = book(Venue::BinanceUsdm, &[(100, 1), (98, 5)], &[]);
        let b = book(Venue::Okx, &[(99, 2), (97, 5)], &[]);
        let w = walk_venues(&[&a, &b], LotSide::Sell, 4, None);
        // 1@100 (a), 2@99 (b), 1@98 (a)
        assert_eq!(
            w,
            Walk {
                filled: 4,
                notional: 100 + 2 * 99 + 98,
                worst_price: 98
            }
        );
        let a = book(Venue::BinanceUsdm, &[], &[(101, 1), (103, 5)]);
        let b = book(Venue::Okx, &[], &[(102, 2)]);
        let w = walk_venues(&[&a, &b], LotSide::Buy, 10, Some(102));
        assert_eq!(w.filled, 3);
    }

    #[test]
    fn consume_removes_liquidity() {
        let mut b = book(Venue::Synthetic, &[], &[(101, 1), (102, 2), (103, 4)]);
        let w = b.consume(LotSide::Buy, 2, None);
        assert_eq!(
            w,
            Walk {
                filled: 2,
                notional: 101 + 102,
                worst_price: 102
            }
        );
        assert_eq!(b.best(Side::Ask), Some((102, 1)));
        let w = b.consume(LotSide::Buy, 10, Some(102));
        assert_eq!(w.filled, 1);
        assert_eq!(b.total_qty(Side::Ask), 4);
    }

    #[test]
    fn wire_level_events_update_the_book() {
        let mut b = L2Book::new(Venue::BinanceUsdm);
        let ev = Event::new(
            EventKind::BookLevel,
            Venue::BinanceUsdm,
            1,
            PriceLevel {
                price: 100,
                qty: 5,
                index: 0,
            },
        )
        .with_side(Side::Bid);
        assert!(b.apply(&ev));
        assert_eq!(b.best(Side::Bid), Some((100, 5)));
        let mut bad = ev;
        bad.side = 0;
        assert!(!b.apply(&bad));
    }
}
