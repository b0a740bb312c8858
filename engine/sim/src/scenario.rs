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
}
