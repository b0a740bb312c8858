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
//!   delta-hedged for `h`, then closes them at the spread expected then:
//!   `impact(|Δ|) + wait + vega_wait + impact(|Γ|·F·σ·√h) + spread_then`.
//!   * `wait = max(0, −(½·Γ·F²·σ²·h + Θ·days(h)))` is the expected loss of a
//!     delta-hedged book over the wait: a short-gamma book loses when realised
//!     vol beats what theta pays;
//!   * `vega_wait = max(0, −Σ vegaᵢ·volᵢ·(e^{g_v·h} − 1))` is what the
//!     options lose if their implied vols keep moving at the observed rate
//!     `g_v` (per second, [`MarketState::vol_trend_per_s`]); `vegaᵢ` is per
//!     vol point and `volᵢ` in points. A short-option book loses while vols
//!     rise;
//!   * `spread_then = max(spread_calm, spread_now·e^{g_s·h})` extrapolates the
//!     observed spread rate `g_s` ([`MarketState::spread_trend_per_s`]) over
//!     the wait, never below calm: with no evidence that spreads are
//!     narrowing (`g_s ≥ 0`) waiting cannot save spread. With a calibrated
//!     refill half-life `H` ([`MarketState::spread_refill_half_life_s`]) the
//!     forecast is the lower of that and `spread_calm + (spread_now −
//!     spread_calm)·2^{−h/H}`: thinned depth is expected back even while the
//!     spreads still widen;
//!   * the second impact is the re-hedge flow the gamma forces as the
//!     underlying moves by `F·σ·√h`.
//!
//!   An expected gain (carry, a vol move in the book's favour) is never
//!   credited: a liquidation does not hold risk to earn it.
//!
//! `impact(q) = F·q² ÷ (2·D·10⁴)`: a book absorbing `D` units per basis point
//! moves `q ÷ D` bp, half of that on average over the fill. The plan with the
//! lower expected cost is chosen; hedge-first wins only while spreads are
//! narrowing fast enough that what the options save on spread beats what
//! waiting hedged is expected to cost in gamma, vega and re-hedging.

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
    /// Expected hold of the hedge-first plan, seconds ([`HedgeExit::hold_s`]).
    pub hold_s: f64,
    /// Impact of `|delta|` through the perp book now.
    pub delta_impact: f64,
    /// Crossing the options' spread now.
    pub spread_now: f64,
    /// Crossing it in a calm market.
    pub spread_calm: f64,
    /// Crossing it at the end of the hold, from the observed spread trend and any refill (≥ `spread_calm`).
    pub spread_then: f64,
    /// Expected gamma and theta loss of holding the options delta-hedged for the hold (≥ 0).
    pub wait: f64,
    /// Expected loss of the options' vega if implied vols keep their observed trend over the hold (≥ 0).
    pub vega_wait: f64,
    /// Impact of the re-hedge flow the gamma forces over the hold.
    pub rehedge_impact: f64,
    /// `spread_now + delta_impact`.
    pub close_first: f64,
    /// `delta_impact + wait + vega_wait + rehedge_impact + spread_then`.
    pub hedge_first: f64,
    /// The cheaper plan.
    pub plan: Plan,
}

/// Cost of trading `units` through a book of `depth_per_bp` units per basis point at `price`.
pub fn impact_cost(units: f64, price: f64, depth_per_bp: f64) -> f64 {
    price * units * units / (2.0 * depth_per_bp * 1e4)
}

/// When the hedge-first plan closes its options: once spreads are within `calm_exit` ×
/// calm, or after `wait_ms` at the latest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HedgeExit {
    /// Longest hold, ms.
    pub wait_ms: u64,
    /// Spread multiple of calm at which the options are closed (≥ 1; 1: only at the wait's end).
    pub calm_exit: f64,
}

impl HedgeExit {
    /// The calm exit of `gavel options crash`'s hedge-first strategy: spreads within 1.5 × calm.
    pub const DEFAULT_CALM_EXIT: f64 = 1.5;

    /// The expected hold of a hedged underlying whose spreads are `scale` × calm, seconds:
    /// with a refill half-life `refill_s > 0`, the time the excess takes to decay to
    /// `calm_exit` (0 if already there), at most the wait; otherwise the whole wait.
    pub fn hold_s(&self, scale: f64, refill_s: f64) -> f64 {
        let wait_s = self.wait_ms as f64 / 1000.0;
        if refill_s <= 0.0 || self.calm_exit <= 1.0 {
            return wait_s;
        }
        if scale <= self.calm_exit {
            return 0.0;
        }
        (refill_s * ((scale - 1.0) / (self.calm_exit - 1.0)).log2()).min(wait_s)
    }
}

/// The plans' costs for each underlying `risk` (from [`super::portfolio::assess`]
/// in the same `market`) is exposed to, the hedge-first plan holding as `exit` says
/// (the whole wait unless the market has a spread refill half-life).
pub fn choose(book: &OptionsBook, account: &OptionsAccount, market: &MarketState, risk: &AccountRisk, exit: HedgeExit) -> Result<Vec<PlanCosts>, PricingInputError> {
    let mut out = Vec::with_capacity(risk.exposures.len());
    for e in &risk.exposures {
        let u = e.underlying;
        let seconds = exit.hold_s(market.spread_scale[u], market.spread_refill_half_life_s[u]);
        let years = seconds / SECONDS_PER_YEAR;
        let days = seconds / 86_400.0;
        let (price, sigma) = (market.prices[u], market.realized_vol[u]);
        let depth = book.underlyings[u].depth_per_bp * market.depth_scale[u];
        let vol_change = (market.vol_trend_per_s[u] * seconds).exp_m1();
        let (mut spread_calm, mut vega_pnl) = (0.0, 0.0);
        for p in account.options.iter().filter(|p| book.series[p.series].underlying == u) {
            let s = &book.series[p.series];
            let model = s.model(market)?;
            let units = p.contracts as f64 * s.contract_size;
            spread_calm += units.abs() * model.price() * s.half_spread;
            // Vega is per vol point; the vol moves by vol × vol_change, in points × 100.
            vega_pnl += units * model.greeks().vega * model.vol * 100.0 * vol_change;
        }
        let spread_now = spread_calm * market.spread_scale[u];
        let trend_then = spread_now * (market.spread_trend_per_s[u] * seconds).exp();
        let refill = market.spread_refill_half_life_s[u];
        let spread_then = if refill > 0.0 {
            // A calibrated refill: the excess over calm decays with its half-life.
            let refilled = spread_calm + (spread_now - spread_calm).max(0.0) * (-seconds / refill).exp2();
            trend_then.min(refilled)
        } else {
            trend_then
        }
        .max(spread_calm);
        let g = e.greeks;
        let delta_impact = impact_cost(g.delta.abs(), price, depth);
        let wait = (-(0.5 * g.gamma * price * price * sigma * sigma * years + g.theta * days)).max(0.0);
        let vega_wait = if vega_pnl < 0.0 { -vega_pnl } else { 0.0 };
        let rehedge_impact = impact_cost(g.gamma.abs() * price * sigma * years.sqrt(), price, depth);
        let close_first = spread_now + delta_impact;
        let hedge_first = delta_impact + wait + vega_wait + rehedge_impact + spread_then;
        let plan = if hedge_first < close_first { Plan::HedgeDeltaFirst } else { Plan::CloseOptions };
        out.push(PlanCosts { underlying: u, delta: g.delta, hold_s: seconds, delta_impact, spread_now, spread_calm, spread_then, wait, vega_wait, rehedge_impact, close_first, hedge_first, plan });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::portfolio::{assess, OptionsAccount};

    fn example() -> OptionsBook {
        OptionsBook::parse(include_str!("../../../docs/examples/options.toml"), "options.toml").unwrap()
    }

    #[test]
    fn impact_is_quadratic_in_size() {
        // 6 units through 6 per bp: 1 bp move, half a bp on average, on 6 × 95,000.
        assert!((impact_cost(6.0, 95_000.0, 6.0) - 6.0 * 95_000.0 * 0.5e-4).abs() < 1e-9);
        assert!((impact_cost(12.0, 95_000.0, 6.0) - 4.0 * impact_cost(6.0, 95_000.0, 6.0)).abs() < 1e-9);
    }

    fn costs(book: &OptionsBook, account: &OptionsAccount, market: &MarketState, wait_ms: u64) -> PlanCosts {
        choose(book, account, market, &assess(book, account, market).unwrap(), HedgeExit { wait_ms, calm_exit: 1.5 }).unwrap()[0]
    }

    fn assert_sums(c: &PlanCosts) {
        assert!((c.close_first - (c.spread_now + c.delta_impact)).abs() < 1e-9, "{c:?}");
        assert!((c.hedge_first - (c.delta_impact + c.wait + c.vega_wait + c.rehedge_impact + c.spread_then)).abs() < 1e-9, "{c:?}");
    }

    const HOUR: u64 = 3_600_000;

    #[test]
    fn wide_spreads_hedge_first_only_while_they_narrow() {
        let book = example();
        let seller = &book.accounts[0];
        let mut market = MarketState::at_valuation(&book);
        let calm = costs(&book, seller, &market, HOUR);
        assert_eq!(calm.plan, Plan::CloseOptions);
        // Calm spreads make waiting pure cost.
        assert_eq!((calm.spread_now, calm.spread_then), (calm.spread_calm, calm.spread_calm));
        assert!(calm.hedge_first > calm.close_first);
        // A crash: spreads ×8, depth ÷ 4. The delta impact is paid either way.
        market.spread_scale[0] = 8.0;
        market.depth_scale[0] = 0.25;
        let stuck = costs(&book, seller, &market, HOUR);
        assert!(stuck.delta_impact > 3.9 * calm.delta_impact);
        // No evidence that spreads narrow: waiting saves nothing.
        assert_eq!(stuck.spread_then, stuck.spread_now);
        assert_eq!(stuck.plan, Plan::CloseOptions, "{stuck:?}");
        // Spreads halving every ten minutes: back to calm within the hour, and the spread now decides.
        market.spread_trend_per_s[0] = -(2f64).ln() / 600.0;
        let narrowing = costs(&book, seller, &market, HOUR);
        assert_eq!(narrowing.spread_then, narrowing.spread_calm);
        assert_eq!(narrowing.plan, Plan::HedgeDeltaFirst, "{narrowing:?}");
        assert_sums(&narrowing);
        // A short-gamma book waiting through a violent realised vol gives that choice back.
        let mut wild_market = market.clone();
        wild_market.realized_vol[0] = 6.0;
        let wild = costs(&book, seller, &wild_market, 24 * HOUR);
        assert!(wild.wait > narrowing.wait, "{wild:?} {narrowing:?}");
        assert_eq!(wild.plan, Plan::CloseOptions, "{wild:?}");
    }

    #[test]
    fn the_hold_ends_when_a_refill_brings_spreads_within_the_calm_exit() {
        let exit = HedgeExit { wait_ms: 120_000, calm_exit: 1.5 };
        // No refill known (or no calm exit): the whole wait.
        assert_eq!(exit.hold_s(8.0, 0.0), 120.0);
        assert_eq!(HedgeExit { calm_exit: 1.0, ..exit }.hold_s(8.0, 30.0), 120.0);
        // Already within 1.5 × calm: close at once.
        assert_eq!(exit.hold_s(1.4, 30.0), 0.0);
        // An excess of 2 over calm halves twice to reach 0.5: two half-lives.
        assert!((exit.hold_s(3.0, 10.0) - 20.0).abs() < 1e-12);
        // A slow refill is cut at the wait.
        assert_eq!(exit.hold_s(8.0, 600.0), 120.0);
    }

    #[test]
    fn a_calibrated_refill_lets_a_widening_crash_hedge_first() {
        let book = example();
        let seller = &book.accounts[0];
        let mut market = MarketState::at_valuation(&book);
        market.spread_scale[0] = 8.0;
        market.depth_scale[0] = 0.25;
        // Spreads still widening: by the trend alone, waiting saves nothing.
        market.spread_trend_per_s[0] = 0.01;
        let exit = HedgeExit { wait_ms: 120_000, calm_exit: 1.5 };
        let cost = |m: &MarketState| choose(&book, seller, m, &assess(&book, seller, m).unwrap(), exit).unwrap()[0];
        let trend_only = cost(&market);
        assert_eq!((trend_only.hold_s, trend_only.spread_then), (120.0, trend_only.spread_now * (0.01f64 * 120.0).exp()));
        assert_eq!(trend_only.plan, Plan::CloseOptions, "{trend_only:?}");
        // A 30 s refill: the excess of 7 × calm decays to 0.5 × calm in log2(14) half-lives.
        market.spread_refill_half_life_s[0] = 30.0;
        let refill = cost(&market);
        let hold = 30.0 * 14f64.log2();
        assert!((refill.hold_s - hold).abs() < 1e-9, "{refill:?}");
        assert!((refill.spread_then - 1.5 * refill.spread_calm).abs() < 1e-6 * refill.spread_calm, "{refill:?}");
        assert_eq!(refill.plan, Plan::HedgeDeltaFirst, "{refill:?}");
        assert_sums(&refill);
        // A trend narrowing faster than the refill still wins the forecast (never below calm).
        market.spread_trend_per_s[0] = -1.0;
        assert_eq!(cost(&market).spread_then, refill.spread_calm);
    }

    #[test]
    fn rising_vols_make_a_short_option_book_close_first() {
        let book = example();
        let seller = &book.accounts[0];
        let mut market = MarketState::at_valuation(&book);
        market.spread_scale[0] = 8.0;
        market.depth_scale[0] = 0.25;
        market.spread_trend_per_s[0] = -(2f64).ln() / 600.0;
        let flat = costs(&book, seller, &market, HOUR);
        assert_eq!((flat.vega_wait, flat.plan), (0.0, Plan::HedgeDeltaFirst), "{flat:?}");
        // Implied vols rising 50 % over the hour, as they do into a crash.
        market.vol_trend_per_s[0] = 1.5f64.ln() / 3600.0;
        let rising = costs(&book, seller, &market, HOUR);
        // The seller's vega loss: Σ units × vega × vol points × 0.5, recomputed directly.
        let mut expected = 0.0;
        for p in seller.options.iter().filter(|p| book.series[p.series].underlying == 0) {
            let m = book.series[p.series].model(&market).unwrap();
            expected -= p.contracts as f64 * book.series[p.series].contract_size * m.greeks().vega * m.vol * 100.0 * 0.5;
        }
        assert!(expected > 0.0, "the example's first account sells options");
        assert!((rising.vega_wait - expected).abs() <= 1e-9 * expected, "{} vs {expected}", rising.vega_wait);
        assert_eq!(rising.plan, Plan::CloseOptions, "{rising:?}");
        assert_sums(&rising);
        // Falling vols are a gain for the seller and are not credited.
        market.vol_trend_per_s[0] = -1.5f64.ln() / 3600.0;
        assert_eq!(costs(&book, seller, &market, HOUR).vega_wait, 0.0);
    }

    proptest::proptest! {
        #[test]
        fn the_parts_add_up_and_no_gain_is_credited(vol_trend in -1e-3f64..1e-3, spread_trend in -1e-2f64..1e-2, scale in 1.0f64..20.0, wait_s in 0u64..7_200, account in 0usize..3, refill_s in proptest::prop_oneof![proptest::strategy::Just(0.0f64), 0.1f64..600.0]) {
            let book = example();
            let a = &book.accounts[account % book.accounts.len()];
            let mut market = MarketState::at_valuation(&book);
            market.spread_scale[0] = scale;
            market.vol_trend_per_s[0] = vol_trend;
            market.spread_trend_per_s[0] = spread_trend;
            market.spread_refill_half_life_s[0] = refill_s;
            let exit = HedgeExit { wait_ms: wait_s * 1000, calm_exit: 1.5 };
            for c in choose(&book, a, &market, &assess(&book, a, &market).unwrap(), exit).unwrap() {
                assert_sums(&c);
                proptest::prop_assert!(c.vega_wait >= 0.0 && c.wait >= 0.0);
                proptest::prop_assert!(c.spread_then >= c.spread_calm - 1e-12);
                proptest::prop_assert!(c.hold_s >= 0.0 && c.hold_s <= wait_s as f64);
                // A refill only ever lowers the forecast, down to calm.
                proptest::prop_assert!(c.spread_then <= (c.spread_now * (spread_trend * c.hold_s).exp()).max(c.spread_calm) * (1.0 + 1e-12));
                if refill_s > 0.0 {
                    continue;
                }
                proptest::prop_assert_eq!(c.hold_s, wait_s as f64);
                if spread_trend >= 0.0 {
                    proptest::prop_assert!(c.spread_then >= c.spread_now - 1e-9 * c.spread_now.abs());
                    proptest::prop_assert_eq!(c.plan, Plan::CloseOptions);
                }
            }
        }
    }

    #[test]
    fn waiting_is_never_credited_with_an_expected_gain() {
        let book = example();
        let buyer = book.accounts.iter().find(|a| a.id == "option-buyer").unwrap();
        let mut market = MarketState::at_valuation(&book);
        market.realized_vol[0] = 3.0;
        let costs = choose(&book, buyer, &market, &assess(&book, buyer, &market).unwrap(), HedgeExit { wait_ms: 3_600_000, calm_exit: 1.5 }).unwrap();
        // Long gamma in 300 % realised vol expects to earn while hedged: credited as 0, not as a gain.
        assert_eq!(costs[0].wait, 0.0, "{:?}", costs[0]);
        assert!(costs[0].hedge_first >= costs[0].delta_impact + costs[0].spread_calm);
        assert_eq!(costs.len(), 2);
    }
}
