//! Inverse (coin-margined) contracts through the risk layer: the shipped
//! BTCUSD entry, the trigger index, the liquidation plan and the ledger's
//! conservation to the coin unit.

use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE};
use gavel_engine::risk::liquidation::plan;
use gavel_engine::risk::{margin, Ledger, LiquidationFill, LiquidationParams, MarginMode, RiskBook, RiskEvent, Trigger};
use proptest::prelude::*;

fn instruments() -> InstrumentSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    InstrumentSet::load(&path).unwrap()
}

fn btcusd(set: &InstrumentSet) -> u16 {
    set.id("BTCUSD").expect("docs/examples/instruments.toml ships BTCUSD")
}

#[test]
fn shipped_btcusd_reproduces_binance_coin_m_example() {
    let set = instruments();
    let ins = set.get(btcusd(&set));
    assert!(ins.is_inverse());
    assert_eq!(ins.settlement_asset, "BTC");
    let mark = ins.parse_price("25000").unwrap();
    // 100 contracts × 100 USD ÷ 25,000 = 0.4 BTC; × 0.4 % = 0.0016 BTC.
    let notional = ins.notional(100, mark);
    assert_eq!(notional, 4 * QUOTE_SCALE / 10);
    assert_eq!(ins.maintenance(notional), 16 * QUOTE_SCALE / 10_000);
}

/// One account holding `size` BTCUSD contracts opened at `entry` ticks with `balance` BTC units.
fn book(mode: MarginMode, size: i64, entry: i64, balance: i128) -> (RiskBook, u32, u16) {
    let set = instruments();
    let id = btcusd(&set);
    let entry_value = set.get(id).fill_value(size, entry);
    let mut b = RiskBook::new(set);
    let a = b.add_account("a", mode, if mode == MarginMode::Cross { balance } else { 0 }).unwrap();
    b.set_position(a, id, size, entry_value, if mode == MarginMode::Isolated { balance } else { 0 });
    (b, a, id)
}

#[test]
fn trigger_index_crosses_exactly_at_the_liquidation_price() {
    for (mode, size) in [(MarginMode::Cross, 1_000), (MarginMode::Isolated, 1_000), (MarginMode::Cross, -1_000), (MarginMode::Isolated, -1_000)] {
        // 1,000 contracts (4 BTC at 25,000) with 0.2 BTC: about 20x.
        let (mut b, a, id) = book(mode, size, 250_000, 200_000);
        let acc = b.account(a).clone();
        let mut marks = vec![None; b.instruments().len()];
        marks[usize::from(id)] = Some(250_000);
        let t = margin::position_trigger(b.instruments(), &marks, &acc, 0).unwrap();
        let (lp, first_crossed, last_safe) = match t {
            Trigger::Long(p) => (p, p - 1, p),
            Trigger::Short(p) => (p, p + 1, p),
        };
        assert!((200_000..300_000).contains(&lp), "{mode:?} {size}: {t:?}");
        let mut crossed = Vec::new();
        b.set_mark(id, last_safe, &mut crossed);
        assert!(crossed.is_empty() && !b.health(a, id).unwrap().liquidatable(), "{mode:?} {size} at {last_safe}");
        b.set_mark(id, first_crossed, &mut crossed);
        assert_eq!(crossed, vec![a], "{mode:?} {size} at {first_crossed}");
        assert!(b.health(a, id).unwrap().liquidatable());
        assert_eq!(b.liquidatable_scan(), b.liquidatable_indexed());
        // The plan closes part or all of it, with the bankruptcy price beyond the mark.
        let r = plan(&b, a, id, &LiquidationParams::default(), 500_000).unwrap();
        let bp = r.bankruptcy_price.unwrap();
        assert!(if size > 0 { bp < first_crossed } else { bp > first_crossed }, "{r:?}");
        assert_eq!(r.liquidation_price, Some(lp));
    }
}

#[test]
fn liquidation_at_the_mark_restores_the_unit_and_conserves() {
    let (mut b, a, id) = book(MarginMode::Cross, 1_000, 250_000, 200_000);
    b.set_mark(id, 250_000, &mut Vec::new());
    let lp = margin::position_trigger(b.instruments(), b.marks(), b.account(a), 0).and_then(|t| t.price()).unwrap();
    b.set_mark(id, lp - 1, &mut Vec::new());
    let mut l = Ledger::new(b, 10 * QUOTE_SCALE);
    // Penalty 0.2 % (below the 0.4 % maintenance rate, so a partial close restores).
    let r = plan(&l.book, a, id, &LiquidationParams::default(), 200_000).unwrap();
    assert!(!r.full_close && r.qty < 1_000, "{r:?}");
    let mut out = Vec::new();
    let res = l.settle_liquidation(&r, &[LiquidationFill { qty: r.qty, price: lp - 1 }], &mut out);
    assert_eq!((res.filled, res.uncovered), (r.qty, 0));
    assert!(res.penalty > 0);
    assert!(!l.book.health(a, id).unwrap().liquidatable());
    assert_eq!(l.check_conservation(), 0);
    assert_eq!(l.net_position(id), 0);
}

#[derive(Debug, Clone)]
enum Ev {
    Open(usize, i64, i64, i64),
    Mark(i64),
    Funding(i64),
    Deposit(usize, i64),
    Liquidate(Vec<(i64, i64)>),
    Adl(usize, i64),
    Between(usize, usize, i64, i64),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        3 => (0usize..8, -3_000i64..3_000, -3_000i64..3_000, 0i64..1_000).prop_map(|(a, q, o, f)| Ev::Open(a, q, o, f)),
        3 => (-20_000i64..20_000).prop_map(Ev::Mark),
        1 => (-20_000i64..20_000).prop_map(Ev::Funding),
        1 => (0usize..8, -500i64..5_000).prop_map(|(a, d)| Ev::Deposit(a, d)),
        3 => prop::collection::vec((1i64..3_000, -20_000i64..5_000), 0..4).prop_map(Ev::Liquidate),
        1 => (0usize..8, 1i64..3_000).prop_map(|(a, q)| Ev::Adl(a, q)),
        1 => (0usize..8, 0usize..8, -2_000i64..2_000, -3_000i64..3_000).prop_map(|(a, b, q, o)| Ev::Between(a, b, q, o)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// The ledger balances to the coin unit (10^-6 BTC) after every event of a
    /// random stream of BTCUSD opens at prices off the round numbers (so coin
    /// values are rarely whole), account-to-account fills, mark moves,
    /// funding, deposits, liquidations (fills at, better and worse than
    /// bankruptcy, partial) and ADL.
    #[test]
    fn inverse_ledger_conserves_coin_after_every_event(
        setup in prop::collection::vec((any::<bool>(), 1_000i64..2_000_000, -3_000i64..3_000, 150_000i64..350_000), 8),
        seed in 0i64..2_000_000,
        events in prop::collection::vec(ev(), 1..80),
    ) {
        let set = instruments();
        let id = btcusd(&set);
        let mut b = RiskBook::new(set);
        for (i, &(iso, coll, lots, entry)) in setup.iter().enumerate() {
            let mode = if iso { MarginMode::Isolated } else { MarginMode::Cross };
            let acc = b.add_account(&format!("a{i}"), mode, i128::from(coll)).unwrap();
            if lots != 0 {
                let value = b.instruments().get(id).fill_value(lots, entry);
                b.set_position(acc, id, lots, value, if iso { i128::from(coll) } else { 0 });
            }
        }
        let mut mark = 250_003i64;
        b.set_mark(id, mark, &mut Vec::new());
        let mut l = Ledger::new(b, i128::from(seed));
        prop_assert_eq!(l.check_conservation(), 0);
        let mut out = Vec::new();
        for e in events {
            match e {
                Ev::Open(a, q, o, fee) => { l.trade(a as u32, id, q, (mark + o).max(1), i128::from(fee), &mut out); }
                Ev::Between(a, c, q, o) => { if a != c { l.fill_between(a as u32, c as u32, id, q, (mark + o).max(1), 7, -3); } }
                Ev::Mark(d) => { mark = (mark + d).max(10_000); l.book.set_mark(id, mark, &mut Vec::new()); }
                Ev::Funding(r) => l.funding(id, i128::from(r)),
                Ev::Deposit(a, d) => l.deposit(a as u32, i128::from(d) * 1_000),
                Ev::Liquidate(fills) => {
                    let mut crossed = Vec::new();
                    l.book.crossed(id, &mut crossed);
                    if let Some(&a) = crossed.first() {
                        prop_assert!(l.book.health(a, id).unwrap().liquidatable());
                        if let Some(req) = plan(&l.book, a, id, &LiquidationParams::default(), 1_000_000) {
                            let anchor = req.bankruptcy_price.unwrap_or(mark);
                            let side = if req.position_size > 0 { 1 } else { -1 };
                            let fills: Vec<LiquidationFill> = fills.iter().map(|&(q, off)| LiquidationFill { qty: q, price: (anchor + side * off).max(1) }).collect();
                            let res = l.settle_liquidation(&req, &fills, &mut out);
                            prop_assert!(res.deleveraged <= res.uncovered);
                            let adl: i64 = out.iter().filter_map(|e| if let RiskEvent::Adl { qty, account, .. } = e { (*account == a).then_some(*qty) } else { None }).sum();
                            prop_assert_eq!(adl, res.deleveraged);
                        }
                    }
                }
                Ev::Adl(a, q) => { l.auto_deleverage(a as u32, id, q, mark, &mut out); }
            }
            out.clear();
            prop_assert_eq!(l.check_conservation(), 0);
            prop_assert!(l.fund.balance() >= 0);
            prop_assert_eq!(l.net_position(id), 0);
            prop_assert_eq!(l.book.liquidatable_scan(), l.book.liquidatable_indexed());
        }
    }
}

#[test]
fn the_engine_loop_runs_an_inverse_book_and_venue_rules_refuse_it_naming_the_instrument() {
    use gavel_engine::engine::{Engine, EngineConfig, EnginePolicy};
    use gavel_engine::venue_rules::{binance::BinanceParams, VenueRules};
    use gavel_feeds::Venue;
    let config = || EngineConfig::for_venues(vec![Venue::BinanceCoinm]);
    let (b, _, _) = book(MarginMode::Cross, 100, 250_000, 10_000);
    assert!(Engine::new(config(), EnginePolicy::builtin("naive").unwrap(), Ledger::new(b.clone(), 0)).is_ok());
    let rules = EnginePolicy::for_rules(VenueRules::BinanceUsdm(BinanceParams));
    let e = Engine::new(config(), rules, Ledger::new(b, 0)).err().expect("refused");
    assert!(e.contains("BTCUSD") && e.contains("inverse"), "{e}");
}
