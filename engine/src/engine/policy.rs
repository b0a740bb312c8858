//! What the engine does with a liquidatable account: how much to close, what
//! to charge, and the waterfall of execution stages it walks through in event
//! time, with the escalation that bounds the attempts.

use crate::auction::policy::AuctionPolicy;
use crate::risk::liquidation::LiquidationParams;
use crate::risk::penalty::PenaltyPolicy;
use crate::venue_rules::VenueRules;

/// One stage of the execution waterfall, tried in the order the policy lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// A reduce-only IOC in gavel's own book, limited at the bankruptcy price.
    OwnBook,
    /// A Dutch auction that liquidators take with bids arriving as events.
    Auction,
    /// Orders routed to external venues (market or sliced against depth), filled by the world.
    Route,
}

/// How orders are routed to external venues in a [`Stage::Route`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoutePolicy {
    /// Worst price an intent accepts, in bps from the touch (0: market, bounded only
    /// by what the insurance fund can back below the bankruptcy price).
    pub limit_bps: u32,
    /// Rounds of intents; each round waits `slice_interval_ns` for the books to refill.
    pub slices: u32,
    /// Share of the depth within the limit one round may take, parts per million.
    pub depth_share_ppm: u32,
    /// Event time between two rounds, ns.
    pub slice_interval_ns: i64,
    /// Event time after which an unanswered intent counts as dead, ns.
    pub timeout_ns: i64,
    /// All lots to the deepest venue in one intent (the naive route) instead of a split.
    pub deepest_only: bool,
}

/// How ADL picks the opposite positions that take a shortfall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdlRanking {
    /// gavel's: pro rata over the highest profit × leverage (unrealized PnL × notional ÷ equity).
    ProRata,
    /// Binance's queue: whole positions in order of PnL% × effective leverage (PnL% ÷ leverage at a loss).
    BinanceQueue,
    /// Hyperliquid's queue: whole positions in order of (mark ÷ entry) × (notional ÷ account value).
    HyperliquidQueue,
}

impl AdlRanking {
    /// Every ranking, in the order of [`AdlRanking::NAMES`].
    pub const ALL: [AdlRanking; 3] = [AdlRanking::ProRata, AdlRanking::BinanceQueue, AdlRanking::HyperliquidQueue];
    /// The policy-file spellings, in the order of [`AdlRanking::ALL`].
    pub const NAMES: [&'static str; 3] = ["pro-rata", "binance-queue", "hyperliquid-queue"];

    /// The policy-file spelling.
    pub fn name(self) -> &'static str {
        match self {
            AdlRanking::ProRata => Self::NAMES[0],
            AdlRanking::BinanceQueue => Self::NAMES[1],
            AdlRanking::HyperliquidQueue => Self::NAMES[2],
        }
    }

    /// The ranking spelled `name` ([`AdlRanking::NAMES`]).
    pub fn parse(name: &str) -> Option<AdlRanking> {
        Self::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A complete liquidation policy for the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct EnginePolicy {
    /// Name shown in reports.
    pub name: String,
    /// Close only what restores the margin (true) or the whole position (false).
    pub partial: bool,
    /// Penalty rule (paid into the insurance fund).
    pub penalty: PenaltyPolicy,
    /// Mark EMA half-life in event time, ns (0 = the raw median of venues).
    pub oracle_half_life_ns: u64,
    /// Partial-liquidation buffer and full-close threshold.
    pub liquidation: LiquidationParams,
    /// The waterfall, in order.
    pub stages: Vec<Stage>,
    /// Auction parameters ([`Stage::Auction`]).
    pub auction: AuctionPolicy,
    /// How long an auction runs before the next stage, ns of event time.
    pub auction_duration_ns: i64,
    /// Routing parameters ([`Stage::Route`]).
    pub route: RoutePolicy,
    /// Episodes an account may go through before escalation (≥ 1).
    pub max_attempts: u32,
    /// Event time between a failed episode and the next trigger of the same account, ns.
    pub retry_after_ns: i64,
    /// Escalation goes to the backstop vault before ADL (false: straight to ADL).
    pub backstop: bool,
    /// Escalate (backstop, then ADL) as soon as an episode ends with equity below this
    /// share of the maintenance margin, ppm (0: only when bankrupt or out of attempts).
    pub escalate_below_maintenance_ppm: u32,
    /// A real venue's rules decide whether to liquidate, how much, and the worst price of
    /// the liquidation order (`None`: gavel's own plan, limited at the bankruptcy price).
    pub rules: Option<VenueRules>,
    /// How ADL spreads a shortfall.
    pub adl: AdlRanking,
    /// Pre-emptive reduction on a margin call, per mille of the called position (0: off).
    /// The engine closes that share through the policy's own-book and route stages (no
    /// auction), with no penalty, never past the position's liquidation price; a reduction
    /// that fills nothing simply ends (no backstop, no ADL). See [`super::margin_call`].
    pub preempt_per_mille: u32,
    /// Auction stop, bps (0: off): at the first mark of the instrument (or auction step)
    /// where the mark has moved more than this against the liquidation since its trigger
    /// (and stayed so for [`Self::auction_stop_confirm_ns`]),
    /// the auction ends and the rest of the waterfall closes the whole open position without
    /// waiting: no auction, the route in one market round across venues ([`MARKET_ROUTE`]).
    pub auction_abort_bps: u32,
    /// A liquidation whose auction was stopped ([`Self::auction_abort_bps`]) gets no later
    /// episode: what its market round leaves goes to the backstop (if any) and ADL at once,
    /// as after the last attempt, instead of waiting `retry_after_ns` in a market that ran away.
    pub escalate_when_stopped: bool,
    /// How long the mark must stay past the auction stop before it fires, ns of event time
    /// (0: at the first mark past it). A gap that comes back within this time does not stop
    /// the auction.
    pub auction_stop_confirm_ns: i64,
}

/// The route of a liquidation whose auction was stopped: one round at market, split over every venue's
/// depth, bounded only by what the insurance fund backs past the bankruptcy price.
pub const MARKET_ROUTE: RoutePolicy = RoutePolicy {
    limit_bps: 0,
    slices: 1,
    depth_share_ppm: 1_000_000,
    slice_interval_ns: 0,
    timeout_ns: 2_000_000_000,
    deepest_only: false,
};

/// The built-in policy names, in comparison order.
pub const BUILTIN_POLICIES: [&str; 5] = ["naive", "partial", "auction", "sliced", "adaptive"];

impl EnginePolicy {
    /// A built-in policy by name (see [`BUILTIN_POLICIES`]).
    ///
    /// - `naive`: close everything at once: one market intent to the deepest external
    ///   venue; what it cannot fill is auto-deleveraged at the bankruptcy price.
    /// - `partial`: the minimal partial close, own book first, then market intents; three
    ///   attempts, then ADL.
    /// - `auction`: partial close: own book, then a Dutch auction among liquidators;
    ///   escalation to the backstop vault.
    /// - `sliced`: partial close: own book, then intents sized against venue depth in
    ///   five rounds a second apart; escalation to the backstop vault.
    /// - `adaptive`: partial close: own book, auction, then sliced intents, with a dynamic
    ///   penalty (0.15 % + volatility and size terms, capped at 0.35 %); then ADL, no
    ///   backstop vault (the vault holds what it takes through the fall). The auction stops
    ///   once the mark has stayed more than 1 bp below its trigger's (above, for a short) for
    ///   200 ms (`auction_stop_confirm_ns`; marks come every 100 ms), and the whole open
    ///   position then goes to market at once (`auction_abort_bps`); what that round leaves
    ///   is deleveraged at once, with no retry (`escalate_when_stopped`).
    pub fn builtin(name: &str) -> Option<Self> {
        let market = MARKET_ROUTE;
        let sliced = RoutePolicy {
            limit_bps: 50,
            slices: 5,
            depth_share_ppm: 500_000,
            slice_interval_ns: 1_000_000_000,
            timeout_ns: 2_000_000_000,
            deepest_only: false,
        };
        let base = EnginePolicy {
            name: name.to_string(),
            partial: true,
            penalty: PenaltyPolicy::Static { rate: 300_000 },
            oracle_half_life_ns: 0,
            liquidation: LiquidationParams::default(),
            stages: vec![Stage::OwnBook, Stage::Route],
            auction: AuctionPolicy::default(),
            auction_duration_ns: 10_000_000_000,
            route: market,
            max_attempts: 3,
            retry_after_ns: 1_000_000_000,
            backstop: false,
            escalate_below_maintenance_ppm: 0,
            rules: None,
            adl: AdlRanking::ProRata,
            preempt_per_mille: 0,
            auction_abort_bps: 0,
            escalate_when_stopped: false,
            auction_stop_confirm_ns: 0,
        };
        Some(match name {
            "naive" => EnginePolicy {
                partial: false,
                stages: vec![Stage::Route],
                route: RoutePolicy { deepest_only: true, ..market },
                max_attempts: 1,
                ..base
            },
            "partial" => base,
            "auction" => EnginePolicy { stages: vec![Stage::OwnBook, Stage::Auction], backstop: true, ..base },
            "sliced" => EnginePolicy { stages: vec![Stage::OwnBook, Stage::Route], route: sliced, backstop: true, ..base },
            "adaptive" => EnginePolicy {
                penalty: PenaltyPolicy::Dynamic { base: 150_000, vol_coef: 0.5, depth_coef: 0.01, cap: 350_000 },
                stages: vec![Stage::OwnBook, Stage::Auction, Stage::Route],
                route: sliced,
                auction_duration_ns: 5_000_000_000,
                auction_abort_bps: 1,
                auction_stop_confirm_ns: 200_000_000,
                escalate_when_stopped: true,
                backstop: false,
                ..base
            },
            _ => return None,
        })
    }

    /// The policy that runs a real venue's rule set (see docs/VENUE-RULES.md, "As engine
    /// policies"): the venue's decision sets the trigger, the size of each step and the
    /// order's limit; the waterfall below is how that venue executes it.
    ///
    /// - `dydx-v4`: an IOC in the book at the fillable price, retried every second until
    ///   filled; deleveraging only once the account is bankrupt (TNC < 0); the insurance
    ///   fund's fee is `max_liquidation_fee_ppm` of the fill.
    /// - `hyperliquid`: market orders in the venue's partial slices with its cooldown; the
    ///   backstop vault takes over below 2/3 of maintenance; then ADL in Hyperliquid's queue.
    /// - `binance-usdm`: one IOC limited at the bankruptcy price, then the insurance fund
    ///   (the backstop) takes the rest; then ADL in Binance's queue.
    /// - `drift-v2`: liquidators take at the oracle price less the liquidator fee, in the
    ///   venue's growing share per call; the insurance fund's fee is `if_liquidation_fee`;
    ///   ADL once bankrupt.
    /// - `aave-v4`: liquidators take at the bonus price, in the size that restores the
    ///   target health factor; ADL once bankrupt (Aave itself has none: its bad debt).
    /// - `maker-clip`: the whole position in a Dutch auction (Clipper), then the backstop.
    pub fn for_rules(rules: VenueRules) -> Self {
        let mut policy = EnginePolicy::builtin("partial").unwrap_or_else(|| unreachable!("built-in"));
        policy.name = rules.name().to_string();
        policy.route = MARKET_ROUTE;
        policy.penalty = PenaltyPolicy::Static { rate: 0 };
        // Rates below are in 10^-6 of notional; the engine's are RATE_SCALE (10^-8) parts.
        let ppm_rate = |ppm: u32| i128::from(ppm) * 100;
        match &rules {
            VenueRules::DydxV4(p) => {
                policy.stages = vec![Stage::OwnBook, Stage::Route];
                policy.penalty = PenaltyPolicy::Static { rate: ppm_rate(p.max_liquidation_fee_ppm) };
                policy.max_attempts = u32::MAX;
            }
            VenueRules::Hyperliquid(p) => {
                policy.stages = vec![Stage::Route];
                policy.retry_after_ns = i64::from(p.partial_cooldown_s) * 1_000_000_000;
                policy.max_attempts = u32::MAX;
                policy.backstop = true;
                policy.escalate_below_maintenance_ppm = 666_667;
                policy.adl = AdlRanking::HyperliquidQueue;
            }
            VenueRules::BinanceUsdm(_) => {
                policy.stages = vec![Stage::OwnBook, Stage::Route];
                policy.max_attempts = 1;
                policy.backstop = true;
                policy.adl = AdlRanking::BinanceQueue;
            }
            VenueRules::DriftV2(p) => {
                policy.stages = vec![Stage::OwnBook, Stage::Route];
                policy.penalty = PenaltyPolicy::Static { rate: ppm_rate(p.if_liquidation_fee) };
                policy.max_attempts = u32::MAX;
            }
            VenueRules::AaveV4(_) => {
                policy.stages = vec![Stage::OwnBook, Stage::Route];
                policy.max_attempts = u32::MAX;
            }
            VenueRules::MakerClip(p) => {
                policy.auction.curve = p.curve;
                policy.auction.buf = crate::auction::fixed::Ray(p.buf.0 - crate::auction::fixed::RAY);
                policy.auction.tail_s = p.tail;
                policy.auction.cusp = p.cusp;
                policy.auction_duration_ns = i64::try_from(p.tail).unwrap_or(i64::MAX / 2_000_000_000).saturating_mul(1_000_000_000);
                policy.partial = false;
                policy.stages = vec![Stage::Auction];
                policy.max_attempts = 1;
                policy.backstop = true;
                if !p.depth_floor {
                    // No floor from depth and no hard discount limit (the largest the policy allows).
                    policy.auction.floor_margin_bps = 9_999;
                    policy.auction.max_discount_bps = 9_999;
                }
            }
        }
        policy.rules = Some(rules);
        policy
    }

    /// The route a liquidation uses: once its auction was stopped (`auction_stopped`),
    /// [`MARKET_ROUTE`] with the policy's own round time-out; else the policy's route.
    pub fn route_for(&self, auction_stopped: bool) -> RoutePolicy {
        if auction_stopped {
            RoutePolicy { timeout_ns: self.route.timeout_ns, ..MARKET_ROUTE }
        } else {
            self.route
        }
    }

    /// Checks the values the engine relies on.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_attempts == 0 {
            return Err(format!("policy {}: max_attempts must be at least 1", self.name));
        }
        if self.stages.is_empty() && !self.backstop {
            // Allowed: straight to ADL. Nothing to check.
        }
        if self.auction_duration_ns <= 0 || self.route.timeout_ns <= 0 || self.retry_after_ns < 0 || self.route.slice_interval_ns < 0 {
            return Err(format!("policy {}: durations must be positive", self.name));
        }
        if self.route.slices == 0 || self.route.depth_share_ppm == 0 || self.route.depth_share_ppm > 1_000_000 {
            return Err(format!("policy {}: route slices must be ≥ 1 and depth share in (0, 1e6] ppm", self.name));
        }
        if self.route.limit_bps >= 10_000 {
            return Err(format!("policy {}: route limit must be below 10000 bps", self.name));
        }
        if self.preempt_per_mille > 1_000 {
            return Err(format!("policy {}: preempt_per_mille must be at most 1000, not {}", self.name, self.preempt_per_mille));
        }
        if self.auction_abort_bps >= 10_000 {
            return Err(format!("policy {}: auction_abort_bps must be below 10000, not {}", self.name, self.auction_abort_bps));
        }
        if self.auction_stop_confirm_ns < 0 {
            return Err(format!("policy {}: auction_stop_confirm must not be negative", self.name));
        }
        if self.auction_abort_bps > 0 && self.rules.is_some() {
            return Err(format!("policy {}: a venue's rules decide its liquidations; the auction stop is gavel's own policy option", self.name));
        }
        if self.preempt_per_mille > 0 && self.rules.is_some() {
            return Err(format!("policy {}: a venue's rules decide its liquidations; pre-emptive reduction is gavel's own policy option", self.name));
        }
        Ok(())
    }
}
