//! Settlement of liquidation fills and the end of the waterfall.
//!
//! Every fill closes lots of the liquidated position against a real
//! counterparty: an account of the ledger (own-book maker, liquidator, the
//! backstop vault, an ADL counterparty) or an external venue (the ledger's
//! market side, for routed intents the world reports as filled). A fill worse
//! than the bankruptcy price is backed by the insurance fund; a route never
//! asks for more than the fund can back, and what is left when every stage
//! failed is closed by ADL, exactly that many lots, pro-rata over the
//! opposite positions weighted by profit × leverage, at the position's
//! bankruptcy price, with each counterparty's loss against the mark recorded.
//! Nothing is ever "filled" by a fictitious counterparty.

use gavel_feeds::wire::{ledger_record, liquidation_stage, EventKind, LedgerEntry, Side, Venue};

use super::output::{build, clamp_i64, Header};
use super::policy::AdlRanking;
use crate::risk::account::pack_ledger_accounts;
use super::{Engine, OutputSink};
use crate::auction::depth::walk_venues;
use crate::risk::instrument::RATE_SCALE;
use crate::risk::{margin, AccountId, InstrumentId};

/// Who took the other side of a liquidation fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Counterparty {
    /// An account of the ledger.
    Account(AccountId),
    /// An external venue (the ledger's market side).
    External(Venue),
}

/// Which route closed the lots (for volumes and notices).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    OwnBook,
    Auction,
    External(Venue),
    Backstop,
}

/// The ADL queue of one instrument side, ranked at one event time: every opposite
/// holder scored, and the best [`ADL_QUEUE_TOP`] of them in rank order. It is ranked
/// again once [`super::EngineConfig::adl_rank_interval_ns`] of event time has passed
/// (as venues refresh their ADL queues periodically), or sooner when the ranked top
/// runs out of positions; in between, each ADL re-reads the current position and
/// weight of the holders it takes.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct AdlCache {
    valid: bool,
    ranked_ns: i64,
    instrument: InstrumentId,
    sign: i64,
    any_profit: bool,
    /// Every scored opposite holder (weights as of the ranking).
    list: Vec<AdlCandidate>,
    /// The best of `list` by rank (weight, then lower account id), best first.
    top: Vec<AdlCandidate>,
}

/// How many of the ranked holders the queue keeps in order (a multiple of the
/// counterparties one ADL takes, so a run of ADLs in one mark rarely re-ranks).
pub(crate) const ADL_QUEUE_TOP: usize = 1024;

impl AdlCache {
    /// An empty cache with room for `accounts` candidates.
    pub(crate) fn with_capacity(accounts: usize) -> Self {
        AdlCache { list: Vec::with_capacity(accounts), top: Vec::with_capacity(ADL_QUEUE_TOP.min(accounts)), ..AdlCache::default() }
    }

    /// A cache read from a snapshot, against an engine of `accounts` accounts and
    /// `instruments` instruments: every id in range, the top no longer than the queue keeps.
    pub(crate) fn check(&self, accounts: usize, instruments: usize) -> Result<(), String> {
        if self.valid && usize::from(self.instrument) >= instruments {
            return Err(format!("engine snapshot: adl_cache: instrument {} of {instruments}", self.instrument));
        }
        if self.list.len() > accounts || self.top.len() > ADL_QUEUE_TOP.min(accounts) {
            return Err(format!("engine snapshot: adl_cache: {} ranked, {} on top, for {accounts} accounts", self.list.len(), self.top.len()));
        }
        match self.list.iter().chain(&self.top).find(|c| c.account as usize >= accounts) {
            Some(c) => Err(format!("engine snapshot: adl_cache: account {} of {accounts}", c.account)),
            None => Ok(()),
        }
    }

    /// Room a restored cache needs so that ranking again allocates nothing.
    pub(crate) fn reserve_restored(&mut self, accounts: usize) {
        self.list.reserve(accounts.saturating_sub(self.list.len()));
        self.top.reserve(ADL_QUEUE_TOP.min(accounts).saturating_sub(self.top.len()));
    }
}

/// One opposite position considered by ADL.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct AdlCandidate {
    account: AccountId,
    weight: i64,
    cap: i64,
    alloc: i64,
    /// `R·w mod W` of the last pass: who gets the lots flooring left over.
    remainder: i128,
    fixed: bool,
}

impl Engine {
    pub(crate) fn ledger_record(&self, out: &mut impl OutputSink, kind: u8, instrument: InstrumentId, account: AccountId, counterparty: Option<AccountId>, price: i64, amount: i128) {
        out.emit(&build(
            self.now,
            Header {
                kind: EventKind::LedgerRecord,
                venue: Venue::Gavel,
                side: Side::None,
                flags: kind,
                instrument: u32::from(instrument),
                sequence: 0,
            },
            LedgerEntry { accounts: pack_ledger_accounts(account, counterparty), price, amount: clamp_i64(amount) },
        ));
        if self.config.session_outputs && matches!(kind, ledger_record::FILL | ledger_record::EXTERNAL_FILL | ledger_record::ADL) {
            for a in core::iter::once(account).chain(counterparty) {
                self.position_update(out, instrument, a);
            }
        }
    }

    /// Session output: `account`'s position in `instrument` as the ledger holds it now.
    fn position_update(&self, out: &mut impl OutputSink, instrument: InstrumentId, account: AccountId) {
        let position = self.ledger.book.account(account).position(instrument).map_or(0, |p| p.size);
        out.emit(&build(
            self.now,
            Header { kind: EventKind::PositionUpdate, venue: Venue::Gavel, side: Side::None, flags: 0, instrument: u32::from(instrument), sequence: 0 },
            gavel_feeds::wire::PositionNotice { account: crate::risk::account::account_to_wire(account), position, reserved: 0 },
        ));
    }

    /// Of `qty` lots at `price`, how many the insurance fund can back (all of them when
    /// the price is no worse than the bankruptcy price).
    pub(crate) fn backed_qty(&self, slot: usize, price: i64, qty: i64) -> i64 {
        let Some(liq) = self.pool[slot].as_ref() else { return 0 };
        let Some(bp) = liq.bankruptcy else { return qty };
        let ins = self.ledger.book.instruments().get(liq.instrument);
        let fund = self.ledger.fund.balance().max(0);
        if !ins.is_inverse() {
            let per_lot = i128::from(liq.sign * (bp - price)) * ins.quote_per_tick_lot;
            if per_lot <= 0 {
                return qty;
            }
            return (fund / per_lot).min(i128::from(qty)) as i64;
        }
        // Inverse: the loss beyond the bankruptcy price is not linear in the lots; the most
        // lots whose loss the fund covers, by bisection (no loss at 0 lots).
        let loss = |n: i64| -ins.value_change(liq.sign * n, bp, price);
        if loss(qty) <= fund {
            return qty;
        }
        let (mut covered, mut not) = (0i64, qty);
        while not - covered > 1 {
            let mid = covered + (not - covered) / 2;
            if loss(mid) <= fund {
                covered = mid;
            } else {
                not = mid;
            }
        }
        covered
    }

    /// The worst price at which `qty` lots can still be closed with the fund's backing.
    pub(crate) fn fund_bounded_limit(&self, slot: usize, qty: i64) -> i64 {
        let Some(liq) = self.pool[slot].as_ref() else { return 1 };
        let extreme = if liq.sign > 0 { 1 } else { crate::auction::fixed::MAX_PRICE_TICKS };
        let Some(bp) = liq.bankruptcy else { return extreme };
        let ins = self.ledger.book.instruments().get(liq.instrument);
        if ins.is_inverse() {
            // The loss is not linear in the price: the worst price the fund covers, by bisection
            // between the bankruptcy price (no loss) and the extreme.
            let fund = self.ledger.fund.balance().max(0);
            let covered = |p: i64| -ins.value_change(liq.sign * qty.max(1), bp, p) <= fund;
            if covered(extreme) {
                return extreme;
            }
            let (mut ok, mut not) = (bp, extreme);
            while (not - ok).abs() > 1 {
                let mid = ok + (not - ok) / 2;
                if covered(mid) {
                    ok = mid;
                } else {
                    not = mid;
                }
            }
            return ok;
        }
        let mult = ins.quote_per_tick_lot;
        let per_lot_budget = self.ledger.fund.balance().max(0) / (i128::from(qty.max(1)) * mult).max(1);
        let slack = i64::try_from(per_lot_budget).unwrap_or(i64::MAX / 4).min(i64::MAX / 4);
        if liq.sign > 0 {
            bp.saturating_sub(slack).max(1)
        } else {
            bp.saturating_add(slack).min(crate::auction::fixed::MAX_PRICE_TICKS)
        }
    }

    /// Books one liquidation fill of up to `qty` lots at `price`; returns the lots settled.
    pub(crate) fn settle_liquidation_fill(&mut self, slot: usize, counterparty: Counterparty, qty: i64, price: i64, route: Route, out: &mut impl OutputSink) -> i64 {
        let Some(liq) = self.pool[slot].as_ref() else { return 0 };
        let (account, instrument, sign, bankruptcy, rate, start_mark, preemptive) = (liq.account, liq.instrument, liq.sign, liq.bankruptcy, liq.penalty_rate, liq.mark, liq.preemptive);
        let q = qty.min(liq.remaining);
        if q <= 0 || price <= 0 {
            return 0;
        }
        let ins = self.ledger.book.instruments().get(instrument);
        // What the fill loses beyond the bankruptcy price, its penalty base and, for a
        // reduction, its cost against the start mark (settlement units).
        let beyond_bankruptcy = bankruptcy.map_or(0, |bp| -ins.value_change(sign * q, bp, price));
        let notional = ins.notional(q, price);
        let against_start = -ins.value_change(sign * q, start_mark, price);
        match counterparty {
            Counterparty::Account(cp) => {
                self.ledger.fill_between(account, cp, instrument, -sign * q, price, 0, 0);
                self.ledger_record(out, ledger_record::FILL, instrument, account, Some(cp), price, i128::from(-sign * q));
            }
            Counterparty::External(_) => {
                self.risk_events.clear();
                self.ledger.trade(account, instrument, -sign * q, price, 0, &mut self.risk_events);
                self.ledger_record(out, ledger_record::EXTERNAL_FILL, instrument, account, None, price, i128::from(-sign * q));
            }
        }
        if beyond_bankruptcy > 0 {
            let paid = self.ledger.fund_cover(account, instrument, beyond_bankruptcy);
            if paid > 0 {
                self.metrics.fund_draws += paid;
                self.ledger_record(out, ledger_record::FUND_DRAW, instrument, account, None, price, paid);
            }
        }
        self.risk_events.clear();
        let penalty = self.ledger.charge_penalty(account, instrument, notional, rate, &mut self.risk_events);
        if penalty > 0 {
            self.metrics.penalties += penalty;
            self.ledger_record(out, ledger_record::PENALTY, instrument, account, None, price, penalty);
        }
        let stage = match route {
            Route::OwnBook => liquidation_stage::OWN_BOOK,
            Route::Auction => liquidation_stage::AUCTION,
            Route::External(_) => liquidation_stage::ROUTED,
            Route::Backstop => liquidation_stage::BACKSTOP,
        };
        if preemptive {
            // A reduction on a margin call: counted apart from liquidation volume and slippage.
            self.metrics.preemptive_lots += q;
            self.metrics.preemptive_cost += against_start;
        } else {
            self.count_liquidation_fill(account, instrument, start_mark, price, sign, q, route);
        }
        if let Some(liq) = self.pool[slot].as_mut() {
            liq.remaining -= q;
            liq.attempt_filled += q;
        }
        self.note_fund();
        self.liquidation_notice(out, slot, stage, price, q);
        q
    }

    /// A liquidation fill's measures: arrival slippage (against the mark at the account's
    /// first trigger, or this leg's start mark), volume by route, and the cascade clock.
    #[allow(clippy::too_many_arguments)]
    fn count_liquidation_fill(&mut self, account: AccountId, instrument: InstrumentId, start_mark: i64, price: i64, sign: i64, q: i64, route: Route) {
        let ins = self.ledger.book.instruments().get(instrument);
        let st = &self.accounts[account as usize];
        let arrival = match st.arrival_mark {
            0 => 0,
            m if st.arrival_instrument == instrument => m,
            _ => start_mark,
        };
        if arrival > 0 {
            let harm = i128::from(sign * (arrival - price));
            self.metrics.arrival_harm += -ins.value_change(sign * q, arrival, price);
            self.metrics.arrival_notional += ins.notional(q, arrival);
            self.metrics.arrival_bps_centi_sum += harm * 1_000_000 / i128::from(arrival);
            self.metrics.liquidation_fills += 1;
        }
        match route {
            Route::OwnBook => self.metrics.volume.own_book += q,
            Route::Auction => self.metrics.volume.auction += q,
            Route::External(venue) => self.metrics.volume.external[venue as usize % super::metrics::VENUE_CODES] += q,
            Route::Backstop => self.metrics.volume.backstop += q,
        }
        self.last_liquidation_fill_ns[usize::from(instrument)] = self.now;
    }

    /// The backstop vault takes what is left at the executable price (the volume-weighted
    /// price of walking the mirrored books for it), as far as the fund backs it.
    pub(crate) fn backstop(&mut self, slot: usize, out: &mut impl OutputSink) {
        let Some(vault) = self.config.backstop_account else { return };
        let Some(liq) = self.pool[slot].as_ref() else { return };
        let (i, qty, side) = (usize::from(liq.instrument), liq.remaining, liq.lot_side());
        let mark = self.current_mark(slot);
        let (n, v) = (self.instrument_count(), self.config.venues.len());
        let walk = Self::with_views(&self.mirrors, n, v, i, |views| walk_venues(views, side, qty, None));
        // Round against the liquidated account: down for a sale, up for a buy-back.
        let price = match walk.filled {
            0 => mark,
            filled => {
                let d = i128::from(filled);
                let p = if liq.sign > 0 { walk.notional.div_euclid(d) } else { (walk.notional + d - 1).div_euclid(d) };
                i64::try_from(p).unwrap_or(mark)
            }
        };
        let q = self.backed_qty(slot, price, qty);
        if q == 0 {
            self.metrics.zero_fill_attempts += 1;
            self.liquidation_notice(out, slot, liquidation_stage::ZERO_FILL, price, qty);
            return;
        }
        self.settle_liquidation_fill(slot, Counterparty::Account(vault), q, price, Route::Backstop, out);
        self.metrics.filled_attempts += 1;
    }

    /// Closes exactly the remaining lots by ADL at the position's current bankruptcy price.
    pub(crate) fn auto_deleverage(&mut self, slot: usize, out: &mut impl OutputSink) {
        let Some(liq) = self.pool[slot].as_ref() else { return };
        let (account, instrument, sign, want) = (liq.account, liq.instrument, liq.sign, liq.remaining);
        let mark = self.current_mark(slot);
        let acc = self.ledger.book.account(account);
        let Some(index) = acc.positions.iter().position(|p| p.instrument == instrument) else { return };
        let price = margin::position_bankruptcy(self.ledger.book.instruments(), self.ledger.book.marks(), acc, index)
            .filter(|p| *p > 0)
            .unwrap_or(mark);
        // The shortfall this round must cover: the margin unit's negative equity at the mark.
        let shortfall = self.ledger.book.health(account, instrument).map_or(0, |h| (-h.equity).max(0));
        let allocated = self.allocate_adl(account, instrument, sign, want, mark);
        let mut done = 0i64;
        let mut haircut = 0i128;
        let mut candidates = std::mem::take(&mut self.adl);
        for c in candidates.iter().filter(|c| c.alloc > 0) {
            self.ledger.fill_between(account, c.account, instrument, -sign * c.alloc, price, 0, 0);
            // The counterparty's position (opposite side) closed at `price` instead of the mark.
            let loss = (-self.ledger.book.instruments().get(instrument).value_change(-sign * c.alloc, mark, price)).max(0);
            self.adl_losses[c.account as usize] += loss;
            self.metrics.adl_counterparty_loss += loss;
            haircut += loss;
            self.ledger_record(out, ledger_record::ADL, instrument, account, Some(c.account), price, i128::from(c.alloc));
            done += c.alloc;
        }
        debug_assert_eq!(done, allocated);
        self.metrics.adl_excess += (haircut - shortfall).max(0);
        candidates.clear();
        self.adl = candidates;
        self.metrics.volume.adl += done;
        if done < want {
            self.metrics.adl_exhausted_lots += want - done;
        }
        if let Some(liq) = self.pool[slot].as_mut() {
            liq.remaining -= done;
        }
        if done > 0 {
            self.liquidation_notice(out, slot, liquidation_stage::ADL, price, done);
        }
    }

    /// Splits `want` lots over the positions opposite the liquidated one: weights are
    /// profit × leverage (unrealized PnL × notional ÷ equity), or size when none is in
    /// profit; the [`super::EngineConfig::adl_counterparties`] highest weights share it
    /// (or as many more of the highest as it takes to hold it: the ranked top first,
    /// then the rest of the queue); each share is capped by the position;
    /// flooring leftovers go one lot each by largest remainder (ties: lower account id).
    /// Fills `self.adl`; returns the total allocated (= `want` unless the opposite side
    /// holds fewer lots).
    fn allocate_adl(&mut self, liquidated: AccountId, instrument: InstrumentId, sign: i64, want: i64, mark: i64) -> i64 {
        let cache = &self.adl_cache;
        let fresh = cache.valid
            && cache.instrument == instrument
            && cache.sign == sign
            && self.now.saturating_sub(cache.ranked_ns) < self.config.adl_rank_interval_ns;
        if !fresh {
            self.rank_adl_queue(instrument, sign, mark);
        }
        // The share goes to the `adl_counterparties` highest weights (ties: lower id), or to
        // more when those cannot hold it: spread, yet not a sliver on every account.
        let mut candidates = std::mem::take(&mut self.adl);
        if self.policy.adl != AdlRanking::ProRata {
            // A venue's queue: whole positions in rank order until the shortfall is held.
            self.take_until_held(&mut candidates, liquidated, instrument, sign, mark, want, false);
            if candidates.iter().fold(0i64, |a, c| a.saturating_add(c.cap)) < want {
                self.take_until_held(&mut candidates, liquidated, instrument, sign, mark, want, true);
            }
            let mut left = want;
            for c in candidates.iter_mut() {
                c.alloc = c.cap.min(left);
                left -= c.alloc;
            }
            candidates.sort_unstable_by_key(|c| c.account);
            let total = want - left;
            self.adl = candidates;
            return total;
        }
        let k = self.config.adl_counterparties.max(1);
        self.take_from_queue(&mut candidates, liquidated, instrument, sign, mark, k);
        if candidates.len() < k && self.adl_cache.list.len() > self.adl_cache.top.len() {
            // The ranked top ran out of positions: rank again.
            self.rank_adl_queue(instrument, sign, mark);
            self.take_from_queue(&mut candidates, liquidated, instrument, sign, mark, k);
        }
        let top_cap = candidates.iter().fold(0i64, |a, c| a.saturating_add(c.cap));
        if top_cap < want {
            // Those cannot hold it: as many more of the highest as it takes, from the
            // ranked top, then from every opposite holder.
            self.take_until_held(&mut candidates, liquidated, instrument, sign, mark, want, false);
            if candidates.iter().fold(0i64, |a, c| a.saturating_add(c.cap)) < want {
                self.take_until_held(&mut candidates, liquidated, instrument, sign, mark, want, true);
            }
        }
        candidates.sort_unstable_by_key(|c| c.account);
        let total_cap: i64 = candidates.iter().fold(0i64, |a, c| a.saturating_add(c.cap));
        let target = want.min(total_cap);
        // Water-filling: shares above their cap are fixed at it and the rest re-split.
        loop {
            let fixed_sum: i64 = candidates.iter().filter(|c| c.fixed).map(|c| c.alloc).sum();
            let rest = i128::from(target - fixed_sum);
            let weights: i128 = candidates.iter().filter(|c| !c.fixed).map(|c| i128::from(c.weight)).sum();
            if weights == 0 {
                break;
            }
            let mut changed = false;
            for c in candidates.iter_mut().filter(|c| !c.fixed) {
                let share = rest * i128::from(c.weight);
                let lots = (share / weights) as i64;
                c.remainder = share % weights;
                if lots >= c.cap {
                    c.alloc = c.cap;
                    c.fixed = true;
                    changed = true;
                } else {
                    c.alloc = lots;
                }
            }
            if !changed {
                break;
            }
        }
        let mut left = target - candidates.iter().map(|c| c.alloc).sum::<i64>();
        if left > 0 {
            candidates.sort_unstable_by(|a, b| b.remainder.cmp(&a.remainder).then(a.account.cmp(&b.account)));
            while left > 0 {
                let mut gave = false;
                for c in candidates.iter_mut() {
                    if left == 0 {
                        break;
                    }
                    if c.alloc < c.cap {
                        c.alloc += 1;
                        left -= 1;
                        gave = true;
                    }
                }
                if !gave {
                    break;
                }
            }
            candidates.sort_unstable_by_key(|c| c.account);
        }
        let total = candidates.iter().map(|c| c.alloc).sum();
        self.adl = candidates;
        total
    }

    /// The ADL weight and cap of `id`'s position opposite `sign`, or `None` if it holds none.
    fn adl_score(&self, id: AccountId, instrument: InstrumentId, sign: i64, mark: i64) -> Option<(i64, i64)> {
        let book = &self.ledger.book;
        let p = book.account(id).position(instrument)?;
        if p.size == 0 || p.size.signum() == sign {
            return None;
        }
        if self.policy.adl != AdlRanking::ProRata {
            return self.venue_adl_rank(id, instrument).map(|rank| (rank, p.size.abs()));
        }
        let ins = book.instruments().get(instrument);
        let pnl = p.unrealized(ins, mark);
        let equity = book.health(id, instrument).map_or(0, |h| h.equity).max(1);
        let notional = ins.notional(p.size, mark);
        let weight = if pnl > 0 { (pnl.saturating_mul(notional) / equity).clamp(1, i128::from(i64::MAX / 2)) as i64 } else { 0 };
        Some((weight, p.size.abs()))
    }

    /// A venue's ADL rank of `id`'s position in `instrument` (higher goes first), in 10^-8;
    /// `None` where the venue defines none (no equity).
    fn venue_adl_rank(&self, id: AccountId, instrument: InstrumentId) -> Option<i64> {
        let book = &self.ledger.book;
        let acc = book.account(id);
        let index = acc.positions.iter().position(|q| q.instrument == instrument)?;
        let state = crate::venue_rules::PositionState::of(book.instruments(), book.marks(), acc, index, 0)?;
        let ins = book.instruments().get(instrument);
        let rank = match self.policy.adl {
            AdlRanking::BinanceQueue => crate::venue_rules::binance::adl_sequence_e8(ins, &state)?,
            AdlRanking::HyperliquidQueue => {
                let (num, den) = crate::venue_rules::hyperliquid::adl_index(state.mark, state.size, state.entry_notional, ins.quote_per_tick_lot, state.equity(ins))?;
                num.checked_mul(RATE_SCALE)? / den
            }
            AdlRanking::ProRata => return None,
        };
        Some(rank.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2)) as i64)
    }

    /// Ranks the ADL queue of `instrument`'s holders opposite `sign` at `mark`: weights are
    /// profit × leverage, or size when no position is in profit (then every holder counts;
    /// else only the profitable).
    fn rank_adl_queue(&mut self, instrument: InstrumentId, sign: i64, mark: i64) {
        let mut list = std::mem::take(&mut self.adl_cache.list);
        let mut top = std::mem::take(&mut self.adl_cache.top);
        list.clear();
        top.clear();
        let mut any_profit = false;
        // The opposite side's holders only (a liquidated long meets the shorts).
        for id in self.ledger.book.holders(instrument, sign < 0) {
            let Some((weight, cap)) = self.adl_score(id, instrument, sign, mark) else { continue };
            any_profit |= weight > 0;
            list.push(AdlCandidate { account: id, weight, cap, ..AdlCandidate::default() });
        }
        if self.policy.adl != AdlRanking::ProRata {
            // A venue's queue ranks every holder it can (profitable first); none is dropped.
            any_profit = true;
        } else if !any_profit {
            for c in list.iter_mut() {
                c.weight = c.cap;
            }
        } else {
            list.retain(|c| c.weight > 0);
        }
        let rank = |a: &AdlCandidate, b: &AdlCandidate| b.weight.cmp(&a.weight).then(a.account.cmp(&b.account));
        let n = ADL_QUEUE_TOP.min(list.len());
        if self.policy.adl != AdlRanking::ProRata {
            // A venue's queue is taken in order all the way down: rank all of it.
            list.sort_unstable_by(rank);
        } else if n > 0 && n < list.len() {
            list.select_nth_unstable_by(n - 1, rank);
        }
        top.extend_from_slice(&list[..n]);
        top.sort_unstable_by(rank);
        self.adl_cache = AdlCache { valid: true, ranked_ns: self.now, instrument, sign, any_profit, list, top };
    }

    /// Fills `out` with up to `k` holders of the ranked top of the queue, in rank order.
    fn take_from_queue(&self, out: &mut Vec<AdlCandidate>, liquidated: AccountId, instrument: InstrumentId, sign: i64, mark: i64, k: usize) {
        out.clear();
        for c in &self.adl_cache.top {
            if out.len() >= k {
                break;
            }
            if let Some(current) = self.current_candidate(c.account, liquidated, instrument, sign, mark) {
                out.push(current);
            }
        }
    }

    /// Fills `out` with holders in rank order (the ranked top, or with `everyone` the whole
    /// queue, in no particular order beyond the top) until their positions hold `want`.
    #[allow(clippy::too_many_arguments)]
    fn take_until_held(&self, out: &mut Vec<AdlCandidate>, liquidated: AccountId, instrument: InstrumentId, sign: i64, mark: i64, want: i64, everyone: bool) {
        out.clear();
        let cache = &self.adl_cache;
        let source = if everyone { &cache.list } else { &cache.top };
        let mut held = 0i64;
        for c in source {
            if held >= want {
                break;
            }
            if let Some(current) = self.current_candidate(c.account, liquidated, instrument, sign, mark) {
                held = held.saturating_add(current.cap);
                out.push(current);
            }
        }
    }

    /// A holder of the queue with its current weight and position, or `None` when it no
    /// longer qualifies (flat, flipped, out of profit, or the liquidated account).
    fn current_candidate(&self, account: AccountId, liquidated: AccountId, instrument: InstrumentId, sign: i64, mark: i64) -> Option<AdlCandidate> {
        if account == liquidated {
            return None;
        }
        let (weight, cap) = self.adl_score(account, instrument, sign, mark)?;
        if self.policy.adl != AdlRanking::ProRata {
            return Some(AdlCandidate { account, weight, cap, ..AdlCandidate::default() });
        }
        let weight = if self.adl_cache.any_profit { weight } else { cap };
        (weight > 0).then_some(AdlCandidate { account, weight, cap, ..AdlCandidate::default() })
    }

    /// A flat unit left with a negative balance: the fund covers it, the rest is bad debt.
    pub(crate) fn settle_flat_deficit(&mut self, account: AccountId, instrument: InstrumentId, out: &mut impl OutputSink) {
        self.risk_events.clear();
        let (draw, bad) = self.ledger.settle_flat_deficit(account, instrument, &mut self.risk_events);
        if draw > 0 {
            self.metrics.fund_draws += draw;
            self.ledger_record(out, ledger_record::FUND_DRAW, instrument, account, None, 0, draw);
        }
        if bad > 0 {
            self.ledger_record(out, ledger_record::BAD_DEBT, instrument, account, None, 0, bad);
        }
    }

    /// Fee on `notional` at `rate` (RATE_SCALE parts): charges round up, rebates toward zero.
    pub(crate) fn fee(notional: i128, rate: i128) -> i128 {
        let n = notional.saturating_mul(rate);
        if n >= 0 {
            crate::risk::decimal::div_ceil(n, RATE_SCALE)
        } else {
            n / RATE_SCALE
        }
    }
}
