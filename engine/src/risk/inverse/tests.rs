//! Inverse contracts: Binance's COIN-M example, exact trigger flips and
//! bankruptcy prices against the health function.

use super::*;
use crate::risk::account::Position;
use crate::risk::instrument::{InstrumentSet, QUOTE_SCALE};
use crate::risk::margin::{self, unit_health};

/// BTCUSD as in docs/examples/instruments.toml (first tier) plus two tiers
/// with cum from continuity, so the solver crosses brackets.
pub(crate) const BTCUSD: &str = r#"
[[instrument]]
symbol = "BTCUSD"
kind = "inverse"
contract_value = "100"
settlement_asset = "BTC"
tick_size = "0.1"
lot_size = "1"
brackets = [
  { notional_cap = "5",   maintenance_rate = "0.004", max_leverage = 125 },
  { notional_cap = "10",  maintenance_rate = "0.005", max_leverage = 100 },
  { notional_cap = "inf", maintenance_rate = "0.01",  max_leverage = 50 },
]
"#;

fn btcusd() -> InstrumentSet {
    InstrumentSet::parse(BTCUSD, "t.toml").unwrap()
}

#[test]
fn binance_coin_m_example_is_exact() {
    // 100 BTCUSD contracts of 100 USD at mark 25,000: notional 0.4 BTC,
    // maintenance 0.4 % = 0.0016 BTC (1 unit = 10^-6 BTC).
    let set = btcusd();
    let ins = set.get(0);
    assert_eq!(ins.inverse_value, 1_000_000_000); // 1 × 100 × 10^6 ÷ 0.1
    let mark = ins.parse_price("25000").unwrap();
    for size in [100, -100] {
        let n = ins.notional(size, mark);
        assert_eq!(n, 400_000, "0.4 BTC");
        assert_eq!(ins.maintenance(n), 1_600, "0.0016 BTC");
        assert_eq!(ins.initial_margin(n), 3_200, "0.4 BTC ÷ 125");
    }
    // Long 100 @ 25,000, mark 20,000: 100 × 100 × (1/25,000 − 1/20,000) = −0.1 BTC.
    let mut p = Position::flat(0);
    assert_eq!(p.apply_fill(ins, 100, mark), 0);
    assert_eq!(p.entry_notional, -400_000);
    assert_eq!(p.unrealized(ins, ins.parse_price("20000").unwrap()), -100_000);
    // The same short gains it; closing it at 20,000 realises exactly +0.1 BTC.
    let mut q = Position::flat(0);
    q.apply_fill(ins, -100, mark);
    let exit = ins.parse_price("20000").unwrap();
    assert_eq!(q.unrealized(ins, exit), 100_000);
    assert_eq!(q.apply_fill(ins, 100, exit), 100_000);
    assert_eq!((q.size, q.entry_notional), (0, 0));
    // Health of that long with 0.01 BTC isolated: equity 0.01, MM 0.0016.
    let h = unit_health(&set, &[Some(mark)], QUOTE_SCALE / 100, std::iter::once(&p)).unwrap();
    assert_eq!((h.equity, h.maintenance()), (10_000, 1_600));
}

#[test]
fn coin_amounts_round_against_the_holder_and_fills_are_antisymmetric() {
    let set = btcusd();
    let ins = set.get(0);
    // 3 contracts at 7.0 USD (70 ticks): 3 × 10^9 / 70 = 42,857,142.857… units.
    assert_eq!(ins.notional(3, 70), 42_857_143);
    assert_eq!(ins.notional(-3, 70), 42_857_142);
    assert_eq!(ins.mark_value(3, 70), -42_857_143);
    assert_eq!(ins.mark_value(-3, 70), 42_857_142);
    assert_eq!(ins.fill_value(3, 70), -42_857_142);
    assert_eq!(ins.fill_value(-3, 70), 42_857_142);
    assert_eq!(ins.signed_notional(-3, 70), -42_857_142);
}

/// Small deterministic generator for the case tables below.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> i64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n) as i64
    }
}

/// Liquidatable at `mark` by the health function (the truth the trigger must match).
fn liquidatable(set: &InstrumentSet, p: &Position, balance: i128, mark: i64) -> bool {
    unit_health(set, &[Some(mark)], balance, std::iter::once(p)).unwrap().liquidatable()
}

#[test]
fn trigger_flips_the_liquidatable_flag_exactly() {
    let set = btcusd();
    let ins = set.get(0);
    let mut rng = Lcg(7);
    let mut checked = 0;
    for case in 0..3_000 {
        let size = (1 + rng.next(if case % 3 == 0 { 200_000 } else { 3_000 })) * if case % 2 == 0 { 1 } else { -1 };
        let entry_px = 50_000 + rng.next(600_000); // 5,000 to 65,000 USD
        let mut p = Position::flat(0);
        p.apply_fill(ins, size, entry_px);
        // Balance: from a sliver to above the notional (leverage ~1x to ~250x).
        let notional = ins.notional(size, entry_px);
        let balance = 1 + rng.next(u64::try_from(notional).unwrap().max(2)) as i128 * (1 + rng.next(3)) as i128 / 2;
        let t = margin::trigger(ins, size, p.entry_notional, RATE_SCALE * balance).unwrap();
        let at = match t {
            Trigger::Long(t) | Trigger::Short(t) => t,
        };
        assert_eq!(matches!(t, Trigger::Long(_)), size > 0);
        if !(1..=2_000_000_000).contains(&at) {
            // No positive threshold: the flag must be constant over prices.
            let all = liquidatable(&set, &p, balance, 1) == liquidatable(&set, &p, balance, 10_000_000);
            assert!(all && t.crossed(1) == liquidatable(&set, &p, balance, 1), "case {case}: {t:?}");
            continue;
        }
        for mark in [at - 2, at - 1, at, at + 1, at + 2].into_iter().filter(|&m| m >= 1) {
            assert_eq!(t.crossed(mark), liquidatable(&set, &p, balance, mark), "case {case}: size {size} entry {entry_px} balance {balance} {t:?} mark {mark}");
        }
        checked += 1;
    }
    assert!(checked > 2_000, "only {checked} cases had a finite trigger");
}

#[test]
fn trigger_crosses_brackets_and_cross_accounts_use_the_base() {
    let set = btcusd();
    let ins = set.get(0);
    // 5,000 contracts long @ 25,000 (20 BTC, third bracket), 1.5 BTC wallet.
    let mut p = Position::flat(0);
    p.apply_fill(ins, 5_000, 250_000);
    let balance = 1_500_000;
    let t = margin::trigger(ins, 5_000, p.entry_notional, RATE_SCALE * balance).unwrap();
    let Trigger::Long(lp) = t else { panic!("{t:?}") };
    assert!(liquidatable(&set, &p, balance, lp - 1) && !liquidatable(&set, &p, balance, lp));
    // Third bracket (1 %, cum 0.055 BTC): 21.5 − c = 0.01·c − 0.055 at
    // c = 21.555 ÷ 1.01 = 21.3415841… BTC; smallest liquidatable c in units is
    // 21,341,585, so LP = ⌈5·10^12 ÷ 21,341,584⌉ = 234,285 ticks (23,428.5 USD).
    assert_eq!(lp, 234_285);
    let n = ins.notional(5_000, lp);
    assert!(n > 10 * QUOTE_SCALE, "third bracket: {n}");
    // A second, losing position in the same cross unit lowers the base: LP rises.
    let other = -QUOTE_SCALE / 10;
    let t2 = margin::trigger(ins, 5_000, p.entry_notional, RATE_SCALE * (balance + other)).unwrap();
    assert!(t2 > t, "{t2:?} vs {t:?}");
}

#[test]
fn bankruptcy_price_is_the_last_price_with_non_negative_equity() {
    let set = btcusd();
    let ins = set.get(0);
    let mut rng = Lcg(11);
    for case in 0..2_000 {
        let size = (1 + rng.next(50_000)) * if case % 2 == 0 { 1 } else { -1 };
        let entry_px = 100_000 + rng.next(500_000);
        let mut p = Position::flat(0);
        p.apply_fill(ins, size, entry_px);
        let balance = 1 + i128::from(rng.next(u64::try_from(ins.notional(size, entry_px)).unwrap().max(2)));
        let equity = |mark: i64| balance + p.unrealized(ins, mark);
        let Some(bp) = margin::bankruptcy_price(ins, size, p.entry_notional, balance) else {
            assert!(size < 0, "a funded long has a bankruptcy price (case {case})");
            continue;
        };
        assert!(equity(bp) >= 0, "case {case}");
        let worse = if size > 0 { bp - 1 } else { bp + 1 };
        if worse > 0 {
            assert!(equity(worse) < 0, "case {case}: bp {bp}");
        }
    }
    // A short with a balance above its whole entry value never goes bankrupt.
    assert_eq!(bankruptcy_price(ins, -100, 400_000, 400_001), None);
}

#[test]
fn a_flipping_fill_moves_exactly_its_rounded_value() {
    // Long 3 @ 7.0, then sell 5 @ 7.1 (close 3, open 2 short): the cash moved,
    // realized − Δentry, is −fill_value(−5) = 5 × 10^9 ÷ 71 rounded toward zero.
    let set = btcusd();
    let ins = set.get(0);
    let mut p = Position::flat(0);
    p.apply_fill(ins, 3, 70);
    let before = p.entry_notional;
    let realized = p.apply_fill(ins, -5, 71);
    assert_eq!(realized - (p.entry_notional - before), -ins.fill_value(-5, 71));
    assert_eq!(ins.fill_value(-5, 71), 70_422_535);
    assert_eq!(p.size, -2);
}
