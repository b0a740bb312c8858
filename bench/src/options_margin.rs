//! `gavel bench options`: stress margin of a book of option accounts, gavel's risk arrays
//! against revaluing every position in every scenario.
//!
//! The book: 2 underlyings (BTC at 60,000, ETH at 3,000), 4 expiries (7–180 days) × 25
//! strikes (0.6–1.4 × the price) × call and put each, vols on a smile; accounts hold 1–12
//! option positions (a few a market maker's size), 30 % with a perp hedge. The market is a
//! crash state (prices −10 %, vols × 1.3), the grid the default ±15 % × 7 steps × 3 vol
//! shifts (21 scenarios).
//!
//! * gavel: [`RiskArrays::new`] prices each series once in the state and in every
//!   scenario; each account's margin is then a weighted sum of its series' arrays.
//! * peer: per account, per position, a Black-76 valuation in the state and in every
//!   scenario (base price once per position, then the shocked prices) — what a margin
//!   engine without shared arrays does.
//!
//! Both compute exactly the same numbers (the same differences summed in the same order):
//! every account's risk is compared, bit for bit, in the first round.

use gavel_engine::options::portfolio::{
    AccountRisk, Exposure, OptionPosition, OptionsAccount, OptionsBook, PerpPosition, Series, Underlying,
};
use gavel_engine::options::portfolio_toml::DEFAULT_STRESS;
use gavel_engine::options::risk_array::scenarios;
use gavel_engine::options::{MarketState, OptionKind, PricingInputError, RiskArrays};
use gavel_feeds::clock::Clock;
use gavel_feeds::rng::SplitMix64;
use serde::Serialize;

use crate::stats::{interleave, median_f64, median_summary, new_histogram, LatencySummary};

/// Benchmark parameters.
#[derive(Clone, Copy, Debug)]
pub struct OptionsBenchConfig {
    /// Number of accounts.
    pub accounts: usize,
    /// Interleaved rounds per side (≥ 5 from the CLI).
    pub rounds: usize,
}

impl Default for OptionsBenchConfig {
    fn default() -> Self {
        OptionsBenchConfig { accounts: 10_000, rounds: 5 }
    }
}

/// One side's figures (medians over rounds).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct SideReport {
    /// Every account margined once, ms (gavel: including building the arrays).
    pub full_pass_ms: f64,
    /// ns per account margin.
    pub per_account: LatencySummary,
}

/// Results of `gavel bench options`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct OptionsBenchReport {
    /// Accounts margined per pass.
    pub accounts: usize,
    /// Option series in the book.
    pub series: usize,
    /// Stress scenarios per underlying.
    pub scenarios: usize,
    /// Mean option positions per account.
    pub positions_mean: f64,
    /// Rounds per side.
    pub rounds: usize,
    /// gavel: risk arrays.
    pub gavel: SideReport,
    /// gavel: building the arrays alone, ms.
    pub arrays_ms: f64,
    /// peer: per-position revaluation.
    pub peer: SideReport,
    /// Accounts whose risk both sides computed identically (all of them, or the run panics).
    pub agreement_checked: usize,
}

/// The benchmark's book: series only, no accounts.
pub fn book() -> OptionsBook {
    let day = 86_400_000u64;
    let valuation_ms = 1_767_225_600_000; // 2026-01-01 00:00 UTC
    let underlyings = vec![
        Underlying { symbol: "BTC".into(), price: 60_000.0, lot_size: 0.001, depth_per_bp: 20.0, realized_vol: 0.6 },
        Underlying { symbol: "ETH".into(), price: 3_000.0, lot_size: 0.01, depth_per_bp: 300.0, realized_vol: 0.7 },
    ];
    let mut series = Vec::new();
    for (u, under) in underlyings.iter().enumerate() {
        for days in [7u64, 30, 90, 180] {
            for k in 0..25 {
                let strike = (under.price * (0.6 + 0.8 * f64::from(k) / 24.0)).round();
                let skew = (strike / under.price).ln();
                for kind in [OptionKind::Call, OptionKind::Put] {
                    series.push(Series {
                        symbol: format!("{}-{days}D-{strike}-{}", under.symbol, if kind == OptionKind::Call { "C" } else { "P" }),
                        underlying: u,
                        kind,
                        strike,
                        expiry_ms: valuation_ms + days * day,
                        contract_size: 1.0,
                        vol: under.realized_vol + 0.4 * skew * skew,
                        half_spread: 0.02,
                    });
                }
            }
        }
    }
    OptionsBook { valuation_ms, underlyings, series, stress: DEFAULT_STRESS, accounts: Vec::new() }
}

/// `n` accounts on `book`'s series: 1–12 option positions, 30 % with a perp.
pub fn accounts(book: &OptionsBook, n: usize, seed: u64) -> Vec<OptionsAccount> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            let legs = 1 + rng.below(12) as usize;
            let mut options: Vec<OptionPosition> = Vec::with_capacity(legs);
            for _ in 0..legs {
                let series = rng.below(book.series.len() as u64) as usize;
                if options.iter().all(|p| p.series != series) {
                    let size = rng.range_i64(1, 50);
                    options.push(OptionPosition { series, contracts: if rng.below(2) == 0 { size } else { -size } });
                }
            }
            let mut perps = Vec::new();
            if rng.below(10) < 3 {
                let underlying = rng.below(book.underlyings.len() as u64) as usize;
                perps.push(PerpPosition { underlying, lots: rng.range_i64(-20_000, 20_000).max(1) });
            }
            OptionsAccount { id: format!("acct-{i}"), collateral: 1_000_000_000_000, options, perps }
        })
        .collect()
}

/// The crash state both sides margin in: prices −10 %, vols × 1.3, an hour after valuation.
pub fn crash_market(book: &OptionsBook) -> MarketState {
    let mut m = MarketState::at_valuation(book);
    m.time_ms += 3_600_000;
    m.prices.iter_mut().for_each(|p| *p *= 0.9);
    m.vol_scale.iter_mut().for_each(|v| *v = 1.3);
    m
}

/// The peer: `account`'s risk by valuing each position in the state and in every scenario.
pub fn revalue(book: &OptionsBook, account: &OptionsAccount, market: &MarketState) -> Result<AccountRisk, PricingInputError> {
    let grid = scenarios(book);
    let mut exposures: Vec<Exposure> = Vec::new();
    // Per position: units, underlying, and its premium change in each scenario.
    let mut changes: Vec<(f64, usize, Vec<f64>)> = Vec::with_capacity(account.options.len());
    for p in &account.options {
        let s = &book.series[p.series];
        let units = p.contracts as f64 * s.contract_size;
        let model = s.model(market)?;
        let (price, g) = (model.price(), model.greeks());
        let mut row = Vec::with_capacity(grid.len());
        for sc in &grid {
            let vol = (s.vol * (market.vol_scale[s.underlying] * sc.vol_multiplier)).min(gavel_engine::options::black76::MAX_VOL);
            row.push(model.shocked(market.prices[s.underlying] * (1.0 + sc.price_move), vol)?.price() - price);
        }
        let e = match exposures.iter().position(|e| e.underlying == s.underlying) {
            Some(i) => &mut exposures[i],
            None => {
                exposures.push(Exposure { underlying: s.underlying, ..Exposure::default() });
                exposures.last_mut().expect("just pushed")
            }
        };
        e.greeks.delta += units * g.delta;
        e.greeks.gamma += units * g.gamma;
        e.greeks.vega += units * g.vega;
        e.greeks.theta += units * g.theta;
        e.option_value += units * price;
        changes.push((units, s.underlying, row));
    }
    for p in &account.perps {
        let i = match exposures.iter().position(|e| e.underlying == p.underlying) {
            Some(i) => i,
            None => {
                exposures.push(Exposure { underlying: p.underlying, ..Exposure::default() });
                exposures.len() - 1
            }
        };
        exposures[i].greeks.delta += p.lots as f64 * book.underlyings[p.underlying].lot_size;
    }
    exposures.sort_by_key(|e| e.underlying);
    for e in &mut exposures {
        let u = e.underlying;
        let perp_units: f64 = account.perps.iter().filter(|p| p.underlying == u).map(|p| p.lots as f64 * book.underlyings[u].lot_size).sum();
        let (mut worst, mut worst_move, mut worst_vol) = (0.0f64, 0.0, 1.0);
        for (k, sc) in grid.iter().enumerate() {
            let mut pnl = perp_units * market.prices[u] * sc.price_move;
            for (units, _, row) in changes.iter().filter(|c| c.1 == u) {
                pnl += units * row[k];
            }
            if -pnl > worst {
                (worst, worst_move, worst_vol) = (-pnl, sc.price_move, sc.vol_multiplier);
            }
        }
        (e.stress_loss, e.worst_move, e.worst_vol_scale) = (worst, worst_move, worst_vol);
    }
    Ok(AccountRisk::from_exposures(account.collateral, exposures))
}

/// Runs the benchmark.
pub fn run(cfg: OptionsBenchConfig) -> OptionsBenchReport {
    let book = book();
    let accounts = accounts(&book, cfg.accounts, 0x6f_7074_696f_6e73);
    let market = crash_market(&book);
    let clock = Clock::calibrate(std::time::Duration::from_millis(50));
    let first_gavel = std::cell::RefCell::new(Vec::<AccountRisk>::new());
    let first_peer = std::cell::RefCell::new(Vec::<AccountRisk>::new());
    let arrays_ms = std::cell::RefCell::new(Vec::<f64>::new());

    // One margin pass over every account: per-account latency, the whole pass, and the
    // first round's results kept for the comparison.
    let pass = |record: &std::cell::RefCell<Vec<AccountRisk>>, start: u64, margin: &dyn Fn(&OptionsAccount) -> AccountRisk| {
        let mut h = new_histogram();
        let mut record = record.borrow_mut();
        let keep = record.is_empty();
        for a in &accounts {
            let t0 = clock.now_ticks();
            let risk = margin(a);
            h.record(clock.ns_since(t0).max(1)).ok();
            if keep {
                record.push(risk);
            } else {
                std::hint::black_box(risk);
            }
        }
        SideReport { full_pass_ms: clock.ns_since(start) as f64 / 1e6, per_account: LatencySummary::from_histogram(&h) }
    };
    let priceable = "every series is priceable in the crash state";
    let mut gavel_side = || {
        let start = clock.now_ticks();
        let arrays = RiskArrays::new(&book, &market);
        arrays_ms.borrow_mut().push(clock.ns_since(start) as f64 / 1e6);
        pass(&first_gavel, start, &|a| arrays.assess(&book, a, &market).expect(priceable))
    };
    let mut peer_side = || pass(&first_peer, clock.now_ticks(), &|a| revalue(&book, a, &market).expect(priceable));
    let results = interleave(cfg.rounds, &mut [&mut gavel_side, &mut peer_side]);
    let (g, p) = (first_gavel.into_inner(), first_peer.into_inner());
    assert!(g == p, "risk arrays and per-position revaluation disagree");
    let side = |c: usize| SideReport {
        full_pass_ms: median_f64(&results[c].iter().map(|r| r.full_pass_ms).collect::<Vec<_>>()),
        per_account: median_summary(&results[c].iter().map(|r| r.per_account).collect::<Vec<_>>()),
    };
    OptionsBenchReport {
        accounts: cfg.accounts,
        series: book.series.len(),
        scenarios: scenarios(&book).len(),
        positions_mean: accounts.iter().map(|a| a.options.len()).sum::<usize>() as f64 / accounts.len().max(1) as f64,
        rounds: cfg.rounds,
        gavel: side(0),
        arrays_ms: median_f64(&arrays_ms.into_inner()),
        peer: side(1),
        agreement_checked: g.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_bit_for_bit_and_margins_are_positive() {
        let r = run(OptionsBenchConfig { accounts: 300, rounds: 1 });
        assert_eq!(r.agreement_checked, 300);
        assert_eq!((r.series, r.scenarios), (400, 21));
        assert!(r.gavel.per_account.samples == 300 && r.peer.per_account.samples == 300);
        let book = book();
        let market = crash_market(&book);
        let accts = accounts(&book, 50, 7);
        let arrays = RiskArrays::new(&book, &market);
        for a in &accts {
            let (x, y) = (arrays.assess(&book, a, &market).unwrap(), revalue(&book, a, &market).unwrap());
            assert_eq!(x, y, "{}", a.id);
            // Every position loses in some scenario (a long option when vols fall, a short when they rise).
            assert!(x.margin > 0, "{}", a.id);
        }
    }

    #[test]
    fn an_unpriceable_series_fails_only_the_accounts_that_hold_it() {
        let mut book = book();
        let market = crash_market(&book);
        // Expire series 0 before the crash state's time.
        book.series[0].expiry_ms = market.time_ms - 1;
        let arrays = RiskArrays::new(&book, &market);
        let holder = OptionsAccount { id: "h".into(), collateral: 0, options: vec![OptionPosition { series: 0, contracts: 1 }], perps: vec![] };
        let other = OptionsAccount { id: "o".into(), collateral: 0, options: vec![OptionPosition { series: 1, contracts: -1 }], perps: vec![] };
        assert_eq!(arrays.assess(&book, &holder, &market).unwrap_err(), PricingInputError::Expired);
        assert_eq!(revalue(&book, &holder, &market).unwrap_err(), PricingInputError::Expired);
        assert_eq!(arrays.assess(&book, &other, &market).unwrap(), revalue(&book, &other, &market).unwrap());
    }
}
