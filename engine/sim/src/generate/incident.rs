//! The incident library (`gavel gen incident NAME`): scenario folders that
//! reproduce the mechanics of known liquidation failures on a shaped market
//! ([`super::shape`]), with the world settings each needs (`[world]` in
//! `scenario.toml`) and, where the anchor's own rules are not a built-in name,
//! the anchor-like policy as `anchor-policy.toml`. What each reproduces and
//! what it does not: docs/INCIDENTS.md.

use std::path::PathBuf;

use anyhow::Context;
use gavel_feeds::decimal::Decimal;

use super::accounts::{format_units, generate_account_book, write_book_files, BookRow};
use super::crash::crash_instruments_toml;
use super::market::{CrashSpec, Dialect};
use super::shape::{write_shape_captures, Knot, ShapeSpec, VenueShape};
use crate::scenario::{ScenarioManifest, WorldSettings};

/// A named incident and its one-line description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IncidentInfo {
    /// Name given to `gavel gen incident`.
    pub name: &'static str,
    /// What it reproduces, in one line.
    pub summary: &'static str,
}

/// The incident library.
pub const INCIDENTS: [IncidentInfo; 5] = [
    IncidentInfo {
        name: "maker-2020-03-12",
        summary: "MakerDAO Black Thursday: a fast fall, one venue's feed 20 s late, liquidator bids stalled 75 s (auctions clear near zero)",
    },
    IncidentInfo {
        name: "cascade-2025-10-10",
        summary: "10 Oct 2025: a fast market-wide fall into books 98 % thinner that refill slowly, a small backstop (ADL takes the rest)",
    },
    IncidentInfo {
        name: "jelly-2025",
        summary: "Hyperliquid JELLY: a thin market squeezed up 60 % with a large thinly margined short the backstop vault inherits",
    },
    IncidentInfo {
        name: "usde-wbeth-2025",
        summary: "Binance USDe/wBETH: one venue's thin book (Binance spot) prints 15 % below two others for 20 s (median oracle, outlier band)",
    },
    IncidentInfo { name: "slow-grind", summary: "a control: a steady 12 % decline over 150 s with deep books and no gaps, then a 3 % recovery" },
];

/// Parameters of `gavel gen incident`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentSpec {
    /// Incident name (one of [`INCIDENTS`]).
    pub name: String,
    /// Folder to write into (created if missing).
    pub out: PathBuf,
    /// Generator seed; the same seed gives byte-identical files.
    pub seed: u64,
    /// Number of generated leveraged accounts (the JELLY whale comes on top).
    pub accounts: usize,
}

/// What one incident is made of.
struct Recipe {
    knots: Vec<Knot>,
    noise_tenth_bp: i64,
    duration_s: i64,
    venues: Vec<VenueShape>,
    long_per_mille: u64,
    world: WorldSettings,
    /// `(notional in whole quote units, collateral in whole quote units)` of one large short.
    whale_short: Option<(i64, i64)>,
    /// The anchor-like policy, when it needs a file.
    anchor_policy: Option<&'static str>,
}

fn venue(dialect: Dialect) -> VenueShape {
    VenueShape { dialect, lag_ms: 0, knots: Vec::new() }
}

fn recipe(name: &str) -> Option<Recipe> {
    let both = || vec![venue(Dialect::BinanceUsdm), venue(Dialect::BybitV5)];
    Some(match name {
        // ETH fell about half in a day; here 30 % in 30 s. Bybit's feed is 20 s late
        // (the lagging oracle); keepers place no bids from the fall's start for 75 s.
        "maker-2020-03-12" => Recipe {
            knots: vec![Knot::at(0, 0, 1000), Knot::at(20, 0, 1000), Knot::at(50, -300, 200), Knot::at(120, -320, 300)],
            noise_tenth_bp: 3,
            duration_s: 120,
            venues: vec![venue(Dialect::BinanceUsdm), VenueShape { lag_ms: 20_000, ..venue(Dialect::BybitV5) }],
            long_per_mille: 900,
            world: WorldSettings { liquidator_stall_ms: Some([20_000, 95_000]), insurance_fund: Some(20_000_000), ..WorldSettings::default() },
            whale_short: None,
            anchor_policy: Some(MAKER_ANCHOR),
        },
        // Depth collapses 98 % within seconds and refills over minutes; no own-book maker;
        // a backstop of 50,000 quote, so what it cannot hold goes to ADL.
        "cascade-2025-10-10" => Recipe {
            knots: vec![Knot::at(0, 0, 1000), Knot::at(15, 0, 1000), Knot::at(25, -140, 20), Knot::at(35, -180, 20), Knot::at(90, -120, 150)],
            noise_tenth_bp: 5,
            duration_s: 90,
            venues: both(),
            long_per_mille: 900,
            world: WorldSettings {
                backstop_capital: Some(50_000),
                resilience_half_life_ms: Some(60_000),
                market_maker: Some(false),
                ..WorldSettings::default()
            },
            whale_short: None,
            anchor_policy: Some(HYPERLIQUID_ANCHOR),
        },
        // A thin book (15 % of calm depth) squeezed up 60 %; one short of 3,000,000 quote
        // with 6 % margin, just above maintenance at the start.
        "jelly-2025" => Recipe {
            knots: vec![Knot::at(0, 0, 150), Knot::at(10, 0, 150), Knot::at(30, 150, 100), Knot::at(60, 600, 100), Knot::at(90, 550, 120)],
            noise_tenth_bp: 5,
            duration_s: 90,
            venues: both(),
            long_per_mille: 700,
            world: WorldSettings { market_maker: Some(false), insurance_fund: Some(2_000_000), ..WorldSettings::default() },
            whale_short: Some((3_000_000, 180_000)),
            anchor_policy: Some(HYPERLIQUID_ANCHOR),
        },
        // The market stays put on Binance USD-M and Bybit; Binance spot's book thins to
        // 5 % and its prices fall 15 % for 20 s, then come back. The oracle: median of the
        // three, 3 % band, quorum 2.
        "usde-wbeth-2025" => Recipe {
            knots: vec![Knot::at(0, 0, 1000)],
            noise_tenth_bp: 2,
            duration_s: 60,
            venues: vec![
                venue(Dialect::BinanceUsdm),
                venue(Dialect::BybitV5),
                VenueShape {
                    knots: vec![Knot::at(0, 0, 1000), Knot::at(15, 0, 1000), Knot::at(18, -150, 50), Knot::at(38, -150, 50), Knot::at(42, 0, 1000)],
                    ..venue(Dialect::BinanceSpot)
                },
            ],
            long_per_mille: 700,
            world: WorldSettings { oracle_outlier_bps: Some(300), oracle_quorum: Some(2), ..WorldSettings::default() },
            whale_short: None,
            anchor_policy: None,
        },
        // Full depth throughout; −12 % by 150 s, −9 % by 180 s.
        "slow-grind" => Recipe {
            knots: vec![Knot::at(0, 0, 1000), Knot::at(150, -120, 1000), Knot::at(180, -90, 1000)],
            noise_tenth_bp: 2,
            duration_s: 180,
            venues: both(),
            long_per_mille: 900,
            world: WorldSettings::default(),
            whale_short: None,
            anchor_policy: None,
        },
        _ => return None,
    })
}

/// Maker's Clipper with a fast curve and no reset or floor: what a keeper pays when
/// it comes back after the stall is what is left of the curve (Flip's zero bids).
const MAKER_ANCHOR: &str = r#"# Anchor-like policy of maker-2020-03-12: a Maker auction with nothing under its price.
# The 2020 Flipper was an English auction; gavel has none, so this is its successor's
# Dutch auction (Clipper) without a reset (cusp 0) and without gavel's depth floor.
rules = "maker-clip"
buf = "1"
tail = 100
cusp = "0"
curve = { kind = "exponential", cut = "0.9" }
floor = false
"#;

/// Hyperliquid's rules (docs/examples/rules-hyperliquid.toml, 20× for a thin market).
const HYPERLIQUID_ANCHOR: &str = r#"# Anchor-like policy: Hyperliquid's liquidation rules (docs/VENUE-RULES.md).
rules = "hyperliquid"
max_leverage = 20
partial_threshold_notional = "100000"
partial_fraction = "0.2"
partial_cooldown_s = 30
"#;

/// Writes the incident's scenario folder and returns its manifest.
pub fn write_incident(spec: &IncidentSpec) -> anyhow::Result<ScenarioManifest> {
    let names: Vec<&str> = INCIDENTS.iter().map(|i| i.name).collect();
    let recipe = recipe(&spec.name).ok_or_else(|| anyhow::anyhow!("unknown incident {:?}; known: {}", spec.name, names.join(", ")))?;
    std::fs::create_dir_all(&spec.out).with_context(|| format!("creating {}", spec.out.display()))?;
    let market = CrashSpec { seed: spec.seed, duration_s: recipe.duration_s, ..CrashSpec::default() };
    let shape = ShapeSpec { market: market.clone(), knots: recipe.knots, noise_tenth_bp: recipe.noise_tenth_bp, venues: recipe.venues };
    let captures = write_shape_captures(&shape, &spec.out).context("writing the venue captures")?;
    let mut instruments = crash_instruments_toml(&market.symbol).replacen("`gavel gen crash`", &format!("`gavel gen incident {}`", spec.name), 1);
    if shape.venues.iter().any(|v| v.dialect == Dialect::BinanceSpot) {
        let symbol = &market.symbol;
        instruments = instruments.replacen(&format!("bybit = \"{symbol}\" }}"), &format!("bybit = \"{symbol}\", \"binance-spot\" = \"{symbol}\" }}"), 1);
    }
    let write = |file: &str, text: &str| gavel_feeds::atomic_file::write_atomic(spec.out.join(file), text).with_context(|| format!("writing {file}"));
    write("instruments.toml", &instruments)?;
    let book_spec = super::crash::market_account_book(&market, spec.seed, spec.accounts, recipe.long_per_mille);
    let book = generate_account_book(&book_spec)?;
    let cents = Decimal { mantissa: 1, scale: 2 };
    let mut rows: Vec<BookRow> = book
        .iter()
        .map(|a| BookRow {
            name: &a.name,
            collateral: format_units(a.collateral_cents, cents),
            isolated: a.margin_mode == "isolated",
            symbol: &market.symbol,
            size: format_units(a.size_lots, market.lot_size),
            entry_price: format_units(a.entry_ticks, market.tick_size),
        })
        .collect();
    if let Some((notional, collateral)) = recipe.whale_short {
        // Lots = notional ÷ (price × lot size): 60,000.0 × 0.001 = 60 quote per lot at the start.
        let quote_per_lot = market.start_price_ticks / 10 / 1000;
        rows.push(BookRow {
            name: "whale-short",
            collateral: collateral.to_string(),
            isolated: false,
            symbol: &market.symbol,
            size: format_units(-(notional / quote_per_lot), market.lot_size),
            entry_price: format_units(market.start_price_ticks, market.tick_size),
        });
    }
    write_book_files(rows, &spec.out)?;
    if let Some(policy) = recipe.anchor_policy {
        write("anchor-policy.toml", policy)?;
    }
    let manifest = ScenarioManifest {
        name: format!("{}-seed-{}", spec.name, spec.seed),
        instruments: "instruments.toml".into(),
        accounts: "accounts.csv".into(),
        positions: "positions.csv".into(),
        captures: captures.iter().filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned())).collect(),
        snapshots: Vec::new(),
        venue_info: None,
        orders: None,
        implied_vol: None,
        world: (recipe.world != WorldSettings::default()).then_some(recipe.world),
        calibration: None,
    };
    write("scenario.toml", &toml::to_string(&manifest)?)?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_incident_writes_a_loadable_byte_identical_folder() {
        let base = std::env::temp_dir().join(format!("gavel-incident-{}", std::process::id()));
        for info in INCIDENTS {
            let (a, b) = (base.join(info.name).join("a"), base.join(info.name).join("b"));
            for out in [&a, &b] {
                write_incident(&IncidentSpec { name: info.name.into(), out: out.clone(), seed: 3, accounts: 20 }).unwrap();
            }
            let scenario = crate::scenario::Scenario::load(&a).unwrap();
            assert_eq!(scenario.captures.len(), if info.name == "usde-wbeth-2025" { 3 } else { 2 }, "{}", info.name);
            for file in std::fs::read_dir(&a).unwrap() {
                let name = file.unwrap().file_name();
                let (x, y) = (std::fs::read(a.join(&name)).unwrap(), std::fs::read(b.join(&name)).unwrap());
                assert!(x == y, "{}: {name:?} differs between two runs", info.name);
            }
            let positions = std::fs::read_to_string(a.join("positions.csv")).unwrap();
            let whale = positions.lines().find(|l| l.starts_with("whale-short,"));
            assert_eq!(whale.is_some(), info.name == "jelly-2025", "{}", info.name);
            assert_eq!(positions.lines().count(), 21 + usize::from(whale.is_some()));
        }
        let whale = std::fs::read_to_string(base.join("jelly-2025/a/positions.csv")).unwrap();
        assert!(whale.contains("whale-short,BTCUSDT,-50.000,60000.0,"), "{whale}");
        let err = write_incident(&IncidentSpec { name: "nope".into(), out: base.join("nope"), seed: 1, accounts: 1 }).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("slow-grind"), "{err}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
