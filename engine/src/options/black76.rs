//! Black-76: European options on a forward (a future, a perp's forward, or an
//! index forward), priced and differentiated in closed form. Analytics (`f64`).
//!
//! With forward `F`, strike `K`, time to expiry `T` (years), volatility `σ`
//! (a fraction, 0.8 = 80 %) and discount rate `r`:
//! `d1 = (ln(F/K) + σ²T/2) / (σ√T)`, `d2 = d1 − σ√T`, `D = e^(−rT)`;
//! call `D·(F·N(d1) − K·N(d2))`, put `D·(K·N(−d2) − F·N(−d1))`.
//!
//! Greeks are reported in the units venues print them in (Deribit's ticker):
//! delta per unit of the underlying, gamma per unit per unit, vega per one
//! volatility point (σ + 0.01), theta per calendar day (365-day year) and
//! never more than the option's whole value (an option cannot lose more than
//! its price in the last day: the venue caps it so, and gavel does the same).

use std::fmt;

pub use gavel_feeds::options::{Greeks, OptionKind};

/// Seconds in the 365-day year Black-76 time is measured in.
pub const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;
/// Highest volatility accepted anywhere (1,000 %); the implied-vol search stops here.
pub const MAX_VOL: f64 = 10.0;
/// Lowest volatility the implied-vol search tries (0.01 %).
pub const MIN_VOL: f64 = 1e-4;

/// One option to value: kind, forward, strike, years to expiry, volatility, rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Black76 {
    /// Call or put.
    pub kind: OptionKind,
    /// Forward (underlying) price, > 0.
    pub forward: f64,
    /// Strike, > 0.
    pub strike: f64,
    /// Years to expiry, > 0.
    pub years: f64,
    /// Volatility as a fraction, in (0, [`MAX_VOL`]].
    pub vol: f64,
    /// Continuously compounded discount rate (0 on crypto venues).
    pub rate: f64,
}

/// Which input of a [`Black76`] is out of range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PricingInputError {
    /// The forward is not a finite number > 0.
    Forward,
    /// The strike is not a finite number > 0.
    Strike,
    /// The expiry is not in the future (years ≤ 0) or not finite.
    Expired,
    /// The volatility is not in (0, 10] or is NaN.
    Vol,
    /// The rate is not finite or beyond ±100 %.
    Rate,
}

impl PricingInputError {
    /// The field the error is about, as named in files and messages.
    pub fn field(self) -> &'static str {
        match self {
            PricingInputError::Forward => "underlying_price",
            PricingInputError::Strike => "strike",
            PricingInputError::Expired => "expiry",
            PricingInputError::Vol => "vol",
            PricingInputError::Rate => "rate",
        }
    }
}

impl fmt::Display for PricingInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PricingInputError::Forward => "the underlying price must be a finite number > 0",
            PricingInputError::Strike => "the strike must be a finite number > 0",
            PricingInputError::Expired => "the expiry must be after the valuation time",
            PricingInputError::Vol => "the volatility must be a number in (0, 10] (1,000 %)",
            PricingInputError::Rate => "the rate must be a finite number in [-1, 1]",
        })
    }
}

impl std::error::Error for PricingInputError {}

impl Black76 {
    /// Checks every input; the only way to build a value the pricing functions trust.
    pub fn new(kind: OptionKind, forward: f64, strike: f64, years: f64, vol: f64, rate: f64) -> Result<Self, PricingInputError> {
        if !(forward.is_finite() && forward > 0.0) {
            return Err(PricingInputError::Forward);
        }
        if !(strike.is_finite() && strike > 0.0) {
            return Err(PricingInputError::Strike);
        }
        if !(years.is_finite() && years > 0.0) {
            return Err(PricingInputError::Expired);
        }
        if !(vol > 0.0 && vol <= MAX_VOL) {
            return Err(PricingInputError::Vol);
        }
        if !(rate.is_finite() && (-1.0..=1.0).contains(&rate)) {
            return Err(PricingInputError::Rate);
        }
        Ok(Black76 { kind, forward, strike, years, vol, rate })
    }

    /// The same option with another forward and volatility (a stress scenario).
    pub fn shocked(&self, forward: f64, vol: f64) -> Result<Self, PricingInputError> {
        Black76::new(self.kind, forward, self.strike, self.years, vol, self.rate)
    }

    fn d1_d2(&self) -> (f64, f64) {
        let sd = self.vol * self.years.sqrt();
        let d1 = ((self.forward / self.strike).ln() + 0.5 * sd * sd) / sd;
        (d1, d1 - sd)
    }

    fn discount(&self) -> f64 {
        (-self.rate * self.years).exp()
    }

    /// Premium, in the quote currency per unit of the underlying.
    pub fn price(&self) -> f64 {
        let (d1, d2) = self.d1_d2();
        let (f, k) = (self.forward, self.strike);
        let undiscounted = match self.kind {
            OptionKind::Call => f * norm_cdf(d1) - k * norm_cdf(d2),
            OptionKind::Put => k * norm_cdf(-d2) - f * norm_cdf(-d1),
        };
        // Rounding in N() can leave a far out-of-the-money value a hair below zero.
        (self.discount() * undiscounted).max(0.0)
    }

    /// Delta, gamma, vega (per vol point) and theta (per day, capped at −price).
    pub fn greeks(&self) -> Greeks {
        let (d1, _) = self.d1_d2();
        let disc = self.discount();
        let sqrt_t = self.years.sqrt();
        let density = norm_pdf(d1);
        let delta = match self.kind {
            OptionKind::Call => disc * norm_cdf(d1),
            OptionKind::Put => -disc * norm_cdf(-d1),
        };
        let price = self.price();
        let theta_per_year = -disc * self.forward * density * self.vol / (2.0 * sqrt_t) + self.rate * price;
        Greeks {
            delta,
            gamma: disc * density / (self.forward * self.vol * sqrt_t),
            vega: disc * self.forward * density * sqrt_t / 100.0,
            theta: (theta_per_year / 365.0).max(-price),
        }
    }
}

/// The volatility at which an option of `template`'s kind, forward, strike,
/// expiry and rate is worth `premium`; `None` when no volatility in
/// [[`MIN_VOL`], [`MAX_VOL`]] prices it (below intrinsic value, above the
/// forward or strike bound, or not a finite number). Bisection: the price is
/// increasing in σ, so 100 halvings pin σ to far below a basis point.
pub fn implied_vol(template: &Black76, premium: f64) -> Option<f64> {
    if !premium.is_finite() {
        return None;
    }
    let at = |vol: f64| Black76 { vol, ..*template }.price();
    let (mut low, mut high) = (MIN_VOL, MAX_VOL);
    if premium < at(low) || premium > at(high) {
        return None;
    }
    for _ in 0..100 {
        let mid = 0.5 * (low + high);
        if at(mid) < premium {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(0.5 * (low + high))
}

/// Standard normal density.
pub fn norm_pdf(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    INV_SQRT_2PI * (-0.5 * x * x).exp()
}

/// Standard normal distribution function, `N(x) = erfc(−x/√2) / 2`.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Complementary error function, to about 10⁻¹³ relative (the standard
/// library has none): the Maclaurin series of erf below 2, the continued
/// fraction `erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3⁄2/(x + …))))` from 2
/// up, evaluated from the bottom at a fixed depth (deterministic), and
/// `erfc(−x) = 2 − erfc(x)`. NaN in, NaN out.
pub fn erfc(x: f64) -> f64 {
    const INV_SQRT_PI: f64 = 0.564_189_583_547_756_3;
    let z = x.abs();
    let tail = if z < 2.0 {
        // erf(z) = 2/√π Σ (−1)ⁿ z^(2n+1) / (n! (2n+1)); 40 terms reach 10⁻¹⁷ at z = 2.
        let (mut term, mut sum) = (z, z);
        for n in 1..40 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        1.0 - 2.0 * INV_SQRT_PI * sum
    } else {
        let mut fraction = z;
        for n in (1..=80).rev() {
            fraction = z + (n as f64 / 2.0) / fraction;
        }
        (-z * z).exp() * INV_SQRT_PI / fraction
    };
    if x >= 0.0 || x.is_nan() {
        tail
    } else {
        2.0 - tail
    }
}

#[cfg(test)]
#[path = "black76_tests.rs"]
mod tests;
