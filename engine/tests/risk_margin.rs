//! Margin math against hand-computed vectors and Binance's published one-way
//! liquidation price formula, for every bracket of the shipped instruments.

use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::risk::margin;
use gavel_engine::risk::Trigger;
use gavel_engine::risk::{loader, MarginMode, RiskBook};
use gavel_feeds::Location;
use num_bigint::BigInt;
use proptest::prelude::*;

fn instruments() -> InstrumentSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    InstrumentSet::load(&path).expect("shipped instruments load")
}

fn book_with(mode: MarginMode, wallet: i128) -> (RiskBook, u32) {
    let mut b = RiskBook::new(instruments());
    let id = b.add_account("a", mode, wallet).unwrap();
    (b, id)
}

#[test]
fn hand_computed_isolated_vectors() {
    let (mut b, a) = book_with(MarginMode::Isolated, 0);
    let btc = b.instruments().id("BTCUSDT").unwrap();
    // 1 BTC long @ 50 000, 1 000 USDT isolated: notional at LP < 50 000 → bracket 0.
    // LP = (1000 + 0 − 50000) / (0.004 − 1) = 49 196.787… → up to the tick: 49 196.8.
    b.set_position(a, btc, 1000, 50_000 * QUOTE_SCALE, 1_000 * QUOTE_SCALE);
    let acc = b.account(a).clone();
    let marks = vec![Some(495_000), None];
    assert_eq!(
        margin::position_trigger(b.instruments(), &marks, &acc, 0),
        Some(Trigger::Long(491_968))
    );
    // Bankruptcy: 50 000 − 1 000 = 49 000.
    assert_eq!(margin::position_bankruptcy(b.instruments(), &marks, &acc, 0), Some(490_000));
    // Short 1 BTC: bracket 0 would give 50 796.81 (notional > 50 000, so not bracket 0);
    // bracket 1: (1000 + 50 + 50000) / (1 + 0.005) = 50 796.019… → down: 50 796.0.
    b.set_position(a, btc, -1000, -50_000 * QUOTE_SCALE, 1_000 * QUOTE_SCALE);
    let acc = b.account(a).clone();
    assert_eq!(
        margin::position_trigger(b.instruments(), &marks, &acc, 0),
        Some(Trigger::Short(507_960))
    );
    assert_eq!(margin::position_bankruptcy(b.instruments(), &marks, &acc, 0), Some(510_000));
    // ETH cross: 2 ETH long @ 2600, wallet 200: LP = (200 − 5200)/(2·0.005 − 2) = 2512.562… → 2512.57.
    let (mut b, a) = book_with(MarginMode::Cross, 200 * QUOTE_SCALE);
    let eth = b.instruments().id("ETHUSDT").unwrap();
    b.set_position(a, eth, 2000, 5_200 * QUOTE_SCALE, 0);
    let acc = b.account(a).clone();
    assert_eq!(
        margin::position_trigger(b.instruments(), &[None, Some(255_050)], &acc, 0),
        Some(Trigger::Long(251_257))
    );
}

/// Binance one-way formula, instantiated in integer units (money in quote
/// units, price in ticks, size in lots, rate × RATE_SCALE):
/// `LP = (WB − TMM₁ + UPNL₁ + cum − s·EP) / (|s|·MMR − s)` with TMM₁ = UPNL₁ = 0
/// for a single isolated position. Returns `(num, den)` of LP in ticks.
fn binance_lp(wb: i128, cum: i128, size: i128, entry_notional: i128, mult: i128, rate: i128) -> (i128, i128) {
    let num = RATE_SCALE * (wb + cum - entry_notional);
    let den = size.abs() * mult * rate - size * mult * RATE_SCALE;
    if den < 0 {
        (-num, -den)
    } else {
        (num, den)
    }
}

#[test]
fn liquidation_price_matches_binance_formula_in_every_bracket() {
    let set = instruments();
    let mut checked = 0;
    for ins_id in 0..set.len() as u16 {
        let ins = set.get(ins_id).clone();
        if ins.is_inverse() {
            continue; // the linear formula; inverse: engine/tests/risk_inverse.rs and risk::inverse's tests
        }
        let m = ins.quote_per_tick_lot;
        let mut floor = 0i128;
        for (bi, br) in ins.brackets.iter().enumerate() {
            let cap = if br.notional_cap == i128::MAX { floor * 2 } else { br.notional_cap };
            let target_notional = (floor + cap) / 2; // quote units
            for side in [1i128, -1] {
                // Price ~ 50 000 for BTC, ~ 2 500 for ETH, in ticks.
                let price_ticks: i128 = if ins.symbol == "BTCUSDT" { 500_000 } else { 250_000 };
                let lots = (target_notional / (price_ticks * m)).max(1);
                let size = side * lots;
                let lp_target = target_notional as f64 / (lots * m) as f64; // ticks
                let entry_ticks = (lp_target * (1.0 + 0.05 * side as f64)).round() as i128;
                let entry_notional = size * entry_ticks * m;
                let rate = br.maintenance_rate as f64 / RATE_SCALE as f64;
                // Wallet that puts LP at lp_target (by the formula), rounded to a unit.
                let wb = (lp_target * (lots as f64 * m as f64 * rate - size as f64 * m as f64) - br.maintenance_amount as f64
                    + entry_notional as f64)
                    .round() as i128;
                assert!(wb > 0, "{} bracket {bi}", ins.symbol);
                let (num, den) = binance_lp(wb, br.maintenance_amount, size, entry_notional, m, br.maintenance_rate);
                // The root lies in this bracket.
                let n_num = lots * m * num;
                assert!(
                    n_num > floor * den && (br.notional_cap == i128::MAX || n_num <= br.notional_cap * den),
                    "{} bracket {bi}",
                    ins.symbol
                );
                // Exactly equity = maintenance at LP = num/den (scaled by den·RATE_SCALE).
                // (256-bit exact: the products exceed i128 in the top brackets.)
                let big = BigInt::from;
                let equity_scaled = big(RATE_SCALE) * (big(wb) * big(den) + big(size * m) * big(num) - big(entry_notional) * big(den));
                let mm_scaled = big(lots * m) * big(num) * big(br.maintenance_rate) - big(br.maintenance_amount * RATE_SCALE) * big(den);
                assert_eq!(equity_scaled, mm_scaled, "{} bracket {bi}", ins.symbol);
                // gavel's trigger is that root, rounded to the safe side.
                let t = margin::trigger(&ins, size as i64, entry_notional, RATE_SCALE * wb).unwrap();
                let floor_lp = num.div_euclid(den) as i64;
                let ceil_lp = floor_lp + i64::from(num.rem_euclid(den) != 0);
                let expect = if side > 0 {
                    Trigger::Long(ceil_lp)
                } else {
                    Trigger::Short(floor_lp)
                };
                assert_eq!(t, expect, "{} bracket {bi} side {side}", ins.symbol);
                // And the index boundary agrees with the exact health test.
                let mut b = RiskBook::new(set.clone());
                let a = b.add_account("x", MarginMode::Isolated, 0).unwrap();
                b.set_position(a, ins_id, size as i64, entry_notional, wb);
                let (inside, outside) = match t {
                    Trigger::Long(p) => (p - 1, p),
                    Trigger::Short(p) => (p + 1, p),
                };
                let mut sink = Vec::new();
                b.set_mark(ins_id, inside, &mut sink);
                assert!(b.health(a, ins_id).unwrap().liquidatable(), "{} bracket {bi}", ins.symbol);
                assert_eq!(sink, vec![a]);
                sink.clear();
                b.set_mark(ins_id, outside, &mut sink);
                assert!(!b.health(a, ins_id).unwrap().liquidatable(), "{} bracket {bi}", ins.symbol);
                assert!(sink.is_empty());
                checked += 1;
            }
            floor = cap;
        }
    }
    assert_eq!(checked, 2 * (10 + 9));
}

#[test]
fn loaders_name_file_line_and_field() {
    let mut b = RiskBook::new(instruments());
    let e = loader::load_accounts(&mut b, "account,collateral\nx,10\ny,abc\n", "acc.csv").unwrap_err();
    assert_eq!(
        (e.source.as_str(), e.location, e.field.as_str()),
        ("acc.csv", Location::Line(3), "collateral")
    );
    let e = loader::load_accounts(&mut b, "z,1,both\n", "acc.csv").unwrap_err();
    assert_eq!((e.location, e.field.as_str()), (Location::Line(1), "margin_mode"));
    let mut b = RiskBook::new(instruments());
    loader::load_accounts(&mut b, "a,100\ni,100,isolated\n", "acc.csv").unwrap();
    let cases = [
        ("b,BTCUSDT,1,50000\n", "account"),
        ("a,XRPUSDT,1,50000\n", "instrument"),
        ("a,BTCUSDT,1.0005,50000\n", "size"),
        ("a,BTCUSDT,1,-3\n", "entry_price"),
        ("a,BTCUSDT,1,50000,10\n", "isolated_margin"),
        ("i,BTCUSDT,1,50000\n", "isolated_margin"),
        ("a,BTCUSDT,1\n", "(row)"),
    ];
    for (text, field) in cases {
        let e = loader::load_positions(&mut b, &format!("account,instrument,size,entry_price\n{text}"), "pos.csv").unwrap_err();
        assert_eq!((e.location, e.field.as_str()), (Location::Line(2), field), "{text}");
    }
    assert_eq!(
        loader::load_positions(&mut b, "a,BTCUSDT,-0.5,50000.05\ni,ETHUSDT,2,2500,50\n", "pos.csv").unwrap(),
        2
    );
    let btc = b.instruments().id("BTCUSDT").unwrap();
    // −0.5 × 50 000.05 = −25 000.025 USDT exactly.
    assert_eq!(b.account(0).position(btc).unwrap().entry_notional, -25_000_025_000);
}

/// Issue 14: an i64::MAX-lot position hung `compare`, an entry price of 1e23 or
/// an isolated margin of 1e32 gave a wrong liquidatable flag. The loaders now
/// refuse values beyond the documented bounds, naming line and field.
#[test]
fn loaders_refuse_values_beyond_the_documented_bounds() {
    let mut b = RiskBook::new(instruments());
    for (text, field) in [
        ("x,1000000000001\n", "collateral"),
        ("x,-1000000000001\n", "collateral"),
        ("x,100000000000000000000000000000000,isolated\n", "collateral"),
    ] {
        let e = loader::load_accounts(&mut b, text, "acc.csv").unwrap_err();
        assert_eq!((e.location, e.field.as_str()), (Location::Line(1), field), "{text}");
        assert!(e.to_string().contains("bound") || e.to_string().contains("range"), "{e}");
    }
    // The bound itself is accepted.
    loader::load_accounts(&mut b, "a,1000000000000\ni,100,isolated\n", "acc.csv").unwrap();
    let cases = [
        // i64::MAX lots of BTC (lot 0.001).
        ("a,BTCUSDT,9223372036854775.807,50000\n", "size"),
        // 100,001 BTC: tick value 10,000.1 USDT per 0.1 tick.
        ("a,BTCUSDT,100001,50000\n", "size"),
        ("a,BTCUSDT,1,100000000000000000000000\n", "entry_price"),
        ("a,BTCUSDT,100000,10000001\n", "entry_price"),
        ("i,BTCUSDT,1,50000,100000000000000000000000000000000\n", "isolated_margin"),
    ];
    for (text, field) in cases {
        let e = loader::load_positions(&mut b, &format!("account,instrument,size,entry_price\n{text}"), "pos.csv").unwrap_err();
        assert_eq!((e.location, e.field.as_str()), (Location::Line(2), field), "{text}: {e}");
    }
    // At the bounds: 100,000 BTC at 10,000,000 USDT = 10^12 USDT of notional.
    loader::load_positions(&mut b, "a,BTCUSDT,100000,10000000\n", "pos.csv").unwrap();
    let acc = b.account(0).clone();
    let marks = vec![Some(100_000_000), None];
    // The margin math runs on the extreme position without overflow.
    assert!(margin::position_trigger(b.instruments(), &marks, &acc, 0).is_some());
}

fn arb_cross_account() -> impl Strategy<Value = (i64, i64, i64, i64, i64, i64, i64)> {
    // wallet USDT, btc lots, btc entry ticks, eth lots, eth entry ticks, btc mark, eth mark
    (
        0i64..200_000,
        -20_000i64..20_000,
        300_000i64..700_000,
        -200_000i64..200_000,
        150_000i64..350_000,
        300_000i64..700_000,
        150_000i64..350_000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// For a cross account with two positions, each position's trigger is the
    /// exact boundary of the account's liquidatability along its own mark.
    #[test]
    fn cross_trigger_is_exact_boundary((wallet, bl, be, el, ee, bm, em) in arb_cross_account()) {
        let set = instruments();
        let (btc, eth) = (set.id("BTCUSDT").unwrap(), set.id("ETHUSDT").unwrap());
        let mut b = RiskBook::new(set);
        let a = b.add_account("x", MarginMode::Cross, i128::from(wallet) * QUOTE_SCALE).unwrap();
        b.set_position(a, btc, bl, i128::from(bl) * i128::from(be) * 100, 0);
        b.set_position(a, eth, el, i128::from(el) * i128::from(ee) * 10, 0);
        let mut sink = Vec::new();
        b.set_mark(btc, bm, &mut sink);
        b.set_mark(eth, em, &mut sink);
        for (ins, other) in [(btc, eth), (eth, btc)] {
            let acc = b.account(a).clone();
            let Some(idx) = acc.positions.iter().position(|p| p.instrument == ins && p.size != 0) else { continue };
            let t = margin::position_trigger(b.instruments(), b.marks(), &acc, idx).unwrap();
            let (inside, outside) = match t { Trigger::Long(p) => (p - 1, p), Trigger::Short(p) => (p + 1, p) };
            let mut marks = b.marks().to_vec();
            let mut liq_at = |p: i64| { marks[usize::from(ins)] = Some(p); margin::cross_health(b.instruments(), &marks, &acc).unwrap().liquidatable() };
            if inside > 0 { prop_assert!(liq_at(inside)); }
            if outside > 0 { prop_assert!(!liq_at(outside)); }
            let _ = other;
        }
    }
}
