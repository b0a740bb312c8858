//! Liquidating an options portfolio: close the options now, or hedge its
//! delta in the perp first and close the options later.
//!
//! Per underlying, with the account's net delta `Δ` (options and perps, in
//! underlying units), gamma `Γ`, theta `Θ` (per day), price `F`, realised vol
//! `σ` and a wait `h`:
//!
//! * **close options first** costs the options' spread now plus the impact of
//!   the delta the close pushes through the perp book (the dealers who take
//!   the options hedge it; the account's own perps net against it):
//!   `spread_now + impact(|Δ|)`;
//! * **hedge delta first** trades `−Δ` in the perp now, holds the options
//!   delta-hedged for `h`, then closes them at the calm spread:
//!   `impact(|Δ|) + wait + impact(|Γ|·F·σ·√h) + spread_calm`, where
//!   `wait = max(0, −(½·Γ·F²·σ²·h + Θ·days(h)))` is the expected loss of a
//!   delta-hedged book over the wait (a short-gamma book loses when realised
//!   vol beats what theta pays; an expected gain is not credited: a
//!   liquidation does not hold risk to earn carry) and the second impact is
//!   the re-hedge flow the gamma forces as the underlying moves by `F·σ·√h`.
//!
//! `impact(q) = F·q² ÷ (2·D·10⁴)`: a book absorbing `D` units per basis point
//! moves `q ÷ D` bp, half of that on average over the fill. The plan with the
//! lower expected cost is chosen; the hedge-first plan wins when the spread
//! the options would pay now, over the calm one, is larger than what waiting
//! hedged is expected to cost.

use super::black76::{PricingInputError, SECONDS_PER_YEAR};
use super::portfolio::{AccountRisk, MarketState, OptionsAccount, OptionsBook};

/// Which leg goes first.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Close every option now (and the perps with them).
    CloseOptions,
    /// Trade the delta away in the perp now; close the options when spreads calm.
    HedgeDeltaFirst,
}

/// The two plans' expected costs on one underlying, quote currency.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq)]
pub struct PlanCosts {
    /// Index into [`OptionsBook::underlyings`].
    pub underlying: usize,
    /// Net delta, underlying units (the perp trade of the hedge is `−delta`).
    pub delta: f64,
    /// Impact of `|delta|` through the perp book now.
    pub delta_impact: f64,
    /// Crossing the options' spread now.
    pub spread_now: f64,
    /// Crossing it in a calm market.
    pub spread_calm: f64,
    /// Expected loss of holding the options delta-hedged for the wait (≥ 0).
    pub wait: f64,
    /// Impact of the re-hedge flow the gamma forces over the wait.
    pub rehedge_impact: f64,
    /// `spread_now + delta_impact`.
    pub close_first: f64,
    /// `delta_impact + wait + rehedge_impact + spread_calm`.
    pub hedge_first: f64,
    /// The cheaper plan.
    pub plan: Plan,
}

/// Cost of trading `units` through a book of `depth_per_bp` units per basis point at `price`.
pub fn impact_cost(units: f64, price: f64, depth_per_bp: f64) -> f64 {
    price * units * units / (2.0 * depth_per_bp * 1e4)
}

/// The plans' costs for each underlying `risk` (from [`super::portfolio::assess`]
/// in the same `market`) is exposed to, waiting `wait_ms` in the hedge-first plan.
pub fn choose(book: &OptionsBook, account: &OptionsAccount, market: &MarketState, risk: &AccountRisk, wait_ms: u64) -> Result<Vec<PlanCosts>, PricingInputError> {
    let years = wait_ms as f64 / 1000.0 / SECONDS_PER_YEAR;
    let days = wait_ms as f64 / 86_400_000.0;
    let mut out = Vec::with_capacity(risk.exposures.len());
    for e in &risk.exposures {
        let u = e.underlying;
        let (price, sigma) = (market.prices[u], market.realized_vol[u]);
        let depth = book.underlyings[u].depth_per_bp * market.depth_scale[u];
        let mut spread_calm = 0.0;
        for p in account.options.iter().filter(|p| book.series[p.series].underlying == u) {
            let s = &book.series[p.series];
            spread_calm += (p.contracts as f64 * s.contract_size).abs() * s.model(market)?.price() * s.half_spread;
        }
        let spread_now = spread_calm * market.spread_scale[u];
        let g = e.greeks;
        let delta_impact = impact_cost(g.delta.abs(), price, depth);
        let wait = (-(0.5 * g.gamma * price * price * sigma * sigma * years + g.theta * days)).max(0.0);
        let rehedge_impact = impact_cost(g.gamma.abs() * price * sigma * years.sqrt(), price, depth);
        let close_first = spread_now + delta_impact;
        let hedge_first = delta_impact + wait + rehedge_impact + spread_calm;
        let plan = if hedge_first < close_first { Plan::HedgeDeltaFirst } else { Plan::CloseOptions };
        out.push(PlanCosts { underlying: u, delta: g.delta, delta_impact, spread_now, spread_calm, wait, rehedge_impact, close_first, hedge_first, plan });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::portfolio::assess;

    fn example() -> OptionsBook {
        OptionsBook::parse(include_str!("../../../docs/examples/options.toml"), "options.toml").unwrap()
    }

    #[test]
    fn impact_is_quadratic_in_size() {
        // 6 units through 6 per bp: 1 bp move, half a bp on average, on 6 × 95,000.
        assert!((impact_cost(6.0, 95_000.0, 6.0) - 6.0 * 95_000.0 * 0.5e-4).abs() < 1e-9);
        assert!((impact_cost(12.0, 95_000.0, 6.0) - 4.0 * impact_cost(6.0, 95_000.0, 6.0)).abs() < 1e-9);
    }

    #[test]
    fn calm_markets_close_options_and_wide_spreads_hedge_first() {
        let book = example();
        let seller = &book.accounts[0];
        let mut market = MarketState::at_valuation(&book);
        let hour = 3_600_000;
        let calm = choose(&book, seller, &market, &assess(&book, seller, &market).unwrap(), hour).unwrap();
        assert_eq!(calm[0].plan, Plan::CloseOptions);
        // Same costs but the spread: calm spreads make waiting pure cost.
        assert_eq!(calm[0].spread_now, calm[0].spread_calm);
        assert!(calm[0].hedge_first > calm[0].close_first);
        // A crash: spreads ×8, depth ÷ 4. The delta impact is paid either way; the spread now decides.
        market.spread_scale[0] = 8.0;
        market.depth_scale[0] = 0.25;
        let crash = choose(&book, seller, &market, &assess(&book, seller, &market).unwrap(), hour).unwrap();
        assert_eq!(crash[0].plan, Plan::HedgeDeltaFirst);
        assert!(crash[0].delta_impact > 3.9 * calm[0].delta_impact);
        let c = crash[0];
        assert!((c.close_first - (c.spread_now + c.delta_impact)).abs() < 1e-9);
        assert!((c.hedge_first - (c.delta_impact + c.wait + c.rehedge_impact + c.spread_calm)).abs() < 1e-9);
        // A short-gamma book waiting through a violent realised vol gives that choice back.
        market.realized_vol[0] = 6.0;
        let wild = choose(&book, seller, &market, &assess(&book, seller, &market).unwrap(), 24 * hour).unwrap();
        assert!(wild[0].wait > crash[0].wait, "{:?} {:?}", wild[0], crash[0]);
        assert_eq!(wild[0].plan, Plan::CloseOptions, "{:?}", wild[0]);
    }

    #[test]
    fn waiting_is_never_credited_with_an_expected_gain() {
        let book = example();
        let buyer = book.accounts.iter().find(|a| a.id == "option-buyer").unwrap();
        let mut market = MarketState::at_valuation(&book);
        market.realized_vol[0] = 3.0;
        let costs = choose(&book, buyer, &market, &assess(&book, buyer, &market).unwrap(), 3_600_000).unwrap();
        // Long gamma in 300 % realised vol expects to earn while hedged: credited as 0, not as a gain.
        assert_eq!(costs[0].wait, 0.0, "{:?}", costs[0]);
        assert!(costs[0].hedge_first >= costs[0].delta_impact + costs[0].spread_calm);
        assert_eq!(costs.len(), 2);
    }
}
