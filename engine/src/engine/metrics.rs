//! Counters the engine keeps while it runs: what liquidation did, where it
//! filled, who paid, and the bad input it refused. Plain integers, updated
//! in place (no allocation); the report turns them into figures.

use gavel_feeds::wire::Venue;

/// Number of venue codes a volume table covers.
pub const VENUE_CODES: usize = 16;

/// Liquidation volume in lots by where it was closed.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VolumeByRoute {
    /// Matched in gavel's own book.
    pub own_book: i64,
    /// Taken by liquidators in auctions.
    pub auction: i64,
    /// Filled on external venues, by venue code.
    pub external: [i64; VENUE_CODES],
    /// Taken by the backstop vault.
    pub backstop: i64,
    /// Auto-deleveraged onto counterparties.
    pub adl: i64,
}

impl VolumeByRoute {
    /// Lots closed through any route.
    pub fn total(&self) -> i64 {
        self.own_book + self.auction + self.external.iter().sum::<i64>() + self.backstop + self.adl
    }

    /// `(name, lots)` for every route with volume, external venues by name.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, i64)> + '_ {
        let fixed = [("own_book", self.own_book), ("auction", self.auction), ("backstop", self.backstop), ("adl", self.adl)];
        let external = self
            .external
            .iter()
            .enumerate()
            .filter(|(_, q)| **q != 0)
            .map(|(code, q)| (Venue::from_u8(code as u8).map_or("unknown_venue", Venue::name), *q));
        fixed.into_iter().chain(external)
    }
}

/// Everything the engine counts.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
pub struct EngineMetrics {
    /// Liquidation episodes started (an account entering liquidation).
    pub liquidations: u64,
    /// Of those, planned as a full close.
    pub full_closes: u64,
    /// Distinct accounts ever liquidated.
    pub accounts_touched: u64,
    /// Execution attempts (own-book order, auction, intent round, backstop) that filled nothing.
    pub zero_fill_attempts: u64,
    /// Attempts that filled something.
    pub filled_attempts: u64,
    /// Where liquidations closed, in lots.
    pub volume: VolumeByRoute,
    /// Σ over liquidation fills of the harm against the arrival mark (mark at the account's first
    /// trigger of its episode), quote units: positive = closed worse than arrival.
    pub arrival_harm: i128,
    /// Σ of |arrival mark × lots × multiplier| over the same fills, quote units.
    pub arrival_notional: i128,
    /// Σ of per-fill arrival slippage in 1/100 bps (for the per-fill mean).
    pub arrival_bps_centi_sum: i128,
    /// Liquidation fills counted in `arrival_bps_centi_sum`.
    pub liquidation_fills: u64,
    /// Penalties paid into the insurance fund, quote units.
    pub penalties: i128,
    /// Drawn from the insurance fund to cover closes beyond the bankruptcy price, quote units.
    pub fund_draws: i128,
    /// Σ over ADL counterparties of the loss against the mark at ADL time, quote units.
    pub adl_counterparty_loss: i128,
    /// ADL shortfalls that found no (or too little) opposite interest, lots.
    pub adl_exhausted_lots: i64,
    /// Σ over ADL rounds of the counterparties' loss beyond the shortfall the round covered (the
    /// liquidated margin unit's negative equity at the mark just before it), quote units: the
    /// profit ADL took that solvency did not need. Closing exactly the unfilled lots at the
    /// bankruptcy price leaves only the price's rounding to the tick here.
    #[serde(default)]
    pub adl_excess: i128,
    /// Insurance fund at the start, quote units.
    pub fund_start: i128,
    /// Lowest insurance fund balance seen, quote units.
    pub fund_min: i128,
    /// Longest chain of liquidations each triggered within the cascade window of the previous
    /// one's fill on the same instrument.
    pub cascade_depth: u32,
    /// Accounts that became solvent again after an episode.
    pub solvent_again: u64,
    /// Predictive margin calls sent.
    pub margin_calls: u64,
    /// Liquidations that started within the horizon after a margin call to the account.
    pub liquidations_preceded_by_call: u64,
    /// Margin calls sized on the implied volatility (it was above the realised estimate).
    pub margin_calls_on_implied: u64,
    /// Implied-vol quotes taken.
    pub implied_vol_quotes: u64,
    /// Pre-emptive reductions started on margin calls (the policy's `preempt_per_mille`).
    #[serde(default)]
    pub preemptive_reductions: u64,
    /// Lots those reductions closed (not in `volume`, which counts liquidations).
    #[serde(default)]
    pub preemptive_lots: i64,
    /// Of those reductions, how many became liquidations while they ran.
    #[serde(default)]
    pub preemptive_upgraded: u64,
    /// What the reductions' fills cost their accounts against the mark at each reduction's
    /// start, quote units (negative: they sold above it).
    #[serde(default)]
    pub preemptive_cost: i128,
    /// Σ over liquidated accounts of the deficit (negative equity at the mark) they already had
    /// when the engine first found them liquidatable, quote units. A diagnostic of the market:
    /// closes above that mark recover part of it, closes below add to it. Cross accounts: the
    /// account's equity; isolated: the triggered position's.
    #[serde(default)]
    pub deficit_at_first_trigger: i128,
    /// Client orders accepted.
    pub orders_accepted: u64,
    /// Client orders rejected (any reason).
    pub orders_rejected: u64,
    /// Own-book trades.
    pub own_trades: u64,
    /// Liquidator bids accepted.
    pub bids_accepted: u64,
    /// Liquidator bids refused (unknown auction or liquidator, price, dust, margin).
    pub bids_rejected: u64,
    /// Intent fills for unknown, finished or timed-out intents, or beyond their limit.
    pub stale_intent_fills: u64,
    /// Liquidations not started because the liquidation pool was full.
    pub pool_full: u64,
    /// Venue book updates refused because a mirror side was at capacity.
    pub mirror_overflow: u64,
    /// Input events ignored (unknown venue or instrument, output kinds, bad fields).
    pub ignored_events: u64,
    /// Marks computed.
    pub marks: u64,
}

impl EngineMetrics {
    /// Arrival slippage, volume-weighted, bps (analytics only).
    pub fn arrival_slippage_bps(&self) -> f64 {
        if self.arrival_notional == 0 {
            return 0.0;
        }
        self.arrival_harm as f64 / self.arrival_notional as f64 * 10_000.0
    }

    /// Arrival slippage, mean over liquidation fills, bps (analytics only).
    pub fn arrival_slippage_per_fill_bps(&self) -> f64 {
        if self.liquidation_fills == 0 {
            return 0.0;
        }
        self.arrival_bps_centi_sum as f64 / self.liquidation_fills as f64 / 100.0
    }
}
