//! Outcome metrics of a liquidation policy over one replay.
//!
//! Money is integer quote units (`i128`) throughout; ratios such as slippage
//! are kept as exact numerator/denominator sums and turned into basis points
//! only when reported. Every metric is defined in `docs/SIMULATION.md`.

use crate::latency::StageHistogram;

/// Accumulates one policy's outcome during a replay.
#[derive(Clone, Debug)]
pub struct OutcomeRecorder {
    /// Policy name.
    pub policy: String,
    /// Losses no one covered (closes worse than bankruptcy beyond the fund and ADL), quote units.
    pub bad_debt: i128,
    /// Insurance fund at the start, quote units.
    pub insurance_fund_start: i128,
    /// Insurance fund now, quote units.
    pub insurance_fund: i128,
    /// Lowest insurance fund balance seen, quote units.
    pub insurance_fund_min: i128,
    /// Notional closed on profitable counterparties by auto-deleveraging, quote units.
    pub adl_notional: i128,
    /// Σ |fill price − mark at trigger| × lots × quote per tick-lot, over liquidation fills, signed so that
    /// a worse price for the liquidated account is positive (quote units).
    pub slippage_cost: i128,
    /// Σ mark at trigger × lots × quote per tick-lot over liquidation fills (quote units).
    pub liquidated_notional: i128,
    /// Collateral liquidated accounts lost beyond the mark value of what was closed
    /// (slippage + penalties they paid), quote units.
    pub collateral_lost: i128,
    /// Equity liquidated accounts still had after their last liquidation, quote units.
    pub user_equity_kept: i128,
    /// Liquidation penalties charged, quote units.
    pub penalties: i128,
    /// Keeper incentives paid out of penalties, quote units.
    pub keeper_incentives: i128,
    /// Liquidations that closed the whole position.
    pub full_liquidations: u64,
    /// Liquidations that closed part of the position.
    pub partial_liquidations: u64,
    /// Longest chain of liquidations each triggered by the impact of the one before.
    pub cascade_depth: u32,
    /// Per liquidated account: event time from first trigger to healthy or closed, ns.
    pub time_to_solvency_ns: Vec<i64>,
    /// Largest simulated price impact on the mark, basis points × 100 (hundredths of a bp).
    pub peak_impact_centi_bps: i64,
    /// Sum of all balances minus their starting sum; 0 when value is conserved.
    pub conservation_error: i128,
    /// Latency stages of the run (stage name order is the pipeline order).
    pub latency: Vec<StageHistogram>,
}

impl OutcomeRecorder {
    /// A recorder for `policy` with the insurance fund starting at `fund_start`.
    pub fn new(policy: impl Into<String>, fund_start: i128) -> Self {
        OutcomeRecorder {
            policy: policy.into(),
            bad_debt: 0,
            insurance_fund_start: fund_start,
            insurance_fund: fund_start,
            insurance_fund_min: fund_start,
            adl_notional: 0,
            slippage_cost: 0,
            liquidated_notional: 0,
            collateral_lost: 0,
            user_equity_kept: 0,
            penalties: 0,
            keeper_incentives: 0,
            full_liquidations: 0,
            partial_liquidations: 0,
            cascade_depth: 0,
            time_to_solvency_ns: Vec::new(),
            peak_impact_centi_bps: 0,
            conservation_error: 0,
            latency: Vec::new(),
        }
    }

    /// Records a new insurance fund balance.
    pub fn set_insurance_fund(&mut self, balance: i128) {
        self.insurance_fund = balance;
        self.insurance_fund_min = self.insurance_fund_min.min(balance);
    }

    /// Records one liquidation fill. `side_sign` is +1 when the liquidated
    /// account sells (a long being closed), −1 when it buys back a short.
    pub fn record_fill(&mut self, side_sign: i64, mark_at_trigger: i64, fill_price: i64, lots: i64, quote_per_tick_lot: i128) {
        let lots = i128::from(lots.abs());
        // A seller is hurt by a lower fill, a buyer by a higher one.
        let worse_by = i128::from(side_sign) * i128::from(mark_at_trigger - fill_price);
        self.slippage_cost += worse_by * lots * quote_per_tick_lot;
        self.liquidated_notional += i128::from(mark_at_trigger) * lots * quote_per_tick_lot;
    }

    /// Volume-weighted slippage against the mark at trigger, basis points (analytics only).
    pub fn slippage_bps(&self) -> f64 {
        if self.liquidated_notional == 0 {
            return 0.0;
        }
        self.slippage_cost as f64 / self.liquidated_notional as f64 * 10_000.0
    }

    /// All liquidations, full and partial.
    pub fn liquidations(&self) -> u64 {
        self.full_liquidations + self.partial_liquidations
    }

    /// Time to solvency at quantile `q` (nearest rank), ns; 0 when nothing was liquidated.
    pub fn time_to_solvency_quantile(&self, q: f64) -> i64 {
        if self.time_to_solvency_ns.is_empty() {
            return 0;
        }
        let mut sorted = self.time_to_solvency_ns.clone();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// Formats integer money with `decimals` places (e.g. 1_234_500 with 6 → `1.234500`).
pub fn format_money(units: i128, decimals: u32) -> String {
    if decimals == 0 {
        return units.to_string();
    }
    let scale = 10i128.pow(decimals);
    let sign = if units < 0 { "-" } else { "" };
    format!("{sign}{}.{:0width$}", units.abs() / scale, units.abs() % scale, width = decimals as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slippage_is_volume_weighted_and_signed_by_harm() {
        let mut o = OutcomeRecorder::new("p", 1000);
        // A long sold 10 lots at 99 with the mark at 100: 1 tick worse on 10 lots.
        o.record_fill(1, 100, 99, 10, 1);
        // A short bought back 30 lots at 101 with the mark at 100: 1 tick worse on 30 lots.
        o.record_fill(-1, 100, 101, 30, 1);
        assert_eq!(o.slippage_cost, 40);
        assert_eq!(o.liquidated_notional, 4000);
        assert!((o.slippage_bps() - 100.0).abs() < 1e-9);
        // A fill better than the mark reduces the cost.
        o.record_fill(1, 100, 102, 10, 1);
        assert_eq!(o.slippage_cost, 20);
    }

    #[test]
    fn fund_minimum_and_quantiles() {
        let mut o = OutcomeRecorder::new("p", 1000);
        o.set_insurance_fund(700);
        o.set_insurance_fund(1200);
        assert_eq!((o.insurance_fund, o.insurance_fund_min), (1200, 700));
        assert_eq!(o.time_to_solvency_quantile(0.5), 0);
        o.time_to_solvency_ns = vec![5, 1, 4, 2, 3];
        assert_eq!(o.time_to_solvency_quantile(0.5), 3);
        assert_eq!(o.time_to_solvency_quantile(0.99), 5);
        assert_eq!(o.time_to_solvency_quantile(0.0), 1);
    }

    #[test]
    fn money_formats_exactly() {
        assert_eq!(format_money(1_234_500, 6), "1.234500");
        assert_eq!(format_money(-5, 2), "-0.05");
        assert_eq!(format_money(0, 6), "0.000000");
        assert_eq!(format_money(42, 0), "42");
    }
}
