//! Money accounting of one lot, to the quote unit.
//!
//! Every fill (auction take, slice fill, naive fill, backstop take) goes through
//! [`LotLedger::record_fill`], which splits the counterparty amount `gross =
//! price × qty × multiplier` into the penalty charged to the account (itself
//! split into keeper incentive and insurance-fund share) and the account's part.
//!
//! Identity (checked by [`LotLedger::is_balanced`] and the tests):
//! - sell lot: `gross = account_credit + keeper + fund` (takers' money ends up
//!   with the account, keepers and the fund);
//! - buy lot: `account_debit = gross + keeper + fund` (the account pays the
//!   counterparties plus the penalty);
//! - quantities: `filled + returned + open = qty`.
//!
//! Proration: the penalty budget and the flat `tip` are spread over fills by
//! cumulative quantity, `share_k = ⌊B × F_k / Q⌋ − ⌊B × F_{k−1} / Q⌋`, so the shares
//! sum to exactly `B` when the lot is fully filled, whatever the fill sizes.
//! A fill pays at most its surplus above the bankruptcy value as penalty (the
//! account never goes below zero to pay a penalty); the rest is `waived`.

use super::events::FillSplit;
use super::fixed::Ray;
use super::lot::{value, LiquidationLot, LotSide};

/// Running totals of one lot's execution.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LotLedger {
    /// Direction.
    pub side: LotSide,
    /// Lots in the lot.
    pub qty: i64,
    /// Quote units per tick·lot.
    pub multiplier: i64,
    /// Bankruptcy price in ticks.
    pub bankruptcy: i64,
    /// Penalty budget (quote units).
    pub penalty_budget: i64,
    /// Flat keeper tip for the whole lot (quote units), prorated over keeper fills.
    pub tip: i64,
    /// Lots filled so far (all routes).
    pub filled: i64,
    /// Lots returned to the risk engine (ADL).
    pub returned: i64,
    /// Σ gross over fills.
    pub gross: i128,
    /// Σ penalty charged.
    pub penalty: i128,
    /// Σ keeper incentives.
    pub keeper: i128,
    /// Σ insurance-fund share.
    pub fund: i128,
    /// Σ penalty waived (no surplus above bankruptcy).
    pub waived: i128,
    tip_accounted: i128,
}

impl LotLedger {
    /// A fresh ledger for `lot` with the instrument's multiplier and keeper tip.
    pub fn new(lot: &LiquidationLot, multiplier: i64, tip: i64) -> Self {
        Self {
            side: lot.side,
            qty: lot.qty,
            multiplier,
            bankruptcy: lot.bankruptcy,
            penalty_budget: lot.penalty_budget,
            tip: tip.max(0),
            filled: 0,
            returned: 0,
            gross: 0,
            penalty: 0,
            keeper: 0,
            fund: 0,
            waived: 0,
            tip_accounted: 0,
        }
    }

    /// Lots neither filled nor returned.
    pub fn open(&self) -> i64 {
        self.qty - self.filled - self.returned
    }

    /// Records a fill of `qty` lots at `price` ticks. Keeper fills (auction
    /// takes) earn their `tip` share plus `chip × gross`, capped by the penalty
    /// charged on the fill. `qty` is clamped to the open quantity.
    pub fn record_fill(&mut self, qty: i64, price: i64, chip: Ray, keeper_fill: bool) -> FillSplit {
        let qty = qty.max(0).min(self.open());
        self.record_fill_notional(qty, price as i128 * qty as i128, chip, keeper_fill)
    }

    /// Records a fill of `qty` lots worth `notional` tick·lots (several price
    /// levels at once, e.g. a child order that walked the book). `qty` must not
    /// exceed [`Self::open`]; a larger value is clamped and `notional` scaled down.
    pub fn record_fill_notional(&mut self, qty: i64, notional: i128, chip: Ray, keeper_fill: bool) -> FillSplit {
        let open = self.open();
        let (qty, notional) = if qty > open && qty > 0 {
            (open, notional * open as i128 / qty as i128)
        } else {
            (qty.max(0), notional.max(0))
        };
        if qty == 0 || self.qty <= 0 {
            return FillSplit::default();
        }
        let gross = notional * self.multiplier as i128;
        let filled_after = self.filled + qty;
        let penalty_target = self.penalty_budget as i128 * filled_after as i128 / self.qty as i128;
        let share = penalty_target - (self.penalty + self.waived);
        let bankrupt_value = value(self.bankruptcy, qty, self.multiplier);
        let surplus = match self.side {
            LotSide::Sell => gross - bankrupt_value,
            LotSide::Buy => bankrupt_value - gross,
        }
        .max(0);
        let penalty = share.min(surplus).max(0);
        let waived = share - penalty;
        let tip_target = self.tip as i128 * filled_after as i128 / self.qty as i128;
        let tip_share = tip_target - self.tip_accounted;
        self.tip_accounted = tip_target;
        let keeper = if keeper_fill {
            (tip_share + chip.apply_floor(gross)).min(penalty)
        } else {
            0
        };
        let split = FillSplit {
            gross,
            penalty,
            keeper,
            fund: penalty - keeper,
            waived,
        };
        self.filled = filled_after;
        self.gross += gross;
        self.penalty += penalty;
        self.keeper += keeper;
        self.fund += split.fund;
        self.waived += waived;
        split
    }

    /// Records lots handed back for ADL (clamped to the open quantity); returns how many.
    pub fn record_return(&mut self, qty: i64) -> i64 {
        let qty = qty.max(0).min(self.open());
        self.returned += qty;
        qty
    }

    /// The account's cash flow: `+` credit for a sell lot, `−` debit for a buy lot.
    pub fn account_quote(&self) -> i128 {
        match self.side {
            LotSide::Sell => self.gross - self.penalty,
            LotSide::Buy => -(self.gross + self.penalty),
        }
    }

    /// Value the account lost against closing the filled lots at `mark` for free:
    /// slippage plus penalty, in quote units.
    pub fn value_lost(&self, mark: i64) -> i128 {
        let at_mark = value(mark, self.filled, self.multiplier);
        match self.side {
            LotSide::Sell => at_mark - self.account_quote(),
            LotSide::Buy => -self.account_quote() - at_mark,
        }
    }

    /// Whether the money and quantity identities hold (see the module docs).
    pub fn is_balanced(&self) -> bool {
        let money = match self.side {
            LotSide::Sell => self.gross == self.account_quote() + self.keeper + self.fund,
            LotSide::Buy => -self.account_quote() == self.gross + self.keeper + self.fund,
        };
        money
            && self.penalty == self.keeper + self.fund
            && self.open() >= 0
            && self.penalty + self.waived <= self.penalty_budget as i128
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    fn lot(side: LotSide, qty: i64, bankruptcy: i64, budget: i64) -> LiquidationLot {
        LiquidationLot {
            id: 1,
            instrument: 1,
            account: 9,
            side,
            qty,
            mark: 100,
            bankruptcy,
            penalty_budget: budget,
            created_ns: 0,
            deadline_ns: 1,
        }
    }

    #[test]
    fn prorated_penalty_and_tip_sum_exactly_to_the_budget() {
        let mut ledger = LotLedger::new(&lot(LotSide::Sell, 7, 0, 300), 1, 10);
        let chip = Ray::from_bps(10);
        for qty in [3, 1, 3] {
            ledger.record_fill(qty, 100, chip, true);
        }
        assert_eq!(ledger.penalty, 300);
        assert_eq!(ledger.waived, 0);
        // tip shares ⌊10·3/7⌋ = 4, ⌊10·4/7⌋ − 4 = 1, 10 − 5 = 5; chip 0.1 % of 300, 100, 300 floors to 0.
        assert_eq!(ledger.keeper, 10);
        assert_eq!(ledger.fund, 290);
        assert_eq!(ledger.gross, 700);
        assert_eq!(ledger.account_quote(), 400);
        assert!(ledger.is_balanced());
    }

    #[test]
    fn penalty_is_capped_by_the_surplus_above_bankruptcy() {
        // Sell 10 lots; bankruptcy 95; budget 100. Fill at 96: surplus 10 per 10 lots.
        let mut ledger = LotLedger::new(&lot(LotSide::Sell, 10, 95, 100), 1, 0);
        let split = ledger.record_fill(10, 96, Ray::ZERO, false);
        assert_eq!(
            split,
            FillSplit {
                gross: 960,
                penalty: 10,
                keeper: 0,
                fund: 10,
                waived: 90
            }
        );
        // Buy side: bankruptcy 105, fill at 104 → surplus 10.
        let mut ledger = LotLedger::new(&lot(LotSide::Buy, 10, 105, 100), 1, 0);
        let split = ledger.record_fill(10, 104, Ray::ZERO, false);
        assert_eq!((split.penalty, split.waived), (10, 90));
        assert_eq!(ledger.account_quote(), -1050);
        assert!(ledger.is_balanced());
    }

    #[test]
    fn value_lost_is_slippage_plus_penalty() {
        let mut ledger = LotLedger::new(&lot(LotSide::Sell, 10, 0, 50), 2, 0);
        ledger.record_fill(10, 98, Ray::ZERO, false);
        // mark value 100·10·2 = 2000; gross 1960; penalty 50 → lost 90.
        assert_eq!(ledger.value_lost(100), 90);
        assert_eq!(ledger.record_return(5), 0);
        // Nothing open: a further fill records nothing (and never divides by zero).
        assert_eq!(ledger.record_fill(3, 100, Ray::ZERO, true), FillSplit::default());
        let mut empty = LotLedger::new(&lot(LotSide::Sell, 0, 0, 10), 1, 5);
        assert_eq!(empty.record_fill(1, 100, Ray::ZERO, true), FillSplit::default());
        assert!(empty.is_balanced());
    }
}
