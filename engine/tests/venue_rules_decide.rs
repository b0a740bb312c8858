//! Hyperliquid, Binance and Maker rules, and every venue's `decide` in gavel
//! units on the shipped example instruments. Hyperliquid and Binance publish
//! formulas but no test vectors; the expected values here are worked by hand
//! from the documented formulas (and checked at the boundary tick).
// Basis points are written as Aave writes them (`110_00` = 110.00 %).
#![allow(clippy::inconsistent_digit_grouping)]

use gavel_engine::auction::curve::Curve;
use gavel_engine::auction::fixed::{Ray, RAY};
use gavel_engine::risk::instrument::{Instrument, InstrumentSet, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::venue_rules::aave::{AaveParams, WAD};
use gavel_engine::venue_rules::binance::{self, BinanceParams};
use gavel_engine::venue_rules::drift::DriftParams;
use gavel_engine::venue_rules::hyperliquid::{self, HyperliquidParams};
use gavel_engine::venue_rules::maker::{self, MakerParams};
use gavel_engine::venue_rules::{PositionState, VenueRules};

const USD: i128 = QUOTE_SCALE;

fn instruments() -> InstrumentSet {
    let path = format!("{}/../docs/examples/instruments.toml", env!("CARGO_MANIFEST_DIR"));
    InstrumentSet::load(std::path::Path::new(&path)).unwrap()
}

fn btc(set: &InstrumentSet) -> &Instrument {
    set.get(set.id("BTCUSDT").unwrap())
}

/// `lots` of BTC entered at `entry` dollars, marked at `mark` ticks, with
/// `balance` dollars of isolated margin (or other cross balance).
fn pos(lots: i64, entry: i128, mark: i64, balance: i128) -> PositionState {
    PositionState {
        size: lots,
        entry_notional: i128::from(lots) * entry * 1_000, // lots × $ × (0.001 BTC per lot) in 10^-6
        mark,
        other_balance: balance * USD,
        other_maintenance_scaled: 0,
        elapsed_ns: 0,
    }
}

#[test]
fn hyperliquid_liquidation_price_is_the_maintenance_boundary() {
    let set = instruments();
    let ins = btc(&set);
    let m = ins.quote_per_tick_lot;
    // 1 BTC long, mark $50,000, account value $2,000, max leverage 50 (l = 1/100):
    // 50,000 − (2,000 − 500) / 1 / 0.99 = 48,484.848… → up: 48,484.9.
    assert_eq!(hyperliquid::liquidation_price(500_000, 1_000, m, 2_000 * USD, 100), Some(484_849));
    // Short: 50,000 + 1,500 / 1.01 = 51,485.148… → down: 51,485.1.
    assert_eq!(hyperliquid::liquidation_price(500_000, -1_000, m, 2_000 * USD, 100), Some(514_851));
    // At the liquidation price the position is not yet liquidatable; one tick past, it is.
    let ml = 100;
    let equity_at = |t: i64, long: bool| {
        let move_ = (i128::from(t) - 500_000) * 1_000 * m;
        2_000 * USD + if long { move_ } else { -move_ }
    };
    let notional_at = |t: i64| i128::from(t) * 1_000 * m;
    assert!(!hyperliquid::is_liquidatable(equity_at(484_849, true), notional_at(484_849), ml));
    assert!(hyperliquid::is_liquidatable(equity_at(484_848, true), notional_at(484_848), ml));
    assert!(!hyperliquid::is_liquidatable(equity_at(514_851, false), notional_at(514_851), ml));
    assert!(hyperliquid::is_liquidatable(equity_at(514_852, false), notional_at(514_852), ml));
    assert_eq!(hyperliquid::liquidation_price(500_000, 0, m, 0, 100), None);
}

#[test]
fn hyperliquid_partial_slices_cooldown_and_backstop() {
    let p = HyperliquidParams::with_max_leverage(50);
    assert_eq!(p.maintenance_leverage(), 100);
    let notional = 150_000 * USD; // 3 BTC at $50,000: above the $100,000 threshold
    assert_eq!(hyperliquid::size_to_liquidate(&p, 3_000, notional, None), 600, "20 %");
    assert_eq!(hyperliquid::size_to_liquidate(&p, -3_000, notional, None), 600);
    assert_eq!(hyperliquid::size_to_liquidate(&p, 3_000, notional, Some(10_000_000_000)), 3_000, "in the 30 s cooldown: whole position");
    assert_eq!(hyperliquid::size_to_liquidate(&p, 3_000, notional, Some(30_000_000_000)), 600, "cooldown over");
    assert_eq!(hyperliquid::size_to_liquidate(&p, 1_000, 50_000 * USD, None), 1_000, "small: whole position");
    assert_eq!(hyperliquid::size_to_liquidate(&p, 3, notional, None), 1, "at least one lot");
    // MM of $50,000 at l = 1/100 is $500; 2/3 of it is $333.33….
    assert!(!hyperliquid::is_backstop(334 * USD, 50_000 * USD, 100));
    assert!(hyperliquid::is_backstop(333 * USD, 50_000 * USD, 100));

    let set = instruments();
    let ins = btc(&set);
    let rules = VenueRules::Hyperliquid(p);
    // Equity $400 < $500 MM, above the backstop: a market order for everything.
    let d = rules.decide(ins, &pos(1_000, 50_000, 500_000, 400));
    assert!(d.liquidatable);
    assert_eq!((d.limit_price, d.size_to_liquidate), (None, 1_000));
    // Equity $300: the vault takes the position at the mark.
    let d = rules.decide(ins, &pos(1_000, 50_000, 500_000, 300));
    assert_eq!((d.limit_price, d.size_to_liquidate), (Some(500_000), 1_000));
    assert!(!rules.decide(ins, &pos(1_000, 50_000, 500_000, 500)).liquidatable);
}

#[test]
fn hyperliquid_adl_index_orders_profit_and_leverage() {
    let m = 100;
    // Both 1 BTC long entered at $40,000, mark $50,000; account values $20,000 and $10,000.
    let a = hyperliquid::adl_index(500_000, 1_000, 40_000 * USD, m, 20_000 * USD).unwrap();
    let b = hyperliquid::adl_index(500_000, 1_000, 40_000 * USD, m, 10_000 * USD).unwrap();
    // (5/4)·(50,000/20,000) = 3.125 and 6.25: the more leveraged goes first.
    assert_eq!(hyperliquid::adl_cmp(b, a), std::cmp::Ordering::Greater);
    assert_eq!(a.0 * 1_000, a.1 * 3_125);
    assert_eq!(hyperliquid::adl_index(500_000, 1_000, 40_000 * USD, m, 0), None);
}

#[test]
fn binance_reuses_the_bracket_formula_and_ranks_adl() {
    let set = instruments();
    let ins = btc(&set);
    // The docs example (tools/tests/risk_cli.rs): alice 1 BTC long @ 50,000 with
    // 1,000 isolated → LP 49,196.8; bob the mirror short → 50,796.0.
    let alice = pos(1_000, 50_000, 495_000, 1_000);
    let bob = PositionState {
        size: -1_000,
        entry_notional: -alice.entry_notional,
        ..alice
    };
    assert_eq!(binance::liquidation_price(ins, &alice), Some(491_968));
    assert_eq!(binance::liquidation_price(ins, &bob), Some(507_960));
    let rules = VenueRules::BinanceUsdm(BinanceParams);
    assert!(!rules.decide(ins, &alice).liquidatable);
    // Mark 49,100: one IOC for the whole position at the bankruptcy price 49,000.
    let d = rules.decide(ins, &PositionState { mark: 491_000, ..alice });
    assert!(d.liquidatable);
    assert_eq!((d.bankruptcy_price, d.limit_price, d.size_to_liquidate), (Some(490_000), Some(490_000), 1_000));
    // ADL: 1 BTC long @ 50,000 marked 55,000 with $1,000 margin: PnL% 10 %,
    // equity $6,000, leverage 55,000/6,000 → 0.1 × 9.1666… = 0.91666666.
    let winner = pos(1_000, 50_000, 550_000, 1_000);
    assert_eq!(binance::adl_sequence_e8(ins, &winner), Some(91_666_666));
    // The same at $5,000 margin ranks lower (leverage 5.5).
    let calmer = pos(1_000, 50_000, 550_000, 5_000);
    assert_eq!(binance::adl_sequence_e8(ins, &calmer), Some(55_000_000));
    // At a loss: PnL% −2 % ÷ leverage (49,000 / 9,000) = −0.00367346… → −367347 (floor).
    let loser = pos(1_000, 50_000, 490_000, 10_000);
    assert_eq!(binance::adl_sequence_e8(ins, &loser), Some(-367_347));
    // FAQ LeveragePnl: 50 / 100 × 15 / 150 = 0.05.
    assert_eq!(binance::leverage_pnl_e8(100 * USD, 50 * USD, 15 * USD, USD), RATE_SCALE / 20);
    assert_eq!(binance::leverage_pnl_e8(100 * USD, -50 * USD, 15 * USD, USD), 0);
}

fn clip() -> MakerParams {
    MakerParams {
        buf: Ray::parse("1.2").unwrap(),
        tail: 10_000,
        cusp: Ray::parse("0.9").unwrap(),
        chip: Ray::parse("0.001").unwrap(),
        tip: 300 * 1_000_000,
        curve: Curve::Stairstep {
            cut: Ray::parse("0.99").unwrap(),
            step_s: 90,
        },
        depth_floor: true,
    }
}

#[test]
fn maker_clipper_through_the_rules_interface() {
    let p = clip();
    assert_eq!(p.validate(), Ok(()));
    assert_eq!(maker::start_price(&p, 500_000, true), 600_000, "top = mark × buf");
    assert_eq!(maker::start_price(&p, 500_000, false), 400_000, "buy-back mirror");
    let s = 1_000_000_000;
    assert_eq!(maker::sale_price(&p, 600_000, 89 * s), 600_000);
    assert_eq!(maker::sale_price(&p, 600_000, 90 * s), 594_000);
    assert_eq!(maker::sale_price(&p, 600_000, 180 * s), 588_060);
    // cusp 0.9: 0.99^10 = 0.904 holds, 0.99^11 = 0.895 needs a redo; tail too.
    assert!(!maker::needs_redo(&p, 900 * s));
    assert!(maker::needs_redo(&p, 990 * s));
    assert!(maker::needs_redo(&MakerParams { tail: 600, ..clip() }, 601 * s));
    // tip + chip × tab: $300 + 0.1 % of $100,000.
    assert_eq!(maker::keeper_incentive(&p, 100_000 * USD), 400 * USD);
    assert_eq!(p.auction_policy().buf, Ray(RAY / 5));
    let bad = MakerParams {
        buf: Ray(RAY - 1),
        ..clip()
    };
    assert_eq!(bad.validate().unwrap_err().0, "buf");

    let set = instruments();
    let ins = btc(&set);
    // 1 BTC long with $150 at $50,000: equity 150 < MM 200 → auction everything from top.
    let d = VenueRules::MakerClip(p).decide(ins, &pos(1_000, 50_000, 500_000, 150));
    assert!(d.liquidatable);
    assert_eq!((d.limit_price, d.size_to_liquidate, d.bankruptcy_price), (Some(600_000), 1_000, Some(498_500)));
}

#[test]
fn drift_and_aave_decide_in_gavel_units() {
    let set = instruments();
    let ins = btc(&set);
    // Drift: equity $150 < MM $200; buffered shortage $200 + 2 % × $50,000 − $150
    // = $1,050; margin ratio 40 + 200 (10^-4), fee 1 %: 1,050 / (50,000 × 1.4 %)
    // = 1.5 BTC to cover, × 10 % freeable in the first call = 150 lots; the
    // order may sell 1 % under the oracle.
    let drift = VenueRules::DriftV2(DriftParams::with_fees(10_000, 0));
    let d = drift.decide(ins, &pos(1_000, 50_000, 500_000, 150));
    assert!(d.liquidatable);
    assert_eq!((d.size_to_liquidate, d.limit_price), (150, Some(495_000)));
    // After 150 slots (60 s) the whole 1.5 BTC is freeable, capped at the position.
    let later = PositionState {
        elapsed_ns: 60_000_000_000,
        ..pos(1_000, 50_000, 500_000, 150)
    };
    assert_eq!(drift.decide(ins, &later).size_to_liquidate, 1_000);
    assert!(!drift.decide(ins, &pos(1_000, 50_000, 500_000, 250)).liquidatable);

    // Aave: a 1 BTC long @ 50,000 with $10,000 is $40,000 of debt against BTC.
    let aave = VenueRules::AaveV4(AaveParams {
        collateral_factor: 80_00,
        max_liquidation_bonus: 105_00,
        liquidation_bonus_factor: 50_00,
        health_factor_for_max_bonus: 8 * WAD / 10,
        target_health_factor: WAD,
        liquidation_fee: 0,
    });
    assert!(!aave.decide(ins, &pos(1_000, 50_000, 500_000, 10_000)).liquidatable, "HF exactly 1");
    // Mark $45,000: HF 0.9, bonus 103.75 %, debt to target $23,529.411765 buys
    // 542 lots (floor), at an effective $45,000 / 1.0375 = 43,373.5 (up).
    let d = aave.decide(ins, &pos(1_000, 50_000, 450_000, 10_000));
    assert!(d.liquidatable);
    assert_eq!((d.size_to_liquidate, d.limit_price), (542, Some(433_735)));
}

#[test]
fn flat_positions_and_extreme_marks_do_not_panic() {
    let set = instruments();
    let ins = btc(&set);
    let all = [
        VenueRules::DydxV4(Default::default()),
        VenueRules::Hyperliquid(HyperliquidParams::with_max_leverage(20)),
        VenueRules::BinanceUsdm(BinanceParams),
        VenueRules::DriftV2(DriftParams::with_fees(10_000, 0)),
        VenueRules::MakerClip(clip()),
        VenueRules::AaveV4(AaveParams {
            collateral_factor: 80_00,
            max_liquidation_bonus: 105_00,
            liquidation_bonus_factor: 50_00,
            health_factor_for_max_bonus: 8 * WAD / 10,
            target_health_factor: WAD,
            liquidation_fee: 0,
        }),
    ];
    for rules in &all {
        let flat = PositionState { size: 0, ..pos(1_000, 50_000, 500_000, 100) };
        assert!(!rules.decide(ins, &flat).liquidatable, "{}", rules.name());
        let no_mark = PositionState { mark: 0, ..pos(1_000, 50_000, 500_000, 100) };
        assert!(!rules.decide(ins, &no_mark).liquidatable, "{}", rules.name());
        // A mark a million times the entry: the long is deep in profit.
        let huge = pos(1_000, 50_000, 500_000_000_000, 100);
        assert!(!rules.decide(ins, &huge).liquidatable, "{}", rules.name());
    }
    // Maker's start price saturates instead of overflowing.
    assert_eq!(maker::start_price(&clip(), i64::MAX, true), i64::MAX);
}

/// `floor = false` takes gavel's depth floor out from under a maker-clip auction (Maker's
/// Clipper has none); the default keeps it.
#[test]
fn maker_clip_floor_switch() {
    use gavel_engine::engine::EnginePolicy;
    use gavel_engine::venue_rules::parse_rules;
    let with = EnginePolicy::for_rules(parse_rules("rules = \"maker-clip\"\n", "r").unwrap());
    let without = EnginePolicy::for_rules(parse_rules("rules = \"maker-clip\"\nfloor = false\n", "r").unwrap());
    assert_eq!((with.auction.max_discount_bps, with.auction.floor_margin_bps), (1_000, 50));
    assert_eq!((without.auction.max_discount_bps, without.auction.floor_margin_bps), (9_999, 9_999));
    let err = parse_rules("rules = \"maker-clip\"\nfloor = 3\n", "r").unwrap_err().to_string();
    assert!(err.contains("floor"), "{err}");
}
