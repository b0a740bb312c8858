//! The options portfolio TOML loader ([`OptionsBook::load`], [`OptionsBook::parse`]):
//! every refused value is an [`InputError`] naming file, line and field.
//! Format: `docs/INSTRUMENTS.md` (options), example `docs/examples/options.toml`.

use std::collections::HashMap;

use gavel_feeds::options::{parse_utc_time, OptionKind};
use gavel_feeds::InputError;
use serde::Deserialize;
use crate::toml_input::TomlInput;
use toml::Spanned;

use super::black76::MAX_VOL;
use super::surface::{SurfaceNode, VolSurface};
use super::portfolio::{OptionPosition, OptionsAccount, OptionsBook, PerpPosition, Series, StressGrid, Underlying};
use crate::risk::instrument::{format_money, quote_unit, MAX_MONEY, QUOTE_DECIMALS};

/// Largest price, strike, size or depth accepted (10^12).
const MAX_MAGNITUDE: f64 = 1e12;
/// Largest |contracts| or |lots| of one position.
const MAX_POSITION: i64 = 1_000_000_000_000;
/// Most stress steps.
const MAX_STEPS: i64 = 101;
/// Longest symbol or account id, in bytes.
const MAX_NAME: usize = 64;

/// The stress grid when the file has no `[stress]`: ±15 % in 7 steps, vols ±30 %.
pub const DEFAULT_STRESS: StressGrid = StressGrid { range: 0.15, steps: 7, vol_shift: 0.3 };

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    valuation_time: Spanned<String>,
    #[serde(default)]
    underlying: Vec<RawUnderlying>,
    #[serde(default)]
    surface: Vec<RawSurface>,
    #[serde(default)]
    series: Vec<RawSeries>,
    stress: Option<RawStress>,
    #[serde(default)]
    account: Vec<RawAccount>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnderlying {
    symbol: Spanned<String>,
    price: Spanned<String>,
    lot_size: Spanned<String>,
    depth_per_bp: Spanned<String>,
    realized_vol: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    symbol: Spanned<String>,
    underlying: Option<Spanned<String>>,
    kind: Spanned<String>,
    strike: Spanned<String>,
    expiry: Spanned<String>,
    contract_size: Spanned<String>,
    vol: Option<Spanned<String>>,
    half_spread: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSurface {
    underlying: Spanned<String>,
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    expiry: Spanned<String>,
    strike: Spanned<String>,
    vol: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStress {
    range: Spanned<String>,
    steps: Spanned<i64>,
    vol_shift: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    id: Spanned<String>,
    collateral: Spanned<String>,
    #[serde(default)]
    options: Vec<RawOption>,
    #[serde(default)]
    perps: Vec<RawPerp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOption {
    series: Spanned<String>,
    contracts: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerp {
    underlying: Spanned<String>,
    lots: Spanned<i64>,
}

impl OptionsBook {
    /// Reads and parses an options portfolio file.
    pub fn load(path: &std::path::Path) -> Result<Self, InputError> {
        TomlInput::load(path, Self::parse)
    }

    /// Parses options portfolio TOML; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, InputError> {
        let errors = TomlInput::new(text, source);
        let raw: RawFile = errors.parse()?;
        let valuation_ms = parse_utc_time(raw.valuation_time.get_ref().trim()).map_err(|e| errors.at(&raw.valuation_time, "valuation_time", e.0))?;
        let (mut underlying_index, mut underlyings) = (HashMap::new(), Vec::new());
        for (i, r) in raw.underlying.iter().enumerate() {
            underlyings.push(Underlying {
                symbol: errors.unique_name(&r.symbol, "underlying.symbol", MAX_NAME, &mut underlying_index, i)?,
                price: errors.number(&r.price, "underlying.price", 0.0, true, MAX_MAGNITUDE, false)?,
                lot_size: errors.number(&r.lot_size, "underlying.lot_size", 0.0, true, MAX_MAGNITUDE, false)?,
                depth_per_bp: errors.number(&r.depth_per_bp, "underlying.depth_per_bp", 0.0, true, MAX_MAGNITUDE, false)?,
                realized_vol: errors.number(&r.realized_vol, "underlying.realized_vol", 0.0, true, MAX_VOL, false)?,
            });
        }
        let mut surfaces: HashMap<usize, VolSurface> = HashMap::new();
        for r in &raw.surface {
            let underlying = errors.lookup(&underlying_index, &r.underlying, "surface.underlying", "underlying")?;
            let mut nodes = Vec::with_capacity(r.nodes.len());
            for n in &r.nodes {
                let expiry_ms = parse_utc_time(n.expiry.get_ref().trim()).map_err(|e| errors.at(&n.expiry, "surface.nodes.expiry", e.0))?;
                let strike = errors.number(&n.strike, "surface.nodes.strike", 0.0, true, MAX_MAGNITUDE, false)?;
                let vol = errors.number(&n.vol, "surface.nodes.vol", 0.0, true, MAX_VOL, false)?;
                nodes.push(SurfaceNode { expiry_ms, strike, vol });
            }
            let surface = VolSurface::new(&nodes).map_err(|e| errors.at(&r.underlying, "surface.nodes", e.to_string()))?;
            if surface.vol(u64::MAX, 1.0, valuation_ms).is_none() {
                return Err(errors.at(&r.underlying, "surface.nodes", "every node has expired at valuation_time"));
            }
            if surfaces.insert(underlying, surface).is_some() {
                return Err(errors.at(&r.underlying, "surface.underlying", "a second [[surface]] for the same underlying"));
            }
        }
        let (mut series_index, mut series) = (HashMap::new(), Vec::new());
        for (i, r) in raw.series.iter().enumerate() {
            let symbol = errors.unique_name(&r.symbol, "series.symbol", MAX_NAME, &mut series_index, i)?;
            let under = r.underlying.as_ref().ok_or_else(|| errors.at(&r.symbol, "series.underlying", "missing: name the [[underlying]] the series is written on"))?;
            let underlying = errors.lookup(&underlying_index, under, "series.underlying", "underlying")?;
            let kind = match r.kind.get_ref().trim() {
                "call" => OptionKind::Call,
                "put" => OptionKind::Put,
                other => return Err(errors.at(&r.kind, "series.kind", format!("{other:?} is neither \"call\" nor \"put\""))),
            };
            let expiry_ms = parse_utc_time(r.expiry.get_ref().trim()).map_err(|e| errors.at(&r.expiry, "series.expiry", e.0))?;
            if expiry_ms <= valuation_ms {
                return Err(errors.at(&r.expiry, "series.expiry", "the series has expired: its expiry is not after valuation_time"));
            }
            let strike = errors.number(&r.strike, "series.strike", 0.0, true, MAX_MAGNITUDE, false)?;
            series.push(Series {
                symbol,
                underlying,
                kind,
                strike,
                expiry_ms,
                contract_size: errors.number(&r.contract_size, "series.contract_size", 0.0, true, MAX_MAGNITUDE, false)?,
                vol: match (&r.vol, surfaces.get(&underlying)) {
                    (Some(v), _) => errors.number(v, "series.vol", 0.0, true, MAX_VOL, false)?,
                    (None, Some(surface)) => {
                        surface.vol(expiry_ms, strike, valuation_ms).ok_or_else(|| errors.at(&r.expiry, "series.expiry", "no live surface slice at valuation_time"))?
                    }
                    (None, None) => {
                        let name = &underlyings[underlying].symbol;
                        return Err(errors.at(&r.symbol, "series.vol", format!("missing, and no [[surface]] for underlying {name:?} to read it from")));
                    }
                },
                half_spread: errors.number(&r.half_spread, "series.half_spread", 0.0, false, 1.0, true)?,
            });
        }
        let stress = match &raw.stress {
            None => DEFAULT_STRESS,
            Some(r) => {
                let steps = *r.steps.get_ref();
                if !(1..=MAX_STEPS).contains(&steps) || steps % 2 == 0 {
                    return Err(errors.at(&r.steps, "stress.steps", format!("{steps} is not an odd number in 1..={MAX_STEPS}")));
                }
                StressGrid {
                    range: errors.number(&r.range, "stress.range", 0.0, true, 1.0, true)?,
                    steps: steps as u32,
                    vol_shift: errors.number(&r.vol_shift, "stress.vol_shift", 0.0, false, 1.0, true)?,
                }
            }
        };
        let mut account_index = HashMap::new();
        let mut accounts = Vec::with_capacity(raw.account.len());
        for (i, r) in raw.account.iter().enumerate() {
            let id = errors.unique_name(&r.id, "account.id", MAX_NAME, &mut account_index, i)?;
            let bound = format_money(MAX_MONEY, QUOTE_DECIMALS);
            let what = format!("a decimal in [0, {bound}] with at most 6 places");
            let collateral = errors.units(&r.collateral, "account.collateral", quote_unit(), 0..=MAX_MONEY, &what)?;
            let size = |s: &Spanned<i64>, field: &str| -> Result<i64, InputError> {
                let v = *s.get_ref();
                if v == 0 || v.unsigned_abs() > MAX_POSITION as u64 {
                    return Err(errors.at(s, field, format!("{v} is 0 or beyond ±{MAX_POSITION}")));
                }
                Ok(v)
            };
            let mut options = Vec::with_capacity(r.options.len());
            for o in &r.options {
                let series = errors.lookup(&series_index, &o.series, "account.options.series", "series")?;
                options.push(OptionPosition { series, contracts: size(&o.contracts, "account.options.contracts")? });
            }
            let mut perps = Vec::with_capacity(r.perps.len());
            for p in &r.perps {
                let underlying = errors.lookup(&underlying_index, &p.underlying, "account.perps.underlying", "underlying")?;
                perps.push(PerpPosition { underlying, lots: size(&p.lots, "account.perps.lots")? });
            }
            accounts.push(OptionsAccount { id, collateral, options, perps });
        }
        Ok(OptionsBook { valuation_ms, underlyings, series, stress, accounts })
    }
}
