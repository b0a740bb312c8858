//! Policy replay: the engine handler that runs a liquidation policy over a
//! replayed market and measures what it cost.
//!
//! Per venue and instrument it mirrors the book from `BookLevel` events and
//! keeps an impact [`ShadowBook`](crate::impact::ShadowBook) over it. The mark
//! comes from the risk engine's oracle fed with each venue's mid, taken from
//! the *impact-adjusted* book when feedback is on, so a liquidation that
//! sweeps a book moves the mark and can trigger the next one (an endogenous
//! cascade). Every `mark_interval_ns` of event time the mark is recomputed;
//! the risk engine's trigger index returns the crossed accounts and plans the
//! close (partial or full, per policy); the execution crate runs the lot
//! (`run_lot`: naive, auction with simulated liquidators, slicing, or the
//! route choice) against the impact-adjusted books; the liquidity it took is
//! recorded in the shadows, which recover with the resilience half-life; and
//! the risk ledger settles the fills (penalty to the insurance fund, fund
//! backing below bankruptcy, exact-shortfall ADL, bad debt).
//!
//! Simplification, documented in `docs/SIMULATION.md`: a lot executes to
//! completion at its trigger (its auction or slices run on their own clock
//! against the books as they were at the trigger, without refills inside the
//! lot); the replayed market then moves on with the lot's impact in place.
//! What a lot could not place stays in the position and is retried at the
//! next mark, against the replayed book as it refills.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use gavel_feeds::clock::Clock;
use gavel_feeds::wire::{Event, EventKind, Side, Venue};

use crate::auction::backstop::BackstopVault;
use crate::auction::depth::{DepthView, L2Book};
use crate::auction::events::{ExecutionEvent, Route};
use crate::auction::liquidator::{LiquidatorConfig, SimLiquidator};
use crate::auction::lot::{LiquidationLot, LotSide};
use crate::auction::policy::{InstrumentPolicy, RouteMode};
use crate::auction::sim::{run_lot, Market};
use crate::engine_loop::EventHandler;
use crate::impact::ShadowBook;
use crate::latency::StageHistogram;
use crate::outcome::OutcomeRecorder;
use crate::risk::ledger::LiquidationFill;
use crate::risk::liquidation::{on_mark, LiquidationParams, LiquidationRequest};
use crate::risk::oracle::{MarkOracle, OracleConfig, VenueQuote};
use crate::risk::penalty::{penalty_amount, PenaltyPolicy};
use crate::risk::volatility::RealizedVol;
use crate::risk::{AccountId, InstrumentId, Ledger, RiskEvent};

/// A liquidation policy: what to close, what to charge, how to execute, which mark.
#[derive(Clone, Debug, PartialEq)]
pub struct LiquidationPolicy {
    /// Name shown in reports.
    pub name: String,
    /// Close only what restores the margin (true) or the whole position (false).
    pub partial: bool,
    /// Penalty rule.
    pub penalty: PenaltyPolicy,
    /// Execution route: automatic choice or a forced route.
    pub route: RouteMode,
    /// Mark EMA half-life in event time, ns (0 = the raw median of venues).
    pub oracle_half_life_ns: u64,
    /// Partial-liquidation buffer and full-close threshold.
    pub liquidation: LiquidationParams,
}

/// The built-in policy names, in comparison order.
pub const BUILTIN_POLICIES: [&str; 5] = ["naive", "partial", "auction", "sliced", "adaptive"];

impl LiquidationPolicy {
    /// A built-in policy by name (see [`BUILTIN_POLICIES`]).
    ///
    /// - `naive`: close everything at once at market on the deepest venue, fixed 0.3 % penalty, raw mark.
    /// - `partial`: the minimal partial close, otherwise as naive.
    /// - `auction`: partial close through a Dutch auction among simulated liquidators.
    /// - `sliced`: partial close in impact-limited slices across venues.
    /// - `adaptive`: partial close, route chosen by expected value lost, dynamic
    ///   penalty (0.15 % + volatility and size terms, capped at 0.35 %), and the
    ///   oracle's outlier band and quorum breaker. Its mark is not EMA-smoothed:
    ///   in the crash scenarios a smoothed mark lags the fall, triggers late and
    ///   closes below bankruptcy (measured in `docs/RESULTS.md`); a policy file can
    ///   set `oracle_half_life_ms`.
    ///
    /// A partial close can only restore an account when the penalty rate is
    /// below the maintenance rate × (1 + buffer) (0.4 % × 1.1 in the first
    /// BTC bracket): above it, each lot closed costs more equity than the
    /// margin it frees, and the risk engine closes the whole position instead.
    pub fn builtin(name: &str) -> Option<Self> {
        let fixed = PenaltyPolicy::Static { rate: 300_000 };
        let base = LiquidationPolicy {
            name: name.to_string(),
            partial: true,
            penalty: fixed,
            route: RouteMode::Force(Route::Naive),
            oracle_half_life_ns: 0,
            liquidation: LiquidationParams::default(),
        };
        Some(match name {
            "naive" => LiquidationPolicy { partial: false, ..base },
            "partial" => base,
            "auction" => LiquidationPolicy { route: RouteMode::Force(Route::Auction), ..base },
            "sliced" => LiquidationPolicy { route: RouteMode::Force(Route::Slicing), ..base },
            "adaptive" => LiquidationPolicy {
                penalty: PenaltyPolicy::Dynamic { base: 150_000, vol_coef: 0.5, depth_coef: 0.01, cap: 350_000 },
                route: RouteMode::Auto,
                ..base
            },
            _ => return None,
        })
    }
}

/// Replay settings shared by every policy in a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayConfig {
    /// Venues in oracle-input order; events from other venues are counted and ignored.
    pub venues: Vec<Venue>,
    /// Insurance fund at the start, quote units.
    pub fund_seed: i128,
    /// Feed our own impact back into the mark (endogenous cascades).
    pub impact_feedback: bool,
    /// Half-life of consumed liquidity, ns of event time.
    pub resilience_half_life_ns: i64,
    /// How often the mark is recomputed and the trigger checked, ns of event time.
    pub mark_interval_ns: i64,
    /// Time a lot has before the backstop or ADL, ns.
    pub lot_deadline_ns: i64,
    /// Clock step of auctions and slicing inside a lot, ns.
    pub lot_step_ns: i64,
    /// Oracle staleness limit, ns.
    pub oracle_staleness_ns: u64,
    /// Oracle outlier band, bps.
    pub oracle_outlier_bps: i64,
    /// Fewest fresh venues for a mark that may liquidate.
    pub oracle_quorum: u8,
    /// The simulated liquidators.
    pub liquidators: Vec<LiquidatorConfig>,
    /// Band around the mark within which depth counts for the dynamic penalty, bps.
    pub penalty_depth_band_bps: i64,
}

impl ReplayConfig {
    /// Defaults for `venues`: 1 % impact half-life of 5 s, marks every 100 ms,
    /// 60 s lot deadline, three liquidators of different speed, capital and margin.
    pub fn for_venues(venues: Vec<Venue>) -> Self {
        let quorum = venues.len().clamp(1, 2) as u8;
        ReplayConfig {
            venues,
            fund_seed: 0,
            impact_feedback: true,
            resilience_half_life_ns: 5_000_000_000,
            mark_interval_ns: 100_000_000,
            lot_deadline_ns: 60_000_000_000,
            lot_step_ns: 250_000_000,
            oracle_staleness_ns: 5_000_000_000,
            oracle_outlier_bps: 300,
            oracle_quorum: quorum,
            liquidators: vec![
                LiquidatorConfig { id: 1, latency_ns: 50_000_000, capital: 2_000_000_000_000, margin_bps: 8 },
                LiquidatorConfig { id: 2, latency_ns: 200_000_000, capital: 10_000_000_000_000, margin_bps: 15 },
                LiquidatorConfig { id: 3, latency_ns: 1_000_000_000, capital: 50_000_000_000_000, margin_bps: 30 },
            ],
            penalty_depth_band_bps: 50,
        }
    }
}

/// One venue's books (one per instrument) and their impact shadows.
struct VenueBooks {
    mirrors: Vec<L2Book>,
    shadows: Vec<ShadowBook>,
}

/// Time series kept for the report.
#[derive(Clone, Debug, Default)]
pub struct ReplaySeries {
    /// `(event time, mark)` at every mark recomputation, ticks.
    pub mark: Vec<(i64, i64)>,
    /// `(event time, average fill price)` of every liquidation, ticks.
    pub liquidations: Vec<(i64, i64)>,
    /// `(event time, balance)` of the insurance fund after every liquidation, quote units.
    pub insurance_fund: Vec<(i64, i128)>,
}

/// The engine handler that replays one policy.
pub struct PolicyReplay {
    policy: LiquidationPolicy,
    config: ReplayConfig,
    ledger: Ledger,
    venues: Vec<VenueBooks>,
    oracles: Vec<MarkOracle>,
    raw_oracles: Vec<MarkOracle>,
    vols: Vec<RealizedVol>,
    exec: Vec<InstrumentPolicy>,
    liquidators: Vec<SimLiquidator>,
    vault: BackstopVault,
    next_mark_ns: Vec<i64>,
    next_lot_id: u32,
    last_cascade_depth: Vec<u32>,
    first_trigger_ns: BTreeMap<AccountId, i64>,
    liquidated: BTreeSet<AccountId>,
    crossed: Vec<AccountId>,
    requests: Vec<LiquidationRequest>,
    risk_events: Vec<RiskEvent>,
    raw_oracle_events: Vec<RiskEvent>,
    exec_events: Vec<ExecutionEvent>,
    clock: Clock,
    /// Outcome metrics so far.
    pub outcome: OutcomeRecorder,
    /// Report series so far.
    pub series: ReplaySeries,
    /// The journal: one line per mark exclusion, liquidation, settlement and ADL, deterministic.
    pub journal: String,
    /// Events ignored because their venue or instrument is not in the replay.
    pub ignored_events: u64,
    mark_to_trigger: StageHistogram,
    trigger_to_order: StageHistogram,
}

impl PolicyReplay {
    /// A replay of `policy` over the accounts in `ledger`.
    pub fn new(policy: LiquidationPolicy, config: ReplayConfig, ledger: Ledger, clock: Clock) -> Self {
        let instruments = ledger.book.instruments().len();
        let venue_count = config.venues.len();
        let oracle_config = |half_life_ns| OracleConfig {
            venues: venue_count as u8,
            staleness_ns: config.oracle_staleness_ns,
            outlier_band_bps: config.oracle_outlier_bps,
            quorum: config.oracle_quorum,
            half_life_ns,
        };
        let exec = (0..instruments)
            .map(|i| {
                let mult = ledger.book.instruments().get(i as InstrumentId).quote_per_tick_lot;
                InstrumentPolicy {
                    instrument: i as u32,
                    contract_multiplier: i64::try_from(mult).unwrap_or(i64::MAX),
                    route: policy.route,
                    ..InstrumentPolicy::default()
                }
            })
            .collect();
        let fund = ledger.fund.balance();
        PolicyReplay {
            outcome: OutcomeRecorder::new(policy.name.clone(), fund),
            venues: config
                .venues
                .iter()
                .map(|&v| VenueBooks {
                    mirrors: (0..instruments).map(|_| L2Book::new(v)).collect(),
                    shadows: (0..instruments).map(|_| ShadowBook::new(config.resilience_half_life_ns)).collect(),
                })
                .collect(),
            oracles: (0..instruments)
                .map(|i| MarkOracle::new(i as InstrumentId, oracle_config(policy.oracle_half_life_ns)))
                .collect(),
            raw_oracles: (0..instruments).map(|i| MarkOracle::new(i as InstrumentId, oracle_config(0))).collect(),
            vols: (0..instruments).map(|_| RealizedVol::new(60_000_000_000, 0.0)).collect(),
            exec,
            liquidators: config.liquidators.iter().map(|&c| SimLiquidator::new(c)).collect(),
            vault: BackstopVault::new(),
            next_mark_ns: vec![i64::MIN; instruments],
            next_lot_id: 1,
            last_cascade_depth: vec![0; instruments],
            first_trigger_ns: BTreeMap::new(),
            liquidated: BTreeSet::new(),
            crossed: Vec::with_capacity(1024),
            requests: Vec::with_capacity(1024),
            risk_events: Vec::with_capacity(1024),
            raw_oracle_events: Vec::with_capacity(64),
            exec_events: Vec::with_capacity(1024),
            clock,
            series: ReplaySeries::default(),
            journal: String::with_capacity(1 << 16),
            ignored_events: 0,
            mark_to_trigger: StageHistogram::new("mark_update_to_trigger"),
            trigger_to_order: StageHistogram::new("trigger_to_first_order"),
            policy,
            config,
            ledger,
        }
    }

    /// The risk ledger (accounts, fund, bad debt).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Finishes the run: equity kept by liquidated accounts at the last mark,
    /// the conservation check, and the two engine-side latency stages.
    pub fn finish(mut self) -> (OutcomeRecorder, ReplaySeries, String) {
        let mut kept = 0i128;
        for &account in &self.liquidated {
            if let Some(health) = self.ledger.book.account_health(account) {
                kept += health.equity.max(0);
            } else {
                kept += self.ledger.book.account(account).cash().max(0);
            }
        }
        self.outcome.user_equity_kept = kept;
        self.outcome.conservation_error = self.ledger.check_conservation();
        self.outcome.bad_debt = self.ledger.bad_debt();
        self.outcome.set_insurance_fund(self.ledger.fund.balance());
        self.outcome.latency.push(self.mark_to_trigger.clone());
        self.outcome.latency.push(self.trigger_to_order.clone());
        let _ = writeln!(
            self.journal,
            "END,fund={},bad_debt={},conservation_error={}",
            self.ledger.fund.balance(),
            self.ledger.bad_debt(),
            self.outcome.conservation_error
        );
        (self.outcome, self.series, self.journal)
    }

    fn venue_index(&self, venue: u8) -> Option<usize> {
        self.config.venues.iter().position(|&v| v as u8 == venue)
    }

    /// Best bid and ask of a venue book as the engine sees it (impact-adjusted or raw).
    fn top(&self, venue: usize, instrument: usize, adjusted: bool) -> Option<(i64, i64)> {
        let books = &self.venues[venue];
        let mirror = &books.mirrors[instrument];
        let levels = |side| (0..).map_while(move |i| mirror.level(side, i));
        let (bid, ask) = if adjusted {
            let shadow = &books.shadows[instrument];
            (shadow.best_visible(Side::Bid, levels(Side::Bid)), shadow.best_visible(Side::Ask, levels(Side::Ask)))
        } else {
            (mirror.best(Side::Bid).map(|l| l.0), mirror.best(Side::Ask).map(|l| l.0))
        };
        match (bid, ask) {
            (Some(b), Some(a)) if a >= b => Some((b, a)),
            _ => None,
        }
    }

    /// Impact-adjusted copies of every venue's book for `instrument`.
    fn visible_books(&self, instrument: usize) -> Vec<L2Book> {
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        self.venues
            .iter()
            .map(|books| {
                let mirror = &books.mirrors[instrument];
                let shadow = &books.shadows[instrument];
                shadow.visible_levels(Side::Bid, (0..).map_while(|i| mirror.level(Side::Bid, i)), &mut bids);
                shadow.visible_levels(Side::Ask, (0..).map_while(|i| mirror.level(Side::Ask, i)), &mut asks);
                L2Book::from_levels(mirror.venue(), &bids, &asks)
            })
            .collect()
    }

    fn on_book_event(&mut self, event: &Event) {
        let (Some(venue), instrument) = (self.venue_index(event.venue), event.instrument as usize) else {
            self.ignored_events += 1;
            return;
        };
        if instrument >= self.oracles.len() {
            self.ignored_events += 1;
            return;
        }
        let now = event.receive_ns;
        self.venues[venue].mirrors[instrument].apply(event);
        self.venues[venue].shadows[instrument].recover(now);
        if let Some((bid, ask)) = self.top(venue, instrument, self.config.impact_feedback) {
            self.oracles[instrument].on_quote(venue as u8, VenueQuote::Mid { bid, ask }, now as u64);
        }
        if let Some((bid, ask)) = self.top(venue, instrument, false) {
            self.raw_oracles[instrument].on_quote(venue as u8, VenueQuote::Mid { bid, ask }, now as u64);
        }
        if now >= self.next_mark_ns[instrument] {
            self.next_mark_ns[instrument] = now + self.config.mark_interval_ns;
            self.evaluate(instrument, now);
        }
    }

    /// Recomputes the mark of `instrument` and liquidates what it crosses.
    fn evaluate(&mut self, instrument: usize, now: i64) {
        let started = self.clock.now_ticks();
        self.risk_events.clear();
        let Some(mark) = self.oracles[instrument].compute(now as u64, &mut self.risk_events) else {
            return;
        };
        // The impact-free oracle only serves the cascade and impact metrics; its
        // exclusion events duplicate the main oracle's and are not journaled.
        self.raw_oracle_events.clear();
        let raw_mark = self.raw_oracles[instrument].compute(now as u64, &mut self.raw_oracle_events).map(|m| m.price);
        self.journal_risk_events(now);
        self.vols[instrument].update(mark.price, now as u64);
        self.series.mark.push((now, mark.price));
        if let Some(raw) = raw_mark {
            let impact = (raw - mark.price).abs() as i128 * 1_000_000 / i128::from(raw.max(1));
            self.outcome.peak_impact_centi_bps = self.outcome.peak_impact_centi_bps.max(impact as i64);
        }
        let id = instrument as InstrumentId;
        // Plans are made with the size-free part of the rate; each lot then pays
        // the rate for its own size (see `liquidate`).
        let rate = self.penalty_rate(instrument, mark.price, 0);
        self.requests.clear();
        on_mark(
            &mut self.ledger.book,
            id,
            mark,
            &self.policy.liquidation,
            rate,
            &mut self.crossed,
            &mut self.requests,
        );
        self.mark_to_trigger.record_ns(self.clock.ns_since(started));
        let requests = std::mem::take(&mut self.requests);
        for request in &requests {
            self.liquidate(*request, now, raw_mark, started);
        }
        self.requests = requests;
    }

    /// Lots of depth within the penalty band around `mark`, over every venue and both sides.
    fn depth_in_band(&self, instrument: usize, mark: i64) -> i64 {
        let band = i128::from(mark) * i128::from(self.config.penalty_depth_band_bps) / 10_000;
        let mut depth = 0i64;
        for books in &self.venues {
            let mirror = &books.mirrors[instrument];
            for side in [Side::Bid, Side::Ask] {
                depth += (0..)
                    .map_while(|i| mirror.level(side, i))
                    .take_while(|l| i128::from((l.0 - mark).abs()) <= band)
                    .map(|l| l.1)
                    .sum::<i64>();
            }
        }
        depth
    }

    /// The penalty rate for closing `closed_lots` of `instrument` at `mark`.
    fn penalty_rate(&self, instrument: usize, mark: i64, closed_lots: i64) -> i128 {
        let sigma = self.vols[instrument].sigma_over(3_600_000_000_000);
        // One side's share of the two-sided band depth is what a close meets.
        let depth = (self.depth_in_band(instrument, mark) / 2).max(1);
        self.policy.penalty.rate(sigma, closed_lots, depth)
    }

    fn liquidate(&mut self, mut request: LiquidationRequest, now: i64, raw_mark: Option<i64>, trigger_ticks: u64) {
        let instrument = request.instrument as usize;
        if !self.policy.partial {
            request.qty = request.position_size.abs();
            request.full_close = true;
        }
        request.penalty_rate = self.penalty_rate(instrument, request.mark, request.qty);
        let ins = self.ledger.book.instruments().get(request.instrument);
        let mult = ins.quote_per_tick_lot;
        let selling = request.position_size > 0;
        // Cascade depth: a liquidation the raw (impact-free) mark would not have
        // triggered continues the chain of the instrument's previous one.
        let endogenous = match (raw_mark, request.liquidation_price) {
            (Some(raw), Some(lp)) => (selling && raw >= lp) || (!selling && raw <= lp),
            _ => false,
        };
        let depth = if endogenous { self.last_cascade_depth[instrument] + 1 } else { 1 };
        self.last_cascade_depth[instrument] = depth;
        self.outcome.cascade_depth = self.outcome.cascade_depth.max(depth);
        self.first_trigger_ns.entry(request.account).or_insert(now);
        self.liquidated.insert(request.account);

        let bankruptcy = request.bankruptcy_price.unwrap_or(if selling { 1 } else { i64::MAX / 4 });
        let penalty_budget = penalty_amount(ins.notional(request.qty, request.mark), request.penalty_rate);
        let lot = LiquidationLot {
            id: self.next_lot_id,
            instrument: instrument as u32,
            account: u64::from(request.account),
            side: if selling { LotSide::Sell } else { LotSide::Buy },
            qty: request.qty,
            mark: request.mark,
            bankruptcy: bankruptcy.clamp(1, crate::auction::fixed::MAX_PRICE_TICKS),
            penalty_budget: i64::try_from(penalty_budget).unwrap_or(i64::MAX),
            created_ns: now,
            deadline_ns: now + self.config.lot_deadline_ns,
        };
        self.next_lot_id = self.next_lot_id.wrapping_add(1);
        let before = self.visible_books(instrument);
        let mut market = Market::new(before.clone(), i64::MAX / 4);
        self.exec_events.clear();
        self.trigger_to_order.record_ns(self.clock.ns_since(trigger_ticks));
        let result = run_lot(
            &lot,
            &self.exec[instrument],
            &mut market,
            &mut self.liquidators,
            &mut self.vault,
            self.config.lot_step_ns,
            &mut self.exec_events,
        );
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(err) => {
                let _ = writeln!(self.journal, "{now},LOT_REJECTED,{},{err}", request.account);
                return;
            }
        };
        self.record_consumption(instrument, &before, &market.books);
        // Every execution step (route choice with its reason and expected costs,
        // auction starts and resets, takes, slices, fills, backstop) goes to the journal.
        for event in &self.exec_events {
            let _ = writeln!(self.journal, "{now},EXEC,{event:?}");
        }
        let total = outcome.total(&lot, self.exec[instrument].contract_multiplier);
        let mut fills = Vec::with_capacity(1);
        let mut avg_price = 0;
        if total.filled > 0 {
            let denominator = i128::from(total.filled) * mult;
            // Round against the liquidated account: down for a sale, up for a buy-back.
            let price = if selling {
                total.gross.div_euclid(denominator)
            } else {
                (total.gross + denominator - 1).div_euclid(denominator)
            };
            avg_price = i64::try_from(price).unwrap_or(i64::MAX);
            fills.push(LiquidationFill { qty: total.filled, price: avg_price });
        }
        self.risk_events.clear();
        let settled = self.ledger.settle_liquidation(&request, &fills, &mut self.risk_events);
        // Lots the execution could not place inside the lot (the books in the lot
        // are frozen at the trigger) stay open: the account is still liquidatable
        // and the next mark retries against the replayed book as it refills.
        let adl = settled.deleveraged;
        let keeper = self.ledger.pay_keeper_from_fund(total.keeper);
        if total.filled > 0 {
            self.outcome.record_fill(if selling { 1 } else { -1 }, request.mark, avg_price, total.filled, mult);
            self.series.liquidations.push((now, avg_price));
        }
        let harm = i128::from(if selling { request.mark - avg_price } else { avg_price - request.mark });
        if total.filled > 0 {
            self.outcome.collateral_lost += harm.max(0) * i128::from(total.filled) * mult;
        }
        self.outcome.collateral_lost += settled.penalty;
        self.outcome.penalties += settled.penalty;
        self.outcome.keeper_incentives += keeper;
        self.outcome.adl_notional += i128::from(adl) * i128::from(bankruptcy) * mult;
        if request.full_close {
            self.outcome.full_liquidations += 1;
        } else {
            self.outcome.partial_liquidations += 1;
        }
        self.outcome.set_insurance_fund(self.ledger.fund.balance());
        self.series.insurance_fund.push((now, self.ledger.fund.balance()));
        let finished_ns = self.exec_events.iter().filter_map(event_time).max().unwrap_or(now).max(now);
        let solvent = match self.ledger.book.account_health(request.account) {
            Some(health) => !health.liquidatable(),
            None => true,
        };
        if solvent {
            if let Some(first) = self.first_trigger_ns.remove(&request.account) {
                self.outcome.time_to_solvency_ns.push(finished_ns - first);
            }
        }
        let _ = writeln!(
            self.journal,
            "{now},LIQ,account={},instrument={},qty={},full={},route={:?},mark={},bankruptcy={:?},filled={},returned={},avg_price={},penalty={},keeper={},adl={},fund={},bad_debt={},cascade={}",
            self.ledger.book.name(request.account),
            request.instrument,
            request.qty,
            request.full_close,
            outcome.decision.route,
            request.mark,
            request.bankruptcy_price,
            total.filled,
            total.returned,
            avg_price,
            settled.penalty,
            keeper,
            adl,
            self.ledger.fund.balance(),
            self.ledger.bad_debt(),
            depth
        );
    }

    /// Records in the shadows the liquidity a lot took: per level, what the
    /// impact-adjusted book held before minus what the lot's market holds after.
    fn record_consumption(&mut self, instrument: usize, before: &[L2Book], after: &[L2Book]) {
        for (venue, (was, now)) in before.iter().zip(after).enumerate() {
            for side in [Side::Bid, Side::Ask] {
                for level in (0..).map_while(|i| was.level(side, i)) {
                    let remaining = (0..).map_while(|i| now.level(side, i)).find(|l| l.0 == level.0).map_or(0, |l| l.1);
                    let consumed = level.1 - remaining;
                    if consumed <= 0 {
                        continue;
                    }
                    let books = &mut self.venues[venue];
                    let mirror_qty = (0..)
                        .map_while(|i| books.mirrors[instrument].level(side, i))
                        .find(|l| l.0 == level.0)
                        .map_or(0, |l| l.1);
                    books.shadows[instrument].take(side, std::iter::once((level.0, mirror_qty)), consumed, level.0);
                }
            }
        }
    }

    fn journal_risk_events(&mut self, now: i64) {
        for event in &self.risk_events {
            let _ = writeln!(self.journal, "{now},RISK,{event:?}");
        }
    }
}

fn event_time(event: &ExecutionEvent) -> Option<i64> {
    // The variants that move lots; the last of them ends the lot's execution.
    match *event {
        ExecutionEvent::Take { at_ns, .. }
        | ExecutionEvent::SliceFilled { at_ns, .. }
        | ExecutionEvent::NaiveFilled { at_ns, .. }
        | ExecutionEvent::ReturnedForAdl { at_ns, .. }
        | ExecutionEvent::BackstopTook { at_ns, .. }
        | ExecutionEvent::AuctionCleared { at_ns, .. } => Some(at_ns),
        _ => None,
    }
}

impl EventHandler for PolicyReplay {
    fn on_book_level(&mut self, event: &Event) {
        self.on_book_event(event);
    }

    fn on_snapshot(&mut self, event: &Event) {
        if event.kind() == Some(EventKind::SnapshotLevel) {
            self.on_book_event(event);
        }
    }

    fn on_gap(&mut self, event: &Event) {
        let _ = writeln!(self.journal, "{},GAP,venue={},instrument={},sequence={}", event.receive_ns, event.venue, event.instrument, event.sequence);
    }
}

