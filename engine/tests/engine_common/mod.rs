//! Shared set-up of the engine tests: one instrument X (tick 0.01, lot 1,
//! maintenance 5 %, 10× leverage), one mirrored venue, event builders.
#![allow(dead_code)]

use gavel_engine::engine::{Engine, EngineConfig, EnginePolicy};
use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE};
use gavel_engine::risk::{AccountId, Ledger, MarginMode, RiskBook};
use gavel_feeds::wire::{order_flags, ClientOrder, Event, EventKind, LiquidatorBid, OrderRef, PriceLevel, Side, Venue};

pub const VENUE: Venue = Venue::BinanceUsdm;
pub const SEC: i64 = 1_000_000_000;

pub fn instruments() -> InstrumentSet {
    InstrumentSet::parse(
        "[[instrument]]\nsymbol = \"X\"\ntick_size = \"0.01\"\nlot_size = \"1\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.05\", max_leverage = 10 }]\n",
        "test",
    )
    .expect("instrument")
}

/// Quote units of `q` whole quote currency.
pub fn quote(q: i64) -> i128 {
    i128::from(q) * QUOTE_SCALE
}

/// Ticks of a price in cents.
pub const fn cents(c: i64) -> i64 {
    c
}

pub struct Accounts {
    pub book: RiskBook,
}

impl Accounts {
    pub fn new() -> Self {
        Accounts { book: RiskBook::new(instruments()) }
    }

    pub fn add(&mut self, name: &str, collateral: i64) -> AccountId {
        self.book.add_account(name, MarginMode::Cross, quote(collateral)).expect("account")
    }

    /// A position of `size` lots entered at `price_cents`.
    pub fn position(&mut self, id: AccountId, size: i64, price_cents: i64) {
        let mult = self.book.instruments().get(0).quote_per_tick_lot;
        self.book.set_position(id, 0, size, i128::from(size) * i128::from(price_cents) * mult, 0);
    }

    pub fn ledger(self, fund: i64) -> Ledger {
        Ledger::new(self.book, quote(fund))
    }
}

pub fn policy(name: &str, f: impl FnOnce(&mut EnginePolicy)) -> EnginePolicy {
    let mut p = EnginePolicy::builtin(name).expect("builtin");
    f(&mut p);
    p
}

pub fn engine(ledger: Ledger, policy: EnginePolicy, f: impl FnOnce(&mut EngineConfig)) -> Engine {
    let mut config = EngineConfig::for_venues(vec![VENUE]);
    f(&mut config);
    Engine::new(config, policy, ledger).expect("engine")
}

pub fn level(side: Side, price: i64, qty: i64, t: i64) -> Event {
    Event::new(EventKind::BookLevel, VENUE, 0, PriceLevel { price, qty, index: 0 }).with_side(side).with_times(0, t, t)
}

pub fn order(account: AccountId, client_id: u64, side: Side, price: i64, qty: i64, flags: u8, t: i64) -> Event {
    let mut e = Event::new(EventKind::ClientOrder, Venue::Gavel, 0, ClientOrder { account: u64::from(account), price, qty })
        .with_side(side)
        .with_times(client_id, t, t);
    e.flags = flags;
    e
}

pub fn limit(account: AccountId, client_id: u64, side: Side, price: i64, qty: i64, t: i64) -> Event {
    order(account, client_id, side, price, qty, order_flags::TYPE_LIMIT, t)
}

pub fn bid(liquidator: u32, auction: u32, max_price: i64, qty: i64, t: i64) -> Event {
    Event::new(EventKind::LiquidatorBid, Venue::Gavel, 0, LiquidatorBid::new(liquidator, auction, max_price, qty)).with_times(1, t, t)
}

pub fn intent_fill(intent: u64, price: i64, qty: i64, done: bool, t: i64) -> Event {
    let mut e = Event::new(EventKind::IntentFill, VENUE, 0, OrderRef { order_id: intent, price, qty }).with_times(intent, t, t);
    e.flags = u8::from(done);
    e
}

pub fn timer(t: i64) -> Event {
    Event::new(EventKind::Timer, Venue::Gavel, 0, gavel_feeds::wire::Heartbeat { pid: 0, counter: 0, reserved: 0 }).with_times(0, t, t)
}

/// Replaces the venue's two-level book (one bid, one ask) at time `t`.
pub fn quotes(old: Option<(i64, i64)>, bid: i64, ask: i64, qty: i64, t: i64) -> Vec<Event> {
    let mut v = Vec::new();
    if let Some((b, a)) = old {
        v.push(level(Side::Bid, b, 0, t));
        v.push(level(Side::Ask, a, 0, t));
    }
    v.push(level(Side::Bid, bid, qty, t));
    v.push(level(Side::Ask, ask, qty, t));
    v
}

pub fn run(engine: &mut Engine, events: &[Event], out: &mut Vec<Event>) {
    for e in events {
        engine.on_event(e, out);
        assert_eq!(engine.ledger().check_conservation(), 0, "conservation after {e:?}");
        assert_eq!(engine.ledger().net_position(0), 0, "net position after {e:?}");
    }
}

pub fn of_kind(out: &[Event], kind: EventKind) -> Vec<Event> {
    out.iter().filter(|e| e.kind() == Some(kind)).copied().collect()
}

/// The ADL transfers the engine journaled, in order.
#[allow(dead_code)]
pub fn adl_records(out: &[Event]) -> Vec<gavel_feeds::wire::LedgerEntry> {
    of_kind(out, EventKind::LedgerRecord).iter().filter(|e| e.flags == gavel_feeds::wire::ledger_record::ADL).map(|e| e.payload()).collect()
}
