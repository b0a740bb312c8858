//! Risk arrays: every option series priced once per market state, at the state itself and
//! at each point of the stress grid, so an account's stress margin is a weighted sum of
//! its series' arrays instead of a fresh revaluation of each position in every scenario
//! (the approach of exchange scenario margining such as SPAN). [`RiskArrays::assess`]
//! gives exactly (bit for bit) what revaluing each position per scenario gives: the
//! arrays hold the same price differences, summed in the same order.

use super::black76::{Greeks, PricingInputError, MAX_VOL};
use super::portfolio::{AccountRisk, Exposure, MarketState, OptionsAccount, OptionsBook};

/// One point of the stress grid: an underlying move and a vol multiplier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scenario {
    /// Relative move of the underlying price.
    pub price_move: f64,
    /// Multiplier on the series' implied vols.
    pub vol_multiplier: f64,
}

/// One series at one market state.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SeriesValue {
    price: f64,
    greeks: Greeks,
}

/// Every series of a book valued at one market state and its stress scenarios.
#[derive(Clone, Debug)]
pub struct RiskArrays {
    scenarios: Vec<Scenario>,
    /// Per series: its value, or why it cannot be priced in this state.
    values: Vec<Result<SeriesValue, PricingInputError>>,
    /// Per series, per scenario: premium in the scenario minus premium now.
    changes: Vec<f64>,
}

/// The stress grid of `book` in evaluation order: moves from −range to +range, and at each
/// the vols × (1 − shift), × 1, × (1 + shift).
pub fn scenarios(book: &OptionsBook) -> Vec<Scenario> {
    let grid = book.stress;
    let mut out = Vec::with_capacity(grid.steps as usize * 3);
    for step in 0..grid.steps {
        let price_move = if grid.steps == 1 { 0.0 } else { -grid.range + 2.0 * grid.range * f64::from(step) / f64::from(grid.steps - 1) };
        for vol_multiplier in [1.0 - grid.vol_shift, 1.0, 1.0 + grid.vol_shift] {
            out.push(Scenario { price_move, vol_multiplier });
        }
    }
    out
}

impl RiskArrays {
    /// Prices every series of `book` in `market` and in each stress scenario.
    pub fn new(book: &OptionsBook, market: &MarketState) -> Self {
        let scenarios = scenarios(book);
        let mut values = Vec::with_capacity(book.series.len());
        let mut changes = vec![0.0; book.series.len() * scenarios.len()];
        for (i, s) in book.series.iter().enumerate() {
            let row = &mut changes[i * scenarios.len()..(i + 1) * scenarios.len()];
            let value = s.model(market).and_then(|model| {
                let price = model.price();
                let u = s.underlying;
                for (c, sc) in row.iter_mut().zip(&scenarios) {
                    // The scenario state as `MarketState` would hold it, then the series' vol in it.
                    let vol_scale = market.vol_scale[u] * sc.vol_multiplier;
                    let shocked = model.shocked(market.prices[u] * (1.0 + sc.price_move), (s.vol * vol_scale).min(MAX_VOL))?;
                    *c = shocked.price() - price;
                }
                Ok(SeriesValue { price, greeks: model.greeks() })
            });
            values.push(value);
        }
        RiskArrays { scenarios, values, changes }
    }

    /// The scenarios, in the order the arrays hold them.
    pub fn scenarios(&self) -> &[Scenario] {
        &self.scenarios
    }

    fn value(&self, series: usize) -> Result<&SeriesValue, PricingInputError> {
        self.values[series].as_ref().map_err(|e| *e)
    }

    fn changes(&self, series: usize) -> &[f64] {
        let n = self.scenarios.len();
        &self.changes[series * n..(series + 1) * n]
    }

    /// `account`'s Greeks, value and stress margin (the worst loss over the grid, per
    /// underlying, summed); an error if one of its series cannot be priced.
    pub fn assess(&self, book: &OptionsBook, account: &OptionsAccount, market: &MarketState) -> Result<AccountRisk, PricingInputError> {
        let mut exposures: Vec<Exposure> = Vec::new();
        let slot = |exposures: &mut Vec<Exposure>, u: usize| -> usize {
            exposures.iter().position(|e| e.underlying == u).unwrap_or_else(|| {
                exposures.push(Exposure { underlying: u, ..Exposure::default() });
                exposures.len() - 1
            })
        };
        for p in &account.options {
            let s = &book.series[p.series];
            let units = p.contracts as f64 * s.contract_size;
            let v = self.value(p.series)?;
            let i = slot(&mut exposures, s.underlying);
            let e = &mut exposures[i];
            e.greeks.delta += units * v.greeks.delta;
            e.greeks.gamma += units * v.greeks.gamma;
            e.greeks.vega += units * v.greeks.vega;
            e.greeks.theta += units * v.greeks.theta;
            e.option_value += units * v.price;
        }
        for p in &account.perps {
            let u = &book.underlyings[p.underlying];
            let i = slot(&mut exposures, p.underlying);
            exposures[i].greeks.delta += p.lots as f64 * u.lot_size;
        }
        exposures.sort_by_key(|e| e.underlying);
        for e in &mut exposures {
            self.stress(book, account, market, e);
        }
        Ok(AccountRisk::from_exposures(account.collateral, exposures))
    }

    /// The worst loss of `account`'s positions on `e.underlying` over the grid (every
    /// series it holds was priced: [`Self::assess`] checked).
    fn stress(&self, book: &OptionsBook, account: &OptionsAccount, market: &MarketState, e: &mut Exposure) {
        let u = e.underlying;
        let perp_units: f64 = account.perps.iter().filter(|p| p.underlying == u).map(|p| p.lots as f64 * book.underlyings[u].lot_size).sum();
        let price = market.prices[u];
        let (mut worst, mut worst_move, mut worst_vol) = (0.0f64, 0.0, 1.0);
        for (k, sc) in self.scenarios.iter().enumerate() {
            let mut pnl = perp_units * price * sc.price_move;
            for p in account.options.iter().filter(|p| book.series[p.series].underlying == u) {
                let units = p.contracts as f64 * book.series[p.series].contract_size;
                pnl += units * self.changes(p.series)[k];
            }
            if -pnl > worst {
                (worst, worst_move, worst_vol) = (-pnl, sc.price_move, sc.vol_multiplier);
            }
        }
        e.stress_loss = worst;
        e.worst_move = worst_move;
        e.worst_vol_scale = worst_vol;
    }
}
