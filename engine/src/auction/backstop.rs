//! The backstop vault: takes what no liquidator or slice closed by the deadline.
//!
//! **Price.** At the lot's bankruptcy price (`pricing = "bankruptcy"`, the account
//! ends at zero equity and pays no penalty since no surplus remains), or at
//! `mark × (1 − discount)` for a sale / `mark × (1 + discount)` for a buy-back
//! (`pricing = "discount"`, rounded against the vault's counterparty: down for a
//! sale, up for a buy-back).
//!
//! **Exposure cap.** A vault that absorbs positions in a thin market can be
//! attacked: on Hyperliquid (JELLY, March 2025) a trader pushed a large short
//! onto the HLP vault's liquidator and then squeezed the thin spot market. Here
//! the vault's absolute position per instrument is capped at
//! `cap_depth_fraction_bps × D / 10⁴` lots, with `D` the mirrored depth (all venues)
//! within `depth_band_bps` of the mark on the side the vault would unwind into
//! (bids after buying a sold lot, asks after selling a bought-back lot). Lots
//! above the cap go to slicing (`overflow = "slicing"`) or back to the risk
//! engine for auto-deleveraging (`overflow = "adl"`).

use super::depth::{depth_within, DepthView};
use super::events::{EventSink, ExecutionEvent};
use super::fixed::Ray;
use super::ledger::LotLedger;
use super::lot::{LiquidationLot, LotSide};
use super::policy::{BackstopPricing, InstrumentPolicy, Overflow};

/// What the backstop did with a lot's open quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackstopResult {
    /// Lots the vault took.
    pub taken: i64,
    /// Lots above the cap (or all, when the vault is disabled).
    pub overflow: i64,
    /// Where the overflow went: `Adl` means already returned (journaled); `Slicing`
    /// means the caller must slice it.
    pub overflow_to: Overflow,
}

/// The vault's positions, one per instrument.
#[derive(Clone, Debug, Default)]
pub struct BackstopVault {
    positions: Vec<(u32, i64)>,
    /// Lots taken over the vault's life.
    pub lots_taken: i64,
}

impl BackstopVault {
    /// An empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Position in `instrument` (lots; + long).
    pub fn position(&self, instrument: u32) -> i64 {
        self.positions.iter().find(|p| p.0 == instrument).map_or(0, |p| p.1)
    }

    fn add_position(&mut self, instrument: u32, delta: i64) -> i64 {
        match self.positions.iter_mut().find(|p| p.0 == instrument) {
            Some(p) => {
                p.1 += delta;
                p.1
            }
            None => {
                self.positions.push((instrument, delta));
                delta
            }
        }
    }

    /// The cap on |position| in lots for a lot of `side` at `mark` (see the module docs).
    pub fn cap_lots(policy: &InstrumentPolicy, side: LotSide, mark: i64, views: &[&dyn DepthView]) -> i64 {
        let b = &policy.backstop;
        let band = b.depth_band_bps as i128;
        let limit = match side {
            LotSide::Sell => mark as i128 * (10_000 - band) / 10_000,
            LotSide::Buy => (mark as i128 * (10_000 + band) + 9_999) / 10_000,
        } as i64;
        // The vault unwinds a bought lot by selling, a sold-to-it lot by buying:
        // the same side of the book the lot itself would consume.
        let depth: i64 = views.iter().map(|v| depth_within(*v, side, limit)).sum();
        (depth as i128 * b.cap_depth_fraction_bps as i128 / 10_000) as i64
    }

    /// The vault's price for `lot` at `mark`.
    pub fn price(policy: &InstrumentPolicy, lot: &LiquidationLot, mark: i64) -> i64 {
        let d = policy.backstop.discount_bps as i128;
        match (policy.backstop.pricing, lot.side) {
            (BackstopPricing::Bankruptcy, _) => lot.bankruptcy,
            (BackstopPricing::Discount, LotSide::Sell) => (mark as i128 * (10_000 - d) / 10_000) as i64,
            (BackstopPricing::Discount, LotSide::Buy) => ((mark as i128 * (10_000 + d) + 9_999) / 10_000) as i64,
        }
    }

    /// Takes as much of `ledger`'s open quantity as the cap allows at event time
    /// `now_ns`; the rest is returned for ADL (journaled) or handed back for slicing.
    #[allow(clippy::too_many_arguments)]
    pub fn absorb(
        &mut self,
        lot: &LiquidationLot,
        ledger: &mut LotLedger,
        policy: &InstrumentPolicy,
        mark: i64,
        views: &[&dyn DepthView],
        now_ns: i64,
        sink: &mut impl EventSink,
    ) -> BackstopResult {
        let open = ledger.open();
        let mut taken = 0;
        if policy.backstop.enabled && open > 0 {
            let cap = Self::cap_lots(policy, lot.side, mark, views);
            let position = self.position(lot.instrument);
            let room = match lot.side {
                LotSide::Sell => cap - position,
                LotSide::Buy => cap + position,
            }
            .max(0);
            taken = open.min(room);
            if taken > 0 {
                let price = Self::price(policy, lot, mark);
                let split = ledger.record_fill(taken, price, Ray::ZERO, false);
                let delta = match lot.side {
                    LotSide::Sell => taken,
                    LotSide::Buy => -taken,
                };
                let vault_position = self.add_position(lot.instrument, delta);
                self.lots_taken += taken;
                sink.emit(ExecutionEvent::BackstopTook {
                    lot: lot.id,
                    at_ns: now_ns,
                    qty: taken,
                    price,
                    split,
                    vault_position,
                });
            }
        }
        let overflow = open - taken;
        let overflow_to = policy.backstop.overflow;
        if overflow > 0 && overflow_to == Overflow::Adl {
            let qty = ledger.record_return(overflow);
            sink.emit(ExecutionEvent::ReturnedForAdl {
                lot: lot.id,
                at_ns: now_ns,
                qty,
            });
        }
        BackstopResult {
            taken,
            overflow,
            overflow_to,
        }
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use crate::auction::depth::L2Book;
    use crate::auction::events::ExecutionEvent as E;
    use gavel_feeds::wire::Venue;

    fn lot(side: LotSide, qty: i64) -> LiquidationLot {
        LiquidationLot {
            id: 8,
            instrument: 4,
            account: 1,
            side,
            qty,
            mark: 10_000,
            bankruptcy: if side == LotSide::Sell { 9_500 } else { 10_500 },
            penalty_budget: 1_000,
            created_ns: 0,
            deadline_ns: 10,
        }
    }

    #[test]
    fn vault_takes_at_bankruptcy_up_to_a_depth_cap_and_returns_the_rest_for_adl() {
        // Bids within 2 % of 10 000 (≥ 9 800): 30 + 20 = 50 lots; cap 50 % → 25 lots.
        let a = L2Book::from_levels(Venue::BinanceUsdm, &[(9_990, 30), (9_700, 500)], &[(10_010, 5)]);
        let b = L2Book::from_levels(Venue::Okx, &[(9_850, 20)], &[]);
        let views: [&dyn DepthView; 2] = [&a, &b];
        let policy = InstrumentPolicy::default();
        assert_eq!(BackstopVault::cap_lots(&policy, LotSide::Sell, 10_000, &views), 25);
        let mut vault = BackstopVault::new();
        let mut events = Vec::new();
        let l = lot(LotSide::Sell, 40);
        let mut ledger = LotLedger::new(&l, 1, 0);
        let r = vault.absorb(&l, &mut ledger, &policy, 10_000, &views, 10, &mut events);
        assert_eq!(
            r,
            BackstopResult {
                taken: 25,
                overflow: 15,
                overflow_to: Overflow::Adl
            }
        );
        assert_eq!(vault.position(4), 25);
        assert_eq!(ledger.returned, 15);
        assert_eq!(ledger.open(), 0);
        // At bankruptcy no surplus is left: the penalty is waived.
        assert!(
            matches!(events[0], E::BackstopTook { qty: 25, price: 9_500, split, vault_position: 25, .. } if split.penalty == 0)
        );
        assert_eq!(
            events[1],
            E::ReturnedForAdl {
                lot: 8,
                at_ns: 10,
                qty: 15
            }
        );
        assert!(ledger.is_balanced());
        // A second sold lot finds the vault full: everything goes to ADL.
        let mut ledger2 = LotLedger::new(&l, 1, 0);
        let r = vault.absorb(&l, &mut ledger2, &policy, 10_000, &views, 11, &mut events);
        assert_eq!((r.taken, r.overflow), (0, 40));
        // A buy-back lot reduces the long: room = cap (on asks: 5 lots → 2) + 25.
        let buy = lot(LotSide::Buy, 40);
        let mut ledger3 = LotLedger::new(&buy, 1, 0);
        let r = vault.absorb(&buy, &mut ledger3, &policy, 10_000, &views, 12, &mut events);
        assert_eq!(r.taken, 27);
        assert_eq!(vault.position(4), -2);
    }

    #[test]
    fn discount_pricing_and_overflow_to_slicing() {
        let a = L2Book::from_levels(Venue::BinanceUsdm, &[(9_990, 10)], &[]);
        let views: [&dyn DepthView; 1] = [&a];
        let mut policy = InstrumentPolicy::default();
        policy.backstop.pricing = BackstopPricing::Discount;
        policy.backstop.discount_bps = 300;
        policy.backstop.overflow = Overflow::Slicing;
        let l = lot(LotSide::Sell, 8);
        assert_eq!(BackstopVault::price(&policy, &l, 10_000), 9_700);
        assert_eq!(BackstopVault::price(&policy, &lot(LotSide::Buy, 1), 10_001), 10_302);
        let mut vault = BackstopVault::new();
        let mut ledger = LotLedger::new(&l, 1, 0);
        let mut events = Vec::new();
        let r = vault.absorb(&l, &mut ledger, &policy, 10_000, &views, 10, &mut events);
        assert_eq!(
            r,
            BackstopResult {
                taken: 5,
                overflow: 3,
                overflow_to: Overflow::Slicing
            }
        );
        assert_eq!(ledger.open(), 3); // left for the caller to slice
                                      // 9 700 is 200 above bankruptcy per lot: the prorated penalty 5/8 × 1000 = 625 is charged in full.
        assert_eq!(ledger.penalty, 625);
        policy.backstop.enabled = false;
        let r = vault.absorb(
            &l,
            &mut LotLedger::new(&l, 1, 0),
            &policy,
            10_000,
            &views,
            10,
            &mut events,
        );
        assert_eq!((r.taken, r.overflow), (0, 8));
    }
}
