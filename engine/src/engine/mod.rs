//! The `Engine`: one deterministic state machine for the pinned core.
//!
//! Inputs are wire [`Event`]s only (venue book updates, client orders and
//! cancels, liquidator bids, fills of routed intents, timer ticks); outputs
//! are wire events only, handed to an [`OutputSink`] (execution reports, mark
//! prices, trades, liquidation and auction notices, routed intents, ledger
//! records — the journal). Engine state is a pure function of the input
//! sequence: logic reads event time (`receive_ns`), never a clock.
//!
//! It owns gavel's own L3 books (one per instrument), the mirrored external
//! venue books, the mark oracle, the accounts and their margin and trigger
//! index (in the [`Ledger`]), the liquidations in progress with their
//! auctions and routed intents, the insurance fund, the backstop vault and
//! ADL. A liquidation is state that advances with the event stream
//! ([`liquidation`]); nothing runs on a private clock and no book is copied.
//!
//! Live mode and replay run this same type; the simulated world of a replay
//! (`gavel-sim`) talks to it only through [`Engine::on_event`] and the outputs.
//!
//! After [`Engine::new`] the event path allocates nothing: books, mirrors,
//! the liquidation pool, timers and scratch space are sized from
//! [`EngineConfig`] up front, and a full pool is a counted refusal, never a
//! reallocation (proved by `engine/tests/engine_alloc.rs`).

mod auction_stage;
mod liquidation;
mod portfolio_leg;
pub mod margin_call;
mod session_outputs;
pub mod orders;
pub mod metrics;
pub mod output;
pub mod policy;
mod snapshot;
mod state_hash;
mod timers;
mod waterfall;

use gavel_feeds::wire::{Event, EventKind, MarkPrice, PriceLevel, Side, Venue};

use crate::auction::depth::{DepthView, L2Book, MAX_VENUES};
use crate::auction::policy::InstrumentPolicy;
use crate::book::{Book, BookConfig};
use crate::risk::oracle::{MarkOracle, OracleConfig, VenueQuote};
use crate::risk::volatility::RealizedVol;
use crate::risk::{AccountId, InstrumentId, Ledger, RiskEvent};

pub use liquidation::Liquidation;
pub use orders::reject_code;
pub use metrics::{EngineMetrics, VolumeByRoute};
pub use output::{CountingSink, OutputSink};
pub use state_hash::StateHasher;
pub use policy::{AdlRanking, EnginePolicy, RoutePolicy, Stage, BUILTIN_POLICIES, MARKET_ROUTE};

use output::{build, Header};

/// Construction-time settings; every pool is sized from them once.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineConfig {
    /// External venues mirrored, in oracle-input order (at most 16).
    pub venues: Vec<Venue>,
    /// Mark recomputation period per instrument, ns of event time.
    pub mark_interval_ns: i64,
    /// Oracle staleness limit, ns.
    pub oracle_staleness_ns: u64,
    /// Oracle outlier band, bps.
    pub oracle_outlier_bps: i64,
    /// Fewest fresh venues for a mark that may liquidate.
    pub oracle_quorum: u8,
    /// Band around the mark within which depth counts for the dynamic penalty, bps.
    pub penalty_depth_band_bps: i64,
    /// Own-book capacity per instrument.
    pub book: BookConfig,
    /// Price levels per side of each mirrored venue book.
    pub mirror_levels: usize,
    /// Liquidations in progress at once.
    pub max_liquidations: usize,
    /// Taker and maker fees of the own book, [`crate::risk::instrument::RATE_SCALE`] parts of notional.
    pub taker_fee_rate: i128,
    /// Maker fee (negative: rebate).
    pub maker_fee_rate: i128,
    /// The backstop vault's account.
    pub backstop_account: Option<AccountId>,
    /// Liquidator ids (as in `LiquidatorBid`) and their accounts.
    pub liquidators: Vec<(u32, AccountId)>,
    /// Period of auction price notices, ns.
    pub auction_step_ns: i64,
    /// A liquidation triggered within this time after a liquidation fill on the same
    /// instrument continues that cascade, ns.
    pub cascade_window_ns: i64,
    /// ADL spreads a shortfall pro rata over at most this many of the highest-ranked
    /// opposite positions (more only when they cannot hold it).
    pub adl_counterparties: usize,
    /// Event time between two rankings of an ADL queue (profit × leverage of every
    /// opposite holder), ns.
    pub adl_rank_interval_ns: i64,
    /// Emit the outputs only connected sessions need (`gavel serve`): own-book L2
    /// level updates, position updates and replies to liquidator takes. Off in
    /// replays, whose world reads neither.
    pub session_outputs: bool,
    /// Predictive margin calls (`None`: off).
    pub margin_call: Option<margin_call::MarginCallConfig>,
}

impl EngineConfig {
    /// Defaults for `venues`: marks every 100 ms, a 5 s staleness limit, a 3 % outlier band,
    /// 64k orders per own book, 4,096 levels per mirrored side, 65,536 liquidations.
    pub fn for_venues(venues: Vec<Venue>) -> Self {
        let quorum = venues.len().clamp(1, 2) as u8;
        EngineConfig {
            venues,
            mark_interval_ns: 100_000_000,
            oracle_staleness_ns: 5_000_000_000,
            oracle_outlier_bps: 300,
            oracle_quorum: quorum,
            penalty_depth_band_bps: 50,
            book: BookConfig::default(),
            mirror_levels: 4096,
            max_liquidations: 1 << 16,
            taker_fee_rate: 50_000,
            maker_fee_rate: 20_000,
            backstop_account: None,
            liquidators: Vec::new(),
            auction_step_ns: 500_000_000,
            cascade_window_ns: 1_000_000_000,
            adl_counterparties: 64,
            adl_rank_interval_ns: 1_000_000_000,
            session_outputs: false,
            margin_call: Some(margin_call::MarginCallConfig::default()),
        }
    }

    fn validate(&self, accounts: usize) -> Result<(), String> {
        if self.venues.is_empty() || self.venues.len() > MAX_VENUES {
            return Err(format!("engine: 1 to {MAX_VENUES} venues, not {}", self.venues.len()));
        }
        if self.mark_interval_ns <= 0 || self.auction_step_ns <= 0 || self.cascade_window_ns < 0 {
            return Err("engine: mark interval and auction step must be positive".into());
        }
        if let Some(m) = &self.margin_call {
            m.validate()?;
        }
        if self.adl_rank_interval_ns < 0 {
            return Err("engine: adl_rank_interval_ns must not be negative".into());
        }
        if self.adl_counterparties == 0 {
            return Err("engine: adl_counterparties must be at least 1".into());
        }
        if self.max_liquidations == 0 || self.max_liquidations > 1 << 24 {
            return Err(format!("engine: max_liquidations must be in 1..=16777216, not {}", self.max_liquidations));
        }
        if self.mirror_levels == 0 || self.mirror_levels > 1 << 20 {
            return Err(format!("engine: mirror_levels must be in 1..=1048576, not {}", self.mirror_levels));
        }
        let known = |a: AccountId| (a as usize) < accounts;
        if self.backstop_account.is_some_and(|a| !known(a)) || self.liquidators.iter().any(|&(_, a)| !known(a)) {
            return Err("engine: backstop or liquidator account out of range".into());
        }
        Ok(())
    }
}

/// Per-account liquidation state.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default)]
struct AccountState {
    /// Liquidation id in progress (0: none).
    active: u64,
    /// Earliest event time of the next trigger.
    retry_at: i64,
    /// Episodes so far in the current run of liquidations.
    attempts: u32,
    /// Mark at the first trigger of the current episode (0: not in one).
    arrival_mark: i64,
    /// The instrument of that mark (a portfolio account's later legs are measured against
    /// the mark at their own start).
    #[serde(default)]
    arrival_instrument: InstrumentId,
    /// Event time of that first trigger.
    arrival_ns: i64,
    /// Ever liquidated.
    touched: bool,
    /// Resting own-book lots, buys and sells (for the margin check).
    resting: [i64; 2],
    /// A margin call was sent and no liquidation has started since.
    call_pending: bool,
    /// Event time of the last margin call.
    called_at: i64,
}

/// The engine.
pub struct Engine {
    config: EngineConfig,
    policy: EnginePolicy,
    exec: Vec<InstrumentPolicy>,
    ledger: Ledger,
    books: Vec<Book>,
    mirrors: Vec<L2Book>,
    /// Event time of each mirror's last level change not yet quoted to the oracle
    /// (`i64::MIN`: none); a mirror is quoted once, when its instrument's mark is evaluated.
    mirror_changed_ns: Vec<i64>,
    oracles: Vec<MarkOracle>,
    vols: Vec<RealizedVol>,
    /// Last implied-vol quote per instrument (predictive margin calls).
    implied_vols: Vec<margin_call::ImpliedVolState>,
    next_mark_ns: Vec<i64>,
    last_liquidation_fill_ns: Vec<i64>,
    cascade: Vec<u32>,
    accounts: Vec<AccountState>,
    /// Per-account loss pushed onto it by ADL, quote units.
    adl_losses: Vec<i128>,
    pool: Vec<Option<Liquidation>>,
    active_count: usize,
    /// The liquidations whose auction is open, in id order (derived from `pool`).
    running_auctions: Vec<auction_stage::RunningAuction>,
    next_liquidation_id: u64,
    timers: timers::SlotTimers,
    now: i64,
    backstop_start: i128,
    metrics: EngineMetrics,
    // Scratch, allocated once.
    crossed: Vec<AccountId>,
    risk_events: Vec<RiskEvent>,
    book_events: Vec<crate::book::BookEvent>,
    adl: Vec<waterfall::AdlCandidate>,
    adl_cache: waterfall::AdlCache,
    time_to_solvency: hdrhistogram::Histogram<u64>,
    /// Scratch of the margin-call band walk (account, trigger, exact).
    warned: Vec<(AccountId, crate::risk::Trigger, bool)>,
    /// Scratch marks for a shocked health check.
    shock_marks: Vec<Option<i64>>,
    call_lead: hdrhistogram::Histogram<u64>,
    /// Per instrument: settles in the book's asset, so client orders may trade it.
    tradable: Vec<bool>,
}

impl Engine {
    /// An engine over the accounts, positions and fund of `ledger`.
    pub fn new(config: EngineConfig, policy: EnginePolicy, mut ledger: Ledger) -> Result<Self, String> {
        policy.validate()?;
        let tradable = tradable_instruments(&ledger, &policy)?;
        ledger.book.reserve_index();
        let accounts = ledger.book.accounts().len();
        config.validate(accounts)?;
        let instruments = ledger.book.instruments().len();
        let venue_count = config.venues.len();
        let oracle = |i: usize, half_life_ns| {
            MarkOracle::new(
                i as InstrumentId,
                OracleConfig {
                    venues: venue_count as u8,
                    staleness_ns: config.oracle_staleness_ns,
                    outlier_band_bps: config.oracle_outlier_bps,
                    quorum: config.oracle_quorum,
                    half_life_ns,
                },
            )
        };
        let exec = (0..instruments)
            .map(|i| {
                // Route estimates rank costs in settlement units per tick·lot; an inverse
                // contract has no constant one, so its routes are ranked in tick·lots.
                let ins = ledger.book.instruments().get(i as InstrumentId);
                let mult = if ins.is_inverse() { 1 } else { ins.quote_per_tick_lot };
                InstrumentPolicy {
                    instrument: i as u32,
                    contract_multiplier: i64::try_from(mult).unwrap_or(i64::MAX),
                    auction: crate::auction::policy::AuctionPolicy { tip: 0, chip: crate::auction::fixed::Ray(0), ..policy.auction },
                    ..InstrumentPolicy::default()
                }
            })
            .collect();
        let mirrors = (0..venue_count * instruments)
            .map(|k| L2Book::with_capacity(config.venues[k / instruments.max(1)], config.mirror_levels))
            .collect();
        let backstop_start = config
            .backstop_account
            .map_or(0, |a| ledger.book.account(a).cash());
        let fund = ledger.fund.balance();
        let metrics = EngineMetrics { fund_start: fund, fund_min: fund, ..EngineMetrics::default() };
        let pool_len = config.max_liquidations;
        Ok(Engine {
            exec,
            books: (0..instruments).map(|_| Book::new(config.book)).collect(),
            mirror_changed_ns: vec![i64::MIN; venue_count * instruments],
            mirrors,
            oracles: (0..instruments).map(|i| oracle(i, policy.oracle_half_life_ns)).collect(),
            vols: (0..instruments).map(|_| RealizedVol::new(60_000_000_000, 0.0)).collect(),
            implied_vols: vec![margin_call::ImpliedVolState::default(); instruments],
            next_mark_ns: vec![i64::MIN; instruments],
            last_liquidation_fill_ns: vec![i64::MIN; instruments],
            cascade: vec![0; instruments],
            accounts: vec![AccountState::default(); accounts],
            adl_losses: vec![0; accounts],
            pool: (0..pool_len).map(|_| None).collect(),
            active_count: 0,
            running_auctions: Vec::with_capacity(pool_len),
            next_liquidation_id: 1,
            timers: timers::SlotTimers::new(pool_len),
            now: i64::MIN,
            backstop_start,
            metrics,
            crossed: Vec::with_capacity(accounts),
            risk_events: Vec::with_capacity(256),
            book_events: Vec::with_capacity(4096),
            adl: Vec::with_capacity(accounts),
            adl_cache: waterfall::AdlCache::with_capacity(accounts),
            time_to_solvency: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).map_err(|e| e.to_string())?,
            // Two band edges per portfolio account at most.
            warned: Vec::with_capacity(2 * accounts),
            shock_marks: Vec::with_capacity(instruments),
            call_lead: hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3).map_err(|e| e.to_string())?,
            tradable,
            config,
            policy,
            ledger,
        })
    }

    /// The risk ledger: accounts, positions, fund, fees, bad debt.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// What the engine has counted so far.
    pub fn metrics(&self) -> &EngineMetrics {
        &self.metrics
    }

    /// The policy it runs.
    pub fn policy(&self) -> &EnginePolicy {
        &self.policy
    }

    /// The configuration it was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// gavel's own book of `instrument`.
    pub fn own_book(&self, instrument: InstrumentId) -> Option<&Book> {
        self.books.get(usize::from(instrument))
    }

    /// The mirrored book of venue slot `venue` (index in [`EngineConfig::venues`]).
    pub fn mirror(&self, venue: usize, instrument: InstrumentId) -> Option<&L2Book> {
        let n = self.books.len();
        (venue < self.config.venues.len() && usize::from(instrument) < n).then(|| &self.mirrors[venue * n + usize::from(instrument)])
    }

    /// Event time of the last input.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// Liquidations in progress.
    pub fn active_liquidations(&self) -> usize {
        self.active_count
    }

    /// Loss ADL pushed onto `account` so far, quote units.
    pub fn adl_loss(&self, account: AccountId) -> i128 {
        self.adl_losses.get(account as usize).copied().unwrap_or(0)
    }

    /// Time from an account's first trigger to solvency, ns, per recovered episode.
    pub fn time_to_solvency(&self) -> &hdrhistogram::Histogram<u64> {
        &self.time_to_solvency
    }

    /// The backstop vault's cash-like balance at the start (for its mark-to-market loss).
    pub fn backstop_start(&self) -> i128 {
        self.backstop_start
    }

    /// Handles one input event; outputs go to `out`.
    pub fn on_event(&mut self, event: &Event, out: &mut impl OutputSink) {
        if event.receive_ns > self.now {
            // Time advances: the books are complete for the previous event time, so the
            // marks due are computed on them first (one venue message is many level events
            // with one time; a mark between two of them would see half an update).
            if self.now != i64::MIN {
                self.evaluate_due_marks(out);
            }
            self.now = event.receive_ns;
        }
        self.run_timers(out);
        let Some(kind) = event.kind() else {
            self.metrics.ignored_events += 1;
            return;
        };
        match kind {
            EventKind::BookLevel | EventKind::SnapshotLevel => {
                self.on_venue_level(event);
                if event.flags & gavel_feeds::wire::MESSAGE_END != 0 {
                    let i = event.instrument as usize;
                    if i < self.instrument_count() && self.now >= self.next_mark_ns[i] {
                        self.evaluate(i, out);
                    }
                }
            }
            EventKind::SnapshotBegin | EventKind::Gap => self.on_venue_reset(event),
            EventKind::ClientOrder => self.on_client_order(event, out),
            EventKind::ClientCancel => self.on_client_cancel(event, out),
            EventKind::ClientMassCancel => self.on_client_mass_cancel(event, out),
            EventKind::LiquidatorBid => self.on_liquidator_bid(event, out),
            EventKind::IntentFill => self.on_intent_fill(event, out),
            EventKind::Timer => self.evaluate_due_marks(out),
            EventKind::ImpliedVol => self.on_implied_vol(event),
            EventKind::SnapshotEnd
            | EventKind::Heartbeat
            | EventKind::Trade
            | EventKind::MarkPrice
            | EventKind::LiquidationPrint
            | EventKind::BookTop => {}
            EventKind::OrderAdd | EventKind::OrderCancel | EventKind::OrderModify | EventKind::OrderExecute => {
                self.metrics.ignored_events += 1
            }
            EventKind::ExecReport
            | EventKind::LiquidationUpdate
            | EventKind::AuctionUpdate
            | EventKind::RoutedIntent
            | EventKind::LedgerRecord
            | EventKind::BidReport
            | EventKind::PositionUpdate
            | EventKind::MarginCall => self.metrics.ignored_events += 1,
        }
    }

    /// Runs every liquidation timer due at the current event time.
    fn run_timers(&mut self, out: &mut impl OutputSink) {
        while let Some(slot) = self.timers.pop_due(self.now) {
            self.on_liquidation_timer(slot, out);
        }
    }

    /// Arms the timer of liquidation `slot` at `due` (replacing any earlier one).
    fn arm(&mut self, slot: usize, due: i64) {
        let Some(liq) = self.pool[slot].as_ref() else { return };
        self.timers.set(slot, liq.id, due);
    }

    /// Disarms the timer of liquidation `slot`.
    fn disarm(&mut self, slot: usize) {
        self.timers.cancel(slot);
    }

    fn instrument_count(&self) -> usize {
        self.books.len()
    }

    fn venue_slot(&self, venue: u8) -> Option<usize> {
        self.config.venues.iter().position(|&v| v as u8 == venue)
    }

    /// Calls `f` with the mirrored books of `instrument` as depth views.
    fn with_views<R>(mirrors: &[L2Book], instruments: usize, venues: usize, instrument: usize, f: impl FnOnce(&[&dyn DepthView]) -> R) -> R {
        let first: &dyn DepthView = &mirrors[instrument];
        let mut views: [&dyn DepthView; MAX_VENUES] = [first; MAX_VENUES];
        for (v, view) in views.iter_mut().enumerate().take(venues) {
            *view = &mirrors[v * instruments + instrument];
        }
        f(&views[..venues])
    }

    fn on_venue_level(&mut self, event: &Event) {
        let instrument = event.instrument as usize;
        let (Some(venue), true) = (self.venue_slot(event.venue), instrument < self.instrument_count()) else {
            self.metrics.ignored_events += 1;
            return;
        };
        let level: PriceLevel = event.payload();
        let side = match event.side() {
            Some(side @ (Side::Bid | Side::Ask)) if level.price > 0 && level.qty >= 0 => side,
            _ => {
                self.metrics.ignored_events += 1;
                return;
            }
        };
        let n = self.instrument_count();
        let k = venue * n + instrument;
        if !self.mirrors[k].set_level_bounded(side, level.price, level.qty) {
            self.metrics.mirror_overflow += 1;
        }
        self.mirror_changed_ns[k] = self.now;
    }

    /// Quotes the mid of every mirror of `instrument` changed since its last quote to
    /// the oracle, at the event time of its last change (a crossed mirror is not quoted).
    fn quote_changed_mirrors(&mut self, instrument: usize) {
        let n = self.instrument_count();
        for venue in 0..self.config.venues.len() {
            let k = venue * n + instrument;
            let changed = std::mem::replace(&mut self.mirror_changed_ns[k], i64::MIN);
            if changed == i64::MIN {
                continue;
            }
            let mirror = &self.mirrors[k];
            if let (Some((b, _)), Some((a, _))) = (mirror.best(Side::Bid), mirror.best(Side::Ask)) {
                if a >= b {
                    self.oracles[instrument].on_quote(venue as u8, VenueQuote::Mid { bid: b, ask: a }, changed.max(0) as u64);
                }
            }
        }
    }

    fn on_venue_reset(&mut self, event: &Event) {
        let instrument = event.instrument as usize;
        let (Some(venue), true) = (self.venue_slot(event.venue), instrument < self.instrument_count()) else {
            self.metrics.ignored_events += 1;
            return;
        };
        let n = self.instrument_count();
        self.mirrors[venue * n + instrument].clear();
        self.mirror_changed_ns[venue * n + instrument] = i64::MIN;
    }

    /// Recomputes the marks whose interval has passed (timer events).
    fn evaluate_due_marks(&mut self, out: &mut impl OutputSink) {
        for i in 0..self.instrument_count() {
            if self.now >= self.next_mark_ns[i] {
                self.evaluate(i, out);
            }
        }
    }

    /// Recomputes the mark of `instrument`, publishes it, and starts a liquidation for
    /// every account it crosses that is not already in one.
    fn evaluate(&mut self, instrument: usize, out: &mut impl OutputSink) {
        self.next_mark_ns[instrument] = self.now.saturating_add(self.config.mark_interval_ns);
        self.quote_changed_mirrors(instrument);
        self.risk_events.clear();
        let Some(mark) = self.oracles[instrument].compute(self.now.max(0) as u64, &mut self.risk_events) else {
            return;
        };
        self.metrics.marks += 1;
        self.vols[instrument].update(mark.price, self.now.max(0) as u64);
        let id = instrument as InstrumentId;
        self.ledger.book.set_mark_only(id, mark.price);
        self.books[instrument].set_market_reference(Some(mark.price));
        out.emit(&build(
            self.now,
            Header { kind: EventKind::MarkPrice, venue: Venue::Gavel, side: Side::None, flags: 0, instrument: instrument as u32, sequence: self.metrics.marks },
            MarkPrice { mark: mark.price, index: 0, funding_rate_e9: 0 },
        ));
        if !mark.liquidation_allowed {
            return;
        }
        // The account crossed furthest goes first, before the rest of the crossed set
        // is collected: the first liquidation order does not wait for that walk.
        let first = self.ledger.book.most_crossed(id);
        if let Some(account) = first {
            self.maybe_start_liquidation(account, id, out);
        }
        let mut crossed = std::mem::take(&mut self.crossed);
        crossed.clear();
        self.ledger.book.crossed(id, &mut crossed);
        for &account in &crossed {
            if Some(account) != first {
                self.maybe_start_liquidation(account, id, out);
            }
        }
        self.crossed = crossed;
        self.stop_runaway_auctions(instrument, out);
        self.margin_calls(instrument, mark.price, out);
    }

    /// The current mark of a liquidation's instrument (its trigger mark if none since).
    pub(crate) fn current_mark(&self, slot: usize) -> i64 {
        self.pool[slot].as_ref().map_or(0, |l| self.ledger.book.mark(l.instrument).unwrap_or(l.mark))
    }

    /// Records the fund's lowest point.
    fn note_fund(&mut self) {
        let fund = self.ledger.fund.balance();
        if fund < self.metrics.fund_min {
            self.metrics.fund_min = fund;
        }
    }
}

/// Which instruments the engine trades: those settling in the book's one settlement asset
/// (one wallet per account, one insurance fund, one ledger), the asset of the positions held
/// (of the first instrument when none is). Refused, naming the instrument: positions in two
/// settlement assets, and a venue rule set (`--rules`) over a book that trades an inverse
/// instrument (the venues' formulas here are the linear contracts').
fn tradable_instruments(ledger: &Ledger, policy: &EnginePolicy) -> Result<Vec<bool>, String> {
    let set = ledger.book.instruments();
    let asset = ledger.book.settlement_asset()?.or_else(|| set.list.first().map(|i| i.settlement_asset.as_str())).unwrap_or("");
    let tradable: Vec<bool> = set.list.iter().map(|i| i.settlement_asset == asset).collect();
    if policy.rules.is_some() {
        if let Some(ins) = set.list.iter().zip(&tradable).find(|(i, &t)| t && i.is_inverse()).map(|(i, _)| i) {
            return Err(format!(
                "instrument {} is inverse (coin-margined): the venue rule sets model linear contracts only; run it without --rules",
                ins.symbol
            ));
        }
    }
    Ok(tradable)
}

