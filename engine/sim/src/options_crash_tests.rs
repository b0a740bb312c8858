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
