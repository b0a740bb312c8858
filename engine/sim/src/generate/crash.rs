//! A whole crash scenario folder (`gavel gen crash`): two venue captures of a
//! crash market ([`super::market`]), the instruments config, the synthetic
//! account book ([`super::accounts`]) and `scenario.toml`.

use std::path::PathBuf;

use anyhow::Context;

use super::accounts::{generate_account_book, write_account_book, AccountBookSpec};
use super::market::{write_crash_captures, CrashSpec, Dialect};
use crate::scenario::ScenarioManifest;

/// Parameters of a crash scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashScenarioSpec {
    /// Folder to write into (created if missing).
    pub out: PathBuf,
    /// Generator seed; the same seed gives byte-identical files.
    pub seed: u64,
    /// Number of leveraged accounts.
    pub accounts: usize,
    /// Price fall during the crash, per mille of the starting price.
    pub drop_per_mille: i64,
    /// Length of the market run, seconds of event time.
    pub duration_s: i64,
    /// Share of accounts that are long, per mille.
    pub long_per_mille: u64,
    /// A params file from `gavel calibrate` (`None`: the built-in market assumptions). It is
    /// copied into the folder as `params.toml` and named in `scenario.toml` (`calibration`).
    pub params: Option<PathBuf>,
    /// Calm implied vol, annualised millionths: writes `implied_vol.csv`
    /// ([`crate::implied_vol::crash_implied_vols`]); `None`: no implied vol in the scenario.
    pub implied_vol_e6: Option<i64>,
    /// Coin-margined: the book holds the inverse `BTCUSD` ([`inverse_instruments_toml`]),
    /// marked off the same venue books, with the same accounts in contracts and BTC.
    pub inverse: bool,
}

/// Writes a complete crash scenario folder and returns its manifest.
pub fn write_crash_scenario(spec: &CrashScenarioSpec) -> anyhow::Result<ScenarioManifest> {
    let params = match &spec.params {
        Some(path) => Some((super::fit::ParamsFile::load(path)?, std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)),
        None => None,
    };
    std::fs::create_dir_all(&spec.out).with_context(|| format!("creating {}", spec.out.display()))?;
    let fit = params.as_ref().map(|(p, _)| p.generator.clone());
    let market = CrashSpec {
        seed: spec.seed,
        drop_per_mille: spec.drop_per_mille,
        duration_s: spec.duration_s,
        step_ms: fit.as_ref().map_or(CrashSpec::default().step_ms, |f| f.step_ms),
        fit: fit.clone(),
        ..CrashSpec::default()
    };
    // A coin-margined crash is the same market as Binance COIN-M's BTCUSD_PERP (one venue).
    let dialects: &[Dialect] = if spec.inverse { &[Dialect::BinanceCoinm] } else { &[Dialect::BinanceUsdm, Dialect::BybitV5] };
    write_crash_captures(&market, &spec.out, dialects).context("writing the venue captures")?;
    let instruments = if spec.inverse { inverse_instruments_toml(market.start_price_ticks) } else { crash_instruments_toml(&market.symbol) };
    gavel_feeds::atomic_file::write_atomic(spec.out.join("instruments.toml"), instruments).context("writing instruments.toml")?;
    let book_spec = market_account_book(&market, spec.seed, spec.accounts, spec.long_per_mille);
    let book = generate_account_book(&book_spec)?;
    if spec.inverse {
        super::accounts::write_inverse_account_book(&book_spec, &book, INVERSE_SYMBOL, &spec.out)?;
    } else {
        write_account_book(&book_spec, &book, &spec.out)?;
    }
    let manifest = ScenarioManifest {
        name: format!("crash-seed-{}{}", spec.seed, if spec.inverse { "-inverse" } else { "" }),
        instruments: "instruments.toml".into(),
        accounts: "accounts.csv".into(),
        positions: "positions.csv".into(),
        captures: dialects.iter().map(|d| d.file_name().to_string()).collect(),
        snapshots: Vec::new(),
        venue_info: None,
        orders: None,
        implied_vol: spec.implied_vol_e6.map(|_| "implied_vol.csv".to_string()),
        world: fit.as_ref().and_then(|f| f.resilience_half_life_ms).map(|ms| crate::scenario::WorldSettings { resilience_half_life_ms: Some(ms), ..Default::default() }),
        calibration: params.as_ref().map(|_| "params.toml".to_string()),
    };
    if let Some(base) = spec.implied_vol_e6 {
        let symbol = if spec.inverse { INVERSE_SYMBOL } else { market.symbol.as_str() };
        let csv = crate::implied_vol::crash_implied_vols(symbol, &super::market::crash_path(&market), base);
        gavel_feeds::atomic_file::write_atomic(spec.out.join("implied_vol.csv"), csv).context("writing implied_vol.csv")?;
    }
    if let Some((_, bytes)) = &params {
        gavel_feeds::atomic_file::write_atomic(spec.out.join("params.toml"), bytes).context("writing params.toml")?;
    }
    gavel_feeds::atomic_file::write_atomic(spec.out.join("scenario.toml"), toml::to_string(&manifest)?).context("writing scenario.toml")?;
    Ok(manifest)
}

/// The account book of a generated market (crash or incident): priced at its start,
/// one in five accounts isolated.
pub(crate) fn market_account_book(market: &CrashSpec, seed: u64, accounts: usize, long_per_mille: u64) -> AccountBookSpec {
    AccountBookSpec {
        seed,
        accounts,
        symbol: market.symbol.clone(),
        reference_price_ticks: market.start_price_ticks,
        tick_size: market.tick_size,
        lot_size: market.lot_size,
        long_per_mille,
        isolated_per_mille: 200,
    }
}

/// The instruments config of a generated crash (and incident): one linear perpetual with
/// Binance's published BTCUSDT maintenance brackets.
pub(crate) fn crash_instruments_toml(symbol: &str) -> String {
    format!(
        r#"# Generated by `gavel gen crash`; format: docs/INSTRUMENTS.md.
[[instrument]]
symbol = "{symbol}"
kind = "linear"
tick_size = "0.1"
lot_size = "0.001"
min_size = "0.001"
venues = {{ "binance-usdm" = "{symbol}", bybit = "{symbol}" }}
brackets = [
  {{ notional_cap = "50000",     maintenance_rate = "0.004", maintenance_amount = "0",         max_leverage = 125 }},
  {{ notional_cap = "250000",    maintenance_rate = "0.005", maintenance_amount = "50",        max_leverage = 100 }},
  {{ notional_cap = "1000000",   maintenance_rate = "0.01",  maintenance_amount = "1300",      max_leverage = 50 }},
  {{ notional_cap = "10000000",  maintenance_rate = "0.025", maintenance_amount = "16300",     max_leverage = 20 }},
  {{ notional_cap = "20000000",  maintenance_rate = "0.05",  maintenance_amount = "266300",    max_leverage = 10 }},
  {{ notional_cap = "50000000",  maintenance_rate = "0.1",   maintenance_amount = "1266300",   max_leverage = 5 }},
  {{ notional_cap = "100000000", maintenance_rate = "0.125", maintenance_amount = "2516300",   max_leverage = 4 }},
  {{ notional_cap = "200000000", maintenance_rate = "0.15",  maintenance_amount = "5016300",   max_leverage = 3 }},
  {{ notional_cap = "300000000", maintenance_rate = "0.25",  maintenance_amount = "25016300",  max_leverage = 2 }},
  {{ notional_cap = "500000000", maintenance_rate = "0.5",   maintenance_amount = "100016300", max_leverage = 1 }},
]
"#
    )
}

/// The inverse instrument of a coin-margined generated crash.
pub const INVERSE_SYMBOL: &str = "BTCUSD";

/// The instruments config of a coin-margined generated crash: `BTCUSD`, an inverse
/// perpetual of 100 USD contracts settled in BTC, on Binance COIN-M's `BTCUSD_PERP`
/// ([`Dialect::BinanceCoinm`]: the same crash, sizes in contracts). Its maintenance tiers are the linear table's rates with each
/// notional cap converted to BTC at the start price (`start_ticks`, 0.1 USD), so the two
/// kinds of a scenario margin alike; Binance's own COIN-M tiers above 5 BTC were not
/// verified ([`crash_instruments_toml`] has the linear table).
pub fn inverse_instruments_toml(start_ticks: i64) -> String {
    let coinm = super::market::COINM_SYMBOL;
    const TIERS: [(i64, &str, u32); 10] = [
        (50_000, "0.004", 125),
        (250_000, "0.005", 100),
        (1_000_000, "0.01", 50),
        (10_000_000, "0.025", 20),
        (20_000_000, "0.05", 10),
        (50_000_000, "0.1", 5),
        (100_000_000, "0.125", 4),
        (200_000_000, "0.15", 3),
        (300_000_000, "0.25", 2),
        (500_000_000, "0.5", 1),
    ];
    let start = i128::from(start_ticks.max(1));
    let mut rows = String::new();
    for (i, (cap_usd, rate, leverage)) in TIERS.iter().enumerate() {
        // Cap in 0.001 BTC (so every derived maintenance amount is a whole 10^-6 BTC):
        // cap_usd ÷ (start_ticks × 0.1), rounded down, at least 0.001 BTC per tier step.
        let thousandths = (i128::from(*cap_usd) * 10_000 / start).max(i as i128 + 1);
        let cap = if i + 1 == TIERS.len() { "inf".to_string() } else { gavel_feeds::decimal::Decimal::from_units(thousandths, gavel_feeds::decimal::Decimal { mantissa: 1, scale: 3 }).to_string() };
        rows += &format!("  {{ notional_cap = \"{cap}\", maintenance_rate = \"{rate}\", max_leverage = {leverage} }},\n");
    }
    format!(
        r#"# Generated by `gavel gen crash --inverse`; format: docs/INSTRUMENTS.md.
[[instrument]]
symbol = "{INVERSE_SYMBOL}"
kind = "inverse"
contract_value = "100"
settlement_asset = "BTC"
tick_size = "0.1"
lot_size = "1"
min_size = "1"
venues = {{ "binance-coinm" = "{coinm}" }}
brackets = [
{rows}]
"#
    )
}

