//! Accounts and positions: cross or isolated margin, exact entry notional,
//! realized PnL, funding and fees.
//!
//! A position keeps its cost basis as `entry_notional = Σ qty·price·mult`
//! (signed like the size, quote units, exact); the average entry price is
//! derived, never stored, so repeated fills cannot drift. Reducing a position
//! releases `entry_notional × closed ÷ |size|` (rounded toward zero); the
//! remainder stays in the position and is released with the last lot, so the
//! total realized over a round trip is exact.

use super::instrument::{Instrument, InstrumentId};
use super::trigger_price::Trigger;

/// Index of an account in a [`super::book::RiskBook`]: the one account id of the
/// workspace. Wire payloads keep a fixed 64-bit account field; convert with
/// [`account_to_wire`] and [`account_from_wire`] only.
pub type AccountId = u32;

/// An account id as a wire payload's 64-bit account field.
#[inline]
pub const fn account_to_wire(id: AccountId) -> u64 {
    id as u64
}

/// The account id in a wire payload's 64-bit account field; `None` when the
/// field is wider than an [`AccountId`] (the caller refuses the event).
#[inline]
pub fn account_from_wire(field: u64) -> Option<AccountId> {
    AccountId::try_from(field).ok()
}

/// A ledger record's `accounts` word (account in the low half, counterparty in
/// the high half, `u32::MAX` for none) as `(account, counterparty)`.
#[inline]
pub const fn ledger_accounts(word: u64) -> (AccountId, Option<AccountId>) {
    let counterparty = (word >> 32) as AccountId;
    (word as AccountId, if counterparty == AccountId::MAX { None } else { Some(counterparty) })
}

/// Packs an account and its counterparty into a ledger record's `accounts` word
/// (the inverse of [`ledger_accounts`]).
#[inline]
pub const fn pack_ledger_accounts(account: AccountId, counterparty: Option<AccountId>) -> u64 {
    let other = match counterparty {
        Some(c) => c,
        None => AccountId::MAX,
    };
    account_to_wire(account) | (account_to_wire(other) << 32)
}

/// How an account's collateral backs its positions.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarginMode {
    /// One pool: the wallet plus every position's PnL backs every position.
    Cross,
    /// Each position has its own margin (`isolated_margin`) and is liquidated alone.
    Isolated,
}

/// An open (or flat) position in one instrument.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Which instrument.
    pub instrument: InstrumentId,
    /// Signed size in lots (long > 0).
    pub size: i64,
    /// Σ `fill_value` over the open lots, settlement units: linear
    /// `Σ qty·price·mult` (same sign as `size`); inverse `Σ −qty·value÷price`
    /// (opposite sign to `size`).
    pub entry_notional: i128,
    /// Margin assigned to this position (isolated mode only; 0 in cross).
    pub isolated_margin: i128,
    /// Where this position currently sits in the risk book's index (kept by
    /// [`super::book::RiskBook`]; `None` when not indexed).
    pub(crate) indexed: Option<IndexKey>,
}

/// A position's entry in the risk book's index.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexKey {
    /// Its exact liquidation trigger (a single-position cross account or an isolated position).
    Trigger(Trigger),
    /// Its portfolio account's safe-band edge on this instrument ([`super::portfolio`]): the
    /// adverse edge only (`Long(low)` for a long, `Short(high)` for a short), since a
    /// favourable move never lowers the account's slack; `underwater` when the account was
    /// liquidatable at its last evaluation (then the opposite edge at the same price is
    /// indexed too: any move re-evaluates it).
    Band {
        /// The mark beyond which the account must be re-evaluated.
        edge: Trigger,
        /// Liquidatable when last evaluated.
        underwater: bool,
    },
}

impl IndexKey {
    /// The band edges this key puts in the index: the adverse edge, and for an underwater
    /// account the opposite edge at the same price.
    pub fn band_edges(edge: Trigger, underwater: bool) -> (Trigger, Option<Trigger>) {
        let opposite = match edge {
            Trigger::Long(t) => Trigger::Short(t),
            Trigger::Short(t) => Trigger::Long(t),
        };
        (edge, underwater.then_some(opposite))
    }
}

impl Position {
    /// A flat position.
    pub fn flat(instrument: InstrumentId) -> Self {
        Position {
            instrument,
            size: 0,
            entry_notional: 0,
            isolated_margin: 0,
            indexed: None,
        }
    }

    /// Unrealized PnL at `mark` ticks: `ins.mark_value(size, mark) − entry_notional`
    /// (linear: `size·mark·mult − entry_notional`).
    #[inline]
    pub fn unrealized(&self, ins: &Instrument, mark: i64) -> i128 {
        ins.mark_value(self.size, mark) - self.entry_notional
    }

    /// Applies a fill of `qty` lots (signed: buy > 0) at `price` ticks and
    /// returns the realized PnL in settlement units.
    ///
    /// Cash-like identity, used by the ledger: `realized − Δentry_notional`
    /// always equals `−ins.fill_value(qty, price)` (linear: `−qty·price·mult`).
    pub fn apply_fill(&mut self, ins: &Instrument, qty: i64, price: i64) -> i128 {
        if qty == 0 {
            return 0;
        }
        let fill_notional = |q: i64| ins.fill_value(q, price);
        if self.size == 0 || (self.size > 0) == (qty > 0) {
            self.size += qty;
            self.entry_notional += fill_notional(qty);
            return 0;
        }
        let closing = qty.abs().min(self.size.abs());
        let released = self.entry_notional * i128::from(closing) / i128::from(self.size.abs());
        // Closing `closing` lots: a long sells (qty < 0), a short buys.
        let closing_signed = if qty < 0 { -closing } else { closing };
        // The whole fill's value is rounded once and split, so a flip moves
        // exactly `−fill_value(qty)` (inverse values are not additive after rounding).
        let whole = fill_notional(qty);
        let closing_value = if closing_signed == qty { whole } else { fill_notional(closing_signed) };
        let realized = -closing_value - released;
        self.entry_notional -= released;
        self.size += closing_signed;
        let opening = qty - closing_signed;
        if self.size == 0 {
            debug_assert_eq!(self.entry_notional, 0);
            self.entry_notional = 0;
        }
        if opening != 0 {
            self.size += opening;
            self.entry_notional += whole - closing_value;
        }
        realized
    }
}

/// A trading account.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Cross or isolated.
    pub mode: MarginMode,
    /// Cross wallet balance, quote units: deposits + realized PnL (cross
    /// positions) + funding − fees − margin moved to isolated positions.
    pub wallet: i128,
    /// Cumulative realized trading PnL (statistic; already in the balances).
    pub realized_pnl: i128,
    /// Cumulative funding received (negative: paid).
    pub funding: i128,
    /// Cumulative fees and liquidation penalties paid.
    pub fees: i128,
    /// Positions, at most one per instrument.
    pub positions: Vec<Position>,
}

impl Account {
    /// A new account with `collateral` in the wallet and no positions.
    pub fn new(mode: MarginMode, collateral: i128) -> Self {
        Account {
            mode,
            wallet: collateral,
            realized_pnl: 0,
            funding: 0,
            fees: 0,
            positions: Vec::new(),
        }
    }

    /// The position in `instrument`, if any.
    pub fn position(&self, instrument: InstrumentId) -> Option<&Position> {
        self.positions.iter().find(|p| p.instrument == instrument)
    }

    /// The position in `instrument`, created flat if missing.
    pub fn position_mut(&mut self, instrument: InstrumentId) -> &mut Position {
        if let Some(i) = self.positions.iter().position(|p| p.instrument == instrument) {
            return &mut self.positions[i];
        }
        self.positions.push(Position::flat(instrument));
        self.positions.last_mut().expect("just pushed")
    }

    /// Number of non-flat positions.
    pub fn open_positions(&self) -> usize {
        self.positions.iter().filter(|p| p.size != 0).count()
    }

    /// The balance that backs `instrument`'s position: the cross wallet, or
    /// the position's isolated margin.
    pub fn balance_mut(&mut self, instrument: InstrumentId) -> &mut i128 {
        match self.mode {
            MarginMode::Cross => &mut self.wallet,
            MarginMode::Isolated => &mut self.position_mut(instrument).isolated_margin,
        }
    }

    /// Cash-like total used by the ledger: wallet + isolated margins − entry notionals.
    pub fn cash(&self) -> i128 {
        self.wallet + self.positions.iter().map(|p| p.isolated_margin - p.entry_notional).sum::<i128>()
    }
}

#[cfg(test)]
mod wire_tests {
    use super::*;

    #[test]
    fn ledger_account_words_round_trip() {
        for (a, c) in [(0, None), (7, Some(9)), (AccountId::MAX - 1, Some(0))] {
            assert_eq!(ledger_accounts(pack_ledger_accounts(a, c)), (a, c));
        }
        assert_eq!(account_from_wire(account_to_wire(42)), Some(42));
        assert_eq!(account_from_wire(u64::from(u32::MAX) + 1), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::instrument::InstrumentSet;

    /// A linear instrument with this tick and lot (`tick × lot × 10^6` = the multiplier).
    fn linear(tick: &str, lot: &str) -> Instrument {
        let text = format!(
            "[[instrument]]\nsymbol = \"X\"\ntick_size = \"{tick}\"\nlot_size = \"{lot}\"\nbrackets = [{{ notional_cap = \"inf\", maintenance_rate = \"0.01\", max_leverage = 50 }}]\n"
        );
        InstrumentSet::parse(&text, "t").unwrap().list.remove(0)
    }

    #[test]
    fn wire_account_fields_convert_in_one_place() {
        assert_eq!(account_to_wire(7), 7u64);
        assert_eq!(account_from_wire(u64::from(u32::MAX)), Some(u32::MAX));
        assert_eq!(account_from_wire(1 << 32), None);
        assert_eq!(ledger_accounts(5 | (9 << 32)), (5, Some(9)));
        assert_eq!(ledger_accounts(5 | (u64::from(u32::MAX) << 32)), (5, None));
    }

    #[test]
    fn fills_keep_exact_entry_and_realize_pnl() {
        let mult = 100; // BTCUSDT: 0.1 tick × 0.001 lot
        let ins = linear("0.1", "0.001");
        assert_eq!(ins.quote_per_tick_lot, mult);
        let mut p = Position::flat(0);
        assert_eq!(p.apply_fill(&ins, 3, 500_000), 0); // buy 0.003 @ 50000.0
        assert_eq!(p.apply_fill(&ins, 2, 500_001), 0); // buy 0.002 @ 50000.1
        assert_eq!(p.entry_notional, 3 * 500_000 * 100 + 2 * 500_001 * 100);
        // Sell 1 lot at 51000: released = entry × 1/5 rounded toward zero.
        let entry = p.entry_notional;
        let r = p.apply_fill(&ins, -1, 510_000);
        assert_eq!(r, 510_000 * 100 - entry / 5);
        // Flip: sell 6 (close 4, open short 2) at 49000.
        let rest = p.entry_notional;
        let r2 = p.apply_fill(&ins, -6, 490_000);
        assert_eq!(r2, 4 * 490_000 * 100 - rest);
        assert_eq!(p.size, -2);
        assert_eq!(p.entry_notional, -2 * 490_000 * 100);
        // Round trip total: realized = Σ −qty·price·mult over all fills once flat.
        let r3 = p.apply_fill(&ins, 2, 480_000);
        assert_eq!(p.size, 0);
        assert_eq!(p.entry_notional, 0);
        let cash: i128 = -(3 * 500_000 + 2 * 500_001 - 510_000 - 6 * 490_000 + 2 * 480_000) * 100;
        assert_eq!(r + r2 + r3, cash);
    }

    #[test]
    fn unrealized_signs() {
        let ins = linear("0.01", "0.001");
        let mut p = Position::flat(0);
        p.apply_fill(&ins, -10, 1_000);
        assert_eq!(p.unrealized(&ins, 900), 10 * 100 * 10);
        assert_eq!(p.unrealized(&ins, 1_100), -10 * 100 * 10);
    }
}
