//! Price-decrease curves of a Dutch auction ("abacus" in MakerDAO's Liquidations
//! 2.0): the factor `f(t) ∈ [0, 1]` (RAY) by which the starting price is
//! multiplied after `t` of event time.
//!
//! Published formulas (dss `abaci.sol`), `top` the start price, `dur` the whole
//! seconds since the start:
//! - `LinearDecrease`: `price = top × (tau − dur) / tau` while `dur < tau`, else 0;
//! - `StairstepExponentialDecrease`: `price = top × cut^⌊dur / step⌋`;
//! - `ExponentialDecrease`: `price = top × cut^dur`.
//!
//! gavel keeps those formulas and Maker's integer arithmetic (`rmul` rounding
//! down, `rpow` rounding half up) with one refinement: the linear curve runs on
//! nanoseconds (`f = (tau_ns − t_ns) / tau_ns`), which equals Maker's value at
//! every whole second. Stairstep counts whole steps (`⌊t_ns / step_ns⌋`) and the
//! exponential curve whole seconds (`⌊t_ns / 1e9⌋`), exactly as Maker does.

use super::fixed::{mul_div_floor, mul_div_round, rmul, rpow, Ray, RAY};

/// Nanoseconds per second.
pub const NS_PER_SEC: i64 = 1_000_000_000;

/// A price-decrease curve (serde: `{ kind = "linear", tau_s = 600 }`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Curve {
    /// Straight line from the start price to zero over `tau_s` seconds.
    Linear {
        /// Seconds until the price reaches zero (`tau`).
        tau_s: u64,
    },
    /// Multiply by `cut` once every `step_s` seconds.
    Stairstep {
        /// Per-step multiplicative factor (`cut`, e.g. 0.99).
        cut: Ray,
        /// Length of one step in seconds (`step`).
        step_s: u64,
    },
    /// Multiply by `cut` once per second.
    Exponential {
        /// Per-second multiplicative factor (`cut`, e.g. 0.999).
        cut: Ray,
    },
}

/// A curve whose parameters cannot produce a valid price.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CurveError {
    /// `tau_s` or `step_s` is zero.
    #[error("{0} must be positive")]
    ZeroDuration(&'static str),
    /// `cut` is above 1 (the price would rise) or zero.
    #[error("cut must be in (0, 1], got {0}")]
    BadCut(Ray),
}

impl Curve {
    /// Checks the parameters (positive durations, `0 < cut ≤ 1`).
    pub fn validate(&self) -> Result<(), CurveError> {
        match *self {
            Curve::Linear { tau_s: 0 } => Err(CurveError::ZeroDuration("tau_s")),
            Curve::Stairstep { step_s: 0, .. } => Err(CurveError::ZeroDuration("step_s")),
            Curve::Stairstep { cut, .. } | Curve::Exponential { cut } if cut.0 == 0 || cut.0 > RAY => {
                Err(CurveError::BadCut(cut))
            }
            _ => Ok(()),
        }
    }

    /// The decay factor `f(t)` in RAY after `elapsed_ns` (negative counts as 0).
    /// Returns a value in `[0, RAY]` for validated curves; an invalid zero
    /// duration yields 0 (the auction is over at once) rather than a panic.
    pub fn factor(&self, elapsed_ns: i64) -> u128 {
        let elapsed_ns = elapsed_ns.max(0) as u128;
        match *self {
            Curve::Linear { tau_s } => {
                let tau_ns = tau_s as u128 * NS_PER_SEC as u128;
                if elapsed_ns >= tau_ns {
                    return 0;
                }
                mul_div_floor(tau_ns - elapsed_ns, RAY, tau_ns).unwrap_or(0)
            }
            Curve::Stairstep { cut, step_s } => {
                let step_ns = step_s as u128 * NS_PER_SEC as u128;
                if step_ns == 0 {
                    return 0;
                }
                let steps = u64::try_from(elapsed_ns / step_ns).unwrap_or(u64::MAX);
                rpow(cut.0.min(RAY), steps)
            }
            Curve::Exponential { cut } => {
                let secs = u64::try_from(elapsed_ns / NS_PER_SEC as u128).unwrap_or(u64::MAX);
                rpow(cut.0.min(RAY), secs)
            }
        }
    }

    /// Maker's `price(top, dur)`: `rmul(top, f(t))`, i.e. `top × f(t)` rounded
    /// down, with `top` and the result in RAY units (e.g. ray-ticks).
    pub fn price(&self, top: u128, elapsed_ns: i64) -> u128 {
        // Maker's linear formula multiplies by (tau − dur)·RAY/tau, which is
        // exactly the linear factor; the exponential ones by rpow(cut, n).
        rmul(top, self.factor(elapsed_ns))
    }
}

/// A curve with Maker's `rpow` squarings `cut^(2^k)` precomputed, so a price
/// costs one rounded multiplication per set bit of the step count instead of a
/// full square-and-multiply. Results are bit-identical to [`Curve::price`]:
/// `rpow` squares `x` the same way whatever `n` is, and multiplies the set bits
/// in the same (increasing) order.
///
/// Serialized as its curve; the table is computed again when it is read.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(from = "Curve", into = "Curve")]
pub struct PreparedCurve {
    curve: Curve,
    powers: [u128; 64],
}

impl PreparedCurve {
    /// Precomputes the table for `curve`.
    pub fn new(curve: Curve) -> Self {
        let mut powers = [0u128; 64];
        if let Curve::Stairstep { cut, .. } | Curve::Exponential { cut } = curve {
            powers[0] = cut.0.min(RAY);
            for k in 1..64 {
                powers[k] = mul_div_round(powers[k - 1], powers[k - 1], RAY).unwrap_or(0);
            }
        }
        Self { curve, powers }
    }

    /// The underlying curve.
    pub fn curve(&self) -> &Curve {
        &self.curve
    }

    /// `rpow(cut, n)` from the table.
    fn pow(&self, n: u64) -> u128 {
        if n == 0 {
            return RAY;
        }
        if self.powers[0] == 0 {
            return 0;
        }
        let mut z = if n & 1 == 1 { self.powers[0] } else { RAY };
        let mut bits = n >> 1;
        let mut k = 1;
        while bits != 0 {
            if bits & 1 == 1 {
                z = mul_div_round(z, self.powers[k], RAY).unwrap_or(0);
            }
            bits >>= 1;
            k += 1;
        }
        z
    }

    /// Same as [`Curve::factor`].
    pub fn factor(&self, elapsed_ns: i64) -> u128 {
        let elapsed = elapsed_ns.max(0) as u128;
        match self.curve {
            Curve::Linear { .. } => self.curve.factor(elapsed_ns),
            Curve::Stairstep { step_s, .. } => {
                let step_ns = step_s as u128 * NS_PER_SEC as u128;
                if step_ns == 0 {
                    return 0;
                }
                self.pow(u64::try_from(elapsed / step_ns).unwrap_or(u64::MAX))
            }
            Curve::Exponential { .. } => self.pow(u64::try_from(elapsed / NS_PER_SEC as u128).unwrap_or(u64::MAX)),
        }
    }

    /// Same as [`Curve::price`].
    pub fn price(&self, top: u128, elapsed_ns: i64) -> u128 {
        rmul(top, self.factor(elapsed_ns))
    }
}

impl From<Curve> for PreparedCurve {
    fn from(curve: Curve) -> Self {
        PreparedCurve::new(curve)
    }
}

impl From<PreparedCurve> for Curve {
    fn from(prepared: PreparedCurve) -> Self {
        prepared.curve
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    fn ray(text: &str) -> u128 {
        Ray::parse(text).unwrap().0
    }

    /// |got − want| ≤ want × 1e-20 (Maker's rpow rounds each squaring to 1e-27).
    fn assert_close(got: u128, want: u128, what: &str) {
        let diff = got.abs_diff(want);
        assert!(
            diff <= want / 100_000_000_000_000_000_000 + 1,
            "{what}: got {got}, want {want}, diff {diff}"
        );
    }

    // Expected values computed independently with python3's `decimal` module at 60
    // digits of precision straight from the published formulas:
    //   linear:      top * (tau - t) / tau            (0 once t >= tau)
    //   stairstep:   top * cut ** (t // step)
    //   exponential: top * cut ** t
    // e.g. `Decimal(100) * Decimal("0.99") ** 3`, then truncated to 27 fractional
    // digits and pasted here as ray literals (value × 1e27).
    #[test]
    fn linear_matches_published_formula() {
        let curve = Curve::Linear { tau_s: 600 };
        let top = ray("100");
        // t = 0, 1, 150, 599, 600, 601
        assert_eq!(curve.price(top, 0), ray("100"));
        assert_close(
            curve.price(top, NS_PER_SEC),
            ray("99.833333333333333333333333333"),
            "linear 1s",
        );
        assert_eq!(curve.price(top, 150 * NS_PER_SEC), ray("75"));
        assert_close(
            curve.price(top, 599 * NS_PER_SEC),
            ray("0.166666666666666666666666666"),
            "linear 599s",
        );
        assert_eq!(curve.price(top, 600 * NS_PER_SEC), 0);
        assert_eq!(curve.price(top, 601 * NS_PER_SEC), 0);
        // top 12345.678, tau 7 s, t = 3 s: 12345.678 * 4 / 7 = 7054.673142857142857142857142857…
        let curve = Curve::Linear { tau_s: 7 };
        assert_close(
            curve.price(ray("12345.678"), 3 * NS_PER_SEC),
            ray("7054.673142857142857142857142"),
            "linear 7s",
        );
    }

    #[test]
    fn stairstep_matches_published_formula_at_step_boundaries() {
        let curve = Curve::Stairstep {
            cut: Ray::parse("0.99").unwrap(),
            step_s: 90,
        };
        let top = ray("100");
        // t = 0 and 89.999999999 s: still step 0.
        assert_eq!(curve.price(top, 0), ray("100"));
        assert_eq!(curve.price(top, 90 * NS_PER_SEC - 1), ray("100"));
        // t = 90 s: exactly one step; 179 s still one step; 180 s two steps.
        assert_eq!(curve.price(top, 90 * NS_PER_SEC), ray("99"));
        assert_eq!(curve.price(top, 179 * NS_PER_SEC), ray("99"));
        assert_eq!(curve.price(top, 180 * NS_PER_SEC), ray("98.01"));
        // t = 900 s: 10 steps, 100 * 0.99**10 = 90.438207500880449001 (exact)
        assert_close(
            curve.price(top, 900 * NS_PER_SEC),
            ray("90.438207500880449001"),
            "stair 10",
        );
        // t = 9000 s: 100 steps, 100 * 0.99**100 = 36.60323412732295049306160265725…
        assert_close(
            curve.price(top, 9000 * NS_PER_SEC),
            ray("36.603234127322950493061602657"),
            "stair 100",
        );

        let curve = Curve::Stairstep {
            cut: Ray::parse("0.5").unwrap(),
            step_s: 1,
        };
        // 2500 * 0.5**7 = 19.53125 exactly
        assert_eq!(curve.price(ray("2500"), 7 * NS_PER_SEC), ray("19.53125"));
    }

    #[test]
    fn exponential_matches_published_formula() {
        let curve = Curve::Exponential {
            cut: Ray::parse("0.999").unwrap(),
        };
        let top = ray("30000");
        assert_eq!(curve.price(top, 0), ray("30000"));
        // Whole seconds only: 1.5 s counts as 1 s. 30000 * 0.999 = 29970
        assert_eq!(curve.price(top, 1_500_000_000), ray("29970"));
        // 30000 * 0.999**60 = 28252.08786669504590978265184949…  (python3 Decimal, 60 digits)
        assert_close(
            curve.price(top, 60 * NS_PER_SEC),
            ray("28252.087866695045909782651849499"),
            "exp 60",
        );
        // 30000 * 0.999**3600 = 818.2365369216958042567359442…
        assert_close(
            curve.price(top, 3600 * NS_PER_SEC),
            ray("818.236536921695804256735944199"),
            "exp 3600",
        );
    }

    #[test]
    fn prepared_curve_is_bit_identical_to_rpow() {
        for curve in [
            Curve::Stairstep {
                cut: Ray::parse("0.99").unwrap(),
                step_s: 90,
            },
            Curve::Exponential {
                cut: Ray::parse("0.999").unwrap(),
            },
            Curve::Exponential {
                cut: Ray::parse("0.123456789012345678901234567").unwrap(),
            },
            Curve::Stairstep {
                cut: Ray::ONE,
                step_s: 1,
            },
            Curve::Linear { tau_s: 600 },
        ] {
            let prepared = PreparedCurve::new(curve);
            let mut t: i64 = 0;
            for i in 0..2_000i64 {
                assert_eq!(prepared.factor(t), curve.factor(t), "{curve:?} at {t}");
                assert_eq!(prepared.price(ray("61800.2"), t), curve.price(ray("61800.2"), t));
                t += i * 997_000_001 % 50_000_000_000;
            }
            assert_eq!(prepared.factor(i64::MAX), curve.factor(i64::MAX));
        }
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        assert!(Curve::Linear { tau_s: 0 }.validate().is_err());
        assert!(Curve::Stairstep {
            cut: Ray::ONE,
            step_s: 0
        }
        .validate()
        .is_err());
        assert!(Curve::Exponential {
            cut: Ray::parse("1.01").unwrap()
        }
        .validate()
        .is_err());
        assert!(Curve::Exponential { cut: Ray::ZERO }.validate().is_err());
        assert!(Curve::Exponential { cut: Ray::ONE }.validate().is_ok());
    }
}
