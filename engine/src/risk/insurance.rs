//! The insurance fund and the auto-deleveraging (ADL) queue.
//!
//! Penalties are paid into the fund; a close worse than the bankruptcy price
//! draws on it. When the fund cannot cover, the uncovered lots are
//! deleveraged at the bankruptcy price against opposing profitable positions
//! ranked Binance-style by `PnL% × effective leverage`, where
//! `PnL% = unrealized ÷ |entry notional|` and `effective leverage = notional ÷
//! unit equity`. The score is analytics (f64); ties go to the lower account id.

use super::account::AccountId;
use super::book::RiskBook;
use super::instrument::InstrumentId;

/// The insurance fund balance and its flows, quote units.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsuranceFund {
    balance: i128,
    /// Total paid in (seed excluded).
    pub paid_in: i128,
    /// Total drawn.
    pub drawn: i128,
}

impl InsuranceFund {
    /// A fund seeded with `seed` quote units.
    pub fn new(seed: i128) -> Self {
        InsuranceFund {
            balance: seed,
            paid_in: 0,
            drawn: 0,
        }
    }

    /// Current balance.
    pub fn balance(&self) -> i128 {
        self.balance
    }

    /// Pays `amount` (≥ 0) in.
    pub fn deposit(&mut self, amount: i128) {
        debug_assert!(amount >= 0);
        self.balance += amount;
        self.paid_in += amount;
    }

    /// Draws up to `amount`; returns what was drawn.
    pub fn draw(&mut self, amount: i128) -> i128 {
        let d = amount.clamp(0, self.balance.max(0));
        self.balance -= d;
        self.drawn += d;
        d
    }
}

/// Opposing profitable positions in `instrument`, best ADL candidate first.
/// `liquidated_long`: the side being deleveraged (counterparties are short if true).
pub fn adl_ranking(book: &RiskBook, instrument: InstrumentId, liquidated_long: bool, exclude: AccountId) -> Vec<(AccountId, f64)> {
    let ins = book.instruments().get(instrument);
    let Some(mark) = book.mark(instrument) else { return Vec::new() };
    let mut out = Vec::new();
    for (id, acc) in book.accounts().iter().enumerate() {
        let id = id as AccountId;
        if id == exclude {
            continue;
        }
        let Some(p) = acc.position(instrument) else { continue };
        if p.size == 0 || (p.size > 0) == liquidated_long {
            continue;
        }
        let upnl = p.unrealized(ins, mark);
        let Some(h) = book.health(id, instrument) else { continue };
        if upnl <= 0 || h.equity <= 0 || p.entry_notional == 0 {
            continue;
        }
        let pnl_pct = upnl as f64 / p.entry_notional.abs() as f64;
        let leverage = ins.notional(p.size, mark) as f64 / h.equity as f64;
        out.push((id, pnl_pct * leverage));
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}
