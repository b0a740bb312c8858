//! gavel's Black-76 against a venue's own numbers: from one venue ticker
//! (underlying price, mark implied vol, rate, expiry) compute the premium and
//! Greeks and compare them with what the venue printed.
//!
//! Tolerance ([`TOLERANCE`]): each Greek within 5 × 10⁻⁶ (the venue prints
//! five decimals) plus 1 % of the venue's value; the premium, in the base coin
//! (`premium ÷ underlying price`, Deribit's convention), within 10⁻⁶ plus
//! 0.1 %. docs/INSTRUMENTS.md records the deviations measured on the 2021
//! Deribit recording.

use gavel_feeds::options::Greeks;
use gavel_feeds::venues::deribit::OptionTicker;

use super::black76::{Black76, PricingInputError, SECONDS_PER_YEAR};

/// Absolute and relative allowance of one compared quantity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allowance {
    /// Absolute part.
    pub absolute: f64,
    /// Part relative to the venue's value.
    pub relative: f64,
}

impl Allowance {
    /// Whether `ours` is within the allowance of `venue`.
    pub fn admits(self, ours: f64, venue: f64) -> bool {
        (ours - venue).abs() <= self.absolute + self.relative * venue.abs()
    }

    /// How far beyond the absolute part `ours` is, relative to the venue's value
    /// (what the relative part has to cover; 0 when the absolute part suffices).
    pub fn relative_excess(self, ours: f64, venue: f64) -> f64 {
        ((ours - venue).abs() - self.absolute).max(0.0) / venue.abs().max(f64::MIN_POSITIVE)
    }
}

/// The documented tolerance: Greeks, then the coin premium.
pub const TOLERANCE: (Allowance, Allowance) =
    (Allowance { absolute: 5e-6, relative: 0.01 }, Allowance { absolute: 1e-6, relative: 0.001 });

/// gavel's and the venue's values for one ticker.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq)]
pub struct VenueComparison {
    /// gavel's Greeks.
    pub ours: Greeks,
    /// The venue's Greeks.
    pub venue: Greeks,
    /// gavel's premium in the base coin.
    pub ours_coin_premium: f64,
    /// The venue's mark price in the base coin.
    pub venue_coin_premium: f64,
    /// Years to expiry used.
    pub years: f64,
}

impl VenueComparison {
    /// Values gavel's model from the ticker's inputs.
    pub fn of(t: &OptionTicker<'_>) -> Result<Self, PricingInputError> {
        let years = t.name.expiry_ms.saturating_sub(t.timestamp_ms) as f64 / 1000.0 / SECONDS_PER_YEAR;
        let model = Black76::new(t.name.kind, t.underlying_price, t.name.strike, years, t.mark_iv / 100.0, t.interest_rate)?;
        Ok(VenueComparison {
            ours: model.greeks(),
            venue: t.greeks,
            ours_coin_premium: model.price() / t.underlying_price,
            venue_coin_premium: t.mark_price,
            years,
        })
    }

    /// The five compared quantities as (name, ours, venue, allowance).
    pub fn quantities(&self) -> [(&'static str, f64, f64, Allowance); 5] {
        let (g, p) = TOLERANCE;
        [
            ("delta", self.ours.delta, self.venue.delta, g),
            ("gamma", self.ours.gamma, self.venue.gamma, g),
            ("vega", self.ours.vega, self.venue.vega, g),
            ("theta", self.ours.theta, self.venue.theta, g),
            ("premium", self.ours_coin_premium, self.venue_coin_premium, p),
        ]
    }

    /// Whether every quantity is within [`TOLERANCE`].
    pub fn within_tolerance(&self) -> bool {
        self.quantities().iter().all(|&(_, ours, venue, a)| a.admits(ours, venue))
    }
}
