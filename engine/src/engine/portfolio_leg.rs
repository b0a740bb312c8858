//! Which leg of a portfolio account the engine liquidates: the crossed instrument's mark
//! found the account, but the position closed first is the one that frees the most
//! maintenance per unit of expected impact ([`crate::risk::portfolio::leg_to_close`]).
//!
//! Expected impact of closing a leg: its full size walked through gavel's own book and the
//! mirrored venue books, best price first, as the slippage against the mark in quote units;
//! lots those books cannot absorb are charged [`UNFILLED_IMPACT_BPS`] of their value, so a
//! leg with thin books ranks behind one that can be closed.

use gavel_feeds::wire::{Side, Venue};

use super::Engine;
use crate::auction::depth::{walk_venues, DepthView, MAX_VENUES};
use crate::auction::lot::LotSide;
use crate::book::DepthLevel;
use crate::risk::{portfolio, AccountId, InstrumentId, MarginMode};

/// Charge for a lot no book can absorb, in basis points of its value at the mark.
pub const UNFILLED_IMPACT_BPS: i128 = 1_000;

/// Own-book levels read per side for the estimate (a stack buffer: no allocation).
const OWN_LEVELS: usize = 32;

/// The own book's top levels of one side as a depth view.
struct OwnLevels<'a> {
    side: Side,
    levels: &'a [DepthLevel],
}

impl DepthView for OwnLevels<'_> {
    fn venue(&self) -> Venue {
        Venue::Gavel
    }

    fn level(&self, side: Side, index: usize) -> Option<(i64, i64)> {
        (side == self.side).then(|| self.levels.get(index).map(|l| (l.price, l.qty))).flatten()
    }
}

impl Engine {
    /// The position of `account` to liquidate when `crossed`'s mark found it: `crossed`
    /// itself for a single-position or isolated account, else the best leg by
    /// [`portfolio::leg_to_close`].
    pub(crate) fn liquidation_leg(&self, account: AccountId, crossed: InstrumentId) -> InstrumentId {
        let book = &self.ledger.book;
        let acc = book.account(account);
        if acc.mode != MarginMode::Cross || acc.open_positions() < 2 {
            return crossed;
        }
        let instruments = book.instruments();
        if acc.positions.iter().any(|p| p.size != 0 && instruments.get(p.instrument).is_inverse()) {
            return crossed;
        }
        portfolio::leg_to_close(instruments, book.marks(), acc, |instrument, size| self.close_impact(instrument, size))
            .unwrap_or(crossed)
    }

    /// Expected cost (quote units) of closing `size` lots of `instrument` now.
    fn close_impact(&self, instrument: InstrumentId, size: i64) -> i128 {
        let i = usize::from(instrument);
        let Some(mark) = self.ledger.book.mark(instrument) else { return 0 };
        let direction = if size > 0 { LotSide::Sell } else { LotSide::Buy };
        let hit = crate::auction::depth::side_hit(direction);
        let mut buf = [DepthLevel::default(); OWN_LEVELS];
        let n = self.books[i].depth(hit, &mut buf);
        let own = OwnLevels { side: hit, levels: &buf[..n] };
        let count = self.instrument_count();
        let venues = self.config.venues.len().min(MAX_VENUES - 1);
        let first: &dyn DepthView = &own;
        let mut views: [&dyn DepthView; MAX_VENUES] = [first; MAX_VENUES];
        for (v, view) in views.iter_mut().skip(1).enumerate().take(venues) {
            *view = &self.mirrors[v * count + i];
        }
        let qty = size.unsigned_abs().min(i64::MAX as u64) as i64;
        let walked = walk_venues(&views[..=venues], direction, qty, None);
        let value_per_tick_lot = self.ledger.book.instruments().get(instrument).quote_per_tick_lot;
        let at_mark = i128::from(mark) * i128::from(walked.filled);
        let slippage = match direction {
            LotSide::Sell => at_mark - walked.notional,
            LotSide::Buy => walked.notional - at_mark,
        };
        let unfilled = i128::from(qty - walked.filled) * i128::from(mark) * UNFILLED_IMPACT_BPS / 10_000;
        (slippage.max(0) + unfilled).saturating_mul(value_per_tick_lot)
    }
}
