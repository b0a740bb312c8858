//! The auction stage of a liquidation: a Dutch auction opened on the engine's event clock,
//! stepped by its timer, taken by liquidator bids that arrive as events, and stopped when
//! the market runs away from it ([`super::EnginePolicy::auction_abort_bps`]).
//!
//! The stop is checked on every mark of the auction's instrument, not only at its steps: a
//! fall that passes the stop between two steps sends the position to market at that mark.
//! The auctions running are listed in liquidation-id order, so the order in which a mark
//! stops several of them is the same in a live engine and in one restored from a snapshot.

use gavel_feeds::wire::auction_update;

use super::liquidation::{Discard, Phase};
use super::{Engine, OutputSink};
use crate::auction::dutch::{Auction, AuctionStatus};
use crate::auction::lot::LiquidationLot;

/// A running auction: its liquidation's pool slot and id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunningAuction {
    pub(crate) slot: usize,
    pub(crate) id: u64,
}

impl Engine {
    pub(crate) fn start_auction(&mut self, slot: usize, out: &mut impl OutputSink) -> bool {
        let now = self.now;
        let Some(liq) = self.pool[slot].as_ref() else { return false };
        let lot = LiquidationLot {
            id: liq.id as u32,
            instrument: u32::from(liq.instrument),
            account: liq.account,
            side: liq.lot_side(),
            qty: liq.remaining,
            mark: self.current_mark(slot),
            bankruptcy: liq
                .bankruptcy
                .unwrap_or(if liq.sign > 0 { 1 } else { crate::auction::fixed::MAX_PRICE_TICKS })
                .clamp(1, crate::auction::fixed::MAX_PRICE_TICKS),
            penalty_budget: 0,
            created_ns: now,
            deadline_ns: now.saturating_add(self.policy.auction_duration_ns),
        };
        let i = usize::from(liq.instrument);
        let Ok(auction) = Auction::start(&lot, liq.remaining, &self.exec[i], now, &mut Discard) else {
            self.metrics.zero_fill_attempts += 1;
            return false;
        };
        let (n, v) = (self.instrument_count(), self.config.venues.len());
        let price = Self::with_views(&self.mirrors, n, v, i, |views| auction.price(now, views));
        let step = self.config.auction_step_ns;
        let id = liq.id;
        if let Some(liq) = self.pool[slot].as_mut() {
            liq.auction = Some(auction);
            liq.phase = Phase::AuctionRunning;
        }
        self.list_running_auction(slot, id);
        self.auction_notice(out, slot, auction_update::START, price);
        self.arm(slot, now.saturating_add(step));
        true
    }

    /// Adds an auction to the running list, keeping it in liquidation-id order (ids grow,
    /// so this is almost always an append).
    fn list_running_auction(&mut self, slot: usize, id: u64) {
        let at = self.running_auctions.partition_point(|r| r.id < id);
        self.running_auctions.insert(at, RunningAuction { slot, id });
    }

    /// Removes the liquidation in `slot` from the running list (no-op if it has no auction).
    pub(crate) fn unlist_running_auction(&mut self, slot: usize) {
        if let Some(at) = self.running_auctions.iter().position(|r| r.slot == slot) {
            self.running_auctions.remove(at);
        }
    }

    /// Rebuilds the running list from the pool (after a snapshot is restored).
    pub(crate) fn relist_running_auctions(&mut self) {
        self.running_auctions.clear();
        for (slot, liq) in self.pool.iter().enumerate() {
            if let Some(l) = liq.as_ref().filter(|l| l.phase == Phase::AuctionRunning && l.auction.is_some()) {
                self.running_auctions.push(RunningAuction { slot, id: l.id });
            }
        }
        self.running_auctions.sort_unstable_by_key(|r| r.id);
    }

    /// Whether the mark has moved more than the policy's stop away from the liquidation's
    /// trigger mark, against the position (down for a long, up for a short).
    fn past_stop(&self, slot: usize) -> bool {
        let abort_bps = i128::from(self.policy.auction_abort_bps);
        let Some(liq) = self.pool[slot].as_ref() else { return false };
        let mark = self.current_mark(slot);
        abort_bps > 0 && (i128::from(liq.mark) - i128::from(mark)) * i128::from(liq.sign) * 10_000 > i128::from(liq.mark) * abort_bps
    }

    /// Whether the market ran away from the auction: the mark is past the stop and has been
    /// at every check for the policy's confirmation time (records when it first was).
    fn ran_away(&mut self, slot: usize) -> bool {
        let past = self.past_stop(slot);
        let (now, confirm) = (self.now, self.policy.auction_stop_confirm_ns);
        let Some(liq) = self.pool[slot].as_mut() else { return false };
        if !past {
            liq.stop_seen_ns = None;
            return false;
        }
        let seen = *liq.stop_seen_ns.get_or_insert(now);
        now.saturating_sub(seen) >= confirm
    }

    /// The market ran away from the auction: closes the whole open position now, at market.
    fn stop_auction(&mut self, slot: usize, out: &mut impl OutputSink) {
        let open = self.open_lots(slot);
        let Some(liq) = self.pool[slot].as_mut() else { return };
        liq.auction_stopped = true;
        liq.full_close = true;
        liq.remaining = open;
        self.end_auction(slot, out);
    }

    /// Stops every running auction on `instrument` whose stop the new mark has passed, in
    /// liquidation-id order (called with each mark of the instrument).
    pub(crate) fn stop_runaway_auctions(&mut self, instrument: usize, out: &mut impl OutputSink) {
        if self.policy.auction_abort_bps == 0 {
            return;
        }
        let mut k = 0;
        while k < self.running_auctions.len() {
            let RunningAuction { slot, .. } = self.running_auctions[k];
            let here = self.pool[slot].as_ref().is_some_and(|l| usize::from(l.instrument) == instrument);
            if here && self.ran_away(slot) {
                // Removes it from the list: the next entry is now at `k`.
                self.stop_auction(slot, out);
                if self.running_auctions.get(k).is_some_and(|r| r.slot == slot) {
                    k += 1; // not removed (cannot happen: end_auction unlists it); never loop on it
                }
            } else {
                k += 1;
            }
        }
    }

    pub(crate) fn auction_tick(&mut self, slot: usize, out: &mut impl OutputSink) {
        if self.ran_away(slot) {
            self.stop_auction(slot, out);
            return;
        }
        let now = self.now;
        let (n, v) = (self.instrument_count(), self.config.venues.len());
        let mark = self.current_mark(slot);
        let Some(liq) = self.pool[slot].as_mut() else { return };
        let i = usize::from(liq.instrument);
        let Some(auction) = liq.auction.as_mut() else { return };
        // A restart (tail, cusp) starts from the mark of its event time.
        auction.set_mark(mark);
        match auction.advance(now, &mut Discard) {
            AuctionStatus::Running => {
                let auction = &*auction;
                let price = Self::with_views(&self.mirrors, n, v, i, |views| auction.price(now, views));
                self.auction_notice(out, slot, auction_update::PRICE, price);
                self.arm(slot, now.saturating_add(self.config.auction_step_ns));
            }
            AuctionStatus::Expired | AuctionStatus::Cleared => self.end_auction(slot, out),
        }
    }

    pub(crate) fn end_auction(&mut self, slot: usize, out: &mut impl OutputSink) {
        self.unlist_running_auction(slot);
        self.auction_notice(out, slot, auction_update::END, 0);
        let tried = self.pool[slot].as_ref().map_or(0, |l| l.remaining);
        self.close_attempt(slot, tried, out);
        if let Some(liq) = self.pool[slot].as_mut() {
            liq.auction = None;
        }
        self.next_stage(slot, out);
    }
}
