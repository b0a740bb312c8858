//! Predictive margin call: warn before an account is liquidatable.
//!
//! A margin unit that is not liquidatable now gets a
//! [`RiskEvent::MarginCallWarning`] when it would be after every one of its
//! positions moves adversely by `k × σ_H` (longs down, shorts up, all at
//! once), where `σ_H` is the realized-volatility estimate over the horizon
//! ([`super::volatility::RealizedVol::sigma_over`]). Shocked marks are
//! rounded to the adverse tick. The check is a scan over accounts, meant to
//! run on a timer or after volatility jumps, not on every mark.

use super::account::{AccountId, MarginMode, Position};
use super::book::RiskBook;
use super::events::RiskEvent;
use super::margin::{unit_health, Health};

/// Warning parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MarginCallParams {
    /// Number of standard deviations.
    pub k_sigma: f64,
}

impl Default for MarginCallParams {
    fn default() -> Self {
        MarginCallParams { k_sigma: 3.0 }
    }
}

fn shocked(mark: i64, size: i64, move_fraction: f64) -> i64 {
    let m = mark as f64;
    if size > 0 {
        ((m * (1.0 - move_fraction)).floor() as i64).max(1)
    } else {
        (m * (1.0 + move_fraction)).ceil() as i64
    }
}

fn check_unit(
    book: &RiskBook,
    balance: i128,
    positions: &[Position],
    only: Option<usize>,
    sigma_h: &[f64],
    params: &MarginCallParams,
) -> Option<(Health, Health)> {
    let pick = |i: usize| only.is_none_or(|o| o == i);
    let sel = || positions.iter().enumerate().filter(move |(i, _)| pick(*i)).map(|(_, p)| p);
    let now = unit_health(book.instruments(), book.marks(), balance, sel())?;
    if now.liquidatable() || now.maintenance_scaled == 0 {
        return None;
    }
    let mut marks = book.marks().to_vec();
    for p in sel().filter(|p| p.size != 0) {
        let i = usize::from(p.instrument);
        let mark = marks[i]?;
        marks[i] = Some(shocked(mark, p.size, params.k_sigma * sigma_h.get(i).copied().unwrap_or(0.0)));
    }
    let after = unit_health(book.instruments(), &marks, balance, sel())?;
    after.liquidatable().then_some((now, after))
}

/// Pushes a warning for every unit of `account` that a k-sigma adverse move
/// would make liquidatable. `sigma_h[i]` is instrument i's σ over the horizon.
pub fn check_account(book: &RiskBook, account: AccountId, sigma_h: &[f64], params: &MarginCallParams, events: &mut Vec<RiskEvent>) {
    let acc = book.account(account);
    let mut warn = |ins, now: Health, after: Health| {
        events.push(RiskEvent::MarginCallWarning {
            account,
            instrument: ins,
            health_e4: now.ratio_e4().unwrap_or(0),
            shocked_health_e4: after.ratio_e4().unwrap_or(0),
        })
    };
    match acc.mode {
        MarginMode::Cross => {
            if let Some((now, after)) = check_unit(book, acc.wallet, &acc.positions, None, sigma_h, params) {
                // Name the position with the largest notional.
                let ins = acc
                    .positions
                    .iter()
                    .filter(|p| p.size != 0)
                    .max_by_key(|p| {
                        book.mark(p.instrument)
                            .map_or(0, |m| book.instruments().get(p.instrument).notional(p.size, m))
                    })
                    .map_or(0, |p| p.instrument);
                warn(ins, now, after);
            }
        }
        MarginMode::Isolated => {
            for (i, p) in acc.positions.iter().enumerate() {
                if p.size == 0 {
                    continue;
                }
                if let Some((now, after)) = check_unit(book, p.isolated_margin, &acc.positions, Some(i), sigma_h, params) {
                    warn(p.instrument, now, after);
                }
            }
        }
    }
}

/// [`check_account`] over every account.
pub fn scan(book: &RiskBook, sigma_h: &[f64], params: &MarginCallParams, events: &mut Vec<RiskEvent>) {
    for id in 0..book.accounts().len() as AccountId {
        check_account(book, id, sigma_h, params, events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::instrument::{InstrumentSet, QUOTE_SCALE};

    fn btc() -> InstrumentSet {
        InstrumentSet::parse(
            r#"[[instrument]]
symbol = "BTCUSDT"
tick_size = "0.1"
lot_size = "0.001"
brackets = [{ notional_cap = "inf", maintenance_rate = "0.004", max_leverage = 125 }]
"#,
            "t",
        )
        .unwrap()
    }

    #[test]
    fn warns_only_inside_the_k_sigma_band() {
        let mut b = RiskBook::new(btc());
        // 1 BTC long @ 50 000 with 1 000 USDT: LP ≈ 49 196.8, 1.6 % below a 50 000 mark.
        let a = b.add_account("a", MarginMode::Cross, 1_000 * QUOTE_SCALE).unwrap();
        b.set_position(a, 0, 1_000, 50_000 * QUOTE_SCALE, 0);
        b.set_mark(0, 500_000, &mut Vec::new());
        let mut ev = Vec::new();
        // 3 σ = 0.9 %: safe.
        check_account(&b, a, &[0.003], &MarginCallParams::default(), &mut ev);
        assert!(ev.is_empty());
        // 3 σ = 3 %: warned, with health now ≥ 1 and shocked < 1.
        check_account(&b, a, &[0.01], &MarginCallParams::default(), &mut ev);
        match ev.as_slice() {
            [RiskEvent::MarginCallWarning {
                health_e4,
                shocked_health_e4,
                ..
            }] => {
                assert!(*health_e4 >= 10_000 && *shocked_health_e4 < 10_000)
            }
            other => panic!("{other:?}"),
        }
        // Already liquidatable: no warning (liquidation handles it).
        ev.clear();
        b.set_mark(0, 491_000, &mut Vec::new());
        scan(&b, &[0.05], &MarginCallParams::default(), &mut ev);
        assert!(ev.is_empty());
    }
}
