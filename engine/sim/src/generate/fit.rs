//! A market fit (`gavel calibrate` writes it, `gavel gen crash --params` reads it): the crash
//! generator's calm-market parameters measured on real captures, in integers so that generation
//! stays deterministic and float-free.
//!
//! The file is TOML with two tables: `[generator]` ([`MarketFit`], what the generator applies)
//! and `[report]` (free-form: what was measured, goodness of fit, sources; read by people, not
//! by the generator). Unknown keys in `[generator]` and unknown tables are errors.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Parameters the generator applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketFit {
    /// Half-width of the uniform per-step mid noise in the calm phase, 0.001 bp of the price
    /// (the crash phase triples it, as without a fit).
    pub noise_bp_e3: i64,
    /// Step of the fit's mid path and book updates, ms (the capture's sampling step).
    pub step_ms: i64,
    /// Half of the calm bid-ask spread, 0.001 bp of the mid.
    pub half_spread_bp_e3: i64,
    /// Distance between two price levels of the book, 0.001 bp of the start price.
    pub level_grid_bp_e3: i64,
    /// Calm depth density by distance from the mid: `[upper bound of the band in bp, quote
    /// currency per bp of the band]`, bands ascending; beyond the last band its density holds.
    pub depth_quote_per_bp: Vec<[i64; 2]>,
    /// Refill half-life of consumed depth, ms (the world's `resilience_half_life_ms`); `None`
    /// when the captures had no depletion to measure it on.
    pub resilience_half_life_ms: Option<i64>,
}

/// A params file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamsFile {
    /// What the generator applies.
    pub generator: MarketFit,
    /// What was measured and how well the fit matches (free-form).
    #[serde(default)]
    pub report: toml::Table,
}

impl MarketFit {
    /// Checks every field against its documented range; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let check = |field: &str, v: i64, lo: i64, hi: i64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("field `generator.{field}`: {v} is outside {lo}..={hi}"))
            }
        };
        check("noise_bp_e3", self.noise_bp_e3, 1, 1_000_000)?;
        check("step_ms", self.step_ms, 10, 60_000)?;
        check("half_spread_bp_e3", self.half_spread_bp_e3, 0, 10_000_000)?;
        check("level_grid_bp_e3", self.level_grid_bp_e3, 1, 10_000_000)?;
        if self.depth_quote_per_bp.is_empty() || self.depth_quote_per_bp.len() > 32 {
            return Err(format!("field `generator.depth_quote_per_bp`: 1 to 32 bands, not {}", self.depth_quote_per_bp.len()));
        }
        let mut previous = 0;
        for (k, &[upper, density]) in self.depth_quote_per_bp.iter().enumerate() {
            if upper <= previous || upper > 10_000 {
                return Err(format!("field `generator.depth_quote_per_bp`: band {k} ends at {upper} bp; bands must ascend within 1..=10000 bp"));
            }
            check("depth_quote_per_bp", density, 1, 1_000_000_000_000)?;
            previous = upper;
        }
        if let Some(h) = self.resilience_half_life_ms {
            check("resilience_half_life_ms", h, 0, 3_600_000)?;
        }
        Ok(())
    }

    /// The depth density (quote currency per bp) at `distance_bp_e3` from the mid.
    pub fn density_at(&self, distance_bp_e3: i64) -> i64 {
        self.depth_quote_per_bp
            .iter()
            .find(|b| distance_bp_e3 < b[0] * 1000)
            .or(self.depth_quote_per_bp.last())
            .map_or(1, |b| b[1])
    }
}

/// Lots at one price level `grid_ticks` wide whose notional is `density` quote currency per bp,
/// at mid `mid_ticks` (prices on `tick`, sizes on `lot`): `density × grid × 10⁴ / (mid² × tick ×
/// lot)`, in integers, at least 1.
pub fn level_lots(density: i64, grid_ticks: i64, mid_ticks: i64, tick: gavel_feeds::decimal::Decimal, lot: gavel_feeds::decimal::Decimal) -> i64 {
    let scale = 10i128.checked_pow(tick.scale + lot.scale).unwrap_or(i128::MAX);
    let numerator = i128::from(density).saturating_mul(i128::from(grid_ticks)).saturating_mul(10_000).saturating_mul(scale);
    let mid = i128::from(mid_ticks.max(1));
    let denominator = mid.saturating_mul(mid).saturating_mul(tick.mantissa.max(1)).saturating_mul(lot.mantissa.max(1));
    i64::try_from(numerator / denominator.max(1)).unwrap_or(i64::MAX).max(1)
}

impl ParamsFile {
    /// Reads and checks a params file; errors name the file, and the line for TOML errors.
    pub fn load(path: &Path) -> anyhow::Result<ParamsFile> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks params text from `source`.
    pub fn parse(text: &str, source: &str) -> anyhow::Result<ParamsFile> {
        let file: ParamsFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            anyhow::anyhow!("{source}{}: {}", line.map_or(String::new(), |l| format!(" line {l}")), e.message())
        })?;
        file.generator.validate().map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "[generator]\nnoise_bp_e3 = 900\nstep_ms = 100\nhalf_spread_bp_e3 = 8\nlevel_grid_bp_e3 = 1500\ndepth_quote_per_bp = [[1, 2000000], [5, 800000], [50, 300000]]\nresilience_half_life_ms = 2500\n\n[report]\nsources = [\"a.gz\"]\n";

    #[test]
    fn a_good_file_loads_and_bands_are_looked_up_by_distance() {
        let f = ParamsFile::parse(GOOD, "p.toml").unwrap();
        assert_eq!(f.generator.density_at(0), 2_000_000);
        assert_eq!(f.generator.density_at(999), 2_000_000);
        assert_eq!(f.generator.density_at(1000), 800_000);
        assert_eq!(f.generator.density_at(49_999), 300_000);
        assert_eq!(f.generator.density_at(500_000), 300_000, "beyond the last band its density holds");
        assert!(f.report.contains_key("sources"));
    }

    #[test]
    fn the_shipped_example_fit_loads() {
        let text = include_str!("../../../../docs/examples/params-btcusdt-2023-04.toml");
        let f = ParamsFile::parse(text, "params-btcusdt-2023-04.toml").unwrap();
        assert_eq!(f.generator.depth_quote_per_bp.len(), 6);
        assert!(f.report.contains_key("returns") && f.report.contains_key("liquidations"));
    }

    #[test]
    fn bad_files_name_the_field_or_line() {
        for (from, to, want) in [
            ("noise_bp_e3 = 900", "noise_bp_e3 = 0", "noise_bp_e3"),
            ("step_ms = 100", "step_ms = 5", "step_ms"),
            ("[[1, 2000000], [5, 800000]", "[[5, 2000000], [1, 800000]", "ascend"),
            ("[50, 300000]", "[50, 0]", "depth_quote_per_bp"),
            ("resilience_half_life_ms = 2500", "resilience_half_life_ms = -1", "resilience_half_life_ms"),
            ("step_ms = 100", "step_ms = 100\nsurprise = 1", "line 3"),
            ("noise_bp_e3 = 900", "noise_bp_e3 = \"x\"", "line 2"),
        ] {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "{from}");
            let err = ParamsFile::parse(&text, "p.toml").unwrap_err().to_string();
            assert!(err.contains("p.toml") && err.contains(want), "{from} → {err}");
        }
    }
}
