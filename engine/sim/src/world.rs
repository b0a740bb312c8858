//! The simulated world of a replay, around one [`Engine`].
//!
//! Captured venue events come in merged by event time; the world applies
//! them to its external venue books and passes the engine what the venues
//! would show (the captured book less the liquidity our orders consumed).
//! Between captured events it runs its own scheduled actions in event-time
//! order: timer ticks (refill of consumed liquidity, `Timer` events), the
//! market maker's requotes, liquidator bids arriving after their latency,
//! routed intents executed against the venue books after the venue latency,
//! liquidators' hedges. Everything it learns, it learns from the engine's
//! outputs; everything it does, it does through the engine's input events.
//! The run is deterministic: actions are ordered by `(event time, schedule
//! order)` and nothing reads a clock except the latency histogram.

use std::collections::{BTreeMap, BTreeSet};

use gavel_engine::engine::{Engine, EngineConfig, EnginePolicy};
use gavel_engine::latency::StageHistogram;
use gavel_engine::risk::instrument::InstrumentId;
use gavel_engine::risk::{account_from_wire, account_to_wire, ledger_accounts, AccountId, Ledger, MarginMode, RiskBook};
use gavel_feeds::clock::Clock;
use gavel_feeds::wire::{
    auction_update, ledger_record, liquidation_stage, order_flags, report, AuctionNotice, ClientCancel, ClientOrder, Event, EventKind, ExecReport, Heartbeat, LedgerEntry,
    LiquidationNotice, LiquidatorBid, OrderRef, RoutedIntent, Side, Venue,
};

use crate::agents::{default_liquidators, LiquidatorAgent, LiquidatorConfig, MarketMaker, MarketMakerConfig};
use crate::outcome::{Outcome, Series};
use crate::venues::ExternalVenues;

/// First client order id of the orders that answer margin calls: above any `orders.csv`
/// line, within the engine's 32-bit order ids.
const CALL_ORDER_IDS: u64 = 1 << 31;

/// Settings of the simulated world.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    /// Half-life of consumed external liquidity, ns.
    pub resilience_half_life_ns: i64,
    /// The engine sees the liquidity our orders consumed.
    pub impact_feedback: bool,
    /// Event time from a routed intent to its execution on the venue, ns.
    pub venue_latency_ns: i64,
    /// Period of timer ticks (refill, `Timer` events), ns.
    pub timer_interval_ns: i64,
    /// Event time the world keeps running after the last captured event while
    /// liquidations are in progress, ns.
    pub drain_ns: i64,
    /// The liquidators.
    pub liquidators: Vec<LiquidatorConfig>,
    /// The own-book market maker (none: the own book holds only scenario orders).
    pub market_maker: Option<MarketMakerConfig>,
    /// The backstop vault's capital, quote units (0: no vault).
    pub backstop_capital: i128,
    /// Liquidators place no bids in `[from, until)`, ns after the first captured event
    /// (network congestion: the auctions run on with nobody bidding).
    pub liquidator_stall_ns: Option<(i64, i64)>,
    /// Clients that answer a margin call by cutting their position (none: nobody answers).
    pub call_response: Option<CallResponse>,
}

/// How clients answer predictive margin calls: a share of the called accounts sends, after a
/// delay, a reduce-only market order for part of the called position into the own book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallResponse {
    /// Called accounts that answer, per mille (chosen by a hash of account and call: deterministic).
    pub share_per_mille: u32,
    /// Part of the position they close, per mille.
    pub reduce_per_mille: u32,
    /// Event time from the call to the order, ns.
    pub delay_ns: i64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            resilience_half_life_ns: 5_000_000_000,
            impact_feedback: true,
            venue_latency_ns: 10_000_000,
            timer_interval_ns: 100_000_000,
            drain_ns: 120_000_000_000,
            liquidators: default_liquidators(),
            market_maker: Some(MarketMakerConfig::default()),
            backstop_capital: 100_000_000 * gavel_engine::risk::instrument::QUOTE_SCALE,
            liquidator_stall_ns: None,
            call_response: None,
        }
    }
}

/// Something the world will do at an event time.
#[derive(Clone, Copy, Debug)]
enum Action {
    Tick,
    Requote,
    Deliver(Event),
    Bid { agent: usize, event: Event },
    Execute(Event),
    Hedge { agent: usize, instrument: u32, side: Side, qty: i64 },
}

/// The world around one engine.
pub struct World {
    engine: Engine,
    venues: ExternalVenues,
    config: WorldConfig,
    agents: Vec<LiquidatorAgent>,
    market_maker: Option<MarketMaker>,
    mm_orders: BTreeMap<(u32, u64), i64>,
    queue: BTreeMap<(i64, u64), Action>,
    seq: u64,
    now: i64,
    last_capture_ns: i64,
    started: bool,
    outputs: Vec<Event>,
    journal: Box<dyn FnMut(&Event) + Send>,
    liquidated: BTreeSet<AccountId>,
    /// Liquidation ids that are pre-emptive reductions (a PREEMPTIVE notice, no TRIGGERED or DONE yet).
    reducing: BTreeSet<u64>,
    series: Series,
    adl_notional: i128,
    /// Orders sent in answer to margin calls.
    call_orders: u64,
    clock: Clock,
    engine_stage: StageHistogram,
    /// Engine outputs seen.
    pub outputs_seen: u64,
    /// Engine inputs delivered.
    pub inputs_delivered: u64,
    engine_hook: Option<fn(bool)>,
    pending_inputs: Vec<crate::orders::ScheduledInput>,
    /// The liquidators' stall window in event time, once the first event fixed it.
    stall: Option<(i64, i64)>,
}

impl World {
    /// Builds the engine over `book` (accounts and positions from the scenario) with the
    /// world's own accounts added — backstop vault, liquidators, market maker — and a fund of
    /// `fund_seed`. Every engine output goes to `journal`.
    pub fn new(
        mut book: RiskBook,
        fund_seed: i128,
        venues: Vec<Venue>,
        policy: EnginePolicy,
        config: WorldConfig,
        engine_config: impl FnOnce(&mut EngineConfig),
        journal: Box<dyn FnMut(&Event) + Send>,
        clock: Clock,
    ) -> Result<Self, String> {
        let instruments = book.instruments().len();
        let mut add = |name: &str, capital: i128| book.add_account(name, MarginMode::Cross, capital).ok_or_else(|| format!("account name {name} is taken"));
        let backstop = if config.backstop_capital > 0 { Some(add("gavel-backstop-vault", config.backstop_capital)?) } else { None };
        let mut agents = Vec::with_capacity(config.liquidators.len());
        for l in &config.liquidators {
            let account = add(&format!("gavel-liquidator-{}", l.id), l.capital)?;
            agents.push(LiquidatorAgent { config: *l, account, inflight: Vec::new(), hedged_lots: 0, won_lots: 0 });
        }
        let market_maker = match config.market_maker {
            Some(mm) => Some(MarketMaker { config: mm, account: add("gavel-market-maker", mm.capital)?, resting: vec![Vec::new(); instruments], next_id: 1, rejected: 0 }),
            None => None,
        };
        let mut engine_cfg = EngineConfig::for_venues(venues.clone());
        engine_cfg.backstop_account = backstop;
        engine_cfg.liquidators = agents.iter().map(|a| (a.config.id, a.account)).collect();
        engine_cfg.max_liquidations = (book.accounts().len() + 16).min(1 << 20);
        engine_config(&mut engine_cfg);
        let engine = Engine::new(engine_cfg, policy, Ledger::new(book, fund_seed))?;
        Ok(World {
            venues: ExternalVenues::new(venues, instruments, config.resilience_half_life_ns, config.impact_feedback),
            engine,
            agents,
            market_maker,
            mm_orders: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            now: i64::MIN,
            last_capture_ns: i64::MIN,
            started: false,
            outputs: Vec::with_capacity(1 << 16),
            journal,
            liquidated: BTreeSet::new(),
            reducing: BTreeSet::new(),
            series: Series::default(),
            adl_notional: 0,
            call_orders: 0,
            clock,
            engine_stage: StageHistogram::new("engine_event"),
            outputs_seen: 0,
            inputs_delivered: 0,
            engine_hook: None,
            pending_inputs: Vec::new(),
            stall: None,
            config,
        })
    }

    /// Calls `hook(true)` right before and `hook(false)` right after every call into the
    /// engine (the allocation-counting test marks the engine's share of the thread's work).
    pub fn set_engine_hook(&mut self, hook: fn(bool)) {
        self.engine_hook = Some(hook);
    }

    /// The engine (read-only).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Replaces the engine's state by a snapshot taken with [`Engine::write_snapshot`] (the
    /// allocation test restores mid-run and checks the engine continues without allocating).
    pub fn restore_engine_snapshot(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.engine.restore_snapshot(bytes)
    }

    fn schedule(&mut self, at: i64, action: Action) {
        self.seq += 1;
        self.queue.insert((at, self.seq), action);
    }

    /// One captured venue event, in event-time order.
    pub fn on_capture(&mut self, event: &Event) {
        let t = event.receive_ns;
        if !self.started {
            self.started = true;
            self.now = t;
            self.stall = self.config.liquidator_stall_ns.map(|(from, until)| (t.saturating_add(from), t.saturating_add(until)));
            self.schedule(t.saturating_add(self.config.timer_interval_ns), Action::Tick);
            if self.market_maker.is_some() {
                // After the first second of captured depth.
                self.schedule(t.saturating_add(1_000_000_000), Action::Requote);
            }
            for input in std::mem::take(&mut self.pending_inputs) {
                let at = t.saturating_add(input.offset_ns);
                let mut event = input.event;
                event.receive_ns = at;
                event.exchange_ns = at;
                self.schedule(at, Action::Deliver(event));
            }
        }
        self.run_until(t);
        self.now = self.now.max(t);
        self.last_capture_ns = self.last_capture_ns.max(t);
        let seen = self.venues.on_capture(event);
        self.deliver(&seen);
    }

    /// Scenario inputs (client orders, implied-vol quotes), sent at their offset after the
    /// first captured event; adds to those already given.
    pub fn add_inputs(&mut self, inputs: Vec<crate::orders::ScheduledInput>) {
        self.pending_inputs.extend(inputs);
    }

    fn run_until(&mut self, t: i64) {
        while let Some((&(at, _), _)) = self.queue.first_key_value() {
            if at > t {
                break;
            }
            let Some((_, action)) = self.queue.pop_first() else { break };
            self.now = self.now.max(at);
            self.perform(action);
        }
    }

    fn deliver(&mut self, event: &Event) {
        let mut outputs = std::mem::take(&mut self.outputs);
        outputs.clear();
        let started = self.clock.now_ticks();
        if let Some(hook) = self.engine_hook {
            hook(true);
            self.engine.on_event(event, &mut outputs);
            hook(false);
        } else {
            self.engine.on_event(event, &mut outputs);
        }
        self.engine_stage.record_ns(self.clock.ns_since(started));
        self.inputs_delivered += 1;
        for o in &outputs {
            (self.journal)(o);
            self.react(o);
        }
        self.outputs_seen += outputs.len() as u64;
        self.outputs = outputs;
    }

    fn perform(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Tick => {
                let mut refilled = Vec::new();
                self.venues.refill(now, |e| refilled.push(e));
                for e in &refilled {
                    self.deliver(e);
                }
                let tick = Event::new(EventKind::Timer, Venue::Gavel, 0, Heartbeat { pid: 0, counter: 0, reserved: 0 }).with_times(0, now, now);
                self.deliver(&tick);
                self.schedule(now.saturating_add(self.config.timer_interval_ns), Action::Tick);
            }
            Action::Requote => {
                self.requote(now);
                if let Some(mm) = &self.market_maker {
                    let next = now.saturating_add(mm.config.refresh_ns);
                    self.schedule(next, Action::Requote);
                }
            }
            Action::Deliver(event) => self.deliver(&event),
            Action::Bid { agent, event } => {
                let auction = event.payload::<LiquidatorBid>().auction();
                self.agents[agent].inflight.retain(|a| *a != auction);
                self.deliver(&event);
            }
            Action::Execute(intent) => self.execute_intent(&intent, now),
            Action::Hedge { agent, instrument, side, qty } => {
                let mut left = qty;
                let mut levels = Vec::new();
                while left > 0 {
                    let Some(k) = self.venues.deepest(instrument, side, 20) else { break };
                    let got = self.venues.take(k, side, left, None, now, |_| {}, |e| levels.push(e));
                    if got == 0 {
                        break;
                    }
                    left -= got;
                }
                self.agents[agent].hedged_lots += qty - left;
                for e in &levels {
                    self.deliver(e);
                }
            }
        }
    }

    fn execute_intent(&mut self, intent: &Event, now: i64) {
        let order: RoutedIntent = intent.payload();
        let Some(k) = self.venues.slot(intent.venue, intent.instrument) else {
            let done = self.intent_fill(intent, 0, 0, true, now);
            self.deliver(&done);
            return;
        };
        // The intent's side is the order's; it hits the opposite side of the book.
        let hit = intent.side().unwrap_or(Side::None).opposite();
        let mut fills = Vec::new();
        let mut levels = Vec::new();
        self.venues.take(k, hit, order.qty, Some(order.limit), now, |f| fills.push(f), |e| levels.push(e));
        for e in &levels {
            self.deliver(e);
        }
        if fills.is_empty() {
            let done = self.intent_fill(intent, 0, 0, true, now);
            self.deliver(&done);
        }
        let n = fills.len();
        for (i, f) in fills.into_iter().enumerate() {
            let e = self.intent_fill(intent, f.price, f.qty, i + 1 == n, now);
            self.deliver(&e);
        }
    }

    fn intent_fill(&self, intent: &Event, price: i64, qty: i64, done: bool, now: i64) -> Event {
        let mut e = Event::new(EventKind::IntentFill, Venue::from_u8(intent.venue).unwrap_or(Venue::Gavel), intent.instrument, OrderRef { order_id: intent.sequence, price, qty })
            .with_times(intent.sequence, now, now);
        e.flags = u8::from(done);
        e
    }

    /// The market maker cancels its resting orders and quotes the deepest venue's top levels.
    fn requote(&mut self, now: i64) {
        let Some(mm) = self.market_maker.as_mut() else { return };
        let (account, levels, share) = (mm.account, mm.config.levels, mm.config.share_ppm);
        let instruments = mm.resting.len();
        let mut orders = Vec::new();
        for i in 0..instruments {
            for id in std::mem::take(&mut mm.resting[i]) {
                let cancel = ClientCancel { account: account_to_wire(account), order_id: id, reserved: 0 };
                orders.push(Event::new(EventKind::ClientCancel, Venue::Gavel, i as u32, cancel).with_times(id, now, now));
            }
            for side in [Side::Bid, Side::Ask] {
                let Some(k) = self.venues.deepest(i as u32, side, levels) else { continue };
                for (price, qty) in self.venues.top_levels(k, side, levels) {
                    let q = (i128::from(qty) * i128::from(share) / 1_000_000) as i64;
                    if q <= 0 {
                        continue;
                    }
                    let id = mm.next_id;
                    mm.next_id += 1;
                    let mut e = Event::new(EventKind::ClientOrder, Venue::Gavel, i as u32, ClientOrder { account: account_to_wire(account), price, qty: q })
                        .with_side(side)
                        .with_times(id, now, now);
                    e.flags = order_flags::TYPE_LIMIT | order_flags::POST_ONLY;
                    orders.push(e);
                }
            }
        }
        for e in &orders {
            self.deliver(e);
        }
    }

    fn react(&mut self, o: &Event) {
        let now = o.receive_ns;
        match o.kind() {
            Some(EventKind::MarkPrice) => self.series.mark.push((now, o.payload::<gavel_feeds::wire::MarkPrice>().mark)),
            Some(EventKind::RoutedIntent) => {
                let at = now.saturating_add(self.config.venue_latency_ns);
                self.schedule(at, Action::Execute(*o));
            }
            Some(EventKind::AuctionUpdate) if matches!(o.flags, auction_update::START | auction_update::PRICE | auction_update::TAKEN) => self.consider_bids(o),
            Some(EventKind::LiquidationUpdate) => {
                let n: LiquidationNotice = o.payload();
                match o.flags {
                    liquidation_stage::TRIGGERED => {
                        self.reducing.remove(&o.sequence);
                        if let Some(account) = account_from_wire(n.account) {
                            self.liquidated.insert(account);
                        }
                    }
                    liquidation_stage::PREEMPTIVE => {
                        self.reducing.insert(o.sequence);
                    }
                    liquidation_stage::DONE => {
                        self.reducing.remove(&o.sequence);
                    }
                    // A pre-emptive reduction's fills are not liquidations.
                    liquidation_stage::OWN_BOOK | liquidation_stage::AUCTION | liquidation_stage::ROUTED if self.reducing.contains(&o.sequence) => {}
                    liquidation_stage::OWN_BOOK | liquidation_stage::AUCTION | liquidation_stage::ROUTED | liquidation_stage::BACKSTOP | liquidation_stage::ADL => {
                        self.series.liquidations.push((now, n.price));
                        self.series.insurance_fund.push((now, self.engine.ledger().fund.balance()));
                    }
                    _ => {}
                }
            }
            Some(EventKind::LedgerRecord) => {
                let entry: LedgerEntry = o.payload();
                let (_, counterparty) = ledger_accounts(entry.accounts);
                if o.flags == ledger_record::ADL {
                    let ins = self.engine.ledger().book.instruments().get(o.instrument as InstrumentId);
                    self.adl_notional += ins.notional(entry.amount, entry.price);
                }
                if o.flags == ledger_record::FILL {
                    if let Some(agent) = self.agents.iter().position(|a| Some(a.account) == counterparty) {
                        // The liquidated account's lots are `amount`; the liquidator took the other side
                        // and hedges it: having bought, it sells into the venues' bids.
                        let bought = entry.amount < 0;
                        let qty = entry.amount.abs();
                        self.agents[agent].won_lots += qty;
                        let at = now.saturating_add(self.agents[agent].config.latency_ns);
                        let side = if bought { Side::Bid } else { Side::Ask };
                        self.schedule(at, Action::Hedge { agent, instrument: o.instrument, side, qty });
                    }
                }
            }
            Some(EventKind::ExecReport) => self.track_market_maker(o),
            Some(EventKind::MarginCall) => self.answer_call(o),
            _ => {}
        }
    }

    /// A called client that answers ([`CallResponse`]) sends a reduce-only market order for
    /// part of its position in the called instrument, after the delay.
    fn answer_call(&mut self, o: &Event) {
        let Some(r) = self.config.call_response else { return };
        let notice: gavel_feeds::wire::MarginCallNotice = o.payload();
        let Some(account) = account_from_wire(notice.account) else { return };
        // SplitMix64's finaliser over (account, call number): who answers is fixed by the inputs.
        let mut z = notice.account ^ o.sequence.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        if z % 1000 >= u64::from(r.share_per_mille) {
            return;
        }
        let book = &self.engine.ledger().book;
        let holder = book.account(account);
        // The own book trades cross accounts only (the engine refuses isolated ones).
        if holder.mode != MarginMode::Cross || self.call_orders >= u64::from(u32::MAX) - CALL_ORDER_IDS {
            return;
        }
        let Some(size) = holder.position(o.instrument as InstrumentId).map(|p| p.size) else { return };
        let qty = (i128::from(size.unsigned_abs()) * i128::from(r.reduce_per_mille) / 1000) as i64;
        if qty <= 0 {
            return;
        }
        self.call_orders += 1;
        let at = o.receive_ns.saturating_add(r.delay_ns);
        let side = if size > 0 { Side::Ask } else { Side::Bid };
        // Client order ids above every orders.csv line number.
        let id = CALL_ORDER_IDS + self.call_orders;
        let mut event = Event::new(EventKind::ClientOrder, Venue::Gavel, o.instrument, gavel_feeds::wire::ClientOrder { account: notice.account, price: 0, qty })
            .with_side(side)
            .with_times(id, at, at);
        event.flags = gavel_feeds::wire::order_flags::TYPE_MARKET | gavel_feeds::wire::order_flags::REDUCE_ONLY;
        self.schedule(at, Action::Deliver(event));
    }

    fn consider_bids(&mut self, o: &Event) {
        let notice: AuctionNotice = o.payload();
        if notice.remaining <= 0 || notice.price <= 0 {
            return;
        }
        if self.stall.is_some_and(|(from, until)| (from..until).contains(&o.receive_ns)) {
            return;
        }
        let auction = o.sequence as u32;
        let buying = o.side() == Some(Side::Bid);
        // A buyer hedges by selling into the venues' bids; a seller by buying their asks.
        let hedge_side = if buying { Side::Bid } else { Side::Ask };
        let (filled, notional) = self.venues.visible_walk(o.instrument, hedge_side, notice.remaining);
        // Settlement units one lot costs at the notice's price.
        let per_lot = self.engine.ledger().book.instruments().get(o.instrument as InstrumentId).notional(1, notice.price);
        for k in 0..self.agents.len() {
            let agent = &self.agents[k];
            if agent.inflight.contains(&auction) {
                continue;
            }
            let Some(reservation) = agent.reservation(buying, filled, notional) else { continue };
            let acceptable = if buying { notice.price <= reservation } else { notice.price >= reservation };
            let affordable = agent.config.capital / per_lot.max(1);
            let qty = notice.remaining.min(filled).min(i64::try_from(affordable).unwrap_or(i64::MAX));
            if !acceptable || qty <= 0 {
                continue;
            }
            let at = o.receive_ns.saturating_add(agent.config.latency_ns);
            let event = Event::new(EventKind::LiquidatorBid, Venue::Gavel, o.instrument, LiquidatorBid::new(agent.config.id, auction, reservation, qty)).with_times(self.seq + 1, at, at);
            self.agents[k].inflight.push(auction);
            self.schedule(at, Action::Bid { agent: k, event });
        }
    }

    fn track_market_maker(&mut self, o: &Event) {
        let Some(mm) = self.market_maker.as_mut() else { return };
        let r: ExecReport = o.payload();
        if r.account != account_to_wire(mm.account) {
            return;
        }
        let key = (o.instrument, o.sequence);
        match o.flags & report::TYPE_MASK {
            report::ACK if r.qty > 0 => {
                self.mm_orders.insert(key, r.qty);
                if let Some(list) = mm.resting.get_mut(o.instrument as usize) {
                    list.push(o.sequence);
                }
            }
            report::FILL => {
                if let Some(left) = self.mm_orders.get_mut(&key) {
                    *left -= r.qty;
                    if *left <= 0 {
                        self.mm_orders.remove(&key);
                        if let Some(list) = mm.resting.get_mut(o.instrument as usize) {
                            list.retain(|id| *id != o.sequence);
                        }
                    }
                }
            }
            report::CANCEL => {
                self.mm_orders.remove(&key);
            }
            report::REJECT => mm.rejected += 1,
            _ => {}
        }
    }

    /// Runs the world past the last captured event until no liquidation is in progress
    /// (or the drain time is up), then measures the outcome.
    pub fn finish(mut self, policy_name: &str) -> (Outcome, Series, Engine) {
        let end = self.last_capture_ns.saturating_add(self.config.drain_ns);
        // The market maker stops quoting once the captures end.
        self.queue.retain(|_, a| !matches!(a, Action::Requote));
        while let Some((&(at, _), _)) = self.queue.first_key_value() {
            let only_ticks = self.queue.values().all(|a| matches!(a, Action::Tick));
            if at > end || (only_ticks && self.engine.active_liquidations() == 0 && at > self.last_capture_ns) {
                break;
            }
            let Some((_, action)) = self.queue.pop_first() else { break };
            self.now = self.now.max(at);
            self.perform(action);
        }
        let outcome = self.measure(policy_name);
        (outcome, self.series, self.engine)
    }

    fn measure(&self, policy_name: &str) -> Outcome {
        let engine = &self.engine;
        let ledger = engine.ledger();
        let m = engine.metrics();
        let book = &ledger.book;
        let kept: i128 = self
            .liquidated
            .iter()
            .map(|&a| book.account_health(a).map_or_else(|| book.account(a).cash(), |h| h.equity).max(0))
            .sum();
        let backstop_loss = engine.config().backstop_account.map_or(0, |vault| {
            let equity = book.account_health(vault).map_or_else(|| book.account(vault).cash(), |h| h.equity);
            (engine.backstop_start() - equity).max(0)
        });
        let tts = engine.time_to_solvency();
        let (adl_accounts_hit, adl_largest_loss) = (0..book.accounts().len() as AccountId)
            .map(|a| engine.adl_loss(a))
            .filter(|&loss| loss > 0)
            .fold((0u64, 0i128), |(n, top), loss| (n + 1, top.max(loss)));
        let mut counters = vec![
            ("own_trades", m.own_trades),
            ("orders_accepted", m.orders_accepted),
            ("orders_rejected", m.orders_rejected),
            ("bids_accepted", m.bids_accepted),
            ("bids_rejected", m.bids_rejected),
            ("stale_intent_fills", m.stale_intent_fills),
            ("pool_full", m.pool_full),
            ("mirror_overflow", m.mirror_overflow),
            ("ignored_events", m.ignored_events),
            ("adl_exhausted_lots", m.adl_exhausted_lots.max(0) as u64),
            ("solvent_again", m.solvent_again),
            ("engine_inputs", self.inputs_delivered),
            ("engine_outputs", self.outputs_seen),
        ];
        if let Some(mm) = &self.market_maker {
            counters.push(("market_maker_rejects", mm.rejected));
        }
        counters.push(("liquidator_hedged_lots", self.agents.iter().map(|a| a.hedged_lots.max(0) as u64).sum()));
        Outcome {
            policy: policy_name.to_string(),
            bad_debt: ledger.bad_debt(),
            fund_start: m.fund_start,
            fund_end: ledger.fund.balance(),
            fund_min: m.fund_min,
            fund_draws: m.fund_draws,
            adl_counterparty_loss: m.adl_counterparty_loss,
            adl_notional: self.adl_notional,
            adl_excess: m.adl_excess,
            adl_accounts_hit,
            adl_largest_loss,
            backstop_loss,
            arrival_harm: m.arrival_harm,
            arrival_notional: m.arrival_notional,
            arrival_slippage_per_fill_bps: m.arrival_slippage_per_fill_bps(),
            user_equity_kept: kept,
            penalties: m.penalties,
            liquidations: m.liquidations,
            full_liquidations: m.full_closes,
            accounts_touched: m.accounts_touched,
            zero_fill_attempts: m.zero_fill_attempts,
            volume: m.volume,
            cascade_depth: m.cascade_depth,
            time_to_solvency_ns: (tts.value_at_quantile(0.5), tts.value_at_quantile(0.99)),
            margin_calls: m.margin_calls,
            liquidations_preceded_by_call: m.liquidations_preceded_by_call,
            margin_calls_on_implied: m.margin_calls_on_implied,
            margin_call_orders: self.call_orders,
            preemptive_reductions: m.preemptive_reductions,
            preemptive_lots: m.preemptive_lots,
            preemptive_upgraded: m.preemptive_upgraded,
            preemptive_cost: m.preemptive_cost,
            deficit_at_first_trigger: m.deficit_at_first_trigger,
            call_lead_time_ns: (engine.call_lead_time().value_at_quantile(0.5), engine.call_lead_time().value_at_quantile(0.99)),
            peak_impact_centi_bps: self.venues.peak_impact_centi_bps,
            conservation_error: ledger.check_conservation(),
            counters,
            latency: vec![self.engine_stage.clone()],
        }
    }
}
