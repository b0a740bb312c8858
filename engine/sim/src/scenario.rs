//! Scenario folders: `scenario.toml` and the files it names.
//!
//! A scenario folder holds `scenario.toml`, which names the other files:
//!
//! ```toml
//! name = "crash-seed-1"
//! instruments = "instruments.toml"
//! accounts = "accounts.csv"
//! positions = "positions.csv"
//! captures = ["binance-usdm.cap", "bybit.cap"]
//! ```
//!
//! `replay`, `compare` and `tune` take `--scenario DIR` in place of the
//! individual file flags.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The contents of `scenario.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioManifest {
    /// Human-readable name.
    pub name: String,
    /// Instruments config, relative to the folder.
    pub instruments: String,
    /// Accounts CSV, relative to the folder.
    pub accounts: String,
    /// Positions CSV, relative to the folder.
    pub positions: String,
    /// Capture files, one per venue: relative to the folder, or absolute.
    pub captures: Vec<String>,
    /// Files of REST depth snapshots the captures need (e.g. cryptofeed
    /// `BINANCE_FUTURES.http.0.0`), relative or absolute; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<String>,
    /// Venue metadata (Binance exchangeInfo) for tick and lot sizes; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_info: Option<String>,
    /// Client order flow into the own book (`orders.csv`, see `gavel_sim::orders`); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<String>,
    /// Option-implied volatility quotes (`implied_vol.csv`, see `gavel_sim::implied_vol`); optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implied_vol: Option<String>,
    /// Settings of the simulated world and the oracle this scenario needs; optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<WorldSettings>,
    /// The market fit the generated market used (`params.toml` in the folder, from
    /// `gavel calibrate`); absent: the generator's built-in assumptions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<String>,
}

/// The `[world]` table of `scenario.toml`: what an incident changes in the
/// simulated world and the engine's oracle (every field optional; absent: the default).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSettings {
    /// Liquidators place no bids in `[from, until)`, ms after the first captured event (congestion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liquidator_stall_ms: Option<[i64; 2]>,
    /// The insurance fund at the start, whole quote units (`--fund` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insurance_fund: Option<u64>,
    /// The backstop vault's capital, whole quote units (0: no vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backstop_capital: Option<u64>,
    /// Half-life of consumed external liquidity, ms (slow refill: large).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resilience_half_life_ms: Option<i64>,
    /// The own-book market maker quotes (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_maker: Option<bool>,
    /// Oracle outlier band around the venues' median, bps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle_outlier_bps: Option<i64>,
    /// Fewest fresh, in-band venues for a mark that may liquidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle_quorum: Option<u8>,
    /// A venue quiet for longer than this is stale, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oracle_staleness_ms: Option<u64>,
    /// Clients answer margin calls: `[share %, reduce %, delay ms]` — that share of the called
    /// accounts sends, after the delay, a reduce-only market order for that part of the position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_response: Option<[u32; 3]>,
}

impl WorldSettings {
    /// Range checks; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if let Some([from, until]) = self.liquidator_stall_ms {
            if from < 0 || until <= from || until > 86_400_000 {
                return Err(format!("world.liquidator_stall_ms = [{from}, {until}]: need 0 <= from < until <= 86400000"));
            }
        }
        if let Some(c) = self.backstop_capital.filter(|c| *c > 1_000_000_000_000) {
            return Err(format!("world.backstop_capital = {c}: at most 1000000000000"));
        }
        if let Some(f) = self.insurance_fund.filter(|f| *f > 1_000_000_000_000) {
            return Err(format!("world.insurance_fund = {f}: at most 1000000000000"));
        }
        if let Some(h) = self.resilience_half_life_ms.filter(|h| !(1..=86_400_000).contains(h)) {
            return Err(format!("world.resilience_half_life_ms = {h}: need 1 ..= 86400000"));
        }
        if let Some(b) = self.oracle_outlier_bps.filter(|b| !(1..=10_000).contains(b)) {
            return Err(format!("world.oracle_outlier_bps = {b}: need 1 ..= 10000"));
        }
        if let Some(q) = self.oracle_quorum.filter(|q| !(1..=16).contains(q)) {
            return Err(format!("world.oracle_quorum = {q}: need 1 ..= 16"));
        }
        if let Some(s) = self.oracle_staleness_ms.filter(|s| !(1..=3_600_000).contains(s)) {
            return Err(format!("world.oracle_staleness_ms = {s}: need 1 ..= 3600000"));
        }
        if let Some([share, reduce, delay]) = self.call_response {
            if share > 100 || !(1..=100).contains(&reduce) || delay > 600_000 {
                return Err(format!("world.call_response = [{share}, {reduce}, {delay}]: need share 0 ..= 100 %, reduce 1 ..= 100 %, delay 0 ..= 600000 ms"));
            }
        }
        Ok(())
    }

    /// Applies the world's fields to `config`.
    pub fn apply(&self, config: &mut crate::WorldConfig) {
        if let Some([from, until]) = self.liquidator_stall_ms {
            config.liquidator_stall_ns = Some((from * 1_000_000, until * 1_000_000));
        }
        if let Some(c) = self.backstop_capital {
            config.backstop_capital = i128::from(c) * gavel_engine::risk::instrument::QUOTE_SCALE;
        }
        if let Some(h) = self.resilience_half_life_ms {
            config.resilience_half_life_ns = h * 1_000_000;
        }
        if self.market_maker == Some(false) {
            config.market_maker = None;
        }
        if let Some([share, reduce, delay]) = self.call_response {
            config.call_response = Some(crate::world::CallResponse { share_per_mille: share * 10, reduce_per_mille: reduce * 10, delay_ns: i64::from(delay) * 1_000_000 });
        }
    }

    /// Applies the oracle's fields to the engine's `config`.
    pub fn apply_engine(&self, config: &mut gavel_engine::engine::EngineConfig) {
        if let Some(b) = self.oracle_outlier_bps {
            config.oracle_outlier_bps = b;
        }
        if let Some(q) = self.oracle_quorum {
            config.oracle_quorum = q;
        }
        if let Some(s) = self.oracle_staleness_ms {
            config.oracle_staleness_ns = s * 1_000_000;
        }
    }
}

/// A scenario with its paths resolved against its folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Human-readable name.
    pub name: String,
    /// Instruments config.
    pub instruments: PathBuf,
    /// Accounts CSV.
    pub accounts: PathBuf,
    /// Positions CSV.
    pub positions: PathBuf,
    /// Capture files.
    pub captures: Vec<PathBuf>,
    /// REST snapshot files for the captures.
    pub snapshots: Vec<PathBuf>,
    /// Venue metadata file.
    pub venue_info: Option<PathBuf>,
    /// Client order flow file.
    pub orders: Option<PathBuf>,
    /// Implied-vol quotes file.
    pub implied_vol: Option<PathBuf>,
    /// World and oracle settings (all default when the manifest has no `[world]`).
    pub world: WorldSettings,
}

impl Scenario {
    /// Reads `<dir>/scenario.toml` and resolves the files it names (relative
    /// names against `dir`, absolute ones as they are); every named file must exist.
    pub fn load(dir: &Path) -> anyhow::Result<Scenario> {
        let manifest_path = dir.join("scenario.toml");
        let text = std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?;
        let manifest: ScenarioManifest = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count()).unwrap_or(0);
            anyhow::anyhow!("{}: line {line}: {}", manifest_path.display(), e.message().trim_end())
        })?;
        let resolve = |name: &str, field: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(name);
            anyhow::ensure!(
                path.exists(),
                "{}: field `{field}` names {}, which does not exist",
                manifest_path.display(),
                path.display()
            );
            Ok(path)
        };
        Ok(Scenario {
            name: manifest.name.clone(),
            instruments: resolve(&manifest.instruments, "instruments")?,
            accounts: resolve(&manifest.accounts, "accounts")?,
            positions: resolve(&manifest.positions, "positions")?,
            captures: manifest.captures.iter().map(|c| resolve(c, "captures")).collect::<anyhow::Result<_>>()?,
            snapshots: manifest.snapshots.iter().map(|c| resolve(c, "snapshots")).collect::<anyhow::Result<_>>()?,
            venue_info: manifest.venue_info.as_deref().map(|v| resolve(v, "venue_info")).transpose()?,
            orders: manifest.orders.as_deref().map(|v| resolve(v, "orders")).transpose()?,
            implied_vol: manifest.implied_vol.as_deref().map(|v| resolve(v, "implied_vol")).transpose()?,
            world: match manifest.world {
                Some(w) => {
                    w.validate().map_err(|e| anyhow::anyhow!("{}: {e}", manifest_path.display()))?;
                    w
                }
                None => WorldSettings::default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_without_snapshots_or_venue_info_keeps_the_crash_layout() {
        let manifest = ScenarioManifest {
            name: "crash-seed-1".into(),
            instruments: "instruments.toml".into(),
            accounts: "accounts.csv".into(),
            positions: "positions.csv".into(),
            captures: vec!["binance-usdm.cap".into(), "bybit.cap".into()],
            snapshots: Vec::new(),
            venue_info: None,
            orders: None,
            implied_vol: None,
            world: None,
            calibration: None,
        };
        let text = toml::to_string(&manifest).unwrap();
        assert_eq!(
            text,
            "name = \"crash-seed-1\"\ninstruments = \"instruments.toml\"\naccounts = \"accounts.csv\"\n\
             positions = \"positions.csv\"\ncaptures = [\"binance-usdm.cap\", \"bybit.cap\"]\n"
        );
        assert_eq!(toml::from_str::<ScenarioManifest>(&text).unwrap(), manifest);
    }


    #[test]
    fn manifest_round_trips_and_missing_files_are_named() {
        let dir = std::env::temp_dir().join(format!("gavel-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let manifest = ScenarioManifest {
            name: "t".into(),
            instruments: "instruments.toml".into(),
            accounts: "accounts.csv".into(),
            positions: "positions.csv".into(),
            captures: vec!["a.cap".into()],
            snapshots: Vec::new(),
            venue_info: None,
            orders: None,
            implied_vol: None,
            world: None,
            calibration: None,
        };
        std::fs::write(dir.join("scenario.toml"), toml::to_string(&manifest).unwrap()).unwrap();
        for f in ["instruments.toml", "accounts.csv", "positions.csv"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let err = Scenario::load(&dir).unwrap_err().to_string();
        assert!(err.contains("captures") && err.contains("a.cap"), "{err}");
        std::fs::write(dir.join("a.cap"), "").unwrap();
        let scenario = Scenario::load(&dir).unwrap();
        assert_eq!(scenario.captures, vec![dir.join("a.cap")]);
        // An unknown key is an error naming the file and the key's line.
        let text = toml::to_string(&manifest).unwrap();
        let lines = text.lines().count();
        std::fs::write(dir.join("scenario.toml"), format!("{text}colour = \"red\"\n")).unwrap();
        let err = Scenario::load(&dir).unwrap_err().to_string();
        assert!(err.contains(&format!("scenario.toml: line {}:", lines + 1)) && err.contains("colour"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn world_settings_round_trip_apply_and_name_a_bad_field() {
        let text = "name = \"t\"\ninstruments = \"i\"\naccounts = \"a\"\npositions = \"p\"\ncaptures = []\n\n\
                    [world]\nliquidator_stall_ms = [1000, 5000]\nbackstop_capital = 250000\nmarket_maker = false\noracle_quorum = 1\n";
        let manifest: ScenarioManifest = toml::from_str(text).unwrap();
        let world = manifest.world.clone().unwrap();
        assert_eq!(toml::from_str::<ScenarioManifest>(&toml::to_string(&manifest).unwrap()).unwrap(), manifest);
        world.validate().unwrap();
        let mut config = crate::WorldConfig::default();
        world.apply(&mut config);
        assert_eq!(config.liquidator_stall_ns, Some((1_000_000_000, 5_000_000_000)));
        assert_eq!(config.backstop_capital, 250_000 * gavel_engine::risk::instrument::QUOTE_SCALE);
        assert!(config.market_maker.is_none());
        let mut engine = gavel_engine::engine::EngineConfig::for_venues(vec![gavel_feeds::wire::Venue::Bybit, gavel_feeds::wire::Venue::BinanceUsdm]);
        world.apply_engine(&mut engine);
        assert_eq!((engine.oracle_quorum, engine.oracle_outlier_bps), (1, 300));
        for (bad, field) in [
            (WorldSettings { liquidator_stall_ms: Some([5000, 1000]), ..Default::default() }, "liquidator_stall_ms"),
            (WorldSettings { oracle_quorum: Some(0), ..Default::default() }, "oracle_quorum"),
            (WorldSettings { insurance_fund: Some(2_000_000_000_000), ..Default::default() }, "insurance_fund"),
            (WorldSettings { oracle_outlier_bps: Some(0), ..Default::default() }, "oracle_outlier_bps"),
            (WorldSettings { resilience_half_life_ms: Some(-1), ..Default::default() }, "resilience_half_life_ms"),
        ] {
            assert!(bad.validate().unwrap_err().contains(field), "{field}");
        }
    }
}
