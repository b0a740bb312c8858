//! Read access to mirrored venue depth, and walking it.
//!
//! [`DepthView`] is the small interface execution needs from a book (a venue's
//! mirrored L2 book or gavel's own): the `i`-th best level of a side. It is
//! object safe, so execution takes `&[&dyn DepthView]` (one per venue) and merges
//! them best-first without allocating. [`L2Book`] (the workspace's one L2 book
//! type, from `gavel_feeds::venue_book`) implements it: the engine's venue
//! mirrors, the simulated venues and the tests use it.

use gavel_feeds::wire::{Side, Venue};

pub use gavel_feeds::venue_book::{L2Book, Walk};

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

impl DepthView for L2Book {
    #[inline]
    fn venue(&self) -> Venue {
        L2Book::venue(self)
    }

    #[inline]
    fn level(&self, side: Side, index: usize) -> Option<(i64, i64)> {
        self.nth_best(side, index).map(|l| (l.price, l.qty))
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
}
