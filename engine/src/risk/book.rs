//! The risk book: instruments, marks, accounts and the trigger index, kept
//! consistent on every position, balance, bracket and mark change.
//!
//! ## Cross accounts with several positions
//! A single-position cross account or an isolated position has an exact
//! trigger: its margin unit depends on one mark only. A cross account with
//! positions in several instruments depends on all their marks. For those,
//! each position's entry is a **conservative trigger**: the exact trigger
//! ([`super::margin::position_trigger`]) computed with every *other*
//! instrument at the adverse edge of its **anchor band** (`anchor ± band_bps`,
//! down for a long, up for a short; the worst case since a position's margin
//! contribution is monotone in its mark). While every mark stays inside its
//! band, the entry fires no later than the true liquidation, so the index
//! returns a superset; the crossed candidates of such accounts are then
//! re-evaluated with their true health (O(1) each), which makes the returned
//! set exact. When a mark leaves its band, the instrument is re-anchored at
//! the new mark and the multi-position accounts holding it get their other
//! entries recomputed (O(m log n) for those m accounts, only on band exits).
//! Band 0 recomputes on every move.

use std::collections::HashMap;

use super::account::{Account, AccountId, MarginMode, Position};
use super::instrument::{validate_brackets, Bracket, InstrumentId, InstrumentSet};
use super::margin::{self, Health};
use super::trigger::InstrumentTriggers;

/// Accounts, marks and the trigger index.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct RiskBook {
    instruments: InstrumentSet,
    marks: Vec<Option<i64>>,
    accounts: Vec<Account>,
    names: Vec<String>,
    #[serde(serialize_with = "crate::risk::serialize_sorted")]
    by_name: HashMap<String, AccountId>,
    index: Vec<InstrumentTriggers>,
    /// Per instrument: cross accounts with ≥ 2 open positions, one of them here.
    multi: Vec<super::ordered_set::OrderedSet<AccountId>>,
    /// Per instrument: the accounts holding a long (`[0]`) or a short (`[1]`) position.
    holders: Vec<[super::ordered_set::OrderedSet<AccountId>; 2]>,
    /// Reused list of accounts to refresh after a mark update.
    scratch: Vec<AccountId>,
    /// Per instrument: conservative entries of multi-position cross accounts
    /// (candidates, re-checked before they are returned).
    conservative: Vec<InstrumentTriggers>,
    /// Per instrument: the band `[low, high]` multi-position triggers assume.
    bands: Vec<Option<(i64, i64)>>,
    /// Half-width of the anchor band, basis points.
    band_bps: i64,
    /// Reused per-account adverse marks.
    adverse: Vec<Option<i64>>,
}

/// Default half-width of the anchor band for multi-position cross accounts.
pub const DEFAULT_BAND_BPS: i64 = 100;

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
            multi: (0..n).map(|_| super::ordered_set::OrderedSet::new()).collect(),
            holders: (0..n).map(|_| [super::ordered_set::OrderedSet::new(), super::ordered_set::OrderedSet::new()]).collect(),
            scratch: Vec::new(),
            conservative: (0..n).map(|_| InstrumentTriggers::new()).collect(),
            bands: vec![None; n],
            band_bps: DEFAULT_BAND_BPS,
            adverse: vec![None; n],
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
        let mut account = Account::new(mode, collateral);
        // One slot per instrument up front: a first trade in an instrument never allocates.
        account.positions.reserve_exact(self.instruments.len());
        self.accounts.push(account);
        self.names.push(name.to_string());
        Some(id)
    }

    /// Sets the anchor band half-width (bps, ≥ 0) used by multi-position
    /// cross accounts and recomputes every trigger.
    pub fn set_band_bps(&mut self, band_bps: i64) {
        self.band_bps = band_bps.max(0);
        for i in 0..self.marks.len() {
            if let Some(m) = self.marks[i] {
                self.anchor(i, m);
            }
        }
        for id in 0..self.accounts.len() as AccountId {
            self.reindex(id);
        }
    }

    /// Centres instrument `i`'s band on `anchor`.
    fn anchor(&mut self, i: usize, anchor: i64) {
        let scaled = i128::from(anchor) * i128::from(self.band_bps);
        let half = (scaled.div_euclid(10_000) + i128::from(scaled.rem_euclid(10_000) != 0)) as i64;
        self.bands[i] = Some(((anchor - half).max(1), anchor.saturating_add(half)));
    }

    /// The band `[low, high]` (ticks) of instrument `i`.
    #[inline]
    fn band(&self, i: usize) -> Option<(i64, i64)> {
        self.bands[i]
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

    /// Sizes the trigger index for every current account holding a position in every
    /// instrument (both sides, plus the multi-position structures when any account
    /// holds several), so that later inserts on the event path do not allocate.
    pub fn reserve_index(&mut self) {
        let n = self.accounts.len();
        let multi = self.accounts.iter().any(|a| a.positions.len() >= 2);
        for i in 0..self.index.len() {
            self.index[i].reserve(n);
            self.holders[i][0].reserve(n);
            self.holders[i][1].reserve(n);
            if multi {
                self.conservative[i].reserve(n);
                self.multi[i].reserve(n);
            }
        }
        self.scratch.reserve(n);
    }

    /// Reserves what a book read back from a snapshot holds only as far as it is used: one
    /// position slot per instrument in every account and the trigger index's room
    /// ([`RiskBook::reserve_index`]), so the event path after a restore allocates nothing.
    pub fn reserve_restored(&mut self) {
        let instruments = self.instruments.len();
        for account in &mut self.accounts {
            account.positions.reserve_exact(instruments.saturating_sub(account.positions.len()));
        }
        self.reserve_index();
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
        let ins = self.instruments.get(instrument);
        let acc = &mut self.accounts[id as usize];
        let realized = acc.position_mut(instrument).apply_fill(ins, qty, price);
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
        self.set_mark_only(instrument, price);
        self.crossed(instrument, crossed);
    }

    /// [`RiskBook::set_mark`] without collecting the crossed set.
    pub fn set_mark_only(&mut self, instrument: InstrumentId, price: i64) {
        let i = usize::from(instrument);
        let first = self.marks[i].is_none();
        self.marks[i] = Some(price);
        if first {
            // Positions waiting for this mark can be indexed now.
            self.anchor(i, price);
            for id in 0..self.accounts.len() as AccountId {
                self.reindex(id);
            }
        } else if self.band(i).is_some_and(|(lo, hi)| price < lo || price > hi) {
            // Left its band: re-anchor and refresh the conservative entries
            // that multi-position accounts holding it have elsewhere.
            self.anchor(i, price);
            if !self.multi[i].is_empty() {
                let mut ids = std::mem::take(&mut self.scratch);
                ids.clear();
                ids.extend(self.multi[i].iter());
                for &id in &ids {
                    self.reindex_except(id, Some(instrument));
                }
                self.scratch = ids;
            }
        }
    }

    /// One crossed account of `instrument` at its current mark, the one crossed
    /// furthest among single-position margin units, in O(1): the engine starts
    /// its liquidation before it collects the rest with [`RiskBook::crossed`].
    pub fn most_crossed(&self, instrument: InstrumentId) -> Option<AccountId> {
        let mark = self.marks[usize::from(instrument)]?;
        self.index[usize::from(instrument)].most_crossed(mark)
    }

    /// Appends the crossed accounts of `instrument` at its current mark:
    /// exactly the accounts whose margin unit holding it is liquidatable.
    pub fn crossed(&self, instrument: InstrumentId, out: &mut Vec<AccountId>) {
        let Some(mark) = self.marks[usize::from(instrument)] else { return };
        self.index[usize::from(instrument)].crossed(mark, out);
        // Conservative entries are candidates: keep those whose true health
        // is liquidatable.
        let start = out.len();
        self.conservative[usize::from(instrument)].crossed(mark, out);
        let mut kept = start;
        for j in start..out.len() {
            let id = out[j];
            let acc = &self.accounts[id as usize];
            if margin::cross_health(&self.instruments, &self.marks, acc).is_some_and(|h| h.liquidatable()) {
                out[kept] = id;
                kept += 1;
            }
        }
        out.truncate(kept);
    }

    /// Calls `f(account, trigger, exact)` for every position of `instrument` not crossed at
    /// its mark that would be crossed at `down` (longs) or `up` (shorts). `exact` is false for
    /// the conservative entries of multi-position cross accounts: those are candidates whose
    /// health at the shocked mark the caller checks.
    pub fn warning_band(&self, instrument: InstrumentId, down: i64, up: i64, mut f: impl FnMut(AccountId, i64, bool)) {
        let Some(mark) = self.marks[usize::from(instrument)] else { return };
        self.index[usize::from(instrument)].in_band(mark, down, up, |a, t| f(a, t, true));
        self.conservative[usize::from(instrument)].in_band(mark, down, up, |a, t| f(a, t, false));
    }

    #[inline]
    fn is_multi(acc: &Account) -> bool {
        acc.mode == MarginMode::Cross && acc.positions.len() >= 2 && acc.open_positions() >= 2
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
        let multi = Self::is_multi(&self.accounts[id as usize]);
        if multi {
            // Every instrument this account holds at the adverse edge of its band.
            let mut adverse = std::mem::take(&mut self.adverse);
            adverse.clear();
            adverse.extend_from_slice(&self.marks);
            for p in self.accounts[id as usize].positions.iter().filter(|p| p.size != 0) {
                let i = usize::from(p.instrument);
                adverse[i] = self.band(i).map(|(lo, hi)| if p.size > 0 { lo } else { hi });
            }
            self.reindex_with(id, skip, &adverse, true);
            self.adverse = adverse;
        } else {
            let marks = std::mem::take(&mut self.marks);
            self.reindex_with(id, skip, &marks, false);
            self.marks = marks;
        }
    }

    fn reindex_with(&mut self, id: AccountId, skip: Option<InstrumentId>, marks: &[Option<i64>], multi: bool) {
        for i in 0..self.accounts[id as usize].positions.len() {
            let p: &Position = &self.accounts[id as usize].positions[i];
            let ins = p.instrument;
            let holders = &mut self.holders[usize::from(ins)];
            match p.size.signum() {
                1 => {
                    holders[0].insert(id);
                    holders[1].remove(&id);
                }
                -1 => {
                    holders[1].insert(id);
                    holders[0].remove(&id);
                }
                _ => {
                    holders[0].remove(&id);
                    holders[1].remove(&id);
                }
            }
            if skip == Some(ins) {
                continue;
            }
            let new = margin::position_trigger(&self.instruments, marks, &self.accounts[id as usize], i).map(|t| (t, multi));
            let old = p.indexed;
            if old != new {
                let k = usize::from(ins);
                if let Some((t, c)) = old {
                    if c { &mut self.conservative[k] } else { &mut self.index[k] }.remove(t, id);
                }
                if let Some((t, c)) = new {
                    if c { &mut self.conservative[k] } else { &mut self.index[k] }.insert(t, id);
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

    /// The accounts holding a long (`long = true`) or short position in `instrument`,
    /// in id order.
    pub fn holders(&self, instrument: InstrumentId, long: bool) -> impl Iterator<Item = AccountId> + '_ {
        self.holders[usize::from(instrument)][usize::from(!long)].iter()
    }

    /// Number of indexed positions in `instrument`.
    pub fn indexed_len(&self, instrument: InstrumentId) -> usize {
        self.index[usize::from(instrument)].len() + self.conservative[usize::from(instrument)].len()
    }
}
