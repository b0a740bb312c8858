//! Multi-asset collateral: haircuts, prices from a multi-venue index with an
//! outlier band, and the stress where correlations go to one.
//!
//! Integer units throughout: an asset amount in 10⁻⁸ of the asset
//! ([`AMOUNT_SCALE`]), a price in quote units (10⁻⁶ quote) per whole asset,
//! rates (haircut, band, stress, maintenance rate) in [`RATE_SCALE`] parts.
//! Every value is rounded down and every requirement up.
//!
//! **Index.** An asset's price is the median of its venues' prices after
//! dropping every venue further than `band` from the median of all of them,
//! so one venue's thin book cannot move it (the USDe/wBETH lesson: Binance
//! valued collateral on its own spot book, which printed a third below the
//! other venues). With fewer than two venues inside the band the index does
//! not know which venue is right and takes the lowest price (conservative for
//! collateral). The quote asset is worth one, with no source.
//!
//! **Stress, correlation one.** Every asset but the quote asset (stablecoins
//! included) moves by the same fraction `±S` at once; the account's
//! collateral (after haircuts), its positions (linear, `units × price × move`)
//! and its maintenance (`Σ |units| × price × rate`) are revalued; the worse
//! direction counts. An account fails when its stressed equity is below its
//! stressed maintenance; the fund needed is its negative equity.

use crate::risk::instrument::RATE_SCALE;
use crate::risk::decimal::{div_ceil, div_floor};

/// Asset amount units per whole asset (10⁸).
pub const AMOUNT_SCALE: i128 = 100_000_000;

/// One venue's price for an asset.
#[derive(serde::Serialize, Clone, Debug, PartialEq, Eq)]
pub struct PriceSource {
    /// Venue name.
    pub venue: String,
    /// Quote units per whole asset, > 0.
    pub price: i128,
}

/// A collateral asset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralAsset {
    /// Symbol (`BTC`, `USDe`).
    pub symbol: String,
    /// The quote asset itself (worth one quote unit per quote unit, no sources).
    pub is_quote: bool,
    /// Share of the value not counted, RATE_SCALE parts in [0, RATE_SCALE).
    pub haircut: i128,
    /// Maintenance rate of positions on this asset, RATE_SCALE parts.
    pub maintenance_rate: i128,
    /// Venue prices (at least two unless `is_quote`).
    pub sources: Vec<PriceSource>,
}

/// An account: collateral amounts and linear positions, both by asset index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollateralAccount {
    /// Name.
    pub id: String,
    /// (asset, amount in [`AMOUNT_SCALE`] units, ≥ 0).
    pub collateral: Vec<(usize, i128)>,
    /// (asset, signed position in [`AMOUNT_SCALE`] units; its PnL to the index is in the collateral).
    pub positions: Vec<(usize, i128)>,
}

/// How an asset's index came out.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexPrice {
    /// Quote units per whole asset.
    pub price: i128,
    /// Venues dropped as outliers.
    pub dropped: usize,
    /// Fewer than two venues agreed: the lowest price was taken.
    pub fallback_lowest: bool,
}

/// Median of a non-empty sorted slice (the lower middle's and upper middle's floor average).
fn median(sorted: &[i128]) -> i128 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        div_floor(sorted[n / 2 - 1] + sorted[n / 2], 2)
    }
}

/// The index of `prices` (quote units, > 0) with outlier band `band` (RATE_SCALE parts); `None` when empty.
pub fn index_price(prices: &[i128], band: i128) -> Option<IndexPrice> {
    if prices.is_empty() {
        return None;
    }
    let mut all: Vec<i128> = prices.to_vec();
    all.sort_unstable();
    let first = median(&all);
    // |p − m| ≤ band × m, exactly: |p − m| × R ≤ band × m.
    let kept: Vec<i128> = all.iter().copied().filter(|&p| (p - first).abs() * RATE_SCALE <= band * first).collect();
    if kept.len() < 2 {
        return Some(IndexPrice { price: all[0], dropped: all.len() - 1, fallback_lowest: true });
    }
    Some(IndexPrice { price: median(&kept), dropped: all.len() - kept.len(), fallback_lowest: false })
}

/// Value in quote units of `amount` (10⁻⁸ asset) at `price` (quote units per asset), rounded down.
pub fn value(amount: i128, price: i128) -> i128 {
    div_floor(amount * price, AMOUNT_SCALE)
}

/// An account's figures in one scenario (quote units).
#[derive(serde::Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Valuation {
    /// Collateral after haircuts.
    pub collateral: i128,
    /// PnL of the positions from the index to the scenario.
    pub position_pnl: i128,
    /// Equity = collateral + position PnL.
    pub equity: i128,
    /// Maintenance at the scenario's prices.
    pub maintenance: i128,
}

impl Valuation {
    /// Equity below maintenance.
    pub fn fails(&self) -> bool {
        self.equity < self.maintenance
    }
}

/// Values `account` with every non-quote asset at `index[i] × (R + shift) / R`
/// (`shift` in RATE_SCALE parts, e.g. −0.2 R for a 20 % fall).
pub fn valuation(assets: &[CollateralAsset], index: &[i128], account: &CollateralAccount, shift: i128) -> Valuation {
    let moved: Vec<i128> = assets
        .iter()
        .zip(index)
        .map(|(a, &p)| if a.is_quote { p } else { div_floor(p * (RATE_SCALE + shift), RATE_SCALE) })
        .collect();
    valuation_at(assets, index, &moved, account)
}

/// Values `account` at `prices`, its positions' PnL measured from `reference`
/// (both quote units per asset, by asset index).
pub fn valuation_at(assets: &[CollateralAsset], reference: &[i128], prices: &[i128], account: &CollateralAccount) -> Valuation {
    let mut v = Valuation::default();
    for &(i, amount) in &account.collateral {
        v.collateral += div_floor(value(amount, prices[i]) * (RATE_SCALE - assets[i].haircut), RATE_SCALE);
    }
    for &(i, units) in &account.positions {
        // PnL rounded down, maintenance up: neither in the holder's favour.
        v.position_pnl += div_floor(units * (prices[i] - reference[i]), AMOUNT_SCALE);
        v.maintenance += div_ceil(div_ceil(units.abs() * prices[i], AMOUNT_SCALE) * assets[i].maintenance_rate, RATE_SCALE);
    }
    v.equity = v.collateral + v.position_pnl;
    v
}

/// The correlation-one stress of one account: both directions of `stress` (RATE_SCALE parts).
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct StressResult {
    /// At the index.
    pub now: Valuation,
    /// The worse of the fall and the rise (lower equity − maintenance).
    pub stressed: Valuation,
    /// Whether the worse direction was the fall.
    pub fall_is_worse: bool,
    /// What the fund would cover: max(0, −stressed equity).
    pub fund_needed: i128,
}

/// Stresses `account` by `±stress`.
pub fn stress(assets: &[CollateralAsset], index: &[i128], account: &CollateralAccount, stress: i128) -> StressResult {
    let down = valuation(assets, index, account, -stress);
    let up = valuation(assets, index, account, stress);
    let fall_is_worse = down.equity - down.maintenance <= up.equity - up.maintenance;
    let stressed = if fall_is_worse { down } else { up };
    StressResult { now: valuation(assets, index, account, 0), stressed, fall_is_worse, fund_needed: (-stressed.equity).max(0) }
}

#[cfg(test)]
#[path = "collateral_tests.rs"]
mod tests;
