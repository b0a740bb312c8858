//! Instruments: tick and lot sizes, the quote-unit scale, and Binance-style
//! maintenance-margin brackets, loaded from TOML (see `docs/INSTRUMENTS.md`).
//!
//! Units used everywhere in [`crate::risk`]:
//! * price: integer ticks (`i64`), one tick = `tick_size`;
//! * size: integer lots (`i64`, signed: long > 0), one lot = `lot_size`;
//! * money: integer quote units (`i128`), one unit = 10^-6 of the quote asset
//!   ([`QUOTE_DECIMALS`]);
//! * rates: integer parts of [`RATE_SCALE`] (10^-8).
//!
//! The notional of `lots` at `ticks` is `lots × ticks × quote_per_tick_lot`
//! quote units, exactly: an instrument whose `tick_size × lot_size × 10^6` is
//! not a whole number is refused at load time.

use std::collections::HashMap;

use gavel_feeds::{InputError, Location};
use serde::Deserialize;
use toml::Spanned;

use super::decimal::{div_ceil, Decimal};

/// Decimal digits of one quote unit: money is counted in 10^-6 quote asset.
pub const QUOTE_DECIMALS: u32 = 6;
/// Quote units per whole quote asset (10^6).
pub const QUOTE_SCALE: i128 = 1_000_000;
/// Rates (maintenance rate, penalty rate, …) are integers of 10^-8.
pub const RATE_SCALE: i128 = 100_000_000;

/// Largest accepted `quote_per_tick_lot` (tick size × lot size in quote
/// units): 10^9, one tick on one lot worth at most 1,000 quote currency.
/// Bigger grids are refused at load time, which keeps the margin arithmetic
/// (products of size, price, this value and [`RATE_SCALE`]) inside `i128`.
pub const MAX_QUOTE_PER_TICK_LOT: i128 = 1_000_000_000;
/// Largest accepted tick value of one position, `|size| × quote_per_tick_lot`:
/// 10^10 quote units (a one-tick move worth 10,000 quote currency; e.g.
/// 10^8 lots = 100,000 BTC at tick 0.1, lot 0.001).
pub const MAX_POSITION_TICK_VALUE: i128 = 10_000_000_000;
/// Largest accepted money amount in a loaded file (collateral, isolated
/// margin, entry notional): 10^18 quote units = 10^12 quote currency.
/// With [`MAX_POSITION_TICK_VALUE`] this bounds the trigger solver's largest
/// product (tick value × [`RATE_SCALE`] × money) to about 10^36, under
/// `i128::MAX` ≈ 1.7 × 10^38.
pub const MAX_MONEY: i128 = 1_000_000_000_000_000_000;

/// The unit money is counted in, as a decimal (0.000001).
pub fn quote_unit() -> Decimal {
    Decimal {
        mantissa: 1,
        scale: QUOTE_DECIMALS,
    }
}

/// The unit rates are counted in, as a decimal (0.00000001).
pub fn rate_unit() -> Decimal {
    Decimal { mantissa: 1, scale: 8 }
}

/// Index of an instrument in the loaded list.
pub type InstrumentId = u16;

/// Contract type. Only linear (USDT-margined) contracts are implemented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractKind {
    /// PnL in the quote asset: `size × (exit − entry)`.
    Linear,
}

/// One maintenance-margin bracket: it applies to notionals in
/// `(previous cap, notional_cap]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bracket {
    /// Upper notional bound of the bracket, quote units (`i128::MAX` = unbounded).
    pub notional_cap: i128,
    /// Maintenance margin rate, in [`RATE_SCALE`] parts.
    pub maintenance_rate: i128,
    /// Maintenance amount ("cum"), quote units: `MM = notional × rate − cum`.
    pub maintenance_amount: i128,
    /// Highest leverage allowed in this bracket; initial margin = notional ÷ leverage.
    pub max_leverage: u32,
}

/// A tradable contract and its margin schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrument {
    /// gavel's symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Venue name → that venue's symbol (e.g. `okx` → `BTC-USDT-SWAP`).
    pub venue_symbols: Vec<(String, String)>,
    /// Contract type.
    pub kind: ContractKind,
    /// Price increment, exact.
    pub tick_size: Decimal,
    /// Size increment, exact.
    pub lot_size: Decimal,
    /// Quote units per (one tick × one lot): the notional multiplier.
    pub quote_per_tick_lot: i128,
    /// Smallest position (lots) a partial liquidation may leave behind.
    pub min_size_lots: i64,
    /// Brackets in increasing `notional_cap`.
    pub brackets: Vec<Bracket>,
}

impl Instrument {
    /// Notional of `size` lots (sign ignored) at `price` ticks, quote units.
    #[inline]
    pub fn notional(&self, size: i64, price: i64) -> i128 {
        i128::from(size).abs() * i128::from(price) * self.quote_per_tick_lot
    }

    /// The bracket that applies to `notional` (the last one above every cap).
    #[inline]
    pub fn bracket_for(&self, notional: i128) -> &Bracket {
        for b in &self.brackets {
            if notional <= b.notional_cap {
                return b;
            }
        }
        self.brackets.last().expect("an instrument has at least one bracket")
    }

    /// Maintenance margin × [`RATE_SCALE`], exact: `N·rate − cum·RATE_SCALE`.
    #[inline]
    pub fn maintenance_scaled(&self, notional: i128) -> i128 {
        if notional == 0 {
            return 0;
        }
        let b = self.bracket_for(notional);
        notional * b.maintenance_rate - b.maintenance_amount * RATE_SCALE
    }

    /// Maintenance margin in quote units, rounded up.
    pub fn maintenance(&self, notional: i128) -> i128 {
        div_ceil(self.maintenance_scaled(notional), RATE_SCALE)
    }

    /// Initial margin in quote units (notional ÷ max leverage), rounded up.
    pub fn initial_margin(&self, notional: i128) -> i128 {
        if notional == 0 {
            return 0;
        }
        div_ceil(notional, i128::from(self.bracket_for(notional).max_leverage))
    }

    /// Price string (e.g. "50000.5") to ticks; must be on the tick grid.
    pub fn parse_price(&self, text: &str) -> Result<i64, String> {
        let d = Decimal::parse(text).map_err(|e| e.to_string())?;
        let t = d
            .in_units_of(self.tick_size)
            .ok_or_else(|| format!("{text:?} is not a multiple of tick size {}", self.tick_size))?;
        i64::try_from(t).map_err(|_| format!("{text:?} out of range"))
    }

    /// Size string (e.g. "-0.015") to signed lots; must be on the lot grid.
    pub fn parse_size(&self, text: &str) -> Result<i64, String> {
        let d = Decimal::parse(text).map_err(|e| e.to_string())?;
        let l = d
            .in_units_of(self.lot_size)
            .ok_or_else(|| format!("{text:?} is not a multiple of lot size {}", self.lot_size))?;
        i64::try_from(l).map_err(|_| format!("{text:?} out of range"))
    }

    /// Ticks as a decimal string.
    pub fn format_price(&self, ticks: i64) -> String {
        Decimal::from_units(i128::from(ticks), self.tick_size).to_string()
    }

    /// Lots as a decimal string.
    pub fn format_size(&self, lots: i64) -> String {
        Decimal::from_units(i128::from(lots), self.lot_size).to_string()
    }
}

/// Most maintenance brackets an instrument may have (Binance's longest table has 11).
pub const MAX_BRACKETS: usize = 32;

/// Checks a bracket schedule: at least one bracket, caps increasing, rates
/// non-decreasing in (0, 1), leverage ≥ 1, and every maintenance amount equal
/// to the continuity value `cum[i-1] + cap[i-1] × (rate[i] − rate[i-1])`.
pub fn validate_brackets(brackets: &[Bracket]) -> Result<(), String> {
    let first = brackets.first().ok_or("at least one bracket is required")?;
    if brackets.len() > MAX_BRACKETS {
        return Err(format!("at most {MAX_BRACKETS} brackets, not {}", brackets.len()));
    }
    if first.maintenance_amount != 0 {
        return Err("the first maintenance amount must be 0".into());
    }
    for (i, b) in brackets.iter().enumerate() {
        if b.maintenance_rate <= 0 || b.maintenance_rate >= RATE_SCALE || b.max_leverage == 0 || b.notional_cap <= 0 {
            return Err(format!("bracket {i}: rate must be in (0, 1), leverage ≥ 1, cap > 0"));
        }
        if i > 0 {
            let p = &brackets[i - 1];
            if b.notional_cap <= p.notional_cap || b.maintenance_rate < p.maintenance_rate {
                return Err(format!("bracket {i}: caps must increase and rates must not decrease"));
            }
            let scaled = p.maintenance_amount * RATE_SCALE + p.notional_cap * (b.maintenance_rate - p.maintenance_rate);
            if scaled != b.maintenance_amount * RATE_SCALE {
                return Err(format!("bracket {i}: maintenance amount breaks continuity"));
            }
        }
    }
    Ok(())
}

/// Integer money as exact decimal text with `decimals` places: quote units with
/// [`QUOTE_DECIMALS`] (`1_234_500` → `1.234500`), cents with 2 (`-5` → `-0.05`).
pub fn format_money(units: i128, decimals: u32) -> String {
    Decimal { mantissa: units, scale: decimals }.to_string()
}

/// A loaded set of instruments with lookup by symbol.
#[derive(Clone, Debug, Default)]
pub struct InstrumentSet {
    /// Instruments by [`InstrumentId`].
    pub list: Vec<Instrument>,
    by_symbol: HashMap<String, InstrumentId>,
}

impl InstrumentSet {
    /// Builds a set from a list (symbols must be unique).
    pub fn new(list: Vec<Instrument>) -> Self {
        let by_symbol = list
            .iter()
            .enumerate()
            .map(|(i, ins)| (ins.symbol.clone(), i as InstrumentId))
            .collect();
        InstrumentSet { list, by_symbol }
    }

    /// The id of a symbol.
    pub fn id(&self, symbol: &str) -> Option<InstrumentId> {
        self.by_symbol.get(symbol).copied()
    }

    /// The instrument with this id.
    #[inline]
    pub fn get(&self, id: InstrumentId) -> &Instrument {
        &self.list[usize::from(id)]
    }

    /// Number of instruments.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when no instrument is loaded.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

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
            let kind = match ri.kind.as_ref().map(|k| k.get_ref().as_str()).unwrap_or("linear") {
                "linear" => ContractKind::Linear,
                other => {
                    return Err(err(
                        ri.kind.as_ref().unwrap(),
                        "kind",
                        format!("unsupported contract kind {other:?} (only \"linear\")"),
                    ))
                }
            };
            let positive = |s: &Spanned<String>, field: &str| -> Result<Decimal, InputError> {
                let d = Decimal::parse(s.get_ref()).map_err(|e| err(s, field, e.to_string()))?;
                if !d.is_positive() {
                    return Err(err(s, field, "must be > 0".into()));
                }
                Ok(d)
            };
            let tick_size = positive(&ri.tick_size, "tick_size")?;
            let lot_size = positive(&ri.lot_size, "lot_size")?;
            let too_big = || {
                err(
                    &ri.tick_size,
                    "tick_size",
                    format!(
                        "tick_size × lot_size = {tick_size} × {lot_size} is above {} quote units (10^-6) per tick and lot",
                        MAX_QUOTE_PER_TICK_LOT
                    ),
                )
            };
            let per = Decimal {
                mantissa: tick_size.mantissa.checked_mul(lot_size.mantissa).ok_or_else(too_big)?,
                scale: tick_size.scale + lot_size.scale,
            };
            let quote_per_tick_lot = per.in_units_of(quote_unit()).ok_or_else(|| {
                err(
                    &ri.tick_size,
                    "tick_size",
                    format!("tick_size × lot_size = {per} is not a whole number of quote units (10^-6)"),
                )
            })?;
            if quote_per_tick_lot > MAX_QUOTE_PER_TICK_LOT {
                return Err(too_big());
            }
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
                        .ok_or_else(|| err(&rb.notional_cap, "notional_cap", "more than 6 decimals".into()))?
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
                min_size_lots,
                brackets,
            });
        }
        Ok(InstrumentSet::new(list))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    instrument: Vec<RawInstrument>,
}

/// Venue names an instrument's `venues` table may use (`binance` means Binance USD-M).
pub const KNOWN_VENUES: [&str; 7] = ["binance", "binance-usdm", "binance-coinm", "binance-spot", "bybit", "okx", "coinbase"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    symbol: Spanned<String>,
    kind: Option<Spanned<String>>,
    tick_size: Spanned<String>,
    lot_size: Spanned<String>,
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
}
