//! The simulated participants: liquidators that watch the engine's auction
//! notices and bid through `LiquidatorBid` events after their latency, hedging
//! what they win into the external venues' live books; and a market maker
//! that keeps resting orders in gavel's own book, derived from the external
//! venues' depth. They see only the engine's outputs and speak only through
//! input events.

use gavel_engine::risk::AccountId;

/// One simulated liquidator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiquidatorConfig {
    /// Id in `LiquidatorBid` events.
    pub id: u32,
    /// Event time from seeing a notice to its bid arriving, ns (also its hedge latency).
    pub latency_ns: i64,
    /// Capital in its gavel account, quote units.
    pub capital: i128,
    /// Margin it wants between its bid and what its hedge would fetch, bps.
    pub margin_bps: i64,
}

/// The default liquidators: fast and small, medium, slow and large.
pub fn default_liquidators() -> Vec<LiquidatorConfig> {
    let q = gavel_engine::risk::instrument::QUOTE_SCALE;
    vec![
        LiquidatorConfig { id: 1, latency_ns: 50_000_000, capital: 2_000_000 * q, margin_bps: 8 },
        LiquidatorConfig { id: 2, latency_ns: 200_000_000, capital: 10_000_000 * q, margin_bps: 15 },
        LiquidatorConfig { id: 3, latency_ns: 1_000_000_000, capital: 50_000_000 * q, margin_bps: 30 },
    ]
}

/// A liquidator's state in the world.
#[derive(Clone, Debug)]
pub struct LiquidatorAgent {
    /// Its configuration.
    pub config: LiquidatorConfig,
    /// Its account in the engine.
    pub account: AccountId,
    /// Auctions it has a bid on the way to.
    pub inflight: Vec<u32>,
    /// Lots it hedged on external venues.
    pub hedged_lots: i64,
    /// Lots won in auctions.
    pub won_lots: i64,
}

impl LiquidatorAgent {
    /// Its reservation price for `qty` lots when the hedge would fetch `hedge_notional`
    /// (ticks × lots) for `hedge_filled` lots: buying from a sale it pays at most the hedge's
    /// average less its margin; selling into a buy-back it asks at least that plus its margin.
    pub fn reservation(&self, buying: bool, hedge_filled: i64, hedge_notional: i128) -> Option<i64> {
        if hedge_filled <= 0 {
            return None;
        }
        let avg = hedge_notional / i128::from(hedge_filled);
        let m = i128::from(self.config.margin_bps);
        let p = if buying { avg * (10_000 - m) / 10_000 } else { (avg * (10_000 + m) + 9_999) / 10_000 };
        i64::try_from(p).ok().filter(|p| *p > 0)
    }
}

/// The own-book market maker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarketMakerConfig {
    /// Time between two requotes, ns.
    pub refresh_ns: i64,
    /// Levels quoted per side.
    pub levels: usize,
    /// Share of the external venue's visible level quantity quoted, parts per million.
    pub share_ppm: i64,
    /// Collateral of its account, quote units.
    pub capital: i128,
}

impl Default for MarketMakerConfig {
    fn default() -> Self {
        MarketMakerConfig {
            refresh_ns: 1_000_000_000,
            levels: 5,
            share_ppm: 250_000,
            capital: 50_000_000 * gavel_engine::risk::instrument::QUOTE_SCALE,
        }
    }
}

/// The market maker's state.
#[derive(Clone, Debug, Default)]
pub struct MarketMaker {
    /// Its configuration.
    pub config: MarketMakerConfig,
    /// Its account in the engine.
    pub account: AccountId,
    /// Resting client order ids per instrument.
    pub resting: Vec<Vec<u64>>,
    /// Next client order id.
    pub next_id: u64,
    /// Orders the engine refused.
    pub rejected: u64,
}
