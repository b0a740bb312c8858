//! Options positions through a generated crash: liquidate by closing the
//! options first, by hedging delta in the perp first, or by gavel's choice
//! between the two ([`gavel_engine::options::close_or_hedge`]).
//!
//! The world (assumptions, all in `docs/POLICIES.md`): every underlying
//! follows the crash generator's mid path ([`crash_path`]) in relative terms
//! (correlation one); implied vols rise `vol_beta` × the fall from the start
//! (a 20 % fall with `vol_beta` 4 multiplies them by 1.8); option spreads
//! widen and the perp book thins with the generator's depth path (spread ×
//! 1000 ÷ depth‰, depth × depth‰ ÷ 1000); realised vol is the EWMA of the
//! path's returns. Options trade with dealers at the model price ± the
//! spread; trading `q` units of the perp costs [`impact_cost`].
//!
//! Every `eval_every_ms` each open account is valued; one whose equity is
//! below its stress margin is liquidated by the strategy. Money is integer
//! quote units: every gain is rounded down and every cost up, so rounding
//! never favours an account; an account's final equity below zero is a loss
//! to others (the fund), counted, never dropped.

use gavel_engine::options::close_or_hedge::{choose, impact_cost, HedgeExit, Plan};
use gavel_engine::options::portfolio::{to_units, MarketState, OptionPosition, OptionsAccount, OptionsBook, PerpPosition};
use gavel_engine::options::{PricingInputError, RiskArrays};
use gavel_engine::risk::volatility::RealizedVol;
use gavel_feeds::rng::SplitMix64;

use crate::generate::market::{crash_path, CrashSpec, PathPoint};

/// How a liquidated options account is closed.
#[derive(serde::Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Every option (and perp) closed at the trigger.
    CloseOptions,
    /// Delta hedged in the perp at the trigger, re-hedged at every valuation,
    /// options closed once spreads are back under `calm_exit` × calm or the wait ends.
    HedgeDeltaFirst,
    /// Per account at the trigger, the cheaper plan by expected cost.
    Greeks,
    /// As `Greeks`, with the world's depth refill half-life given to the rule's spread
    /// forecast ([`MarketState::spread_refill_half_life_s`]); the same as `Greeks` in a
    /// world without refill.
    GreeksWithRefill,
}

/// The crash and the run's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OptionsCrashSpec {
    /// The crash path (its seed, drop, duration and step are used).
    pub crash: CrashSpec,
    /// Accounts generated on the book's series.
    pub accounts: usize,
    /// Implied-vol rise per unit of fall.
    pub vol_beta: f64,
    /// Longest a hedged account waits before closing its options, ms.
    pub wait_ms: u64,
    /// A hedged account closes once spreads are at most this multiple of calm.
    pub calm_exit: f64,
    /// Valuation interval, ms.
    pub eval_every_ms: u64,
    /// Time constant of the EWMA of the implied-vol and spread growth rates the Greeks rule reads, ms.
    pub trend_window_ms: u64,
    /// `None`: depth stays thinned by the deepest drawdown so far (the crash generator's
    /// path). `Some(h)`: each new low thins the book as the path says, and the thinning
    /// refills with half-life `h` ms of event time while no new low is made ([`DepthRefill`]).
    pub depth_refill_half_life_ms: Option<u64>,
}

impl Default for OptionsCrashSpec {
    fn default() -> Self {
        OptionsCrashSpec { crash: CrashSpec { drop_per_mille: 250, ..CrashSpec::default() }, accounts: 200, vol_beta: 4.0, wait_ms: 120_000, calm_exit: HedgeExit::DEFAULT_CALM_EXIT, eval_every_ms: 1_000, trend_window_ms: 10_000, depth_refill_half_life_ms: None }
    }
}

/// One strategy's totals.
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq)]
pub struct StrategyOutcome {
    /// Accounts liquidated.
    pub liquidated: usize,
    /// Of those, closed by hedging delta first.
    pub hedged_first: usize,
    /// Spreads and impact paid by liquidated accounts, quote units.
    pub liquidation_cost: i128,
    /// Perp volume the liquidations put through the book (hedges, re-hedges and the dealers' hedge of closed options), underlying units.
    pub perp_volume: f64,
    /// Σ max(0, −final equity) of liquidated accounts: what the fund covers, quote units.
    pub loss_to_others: i128,
    /// Σ max(0, final equity) of liquidated accounts, quote units.
    pub equity_kept: i128,
}

/// An account's money during the run: cash (collateral with the perps' PnL) in quote units.
struct Live {
    account: OptionsAccount,
    cash: i128,
    /// `Some(trigger time)` while hedged and waiting; the account is closed when `done`.
    hedged_since: Option<u64>,
    done: bool,
}

/// Generates `n` option sellers (some with a partial perp hedge, one in five a
/// buyer) on `book`'s series, each funded to 1.05-1.65 × its stress margin
/// (a book without series gives accounts without positions).
pub fn generate_accounts(book: &OptionsBook, n: usize, seed: u64) -> Result<Vec<OptionsAccount>, PricingInputError> {
    let mut rng = SplitMix64::new(seed ^ 0x0b7_1005);
    let market = MarketState::at_valuation(book);
    let arrays = RiskArrays::new(book, &market);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let legs = 1 + rng.below(2) as usize;
        let mut options = Vec::with_capacity(legs);
        for _ in 0..legs.min(book.series.len()) {
            let series = rng.below(book.series.len() as u64) as usize;
            if options.iter().any(|p: &OptionPosition| p.series == series) {
                continue;
            }
            let size = rng.range_i64(10, 400);
            options.push(OptionPosition { series, contracts: if rng.below(5) == 0 { size } else { -size } });
        }
        let mut account = OptionsAccount { id: format!("opt-{i}"), collateral: 0, options, perps: Vec::new() };
        if rng.below(10) < 3 {
            let risk = arrays.assess(book, &account, &market)?;
            if let Some(e) = risk.exposures.first() {
                let share = 0.5 + 0.5 * rng.unit_f64();
                let lots = (-e.greeks.delta * share / book.underlyings[e.underlying].lot_size).round() as i64;
                if lots != 0 {
                    account.perps.push(PerpPosition { underlying: e.underlying, lots });
                }
            }
        }
        let risk = arrays.assess(book, &account, &market)?;
        let value = risk.equity; // collateral is 0 here: equity = option value
        let cushion = 1050 + rng.below(601) as i128;
        account.collateral = (risk.margin * cushion / 1000 - value).max(0);
        out.push(account);
    }
    Ok(out)
}

/// The book's depth along the path when thinned liquidity comes back: the thinning
/// (`1000 − depth‰`) grows by what each new low of the path adds and otherwise decays
/// toward calm with a half-life of event time, as the simulated venues' consumed depth
/// does (`resilience_half_life`; the calibrated refill half-life of a real capture is
/// 6.9 s, docs/SIMULATION.md).
#[derive(Clone, Copy, Debug)]
pub struct DepthRefill {
    half_life_ms: f64,
    /// The path's thinning at the last point, per mille.
    path_thinning: f64,
    /// The thinning in effect, per mille.
    thinning: f64,
    time_ns: i64,
}

impl DepthRefill {
    /// A refill with half-life `half_life_ms` (at least 1 ms), starting calm at `start`.
    pub fn new(half_life_ms: u64, start: &PathPoint) -> Self {
        let thinning = (1000 - start.depth_per_mille).max(0) as f64;
        DepthRefill { half_life_ms: half_life_ms.max(1) as f64, path_thinning: thinning, thinning, time_ns: start.time_ns }
    }

    /// The depth in effect at `p` (per mille of calm, in `[0, 1000]`); points come in time order.
    pub fn depth_at(&mut self, p: &PathPoint) -> f64 {
        let dt_ms = (p.time_ns - self.time_ns).max(0) as f64 / 1e6;
        self.thinning *= (-dt_ms / self.half_life_ms).exp2();
        let path_thinning = (1000 - p.depth_per_mille).max(0) as f64;
        self.thinning = (self.thinning + (path_thinning - self.path_thinning).max(0.0)).min(1000.0);
        self.path_thinning = path_thinning;
        self.time_ns = p.time_ns;
        1000.0 - self.thinning
    }
}

/// The market at one path point with the book's depth at `depth_per_mille` of calm, from
/// the start point and the realised-vol estimates.
fn market_at(book: &OptionsBook, start: &PathPoint, p: &PathPoint, depth_per_mille: f64, spec: &OptionsCrashSpec, vol: &RealizedVol) -> MarketState {
    let mut m = MarketState::at_valuation(book);
    let ratio = p.mid_ticks as f64 / start.mid_ticks as f64;
    m.time_ms = book.valuation_ms + ((p.time_ns - start.time_ns).max(0) / 1_000_000) as u64;
    let depth = (depth_per_mille / 1000.0).clamp(0.01, 1.0);
    let annual = (vol.var_per_s() * gavel_engine::options::black76::SECONDS_PER_YEAR).sqrt();
    for u in 0..book.underlyings.len() {
        m.prices[u] *= ratio;
        m.vol_scale[u] = 1.0 + spec.vol_beta * (1.0 - ratio).max(0.0);
        m.spread_scale[u] = 1.0 / depth;
        m.depth_scale[u] = depth;
        if annual.is_finite() && annual > 0.0 {
            m.realized_vol[u] = annual;
        }
    }
    m
}

/// `now` with its vol and spread trends: an EWMA (time constant `window_ms`)
/// of the log growth rates since `previous`, whose trends it carries on.
fn with_trends(mut now: MarketState, previous: &MarketState, window_ms: u64) -> MarketState {
    let dt_ms = now.time_ms.saturating_sub(previous.time_ms);
    if dt_ms == 0 {
        now.vol_trend_per_s.clone_from(&previous.vol_trend_per_s);
        now.spread_trend_per_s.clone_from(&previous.spread_trend_per_s);
        return now;
    }
    let weight = -(-(dt_ms as f64) / window_ms.max(1) as f64).exp_m1();
    let dt_s = dt_ms as f64 / 1000.0;
    for u in 0..now.prices.len() {
        let vol_rate = (now.vol_scale[u] / previous.vol_scale[u]).ln() / dt_s;
        let spread_rate = (now.spread_scale[u] / previous.spread_scale[u]).ln() / dt_s;
        now.vol_trend_per_s[u] = previous.vol_trend_per_s[u] + weight * (vol_rate - previous.vol_trend_per_s[u]);
        now.spread_trend_per_s[u] = previous.spread_trend_per_s[u] + weight * (spread_rate - previous.spread_trend_per_s[u]);
    }
    now
}

/// Runs `accounts` through the crash under `strategy`.
pub fn run(book: &OptionsBook, accounts: &[OptionsAccount], spec: &OptionsCrashSpec, strategy: Strategy) -> Result<StrategyOutcome, PricingInputError> {
    let path = crash_path(&spec.crash);
    let start = path[0];
    let mut live: Vec<Live> = accounts.iter().map(|a| Live { account: a.clone(), cash: a.collateral, hedged_since: None, done: false }).collect();
    let mut vol = RealizedVol::new(30_000_000_000, book.underlyings.first().map_or(0.0, |u| u.realized_vol.powi(2)) / gavel_engine::options::black76::SECONDS_PER_YEAR);
    let mut outcome = StrategyOutcome::default();
    let mut previous = MarketState::at_valuation(book);
    let mut next_eval = 0u64;
    let mut refill = spec.depth_refill_half_life_ms.map(|h| DepthRefill::new(h, &start));
    for (k, p) in path.iter().enumerate() {
        vol.update(p.mid_ticks, p.time_ns.max(0) as u64);
        let depth = match refill.as_mut() {
            Some(r) => r.depth_at(p),
            None => p.depth_per_mille as f64,
        };
        let market = market_at(book, &start, p, depth, spec, &vol);
        let last = k + 1 == path.len();
        if market.time_ms < book.valuation_ms + next_eval && !last {
            continue;
        }
        next_eval += spec.eval_every_ms;
        let mut market = with_trends(market, &previous, spec.trend_window_ms);
        if let (Strategy::GreeksWithRefill, Some(h)) = (strategy, spec.depth_refill_half_life_ms) {
            market.spread_refill_half_life_s.iter_mut().for_each(|x| *x = h as f64 / 1000.0);
        }
        let arrays = RiskArrays::new(book, &market);
        for l in live.iter_mut().filter(|l| !l.done) {
            // The perps' PnL since the last valuation goes to cash (rounded against the account).
            for perp in &l.account.perps {
                let units = perp.lots as f64 * book.underlyings[perp.underlying].lot_size;
                l.cash += to_units(units * (market.prices[perp.underlying] - previous.prices[perp.underlying]), false);
            }
            step_account(book, &arrays, spec, strategy, &market, l, last, &mut outcome)?;
        }
        previous = market;
    }
    Ok(outcome)
}

/// Values one open account; triggers, re-hedges or closes it.
#[allow(clippy::too_many_arguments)]
fn step_account(book: &OptionsBook, arrays: &RiskArrays, spec: &OptionsCrashSpec, strategy: Strategy, market: &MarketState, l: &mut Live, last: bool, out: &mut StrategyOutcome) -> Result<(), PricingInputError> {
    let risk = arrays.assess(book, &l.account, market)?;
    let equity = l.cash + (risk.equity - l.account.collateral);
    let cost_of = |amount: f64| to_units(amount, true);
    match l.hedged_since {
        None => {
            if equity >= risk.margin {
                return Ok(());
            }
            out.liquidated += 1;
            let plan = match strategy {
                Strategy::CloseOptions => Plan::CloseOptions,
                Strategy::HedgeDeltaFirst => Plan::HedgeDeltaFirst,
                Strategy::Greeks | Strategy::GreeksWithRefill => {
                    let costs = choose(book, &l.account, market, &risk, HedgeExit { wait_ms: spec.wait_ms, calm_exit: spec.calm_exit })?;
                    let (close, hedge) = costs.iter().fold((0.0, 0.0), |(c, h), x| (c + x.close_first, h + x.hedge_first));
                    if hedge < close { Plan::HedgeDeltaFirst } else { Plan::CloseOptions }
                }
            };
            if plan == Plan::CloseOptions || last {
                return close(book, market, l, &risk, out);
            }
            out.hedged_first += 1;
            l.hedged_since = Some(market.time_ms);
            rehedge(book, market, l, &risk, out, cost_of);
            Ok(())
        }
        Some(since) => {
            let calm = (0..book.underlyings.len()).all(|u| market.spread_scale[u] <= spec.calm_exit);
            if calm || last || market.time_ms >= since + spec.wait_ms {
                return close(book, market, l, &risk, out);
            }
            rehedge(book, market, l, &risk, out, cost_of);
            Ok(())
        }
    }
}

/// Trades each underlying's delta to zero in the perp (to the lot), paying impact.
fn rehedge(book: &OptionsBook, market: &MarketState, l: &mut Live, risk: &gavel_engine::options::AccountRisk, out: &mut StrategyOutcome, cost_of: impl Fn(f64) -> i128) {
    for e in &risk.exposures {
        let u = e.underlying;
        let lot = book.underlyings[u].lot_size;
        let lots = (-e.greeks.delta / lot).round() as i64;
        if lots == 0 {
            continue;
        }
        let units = (lots as f64 * lot).abs();
        let cost = cost_of(impact_cost(units, market.prices[u], book.underlyings[u].depth_per_bp * market.depth_scale[u]));
        l.cash -= cost;
        out.liquidation_cost += cost;
        out.perp_volume += units;
        match l.account.perps.iter_mut().find(|p| p.underlying == u) {
            Some(p) => p.lots += lots,
            None => l.account.perps.push(PerpPosition { underlying: u, lots }),
        }
    }
}

/// Closes every option with dealers at model price ± the spread now, and the
/// net delta (the dealers' hedge against the account's own perps) through the perp book.
fn close(book: &OptionsBook, market: &MarketState, l: &mut Live, risk: &gavel_engine::options::AccountRisk, out: &mut StrategyOutcome) -> Result<(), PricingInputError> {
    let mut cost = 0.0;
    for p in &l.account.options {
        let s = &book.series[p.series];
        let units = (p.contracts as f64 * s.contract_size).abs();
        cost += units * s.model(market)?.price() * s.half_spread * market.spread_scale[s.underlying];
    }
    for e in &risk.exposures {
        let u = e.underlying;
        cost += impact_cost(e.greeks.delta.abs(), market.prices[u], book.underlyings[u].depth_per_bp * market.depth_scale[u]);
        out.perp_volume += e.greeks.delta.abs();
    }
    let cost = to_units(cost, true);
    // Final equity: cash, plus the options' value settled with the dealers, minus the cost.
    let final_equity = l.cash + (risk.equity - l.account.collateral) - cost;
    out.liquidation_cost += cost;
    out.loss_to_others += (-final_equity).max(0);
    out.equity_kept += final_equity.max(0);
    l.done = true;
    Ok(())
}

#[cfg(test)]
#[path = "options_crash_tests.rs"]
mod tests;
