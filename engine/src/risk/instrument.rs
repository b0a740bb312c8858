//! Instruments: tick and lot sizes, the contract kind, the money scale, and
//! Binance-style maintenance-margin brackets (loaded from TOML by
//! [`super::instrument_toml`]; see `docs/INSTRUMENTS.md`).
//!
//! Units used everywhere in [`crate::risk`]:
//! * price: integer ticks (`i64`), one tick = `tick_size`;
//! * size: integer lots (`i64`, signed: long > 0), one lot = `lot_size`
//!   (for an inverse contract a lot is a number of contracts);
//! * money: integer units (`i128`), one unit = 10^-6 of the **settlement
//!   asset** ([`QUOTE_DECIMALS`]): the quote asset of a linear contract
//!   (1 µUSDT), the base coin of an inverse one (1 µBTC = 100 satoshi);
//! * rates: integer parts of [`RATE_SCALE`] (10^-8).
//!
//! Linear: the value of `lots` at `ticks` is `lots × ticks × quote_per_tick_lot`
//! units, exactly (an instrument whose `tick_size × lot_size × 10^6` is not a
//! whole number is refused at load time).
//!
//! Inverse (coin-margined): a lot at `ticks` is worth `inverse_value ÷ ticks`
//! coin units, `inverse_value = lot_size × contract_value × 10^6 ÷ tick_size`
//! (a whole number, else refused at load). The quotient is rarely whole; see
//! [`Instrument::notional`] and [`Instrument::fill_value`] for how it is rounded.

use std::collections::HashMap;

use super::decimal::{div_ceil, div_floor, Decimal};

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
/// Largest accepted `|size| × inverse_value` of an inverse position: 10^27
/// (the coin notional at a price of one tick, in units). Every coin amount of
/// the position is at most this, so `amount × (RATE_SCALE + rate)` stays
/// under 2 × 10^35, inside `i128`.
pub const MAX_INVERSE_POSITION_VALUE: i128 = 1_000_000_000_000_000_000_000_000_000;
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

/// Contract type.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractKind {
    /// Quote-margined: PnL in the quote asset, `size × (exit − entry)`.
    Linear,
    /// Coin-margined: each contract is worth `contract_value` of the quote
    /// asset; PnL and margin in the base coin,
    /// `size × contract_value × (1/entry − 1/exit)`.
    Inverse,
}

/// One maintenance-margin bracket: it applies to notionals in
/// `(previous cap, notional_cap]`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
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
    /// Linear: units per (one tick × one lot), the notional multiplier.
    /// Inverse: 0 (no money meaning; the code that still multiplies by it —
    /// the engine loop, venue rule sets — is linear-only and refuses inverse).
    pub quote_per_tick_lot: i128,
    /// Inverse only: quote value of one contract (e.g. 100 USD); `None` for linear.
    pub contract_value: Option<Decimal>,
    /// Inverse only: coin units × ticks of one lot (`lot × contract_value ×
    /// 10^6 ÷ tick`): a lot at `p` ticks is worth `inverse_value ÷ p` units. 0 for linear.
    pub inverse_value: i128,
    /// What money is counted in: `""` = the quote asset (linear), else the
    /// base coin named in the file (inverse, e.g. `BTC`).
    pub settlement_asset: String,
    /// Smallest position (lots) a partial liquidation may leave behind.
    pub min_size_lots: i64,
    /// Brackets in increasing `notional_cap`.
    pub brackets: Vec<Bracket>,
}

impl Instrument {
    /// Notional of `size` lots at `price` ticks, in settlement units (≥ 0).
    ///
    /// Linear: `|size| × price × quote_per_tick_lot`, exact. Inverse: the
    /// coin amount `|size| × inverse_value ÷ price`, rounded once to the side
    /// that lowers the holder's equity: **up for a long, down for a short**
    /// (the same amount is the position's value in [`Self::mark_value`], so
    /// `RATE_SCALE × equity − maintenance` is never above its exact value and
    /// is monotone in the price; see [`super::inverse`]). A price below one
    /// tick is taken as one tick.
    #[inline]
    pub fn notional(&self, size: i64, price: i64) -> i128 {
        match self.kind {
            ContractKind::Linear => i128::from(size).abs() * i128::from(price) * self.quote_per_tick_lot,
            ContractKind::Inverse => {
                let amount = i128::from(size).abs() * self.inverse_value;
                let p = i128::from(price.max(1));
                if size > 0 {
                    div_ceil(amount, p)
                } else {
                    div_floor(amount, p)
                }
            }
        }
    }

    /// True for a coin-margined contract.
    #[inline]
    pub fn is_inverse(&self) -> bool {
        self.kind == ContractKind::Inverse
    }

    /// Signed mark-to-market value of `size` lots at `price` (units):
    /// unrealised PnL = `mark_value(size, mark) − entry_notional`.
    /// Linear: `size × price × quote_per_tick_lot`. Inverse: `−sign(size) ×
    /// notional(size, price)`: in coin terms a long is short the coin, so its
    /// PnL is `entry value − this` = `size × contract_value × (1/entry − 1/mark)`.
    #[inline]
    pub fn mark_value(&self, size: i64, price: i64) -> i128 {
        match self.kind {
            ContractKind::Linear => i128::from(size) * i128::from(price) * self.quote_per_tick_lot,
            ContractKind::Inverse => -i128::from(size.signum()) * self.notional(size, price),
        }
    }

    /// Value a fill of `qty` lots at `price` adds to the cost basis (units);
    /// the fill moves `−fill_value` of cash. Antisymmetric
    /// (`fill_value(−q, p) = −fill_value(q, p)`), so the two sides of a fill
    /// cancel to the unit. Linear: `qty × price × quote_per_tick_lot`.
    /// Inverse: `−qty × inverse_value ÷ price` rounded **toward zero**.
    #[inline]
    pub fn fill_value(&self, qty: i64, price: i64) -> i128 {
        match self.kind {
            ContractKind::Linear => i128::from(qty) * i128::from(price) * self.quote_per_tick_lot,
            ContractKind::Inverse => -(i128::from(qty) * self.inverse_value / i128::from(price.max(1))),
        }
    }

    /// What holding `size` lots from `from` to `to` ticks gains (settlement units, negative
    /// for a loss): `mark_value(size, to) − mark_value(size, from)`. Linear: `size × (to −
    /// from) × quote_per_tick_lot`; inverse: the difference of the two coin values, each
    /// rounded against the holder.
    #[inline]
    pub fn value_change(&self, size: i64, from: i64, to: i64) -> i128 {
        match self.kind {
            ContractKind::Linear => i128::from(size) * (i128::from(to) - i128::from(from)) * self.quote_per_tick_lot,
            ContractKind::Inverse => self.mark_value(size, to) - self.mark_value(size, from),
        }
    }

    /// Notional with the sign of `size` (funding: longs pay when the rate is positive).
    #[inline]
    pub fn signed_notional(&self, size: i64, price: i64) -> i128 {
        i128::from(size.signum()) * self.notional(size, price)
    }

    /// Largest number of lots (≤ `max`) on the side of `sign` whose notional
    /// at `price` is at most `cap` (segment bounds of the partial-liquidation search).
    pub fn max_lots_within(&self, cap: i128, price: i64, sign: i64, max: i64) -> i64 {
        let lots = match self.kind {
            ContractKind::Linear => {
                let lot = i128::from(price) * self.quote_per_tick_lot;
                if lot <= 0 {
                    return max;
                }
                cap / lot
            }
            ContractKind::Inverse => {
                let p = i128::from(price.max(1));
                let Some(c) = cap.checked_add(if sign > 0 { 0 } else { 1 }).and_then(|c| c.checked_mul(p)) else {
                    return max;
                };
                if sign > 0 {
                    // ceil(r·K/p) ≤ cap ⟺ r ≤ cap·p/K.
                    c / self.inverse_value
                } else {
                    // floor(r·K/p) ≤ cap ⟺ r·K < (cap+1)·p.
                    div_ceil(c, self.inverse_value) - 1
                }
            }
        };
        lots.clamp(0, i128::from(max)) as i64
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

    /// Maintenance margin in settlement units, rounded up.
    pub fn maintenance(&self, notional: i128) -> i128 {
        div_ceil(self.maintenance_scaled(notional), RATE_SCALE)
    }

    /// Initial margin in settlement units (notional ÷ max leverage), rounded up.
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
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
pub struct InstrumentSet {
    /// Instruments by [`InstrumentId`].
    pub list: Vec<Instrument>,
    #[serde(serialize_with = "crate::risk::serialize_sorted")]
    by_symbol: HashMap<String, InstrumentId>,
    /// Portfolio-margin offset groups (empty: maintenance is the plain sum).
    #[serde(default)]
    pub offsets: super::portfolio::Offsets,
}

impl InstrumentSet {
    /// Builds a set from a list (symbols must be unique).
    pub fn new(list: Vec<Instrument>) -> Self {
        let by_symbol = list
            .iter()
            .enumerate()
            .map(|(i, ins)| (ins.symbol.clone(), i as InstrumentId))
            .collect();
        InstrumentSet { list, by_symbol, offsets: Default::default() }
    }

    /// Replaces the offset groups (validated by [`super::portfolio::Offsets::new`]).
    pub fn set_offsets(&mut self, groups: Vec<super::portfolio::OffsetGroup>) -> Result<(), String> {
        self.offsets = super::portfolio::Offsets::new(groups, self)?;
        Ok(())
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
}

/// Venue names an instrument's `venues` table may use (`binance` means Binance USD-M).
pub const KNOWN_VENUES: [&str; 7] = ["binance", "binance-usdm", "binance-coinm", "binance-spot", "bybit", "okx", "coinbase"];
