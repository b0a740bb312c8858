//! The input from the risk engine: one position to close ([`LiquidationLot`]).

use super::fixed::MAX_PRICE_TICKS;
use crate::risk::AccountId;

/// Which way the protocol must trade to close the position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LotSide {
    /// A long is liquidated: the protocol sells `qty` lots (liquidators buy).
    Sell,
    /// A short is liquidated: the protocol buys `qty` lots back (liquidators sell).
    Buy,
}

/// A position handed over by the risk engine for liquidation.
///
/// Prices are ticks, quantities lots, money quote units; `value(price, qty) =
/// price × qty × contract_multiplier` (the multiplier is per instrument, in the policy).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationLot {
    /// Lot id, unique per engine run; also the auction id on the wire (`LiquidatorBid::auction`).
    pub id: u32,
    /// gavel instrument id.
    pub instrument: u32,
    /// Account being liquidated.
    pub account: AccountId,
    /// Trade direction that closes the position.
    pub side: LotSide,
    /// Lots to close (> 0).
    pub qty: i64,
    /// Reference (mark) price in ticks when the lot was created.
    pub mark: i64,
    /// Bankruptcy price in ticks: closing here leaves the account with zero equity.
    pub bankruptcy: i64,
    /// Most the account may be charged as liquidation penalty, in quote units (≥ 0).
    pub penalty_budget: i64,
    /// Event time the lot was handed over (ns).
    pub created_ns: i64,
    /// Event time by which the lot must be closed (ns), else the backstop or ADL.
    pub deadline_ns: i64,
}

/// A lot that cannot be executed as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("liquidation lot {lot}: field `{field}`: {message}")]
pub struct LotError {
    /// Lot id.
    pub lot: u32,
    /// Offending field.
    pub field: &'static str,
    /// What is wrong.
    pub message: &'static str,
}

impl LiquidationLot {
    /// Checks field ranges; execution rejects a bad lot with this error (never panics).
    pub fn validate(&self) -> Result<(), LotError> {
        let err = |field, message| {
            Err(LotError {
                lot: self.id,
                field,
                message,
            })
        };
        if self.qty <= 0 {
            return err("qty", "must be positive");
        }
        if self.mark <= 0 || self.mark > MAX_PRICE_TICKS {
            return err("mark", "must be in 1..=1e11 ticks");
        }
        if self.bankruptcy < 0 || self.bankruptcy > MAX_PRICE_TICKS {
            return err("bankruptcy", "must be in 0..=1e11 ticks");
        }
        if self.penalty_budget < 0 {
            return err("penalty_budget", "must not be negative");
        }
        if self.deadline_ns <= self.created_ns {
            return err("deadline_ns", "must be after created_ns");
        }
        Ok(())
    }
}

impl LiquidationLot {
    /// Splits into the first `first_qty` lots and the rest (same id, account,
    /// prices and deadline); the penalty budget is shared pro rata, the first part
    /// getting `⌊B × first / qty⌋` and the rest the remainder, so the parts' budgets
    /// sum to `B` exactly. `first_qty` is clamped to `0..=qty`.
    pub fn split(&self, first_qty: i64) -> (LiquidationLot, LiquidationLot) {
        let first_qty = first_qty.max(0).min(self.qty.max(0));
        let first_budget = if self.qty > 0 {
            (self.penalty_budget as i128 * first_qty as i128 / self.qty as i128) as i64
        } else {
            0
        };
        let first = LiquidationLot {
            qty: first_qty,
            penalty_budget: first_budget,
            ..*self
        };
        let rest = LiquidationLot {
            qty: self.qty - first_qty,
            penalty_budget: self.penalty_budget - first_budget,
            ..*self
        };
        (first, rest)
    }
}

/// Quote value of `qty` lots at `price` ticks: `price × qty × multiplier`.
pub fn value(price: i64, qty: i64, multiplier: i64) -> i128 {
    price as i128 * qty as i128 * multiplier as i128
}

/// Expected value lost when `lot` (a whole lot or a part) fills for `notional`
/// tick·lots: slippage against the mark (quote units) plus the lot's full
/// penalty budget. The budget is the same for every route of the same lot, so
/// it does not tilt the choice; it keeps the figures comparable with realised
/// value lost.
pub fn lost_for(lot: &LiquidationLot, notional: i128, multiplier: i64) -> i128 {
    if lot.qty <= 0 {
        return 0;
    }
    let at_mark = value(lot.mark, lot.qty, 1);
    let slippage = match lot.side {
        LotSide::Sell => at_mark - notional,
        LotSide::Buy => notional - at_mark,
    };
    slippage * multiplier as i128 + lot.penalty_budget as i128
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot() -> LiquidationLot {
        LiquidationLot {
            id: 1,
            instrument: 1,
            account: 1,
            side: LotSide::Sell,
            qty: 7,
            mark: 100,
            bankruptcy: 90,
            penalty_budget: 1_000,
            created_ns: 0,
            deadline_ns: 10,
        }
    }

    #[test]
    fn split_shares_the_budget_exactly() {
        let (a, b) = lot().split(3);
        assert_eq!((a.qty, b.qty), (3, 4));
        assert_eq!((a.penalty_budget, b.penalty_budget), (428, 572));
        let (a, b) = lot().split(99);
        assert_eq!((a.qty, b.qty, b.penalty_budget), (7, 0, 0));
        let (a, _) = lot().split(-1);
        assert_eq!(a.qty, 0);
    }

    #[test]
    fn validation_names_the_field() {
        assert!(lot().validate().is_ok());
        let bad = LiquidationLot { qty: 0, ..lot() };
        assert_eq!(bad.validate().unwrap_err().field, "qty");
        let bad = LiquidationLot {
            deadline_ns: 0,
            ..lot()
        };
        assert_eq!(bad.validate().unwrap_err().field, "deadline_ns");
        let bad = LiquidationLot {
            mark: MAX_PRICE_TICKS + 1,
            ..lot()
        };
        assert_eq!(bad.validate().unwrap_err().field, "mark");
        assert!(bad.validate().unwrap_err().to_string().contains("lot 1"));
    }
}
