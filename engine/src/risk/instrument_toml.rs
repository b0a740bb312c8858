//! The instruments TOML loader ([`InstrumentSet::load`], [`InstrumentSet::parse`]):
//! every refused value is an [`InputError`] naming file, line and field.
//! Format and rules: `docs/INSTRUMENTS.md`.

use std::collections::HashMap;

use gavel_feeds::{InputError, Location};
use serde::Deserialize;
use toml::Spanned;

use super::decimal::Decimal;
use super::portfolio::OffsetGroup;
use super::instrument::{
    format_money, quote_unit, rate_unit, validate_brackets, Bracket, ContractKind, Instrument, InstrumentSet, KNOWN_VENUES,
    MAX_QUOTE_PER_TICK_LOT, QUOTE_DECIMALS, RATE_SCALE,
};

impl InstrumentSet {
    /// Reads and parses an instruments TOML file.
    pub fn load(path: &std::path::Path) -> Result<Self, InputError> {
        let name = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|e| InputError::new(&name, Location::Line(0), "(file)", format!("cannot read: {e}")))?;
        Self::parse(&text, &name)
    }

    /// Parses instruments TOML text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, InputError> {
        let line_of = |offset: usize| Location::Line(1 + text[..offset.min(text.len())].matches('\n').count() as u64);
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let loc = e.span().map(|s| line_of(s.start)).unwrap_or(Location::Line(0));
            InputError::new(source, loc, "(toml)", e.message().to_string())
        })?;
        let mut list = Vec::with_capacity(raw.instrument.len());
        let mut seen = HashMap::new();
        for ri in raw.instrument {
            let err = |s: &Spanned<String>, field: &str, msg: String| InputError::new(source, line_of(s.span().start), field, msg);
            let symbol = ri.symbol.get_ref().trim().to_string();
            if symbol.is_empty() || seen.insert(symbol.clone(), ()).is_some() {
                return Err(err(&ri.symbol, "symbol", format!("empty or duplicate symbol {symbol:?}")));
            }
            let positive = |s: &Spanned<String>, field: &str| -> Result<Decimal, InputError> {
                let d = Decimal::parse(s.get_ref()).map_err(|e| err(s, field, e.to_string()))?;
                if !d.is_positive() {
                    return Err(err(s, field, "must be > 0".into()));
                }
                Ok(d)
            };
            let tick_size = positive(&ri.tick_size, "tick_size")?;
            let lot_size = positive(&ri.lot_size, "lot_size")?;
            let kind = match ri.kind.as_ref().map(|k| k.get_ref().as_str()).unwrap_or("linear") {
                "linear" => ContractKind::Linear,
                "inverse" => ContractKind::Inverse,
                other => {
                    let k = ri.kind.as_ref().expect("a kind other than the default was written");
                    return Err(err(k, "kind", format!("unknown contract kind {other:?} (\"linear\" or \"inverse\")")));
                }
            };
            let (quote_per_tick_lot, contract_value, inverse_value, settlement_asset) = match kind {
                ContractKind::Linear => {
                    if let Some(s) = &ri.contract_value {
                        return Err(err(s, "contract_value", "only an inverse contract has a contract value".into()));
                    }
                    if let Some(s) = &ri.settlement_asset {
                        return Err(err(s, "settlement_asset", "a linear contract settles in its quote asset".into()));
                    }
                    (linear_multiplier(&ri, tick_size, lot_size, &err)?, None, 0, String::new())
                }
                ContractKind::Inverse => {
                    let cv = ri
                        .contract_value
                        .as_ref()
                        .ok_or_else(|| err(&ri.symbol, "contract_value", "required for kind = \"inverse\" (quote value of one contract, e.g. \"100\")".into()))?;
                    let contract_value = positive(cv, "contract_value")?;
                    let asset = ri
                        .settlement_asset
                        .as_ref()
                        .ok_or_else(|| err(&ri.symbol, "settlement_asset", "required for kind = \"inverse\" (the base coin, e.g. \"BTC\")".into()))?;
                    let name = asset.get_ref().trim();
                    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
                        return Err(err(asset, "settlement_asset", format!("{name:?} is not an asset name (letters and digits)")));
                    }
                    let k = inverse_multiplier(tick_size, lot_size, contract_value).ok_or_else(|| {
                        err(
                            cv,
                            "contract_value",
                            format!(
                                "lot_size × contract_value ÷ tick_size = {lot_size} × {contract_value} ÷ {tick_size} must be a whole number of 10^-6 coin units, at most {MAX_INVERSE_VALUE}"
                            ),
                        )
                    })?;
                    (0, Some(contract_value), k, name.to_string())
                }
            };
            let min_size_lots = match &ri.min_size {
                None => 1,
                Some(s) => {
                    let d = positive(s, "min_size")?;
                    let l = d
                        .in_units_of(lot_size)
                        .ok_or_else(|| err(s, "min_size", format!("not a multiple of lot size {lot_size}")))?;
                    i64::try_from(l).map_err(|_| err(s, "min_size", "out of range".into()))?
                }
            };
            if ri.brackets.is_empty() {
                return Err(err(&ri.symbol, "brackets", "at least one bracket is required".into()));
            }
            let mut brackets: Vec<Bracket> = Vec::with_capacity(ri.brackets.len());
            for (i, rb) in ri.brackets.iter().enumerate() {
                let last = i + 1 == ri.brackets.len();
                let cap = if rb.notional_cap.get_ref().trim() == "inf" {
                    if !last {
                        return Err(err(&rb.notional_cap, "notional_cap", "only the last bracket may be \"inf\"".into()));
                    }
                    i128::MAX
                } else {
                    let d = positive(&rb.notional_cap, "notional_cap")?;
                    d.in_units_of(quote_unit())
                        .ok_or_else(|| err(&rb.notional_cap, "notional_cap", "more than 6 decimals or out of range".into()))?
                };
                let rate = positive(&rb.maintenance_rate, "maintenance_rate")?
                    .in_units_of(rate_unit())
                    .ok_or_else(|| err(&rb.maintenance_rate, "maintenance_rate", "more than 8 decimals".into()))?;
                if rate >= RATE_SCALE {
                    return Err(err(&rb.maintenance_rate, "maintenance_rate", "must be < 1".into()));
                }
                // cum continuity: cum_i = cum_{i-1} + cap_{i-1} × (rate_i − rate_{i-1}).
                let expected_scaled = match brackets.last() {
                    None => 0,
                    Some(prev) => {
                        if cap <= prev.notional_cap {
                            return Err(err(&rb.notional_cap, "notional_cap", "caps must increase".into()));
                        }
                        if rate < prev.maintenance_rate {
                            return Err(err(&rb.maintenance_rate, "maintenance_rate", "rates must not decrease".into()));
                        }
                        prev.maintenance_amount * RATE_SCALE + prev.notional_cap * (rate - prev.maintenance_rate)
                    }
                };
                if expected_scaled % RATE_SCALE != 0 {
                    return Err(err(
                        &rb.maintenance_rate,
                        "maintenance_rate",
                        "implied maintenance amount is not a whole quote unit".into(),
                    ));
                }
                let expected = expected_scaled / RATE_SCALE;
                let cum = match &rb.maintenance_amount {
                    None => expected,
                    Some(s) => {
                        let d = Decimal::parse(s.get_ref()).map_err(|e| err(s, "maintenance_amount", e.to_string()))?;
                        let v = d
                            .in_units_of(quote_unit())
                            .ok_or_else(|| err(s, "maintenance_amount", "more than 6 decimals".into()))?;
                        if v != expected {
                            return Err(err(
                                s,
                                "maintenance_amount",
                                format!(
                                    "is {d} but continuity with the previous bracket requires {}",
                                    format_money(expected, QUOTE_DECIMALS)
                                ),
                            ));
                        }
                        v
                    }
                };
                let lev = *rb.max_leverage.get_ref();
                if lev == 0 {
                    return Err(InputError::new(
                        source,
                        line_of(rb.max_leverage.span().start),
                        "max_leverage",
                        "must be ≥ 1",
                    ));
                }
                brackets.push(Bracket {
                    notional_cap: cap,
                    maintenance_rate: rate,
                    maintenance_amount: cum,
                    max_leverage: lev,
                });
            }
            validate_brackets(&brackets).map_err(|m| err(&ri.symbol, "brackets", m))?;
            let mut venue_symbols = Vec::with_capacity(ri.venues.len());
            for (venue, venue_symbol) in ri.venues {
                let name = venue.get_ref().as_str();
                if !KNOWN_VENUES.contains(&name) {
                    return Err(err(
                        &venue,
                        "venues",
                        format!("unknown venue {name:?} (known: {})", KNOWN_VENUES.join(", ")),
                    ));
                }
                venue_symbols.push((name.to_string(), venue_symbol));
            }
            list.push(Instrument {
                symbol,
                venue_symbols,
                kind,
                tick_size,
                lot_size,
                quote_per_tick_lot,
                contract_value,
                inverse_value,
                settlement_asset,
                min_size_lots,
                brackets,
            });
        }
        let mut set = InstrumentSet::new(list);
        let mut groups = Vec::with_capacity(raw.offset.len());
        for ro in &raw.offset {
            let err = |field: &str, msg: String| InputError::new(source, line_of(ro.name.span().start), field, msg);
            let name = ro.name.get_ref().trim().to_string();
            let credit = Decimal::parse(ro.credit.get_ref())
                .map_err(|e| InputError::new(source, line_of(ro.credit.span().start), "credit", e.to_string()))?
                .in_units_of(rate_unit())
                .filter(|c| (0..RATE_SCALE).contains(c))
                .ok_or_else(|| {
                    InputError::new(source, line_of(ro.credit.span().start), "credit", format!("{:?} must be in [0, 1) with at most 8 decimals", ro.credit.get_ref()))
                })?;
            let mut members = Vec::with_capacity(ro.instruments.len());
            for symbol in &ro.instruments {
                let id = set.id(symbol.get_ref().trim()).ok_or_else(|| {
                    InputError::new(source, line_of(symbol.span().start), "instruments", format!("offset group {name:?}: unknown instrument {:?}", symbol.get_ref()))
                })?;
                members.push(id);
            }
            groups.push(OffsetGroup { name, instruments: members, credit_rate: credit });
            // Validated one group at a time, so an error points at the group that causes it.
            let partial = groups.clone();
            super::portfolio::Offsets::new(partial, &set).map_err(|m| err("instruments", m))?;
        }
        set.set_offsets(groups).map_err(|m| InputError::new(source, Location::Line(0), "offset", m))?;
        Ok(set)
    }
}

/// Largest accepted `inverse_value` (one lot at one tick): 10^18 units = 10^12 coin.
pub const MAX_INVERSE_VALUE: i128 = 1_000_000_000_000_000_000;

/// `tick_size × lot_size` in units (linear), refused when not whole or above
/// [`MAX_QUOTE_PER_TICK_LOT`].
fn linear_multiplier(
    ri: &RawInstrument,
    tick_size: Decimal,
    lot_size: Decimal,
    err: &dyn Fn(&Spanned<String>, &str, String) -> InputError,
) -> Result<i128, InputError> {
    let too_big = || {
        err(
            &ri.tick_size,
            "tick_size",
            format!("tick_size × lot_size = {tick_size} × {lot_size} is above {MAX_QUOTE_PER_TICK_LOT} quote units (10^-6) per tick and lot"),
        )
    };
    let per = Decimal {
        mantissa: tick_size.mantissa.checked_mul(lot_size.mantissa).ok_or_else(too_big)?,
        scale: tick_size.scale + lot_size.scale,
    };
    let q = per.in_units_of(quote_unit()).ok_or_else(|| {
        err(
            &ri.tick_size,
            "tick_size",
            format!("tick_size × lot_size = {per} is not a whole number of quote units (10^-6)"),
        )
    })?;
    if q > MAX_QUOTE_PER_TICK_LOT {
        return Err(too_big());
    }
    Ok(q)
}

/// `lot_size × contract_value × 10^6 ÷ tick_size` (inverse), when it is a
/// whole number in `[1, MAX_INVERSE_VALUE]`.
fn inverse_multiplier(tick_size: Decimal, lot_size: Decimal, contract_value: Decimal) -> Option<i128> {
    let value = Decimal {
        mantissa: lot_size.mantissa.checked_mul(contract_value.mantissa)?,
        scale: lot_size.scale.checked_add(contract_value.scale)?,
    };
    // Units of (tick × 10^-6): value ÷ tick × 10^6.
    let unit = Decimal {
        mantissa: tick_size.mantissa,
        scale: tick_size.scale.checked_add(QUOTE_DECIMALS)?,
    };
    value.in_units_of(unit).filter(|k| (1..=MAX_INVERSE_VALUE).contains(k))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    instrument: Vec<RawInstrument>,
    #[serde(default)]
    offset: Vec<RawOffset>,
}

/// `[[offset]]`: a portfolio-margin offset group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffset {
    name: Spanned<String>,
    instruments: Vec<Spanned<String>>,
    /// Share of the hedged maintenance credited back, in [0, 1) (haircut = 1 − credit).
    credit: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    symbol: Spanned<String>,
    kind: Option<Spanned<String>>,
    tick_size: Spanned<String>,
    lot_size: Spanned<String>,
    contract_value: Option<Spanned<String>>,
    settlement_asset: Option<Spanned<String>>,
    min_size: Option<Spanned<String>>,
    #[serde(default)]
    venues: std::collections::BTreeMap<Spanned<String>, String>,
    #[serde(default)]
    brackets: Vec<RawBracket>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBracket {
    notional_cap: Spanned<String>,
    maintenance_rate: Spanned<String>,
    maintenance_amount: Option<Spanned<String>>,
    max_leverage: Spanned<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::instrument::{MAX_QUOTE_PER_TICK_LOT, QUOTE_SCALE};

    const SAMPLE: &str = r#"
[[instrument]]
symbol = "BTCUSDT"
tick_size = "0.1"
lot_size = "0.001"
venues = { binance = "BTCUSDT", okx = "BTC-USDT-SWAP" }
brackets = [
  { notional_cap = "50000", maintenance_rate = "0.004", maintenance_amount = "0", max_leverage = 125 },
  { notional_cap = "250000", maintenance_rate = "0.005", maintenance_amount = "50", max_leverage = 100 },
  { notional_cap = "inf", maintenance_rate = "0.01", max_leverage = 50 },
]
"#;

    #[test]
    fn money_formats_exactly() {
        assert_eq!(format_money(1_234_500, QUOTE_DECIMALS), "1.234500");
        assert_eq!(format_money(-5, 2), "-0.05");
        assert_eq!(format_money(0, QUOTE_DECIMALS), "0.000000");
        assert_eq!(format_money(42, 0), "42");
    }

    #[test]
    fn loads_brackets_and_derives_cum() {
        let set = InstrumentSet::parse(SAMPLE, "t.toml").unwrap();
        let btc = set.get(set.id("BTCUSDT").unwrap());
        assert_eq!(btc.quote_per_tick_lot, 100); // 0.1 × 0.001 × 10^6
        assert_eq!(btc.brackets[2].maintenance_amount, 1_300 * QUOTE_SCALE);
        assert_eq!(btc.brackets[2].notional_cap, i128::MAX);
        // 40 000 USDT notional: 0.4 % → 160 USDT.
        assert_eq!(btc.maintenance(40_000 * QUOTE_SCALE), 160 * QUOTE_SCALE);
        // 100 000 USDT: 0.5 % − 50 = 450 USDT.
        assert_eq!(btc.maintenance(100_000 * QUOTE_SCALE), 450 * QUOTE_SCALE);
        // Continuous at the cap.
        assert_eq!(btc.maintenance(50_000 * QUOTE_SCALE), 200 * QUOTE_SCALE);
        assert_eq!(btc.initial_margin(100_000 * QUOTE_SCALE), 1_000 * QUOTE_SCALE);
        assert_eq!(btc.parse_price("50000.5"), Ok(500_005));
        assert!(btc.parse_price("50000.55").is_err());
        assert_eq!(btc.format_size(-1500), "-1.500");
    }

    #[test]
    fn refuses_inconsistent_cum_with_line_and_field() {
        let bad = SAMPLE.replace("maintenance_amount = \"50\"", "maintenance_amount = \"51\"");
        let e = InstrumentSet::parse(&bad, "t.toml").unwrap_err();
        assert_eq!(e.field, "maintenance_amount");
        assert_eq!(e.location, Location::Line(9));
        let bad = SAMPLE.replace("tick_size = \"0.1\"", "tick_size = \"0.00001\"");
        let e = InstrumentSet::parse(&bad, "t.toml").unwrap_err();
        assert_eq!(e.field, "tick_size");
        let bad = SAMPLE.replace("lot_size = \"0.001\"", "lot_size = \"x\"");
        assert_eq!(InstrumentSet::parse(&bad, "t.toml").unwrap_err().field, "lot_size");
        let e = InstrumentSet::parse("[[instrument]]\nsymbol = 3\n", "t.toml").unwrap_err();
        assert_eq!(e.location, Location::Line(2));
    }

    #[test]
    fn grids_too_coarse_for_the_integer_margin_math_are_refused() {
        // Issue 14: tick_size ≥ 1e24 reached `unreachable!` in the trigger solver.
        for tick in ["1000000000000000000000000", "1000000.1", "99999999999999999999999999999999999999"] {
            let bad = SAMPLE.replace("tick_size = \"0.1\"", &format!("tick_size = \"{tick}\""));
            let e = InstrumentSet::parse(&bad, "t.toml").unwrap_err();
            assert_eq!((e.field.as_str(), &e.location), ("tick_size", &Location::Line(4)), "{tick}: {e}");
        }
        // The largest accepted grid: 1,000 quote currency per tick and lot.
        let edge = SAMPLE.replace("tick_size = \"0.1\"", "tick_size = \"1000000\"");
        let set = InstrumentSet::parse(&edge, "t.toml").unwrap();
        assert_eq!(set.get(0).quote_per_tick_lot, MAX_QUOTE_PER_TICK_LOT);
    }

    #[test]
    fn unknown_venue_keys_and_fields_are_errors_with_their_line() {
        let bad = SAMPLE.replace("okx = ", "kraken = ");
        let e = InstrumentSet::parse(&bad, "t.toml").unwrap_err();
        assert_eq!((e.field.as_str(), &e.location), ("venues", &Location::Line(6)));
        assert!(e.to_string().contains("kraken"), "{e}");
        let bad = SAMPLE.replace("lot_size = \"0.001\"", "lot_size = \"0.001\"\nmin_sise = \"1\"");
        let e = InstrumentSet::parse(&bad, "t.toml").unwrap_err();
        assert!(e.to_string().contains("min_sise"), "{e}");
        assert_ne!(e.location, Location::Line(0));
    }

    const INVERSE: &str = r#"
[[instrument]]
symbol = "BTCUSD"
kind = "inverse"
contract_value = "100"
settlement_asset = "BTC"
tick_size = "0.1"
lot_size = "1"
brackets = [{ notional_cap = "5", maintenance_rate = "0.004", max_leverage = 125 }]
"#;

    #[test]
    fn inverse_kind_loads_with_contract_value_and_settlement_asset() {
        let set = InstrumentSet::parse(INVERSE, "t.toml").unwrap();
        let ins = set.get(0);
        assert_eq!(ins.kind, ContractKind::Inverse);
        assert_eq!(ins.contract_value, Some(Decimal::parse("100").unwrap()));
        assert_eq!(ins.inverse_value, 1_000_000_000);
        assert_eq!(ins.settlement_asset, "BTC");
        assert_eq!(ins.quote_per_tick_lot, 0);
        // Bracket caps are coin amounts: 5 BTC = 5·10^6 units.
        assert_eq!(ins.brackets[0].notional_cap, 5 * QUOTE_SCALE);
        let linear = InstrumentSet::parse(SAMPLE, "t.toml").unwrap();
        assert_eq!((linear.get(0).kind, linear.get(0).inverse_value, linear.get(0).settlement_asset.as_str()), (ContractKind::Linear, 0, ""));
    }

    #[test]
    fn missing_or_invalid_contract_value_is_an_error_naming_the_field() {
        let missing = INVERSE.replace("contract_value = \"100\"\n", "");
        let e = InstrumentSet::parse(&missing, "t.toml").unwrap_err();
        assert_eq!((e.field.as_str(), &e.location), ("contract_value", &Location::Line(3)), "{e}");
        assert!(e.to_string().contains("t.toml") && e.to_string().contains("inverse"), "{e}");
        for bad in ["x", "0", "-100", "1e3"] {
            let text = INVERSE.replace("contract_value = \"100\"", &format!("contract_value = \"{bad}\""));
            let e = InstrumentSet::parse(&text, "t.toml").unwrap_err();
            assert_eq!((e.field.as_str(), &e.location), ("contract_value", &Location::Line(5)), "{bad}: {e}");
        }
        // 1 × 0.00000001 ÷ 0.1 × 10^6 = 0.1 unit: not whole.
        let text = INVERSE.replace("contract_value = \"100\"", "contract_value = \"0.00000001\"");
        let e = InstrumentSet::parse(&text, "t.toml").unwrap_err();
        assert_eq!(e.field, "contract_value", "{e}");
        assert!(e.to_string().contains("whole number"), "{e}");
        let text = INVERSE.replace("contract_value = \"100\"", "contract_value = 100");
        assert_eq!(InstrumentSet::parse(&text, "t.toml").unwrap_err().field, "(toml)");
    }

    #[test]
    fn inverse_needs_a_settlement_asset_and_linear_refuses_inverse_fields() {
        let e = InstrumentSet::parse(&INVERSE.replace("settlement_asset = \"BTC\"\n", ""), "t.toml").unwrap_err();
        assert_eq!(e.field, "settlement_asset", "{e}");
        let e = InstrumentSet::parse(&INVERSE.replace("\"BTC\"", "\"B T\""), "t.toml").unwrap_err();
        assert_eq!((e.field.as_str(), &e.location), ("settlement_asset", &Location::Line(6)), "{e}");
        let e = InstrumentSet::parse(&INVERSE.replace("\"inverse\"", "\"quanto\""), "t.toml").unwrap_err();
        assert_eq!((e.field.as_str(), &e.location), ("kind", &Location::Line(4)), "{e}");
        let e = InstrumentSet::parse(&INVERSE.replace("\"inverse\"", "\"linear\""), "t.toml").unwrap_err();
        assert_eq!((e.field.as_str(), &e.location), ("contract_value", &Location::Line(5)), "{e}");
    }
}
