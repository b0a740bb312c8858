//! Aave v4 spoke liquidations (`aave/aave-v4`,
//! `src/spoke/libraries/LiquidationLogic.sol`): a liquidation bonus that
//! ramps with the health factor, debt sized to bring the position to a target
//! health factor, and the dust rule. Aave's units: percentages in basis points
//! (`PERCENTAGE_FACTOR = 10^4`), health factors in wad (10^18), prices with 8
//! decimals, values in 10^26 per dollar (price × wad ÷ unit).

use super::{full_bankruptcy_price, ticks, Decision, PositionState};
use crate::auction::fixed::{mul_div_ceil, mul_div_floor};
use crate::risk::instrument::Instrument;

/// 100 % in basis points.
pub const PERCENTAGE_FACTOR: u128 = 10_000;
/// 1.0 in wad.
pub const WAD: u128 = 1_000_000_000_000_000_000;
/// Liquidatable below this health factor (1.0).
pub const HEALTH_FACTOR_LIQUIDATION_THRESHOLD: u128 = WAD;
/// Positions may not be left with less than this value ($1000, in 10^26 per $).
pub const DUST_LIQUIDATION_THRESHOLD: u128 = 1000 * 100_000_000 * WAD;

/// Aave v4 parameters (per spoke and reserve: governance sets them, so the
/// required ones have no default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AaveParams {
    /// Collateral factor, bps (required).
    pub collateral_factor: u32,
    /// Bonus at or below `health_factor_for_max_bonus`, bps ≥ 10^4 (required).
    pub max_liquidation_bonus: u32,
    /// Minimum bonus as a share of the max bonus' excess, bps (required).
    pub liquidation_bonus_factor: u32,
    /// Health factor (wad) at which the bonus reaches its max (required, < 1).
    pub health_factor_for_max_bonus: u128,
    /// Health factor (wad) a liquidation restores (required, ≥ 1).
    pub target_health_factor: u128,
    /// Protocol share of the bonus, bps (default 0).
    pub liquidation_fee: u32,
}

impl AaveParams {
    /// The invariants `LiquidationLogic.sol` relies on; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.collateral_factor == 0 || u128::from(self.collateral_factor) >= PERCENTAGE_FACTOR {
            return Err(("collateral_factor", "must be in (0, 10000)".into()));
        }
        if u128::from(self.max_liquidation_bonus) < PERCENTAGE_FACTOR {
            return Err(("max_liquidation_bonus", "must be >= 10000".into()));
        }
        let penalty = percent_mul_up(u128::from(self.max_liquidation_bonus), u128::from(self.collateral_factor));
        if penalty >= PERCENTAGE_FACTOR {
            return Err(("max_liquidation_bonus", "bonus × collateral_factor must be < 10000".into()));
        }
        if u128::from(self.liquidation_bonus_factor) > PERCENTAGE_FACTOR {
            return Err(("liquidation_bonus_factor", "must be <= 10000".into()));
        }
        if self.health_factor_for_max_bonus >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD {
            return Err(("health_factor_for_max_bonus", "must be < 1".into()));
        }
        if self.target_health_factor < HEALTH_FACTOR_LIQUIDATION_THRESHOLD {
            return Err(("target_health_factor", "must be >= 1".into()));
        }
        if u128::from(self.liquidation_fee) > PERCENTAGE_FACTOR {
            return Err(("liquidation_fee", "must be <= 10000".into()));
        }
        Ok(())
    }
}

fn percent_mul_up(value: u128, bps: u128) -> u128 {
    (value * bps).div_ceil(PERCENTAGE_FACTOR)
}

/// `calculateLiquidationBonus` (bps): the max bonus at or below
/// `hf_for_max_bonus`, else linear from the max down to
/// `min = (max − 1)·factor + 1` at a health factor of 1, rounded down.
pub fn liquidation_bonus(hf_for_max_bonus: u128, bonus_factor: u128, hf: u128, max_bonus: u128) -> u128 {
    if hf <= hf_for_max_bonus {
        return max_bonus;
    }
    let min_bonus = (max_bonus - PERCENTAGE_FACTOR) * bonus_factor / PERCENTAGE_FACTOR + PERCENTAGE_FACTOR;
    let span = HEALTH_FACTOR_LIQUIDATION_THRESHOLD - hf_for_max_bonus;
    let below = HEALTH_FACTOR_LIQUIDATION_THRESHOLD.saturating_sub(hf);
    min_bonus + mul_div_floor(max_bonus - min_bonus, below, span).unwrap_or(0)
}

/// `_calculateDebtToTargetHealthFactor`: debt (in debt-asset units) whose
/// repayment brings the health factor to the target,
/// `ceil(totalDebtValue · unit · (THF − HF) / ((THF − bonus·CF) · price · 10^18))`.
/// `None` on `HF > THF` or an overflow (Aave reverts).
pub fn debt_to_target_health_factor(
    total_debt_value: u128,
    hf: u128,
    target_hf: u128,
    bonus: u128,
    collateral_factor: u128,
    debt_price: u128,
    debt_unit: u128,
) -> Option<u128> {
    let penalty = percent_mul_up(bonus * (WAD / PERCENTAGE_FACTOR), collateral_factor);
    let num = debt_unit.checked_mul(target_hf.checked_sub(hf)?)?;
    let den = Wide::mul(target_hf.checked_sub(penalty)?, debt_price.checked_mul(WAD)?);
    Wide::mul(total_debt_value, num).div_ceil(den)
}

/// A 256-bit unsigned integer, just enough for Solidity's `mulDiv` with a
/// product denominator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Wide {
    hi: u128,
    lo: u128,
}

impl Wide {
    fn mul(a: u128, b: u128) -> Wide {
        let (hi, lo) = crate::auction::fixed::mul_wide(a, b);
        Wide { hi, lo }
    }

    fn is_zero(self) -> bool {
        self.hi == 0 && self.lo == 0
    }

    fn shl1(self) -> Wide {
        Wide {
            hi: (self.hi << 1) | (self.lo >> 127),
            lo: self.lo << 1,
        }
    }

    fn sub(self, o: Wide) -> Wide {
        let (lo, borrow) = self.lo.overflowing_sub(o.lo);
        Wide {
            hi: self.hi - o.hi - u128::from(borrow),
            lo,
        }
    }

    /// `ceil(self / d)` if it fits a `u128` and `d ≠ 0` (bitwise long division).
    fn div_ceil(self, d: Wide) -> Option<u128> {
        if d.is_zero() {
            return None;
        }
        let mut q = Wide { hi: 0, lo: 0 };
        let mut r = Wide { hi: 0, lo: 0 };
        for i in (0..256).rev() {
            let bit = if i >= 128 { (self.hi >> (i - 128)) & 1 } else { (self.lo >> i) & 1 };
            if r.hi >> 127 == 1 {
                return None; // remainder would overflow 256 bits: d is huge, q tiny; not reached for d ≥ 1
            }
            r = r.shl1();
            r.lo |= bit;
            q = q.shl1();
            if r >= d {
                r = r.sub(d);
                q.lo |= 1;
            }
        }
        if q.hi != 0 {
            return None;
        }
        if r.is_zero() {
            Some(q.lo)
        } else {
            q.lo.checked_add(1)
        }
    }
}

/// The amounts of one liquidation (`_calculateLiquidationAmounts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidationAmounts {
    /// Collateral taken from the user (collateral units).
    pub collateral_to_liquidate: u128,
    /// Of which the liquidator receives (the rest is the protocol fee).
    pub collateral_to_liquidator: u128,
    /// Debt repaid (debt units).
    pub debt_to_liquidate: u128,
}

/// The market inputs of [`liquidation_amounts`]: balances, prices (8
/// decimals) and units (10^decimals) of the two reserves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reserves {
    /// The user's debt in the debt reserve.
    pub debt_balance: u128,
    /// The user's collateral in the collateral reserve.
    pub collateral_balance: u128,
    /// Debt-asset price.
    pub debt_price: u128,
    /// Debt-asset unit.
    pub debt_unit: u128,
    /// Collateral-asset price.
    pub collateral_price: u128,
    /// Collateral-asset unit.
    pub collateral_unit: u128,
}

fn value(amount: u128, price: u128, unit: u128) -> u128 {
    mul_div_floor(amount, price * WAD, unit).unwrap_or(u128::MAX)
}

/// `_calculateLiquidationAmounts` with `debtToCover` (the liquidator's offer):
/// debt is the least of balance, offer and debt-to-target, or the whole
/// balance when the rest would be dust; collateral follows at the bonus; when
/// it exceeds the balance or would leave collateral dust, all collateral goes
/// and the debt is recomputed (rounded up). `Err` is Aave's `MustNotLeaveDust`.
pub fn liquidation_amounts(
    params: &AaveParams,
    r: &Reserves,
    debt_to_cover: u128,
    total_debt_value: u128,
    hf: u128,
) -> Result<LiquidationAmounts, &'static str> {
    let bonus = liquidation_bonus(
        params.health_factor_for_max_bonus,
        u128::from(params.liquidation_bonus_factor),
        hf,
        u128::from(params.max_liquidation_bonus),
    );
    let to_target = debt_to_target_health_factor(
        total_debt_value,
        hf,
        params.target_health_factor,
        bonus,
        u128::from(params.collateral_factor),
        r.debt_price,
        r.debt_unit,
    )
    .ok_or("health factor above target")?;
    let mut debt = r.debt_balance.min(debt_to_cover).min(to_target);
    if debt < r.debt_balance && value(r.debt_balance - debt, r.debt_price, r.debt_unit) < DUST_LIQUIDATION_THRESHOLD {
        debt = r.debt_balance;
    }
    let overflow = "overflow";
    let num = r.debt_price.checked_mul(r.collateral_unit).and_then(|v| v.checked_mul(bonus)).ok_or(overflow)?;
    let den = r.debt_unit.checked_mul(r.collateral_price).and_then(|v| v.checked_mul(PERCENTAGE_FACTOR)).ok_or(overflow)?;
    let mut collateral = mul_div_floor(debt, num, den).ok_or(overflow)?;
    let collateral_dust = collateral < r.collateral_balance
        && value(r.collateral_balance - collateral, r.collateral_price, r.collateral_unit) < DUST_LIQUIDATION_THRESHOLD;
    if collateral > r.collateral_balance || (collateral_dust && debt < r.debt_balance) {
        collateral = r.collateral_balance;
        debt = mul_div_ceil(collateral, den, num).ok_or(overflow)?;
    }
    if debt_to_cover < debt {
        return Err("MustNotLeaveDust");
    }
    let fee = mul_div_floor(
        collateral,
        u128::from(params.liquidation_fee) * (bonus - PERCENTAGE_FACTOR),
        bonus * PERCENTAGE_FACTOR,
    )
    .ok_or(overflow)?;
    Ok(LiquidationAmounts {
        collateral_to_liquidate: collateral,
        collateral_to_liquidator: collateral - fee,
        debt_to_liquidate: debt,
    })
}

/// The Aave decision for a perp position seen as a loan: a long holds `|size|`
/// lots of base as collateral against a quote debt `entry − balance`; a short
/// holds quote `balance + |entry|` against a base debt of `|size|` lots. Health
/// factor `collateral × CF ÷ debt` (wad, rounded down); the liquidator repays
/// up to the whole debt and the size is the lots that change hands.
pub fn decide(params: &AaveParams, ins: &Instrument, p: &PositionState) -> Decision {
    let bankruptcy_price = full_bankruptcy_price(ins, p);
    let lot_price = (i128::from(p.mark) * ins.quote_per_tick_lot * 100).max(0) as u128; // $ per lot, 8 decimals
    let (collateral_value, debt_quote, r) = if p.size > 0 {
        let debt = (p.entry_notional - p.other_balance).max(0) as u128;
        let r = Reserves {
            debt_balance: debt,
            collateral_balance: p.size as u128,
            debt_price: 100_000_000,
            debt_unit: 1_000_000,
            collateral_price: lot_price,
            collateral_unit: 1,
        };
        (p.notional(ins).max(0) as u128, debt, r)
    } else {
        let coll = (p.other_balance - p.entry_notional).max(0) as u128;
        let r = Reserves {
            debt_balance: p.size.unsigned_abs() as u128,
            collateral_balance: coll,
            debt_price: lot_price,
            debt_unit: 1,
            collateral_price: 100_000_000,
            collateral_unit: 1_000_000,
        };
        (coll, p.notional(ins).max(0) as u128, r)
    };
    if debt_quote == 0 {
        return Decision::none(bankruptcy_price);
    }
    let weighted = collateral_value * u128::from(params.collateral_factor);
    let hf = mul_div_floor(weighted, WAD, debt_quote * PERCENTAGE_FACTOR).unwrap_or(u128::MAX);
    if hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD {
        return Decision::none(bankruptcy_price);
    }
    let total_debt_value = debt_quote * 100 * WAD; // quote units (10^-6 $) to 10^26 per $
    let amounts = liquidation_amounts(params, &r, u128::MAX, total_debt_value, hf);
    let bonus = i128::from(params.max_liquidation_bonus).max(1);
    let bonus = liquidation_bonus(
        params.health_factor_for_max_bonus,
        u128::from(params.liquidation_bonus_factor),
        hf,
        bonus as u128,
    ) as i128;
    let mark = i128::from(p.mark);
    let (lots, limit) = match amounts {
        Ok(a) if p.size > 0 => (a.collateral_to_liquidate, ticks(mark * 10_000, bonus, true)),
        Ok(a) => (a.debt_to_liquidate, ticks(mark * bonus, 10_000, false)),
        Err(_) => (p.size.unsigned_abs() as u128, mark as i64),
    };
    Decision {
        liquidatable: true,
        bankruptcy_price,
        limit_price: Some(limit.max(1)),
        size_to_liquidate: lots.min(p.size.unsigned_abs() as u128) as i64,
    }
}
