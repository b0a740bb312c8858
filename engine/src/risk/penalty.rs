//! Liquidation penalty: a static rate of closed notional, or a dynamic rate
//! from volatility and the size being closed relative to visible depth.
//!
//! Dynamic rate (see `docs/POLICIES.md`, "Risk"):
//! `rate = min(cap, base + a × σ_H + b × closed_size ÷ depth_within_X_bps)`
//! where `σ_H` is the realized-volatility estimate over the horizon H and
//! depth is an input number of lots. The rate is computed in f64 (analytics)
//! and rounded up to an integer of [`RATE_SCALE`]; the penalty itself is
//! integer: `ceil(closed_notional × rate ÷ RATE_SCALE)`.

use super::decimal::div_ceil;
use super::instrument::RATE_SCALE;

/// How the penalty rate is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PenaltyPolicy {
    /// A fixed rate (in [`RATE_SCALE`] parts) of closed notional.
    Static {
        /// Rate, e.g. 1_000_000 = 1 %.
        rate: i128,
    },
    /// `min(cap, base + vol_coef × σ_H + depth_coef × size ÷ depth)`.
    Dynamic {
        /// Base rate, [`RATE_SCALE`] parts.
        base: i128,
        /// Weight of the horizon volatility σ_H (a fraction).
        vol_coef: f64,
        /// Weight of closed size ÷ depth.
        depth_coef: f64,
        /// Highest rate, [`RATE_SCALE`] parts.
        cap: i128,
    },
}

impl Default for PenaltyPolicy {
    /// The documented defaults: base 0.5 %, a = 0.5, b = 1 %, cap 2.5 %.
    fn default() -> Self {
        PenaltyPolicy::Dynamic {
            base: 500_000,
            vol_coef: 0.5,
            depth_coef: 0.01,
            cap: 2_500_000,
        }
    }
}

impl PenaltyPolicy {
    /// The rate for closing `closed_lots` with `depth_lots` of depth within
    /// the band and horizon volatility `sigma_h`. Zero or unknown depth
    /// counts as the cap.
    pub fn rate(&self, sigma_h: f64, closed_lots: i64, depth_lots: i64) -> i128 {
        match *self {
            PenaltyPolicy::Static { rate } => rate,
            PenaltyPolicy::Dynamic {
                base,
                vol_coef,
                depth_coef,
                cap,
            } => {
                if depth_lots <= 0 {
                    return cap;
                }
                let extra = vol_coef * sigma_h.max(0.0) + depth_coef * (closed_lots.unsigned_abs() as f64 / depth_lots as f64);
                let extra_units = (extra * RATE_SCALE as f64).ceil();
                if !extra_units.is_finite() || extra_units >= cap as f64 {
                    return cap;
                }
                (base + extra_units as i128).min(cap)
            }
        }
    }
}

/// The penalty on `closed_notional` quote units at `rate`, rounded up.
pub fn penalty_amount(closed_notional: i128, rate: i128) -> i128 {
    div_ceil(closed_notional.abs() * rate, RATE_SCALE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_rate_grows_with_vol_and_size_and_is_capped() {
        let p = PenaltyPolicy::default();
        let calm = p.rate(0.0, 10, 1_000);
        assert_eq!(calm, 500_000 + 10_000); // 0.5 % + 1 % × (10 ÷ 1000) = 0.51 %
        assert!(p.rate(0.01, 10, 1_000) > calm);
        assert!(p.rate(0.0, 500, 1_000) > calm);
        assert_eq!(p.rate(0.0, 1_000_000, 1), 2_500_000);
        assert_eq!(p.rate(0.0, 1, 0), 2_500_000);
        assert_eq!(PenaltyPolicy::Static { rate: 1_000_000 }.rate(1.0, 1, 1), 1_000_000);
        assert_eq!(penalty_amount(-1_000_000, 1_000_000), 10_000);
        assert_eq!(penalty_amount(1, 1), 1);
    }
}
