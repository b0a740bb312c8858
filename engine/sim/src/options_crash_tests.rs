use super::*;
use gavel_engine::options::assess;

fn book() -> OptionsBook {
    OptionsBook::parse(include_str!("../../../docs/examples/options.toml"), "options.toml").unwrap()
}

fn spec(accounts: usize, drop_per_mille: i64) -> OptionsCrashSpec {
    OptionsCrashSpec { accounts, crash: CrashSpec { drop_per_mille, seed: 11, ..CrashSpec::default() }, ..OptionsCrashSpec::default() }
}

#[test]
fn generated_accounts_start_solvent_and_are_reproducible() {
    let b = book();
    let accounts = generate_accounts(&b, 50, 3).unwrap();
    assert_eq!(accounts, generate_accounts(&b, 50, 3).unwrap());
    assert_ne!(accounts, generate_accounts(&b, 50, 4).unwrap());
    let market = MarketState::at_valuation(&b);
    for a in &accounts {
        let r = assess(&b, a, &market).unwrap();
        assert!(!r.liquidatable(), "{}: equity {} margin {}", a.id, r.equity, r.margin);
        assert!(!a.options.is_empty());
    }
    assert!(accounts.iter().any(|a| !a.perps.is_empty()));
}

#[test]
fn every_strategy_liquidates_the_same_accounts() {
    let b = book();
    let s = spec(60, 250);
    let accounts = generate_accounts(&b, s.accounts, 5).unwrap();
    let close = run(&b, &accounts, &s, Strategy::CloseOptions).unwrap();
    let hedge = run(&b, &accounts, &s, Strategy::HedgeDeltaFirst).unwrap();
    let greeks = run(&b, &accounts, &s, Strategy::Greeks).unwrap();
    assert!(close.liquidated > 5, "{close:?}");
    // The trigger does not depend on the strategy: the same accounts cross first.
    assert_eq!((close.liquidated, hedge.liquidated), (greeks.liquidated, greeks.liquidated));
    assert_eq!(close.hedged_first, 0);
    assert!(hedge.hedged_first > 0 && hedge.hedged_first <= hedge.liquidated);
    assert!(greeks.hedged_first <= greeks.liquidated);
    for o in [&close, &hedge, &greeks] {
        assert!(o.liquidation_cost > 0 && o.loss_to_others >= 0 && o.equity_kept >= 0 && o.perp_volume > 0.0, "{o:?}");
    }
    // Hedging first re-trades delta at every valuation: more perp flow than one close.
    assert!(hedge.perp_volume > close.perp_volume, "{hedge:?} vs {close:?}");
    // Deterministic: the same inputs give the same outcome.
    assert_eq!(run(&b, &accounts, &s, Strategy::Greeks).unwrap(), greeks);
}

#[test]
fn a_calm_market_liquidates_fewer_accounts_than_a_crash() {
    let b = book();
    let accounts = generate_accounts(&b, 60, 5).unwrap();
    let calm = run(&b, &accounts, &spec(60, 0), Strategy::CloseOptions).unwrap();
    let crash = run(&b, &accounts, &spec(60, 250), Strategy::CloseOptions).unwrap();
    assert!(calm.liquidated < crash.liquidated, "{calm:?} vs {crash:?}");
}

#[test]
fn trends_converge_to_a_steady_growth_rate_and_carry_over_a_zero_step() {
    let b = book();
    let mut previous = MarketState::at_valuation(&b);
    // Vols grow 1 % and spreads shrink 2 % a second, valued every second.
    for _ in 0..200 {
        let mut now = previous.clone();
        now.time_ms += 1_000;
        now.vol_scale.iter_mut().for_each(|v| *v *= 1.01);
        now.spread_scale.iter_mut().for_each(|s| *s *= 0.98);
        previous = with_trends(now, &previous, 10_000);
    }
    for u in 0..b.underlyings.len() {
        assert!((previous.vol_trend_per_s[u] - 1.01f64.ln()).abs() < 1e-6, "{:?}", previous.vol_trend_per_s);
        assert!((previous.spread_trend_per_s[u] - 0.98f64.ln()).abs() < 1e-6, "{:?}", previous.spread_trend_per_s);
    }
    // One 10 s step (a full time constant) moves a fresh trend 1 − 1/e of the way.
    let start = MarketState::at_valuation(&b);
    let mut later = start.clone();
    later.time_ms += 10_000;
    later.vol_scale[0] = 2.0;
    let once = with_trends(later.clone(), &start, 10_000);
    let rate = 2f64.ln() / 10.0;
    assert!((once.vol_trend_per_s[0] - rate * (1.0 - (-1f64).exp())).abs() < 1e-12);
    // No time passed: the trends carry over unchanged.
    let same = with_trends(later, &once, 10_000);
    assert_eq!(same.vol_trend_per_s, once.vol_trend_per_s);
}

#[test]
fn thinned_depth_refills_with_its_half_life_between_new_lows() {
    let at = |ms: i64, depth: i64| PathPoint { time_ns: ms * 1_000_000, mid_ticks: 1, depth_per_mille: depth };
    let mut r = DepthRefill::new(1_000, &at(0, 1000));
    assert_eq!(r.depth_at(&at(100, 1000)), 1000.0);
    // A new low thins the book as the path says.
    assert_eq!(r.depth_at(&at(200, 600)), 600.0);
    // No new low for one half-life: half the thinning is back.
    assert!((r.depth_at(&at(1_200, 600)) - 800.0).abs() < 1e-9);
    // The path thins another 100 ‰: only that increment is added to what is left.
    assert!((r.depth_at(&at(1_200, 500)) - 700.0).abs() < 1e-9);
    // Ten half-lives later the book is nearly calm; depth never leaves [0, 1000].
    let late = r.depth_at(&at(11_200, 500));
    assert!(late > 999.0 && late <= 1000.0, "{late}");
    let mut deep = DepthRefill::new(1_000, &at(0, 1000));
    assert_eq!(deep.depth_at(&at(1, 0)), 0.0);
}

#[test]
fn with_a_slow_refill_the_greeks_rule_hedges_first_where_it_pays() {
    let b = book();
    let mut s = OptionsCrashSpec { accounts: 60, crash: CrashSpec { drop_per_mille: 250, seed: 1, ..CrashSpec::default() }, ..OptionsCrashSpec::default() };
    let accounts = generate_accounts(&b, s.accounts, 1).unwrap();
    // Without a refill the rule with the refill forecast is the plain rule.
    assert_eq!(run(&b, &accounts, &s, Strategy::GreeksWithRefill).unwrap(), run(&b, &accounts, &s, Strategy::Greeks).unwrap());
    s.depth_refill_half_life_ms = Some(120_000);
    let close = run(&b, &accounts, &s, Strategy::CloseOptions).unwrap();
    let greeks = run(&b, &accounts, &s, Strategy::Greeks).unwrap();
    let refill = run(&b, &accounts, &s, Strategy::GreeksWithRefill).unwrap();
    // The trend-only rule sees spreads still widening at every trigger and closes.
    assert_eq!(greeks, close);
    // The forecast hedges some accounts first, and those pay less spread than closing at once.
    assert_eq!(refill.liquidated, close.liquidated);
    assert!(refill.hedged_first >= 1 && refill.hedged_first < refill.liquidated, "{refill:?}");
    assert!(refill.liquidation_cost < close.liquidation_cost && refill.equity_kept > close.equity_kept, "{refill:?} vs {close:?}");
    // A refill world is as deterministic as the other.
    assert_eq!(run(&b, &accounts, &s, Strategy::GreeksWithRefill).unwrap(), refill);
}
