//! Portfolio margin on a generated crash: accounts long ETH and short BTC
//! (a hedge, as a basis or relative-value book holds one) go through the
//! crash generator's BTC path and an ETH path that falls `eth_beta` times as
//! far. The same accounts are margined twice, with the BTC/ETH offset
//! group's credit (netted) and without it (gross), and each book's trigger
//! index reports when an account first becomes liquidatable. Nothing is
//! closed: this measures what netting changes in who is flagged and when, and
//! how much equity is left at the flag.

use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::risk::margin::cross_health;
use gavel_engine::risk::{MarginMode, RiskBook};
use gavel_feeds::rng::SplitMix64;

use crate::generate::market::{crash_path, CrashSpec};

/// The shipped instruments (BTCUSDT tick 0.1, lot 0.001; ETHUSDT tick 0.01, lot 0.001).
const INSTRUMENTS: &str = include_str!("../../../docs/examples/instruments.toml");
/// ETH's start price, ticks of 0.01 (3,000.00).
const ETH_START: i64 = 300_000;

/// The run's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortfolioCrashSpec {
    /// Seed of the crash path and the accounts.
    pub seed: u64,
    /// Accounts.
    pub accounts: usize,
    /// BTC's fall, per mille.
    pub drop_per_mille: i64,
    /// ETH's move per BTC move, tenths (12: ETH falls 1.2 × as far).
    pub eth_beta_tenths: i64,
    /// Offset credit of the BTC/ETH group, as written in the instruments file.
    pub credit: String,
}

/// One margining's figures.
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct FlagOutcome {
    /// Σ maintenance at the start, quote units.
    pub start_maintenance: i128,
    /// Accounts flagged liquidatable during the crash.
    pub flagged: usize,
    /// Of those, with equity already below zero when first flagged.
    pub flagged_below_zero: usize,
    /// Σ equity at the first flag over flagged accounts, quote units (what a liquidation had to work with).
    pub equity_at_flag: i128,
}

/// Netted and gross side by side.
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PortfolioCrashOutcome {
    /// With the offset credit.
    pub netted: FlagOutcome,
    /// Without it.
    pub gross: FlagOutcome,
}

fn book(with_credit: Option<&str>) -> anyhow::Result<RiskBook> {
    let text = match with_credit {
        Some(c) => format!("{INSTRUMENTS}\n[[offset]]\nname = \"btc-eth\"\ninstruments = [\"BTCUSDT\", \"ETHUSDT\"]\ncredit = \"{c}\"\n"),
        None => INSTRUMENTS.to_string(),
    };
    Ok(RiskBook::new(InstrumentSet::parse(&text, "instruments.toml").map_err(|e| anyhow::anyhow!("{e}"))?))
}

/// Runs the crash on both margining rules.
pub fn run(spec: &PortfolioCrashSpec) -> anyhow::Result<PortfolioCrashOutcome> {
    // Index 0 netted, 1 gross; the probe (netted) sizes each account's collateral before it is added.
    let mut books = [book(Some(&spec.credit))?, book(None)?];
    let mut probe = book(Some(&spec.credit))?;
    let set = books[0].instruments().clone();
    let (btc, eth) = (set.id("BTCUSDT").expect("shipped"), set.id("ETHUSDT").expect("shipped"));
    let crash = CrashSpec { seed: spec.seed, drop_per_mille: spec.drop_per_mille, ..CrashSpec::default() };
    let path = crash_path(&crash);
    let btc_start = crash.start_price_ticks;
    let (btc_mult, eth_mult) = (set.get(btc).quote_per_tick_lot, set.get(eth).quote_per_tick_lot);
    let mut rng = SplitMix64::new(spec.seed ^ 0x9027_f011);
    let mut crossed = Vec::new();
    for b in books.iter_mut().chain(std::iter::once(&mut probe)) {
        b.set_mark(btc, btc_start, &mut crossed);
        b.set_mark(eth, ETH_START, &mut crossed);
    }
    for i in 0..spec.accounts {
        // 5,000-100,000 USDT of ETH long, hedged by 60-100 % of it in BTC short.
        let notional = rng.range_i64(5_000, 100_000);
        let eth_lots = notional * 1_000 * 100 / ETH_START; // lots of 0.001 ETH at 3,000.00
        let btc_lots = -(notional * rng.range_i64(60, 100) / 100) * 1_000 * 10 / btc_start;
        // Collateral 2-15 % of the long leg, never below 1.1 × the netted maintenance.
        let share_bp = 200 + rng.below(1_301) as i128;
        // Linear entry notional: Σ fill values, the sign of the size (entered at the start prices).
        let legs = [(eth, eth_lots, i128::from(eth_lots) * i128::from(ETH_START) * eth_mult), (btc, btc_lots, i128::from(btc_lots) * i128::from(btc_start) * btc_mult)];
        let name = format!("pm-{i}");
        let id = probe.add_account(&name, MarginMode::Cross, 0).expect("fresh name");
        for &(ins, lots, entry) in &legs {
            probe.set_position(id, ins, lots, entry, 0);
        }
        let h = cross_health(probe.instruments(), probe.marks(), probe.account(id)).expect("marked");
        let collateral = (i128::from(notional) * QUOTE_SCALE * share_bp / 10_000).max((h.maintenance_scaled / RATE_SCALE + 1) * 11 / 10);
        for b in &mut books {
            let id = b.add_account(&name, MarginMode::Cross, collateral).expect("fresh name");
            for &(ins, lots, entry) in &legs {
                b.set_position(id, ins, lots, entry, 0);
            }
        }
    }
    let mut out = [FlagOutcome::default(), FlagOutcome::default()];
    let mut flagged = [vec![false; spec.accounts], vec![false; spec.accounts]];
    for (k, b) in books.iter_mut().enumerate() {
        b.reserve_index();
        b.reevaluate_all();
        out[k].start_maintenance = b
            .accounts()
            .iter()
            .filter_map(|a| cross_health(b.instruments(), b.marks(), a))
            .map(|h| h.maintenance_scaled / RATE_SCALE)
            .sum();
    }
    for p in &path {
        let eth_price = ETH_START + spec.eth_beta_tenths * (p.mid_ticks - btc_start) * ETH_START / btc_start / 10;
        for (k, b) in books.iter_mut().enumerate() {
            crossed.clear();
            b.set_mark(btc, p.mid_ticks, &mut crossed);
            b.set_mark(eth, eth_price.max(1), &mut crossed);
            for &id in &crossed {
                let slot = &mut flagged[k][id as usize];
                if *slot {
                    continue;
                }
                let h = cross_health(b.instruments(), b.marks(), b.account(id)).expect("marked");
                if !h.liquidatable() {
                    continue; // crossed on the first mark, healed by the second
                }
                *slot = true;
                out[k].flagged += 1;
                out[k].flagged_below_zero += usize::from(h.equity < 0);
                out[k].equity_at_flag += h.equity;
            }
        }
    }
    let [netted, gross] = out;
    Ok(PortfolioCrashOutcome { netted, gross })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(credit: &str) -> PortfolioCrashSpec {
        PortfolioCrashSpec { seed: 1, accounts: 1_000, drop_per_mille: 150, eth_beta_tenths: 12, credit: credit.into() }
    }

    #[test]
    fn netting_lowers_maintenance_and_flags_fewer_hedged_accounts() {
        let o = run(&spec("0.5")).unwrap();
        assert!(o.netted.start_maintenance < o.gross.start_maintenance, "{o:?}");
        assert!(o.gross.flagged > 0 && o.netted.flagged < o.gross.flagged, "{o:?}");
        assert_eq!(run(&spec("0.5")).unwrap(), o);
    }

    #[test]
    fn a_zero_credit_margins_exactly_as_gross() {
        let o = run(&spec("0")).unwrap();
        assert_eq!(o.netted, o.gross);
    }
}
