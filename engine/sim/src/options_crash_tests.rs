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
