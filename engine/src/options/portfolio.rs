//! Option portfolios and their scenario-stress margin.
//!
//! An account holds option positions (integer contracts of a series) and perp
//! positions on the options' underlyings (integer lots), plus collateral in
//! integer quote units that already includes the perps' PnL up to the
//! valuation price. Its equity is collateral plus the options' model value.
//!
//! Margin is the worst loss over a stress grid, per underlying: the
//! underlying moves by each of `steps` equal steps in `[−range, +range]` and
//! every implied vol on it is scaled by `1 − shift`, 1 and `1 + shift`; the
//! options are revalued with Black-76 and the perps move linearly. Losses on
//! different underlyings add up (no credit between them). The requirement
//! leaves the analytics rounded up to a whole quote unit, equity rounded
//! down, so rounding never makes an account look safer.

use gavel_feeds::options::{Greeks, OptionKind};

use super::black76::{Black76, PricingInputError, MAX_VOL, SECONDS_PER_YEAR};
use super::risk_array::RiskArrays;
use crate::risk::instrument::{MAX_MONEY, QUOTE_SCALE};

/// An underlying the series are written on (a perp or an index forward).
#[derive(Clone, Debug, PartialEq)]
pub struct Underlying {
    /// Name the series refer to.
    pub symbol: String,
    /// Price at the valuation time, quote currency per unit.
    pub price: f64,
    /// Units of the underlying per perp lot.
    pub lot_size: f64,
    /// Units the perp book absorbs per basis point of price impact (calm market).
    pub depth_per_bp: f64,
    /// Realised volatility, annualised fraction (the cost of waiting delta-hedged).
    pub realized_vol: f64,
}

/// One option series.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// gavel's name for it.
    pub symbol: String,
    /// Index into [`OptionsBook::underlyings`].
    pub underlying: usize,
    /// Call or put.
    pub kind: OptionKind,
    /// Strike, quote currency.
    pub strike: f64,
    /// Expiry, Unix ms.
    pub expiry_ms: u64,
    /// Units of the underlying per contract.
    pub contract_size: f64,
    /// Implied volatility at the valuation time (fraction): the file's `vol`, or
    /// read off the underlying's [`super::surface::VolSurface`] at load.
    pub vol: f64,
    /// Half the bid-ask spread in a calm market, as a fraction of the premium.
    pub half_spread: f64,
}

/// The stress grid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StressGrid {
    /// Largest underlying move, a fraction in (0, 1).
    pub range: f64,
    /// Number of moves from −range to +range (odd, so 0 is one of them).
    pub steps: u32,
    /// Relative vol shift in [0, 1): vols × (1 − shift), × 1, × (1 + shift).
    pub vol_shift: f64,
}

/// An option position: signed contracts of a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionPosition {
    /// Index into [`OptionsBook::series`].
    pub series: usize,
    /// Contracts, long > 0.
    pub contracts: i64,
}

/// A perp position on an underlying: signed lots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerpPosition {
    /// Index into [`OptionsBook::underlyings`].
    pub underlying: usize,
    /// Lots, long > 0.
    pub lots: i64,
}

/// An account with options.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionsAccount {
    /// Account name.
    pub id: String,
    /// Collateral including perp PnL to the valuation price, quote units.
    pub collateral: i128,
    /// Option positions.
    pub options: Vec<OptionPosition>,
    /// Perp positions.
    pub perps: Vec<PerpPosition>,
}

/// Everything a portfolio file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionsBook {
    /// Valuation time, Unix ms (every series expires after it).
    pub valuation_ms: u64,
    /// Underlyings.
    pub underlyings: Vec<Underlying>,
    /// Series.
    pub series: Vec<Series>,
    /// Stress grid.
    pub stress: StressGrid,
    /// Accounts.
    pub accounts: Vec<OptionsAccount>,
}

/// The market at one instant: per underlying its price, the multipliers
/// on the calm implied vols, spreads and depth, and how fast vols and spreads
/// are moving.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketState {
    /// Event time, Unix ms.
    pub time_ms: u64,
    /// Price per underlying.
    pub prices: Vec<f64>,
    /// Multiplier on every series' implied vol, per underlying.
    pub vol_scale: Vec<f64>,
    /// Multiplier on every series' half spread, per underlying.
    pub spread_scale: Vec<f64>,
    /// Multiplier on the perp book's depth, per underlying.
    pub depth_scale: Vec<f64>,
    /// Realised volatility per underlying (annualised fraction).
    pub realized_vol: Vec<f64>,
    /// Observed growth rate of the implied vols, per underlying, per second
    /// (`d ln vol_scale ÷ dt`); 0 when flat or unknown.
    pub vol_trend_per_s: Vec<f64>,
    /// Observed growth rate of the option spreads, per underlying, per second
    /// (`d ln spread_scale ÷ dt`); 0 when flat or unknown.
    pub spread_trend_per_s: Vec<f64>,
    /// Half-life, seconds, in which the spreads' excess over calm is expected to decay once
    /// the book stops thinning (a calibrated refill, e.g. `gavel calibrate`'s); 0 when unknown,
    /// and then no refill is expected.
    pub spread_refill_half_life_s: Vec<f64>,
}

impl MarketState {
    /// The book's own valuation state: file prices, every multiplier 1.
    pub fn at_valuation(book: &OptionsBook) -> Self {
        let n = book.underlyings.len();
        MarketState {
            time_ms: book.valuation_ms,
            prices: book.underlyings.iter().map(|u| u.price).collect(),
            vol_scale: vec![1.0; n],
            spread_scale: vec![1.0; n],
            depth_scale: vec![1.0; n],
            realized_vol: book.underlyings.iter().map(|u| u.realized_vol).collect(),
            vol_trend_per_s: vec![0.0; n],
            spread_trend_per_s: vec![0.0; n],
            spread_refill_half_life_s: vec![0.0; n],
        }
    }
}

/// One account's exposure to one underlying (options and perps together).
#[derive(serde::Serialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Exposure {
    /// Index into [`OptionsBook::underlyings`].
    pub underlying: usize,
    /// Position Greeks in units of the underlying: delta includes the perps.
    pub greeks: Greeks,
    /// Model value of the options, quote currency.
    pub option_value: f64,
    /// Worst stress loss on this underlying, quote currency (≥ 0).
    pub stress_loss: f64,
    /// The move (fraction) and vol multiplier of the worst scenario.
    pub worst_move: f64,
    /// See `worst_move`.
    pub worst_vol_scale: f64,
}

/// An account's margin state.
#[derive(serde::Serialize, Clone, Debug, PartialEq)]
pub struct AccountRisk {
    /// Per underlying the account is exposed to, in book order.
    pub exposures: Vec<Exposure>,
    /// Equity, quote units (collateral + option value, rounded down).
    pub equity: i128,
    /// Stress margin, quote units (Σ stress losses, rounded up).
    pub margin: i128,
}

impl AccountRisk {
    /// The risk of an account with `collateral` and these per-underlying `exposures`:
    /// equity = collateral + the options' value (rounded down), margin = Σ stress losses
    /// (rounded up).
    pub fn from_exposures(collateral: i128, exposures: Vec<Exposure>) -> Self {
        let value: f64 = exposures.iter().map(|e| e.option_value).sum();
        let loss: f64 = exposures.iter().map(|e| e.stress_loss).sum();
        AccountRisk {
            exposures,
            equity: collateral.saturating_add(to_units(value, false)).clamp(-MAX_MONEY * 2, MAX_MONEY * 2),
            margin: to_units(loss, true),
        }
    }

    /// Equity below the stress margin.
    pub fn liquidatable(&self) -> bool {
        self.equity < self.margin
    }
}

impl Series {
    /// The Black-76 model of this series in `market`.
    pub fn model(&self, market: &MarketState) -> Result<Black76, PricingInputError> {
        let years = self.expiry_ms.saturating_sub(market.time_ms) as f64 / 1000.0 / SECONDS_PER_YEAR;
        let vol = (self.vol * market.vol_scale[self.underlying]).min(MAX_VOL);
        Black76::new(self.kind, market.prices[self.underlying], self.strike, years, vol, 0.0)
    }
}

/// Quote currency → quote units, rounded up (a requirement) or down (equity), inside ±[`MAX_MONEY`].
pub fn to_units(amount: f64, round_up: bool) -> i128 {
    let scaled = amount * QUOTE_SCALE as f64;
    let rounded = if round_up { scaled.ceil() } else { scaled.floor() };
    if rounded.is_nan() {
        return if round_up { MAX_MONEY } else { -MAX_MONEY };
    }
    (rounded.clamp(-(MAX_MONEY as f64), MAX_MONEY as f64)) as i128
}

/// Values `account` in `market` and computes its stress margin. Prices every series of the
/// book: to assess many accounts in one state, build [`RiskArrays`] once and call
/// [`RiskArrays::assess`].
pub fn assess(book: &OptionsBook, account: &OptionsAccount, market: &MarketState) -> Result<AccountRisk, PricingInputError> {
    RiskArrays::new(book, market).assess(book, account, market)
}

#[cfg(test)]
#[path = "portfolio_tests.rs"]
mod tests;
