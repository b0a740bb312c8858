//! dYdX v4 rules against dYdX's published test vectors.
//!
//! Source of every ported vector: dydxprotocol/v4-chain,
//! protocol/x/clob/keeper/liquidations_test.go, the named test case of
//! `TestGetBankruptcyPriceInQuoteQuantums` or `TestGetFillablePrice` (cited by
//! case name: the indexed copy gives no line numbers). Their setup, from the
//! same file's constants: BTC at $50,000 with atomic resolution −8 (500 quote
//! quantums per base quantum), ETH at $3,000 with resolution −9 (3 per
//! quantum), both `..._20PercentInitial_10PercentMaintenance`; balances in
//! whole dollars (`QuoteBalance_OneDollar` = 10^6 quote quantums); the default
//! config has BA = 10^6, SMMR = 100_000, max fee 5_000 ppm.

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
}

#[test]
fn insurance_fund_delta_caps_the_fee() {
    // Derived from GetLiquidationInsuranceFundDelta (liquidations.go), not a
    // ported vector: 0.1 BTC sold for $4,999.90 with a $4,501 bankruptcy quote.
    let fee = dydx::insurance_fund_delta(4_999_900_000, 4_501_000_000, 5_000);
    assert_eq!(fee, 24_999_500, "min(0.5 % of the fill, leftover collateral)");
    assert_eq!(dydx::insurance_fund_delta(4_502_000_000, 4_501_000_000, 5_000), 1_000_000, "leftover below the cap");
    // Sold below bankruptcy: the fund pays the difference, uncapped.
    assert_eq!(dydx::insurance_fund_delta(4_400_000_000, 4_501_000_000, 5_000), -101_000_000);
    // A buy closing a short: the subaccount receives −$5,000.1 against −$5,499.
    assert_eq!(dydx::insurance_fund_delta(-5_000_100_000, -5_499_000_000, 5_000), 25_000_500);
}

#[test]
fn position_size_per_attempt() {
    // Derived from GetLiquidatablePositionSizeDelta / GetMaxAndMinPositionNotionalLiquidatable.
    let p = DydxParams {
        max_position_portion_liquidated_ppm: 100_000,
        min_position_notional_liquidated: 1_000 * 1_000_000,
        ..DydxParams::default()
    };
    // 1 BTC ($50,000): 10 % = $5,000 = 10^7 quantums, a multiple of the 10^5 step.
    assert_eq!(dydx::size_to_liquidate(&p, 100_000_000, BTC, 100_000), 10_000_000);
    // Short sizes are returned as magnitudes too.
    assert_eq!(dydx::size_to_liquidate(&p, -100_000_000, BTC, 100_000), 10_000_000);
    // 0.01 BTC ($500): 10 % is $50 < the $1,000 minimum, which exceeds the
    // position, so the whole position goes.
    assert_eq!(dydx::size_to_liquidate(&p, 1_000_000, BTC, 100_000), 1_000_000);
    // 0.05 BTC ($2,500): max(min($1,000, $2,500), $250) = $1,000 = 2·10^6 quantums.
    assert_eq!(dydx::size_to_liquidate(&p, 5_000_000, BTC, 100_000), 2_000_000);
    // Rounded down to the step, then clamped to at least one step.
    assert_eq!(dydx::size_to_liquidate(&p, 5_000_000, BTC, 1_500_000), 1_500_000);
    assert_eq!(dydx::position_notional_limits(&p, 500 * 1_000_000), (500 * 1_000_000, 500 * 1_000_000));
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
