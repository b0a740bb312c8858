//! Drift v2 and Aave v4 rules against the venues' published test vectors.
// Basis points are written as Aave writes them (`110_00` = 110.00 %).
#![allow(clippy::inconsistent_digit_grouping)]

use gavel_engine::venue_rules::aave::{self, AaveParams, Reserves, WAD};
use gavel_engine::venue_rules::drift;

const Q: u128 = 1_000_000; // Drift QUOTE_PRECISION / PRICE_PRECISION
const PRICE_100: i64 = 100 * 1_000_000;

/// drift-labs/protocol-v2, programs/drift/src/math/liquidation/tests.rs
/// (commit f01db28da99e08647a27e552367281508e48c669),
/// `mod calculate_base_asset_amount_to_cover_margin_shortage`: $10 shortage,
/// 10x (margin ratio 1000 of 10^4), oracle $100.
#[test]
fn drift_base_to_cover_margin_shortage_vectors() {
    let f = |fee: u32, if_fee: u32, quote: i64| drift::base_to_cover_margin_shortage(10 * Q, 1_000, fee, if_fee, PRICE_100, quote).unwrap();
    // fn zero_percent_liquidation_fee: must lose 1 base.
    assert_eq!(f(0, 0, 1_000_000), 1_000_000_000);
    // fn usdc_not_one: quote oracle 0.99 and 1.01.
    assert_eq!(f(0, 0, 990_000), 1_010_101_010);
    assert_eq!(f(0, 0, 1_010_000), 990_099_009);
    // fn one_percent_liquidation_fee: BASE_PRECISION_U64 * 10 / 9.
    assert_eq!(f(10_000, 0, 1_000_000), 1_000_000_000 * 10 / 9);
    // fn one_percent_liquidation_fee_and_one_percent_if_liquidation_fee.
    assert_eq!(f(10_000, 10_000, 1_000_000), 1_250_000_000);
    // The guard in liquidation.rs: margin ratio not above the fee → everything.
    assert_eq!(drift::base_to_cover_margin_shortage(10 * Q, 100, 10_000, 0, PRICE_100, 1_000_000), Some(u64::MAX));
    assert_eq!(drift::base_to_cover_margin_shortage(10 * Q, 1_000, 0, 0, 0, 1_000_000), Some(u64::MAX));
    // IF fee eating all freed margin: Drift's checked arithmetic fails.
    assert_eq!(drift::base_to_cover_margin_shortage(10 * Q, 1_000, 0, 100_000, PRICE_100, 1_000_000), None);
}

/// Derived from `calculate_max_pct_to_liquidate` in liquidation.rs (commit
/// 0fd8f61c97b26acbedf43fd067f60b0cbd286308); no drift-labs vector exists.
#[test]
fn drift_max_pct_grows_with_time() {
    let pct = |freed: u128, slots: u64, dur: u128| drift::max_pct_to_liquidate(100 * Q, freed, slots, 1_000, dur).unwrap();
    assert_eq!(pct(0, 0, 150), 1_000, "initial 10 %");
    assert_eq!(pct(0, 75, 150), 6_000, "half the duration: +50 %");
    assert_eq!(pct(0, 150, 150), 10_000);
    assert_eq!(pct(0, 10_000, 150), 10_000, "capped at 100 %");
    assert_eq!(pct(0, 0, 0), 10_000, "zero duration: 100 %");
    // $100 still short after $50 freed: 10 % of $150 = $15 < $50 already freed → 0.
    assert_eq!(pct(50 * Q, 0, 150), 0);
    // 60 % of $150 = $90, less $50 freed = $40 of the $100 shortage = 40 %.
    assert_eq!(pct(50 * Q, 75, 150), 4_000);
    assert_eq!(drift::max_pct_to_liquidate(0, 0, 1, 1_000, 150), None);
}

/// Derived from `get_liquidation_fee` (grace period 1 500 slots, +1 per slot in
/// 10^-6); the 2 % / 5 % cases mirror the public SDK port's test.
#[test]
fn drift_liquidator_fee_ramp() {
    let base = 20_000; // 2 %
    let max = 50_000; // 5 %
    assert_eq!(drift::liquidator_fee(base, max, 10), base, "within the grace period");
    assert_eq!(drift::liquidator_fee(base, max, 1_499), base);
    assert_eq!(drift::liquidator_fee(base, max, 1_500), base + 1_500);
    assert_eq!(drift::liquidator_fee(base, max, 10_000), 30_000);
    assert_eq!(drift::liquidator_fee(base, max, 100_000), max, "capped");
    // Buffered shortage: $1,000 maintenance + 2 % of $50,000 − $900 collateral.
    assert_eq!(drift::margin_shortage(900 * Q as i128, 1_000 * Q as i128, 50_000 * Q as i128, 200), 1_100 * Q);
    assert_eq!(drift::margin_shortage(5_000 * Q as i128, 1_000 * Q as i128, 50_000 * Q as i128, 200), 0);
}

/// aave/aave-v4, tests/unit/libraries/LiquidationLogic/LiquidationLogic.LiquidationBonus.t.sol
/// (commit 60d1963b31332c7dee2e99aaf6cacc8f23e17d64, where both cases are
/// commented out; other versions of the file run them).
#[test]
fn aave_liquidation_bonus_vectors() {
    // test_calculateLiquidationBonus_MinBonusDueToRounding
    assert_eq!(aave::liquidation_bonus(8 * WAD / 10, 50_00, WAD - 1, 110_00), 100_00 + 5_00);
    // test_calculateLiquidationBonus_PartialBonus
    assert_eq!(aave::liquidation_bonus(8 * WAD / 10, 50_00, 96 * WAD / 100, 110_00), 100_00 + 6_00);
    // The max bonus at and below healthFactorForMaxBonus (the fuzz test's claim).
    assert_eq!(aave::liquidation_bonus(8 * WAD / 10, 50_00, 8 * WAD / 10, 110_00), 110_00);
    assert_eq!(aave::liquidation_bonus(8 * WAD / 10, 50_00, 0, 110_00), 110_00);
    // liquidationBonusFactor = 100 %: constant bonus (test_..._fuzz_ConstantBonus).
    assert_eq!(aave::liquidation_bonus(8 * WAD / 10, 100_00, 99 * WAD / 100, 110_00), 110_00);
}

/// aave/aave-v4, tests/unit/libraries/LiquidationLogic/LiquidationLogic.DebtToTargetHealthFactor.t.sol
/// (commit 19c88b85691b0d4816ce81b9c6375a7c60d1fb09). That version scales
/// `totalDebtValue` and the result by RAY; LiquidationLogic.sol at commit
/// 0051c6e1e19b90aef8db15d135863d8f8c8a0c93 (ported here) does not, so the
/// expected values are the test's divided by RAY, rounded up once.
#[test]
fn aave_debt_to_target_health_factor_vectors() {
    let tdv = 10_000 * 100_000_000 * WAD; // $10,000 = 10_000e26
    for unit in [1u128, 1_000_000, WAD] {
        // test_calculateDebtToTargetHealthFactorRay_UnitPrice: 9000 units.
        let d = aave::debt_to_target_health_factor(tdv, 8 * WAD / 10, 125 * WAD / 100, 150_00, 50_00, 100_000_000, unit);
        assert_eq!(d, Some(9_000 * unit), "unit {unit}");
        // test_calculateDebtToTargetHealthFactorRay_NoPrecisionLoss: 4 units at $2000.
        let d = aave::debt_to_target_health_factor(tdv, 8 * WAD / 10, WAD, 150_00, 50_00, 2_000 * 100_000_000, unit);
        assert_eq!(d, Some(4 * unit), "unit {unit}");
    }
    // test_calculateDebtToTargetHealthFactorRay_PrecisionLoss at $333:
    // 24.024024…025e27 (RAY) → 25; …e33 → 24_024_025; …e45 → 24_024_024_024_024_024_025.
    let at = |unit: u128| aave::debt_to_target_health_factor(tdv, 8 * WAD / 10, WAD, 150_00, 50_00, 333 * 100_000_000, unit);
    assert_eq!(at(1), Some(25));
    assert_eq!(at(1_000_000), Some(24_024_025));
    assert_eq!(at(WAD), Some(24_024_024_024_024_024_025));
    // test_..._HealthFactorEqualsTargetHealthFactor: 0; above the target: Aave reverts.
    assert_eq!(aave::debt_to_target_health_factor(tdv, WAD, WAD, 150_00, 50_00, 100_000_000, 1), Some(0));
    assert_eq!(aave::debt_to_target_health_factor(tdv, WAD + 1, WAD, 150_00, 50_00, 100_000_000, 1), None);
}

fn params() -> AaveParams {
    AaveParams {
        collateral_factor: 50_00,
        max_liquidation_bonus: 150_00,
        liquidation_bonus_factor: 50_00,
        health_factor_for_max_bonus: 8 * WAD / 10,
        target_health_factor: WAD,
        liquidation_fee: 10_00,
    }
}

/// Derived from `_calculateLiquidationAmounts` (LiquidationLogic.sol): USDC
/// debt (6 decimals, $1), ETH collateral (18 decimals, $2000); HF 0.8.
#[test]
fn aave_liquidation_amounts_target_and_dust() {
    let p = params();
    assert_eq!(p.validate(), Ok(()));
    let r = Reserves {
        debt_balance: 10_000 * 1_000_000,
        collateral_balance: 8 * WAD,
        debt_price: 100_000_000,
        debt_unit: 1_000_000,
        collateral_price: 2_000 * 100_000_000,
        collateral_unit: WAD,
    };
    let tdv = 10_000 * 100_000_000 * WAD;
    let a = aave::liquidation_amounts(&p, &r, u128::MAX, tdv, 8 * WAD / 10).unwrap();
    // To target: $8,000 of debt for 6 ETH ($12,000 at the 150 % bonus); the
    // $2,000 debt left against 2 ETH × 50 % is exactly HF 1.
    assert_eq!(a.debt_to_liquidate, 8_000 * 1_000_000);
    assert_eq!(a.collateral_to_liquidate, 6 * WAD);
    // 10 % of the bonus part (2 ETH of 6) is the protocol fee.
    assert_eq!(a.collateral_to_liquidator, 6 * WAD - 2 * WAD / 10);
    // $500 of debt would remain (< $1,000 dust): the whole debt goes.
    let r2 = Reserves {
        debt_balance: 8_500 * 1_000_000,
        ..r
    };
    let a = aave::liquidation_amounts(&p, &r2, u128::MAX, tdv, 8 * WAD / 10).unwrap();
    assert_eq!(a.debt_to_liquidate, 8_500 * 1_000_000);
    // A liquidator covering less than that must not leave dust.
    assert_eq!(aave::liquidation_amounts(&p, &r2, 8_000 * 1_000_000, tdv, 8 * WAD / 10), Err("MustNotLeaveDust"));
}

#[test]
fn aave_parameter_invariants() {
    let ok = params();
    let key = |p: AaveParams| p.validate().unwrap_err().0;
    assert_eq!(key(AaveParams { collateral_factor: 100_00, ..ok.clone() }), "collateral_factor");
    assert_eq!(key(AaveParams { max_liquidation_bonus: 99_99, ..ok.clone() }), "max_liquidation_bonus");
    // bonus × CF must stay below 100 %: 200 % × 50 % is not.
    assert_eq!(key(AaveParams { max_liquidation_bonus: 200_00, ..ok.clone() }), "max_liquidation_bonus");
    assert_eq!(key(AaveParams { health_factor_for_max_bonus: WAD, ..ok.clone() }), "health_factor_for_max_bonus");
    assert_eq!(key(AaveParams { target_health_factor: WAD - 1, ..ok.clone() }), "target_health_factor");
}
