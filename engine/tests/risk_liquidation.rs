//! Partial liquidation, bankruptcy, insurance fund, ADL and the conservation
//! ledger.

use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::risk::liquidation::plan;
use gavel_engine::risk::penalty::penalty_amount;
use gavel_engine::risk::{Ledger, LiquidationFill, LiquidationParams, MarginMode, RiskBook, RiskEvent};
use gavel_feeds::Side;
use proptest::prelude::*;

fn instruments() -> InstrumentSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    InstrumentSet::load(&path).unwrap()
}

const BTC: u16 = 0;

/// One cross account long `lots` BTC at 50 000 with `wallet` USDT, mark at `mark`.
fn long_book(wallet: i128, lots: i64, mark: i64) -> (RiskBook, u32) {
    let mut b = RiskBook::new(instruments());
    let a = b.add_account("a", MarginMode::Cross, wallet * QUOTE_SCALE).unwrap();
    b.set_position(a, BTC, lots, i128::from(lots) * 500_000 * 100, 0);
    b.set_mark(BTC, mark, &mut Vec::new());
    (b, a)
}

/// Does closing `q` lots at the mark and paying the penalty restore the unit to maintenance × (1 + buffer)?
fn restored(b: &RiskBook, a: u32, q: i64, rate: i128, buffer: i128) -> bool {
    let mut c = b.clone();
    let mark = c.mark(BTC).unwrap();
    let size = c.account(a).position(BTC).unwrap().size;
    c.apply_fill(a, BTC, -size.signum() * q, mark);
    c.adjust_balance(a, BTC, -penalty_amount(c.instruments().get(BTC).notional(q, mark), rate));
    let h = c.health(a, BTC).unwrap();
    h.equity * RATE_SCALE * RATE_SCALE >= h.maintenance_scaled * (RATE_SCALE + buffer)
}

#[test]
fn partial_liquidation_closes_the_minimum_lots() {
    // 10 BTC long @ 50 000 with 5 000 USDT: LP = (5000 + 1300 − 500000)/(10·0.01 − 10) = 49 868.68… → 49 868.7.
    let (b, a) = long_book(5_000, 10_000, 498_600);
    assert!(b.health(a, BTC).unwrap().liquidatable());
    let params = LiquidationParams::default();
    let rate = 200_000; // 0.2 % penalty
    let r = plan(&b, a, BTC, &params, rate).unwrap();
    assert_eq!(r.side, Side::Ask);
    assert!(!r.full_close);
    assert!(r.qty > 0 && r.qty < 10_000, "{r:?}");
    assert!(restored(&b, a, r.qty, rate, params.buffer_rate));
    assert!(
        !restored(&b, a, r.qty - 1, rate, params.buffer_rate),
        "one lot less must not be enough"
    );
    // Bankruptcy: 50 000 − 5 000/10 = 49 500.
    assert_eq!(r.bankruptcy_price, Some(495_000));
    assert_eq!(r.liquidation_price, Some(498_687));

    // Deep under water (equity ≤ 50 % of maintenance): full close.
    let (b, a) = long_book(5_000, 10_000, 495_500);
    let r = plan(&b, a, BTC, &params, rate).unwrap();
    assert!(r.full_close && r.qty == 10_000);

    // Remainder below min size: full close. A 2-lot position that needs ≥ 1 lot closed.
    let (b, a) = long_book(1, 2, 495_500);
    let r = plan(
        &b,
        a,
        BTC,
        &LiquidationParams {
            full_close_health: 0,
            ..params
        },
        0,
    )
    .unwrap();
    assert_eq!(r.qty, 2);

    // Not liquidatable: no plan.
    let (b, a) = long_book(5_000, 10_000, 500_000);
    assert!(plan(&b, a, BTC, &params, rate).is_none());
}

#[test]
fn closing_at_bankruptcy_leaves_zero_equity_and_worse_draws_the_fund() {
    let (b, a) = long_book(5_000, 10_000, 495_500);
    let r = plan(&b, a, BTC, &LiquidationParams::default(), 0).unwrap();
    let bp = r.bankruptcy_price.unwrap();
    let mut l = Ledger::new(b, 1_000 * QUOTE_SCALE);
    let mut ev = Vec::new();
    // Fill 100 lots 10 ticks (1 USDT) below bankruptcy, the rest at bankruptcy.
    let out = l.settle_liquidation(
        &r,
        &[
            LiquidationFill { qty: 100, price: bp - 10 },
            LiquidationFill { qty: 9_900, price: bp },
        ],
        &mut ev,
    );
    assert_eq!(out.filled, 10_000);
    assert_eq!(out.uncovered, 0);
    // Deficit = 100 lots × 10 ticks × 100 = 100 000 units = 0.1 USDT.
    assert_eq!(out.fund_draw, 100_000);
    assert_eq!(l.fund.balance(), 1_000 * QUOTE_SCALE - 100_000);
    assert_eq!(l.book.account(a).wallet, 0);
    assert_eq!(l.check_conservation(), 0);
    assert!(ev.iter().any(|e| matches!(e, RiskEvent::InsuranceDraw { amount: 100_000, .. })));
    assert!(matches!(ev[0], RiskEvent::Liquidation { qty: 10_000, full_close: true, bankruptcy_price: Some(p), .. } if p == bp));
}

#[test]
fn adl_volume_equals_the_uncovered_shortfall_exactly() {
    let mut b = RiskBook::new(instruments());
    let a = b.add_account("victim", MarginMode::Cross, 5_000 * QUOTE_SCALE).unwrap();
    b.set_position(a, BTC, 10_000, 10_000 * 500_000 * 100, 0);
    // Three profitable shorts (entries above the crash mark), different leverage.
    let shorts = [
        (20_000i128, -4_000i64, 520_000i64),
        (2_000, -3_000, 510_000),
        (50_000, -8_000, 505_000),
    ];
    let mut ids = Vec::new();
    for (i, &(w, s, e)) in shorts.iter().enumerate() {
        let id = b.add_account(&format!("s{i}"), MarginMode::Cross, w * QUOTE_SCALE).unwrap();
        b.set_position(id, BTC, s, i128::from(s) * i128::from(e) * 100, 0);
        ids.push(id);
    }
    b.set_mark(BTC, 495_500, &mut Vec::new());
    let r = plan(&b, a, BTC, &LiquidationParams::default(), 0).unwrap();
    assert!(r.full_close);
    let bp = r.bankruptcy_price.unwrap();
    let sizes_before: i64 = ids.iter().map(|&i| b.account(i).position(BTC).unwrap().size).sum();
    // Fund of 10 USDT; fills 50 ticks (5 USDT) below bankruptcy cost 5 000 units per lot:
    // the fund backs exactly 2 000 lots; 3 000 more are offered, the last 5 000 never fill.
    let mut l = Ledger::new(b, 10 * QUOTE_SCALE);
    let mut ev = Vec::new();
    let out = l.settle_liquidation(
        &r,
        &[LiquidationFill {
            qty: 5_000,
            price: bp - 50,
        }],
        &mut ev,
    );
    assert_eq!(out.filled, 2_000);
    assert_eq!(out.uncovered, 8_000);
    assert_eq!(out.deleveraged, 8_000);
    let adl: i64 = ev
        .iter()
        .filter_map(|e| {
            if let RiskEvent::Adl { qty, price, .. } = e {
                assert_eq!(*price, bp);
                Some(*qty)
            } else {
                None
            }
        })
        .sum();
    assert_eq!(adl, out.uncovered, "ADL volume is the shortfall, not more");
    let sizes_after: i64 = ids.iter().map(|&i| l.book.account(i).position(BTC).unwrap().size).sum();
    assert_eq!(sizes_after - sizes_before, 8_000, "counterparties reduced by exactly the shortfall");
    assert_eq!(l.book.account(a).position(BTC).unwrap().size, 0);
    assert_eq!(l.fund.balance(), 0);
    // Ranking by PnL% × effective leverage at mark 49 550:
    //   s0: upnl 9 800 / 208 000 = 4.71 %, leverage 198 200 / 29 800 = 6.65 → 0.313
    //   s1: upnl 4 350 / 153 000 = 2.84 %, leverage 148 650 /  6 350 = 23.4 → 0.666
    //   s2: upnl 7 600 / 404 000 = 1.88 %, leverage 396 400 / 57 600 = 6.88 → 0.129
    let order: Vec<(u32, i64)> = ev
        .iter()
        .filter_map(|e| {
            if let RiskEvent::Adl { counterparty, qty, .. } = e {
                Some((*counterparty, *qty))
            } else {
                None
            }
        })
        .collect();
    assert_eq!(order, vec![(ids[1], 3_000), (ids[0], 4_000), (ids[2], 1_000)]);
    assert_eq!(l.check_conservation(), 0);
    assert_eq!(l.net_position(BTC), 0);
}

#[test]
fn funding_moves_from_longs_to_shorts_and_conserves() {
    let mut b = RiskBook::new(instruments());
    let long = b.add_account("l", MarginMode::Cross, 1_000 * QUOTE_SCALE).unwrap();
    let short = b.add_account("s", MarginMode::Isolated, 0).unwrap();
    b.set_position(long, BTC, 1_000, 50_000 * QUOTE_SCALE, 0);
    b.set_position(short, BTC, -400, -20_000 * QUOTE_SCALE, 500 * QUOTE_SCALE);
    b.set_mark(BTC, 500_000, &mut Vec::new());
    let mut l = Ledger::new(b, 0);
    l.funding(BTC, 10_000); // 0.01 %
                            // Long pays 0.01 % × 50 000 = 5 USDT; the isolated short receives 0.01 % × 20 000 = 2.
    assert_eq!(l.book.account(long).wallet, 995 * QUOTE_SCALE);
    assert_eq!(l.book.account(long).funding, -5 * QUOTE_SCALE);
    assert_eq!(l.book.account(short).position(BTC).unwrap().isolated_margin, 502 * QUOTE_SCALE);
    assert_eq!(l.check_conservation(), 0);
}

#[derive(Clone, Debug)]
enum Ev {
    Open(usize, i64, i64, i64),
    Mark(i64),
    Funding(i64),
    Deposit(usize, i64),
    Liquidate(Vec<(i64, i64)>),
    Adl(usize, i64),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        3 => (0usize..8, -2_000i64..2_000, -300i64..300, 0i64..1_000).prop_map(|(a, q, o, f)| Ev::Open(a, q, o, f)),
        3 => (-3_000i64..3_000).prop_map(Ev::Mark),
        1 => (-20_000i64..20_000).prop_map(Ev::Funding),
        1 => (0usize..8, -500i64..5_000).prop_map(|(a, d)| Ev::Deposit(a, d)),
        3 => prop::collection::vec((1i64..3_000, -2_000i64..500), 0..4).prop_map(Ev::Liquidate),
        1 => (0usize..8, 1i64..3_000).prop_map(|(a, q)| Ev::Adl(a, q)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// The ledger balances to the quote unit after every event of a random
    /// stream of opens, mark moves, funding, deposits, liquidations (fills
    /// at, better and worse than bankruptcy, partial) and ADL.
    #[test]
    fn ledger_conserves_money_after_every_event(
        setup in prop::collection::vec((any::<bool>(), 100i64..20_000, -3_000i64..3_000), 8),
        seed in 0i64..2_000,
        events in prop::collection::vec(ev(), 1..80),
    ) {
        let mut b = RiskBook::new(instruments());
        for (i, &(iso, coll, lots)) in setup.iter().enumerate() {
            let mode = if iso { MarginMode::Isolated } else { MarginMode::Cross };
            let id = b.add_account(&format!("a{i}"), mode, i128::from(coll) * QUOTE_SCALE).unwrap();
            if lots != 0 {
                b.set_position(id, BTC, lots, i128::from(lots) * 500_000 * 100, if iso { i128::from(coll) * QUOTE_SCALE } else { 0 });
            }
        }
        b.set_mark(BTC, 500_000, &mut Vec::new());
        let mut l = Ledger::new(b, i128::from(seed) * QUOTE_SCALE);
        prop_assert_eq!(l.check_conservation(), 0);
        let mut mark = 500_000i64;
        let mut out = Vec::new();
        for e in events {
            match e {
                Ev::Open(a, q, o, fee) => { l.trade(a as u32, BTC, q, (mark + o).max(1), i128::from(fee), &mut out); }
                Ev::Mark(d) => { mark = (mark + d).max(1_000); l.book.set_mark(BTC, mark, &mut Vec::new()); }
                Ev::Funding(r) => l.funding(BTC, i128::from(r)),
                Ev::Deposit(a, d) => l.deposit(a as u32, i128::from(d) * QUOTE_SCALE),
                Ev::Liquidate(fills) => {
                    let mut crossed = Vec::new();
                    l.book.crossed(BTC, &mut crossed);
                    if let Some(&a) = crossed.first() {
                        if let Some(req) = plan(&l.book, a, BTC, &LiquidationParams::default(), 1_000_000) {
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
                Ev::Adl(a, q) => { l.auto_deleverage(a as u32, BTC, q, mark, &mut out); }
            }
            out.clear();
            prop_assert_eq!(l.check_conservation(), 0);
            prop_assert!(l.fund.balance() >= 0);
            prop_assert_eq!(l.net_position(BTC), 0);
        }
    }
}
