//! The risk book: instruments, marks, accounts and the trigger index, kept
//! consistent on every position, balance, bracket and mark change.
//!
//! ## Cross accounts with several positions (portfolio accounts)
//! A single-position cross account or an isolated position has an exact trigger: its margin
//! unit depends on one mark only, and the trigger index answers a mark update in
//! O(log n + k). A cross account with open positions in several instruments depends on all
//! their marks and on the offset groups' credits ([`super::portfolio`]). Each of its
//! positions is indexed by the account's **safe band** on that instrument: the marks within
//! which the account is provably solvent, derived from its slack when it was last
//! evaluated. A mark update re-evaluates only the accounts whose band it leaves (their true
//! portfolio health, O(positions)), re-centres their bands on the current marks, and keeps
//! per instrument the set of portfolio accounts found liquidatable (their bands are empty, so
//! any move of a mark they hold re-evaluates them). The crossed set stays exact; nothing is
//! recomputed wholesale when the market trends.

use std::collections::HashMap;

use super::account::{Account, AccountId, IndexKey, MarginMode};
use super::instrument::RATE_SCALE;
use super::portfolio::{self, BandRoom};
use super::trigger_price::Trigger;
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
    /// Per instrument: the accounts holding a long (`[0]`) or a short (`[1]`) position.
    holders: Vec<[super::ordered_set::OrderedSet<AccountId>; 2]>,
    /// Reused list of accounts to refresh after a mark update.
    scratch: Vec<AccountId>,
    /// Per instrument: the safe-band edges of portfolio accounts holding it (a low edge is
    /// left like a long trigger, a high edge like a short one).
    bands: Vec<InstrumentTriggers>,
    /// Per instrument: portfolio accounts holding it that were liquidatable when last evaluated.
    underwater: Vec<super::ordered_set::OrderedSet<AccountId>>,
    /// Reused staging of [`RiskBook::reevaluate_all`] (not state: never serialized).
    #[serde(skip)]
    stage: RebuildStage,
}

/// Per instrument: exact long and short triggers, long and short band edges (each as
/// `(price, account)`), and the underwater accounts, collected before the sets are loaded.
#[derive(Clone, Debug, Default)]
struct RebuildStage {
    keys: Vec<[Vec<(i64, AccountId)>; 4]>,
    underwater: Vec<Vec<AccountId>>,
    /// The radix sort's second buffer.
    sort_scratch: Vec<(i64, AccountId)>,
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
            holders: (0..n).map(|_| [super::ordered_set::OrderedSet::new(), super::ordered_set::OrderedSet::new()]).collect(),
            scratch: Vec::new(),
            bands: (0..n).map(|_| InstrumentTriggers::new()).collect(),
            underwater: (0..n).map(|_| super::ordered_set::OrderedSet::new()).collect(),
            stage: RebuildStage::default(),
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
                self.bands[i].reserve(n);
                self.underwater[i].reserve(n);
            }
        }
        self.scratch.reserve(n);
        let k = self.index.len();
        self.stage.sort_scratch.reserve(n);
        self.stage.keys.resize_with(k, Default::default);
        self.stage.underwater.resize_with(k, Vec::new);
        for i in 0..k {
            let [el, es, bl, bs] = &mut self.stage.keys[i];
            el.reserve(n);
            es.reserve(n);
            if multi {
                bl.reserve(n);
                bs.reserve(n);
                self.stage.underwater[i].reserve(n);
            }
        }
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

    /// The settlement asset of the positions the book holds (empty for the quote asset of
    /// linear contracts); `None` when it holds none. An error names the first position that
    /// settles in another asset than those before it.
    pub fn settlement_asset(&self) -> Result<Option<&str>, String> {
        let mut asset: Option<&str> = None;
        for p in self.accounts.iter().flat_map(|a| a.positions.iter()).filter(|p| p.size != 0) {
            let ins = self.instruments.get(p.instrument);
            match asset {
                None => asset = Some(&ins.settlement_asset),
                Some(a) if a != ins.settlement_asset => {
                    return Err(format!(
                        "instrument {} settles in {:?} but other positions settle in {:?}: one book keeps one settlement asset",
                        ins.symbol, ins.settlement_asset, a
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(asset)
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
        self.scratch.clear();
        if first {
            // Positions waiting for this mark can be indexed now.
            self.reevaluate_all();
        } else if !self.bands[i].is_empty() {
            // Portfolio accounts whose safe band this mark left: re-evaluate them.
            let mut ids = std::mem::take(&mut self.scratch);
            self.bands[i].crossed(price, &mut ids);
            for &id in &ids {
                self.reindex_entries(id, false);
            }
            self.scratch = ids;
        }
    }

    /// Re-evaluates every account at the current marks and rebuilds the trigger and band
    /// index from scratch (what an instrument's first mark does): the full recompute. The
    /// keys are collected in account order, sorted, and loaded into the sets in one pass each
    /// (no per-key search), through staging that [`RiskBook::reserve_index`] sizes.
    pub fn reevaluate_all(&mut self) {
        let n = self.instruments.len();
        let mut staged = std::mem::take(&mut self.stage);
        staged.keys.resize_with(n, Default::default);
        staged.underwater.resize_with(n, Vec::new);
        let RebuildStage { keys: stage, underwater: under, sort_scratch } = &mut staged;
        for v in stage.iter_mut().flat_map(|s| s.iter_mut()) {
            v.clear();
        }
        for v in under.iter_mut() {
            v.clear();
        }
        for id in 0..self.accounts.len() as AccountId {
            // Positions live behind a pointer per account: ask for a later account's early,
            // so the pass is not a chain of cache misses.
            if let Some(ahead) = self.accounts.get(id as usize + PREFETCH_AHEAD) {
                for line in 0..(ahead.positions.len() * std::mem::size_of::<super::account::Position>()).div_ceil(64) {
                    prefetch(ahead.positions.as_ptr().cast::<u8>().wrapping_add(line * 64));
                }
            }
            let (multi, portfolio, room) = self.evaluation(id);
            for i in 0..self.accounts[id as usize].positions.len() {
                let key = self.entry_key(id, i, multi, portfolio, room);
                let k = usize::from(self.accounts[id as usize].positions[i].instrument);
                match key {
                    Some(IndexKey::Trigger(Trigger::Long(t))) => stage[k][0].push((t, id)),
                    Some(IndexKey::Trigger(Trigger::Short(t))) => stage[k][1].push((t, id)),
                    Some(IndexKey::Band { edge, underwater }) => {
                        let (adverse, opposite) = IndexKey::band_edges(edge, underwater);
                        for e in std::iter::once(adverse).chain(opposite) {
                            match e {
                                Trigger::Long(t) => stage[k][2].push((t, id)),
                                Trigger::Short(t) => stage[k][3].push((t, id)),
                            }
                        }
                        if underwater {
                            under[k].push(id);
                        }
                    }
                    None => {}
                }
                self.accounts[id as usize].positions[i].indexed = key;
            }
        }
        for (k, [el, es, bl, bs]) in stage.iter_mut().enumerate() {
            for v in [&mut *el, &mut *es, &mut *bl, &mut *bs] {
                super::radix::sort_by_price(v, sort_scratch);
            }
            // Keys are unique per (price, account) and accounts ascend: the loads cannot fail.
            let built = self.index[k].rebuild(el, es) & self.bands[k].rebuild(bl, bs) & self.underwater[k].rebuild_sorted(&under[k]);
            debug_assert!(built, "index keys are unique and sorted");
        }
        self.stage = staged;
    }

    /// What indexing account `id` needs: whether it is a portfolio account, and for one its
    /// portfolio health and safe-band room at the current marks.
    fn evaluation(&self, id: AccountId) -> (bool, Option<Health>, BandRoom) {
        let acc = &self.accounts[id as usize];
        let multi = Self::is_multi(acc);
        match multi.then(|| portfolio::health_and_joint(&self.instruments, &self.marks, acc)).flatten() {
            Some((health, _)) if health.liquidatable() => (true, Some(health), BandRoom::NONE),
            Some((health, joint)) => {
                let slack = health.equity * RATE_SCALE - health.maintenance_scaled;
                (true, Some(health), BandRoom::new(&self.instruments, slack, joint))
            }
            None => (multi, None, BandRoom::NONE),
        }
    }

    /// The index key of position `i` of account `id` at the current marks.
    fn entry_key(&self, id: AccountId, i: usize, multi: bool, portfolio: Option<Health>, room: BandRoom) -> Option<IndexKey> {
        let p = &self.accounts[id as usize].positions[i];
        if !multi {
            return margin::position_trigger(&self.instruments, &self.marks, &self.accounts[id as usize], i).map(IndexKey::Trigger);
        }
        match (portfolio, self.marks[usize::from(p.instrument)]) {
            (Some(h), Some(mark)) if p.size != 0 => {
                let underwater = h.liquidatable();
                let half = room.half_width(self.instruments.get(p.instrument), mark);
                let edge = if p.size > 0 { Trigger::Long(mark.saturating_sub(half)) } else { Trigger::Short(mark.saturating_add(half)) };
                Some(IndexKey::Band { edge, underwater })
            }
            _ => None,
        }
    }

    /// The portfolio accounts the last mark update re-evaluated (those whose safe band it
    /// left); empty after an instrument's first mark, which re-evaluates every account.
    pub fn reevaluated(&self) -> &[AccountId] {
        &self.scratch
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
        out.extend(self.underwater[usize::from(instrument)].iter());
    }

    /// Calls `f(account, trigger, exact)` for every position of `instrument` not crossed at
    /// its mark that would be crossed at `down` (longs) or `up` (shorts). `exact` is false for
    /// a portfolio account's safe-band edge (`Long(low)`, `Short(high)`): a candidate whose
    /// health at the shocked mark the caller checks, and whose true liquidation price lies
    /// beyond the edge.
    pub fn warning_band(&self, instrument: InstrumentId, down: i64, up: i64, mut f: impl FnMut(AccountId, Trigger, bool)) {
        let Some(mark) = self.marks[usize::from(instrument)] else { return };
        self.index[usize::from(instrument)].in_band(mark, down, up, |a, t| f(a, t, true));
        self.bands[usize::from(instrument)].in_band(mark, down, up, |a, t| f(a, t, false));
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

    /// Recomputes every index entry of account `id` (after any change to it).
    pub fn reindex(&mut self, id: AccountId) {
        self.reindex_entries(id, true);
    }

    /// [`RiskBook::reindex`]; `sizes_changed = false` (a mark moved, no position did) skips
    /// the holder lists, which only a position's sign changes.
    fn reindex_entries(&mut self, id: AccountId, sizes_changed: bool) {
        let (multi, portfolio, room) = self.evaluation(id);
        for i in 0..self.accounts[id as usize].positions.len() {
            let p = self.accounts[id as usize].positions[i];
            let k = usize::from(p.instrument);
            if sizes_changed {
                let holders = &mut self.holders[k];
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
            }
            let new = self.entry_key(id, i, multi, portfolio, room);
            if p.indexed != new {
                self.unindex(k, id, p.indexed);
                match new {
                    Some(IndexKey::Trigger(t)) => self.index[k].insert(t, id),
                    Some(IndexKey::Band { edge, underwater }) => {
                        let (adverse, opposite) = IndexKey::band_edges(edge, underwater);
                        self.bands[k].insert(adverse, id);
                        if let Some(o) = opposite {
                            self.bands[k].insert(o, id);
                            self.underwater[k].insert(id);
                        }
                    }
                    None => {}
                }
                self.accounts[id as usize].positions[i].indexed = new;
            }
        }
    }

    /// Removes one position's entry `key` of instrument `k`.
    fn unindex(&mut self, k: usize, id: AccountId, key: Option<IndexKey>) {
        match key {
            Some(IndexKey::Trigger(t)) => self.index[k].remove(t, id),
            Some(IndexKey::Band { edge, underwater }) => {
                let (adverse, opposite) = IndexKey::band_edges(edge, underwater);
                self.bands[k].remove(adverse, id);
                if let Some(o) = opposite {
                    self.bands[k].remove(o, id);
                    self.underwater[k].remove(&id);
                }
            }
            None => {}
        }
    }

    /// The accounts holding a long (`long = true`) or short position in `instrument`,
    /// in id order.
    pub fn holders(&self, instrument: InstrumentId, long: bool) -> impl Iterator<Item = AccountId> + '_ {
        self.holders[usize::from(instrument)][usize::from(!long)].iter()
    }

    /// Number of indexed positions in `instrument` (exact triggers and portfolio bands).
    pub fn indexed_len(&self, instrument: InstrumentId) -> usize {
        self.index[usize::from(instrument)].len() + self.bands[usize::from(instrument)].len() - self.underwater[usize::from(instrument)].len()
    }
}

/// Accounts ahead of the current one whose positions [`RiskBook::reevaluate_all`] prefetches.
const PREFETCH_AHEAD: usize = 16;

/// Hints the CPU to load the cache line at `p` (no effect on program state).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it never faults and reads nothing into program state,
    // whatever the address (here always a live Vec's buffer or a dangling-but-aligned empty one).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
