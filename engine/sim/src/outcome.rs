//! Outcome metrics of one policy over one replay, defined once here and in
//! `docs/RESULTS.md`.
//!
//! Money is integer quote units (`i128`); ratios are kept as exact sums and
//! turned into basis points only when reported. No loss can leave these
//! figures: every unit a liquidation costs someone other than the liquidated
//! account is in [`Outcome::total_loss_to_others`] — insurance-fund draws,
//! the haircut ADL pushed onto counterparties (against the mark at ADL time),
//! socialised bad debt, and the backstop vault's mark-to-market loss.

use gavel_engine::engine::VolumeByRoute;
use gavel_engine::latency::StageHistogram;

/// Time series kept for the report.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// `(event time, mark)` at every mark the engine published, ticks.
    pub mark: Vec<(i64, i64)>,
    /// `(event time, fill price)` of every liquidation fill, ticks.
    pub liquidations: Vec<(i64, i64)>,
    /// `(event time, balance)` of the insurance fund after every liquidation fill, quote units.
    pub insurance_fund: Vec<(i64, i128)>,
}

/// What one policy's replay produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Policy name.
    pub policy: String,
    /// Loss no one covered (the fund was empty and ADL found no counterparty), quote units.
    pub bad_debt: i128,
    /// Insurance fund at the start, quote units.
    pub fund_start: i128,
    /// Insurance fund at the end, quote units.
    pub fund_end: i128,
    /// Lowest insurance fund balance, quote units.
    pub fund_min: i128,
    /// Drawn from the fund to cover closes beyond bankruptcy, quote units.
    pub fund_draws: i128,
    /// Σ over ADL counterparties of their loss against the mark at ADL time, quote units.
    pub adl_counterparty_loss: i128,
    /// Notional moved by ADL at the bankruptcy price, quote units (a volume, not a loss).
    pub adl_notional: i128,
    /// Of `adl_counterparty_loss`, what went beyond the shortfall each ADL round covered
    /// (`EngineMetrics::adl_excess`), quote units.
    pub adl_excess: i128,
    /// Counterparties ADL took a loss from (against the mark).
    pub adl_accounts_hit: u64,
    /// The largest ADL loss one counterparty took over the run, quote units.
    pub adl_largest_loss: i128,
    /// The backstop vault's loss: start balance minus its equity at the last mark, if positive.
    pub backstop_loss: i128,
    /// Σ (arrival mark − fill price) × lots × multiplier over liquidation fills, signed as harm.
    pub arrival_harm: i128,
    /// Σ arrival mark × lots × multiplier over the same fills.
    pub arrival_notional: i128,
    /// Mean per-fill arrival slippage, bps (analytics).
    pub arrival_slippage_per_fill_bps: f64,
    /// Equity the liquidated accounts still hold at the last mark (partially liquidated included).
    pub user_equity_kept: i128,
    /// Penalties paid into the fund.
    pub penalties: i128,
    /// Liquidation episodes.
    pub liquidations: u64,
    /// Of which planned as full closes.
    pub full_liquidations: u64,
    /// Distinct accounts liquidated.
    pub accounts_touched: u64,
    /// Attempts that filled nothing (counted apart from liquidations).
    pub zero_fill_attempts: u64,
    /// Lots closed per route.
    pub volume: VolumeByRoute,
    /// Longest chain of liquidations each triggered within a second of the previous fill.
    pub cascade_depth: u32,
    /// First trigger → solvent again, ns, per recovered account (p50, p99).
    pub time_to_solvency_ns: (u64, u64),
    /// Predictive margin calls sent.
    pub margin_calls: u64,
    /// Liquidations that started within the horizon after a margin call.
    pub liquidations_preceded_by_call: u64,
    /// Margin calls sized on an implied vol above the realised estimate.
    pub margin_calls_on_implied: u64,
    /// Reduce-only orders clients sent in answer to margin calls (the world's `call_response`).
    pub margin_call_orders: u64,
    /// Pre-emptive reductions the engine started on margin calls (policy `preempt_per_mille`).
    pub preemptive_reductions: u64,
    /// Lots they closed (not in `volume`).
    pub preemptive_lots: i64,
    /// Of them, how many became liquidations while they ran.
    pub preemptive_upgraded: u64,
    /// What their fills cost the reduced accounts against the mark at each reduction's start, quote units.
    pub preemptive_cost: i128,
    /// Deficit the liquidated accounts already had at their first trigger, quote units
    /// (`EngineMetrics::deficit_at_first_trigger`).
    pub deficit_at_first_trigger: i128,
    /// Margin call → the liquidation it preceded, ns (p50, p99).
    pub call_lead_time_ns: (u64, u64),
    /// Largest gap between captured and visible mid on any venue, hundredths of a bp.
    pub peak_impact_centi_bps: i64,
    /// Ledger conservation identity, left minus right; 0 when value is conserved.
    pub conservation_error: i128,
    /// Counters of what the engine refused or ignored: `(name, count)`.
    pub counters: Vec<(&'static str, u64)>,
    /// Latency stages of the run, pipeline order.
    pub latency: Vec<StageHistogram>,
}

impl Outcome {
    /// Every unit of loss borne by anyone other than the liquidated accounts.
    pub fn total_loss_to_others(&self) -> i128 {
        self.fund_draws + self.adl_counterparty_loss + self.bad_debt + self.backstop_loss
    }

    /// Volume-weighted slippage against the arrival mark, bps (analytics only).
    pub fn arrival_slippage_bps(&self) -> f64 {
        if self.arrival_notional == 0 {
            return 0.0;
        }
        self.arrival_harm as f64 / self.arrival_notional as f64 * 10_000.0
    }

    /// Partial liquidation episodes.
    pub fn partial_liquidations(&self) -> u64 {
        self.liquidations - self.full_liquidations
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn outcome() -> Outcome {
        Outcome {
            policy: "p".into(),
            bad_debt: 0,
            fund_start: 0,
            fund_end: 0,
            fund_min: 0,
            fund_draws: 0,
            adl_counterparty_loss: 0,
            adl_notional: 0,
            adl_excess: 0,
            adl_accounts_hit: 0,
            adl_largest_loss: 0,
            backstop_loss: 0,
            arrival_harm: 0,
            arrival_notional: 0,
            arrival_slippage_per_fill_bps: 0.0,
            user_equity_kept: 0,
            penalties: 0,
            liquidations: 0,
            full_liquidations: 0,
            accounts_touched: 0,
            zero_fill_attempts: 0,
            volume: VolumeByRoute::default(),
            cascade_depth: 0,
            time_to_solvency_ns: (0, 0),
            margin_calls: 0,
            liquidations_preceded_by_call: 0,
            margin_calls_on_implied: 0,
            margin_call_orders: 0,
            preemptive_reductions: 0,
            preemptive_lots: 0,
            preemptive_upgraded: 0,
            preemptive_cost: 0,
            deficit_at_first_trigger: 0,
            call_lead_time_ns: (0, 0),
            peak_impact_centi_bps: 0,
            conservation_error: 0,
            counters: Vec::new(),
            latency: Vec::new(),
        }
    }

    #[test]
    fn a_loss_moved_between_buckets_does_not_shrink_the_total() {
        // The same 100 of loss, borne by the fund, by ADL counterparties, as bad debt or by
        // the backstop vault: the total loss to others is the same.
        let mut totals = Vec::new();
        for k in 0..4 {
            let mut o = outcome();
            match k {
                0 => o.fund_draws = 100,
                1 => o.adl_counterparty_loss = 100,
                2 => o.bad_debt = 100,
                _ => o.backstop_loss = 100,
            }
            totals.push(o.total_loss_to_others());
        }
        assert_eq!(totals, vec![100; 4]);
    }

    #[test]
    fn arrival_slippage_is_volume_weighted() {
        let mut o = outcome();
        o.arrival_harm = 40;
        o.arrival_notional = 4_000;
        assert!((o.arrival_slippage_bps() - 100.0).abs() < 1e-9);
    }
}
