//! Per-instrument execution policy, loaded from TOML.
//!
//! ```toml
//! [default]                      # every instrument without its own section
//! route = "auto"
//! [default.auction]
//! curve = { kind = "stairstep", cut = "0.999", step_s = 1 }
//! buf = "0.01"
//!
//! [[instrument]]                 # a full policy; missing fields take the built-in defaults
//! instrument = 7
//! contract_multiplier = 10
//! ```
//! Every field, its default and its formula: `docs/POLICIES-EXECUTION.md`.

use super::curve::Curve;
use super::events::Route;
use super::fixed::Ray;

/// Route selection: automatic by expected value lost, or forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteMode {
    /// Pick the route with the lowest expected value lost.
    #[default]
    Auto,
    /// Always this route.
    Force(Route),
}

/// Dutch-auction parameters (MakerDAO Clipper names where they exist).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuctionPolicy {
    /// Price-decrease curve.
    pub curve: Curve,
    /// Start premium: a sale starts at `mark × (1 + buf)`, a buy-back at `mark × (1 − buf)`.
    pub buf: Ray,
    /// Seconds after which a running auction restarts (`tail`).
    pub tail_s: u64,
    /// Restart when the curve factor falls below this (`cusp`, fraction of the start price).
    pub cusp: Ray,
    /// Keeper incentive as a fraction of each take's value (`chip`).
    pub chip: Ray,
    /// Flat keeper incentive per lot in quote units (`tip`), prorated over takes.
    pub tip: i64,
    /// Minimum lots a take must leave behind (or take everything): the dust rule.
    pub min_lot: i64,
    /// Floor margin: the floor is the depth-walk VWAP less this many bps.
    pub floor_margin_bps: u32,
    /// Hard floor: never sell below `mark × (1 − max_discount)` (buy: above `mark × (1 + …)`).
    pub max_discount_bps: u32,
    /// Margin liquidators are assumed to want, for route estimates only (bps).
    pub expected_liquidator_margin_bps: u32,
}

impl Default for AuctionPolicy {
    fn default() -> Self {
        Self {
            curve: Curve::Stairstep {
                cut: Ray::from_bps(9_990),
                step_s: 1,
            },
            buf: Ray::from_bps(100),
            tail_s: 600,
            cusp: Ray::from_bps(9_000),
            chip: Ray::from_bps(10),
            tip: 0,
            min_lot: 1,
            floor_margin_bps: 50,
            max_discount_bps: 1_000,
            expected_liquidator_margin_bps: 30,
        }
    }
}

/// Impact-aware slicing parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlicingPolicy {
    /// Largest impact one slice may have, bps from the touch.
    pub impact_limit_bps: u32,
    /// Time between slices, ms (depth is assumed to refill between slices).
    pub interval_ms: u64,
    /// Most slices per lot (bounds time to solvency).
    pub max_slices: u32,
    /// Price volatility per interval, bps (timing-risk term).
    pub sigma_bps: u32,
    /// Risk aversion `z` × 100 (100 = one standard deviation of timing risk).
    pub risk_z_centi: u32,
}

impl Default for SlicingPolicy {
    fn default() -> Self {
        Self {
            impact_limit_bps: 25,
            interval_ms: 1_000,
            max_slices: 120,
            sigma_bps: 10,
            risk_z_centi: 100,
        }
    }
}

/// How the backstop vault prices what it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackstopPricing {
    /// At the lot's bankruptcy price.
    #[default]
    Bankruptcy,
    /// At `mark × (1 − discount)` for a sale (`× (1 + discount)` for a buy-back).
    Discount,
}

/// Where lots above the vault's cap go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Back to the risk engine for auto-deleveraging.
    #[default]
    Adl,
    /// To impact-limited slicing (whatever slicing cannot place is then returned for ADL).
    Slicing,
}

/// Backstop vault parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackstopPolicy {
    /// Whether the vault takes lots at all.
    pub enabled: bool,
    /// Pricing rule.
    pub pricing: BackstopPricing,
    /// Discount in bps for [`BackstopPricing::Discount`].
    pub discount_bps: u32,
    /// Depth counted for the cap: levels within this many bps of the mark.
    pub depth_band_bps: u32,
    /// Cap on |vault position| as a fraction (bps) of that depth.
    pub cap_depth_fraction_bps: u32,
    /// Where lots above the cap go.
    pub overflow: Overflow,
}

impl Default for BackstopPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            pricing: BackstopPricing::Bankruptcy,
            discount_bps: 500,
            depth_band_bps: 200,
            cap_depth_fraction_bps: 5_000,
            overflow: Overflow::Adl,
        }
    }
}

/// Everything execution needs to know about one instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstrumentPolicy {
    /// gavel instrument id (ignored in `[default]`).
    pub instrument: u32,
    /// Quote units per tick·lot: `value = price × qty × contract_multiplier`.
    pub contract_multiplier: i64,
    /// Route selection.
    pub route: RouteMode,
    /// Auction parameters.
    pub auction: AuctionPolicy,
    /// Slicing parameters.
    pub slicing: SlicingPolicy,
    /// Backstop parameters.
    pub backstop: BackstopPolicy,
}

impl Default for InstrumentPolicy {
    fn default() -> Self {
        Self {
            instrument: 0,
            contract_multiplier: 1,
            route: RouteMode::Auto,
            auction: AuctionPolicy::default(),
            slicing: SlicingPolicy::default(),
            backstop: BackstopPolicy::default(),
        }
    }
}

/// A policy value out of range.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// TOML syntax or type error (message names line and field).
    #[error("execution policy: {0}")]
    Toml(String),
    /// A field out of range.
    #[error("execution policy, instrument {instrument}: field `{field}`: {message}")]
    Range {
        /// Instrument id (0 for the default).
        instrument: u32,
        /// Field path.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl InstrumentPolicy {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let range = |field: &'static str, message: String| {
            Err(PolicyError::Range {
                instrument: self.instrument,
                field,
                message,
            })
        };
        if let Err(e) = self.auction.curve.validate() {
            return range("auction.curve", e.to_string());
        }
        if self.contract_multiplier < 1 {
            return range("contract_multiplier", "must be ≥ 1".into());
        }
        if self.auction.cusp > Ray::ONE {
            return range("auction.cusp", "must be ≤ 1".into());
        }
        if self.auction.buf >= Ray::ONE {
            return range("auction.buf", "must be < 1".into());
        }
        if self.auction.chip > Ray::ONE {
            return range("auction.chip", "must be ≤ 1".into());
        }
        if self.auction.min_lot < 1 {
            return range("auction.min_lot", "must be ≥ 1".into());
        }
        if self.auction.tail_s == 0 {
            return range("auction.tail_s", "must be positive".into());
        }
        if self.auction.tip < 0 {
            return range("auction.tip", "must not be negative".into());
        }
        for (field, bps) in [
            ("auction.floor_margin_bps", self.auction.floor_margin_bps),
            ("auction.max_discount_bps", self.auction.max_discount_bps),
            (
                "auction.expected_liquidator_margin_bps",
                self.auction.expected_liquidator_margin_bps,
            ),
            ("slicing.impact_limit_bps", self.slicing.impact_limit_bps),
            ("backstop.discount_bps", self.backstop.discount_bps),
            ("backstop.depth_band_bps", self.backstop.depth_band_bps),
        ] {
            if bps >= 10_000 {
                return range(field, format!("{bps} bps must be below 10000"));
            }
        }
        if self.slicing.interval_ms == 0 || self.slicing.max_slices == 0 {
            return range("slicing", "interval_ms and max_slices must be positive".into());
        }
        Ok(())
    }
}

/// The whole execution configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExecutionConfig {
    /// Policy for instruments without their own entry.
    pub default: InstrumentPolicy,
    /// Per-instrument policies.
    pub instrument: Vec<InstrumentPolicy>,
}

impl ExecutionConfig {
    /// Parses and validates a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, PolicyError> {
        let config: ExecutionConfig = toml::from_str(text).map_err(|e| PolicyError::Toml(e.to_string()))?;
        config.default.validate()?;
        for policy in &config.instrument {
            policy.validate()?;
        }
        Ok(config)
    }

    /// The policy of `instrument` (its own entry, else the default with the id filled in).
    pub fn for_instrument(&self, instrument: u32) -> InstrumentPolicy {
        self.instrument
            .iter()
            .find(|p| p.instrument == instrument)
            .copied()
            .unwrap_or(InstrumentPolicy {
                instrument,
                ..self.default
            })
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_with_overrides() {
        let text = r#"
            [default]
            route = { force = "auction" }
            [default.auction]
            curve = { kind = "exponential", cut = "0.999" }
            buf = 0.05
            [[instrument]]
            instrument = 7
            contract_multiplier = 10
            [instrument.backstop]
            pricing = "discount"
            overflow = "slicing"
        "#;
        let config = ExecutionConfig::from_toml(text).unwrap();
        let d = config.for_instrument(3);
        assert_eq!(d.instrument, 3);
        assert_eq!(d.route, RouteMode::Force(Route::Auction));
        assert_eq!(
            d.auction.curve,
            Curve::Exponential {
                cut: Ray::parse("0.999").unwrap()
            }
        );
        assert_eq!(d.auction.buf, Ray::from_bps(500));
        let p = config.for_instrument(7);
        assert_eq!(p.contract_multiplier, 10);
        assert_eq!(p.backstop.pricing, BackstopPricing::Discount);
        assert_eq!(p.backstop.overflow, Overflow::Slicing);
        assert_eq!(p.auction, AuctionPolicy::default());
        let back = toml::to_string(&config).unwrap();
        assert_eq!(ExecutionConfig::from_toml(&back).unwrap(), config);
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = ExecutionConfig::from_toml("[default.auction]\ncusp = 1.5\n").unwrap_err();
        assert!(err.to_string().contains("auction.cusp"), "{err}");
        let err = ExecutionConfig::from_toml("[default.auction]\nbogus = 1\n").unwrap_err();
        assert!(err.to_string().contains("bogus"), "{err}");
        let err = ExecutionConfig::from_toml("[default.slicing]\nimpact_limit_bps = 20000\n").unwrap_err();
        assert!(err.to_string().contains("impact_limit_bps"), "{err}");
    }

    #[test]
    fn documented_defaults_match_the_code() {
        let doc = include_str!("../../../docs/POLICIES-EXECUTION.md");
        let start = doc.find("```toml\n[default]").expect("TOML example in docs") + "```toml\n".len();
        let end = start + doc[start..].find("```").expect("end of TOML example");
        let config = ExecutionConfig::from_toml(&doc[start..end]).unwrap();
        assert_eq!(config.default, InstrumentPolicy::default());
        assert_eq!(config.for_instrument(7).contract_multiplier, 10);
        assert_eq!(config.for_instrument(7).auction, AuctionPolicy::default());
    }
}
