//! dYdX v4 rules against dYdX's published test vectors.
//!
//! Source of every ported vector: dydxprotocol/v4-chain,
//! protocol/x/clob/keeper/liquidations_test.go, the named case of
//! `TestGetBankruptcyPriceInQuoteQuantums`, `TestGetFillablePrice`,
//! `TestGetLiquidationInsuranceFundDelta` or `TestGetPerpetualPositionToLiquidate`
//! (cited by case name: the indexed copy of the file gives no line numbers).
//! Their setup, from the same file's constants: BTC at $50,000 with atomic
//! resolution −8 (500 quote quantums per base quantum), ETH at $3,000 with
//! resolution −9 (3 per quantum), both `..._20PercentInitial_10PercentMaintenance`;
//! balances in whole dollars (`QuoteBalance_OneDollar` = 10^6 quote quantums);
//! the default config has BA = 10^6, SMMR = 100_000, max fee 5_000 ppm.

use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::venue_rules::dydx::{self, DydxParams};
use gavel_engine::venue_rules::{PositionState, VenueRules};

const USD: i128 = 1_000_000;
const BTC: i128 = 500; // quote quantums per BTC base quantum
const ETH: i128 = 3; // quote quantums per ETH base quantum

/// A subaccount: USDC balance (dollars) and positions `(quantums, per-quantum price)`.
struct Sub {
    balance_usd: i128,
    positions: Vec<(i128, i128)>,
}

impl Sub {
    fn tnc(&self) -> i128 {
        self.balance_usd * USD + self.positions.iter().map(|(q, p)| q * p).sum::<i128>()
    }
    fn mmr(q: i128, p: i128) -> i128 {
        (q * p).abs() / 10
    }
    fn tmmr(&self) -> i128 {
        self.positions.iter().map(|&(q, p)| Self::mmr(q, p)).sum()
    }
    /// Bankruptcy quote of `delta` quantums of position `i`.
    fn bankruptcy(&self, i: usize, delta: i128) -> i128 {
        let (q, p) = self.positions[i];
        let dnnv = delta * p;
        let dmmr = Self::mmr(q + delta, p) - Self::mmr(q, p);
        dydx::bankruptcy_quote(dnnv, self.tnc(), dmmr, self.tmmr()).unwrap()
    }
    fn fillable(&self, params: &DydxParams, i: usize) -> (i128, i128) {
        let (q, p) = self.positions[i];
        dydx::fillable_price(params, q * p, q, Self::mmr(q, p), self.tnc(), self.tmmr()).unwrap()
    }
}

fn sub(balance_usd: i128, positions: &[(i128, i128)]) -> Sub {
    Sub {
        balance_usd,
        positions: positions.to_vec(),
    }
}

#[test]
fn bankruptcy_price_vectors() {
    // (case, subaccount, position index, delta quantums, expected quote quantums)
    let cases: Vec<(&str, Sub, usize, i128, i128)> = vec![
        ("fully closing one long position that is slightly below maintenance margin requirements", sub(-4_501, &[(10_000_000, BTC)]), 0, -10_000_000, 4_501_000_000),
        ("fully closing one short position that is slightly below maintenance margin requirements", sub(5_499, &[(-10_000_000, BTC)]), 0, 10_000_000, -5_499_000_000),
        ("fully closing one long position that is at the bankruptcy price", sub(-5_000, &[(10_000_000, BTC)]), 0, -10_000_000, 5_000_000_000),
        ("partially closing one long position that is at the bankruptcy price", sub(-5_000, &[(10_000_000, BTC)]), 0, -5_000_000, 2_500_000_000),
        ("partially closing one short position that is at the bankruptcy price", sub(5_000, &[(-10_000_000, BTC)]), 0, 5_000_000, -2_500_000_000),
        ("fully closing one short position that is at the bankruptcy price", sub(5_000, &[(-10_000_000, BTC)]), 0, 10_000_000, -5_000_000_000),
        ("fully closing one long position that is below the bankruptcy price", sub(-5_100, &[(10_000_000, BTC)]), 0, -10_000_000, 5_100_000_000),
        ("fully closing one short position that is below the bankruptcy price", sub(4_900, &[(-10_000_000, BTC)]), 0, 10_000_000, -4_900_000_000),
        ("fully closing one long position and has multiple long positions", sub(-490, &[(400_000, BTC), (100_000_000, ETH)]), 1, -100_000_000, 294_000_000),
        ("fully closing one short position and has multiple short positions", sub(510, &[(-400_000, BTC), (-100_000_000, ETH)]), 1, 100_000_000, -306_000_000),
        ("fully closing one short position and has a long and short position", sub(110, &[(400_000, BTC), (-100_000_000, ETH)]), 1, 100_000_000, -306_000_000),
        ("Rounds up ... partially closing one long position that is slightly below maintenance margin requirements", sub(-13, &[(100_000_000, BTC)]), 0, -21_347, 2_776),
        ("Rounds up ... partially closing one short position that is below the bankruptcy price", sub(13, &[(-100_000_000, BTC)]), 0, 21_347, -2_775),
        ("Account with a long position that cannot be liquidated at a loss has a negative bankruptcy price", sub(1, &[(100_000_000, BTC)]), 0, -100_000_000, -1_000_000),
    ];
    for (name, s, i, delta, expected) in cases {
        assert_eq!(s.bankruptcy(i, delta), expected, "{name}");
    }
    assert_eq!(dydx::bankruptcy_quote(1, 1, -1, 0), None, "TMMR = 0 has no bankruptcy price");
}

#[test]
fn fillable_price_vectors() {
    let d = DydxParams::default();
    let ba2 = DydxParams {
        bankruptcy_adjustment_ppm: 2_000_000,
        ..d.clone()
    };
    let smmr = |v: u32| DydxParams {
        spread_to_maintenance_margin_ratio_ppm: v,
        ..d.clone()
    };
    type Case = (&'static str, DydxParams, Sub, usize, (i128, i128));
    let cases: Vec<Case> = vec![
        ("one long position that is slightly below maintenance margin requirements", d.clone(), sub(-4_501, &[(10_000_000, BTC)]), 0, (49_999, 100)),
        ("one long position when bankruptcyAdjustmentPpm is 2_000_000", ba2.clone(), sub(-4_501, &[(10_000_000, BTC)]), 0, (49_998, 100)),
        ("one long position when spreadToMaintenanceMarginRatioPpm is 200_000", smmr(200_000), sub(-4_501, &[(10_000_000, BTC)]), 0, (49_998, 100)),
        ("one short position that is slightly below maintenance margin requirements", d.clone(), sub(5_499, &[(-10_000_000, BTC)]), 0, (50_001, 100)),
        ("one short position when bankruptcyAdjustmentPpm is 2_000_000", ba2, sub(5_499, &[(-10_000_000, BTC)]), 0, (50_002, 100)),
        ("one short position when SpreadToMaintenanceMarginRatioPpm is 200_000", smmr(200_000), sub(5_499, &[(-10_000_000, BTC)]), 0, (50_002, 100)),
        ("one long position at the bankruptcy price", d.clone(), sub(-5_000, &[(10_000_000, BTC)]), 0, (495, 1)),
        ("one short position at the bankruptcy price", d.clone(), sub(5_000, &[(-10_000_000, BTC)]), 0, (505, 1)),
        ("one long position below the bankruptcy price", d.clone(), sub(-5_500, &[(10_000_000, BTC)]), 0, (495, 1)),
        ("one short position below the bankruptcy price", d.clone(), sub(4_500, &[(-10_000_000, BTC)]), 0, (505, 1)),
        ("multiple long positions", d.clone(), sub(-490, &[(400_000, BTC), (100_000_000, ETH)]), 1, (372, 125)),
        (
            "bankruptcyAdjustmentPpm is max uint32",
            DydxParams {
                bankruptcy_adjustment_ppm: u32::MAX,
                ..d.clone()
            },
            sub(-4_501, &[(10_000_000, BTC)]),
            0,
            (495, 1),
        ),
        ("SpreadTomaintenanceMarginRatioPpm is 1", smmr(1), sub(-4_501, &[(10_000_000, BTC)]), 0, (4_999_999_999, 10_000_000)),
        ("SpreadTomaintenanceMarginRatioPpm is one million", smmr(1_000_000), sub(-4_501, &[(10_000_000, BTC)]), 0, (49_990, 100)),
    ];
    for (name, params, s, i, (en, ed)) in cases {
        // Go's big.NewRat normalizes; compare the fractions, not the spelling.
        let (n, d) = s.fillable(&params, i);
        assert_eq!(n * ed, en * d, "{name}: got {n}/{d}, want {en}/{ed}");
    }
    // "...at the bankruptcy price where we are liquidating half of the position":
    // the fillable price depends on the position, not on the delta.
    let s = sub(-5_000, &[(10_000_000, BTC)]);
    assert_eq!(s.fillable(&d, 0), (495, 1));
}

#[test]
fn liquidatable_deleveraging_and_validation() {
    assert!(dydx::is_liquidatable(499, 500));
    assert!(!dydx::is_liquidatable(500, 500));
    assert!(!dydx::is_liquidatable(-5, 0), "no requirement, nothing to liquidate");
    assert!(dydx::deleverage_at_bankruptcy_price(-1));
    assert!(!dydx::deleverage_at_bankruptcy_price(0));
    // LiquidationsConfig.Validate ranges (protocol/x/clob/types/liquidations_config.go).
    let d = DydxParams::default();
    assert_eq!(d.validate(), Ok(()));
    let bad = |p: DydxParams| p.validate().unwrap_err().0;
    assert_eq!(bad(DydxParams { bankruptcy_adjustment_ppm: 999_999, ..d.clone() }), "bankruptcy_adjustment_ppm");
    assert_eq!(bad(DydxParams { spread_to_maintenance_margin_ratio_ppm: 0, ..d.clone() }), "spread_to_maintenance_margin_ratio_ppm");
    assert_eq!(bad(DydxParams { max_liquidation_fee_ppm: 0, ..d.clone() }), "max_liquidation_fee_ppm");
    assert_eq!(bad(DydxParams { max_liquidation_fee_ppm: 1_000_001, ..d.clone() }), "max_liquidation_fee_ppm");
    assert_eq!(bad(DydxParams { max_position_portion_liquidated_ppm: 0, ..d.clone() }), "max_position_portion_liquidated_ppm");
    assert_eq!(bad(DydxParams { max_notional_liquidated: 0, ..d.clone() }), "max_notional_liquidated");
}

/// `TestGetLiquidationInsuranceFundDelta` (liquidations_test.go): 0.1 BTC
/// closed at the case's subticks; quote = quantums × subticks × 10^-8 (the BTC
/// clob pair's quantum conversion exponent), negated for a buy.
#[test]
fn insurance_fund_delta_vectors() {
    let long = || sub(-5_100, &[(10_000_000, BTC)]);
    let short = || sub(4_900, &[(-10_000_000, BTC)]);
    // (case, subaccount, isBuy, subticks, MaxLiquidationFeePpm, expected)
    let cases: Vec<(&str, Sub, bool, i128, u32, i128)> = vec![
        ("Fully closing one long position above the bankruptcy price and pays max liquidation fee", long(), false, 56_100_000_000, 5_000, 28_050_000),
        ("... long ... pays max liquidation fee when MaxLiquidationFeePpm is 25_000", long(), false, 56_100_000_000, 25_000, 140_250_000),
        ("... long ... pays less than max liquidation fee when MaxLiquidationFeePpm is one million", long(), false, 56_100_000_000, 1_000_000, 510_000_000),
        ("Fully closing one short position above the bankruptcy price and pays max liquidation fee", short(), true, 44_100_000_000, 5_000, 22_050_000),
        ("... short ... when MaxLiquidationFeePpm is 25_000", short(), true, 44_100_000_000, 25_000, 110_250_000),
        ("... short ... pays less than max liquidation fee when MaxLiquidationFeePpm is one million", short(), true, 44_100_000_000, 1_000_000, 490_000_000),
        ("Fully closing one long position above the bankruptcy price and pays less than max liquidation fee", long(), false, 51_051_000_000, 5_000, 5_100_000),
        ("Fully closing one short position above the bankruptcy price and pays less than max liquidation fee", short(), true, 48_951_000_000, 5_000, 4_900_000),
        ("Fully closing one long position at the bankruptcy price and the delta is 0", long(), false, 51_000_000_000, 5_000, 0),
        ("Fully closing one short position above the bankruptcy price and the delta is 0", short(), true, 49_000_000_000, 5_000, 0),
        ("Fully closing one long position below the bankruptcy price and the insurance fund must cover the loss", long(), false, 50_490_000_000, 5_000, -51_000_000),
        ("If fully closing one short position below the bankruptcy price the insurance fund must cover the loss", short(), true, 49_490_000_000, 5_000, -49_000_000),
        ("Succeeds when delta quote quantums is zero", short(), true, 1, 5_000, 0),
    ];
    for (name, s, is_buy, subticks, fee, expected) in cases {
        let fill = 10_000_000i128;
        let quote = fill * subticks / 100_000_000;
        let (delta, quote) = if is_buy { (fill, -quote) } else { (-fill, quote) };
        let bq = s.bankruptcy(0, delta);
        assert_eq!(dydx::insurance_fund_delta(quote, bq, fee), expected, "{name}");
    }
}

/// `TestGetPerpetualPositionToLiquidate` (liquidations_test.go): BTC at 500
/// quote quantums per base quantum; `ClobPair_Btc` has a step of 5 quantums,
/// `ClobPair_Btc3` of 10. Returned as magnitudes (dYdX negates for a long).
#[test]
fn position_size_vectors() {
    let cfg = |min: u64, portion: u32, sub_max: u64| DydxParams {
        min_position_notional_liquidated: min,
        max_position_portion_liquidated_ppm: portion,
        max_notional_liquidated: sub_max,
        ..DydxParams::default()
    };
    let no_sub = u64::MAX;
    // (case, config, position quantums, step, expected)
    let cases: Vec<(&str, DydxParams, i128, i128, i128)> = vec![
        ("Full position size is returned when subaccount has one perpetual long position", cfg(1_000, 1_000_000, no_sub), 10_000_000, 5, 10_000_000),
        ("Full position size is returned when MinPositionNotionalLiquidated is greater than position size", cfg(10_000_000_000, 1_000_000, no_sub), 10_000_000, 5, 10_000_000),
        ("Half position size is returned when MaxPositionPortionLiquidatedPpm is 500,000", cfg(1_000, 500_000, no_sub), 10_000_000, 5, 5_000_000),
        ("full position is returned when position size is smaller than StepBaseQuantums", cfg(1, 100_000, no_sub), 5, 10, 5),
        ("returned position size is rounded down to the nearest clob.stepBaseQuantums", cfg(1, 100_000, no_sub), 140, 5, 10),
        ("returned position size is at least clob.stepBaseQuantums", cfg(1, 100_000, no_sub), 20, 5, 5),
        ("Full position is returned when position smaller than subaccount limit", cfg(1_000, 1_000_000, 10_000_000_000), 10_000_000, 5, 10_000_000),
        ("Max subaccount limit is returned when position larger than subaccount limit", cfg(1_000, 1_000_000, 2_500_000_000), 10_000_000, 5, 5_000_000),
        ("position size is capped by subaccount block limit when subaccount limit is lower than position block limit", cfg(1_000, 500_000, 2_000_000_000), 10_000_000, 5, 4_000_000),
    ];
    for (name, p, size, step, expected) in cases {
        assert_eq!(dydx::size_to_liquidate(&p, size, BTC, step), expected, "{name}");
        assert_eq!(dydx::size_to_liquidate(&p, -size, BTC, step), expected, "{name} (short)");
    }
    // GetMaxAndMinPositionNotionalLiquidatable: min capped by the position, max ≥ min.
    let p = cfg(1_000_000_000, 100_000, no_sub);
    assert_eq!(dydx::position_notional_limits(&p, 500_000_000), (500_000_000, 500_000_000));
    assert_eq!(dydx::position_notional_limits(&p, 50_000_000_000), (1_000_000_000, 5_000_000_000));
}

const INSTRUMENT: &str = r#"
[[instrument]]
symbol = "BTCUSD"
tick_size = "0.1"
lot_size = "0.001"
brackets = [{ notional_cap = "inf", maintenance_rate = "0.1", max_leverage = 5 }]
"#;

#[test]
fn decide_in_gavel_units_matches_the_first_vectors() {
    let set = InstrumentSet::parse(INSTRUMENT, "t.toml").unwrap();
    let ins = set.get(0);
    // 0.1 BTC long (100 lots) entered and marked at $50,000, TNC $499.
    let p = PositionState {
        size: 100,
        entry_notional: 5_000 * USD,
        mark: 500_000,
        other_balance: 499 * USD,
        other_maintenance_scaled: 0,
        elapsed_ns: 0,
    };
    let d = VenueRules::DydxV4(DydxParams::default()).decide(ins, &p);
    assert!(d.liquidatable);
    assert_eq!(d.size_to_liquidate, 100);
    // $4,501 for 0.1 BTC = $45,010.0; fillable 499.99 per quantum = $49,999.0.
    assert_eq!(d.bankruptcy_price, Some(450_100));
    assert_eq!(d.limit_price, Some(499_990));
    // The mirror short, TNC $499: fillable $50,001.0, bankruptcy $54,990.0.
    let s = PositionState {
        size: -100,
        entry_notional: -5_000 * USD,
        other_balance: 499 * USD,
        ..p
    };
    let d = VenueRules::DydxV4(DydxParams::default()).decide(ins, &s);
    assert_eq!(d.limit_price, Some(500_010));
    assert_eq!(d.bankruptcy_price, Some(549_900));
    // Healthy: TNC $500 = TMMR is not liquidatable.
    let h = PositionState { other_balance: 500 * USD, ..p };
    let d = VenueRules::DydxV4(DydxParams::default()).decide(ins, &h);
    assert!(!d.liquidatable);
    assert_eq!(d.size_to_liquidate, 0);
}
