//! The collateral TOML loader ([`CollateralBook::load`], [`CollateralBook::parse`]):
//! assets with haircuts and venue prices, the index band, the stress size and
//! accounts. Every refused value is an [`InputError`] naming file, line and
//! field. Format: `docs/INSTRUMENTS.md` (collateral), example
//! `docs/examples/collateral.toml`.

use std::collections::HashMap;

use gavel_feeds::InputError;
use serde::Deserialize;
use crate::toml_input::TomlInput;
use toml::Spanned;

use super::collateral::{index_price, CollateralAccount, CollateralAsset, IndexPrice, PriceSource};
use super::decimal::Decimal;
use super::instrument::{quote_unit, rate_unit, RATE_SCALE};

/// Largest price accepted: 10⁹ quote currency per asset (10¹⁵ units).
const MAX_PRICE: i128 = 1_000_000_000_000_000;
/// Largest amount or |position| accepted: 10¹⁰ assets (10¹⁸ units).
const MAX_AMOUNT: i128 = 1_000_000_000_000_000_000;

/// Assets, accounts and the settings of a collateral file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralBook {
    /// Outlier band of the index, RATE_SCALE parts.
    pub band: i128,
    /// Correlation-one move, RATE_SCALE parts.
    pub stress: i128,
    /// Assets.
    pub assets: Vec<CollateralAsset>,
    /// Accounts.
    pub accounts: Vec<CollateralAccount>,
}

impl CollateralBook {
    /// The index of every asset (the quote asset: one quote currency).
    pub fn index(&self) -> Vec<IndexPrice> {
        self.assets
            .iter()
            .map(|a| {
                let prices: Vec<i128> = a.sources.iter().map(|s| s.price).collect();
                index_price(&prices, self.band).unwrap_or(IndexPrice { price: 1_000_000, dropped: 0, fallback_lowest: false })
            })
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    band: Spanned<String>,
    stress: Spanned<String>,
    #[serde(default)]
    asset: Vec<RawAsset>,
    #[serde(default)]
    account: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsset {
    symbol: Spanned<String>,
    #[serde(default)]
    quote: bool,
    haircut: Option<Spanned<String>>,
    maintenance_rate: Option<Spanned<String>>,
    #[serde(default)]
    sources: Vec<RawSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    venue: Spanned<String>,
    price: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: Spanned<String>,
    #[serde(default)]
    collateral: Vec<RawAmount>,
    #[serde(default)]
    positions: Vec<RawPosition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAmount {
    asset: Spanned<String>,
    amount: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPosition {
    asset: Spanned<String>,
    units: Spanned<String>,
}

/// A rate in [0, 1) (`upper_open`) or [0, 1], in units of [`rate_unit`].
fn rate(errors: &TomlInput, s: &Spanned<String>, field: &str, upper_open: bool) -> Result<i128, InputError> {
    let top = if upper_open { RATE_SCALE - 1 } else { RATE_SCALE };
    let what = if upper_open { "a rate in [0, 1) with at most 8 places" } else { "a rate in [0, 1] with at most 8 places" };
    errors.units(s, field, rate_unit(), 0..=top, what)
}

impl CollateralBook {
    /// Reads and parses a collateral file.
    pub fn load(path: &std::path::Path) -> Result<Self, InputError> {
        TomlInput::load(path, Self::parse)
    }

    /// Parses collateral TOML; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, InputError> {
        let errors = TomlInput::new(text, source);
        let raw: RawFile = errors.parse()?;
        let band = rate(&errors, &raw.band, "band", true)?;
        let stress = rate(&errors, &raw.stress, "stress", true)?;
        let (mut index, mut assets) = (HashMap::new(), Vec::with_capacity(raw.asset.len()));
        let mut quote_seen = false;
        for r in &raw.asset {
            let symbol = errors.unique_name(&r.symbol, "asset.symbol", 32, &mut index, assets.len())?;
            if r.quote {
                if quote_seen {
                    return Err(errors.at(&r.symbol, "asset.quote", "only one asset is the quote asset"));
                }
                quote_seen = true;
                if let Some(s) = r.sources.first() {
                    return Err(errors.at(&s.venue, "asset.sources", "the quote asset is worth one: it has no price sources"));
                }
            } else if r.sources.len() < 2 {
                return Err(errors.at(
                    &r.symbol,
                    "asset.sources",
                    format!("{symbol} has {} price source(s): collateral is priced by an index of at least two venues, never one venue's book", r.sources.len()),
                ));
            }
            let haircut = r.haircut.as_ref().map(|h| rate(&errors, h, "asset.haircut", true)).transpose()?.unwrap_or(0);
            let maintenance_rate = r.maintenance_rate.as_ref().map(|m| rate(&errors, m, "asset.maintenance_rate", true)).transpose()?.unwrap_or(0);
            let mut venues = HashMap::new();
            let mut sources = Vec::with_capacity(r.sources.len());
            for s in &r.sources {
                let venue = errors.unique_name(&s.venue, "asset.sources.venue", 64, &mut venues, sources.len())?;
                let price = errors.units(&s.price, "asset.sources.price", quote_unit(), 1..=MAX_PRICE, "a price > 0 and ≤ 10^9 with at most 6 places")?;
                sources.push(PriceSource { venue, price });
            }
            assets.push(CollateralAsset { symbol, is_quote: r.quote, haircut, maintenance_rate, sources });
        }
        // One amount unit, 10⁻⁸ of the asset (AMOUNT_SCALE).
        let amount_unit = Decimal { mantissa: 1, scale: 8 };
        let mut names = HashMap::new();
        let mut accounts = Vec::with_capacity(raw.account.len());
        for r in &raw.account {
            let id = errors.unique_name(&r.id, "account.id", 64, &mut names, accounts.len())?;
            let mut collateral = Vec::with_capacity(r.collateral.len());
            for c in &r.collateral {
                let asset = errors.lookup(&index, &c.asset, "account.collateral.asset", "asset")?;
                let amount = errors.units(&c.amount, "account.collateral.amount", amount_unit, 0..=MAX_AMOUNT, "an amount ≥ 0 and ≤ 10^10 with at most 8 places")?;
                collateral.push((asset, amount));
            }
            let mut positions = Vec::with_capacity(r.positions.len());
            for p in &r.positions {
                let asset = errors.lookup(&index, &p.asset, "account.positions.asset", "asset")?;
                if assets[asset].is_quote {
                    return Err(errors.at(&p.asset, "account.positions.asset", "a position on the quote asset has no price risk"));
                }
                let units = errors.units(&p.units, "account.positions.units", amount_unit, -MAX_AMOUNT..=MAX_AMOUNT, "a size within ±10^10 with at most 8 places")?;
                positions.push((asset, units));
            }
            accounts.push(CollateralAccount { id, collateral, positions });
        }
        Ok(CollateralBook { band, stress, assets, accounts })
    }
}
