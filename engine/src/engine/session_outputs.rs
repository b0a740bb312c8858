//! Outputs only connected sessions need (`EngineConfig::session_outputs`, on in
//! `gavel serve`): own-book level updates and replies to liquidator takes.
//! Position updates are emitted with the ledger records they follow
//! (`waterfall::ledger_record`).

use gavel_feeds::wire::{Event, EventKind, LiquidatorBid, PriceLevel, Side, Venue};

use super::output::{build, Header};
use super::{Engine, OutputSink};

impl Engine {
    /// Session output: the own book's total at (`side`, `price`) of `instrument` now.
    pub(crate) fn level_update(&self, out: &mut impl OutputSink, instrument: usize, side: Side, price: i64) {
        if !self.config.session_outputs {
            return;
        }
        let qty = self.books[instrument].level_qty(side, price);
        out.emit(&build(
            self.now,
            Header { kind: EventKind::BookLevel, venue: Venue::Gavel, side, flags: 0, instrument: instrument as u32, sequence: 0 },
            PriceLevel { price, qty, index: 0 },
        ));
    }

    /// Session output: the reply to a liquidator's take (`kind` FILL or REJECT).
    pub(crate) fn bid_report(&self, out: &mut impl OutputSink, event: &Event, kind: u8, price: i64, qty: i64) {
        if !self.config.session_outputs {
            return;
        }
        let bid: LiquidatorBid = event.payload();
        out.emit(&build(
            self.now,
            Header { kind: EventKind::BidReport, venue: Venue::Gavel, side: Side::None, flags: kind, instrument: event.instrument, sequence: event.sequence },
            gavel_feeds::wire::BidReport { liquidator_and_auction: bid.liquidator_and_auction, price, qty },
        ));
    }
}
