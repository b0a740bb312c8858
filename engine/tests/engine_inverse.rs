//! Inverse (coin-margined) contracts in the engine loop: a BTCUSD book whose money is
//! BTC is liquidated through the own book and routed intents, with penalties on the coin
//! notional, the fund covering exactly the coin loss beyond the bankruptcy price, and the
//! ledger conserving to the coin unit after every event.

mod engine_common;

use engine_common::{intent_fill, level, limit, of_kind, policy, quotes, run, timer, SEC, VENUE};
use gavel_engine::engine::{reject_code, Engine, EngineConfig, EnginePolicy, Stage};
use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE};
use gavel_engine::risk::{margin, AccountId, Ledger, MarginMode, RiskBook};
use gavel_engine::venue_rules::{dydx::DydxParams, VenueRules};
use gavel_feeds::wire::{ledger_record, liquidation_stage, report, EventKind, LedgerEntry, LiquidationNotice, RoutedIntent, Side};

/// BTCUSD: contracts of 100 USD, tick 0.1 USD, money in 10⁻⁶ BTC, maintenance 0.5 %.
const BTCUSD: &str = "[[instrument]]\nsymbol = \"BTCUSD\"\nkind = \"inverse\"\ncontract_value = \"100\"\n\
    settlement_asset = \"BTC\"\ntick_size = \"0.1\"\nlot_size = \"1\"\n\
    brackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.005\", max_leverage = 100 }]\n";

/// 25,000.0 USD in ticks.
const ENTRY: i64 = 250_000;

fn btc(milli: i64) -> i128 {
    i128::from(milli) * QUOTE_SCALE / 1_000
}

struct Book {
    book: RiskBook,
    victim: AccountId,
    maker: AccountId,
}

/// A victim long 1,000 contracts (4 BTC at 25,000) with 0.5 BTC: liquidatable below about
/// 22,350, bankrupt at 22,222.3. A short holding the other side and a maker with 100 BTC.
fn book() -> Book {
    let set = InstrumentSet::parse(BTCUSD, "test").expect("instrument");
    let mut book = RiskBook::new(set);
    let entry = |b: &RiskBook, size: i64| b.instruments().get(0).fill_value(size, ENTRY);
    let victim = book.add_account("victim", MarginMode::Cross, btc(500)).unwrap();
    let (long, short) = (entry(&book, 1_000), entry(&book, -1_000));
    book.set_position(victim, 0, 1_000, long, 0);
    let holder = book.add_account("short", MarginMode::Cross, btc(100_000)).unwrap();
    book.set_position(holder, 0, -1_000, short, 0);
    let maker = book.add_account("maker", MarginMode::Cross, btc(100_000)).unwrap();
    Book { book, victim, maker }
}

fn engine_over(book: RiskBook, fund: i128, policy: EnginePolicy) -> Result<Engine, String> {
    Engine::new(EngineConfig::for_venues(vec![VENUE]), policy, Ledger::new(book, fund))
}

fn size(engine: &Engine, account: AccountId) -> i64 {
    engine.ledger().book.account(account).position(0).map_or(0, |p| p.size)
}

#[test]
fn an_inverse_long_is_closed_into_a_resting_bid_with_its_penalty_on_the_coin_notional() {
    let b = book();
    let policy = policy("partial", |p| p.stages = vec![Stage::OwnBook]);
    let mut engine = engine_over(b.book, 0, policy).expect("an inverse book runs in the engine");
    let mut out = Vec::new();
    let mut events = quotes(None, ENTRY - 100, ENTRY + 100, 10_000, SEC);
    // The maker bids 22,300.0 for 1,000 contracts in the own book (its order is checked
    // for initial margin in BTC: 4.48 BTC of notional at 100×).
    events.push(limit(b.maker, 42, Side::Bid, 223_000, 1_000, SEC));
    events.extend(quotes(Some((ENTRY - 100, ENTRY + 100)), 222_900, 223_100, 10_000, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);

    let ack = of_kind(&out, EventKind::ExecReport).into_iter().find(|e| e.sequence == 42).expect("the maker's order is answered");
    assert_eq!(ack.flags & report::TYPE_MASK, report::ACK, "the maker's bid rests");
    let notices = of_kind(&out, EventKind::LiquidationUpdate);
    let triggered: LiquidationNotice = notices.first().expect("the victim is liquidated").payload();
    assert_eq!((notices[0].flags, triggered.account), (liquidation_stage::TRIGGERED, u64::from(b.victim)));
    let fills: Vec<LiquidationNotice> = notices.iter().filter(|e| e.flags == liquidation_stage::OWN_BOOK).map(|e| e.payload()).collect();
    let closed: i64 = fills.iter().map(|f| f.qty).sum();
    assert!(closed > 0 && closed <= 1_000 && fills.iter().all(|f| f.price == 223_000), "{fills:?}");
    assert_eq!((size(&engine, b.victim), size(&engine, b.maker)), (1_000 - closed, closed));
    // The penalty is a share of the coin notional closed (about 0.0448 BTC per 10
    // contracts at 22,300), never of price × lots.
    let ins = engine.ledger().book.instruments().get(0).clone();
    let notional = ins.notional(closed, 223_000);
    let penalty = engine.metrics().penalties;
    assert!(penalty > 0 && penalty <= notional / 10, "penalty {penalty} on a coin notional of {notional}");
    let records: Vec<LedgerEntry> = of_kind(&out, EventKind::LedgerRecord).iter().filter(|e| e.flags == ledger_record::PENALTY).map(|e| e.payload()).collect();
    assert_eq!(records.iter().map(|r| i128::from(r.amount)).sum::<i128>(), penalty);
    // The victim is margined again after the partial close.
    let health = engine.ledger().book.health(b.victim, 0).expect("health");
    assert!(!health.liquidatable(), "{health:?}");
}

#[test]
fn the_fund_covers_exactly_the_coin_loss_of_a_fill_beyond_the_bankruptcy_price() {
    let b = book();
    let (victim, ins) = (b.victim, b.book.instruments().get(0).clone());
    let account = b.book.account(victim).clone();
    let bankruptcy = margin::bankruptcy_price(&ins, 1_000, account.positions[0].entry_notional, account.wallet).expect("a bankruptcy price");
    assert!((222_220..222_230).contains(&bankruptcy), "{bankruptcy}");
    let policy = policy("naive", |p| p.stages = vec![Stage::Route]);
    let mut engine = engine_over(b.book, btc(10_000), policy).unwrap();
    let mut out = Vec::new();
    // A gap to 21,000: every fill is below the bankruptcy price.
    let mut events = quotes(None, ENTRY - 100, ENTRY + 100, 10_000, SEC);
    events.extend(quotes(Some((ENTRY - 100, ENTRY + 100)), 209_900, 210_100, 10_000, 2 * SEC));
    events.push(timer(2 * SEC + 1));
    run(&mut engine, &events, &mut out);
    let intents = of_kind(&out, EventKind::RoutedIntent);
    let intent = intents.first().expect("the close is routed");
    let r: RoutedIntent = intent.payload();
    assert_eq!(r.qty, 1_000, "naive closes everything");
    assert!(r.limit <= 209_900, "the fund backs a limit through the bid: {}", r.limit);
    // The venue fills it at 21,000.0.
    let price = 210_000.max(r.limit);
    let mut later = Vec::new();
    run(&mut engine, &[intent_fill(intent.sequence, price, 1_000, true, 2 * SEC + 2)], &mut later);
    assert_eq!(size(&engine, victim), 0);
    // What the sale lost beyond the bankruptcy price, in BTC units: 1,000 × 100 USD ×
    // (1/21,000 − 1/22,222.3) ≈ 0.262 BTC.
    let beyond = -ins.value_change(1_000, bankruptcy, price);
    assert!((250_000..270_000).contains(&beyond), "{beyond}");
    assert_eq!(engine.metrics().fund_draws, beyond);
    let draws: Vec<LedgerEntry> = of_kind(&later, EventKind::LedgerRecord).iter().filter(|e| e.flags == ledger_record::FUND_DRAW).map(|e| e.payload()).collect();
    assert_eq!(draws.iter().map(|d| i128::from(d.amount)).sum::<i128>(), beyond);
    // The victim ends at zero or just above: the fund paid the loss, nothing is bad debt.
    let left = engine.ledger().book.account(victim).wallet;
    assert!((0..=2).contains(&left), "the victim's BTC left: {left}");
}

#[test]
fn the_fund_bounds_the_routed_limit_where_its_coin_runs_out() {
    let b = book();
    let ins = b.book.instruments().get(0).clone();
    let account = b.book.account(b.victim).clone();
    let bankruptcy = margin::bankruptcy_price(&ins, 1_000, account.positions[0].entry_notional, account.wallet).unwrap();
    let policy = policy("naive", |p| p.stages = vec![Stage::Route]);
    // 0.1 BTC of fund: it covers 1,000 contracts down to about 1/(1/22,222.3 + 0.1/100,000)
    // = 21,739 USD, not to the 21,000 of the book.
    let mut engine = engine_over(b.book, btc(100), policy).unwrap();
    let mut out = Vec::new();
    // The crashed book: 400 bid at 21,800.0, 10,000 at 21,600.0.
    let mut events = quotes(None, ENTRY - 100, ENTRY + 100, 10_000, SEC);
    let t = 2 * SEC;
    events.extend([
        level(Side::Bid, ENTRY - 100, 0, t),
        level(Side::Ask, ENTRY + 100, 0, t),
        level(Side::Bid, 218_000, 400, t),
        level(Side::Bid, 216_000, 10_000, t),
        level(Side::Ask, 218_200, 10_000, t),
        timer(t + 1),
    ]);
    run(&mut engine, &events, &mut out);
    let r: RoutedIntent = of_kind(&out, EventKind::RoutedIntent).first().expect("routed").payload();
    // Exactly the lowest price at which the fund's 100,000 units cover the 1,000 contracts'
    // loss beyond the bankruptcy price: the venue may fill the 400 at 21,800, not 21,600.
    let lowest = (200_000..bankruptcy).find(|&p| -ins.value_change(1_000, bankruptcy, p) <= btc(100)).unwrap();
    assert!((217_300..217_500).contains(&lowest), "{lowest}");
    assert_eq!((r.limit, r.qty), (lowest, 1_000));
}

/// The shipped instruments (linear BTCUSDT, ETHUSDT and inverse BTCUSD) with account `a`
/// long 10 BTCUSD at 25,000 on 1 BTC and an empty account `b` with 1 BTC: the book, the
/// two BTC instruments' ids, `a` and `b`.
fn shipped_book() -> (RiskBook, u16, u16, AccountId, AccountId) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    let set = InstrumentSet::load(&path).unwrap();
    let (linear, inverse) = (set.id("BTCUSDT").unwrap(), set.id("BTCUSD").unwrap());
    let mut book = RiskBook::new(set);
    let a = book.add_account("a", MarginMode::Cross, btc(1_000)).unwrap();
    let value = book.instruments().get(inverse).fill_value(10, ENTRY);
    book.set_position(a, inverse, 10, value, 0);
    let b = book.add_account("b", MarginMode::Cross, btc(1_000)).unwrap();
    (book, linear, inverse, a, b)
}

#[test]
fn client_orders_trade_the_books_settlement_asset_only() {
    let (mut book, linear, inverse, a, b) = shipped_book();
    let value = book.instruments().get(inverse).fill_value(-10, ENTRY);
    book.set_position(b, inverse, -10, value, 0);
    let mut engine = engine_over(book, 0, EnginePolicy::builtin("naive").unwrap()).unwrap();
    let mut out = Vec::new();
    for mut e in quotes(None, ENTRY - 100, ENTRY + 100, 10_000, SEC) {
        e.instrument = u32::from(inverse);
        engine.on_event(&e, &mut out);
    }
    let mut on = |instrument: u16, id: u64, price: i64, qty: i64| {
        let mut e = limit(a, id, Side::Bid, price, qty, SEC + 1);
        e.instrument = u32::from(instrument);
        engine.on_event(&e, &mut out);
        let r = of_kind(&out, EventKind::ExecReport).into_iter().rfind(|r| r.sequence == id).expect("answered");
        (r.flags & report::TYPE_MASK, r.flags >> report::REASON_SHIFT)
    };
    assert_eq!(on(inverse, 1, ENTRY - 1_000, 1), (report::ACK, 0), "BTCUSD settles in the book's BTC");
    assert_eq!(on(linear, 2, 500_000, 1), (report::REJECT, reject_code::UNKNOWN_INSTRUMENT), "BTCUSDT settles in USDT: not tradable in a BTC book");
    // Initial margin (at 125×) is taken on the coin notional at the lower of the bid's price
    // and the mark. With 1 BTC of equity: 10 held + 1 + 900 bid at 1,010 USD is 90.2 BTC of
    // notional (0.72 BTC required); 400 more at 1,000 USD make 131.1 BTC (1.05). At the
    // mark (25,000) the same 1,311 contracts would be 5.2 BTC.
    assert_eq!(on(inverse, 3, 10_100, 900).0, report::ACK);
    assert_eq!(on(inverse, 4, 10_000, 400), (report::REJECT, reject_code::MARGIN));
}

#[test]
fn mixed_settlement_assets_and_venue_rules_over_inverse_are_refused() {
    let (mut book, linear, _, _, b) = shipped_book();
    book.set_position(b, linear, 1, 500_000 * book.instruments().get(linear).quote_per_tick_lot, 0);
    let e = engine_over(book, 0, EnginePolicy::builtin("naive").unwrap()).err().expect("refused");
    assert!(e.contains("one settlement asset") && e.contains("BTC"), "{e}");
    let rules = || EnginePolicy::for_rules(VenueRules::DydxV4(DydxParams::default()));
    let (btc_book, ..) = shipped_book();
    let e = engine_over(btc_book, 0, rules()).err().expect("refused");
    assert!(e.contains("BTCUSD") && e.contains("--rules"), "{e}");
    // The same instruments in a USDT book: BTCUSD is not traded there, so the rules run.
    let (mut linear_book, linear, inverse, a, _) = shipped_book();
    linear_book.set_position(a, inverse, 0, 0, 0);
    linear_book.set_position(a, linear, 1, 500_000 * linear_book.instruments().get(linear).quote_per_tick_lot, 0);
    assert!(engine_over(linear_book, 0, rules()).is_ok());
}
