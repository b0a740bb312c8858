//! A liquidation is state that advances with the event stream: it is started
//! by a mark that crosses the account, then walks the policy's waterfall
//! (own book → auction → routed intents, in the policy's order) as events
//! arrive, and ends by escalation (backstop vault, then ADL of exactly the
//! shortfall) or by retrying after a cooldown. Timers are event times: an
//! auction steps and expires, an intent round times out, a slice waits for
//! the books to refill — all when an input event carries the engine past the
//! due time.

use gavel_feeds::wire::{liquidation_stage, AuctionNotice, EventKind, LiquidationNotice, Side, Venue};

use super::output::{build, Header};
use super::policy::Stage;
use super::{Engine, OutputSink};
use crate::auction::dutch::Auction;
use crate::auction::events::{EventSink, ExecutionEvent};
use crate::auction::lot::LotSide;
use crate::risk::account::MarginMode;
use crate::risk::{liquidation, margin, AccountId, InstrumentId};

/// Where a liquidation is inside its current stage.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// About to run the current stage.
    Ready,
    /// An auction is open; its timer steps the price.
    AuctionRunning,
    /// Intents of a round are out; the timer is their timeout.
    RouteWaiting,
    /// Between two rounds; the timer ends the wait.
    RouteSleeping,
}

/// One liquidation in progress.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Liquidation {
    /// Unique id (also the auction id on the wire, low 32 bits).
    pub id: u64,
    /// Liquidated account.
    pub account: AccountId,
    /// Instrument of the position.
    pub instrument: InstrumentId,
    /// +1 when a long is sold, −1 when a short is bought back.
    pub sign: i64,
    /// Lots planned at the trigger.
    pub planned: i64,
    /// Lots still to close.
    pub remaining: i64,
    /// Bankruptcy price at the trigger, ticks.
    pub bankruptcy: Option<i64>,
    /// Mark at the trigger, ticks (the current one is the risk book's).
    pub mark: i64,
    /// Penalty rate, RATE_SCALE parts.
    pub penalty_rate: i128,
    /// Planned as a full close.
    pub full_close: bool,
    /// Worst price of the liquidation's orders set by a venue's rules (`None`: the
    /// bankruptcy price in the own book; the route's own limit).
    pub rule_limit: Option<i64>,
    /// Index of the current stage in the policy's list.
    pub stage: usize,
    pub(crate) phase: Phase,
    pub(crate) auction: Option<Auction>,
    pub(crate) open_intents: u32,
    pub(crate) round: u32,
    /// Worst price the current round's intents accept, ticks.
    pub(crate) intent_limit: i64,
    /// Lots filled by the current attempt (zero-fill accounting).
    pub(crate) attempt_filled: i64,
    /// Event time it started.
    pub started_ns: i64,
    /// A pre-emptive reduction on a margin call, not (yet) a liquidation: no penalty, no
    /// auction, limited at the liquidation price (`rule_limit`), ends without escalation.
    #[serde(default)]
    pub preemptive: bool,
    /// Its auction was stopped because the market ran away ([`super::EnginePolicy::auction_abort_bps`]):
    /// the whole position, no further auction, the route in one market round across venues
    /// ([`super::EnginePolicy::route_for`]).
    #[serde(default)]
    pub auction_stopped: bool,
    /// Event time of the first mark past the auction stop in the current run of such marks
    /// (`None`: the last mark was within it).
    #[serde(default)]
    pub(crate) stop_seen_ns: Option<i64>,
}

impl Liquidation {
    /// A liquidation of `qty` lots (`sign` as in [`Liquidation::sign`]) not yet run: at its
    /// first stage, no auction, no intents out; the plan's price fields are the caller's.
    fn fresh(id: u64, account: AccountId, instrument: InstrumentId, sign: i64, qty: i64, started_ns: i64) -> Self {
        Self {
            id,
            account,
            instrument,
            sign,
            planned: qty,
            remaining: qty,
            bankruptcy: None,
            mark: 0,
            penalty_rate: 0,
            full_close: false,
            rule_limit: None,
            stage: 0,
            phase: Phase::Ready,
            auction: None,
            open_intents: 0,
            round: 0,
            intent_limit: 0,
            attempt_filled: 0,
            started_ns,
            preemptive: false,
            auction_stopped: false,
            stop_seen_ns: None,
        }
    }

    /// The side of the closing order.
    pub fn close_side(&self) -> Side {
        if self.sign > 0 {
            Side::Ask
        } else {
            Side::Bid
        }
    }

    pub(crate) fn lot_side(&self) -> LotSide {
        if self.sign > 0 {
            LotSide::Sell
        } else {
            LotSide::Buy
        }
    }
}

/// Discards the auction module's own step events (the engine emits its own notices).
pub(crate) struct Discard;

impl EventSink for Discard {
    fn emit(&mut self, _event: ExecutionEvent) {}
}

impl Engine {
    pub(crate) fn liquidation_notice(&self, out: &mut impl OutputSink, liq_slot: usize, stage: u8, price: i64, qty: i64) {
        let Some(liq) = self.pool[liq_slot].as_ref() else { return };
        out.emit(&build(
            self.now,
            Header {
                kind: EventKind::LiquidationUpdate,
                venue: Venue::Gavel,
                side: liq.close_side(),
                flags: stage,
                instrument: u32::from(liq.instrument),
                sequence: liq.id,
            },
            LiquidationNotice { account: crate::risk::account::account_to_wire(liq.account), price, qty },
        ));
    }

    pub(crate) fn auction_notice(&self, out: &mut impl OutputSink, liq_slot: usize, code: u8, price: i64) {
        let Some(liq) = self.pool[liq_slot].as_ref() else { return };
        // Liquidators take the opposite side of the close: they buy what a sale offers.
        out.emit(&build(
            self.now,
            Header {
                kind: EventKind::AuctionUpdate,
                venue: Venue::Gavel,
                side: liq.close_side().opposite(),
                flags: code,
                instrument: u32::from(liq.instrument),
                sequence: liq.id,
            },
            AuctionNotice { account: crate::risk::account::account_to_wire(liq.account), price, remaining: liq.remaining },
        ));
    }

    /// Starts a liquidation of `account`, found crossed by `instrument`'s mark, unless one
    /// is in progress or the account is cooling down after a failed episode. A portfolio
    /// account's leg is chosen by [`Engine::liquidation_leg`].
    pub(crate) fn maybe_start_liquidation(&mut self, account: AccountId, instrument: InstrumentId, out: &mut impl OutputSink) {
        let state = self.accounts[account as usize];
        if state.active != 0 {
            self.upgrade_preemptive(account, state.active, out);
            return;
        }
        if self.now < state.retry_at {
            return;
        }
        if Some(account) == self.config.backstop_account {
            // The vault is the last resort; its losses are measured, not liquidated.
            return;
        }
        self.cancel_all_orders(account, out);
        // A portfolio account closes its best leg first, whichever mark found it.
        let instrument = self.liquidation_leg(account, instrument);
        let Some((request, rule_limit)) = self.liquidation_request(account, instrument) else { return };
        let Some((slot, id)) = self.claim_slot() else { return };
        self.pool[slot] = Some(Liquidation {
            bankruptcy: request.bankruptcy_price,
            mark: request.mark,
            penalty_rate: request.penalty_rate,
            full_close: request.full_close,
            rule_limit,
            // Already below the escalation threshold: straight to the backstop and ADL.
            stage: if self.below_escalation(account, instrument) { self.policy.stages.len() } else { 0 },
            ..Liquidation::fresh(id, account, instrument, request.position_size.signum(), request.qty, self.now)
        });
        self.accounts[account as usize].active = id;
        self.active_count += 1;
        self.count_liquidation_start(slot);
        self.liquidation_notice(out, slot, liquidation_stage::TRIGGERED, request.mark, request.qty);
        self.advance(slot, out);
    }

    /// How much of `account`'s position in `instrument` to liquidate now, at what penalty,
    /// and the venue rule's limit; `None` when it is not to be liquidated.
    fn liquidation_request(&self, account: AccountId, instrument: InstrumentId) -> Option<(liquidation::LiquidationRequest, Option<i64>)> {
        let mark = self.ledger.book.mark(instrument)?;
        let base_rate = self.penalty_rate(usize::from(instrument), mark, 0);
        let mut request = liquidation::plan(&self.ledger.book, account, instrument, &self.policy.liquidation, base_rate)?;
        let mut rule_limit = None;
        if let Some(rules) = self.policy.rules.as_ref() {
            // The venue's own decision: whether, how much, at what worst price.
            let state = self.accounts[account as usize];
            let book = &self.ledger.book;
            let acc = book.account(account);
            let since = if state.arrival_mark != 0 { self.now.saturating_sub(state.arrival_ns) } else { 0 };
            let decision = acc
                .positions
                .iter()
                .position(|p| p.instrument == instrument && p.size != 0)
                .and_then(|index| crate::venue_rules::PositionState::of(book.instruments(), book.marks(), acc, index, since))
                .map(|ps| rules.decide(book.instruments().get(instrument), &ps));
            let decision = decision.filter(|d| d.liquidatable && d.size_to_liquidate > 0)?;
            let abs = request.position_size.abs();
            request.qty = decision.size_to_liquidate.min(abs);
            request.full_close = request.qty == abs;
            rule_limit = decision.limit_price.filter(|p| *p > 0);
        }
        if !self.policy.partial {
            request.qty = request.position_size.abs();
            request.full_close = true;
        }
        request.penalty_rate = self.penalty_rate(usize::from(instrument), mark, request.qty);
        Some((request, rule_limit))
    }

    /// A free pool slot, its id reserved (a slot's index is its id mod capacity, so lookups
    /// by id need no map); `None` (counted) when the pool is full.
    fn claim_slot(&mut self) -> Option<(usize, u64)> {
        let len = self.pool.len() as u64;
        for id in (self.next_liquidation_id..).take(len as usize) {
            if self.pool[(id % len) as usize].is_none() {
                self.next_liquidation_id = id + 1;
                return Some(((id % len) as usize, id));
            }
        }
        self.metrics.pool_full += 1;
        None
    }

    /// The bookkeeping of a liquidation episode starting in `slot` (new, or a pre-emptive
    /// reduction that became one): cascade depth, arrival mark, counters, the call it followed.
    fn count_liquidation_start(&mut self, slot: usize) {
        let Some(liq) = self.pool[slot].as_ref() else { return };
        let (account, instrument, mark, full) = (liq.account, liq.instrument, liq.mark, liq.full_close);
        let i = usize::from(instrument);
        let depth = if self.now.saturating_sub(self.last_liquidation_fill_ns[i]) <= self.config.cascade_window_ns {
            self.cascade[i] + 1
        } else {
            1
        };
        self.cascade[i] = depth;
        self.metrics.cascade_depth = self.metrics.cascade_depth.max(depth);
        let st = &mut self.accounts[account as usize];
        if st.arrival_mark == 0 {
            st.arrival_mark = mark;
            st.arrival_instrument = instrument;
            st.arrival_ns = self.now;
        }
        if !st.touched {
            st.touched = true;
            self.metrics.accounts_touched += 1;
            let book = &self.ledger.book;
            let health = match book.account(account).mode {
                MarginMode::Cross => book.account_health(account),
                MarginMode::Isolated => book.health(account, instrument),
            };
            if let Some(h) = health.filter(|h| h.equity < 0) {
                self.metrics.deficit_at_first_trigger = self.metrics.deficit_at_first_trigger.saturating_sub(h.equity);
            }
        }
        self.metrics.liquidations += 1;
        self.note_call_before_liquidation(account);
        if full {
            self.metrics.full_closes += 1;
        }
    }

    /// On a margin call with the policy's `preempt_per_mille`: starts closing that share of
    /// `account`'s position in `instrument`, limited at the position's liquidation price,
    /// without penalty, through the own book and routes. Not started for the backstop
    /// vault, an account already in an episode, or a position without a liquidation price.
    pub(crate) fn start_preemptive(&mut self, account: AccountId, instrument: InstrumentId, out: &mut impl OutputSink) {
        let per_mille = i64::from(self.policy.preempt_per_mille);
        if per_mille == 0 || self.accounts[account as usize].active != 0 || Some(account) == self.config.backstop_account {
            return;
        }
        let book = &self.ledger.book;
        let acc = book.account(account);
        let Some(index) = acc.positions.iter().position(|p| p.instrument == instrument && p.size != 0) else { return };
        let size = acc.positions[index].size;
        let Some(limit) = margin::position_trigger(book.instruments(), book.marks(), acc, index).and_then(|t| t.price()) else { return };
        let Some(mark) = book.mark(instrument) else { return };
        let bankruptcy = margin::position_bankruptcy(book.instruments(), book.marks(), acc, index);
        // At least one lot; `per_mille ≤ 1000` keeps the product within the position.
        let qty = (i128::from(size.abs()) * i128::from(per_mille) / 1000).max(1) as i64;
        let Some((slot, id)) = self.claim_slot() else { return };
        // The client's resting orders stay: it is not being liquidated.
        self.pool[slot] = Some(Liquidation {
            bankruptcy,
            mark,
            full_close: qty == size.abs(),
            rule_limit: Some(limit.max(1)),
            preemptive: true,
            ..Liquidation::fresh(id, account, instrument, size.signum(), qty, self.now)
        });
        self.accounts[account as usize].active = id;
        self.active_count += 1;
        self.metrics.preemptive_reductions += 1;
        self.liquidation_notice(out, slot, liquidation_stage::PREEMPTIVE, mark, qty);
        self.advance(slot, out);
    }

    /// A liquidation trigger for an account whose episode `active` is a pre-emptive reduction:
    /// the reduction becomes the liquidation, in place (its orders in flight stay), re-planned
    /// at the current marks with the policy's penalty and limits.
    fn upgrade_preemptive(&mut self, account: AccountId, active: u64, out: &mut impl OutputSink) {
        let slot = (active % self.pool.len() as u64) as usize;
        let Some(liq) = self.pool[slot].as_ref().filter(|l| l.preemptive && l.id == active) else { return };
        let Some((request, rule_limit)) = self.liquidation_request(account, liq.instrument) else { return };
        if request.position_size.signum() != liq.sign {
            return;
        }
        let escalate = self.below_escalation(account, liq.instrument);
        let stages = self.policy.stages.len();
        if let Some(l) = self.pool[slot].as_mut() {
            l.preemptive = false;
            l.planned = request.qty;
            l.remaining = request.qty;
            l.bankruptcy = request.bankruptcy_price;
            l.mark = request.mark;
            l.penalty_rate = request.penalty_rate;
            l.full_close = request.full_close;
            l.rule_limit = rule_limit;
            if escalate {
                l.stage = l.stage.max(stages);
            }
        }
        self.metrics.preemptive_upgraded += 1;
        self.count_liquidation_start(slot);
        self.liquidation_notice(out, slot, liquidation_stage::TRIGGERED, request.mark, request.qty);
    }

    /// The penalty rate for closing `lots` of `instrument` at `mark`.
    pub(crate) fn penalty_rate(&self, instrument: usize, mark: i64, lots: i64) -> i128 {
        if let crate::risk::penalty::PenaltyPolicy::Static { rate } = self.policy.penalty {
            // Nothing to measure: no volatility, no depth walk.
            return rate;
        }
        let sigma = self.vols[instrument].sigma_over(3_600_000_000_000);
        let band = i128::from(mark) * i128::from(self.config.penalty_depth_band_bps) / 10_000;
        let n = self.instrument_count();
        let mut depth = 0i64;
        for v in 0..self.config.venues.len() {
            let mirror = &self.mirrors[v * n + instrument];
            for side in [Side::Bid, Side::Ask] {
                depth = depth.saturating_add(
                    (0..)
                        .map_while(|k| crate::auction::depth::DepthView::level(mirror, side, k))
                        .take_while(|l| i128::from((l.0 - mark).abs()) <= band)
                        .fold(0i64, |acc, l| acc.saturating_add(l.1)),
                );
            }
        }
        self.policy.penalty.rate(sigma, lots, (depth / 2).max(1))
    }

    /// Lots of the position still open on the liquidated side (0 if it flipped or closed).
    pub(crate) fn open_lots(&self, slot: usize) -> i64 {
        let Some(liq) = self.pool[slot].as_ref() else { return 0 };
        let size = self.ledger.book.account(liq.account).position(liq.instrument).map_or(0, |p| p.size);
        if size.signum() == liq.sign {
            size.abs()
        } else {
            0
        }
    }

    /// Runs stages until one has to wait for events, or the liquidation ends.
    pub(crate) fn advance(&mut self, slot: usize, out: &mut impl OutputSink) {
        loop {
            let open = self.open_lots(slot);
            let Some(liq) = self.pool[slot].as_mut() else { return };
            liq.remaining = liq.remaining.min(open);
            if liq.remaining == 0 {
                self.finish(slot, out);
                return;
            }
            let Some(stage) = self.policy.stages.get(liq.stage).copied() else {
                self.end_of_stages(slot, out);
                return;
            };
            liq.phase = Phase::Ready;
            liq.attempt_filled = 0;
            let waiting = match stage {
                Stage::OwnBook => {
                    self.run_own_book(slot, out);
                    false
                }
                // A pre-emptive reduction sells no discount to liquidators; a stopped auction is not restarted.
                Stage::Auction if self.pool[slot].as_ref().is_some_and(|l| l.preemptive || l.auction_stopped) => false,
                Stage::Auction => self.start_auction(slot, out),
                Stage::Route => {
                    if let Some(l) = self.pool[slot].as_mut() {
                        l.round = 0;
                    }
                    self.send_route_round(slot, out)
                }
            };
            if waiting {
                return;
            }
            if let Some(l) = self.pool[slot].as_mut() {
                l.stage += 1;
            }
        }
    }

    /// Counts an attempt as filled or zero-fill and says so on the output.
    pub(crate) fn close_attempt(&mut self, slot: usize, tried: i64, out: &mut impl OutputSink) {
        let Some(liq) = self.pool[slot].as_ref() else { return };
        // A pre-emptive reduction's attempts are not liquidation attempts: not counted.
        let counted = !liq.preemptive;
        if liq.attempt_filled == 0 {
            self.metrics.zero_fill_attempts += u64::from(counted);
            self.liquidation_notice(out, slot, liquidation_stage::ZERO_FILL, 0, tried);
        } else {
            self.metrics.filled_attempts += u64::from(counted);
        }
        if let Some(liq) = self.pool[slot].as_mut() {
            liq.attempt_filled = 0;
        }
    }

    /// A liquidation's timer fired.
    pub(crate) fn on_liquidation_timer(&mut self, slot: usize, out: &mut impl OutputSink) {
        let Some(liq) = self.pool[slot].as_mut() else { return };
        match liq.phase {
            Phase::AuctionRunning => self.auction_tick(slot, out),
            Phase::RouteWaiting => {
                // The intents of this round timed out; fills arriving later are stale.
                liq.open_intents = 0;
                self.route_round_done(slot, out);
            }
            Phase::RouteSleeping => {
                if !self.send_route_round(slot, out) {
                    self.next_stage(slot, out);
                }
            }
            Phase::Ready => self.advance(slot, out),
        }
    }

    pub(crate) fn next_stage(&mut self, slot: usize, out: &mut impl OutputSink) {
        if let Some(liq) = self.pool[slot].as_mut() {
            liq.stage += 1;
            liq.phase = Phase::Ready;
        }
        self.advance(slot, out);
    }

    /// After the last stage: retry later, or escalate to the backstop and ADL.
    fn end_of_stages(&mut self, slot: usize, out: &mut impl OutputSink) {
        let Some(liq) = self.pool[slot].as_ref() else { return };
        if liq.preemptive {
            // What a reduction could not close stays open; the account is not liquidatable.
            self.finish(slot, out);
            return;
        }
        let (account, instrument) = (liq.account, liq.instrument);
        let ran_away = liq.auction_stopped && self.policy.escalate_when_stopped;
        let state = &mut self.accounts[account as usize];
        state.attempts = state.attempts.saturating_add(1);
        let attempts = state.attempts;
        let bankrupt = self.ledger.book.health(account, instrument).is_some_and(|h| h.equity <= 0);
        if bankrupt || ran_away || self.below_escalation(account, instrument) || attempts >= self.policy.max_attempts {
            if self.policy.backstop {
                self.backstop(slot, out);
            }
            let open = self.open_lots(slot);
            if let Some(l) = self.pool[slot].as_mut() {
                l.remaining = l.remaining.min(open);
            }
            if self.pool[slot].as_ref().is_some_and(|l| l.remaining > 0) {
                self.auto_deleverage(slot, out);
            }
        }
        self.finish(slot, out);
    }

    /// Equity below the policy's escalation share of maintenance (never when it has none).
    fn below_escalation(&self, account: AccountId, instrument: InstrumentId) -> bool {
        let ppm = i128::from(self.policy.escalate_below_maintenance_ppm);
        ppm > 0
            && self.ledger.book.health(account, instrument).is_some_and(|h| {
                h.equity.saturating_mul(crate::risk::instrument::RATE_SCALE).saturating_mul(1_000_000) < ppm.saturating_mul(h.maintenance_scaled)
            })
    }

    /// Ends a liquidation: settles a flat negative balance (fund, then bad debt), records
    /// solvency, and sets the retry time if the account is still liquidatable.
    pub(crate) fn finish(&mut self, slot: usize, out: &mut impl OutputSink) {
        let Some(liq) = self.pool[slot].as_ref() else { return };
        let (account, instrument, remaining, preemptive) = (liq.account, liq.instrument, liq.remaining, liq.preemptive);
        self.liquidation_notice(out, slot, liquidation_stage::DONE, 0, remaining);
        self.timers.cancel(slot);
        self.unlist_running_auction(slot);
        self.pool[slot] = None;
        self.active_count -= 1;
        self.settle_flat_deficit(account, instrument, out);
        let solvent = self.ledger.book.health(account, instrument).is_none_or(|h| !h.liquidatable());
        let retry_after = self.policy.retry_after_ns;
        let now = self.now;
        let st = &mut self.accounts[account as usize];
        st.active = 0;
        if preemptive {
            // Not an episode: no solvency record, no retry delay (a trigger may follow at once).
        } else if solvent {
            if st.arrival_mark != 0 {
                let elapsed = (now - st.arrival_ns).max(1) as u64;
                let _ = self.time_to_solvency.record(elapsed.min(3_600_000_000_000));
                self.metrics.solvent_again += 1;
            }
            st.arrival_mark = 0;
            st.attempts = 0;
        } else {
            st.retry_at = now.saturating_add(retry_after);
        }
        self.note_fund();
    }
}
