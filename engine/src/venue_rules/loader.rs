//! The rules TOML: `rules = "<venue>"` and that venue's parameters under their
//! own snake_case names (see `docs/VENUE-RULES.md`). Absent parameters take
//! the venue's published defaults; per-market parameters without a protocol
//! default are required. Every error names the file, the line and the key.

use gavel_feeds::{InputError, Location};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use toml::Spanned;

use super::aave::AaveParams;
use super::binance::BinanceParams;
use super::drift::DriftParams;
use super::dydx::DydxParams;
use super::hyperliquid::HyperliquidParams;
use super::maker::MakerParams;
use super::{VenueRules, RULE_NAMES};
use crate::auction::curve::Curve;
use crate::auction::fixed::Ray;
use crate::risk::decimal::Decimal;
use crate::risk::instrument::{quote_unit, rate_unit};

/// Reads and parses a rules TOML file.
pub fn load_rules(path: &std::path::Path) -> Result<VenueRules, InputError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&name, Location::Line(0), "(file)", format!("cannot read: {e}")))?;
    parse_rules(&text, &name)
}

/// Parses rules TOML text; `source` names it in errors.
pub fn parse_rules(text: &str, source: &str) -> Result<VenueRules, InputError> {
    let cx = Cx { text, source };
    let head: Head = cx.de()?;
    let rules = head
        .rules
        .ok_or_else(|| InputError::new(source, Location::Line(1), "rules", format!("missing required key (one of {})", RULE_NAMES.join(", "))))?;
    let at = rules.span().start;
    let rules = match rules.get_ref().as_str() {
        "dydx-v4" => VenueRules::DydxV4(cx.dydx(at)?),
        "hyperliquid" => VenueRules::Hyperliquid(cx.hyperliquid(at)?),
        "binance-usdm" => {
            let _: RawBinance = cx.de()?;
            VenueRules::BinanceUsdm(BinanceParams)
        }
        "drift-v2" => VenueRules::DriftV2(cx.drift(at)?),
        "aave-v4" => VenueRules::AaveV4(cx.aave(at)?),
        "maker-clip" => VenueRules::MakerClip(cx.maker(at)?),
        other => {
            return Err(cx.err(at, "rules", format!("unknown rules {other:?} (one of {})", RULE_NAMES.join(", "))));
        }
    };
    Ok(rules)
}

struct Cx<'a> {
    text: &'a str,
    source: &'a str,
}

impl Cx<'_> {
    fn line(&self, offset: usize) -> Location {
        Location::Line(1 + self.text[..offset.min(self.text.len())].matches('\n').count() as u64)
    }

    fn err(&self, offset: usize, key: &str, msg: impl Into<String>) -> InputError {
        InputError::new(self.source, self.line(offset), key, msg)
    }

    /// Deserializes the whole file; a TOML error is reported at its line with
    /// the key written on that line.
    fn de<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        toml::from_str(self.text).map_err(|e| {
            let Some(span) = e.span() else {
                return InputError::new(self.source, Location::Line(0), "(toml)", e.message());
            };
            let start = self.text[..span.start.min(self.text.len())].rfind('\n').map_or(0, |i| i + 1);
            let line_text = self.text[start..].lines().next().unwrap_or("");
            let key = match line_text.split_once('=') {
                Some((k, _)) if !k.trim().is_empty() && !k.trim().starts_with('[') => k.trim().trim_matches('"').to_string(),
                _ => "(toml)".to_string(),
            };
            self.err(span.start, &key, e.message())
        })
    }

    /// Converts a parameter with `f`, or reports it at its line.
    fn val<T, U>(&self, v: &Spanned<T>, key: &str, f: impl FnOnce(&T) -> Result<U, String>) -> Result<U, InputError> {
        f(v.get_ref()).map_err(|m| self.err(v.span().start, key, m))
    }

    fn opt<T, U>(&self, v: &Option<Spanned<T>>, key: &str, default: U, f: impl FnOnce(&T) -> Result<U, String>) -> Result<U, InputError> {
        match v {
            Some(v) => self.val(v, key, f),
            None => Ok(default),
        }
    }

    fn req<T, U>(&self, v: &Option<Spanned<T>>, key: &str, at: usize, f: impl FnOnce(&T) -> Result<U, String>) -> Result<U, InputError> {
        match v {
            Some(v) => self.val(v, key, f),
            None => Err(self.err(at, key, "missing required parameter (no venue default)")),
        }
    }

    /// Maps a `validate()` failure to the line of the offending key (or of `rules`).
    fn check(&self, r: Result<(), (&'static str, String)>, spans: &[(&str, Option<usize>)], at: usize) -> Result<(), InputError> {
        r.map_err(|(key, msg)| {
            let off = spans.iter().find(|(k, _)| *k == key).and_then(|(_, s)| *s).unwrap_or(at);
            self.err(off, key, format!("out of range: {msg}"))
        })
    }

    fn dydx(&self, at: usize) -> Result<DydxParams, InputError> {
        let r: RawDydx = self.de()?;
        let d = DydxParams::default();
        let p = DydxParams {
            bankruptcy_adjustment_ppm: self.opt(&r.bankruptcy_adjustment_ppm, "bankruptcy_adjustment_ppm", d.bankruptcy_adjustment_ppm, u32_of)?,
            spread_to_maintenance_margin_ratio_ppm: self.opt(
                &r.spread_to_maintenance_margin_ratio_ppm,
                "spread_to_maintenance_margin_ratio_ppm",
                d.spread_to_maintenance_margin_ratio_ppm,
                u32_of,
            )?,
            max_liquidation_fee_ppm: self.opt(&r.max_liquidation_fee_ppm, "max_liquidation_fee_ppm", d.max_liquidation_fee_ppm, u32_of)?,
            min_position_notional_liquidated: self.opt(
                &r.min_position_notional_liquidated,
                "min_position_notional_liquidated",
                d.min_position_notional_liquidated,
                |v| u64::try_from(*v).map_err(|_| "must be >= 0".to_string()),
            )?,
            max_position_portion_liquidated_ppm: self.opt(
                &r.max_position_portion_liquidated_ppm,
                "max_position_portion_liquidated_ppm",
                d.max_position_portion_liquidated_ppm,
                u32_of,
            )?,
            max_notional_liquidated: self.opt(&r.max_notional_liquidated, "max_notional_liquidated", d.max_notional_liquidated, |v| {
                u64::try_from(*v).map_err(|_| "must be >= 0".to_string())
            })?,
        };
        let spans = [
            ("max_notional_liquidated", start(&r.max_notional_liquidated)),
            ("bankruptcy_adjustment_ppm", start(&r.bankruptcy_adjustment_ppm)),
            ("spread_to_maintenance_margin_ratio_ppm", start(&r.spread_to_maintenance_margin_ratio_ppm)),
            ("max_liquidation_fee_ppm", start(&r.max_liquidation_fee_ppm)),
            ("max_position_portion_liquidated_ppm", start(&r.max_position_portion_liquidated_ppm)),
        ];
        self.check(p.validate(), &spans, at)?;
        Ok(p)
    }

    fn hyperliquid(&self, at: usize) -> Result<HyperliquidParams, InputError> {
        let r: RawHyperliquid = self.de()?;
        let lev = self.req(&r.max_leverage, "max_leverage", at, u32_of)?;
        let d = HyperliquidParams::with_max_leverage(lev);
        let p = HyperliquidParams {
            max_leverage: lev,
            partial_threshold_notional: self.opt(&r.partial_threshold_notional, "partial_threshold_notional", d.partial_threshold_notional, |s| {
                units(s, quote_unit())
            })?,
            partial_fraction: self.opt(&r.partial_fraction, "partial_fraction", d.partial_fraction, |s| units(s, rate_unit()))?,
            partial_cooldown_s: self.opt(&r.partial_cooldown_s, "partial_cooldown_s", d.partial_cooldown_s, u32_of)?,
        };
        let spans = [
            ("max_leverage", start(&r.max_leverage)),
            ("partial_threshold_notional", start(&r.partial_threshold_notional)),
            ("partial_fraction", start(&r.partial_fraction)),
        ];
        self.check(p.validate(), &spans, at)?;
        Ok(p)
    }

    fn drift(&self, at: usize) -> Result<DriftParams, InputError> {
        let r: RawDrift = self.de()?;
        let fee = self.req(&r.liquidator_fee, "liquidator_fee", at, u32_of)?;
        let if_fee = self.req(&r.if_liquidation_fee, "if_liquidation_fee", at, u32_of)?;
        let d = DriftParams::with_fees(fee, if_fee);
        let p = DriftParams {
            max_liquidator_fee: self.opt(&r.max_liquidator_fee, "max_liquidator_fee", d.max_liquidator_fee, u32_of)?,
            liquidation_margin_buffer_ratio: self.opt(
                &r.liquidation_margin_buffer_ratio,
                "liquidation_margin_buffer_ratio",
                d.liquidation_margin_buffer_ratio,
                u32_of,
            )?,
            initial_pct_to_liquidate: self.opt(&r.initial_pct_to_liquidate, "initial_pct_to_liquidate", d.initial_pct_to_liquidate, u32_of)?,
            liquidation_duration: self.opt(&r.liquidation_duration, "liquidation_duration", d.liquidation_duration, u32_of)?,
            ..d
        };
        let spans = [
            ("liquidator_fee", start(&r.liquidator_fee)),
            ("max_liquidator_fee", start(&r.max_liquidator_fee)),
            ("if_liquidation_fee", start(&r.if_liquidation_fee)),
            ("liquidation_margin_buffer_ratio", start(&r.liquidation_margin_buffer_ratio)),
            ("initial_pct_to_liquidate", start(&r.initial_pct_to_liquidate)),
        ];
        self.check(p.validate(), &spans, at)?;
        Ok(p)
    }

    fn aave(&self, at: usize) -> Result<AaveParams, InputError> {
        let r: RawAave = self.de()?;
        let p = AaveParams {
            collateral_factor: self.req(&r.collateral_factor, "collateral_factor", at, u32_of)?,
            max_liquidation_bonus: self.req(&r.max_liquidation_bonus, "max_liquidation_bonus", at, u32_of)?,
            liquidation_bonus_factor: self.req(&r.liquidation_bonus_factor, "liquidation_bonus_factor", at, u32_of)?,
            health_factor_for_max_bonus: self.req(&r.health_factor_for_max_bonus, "health_factor_for_max_bonus", at, wad)?,
            target_health_factor: self.req(&r.target_health_factor, "target_health_factor", at, wad)?,
            liquidation_fee: self.opt(&r.liquidation_fee, "liquidation_fee", 0, u32_of)?,
        };
        let spans = [
            ("collateral_factor", start(&r.collateral_factor)),
            ("max_liquidation_bonus", start(&r.max_liquidation_bonus)),
            ("liquidation_bonus_factor", start(&r.liquidation_bonus_factor)),
            ("health_factor_for_max_bonus", start(&r.health_factor_for_max_bonus)),
            ("target_health_factor", start(&r.target_health_factor)),
            ("liquidation_fee", start(&r.liquidation_fee)),
        ];
        self.check(p.validate(), &spans, at)?;
        Ok(p)
    }

    fn maker(&self, at: usize) -> Result<MakerParams, InputError> {
        let r: RawMaker = self.de()?;
        let d = MakerParams::default();
        let ray = |s: &String| Ray::parse(s).map_err(|e| e.to_string());
        let p = MakerParams {
            buf: self.opt(&r.buf, "buf", d.buf, ray)?,
            tail: self.opt(&r.tail, "tail", d.tail, |v| u64::try_from(*v).map_err(|_| "must be >= 0".to_string()))?,
            cusp: self.opt(&r.cusp, "cusp", d.cusp, ray)?,
            chip: self.opt(&r.chip, "chip", d.chip, ray)?,
            tip: self.opt(&r.tip, "tip", d.tip, |s| units(s, quote_unit()).and_then(|v| i64::try_from(v).map_err(|_| "too large".into())))?,
            curve: self.opt(&r.curve, "curve", d.curve, |c| Ok(*c))?,
            depth_floor: self.opt(&r.floor, "floor", d.depth_floor, |f| Ok(*f))?,
        };
        let spans = [
            ("buf", start(&r.buf)),
            ("tail", start(&r.tail)),
            ("cusp", start(&r.cusp)),
            ("chip", start(&r.chip)),
            ("tip", start(&r.tip)),
            ("curve", start(&r.curve)),
        ];
        self.check(p.validate(), &spans, at)?;
        Ok(p)
    }
}

fn start<T>(v: &Option<Spanned<T>>) -> Option<usize> {
    v.as_ref().map(|s| s.span().start)
}

fn u32_of(v: &i64) -> Result<u32, String> {
    u32::try_from(*v).map_err(|_| format!("{v} is out of range: must be in [0, {}]", u32::MAX))
}

/// A decimal string as a whole number of `unit`.
fn units(s: &String, unit: Decimal) -> Result<i128, String> {
    let d = Decimal::parse(s).map_err(|e| e.to_string())?;
    d.in_units_of(unit).ok_or_else(|| format!("{s:?} is not a multiple of {unit}"))
}

/// A decimal string (e.g. "1.05") as a wad (10^18), non-negative.
fn wad(s: &String) -> Result<u128, String> {
    let unit = Decimal { mantissa: 1, scale: 18 };
    let v = units(s, unit)?;
    u128::try_from(v).map_err(|_| "must be >= 0".to_string())
}

#[derive(Deserialize)]
struct Head {
    rules: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDydx {
    #[allow(dead_code)]
    rules: String,
    bankruptcy_adjustment_ppm: Option<Spanned<i64>>,
    spread_to_maintenance_margin_ratio_ppm: Option<Spanned<i64>>,
    max_liquidation_fee_ppm: Option<Spanned<i64>>,
    min_position_notional_liquidated: Option<Spanned<i64>>,
    max_position_portion_liquidated_ppm: Option<Spanned<i64>>,
    max_notional_liquidated: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHyperliquid {
    #[allow(dead_code)]
    rules: String,
    max_leverage: Option<Spanned<i64>>,
    partial_threshold_notional: Option<Spanned<String>>,
    partial_fraction: Option<Spanned<String>>,
    partial_cooldown_s: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinance {
    #[allow(dead_code)]
    rules: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDrift {
    #[allow(dead_code)]
    rules: String,
    liquidator_fee: Option<Spanned<i64>>,
    max_liquidator_fee: Option<Spanned<i64>>,
    if_liquidation_fee: Option<Spanned<i64>>,
    liquidation_margin_buffer_ratio: Option<Spanned<i64>>,
    initial_pct_to_liquidate: Option<Spanned<i64>>,
    liquidation_duration: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAave {
    #[allow(dead_code)]
    rules: String,
    collateral_factor: Option<Spanned<i64>>,
    max_liquidation_bonus: Option<Spanned<i64>>,
    liquidation_bonus_factor: Option<Spanned<i64>>,
    health_factor_for_max_bonus: Option<Spanned<String>>,
    target_health_factor: Option<Spanned<String>>,
    liquidation_fee: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaker {
    #[allow(dead_code)]
    rules: String,
    buf: Option<Spanned<String>>,
    tail: Option<Spanned<i64>>,
    cusp: Option<Spanned<String>>,
    chip: Option<Spanned<String>>,
    tip: Option<Spanned<String>>,
    curve: Option<Spanned<Curve>>,
    floor: Option<Spanned<bool>>,
}
