//! The risk book: instruments, marks, accounts and the trigger index, kept
//! consistent on every position, balance and mark change.
//!
//! ## Cross accounts with several positions
//! Each position's trigger is computed exactly with every *other* mark held
//! at its current value ([`super::margin::position_trigger`]), so a position
//! is crossed by a move of its own mark iff its whole account becomes
//! liquidatable. When the mark of instrument X moves, the triggers of X
//! positions do not change (they do not depend on X's mark), but the
//! triggers that multi-position cross accounts holding X have in their *other*
//! instruments do: [`RiskBook::set_mark`] recomputes exactly those entries
//! after answering the crossed set for X. The cost is O(m log n) per mark
//! update for the m multi-position cross accounts holding X; single-position
//! and isolated accounts cost nothing beyond the O(log n + k) query.

use std::collections::{BTreeSet, HashMap};

use super::account::{Account, AccountId, MarginMode, Position};
use super::instrument::{validate_brackets, Bracket, InstrumentId, InstrumentSet};
use super::margin::{self, Health};
use super::trigger::InstrumentTriggers;

/// Accounts, marks and the trigger index.
#[derive(Clone, Debug)]
pub struct RiskBook {
    instruments: InstrumentSet,
    marks: Vec<Option<i64>>,
    accounts: Vec<Account>,
    names: Vec<String>,
    by_name: HashMap<String, AccountId>,
    index: Vec<InstrumentTriggers>,
    /// Per instrument: cross accounts with ≥ 2 open positions, one of them here.
    multi: Vec<BTreeSet<AccountId>>,
    /// Reused list of accounts to refresh after a mark update.
    scratch: Vec<AccountId>,
}

impl RiskBook {
    /// An empty book over `instruments`.
    pub fn new(instruments: InstrumentSet) -> Self {
        let n = instruments.len();
        RiskBook {
            instruments,
            marks: vec![None; n],
            accounts: Vec::new(),
            names: Vec::new(),
            by_name: HashMap::new(),
            index: (0..n).map(|_| InstrumentTriggers::new()).collect(),
            multi: vec![BTreeSet::new(); n],
            scratch: Vec::new(),
        }
    }

    /// Adds an account; `name` may be empty (unnamed accounts are not looked up).
    /// Returns `None` if the name is taken.
    pub fn add_account(&mut self, name: &str, mode: MarginMode, collateral: i128) -> Option<AccountId> {
        let id = self.accounts.len() as AccountId;
        if !name.is_empty() {
            if self.by_name.contains_key(name) {
                return None;
            }
            self.by_name.insert(name.to_string(), id);
        }
        self.accounts.push(Account::new(mode, collateral));
        self.names.push(name.to_string());
        Some(id)
    }

    /// The instruments.
    pub fn instruments(&self) -> &InstrumentSet {
        &self.instruments
    }

    /// Replaces the maintenance brackets of `instrument` (validated like the
    /// TOML loader) and recomputes every trigger of every account holding it.
    pub fn set_brackets(&mut self, instrument: InstrumentId, brackets: Vec<Bracket>) -> Result<(), String> {
        validate_brackets(&brackets)?;
        self.instruments.list[usize::from(instrument)].brackets = brackets;
        for id in 0..self.accounts.len() as AccountId {
            if self.accounts[id as usize].position(instrument).is_some() {
                self.reindex(id);
            }
        }
        Ok(())
    }

    /// Reserves room for `n` more accounts.
    pub fn reserve(&mut self, n: usize) {
        self.accounts.reserve(n);
        self.names.reserve(n);
    }

    /// Account id by name.
    pub fn account_id(&self, name: &str) -> Option<AccountId> {
        self.by_name.get(name).copied()
    }

    /// Account name.
    pub fn name(&self, id: AccountId) -> &str {
        &self.names[id as usize]
    }

    /// An account.
    #[inline]
    pub fn account(&self, id: AccountId) -> &Account {
        &self.accounts[id as usize]
    }

    /// All accounts in id order.
    pub fn accounts(&self) -> &[Account] {
        &self.accounts
    }

    /// Current marks by instrument.
    pub fn marks(&self) -> &[Option<i64>] {
        &self.marks
    }

    /// Current mark of one instrument.
    pub fn mark(&self, instrument: InstrumentId) -> Option<i64> {
        self.marks[usize::from(instrument)]
    }

    /// Replaces a position wholesale (loaders): size, exact entry notional and
    /// isolated margin.
    pub fn set_position(&mut self, id: AccountId, instrument: InstrumentId, size: i64, entry_notional: i128, isolated_margin: i128) {
        let p = self.accounts[id as usize].position_mut(instrument);
        p.size = size;
        p.entry_notional = entry_notional;
        p.isolated_margin = isolated_margin;
        self.reindex(id);
    }

    /// Applies a fill (`qty` signed lots at `price` ticks): realized PnL is
    /// credited to the backing balance. Returns the realized PnL.
    pub fn apply_fill(&mut self, id: AccountId, instrument: InstrumentId, qty: i64, price: i64) -> i128 {
        let mult = self.instruments.get(instrument).quote_per_tick_lot;
        let acc = &mut self.accounts[id as usize];
        let realized = acc.position_mut(instrument).apply_fill(qty, price, mult);
        acc.realized_pnl += realized;
        *acc.balance_mut(instrument) += realized;
        self.reindex(id);
        realized
    }

    /// Adds `delta` (may be negative) to the balance backing `instrument`'s
    /// position (the wallet in cross mode).
    pub fn adjust_balance(&mut self, id: AccountId, instrument: InstrumentId, delta: i128) {
        *self.accounts[id as usize].balance_mut(instrument) += delta;
        self.reindex(id);
    }

    /// Mutable access to an account for bookkeeping fields; the index is
    /// refreshed afterwards.
    pub fn update_account<R>(&mut self, id: AccountId, f: impl FnOnce(&mut Account) -> R) -> R {
        let r = f(&mut self.accounts[id as usize]);
        self.reindex(id);
        r
    }

    /// Sets the mark of `instrument` and appends to `crossed` every account
    /// whose position in it is now in a liquidatable margin unit.
    pub fn set_mark(&mut self, instrument: InstrumentId, price: i64, crossed: &mut Vec<AccountId>) {
        let first = self.marks[usize::from(instrument)].is_none();
        self.marks[usize::from(instrument)] = Some(price);
        if first {
            // Positions waiting for this mark can be indexed now.
            for id in 0..self.accounts.len() as AccountId {
                self.reindex(id);
            }
        }
        self.index[usize::from(instrument)].crossed(price, crossed);
        if !self.multi[usize::from(instrument)].is_empty() {
            let mut ids = std::mem::take(&mut self.scratch);
            ids.clear();
            ids.extend(self.multi[usize::from(instrument)].iter().copied());
            for &id in &ids {
                self.reindex_except(id, Some(instrument));
            }
            self.scratch = ids;
        }
    }

    /// Appends the crossed accounts of `instrument` at its current mark.
    pub fn crossed(&self, instrument: InstrumentId, out: &mut Vec<AccountId>) {
        if let Some(mark) = self.marks[usize::from(instrument)] {
            self.index[usize::from(instrument)].crossed(mark, out);
        }
    }

    /// Health of the margin unit holding `instrument` in account `id`
    /// (the whole account in cross mode).
    pub fn health(&self, id: AccountId, instrument: InstrumentId) -> Option<Health> {
        let acc = &self.accounts[id as usize];
        let p = acc.position(instrument)?;
        margin::unit_health_of(&self.instruments, &self.marks, acc, p)
    }

    /// Health of a cross account (or, in isolated mode, of its worst position).
    pub fn account_health(&self, id: AccountId) -> Option<Health> {
        let acc = &self.accounts[id as usize];
        match acc.mode {
            MarginMode::Cross => margin::cross_health(&self.instruments, &self.marks, acc),
            MarginMode::Isolated => acc
                .positions
                .iter()
                .filter(|p| p.size != 0)
                .filter_map(|p| margin::unit_health_of(&self.instruments, &self.marks, acc, p))
                .min_by(|a, b| {
                    (a.equity * super::instrument::RATE_SCALE - a.maintenance_scaled)
                        .cmp(&(b.equity * super::instrument::RATE_SCALE - b.maintenance_scaled))
                }),
        }
    }

    /// Every (account, instrument) whose margin unit is liquidatable, by a
    /// full scan of all accounts: the reference the index is tested against.
    pub fn liquidatable_scan(&self) -> Vec<(AccountId, InstrumentId)> {
        let mut out = Vec::new();
        for (id, acc) in self.accounts.iter().enumerate() {
            for p in acc.positions.iter().filter(|p| p.size != 0) {
                if let Some(h) = margin::unit_health_of(&self.instruments, &self.marks, acc, p) {
                    if h.liquidatable() {
                        out.push((id as AccountId, p.instrument));
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// Every (account, instrument) crossed according to the trigger index.
    pub fn liquidatable_indexed(&self) -> Vec<(AccountId, InstrumentId)> {
        let mut out = Vec::new();
        let mut ids = Vec::new();
        for i in 0..self.instruments.len() {
            ids.clear();
            self.crossed(i as InstrumentId, &mut ids);
            out.extend(ids.iter().map(|&a| (a, i as InstrumentId)));
        }
        out.sort_unstable();
        out
    }

    /// Recomputes every trigger of account `id` (after any change to it).
    pub fn reindex(&mut self, id: AccountId) {
        self.reindex_except(id, None);
    }

    fn reindex_except(&mut self, id: AccountId, skip: Option<InstrumentId>) {
        let acc = &self.accounts[id as usize];
        let multi = acc.mode == MarginMode::Cross && acc.open_positions() >= 2;
        for i in 0..acc.positions.len() {
            let p: &Position = &self.accounts[id as usize].positions[i];
            let ins = p.instrument;
            if skip == Some(ins) {
                continue;
            }
            let new = margin::position_trigger(&self.instruments, &self.marks, &self.accounts[id as usize], i);
            let old = p.indexed;
            if old != new {
                let ix = &mut self.index[usize::from(ins)];
                if let Some(t) = old {
                    ix.remove(t, id);
                }
                if let Some(t) = new {
                    ix.insert(t, id);
                }
                self.accounts[id as usize].positions[i].indexed = new;
            }
            let open = self.accounts[id as usize].positions[i].size != 0;
            if multi && open {
                self.multi[usize::from(ins)].insert(id);
            } else {
                self.multi[usize::from(ins)].remove(&id);
            }
        }
    }

    /// Number of indexed positions in `instrument`.
    pub fn indexed_len(&self, instrument: InstrumentId) -> usize {
        self.index[usize::from(instrument)].len()
    }
}
