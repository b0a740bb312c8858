//! MakerDAO Liquidations 2.0 Clipper (`makerdao/dss`, `clip.sol`,
//! `abaci.sol`) through gavel's existing Dutch auction
//! ([`crate::auction::curve`], [`crate::auction::dutch`]): this module only
//! exposes it behind the rules interface, with Maker's parameter names.
//!
//! `buf` is Maker's start multiplier (`top = mark × buf` for a sale); gavel's
//! auctions also buy back shorts, starting at `mark × (2 − buf)`.

use super::{full_bankruptcy_price, Decision, PositionState};
use crate::auction::curve::Curve;
use crate::auction::fixed::{mul_div_ceil, mul_div_floor, Ray, RAY};
use crate::auction::policy::AuctionPolicy;
use crate::risk::instrument::Instrument;

/// Clipper parameters; defaults are gavel's auction defaults
/// ([`AuctionPolicy::default`]), since Maker sets them per collateral type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerParams {
    /// Start multiplier over the mark (`buf` ≥ 1).
    pub buf: Ray,
    /// Seconds before an auction must be reset (`tail`).
    pub tail: u64,
    /// Fraction of `top` below which an auction must be reset (`cusp`).
    pub cusp: Ray,
    /// Keeper reward as a fraction of the debt (`chip`).
    pub chip: Ray,
    /// Flat keeper reward, quote units (`tip`).
    pub tip: i64,
    /// Price-decrease curve (`calc`).
    pub curve: Curve,
    /// gavel's depth floor under the auction price (default true); Maker's Clipper
    /// has none: `false` lets the price fall as far as the curve takes it.
    pub depth_floor: bool,
}

impl Default for MakerParams {
    fn default() -> Self {
        let p = AuctionPolicy::default();
        MakerParams {
            buf: Ray(RAY + p.buf.0),
            tail: p.tail_s,
            cusp: p.cusp,
            chip: p.chip,
            tip: p.tip,
            curve: p.curve,
            depth_floor: true,
        }
    }
}

impl MakerParams {
    /// Validation ranges; `Err((key, message))`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.buf.0 < RAY || self.buf.0 >= 2 * RAY {
            return Err(("buf", "must be in [1, 2)".into()));
        }
        if self.tail == 0 {
            return Err(("tail", "must be > 0".into()));
        }
        if self.cusp.0 > RAY {
            return Err(("cusp", "must be <= 1".into()));
        }
        if self.chip.0 > RAY {
            return Err(("chip", "must be <= 1".into()));
        }
        if self.tip < 0 {
            return Err(("tip", "must be >= 0".into()));
        }
        self.curve.validate().map_err(|e| ("curve", e.to_string()))
    }

    /// The same parameters as a gavel [`AuctionPolicy`] (other fields default).
    pub fn auction_policy(&self) -> AuctionPolicy {
        AuctionPolicy {
            curve: self.curve,
            buf: Ray(self.buf.0 - RAY),
            tail_s: self.tail,
            cusp: self.cusp,
            chip: self.chip,
            tip: self.tip,
            ..AuctionPolicy::default()
        }
    }
}

/// Start price (`top`) in ticks: `mark × buf` rounded up for a sale (long),
/// `mark × (2 − buf)` rounded down for a buy-back (short).
pub fn start_price(params: &MakerParams, mark: i64, long: bool) -> i64 {
    let mark = mark.max(0) as u128;
    let top = if long {
        mul_div_ceil(mark, params.buf.0, RAY)
    } else {
        mul_div_floor(mark, (2 * RAY).saturating_sub(params.buf.0), RAY)
    };
    top.and_then(|t| i64::try_from(t).ok()).unwrap_or(i64::MAX)
}

/// Maker's `price(top, dur)` for a sale: `top × f(elapsed)` in ticks, rounded up.
pub fn sale_price(params: &MakerParams, top: i64, elapsed_ns: i64) -> i64 {
    // rmul(top·RAY, f) is exact for a whole-tick top, so this is Maker's price
    // rounded up to a tick.
    let factor = params.curve.factor(elapsed_ns);
    mul_div_ceil(top.max(0) as u128, factor, RAY)
        .and_then(|t| i64::try_from(t).ok())
        .unwrap_or(i64::MAX)
}

/// Maker's `status`: the auction needs a `redo` once older than `tail` or
/// once the price fell below `cusp × top`.
pub fn needs_redo(params: &MakerParams, elapsed_ns: i64) -> bool {
    i128::from(elapsed_ns) > i128::from(params.tail) * 1_000_000_000 || params.curve.factor(elapsed_ns) < params.cusp.0
}

/// Keeper incentive of a `kick` or `redo`: `tip + chip × tab` (quote units,
/// rounded down), `tab` the debt to raise.
pub fn keeper_incentive(params: &MakerParams, tab: i128) -> i128 {
    i128::from(params.tip) + params.chip.apply_floor(tab)
}

/// The Clipper decision: liquidatable iff equity `<` maintenance (gavel's
/// brackets standing in for the ilk's `mat`); the whole position is
/// auctioned, starting at `top`.
pub fn decide(params: &MakerParams, ins: &Instrument, p: &PositionState) -> Decision {
    let bankruptcy_price = full_bankruptcy_price(ins, p);
    if !p.health(ins).liquidatable() {
        return Decision::none(bankruptcy_price);
    }
    Decision {
        liquidatable: true,
        bankruptcy_price,
        limit_price: Some(start_price(params, p.mark, p.size > 0)),
        size_to_liquidate: p.size.abs(),
    }
}
