//! Real venues' liquidation rules as pure integer functions (see
//! `docs/VENUE-RULES.md`).
//!
//! One module per venue holds that venue's formulas with its own parameter
//! names and precisions, tested against the venue's published test vectors.
//! [`VenueRules`] puts them behind one interface: [`VenueRules::decide`] maps
//! one position of a margin unit at a mark to a [`Decision`] in gavel units
//! (ticks, lots, quote units of 10^-6). [`loader`] reads a rules TOML.
//!
//! `gavel risk --rules` prints their decisions; `EnginePolicy::for_rules` runs a
//! rule set in the engine (`gavel compare --policy dydx-v4`).

pub mod aave;
pub mod binance;
pub mod drift;
pub mod dydx;
pub mod hyperliquid;
pub mod loader;
pub mod maker;

use crate::risk::account::Account;
use crate::risk::decimal::{div_ceil, div_floor};
use crate::risk::instrument::{Instrument, InstrumentSet, RATE_SCALE};
use crate::risk::margin;

pub use loader::{load_rules, parse_rules};

/// One position of a margin unit at a mark, with the rest of the unit folded
/// into two numbers. Money in quote units, sizes in lots, prices in ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionState {
    /// Signed size in lots (long > 0); non-zero.
    pub size: i64,
    /// Cost basis `Σ qty·price·mult`, quote units, same sign as `size`.
    pub entry_notional: i128,
    /// Mark price in ticks (> 0).
    pub mark: i64,
    /// Balance of the margin unit plus the other positions' unrealized PnL.
    pub other_balance: i128,
    /// Maintenance of the other positions of the unit × `RATE_SCALE` (exact).
    pub other_maintenance_scaled: i128,
    /// Event time since the account's last liquidation step (0: none yet).
    pub elapsed_ns: i64,
}

impl PositionState {
    /// Notional of the position at the mark (unsigned), quote units.
    pub fn notional(&self, ins: &Instrument) -> i128 {
        ins.notional(self.size, self.mark)
    }

    /// Signed notional `size·mark·mult` (dYdX's net notional value).
    pub fn signed_notional(&self, ins: &Instrument) -> i128 {
        i128::from(self.size) * i128::from(self.mark) * ins.quote_per_tick_lot
    }

    /// Unrealized PnL of the position at the mark.
    pub fn unrealized(&self, ins: &Instrument) -> i128 {
        self.signed_notional(ins) - self.entry_notional
    }

    /// Equity of the margin unit: balance plus every unrealized PnL.
    pub fn equity(&self, ins: &Instrument) -> i128 {
        self.other_balance + self.unrealized(ins)
    }

    /// Maintenance of the whole unit × `RATE_SCALE` with gavel's brackets.
    pub fn maintenance_scaled(&self, ins: &Instrument) -> i128 {
        self.other_maintenance_scaled + ins.maintenance_scaled(self.notional(ins))
    }

    /// The unit's health (equity, maintenance) as the risk engine defines it.
    pub fn health(&self, ins: &Instrument) -> crate::risk::Health {
        crate::risk::Health { equity: self.equity(ins), maintenance_scaled: self.maintenance_scaled(ins) }
    }

    /// Position `index` of `account` at `marks`, or `None` when it is flat or a
    /// mark of its margin unit is missing.
    pub fn of(instruments: &InstrumentSet, marks: &[Option<i64>], account: &Account, index: usize, elapsed_ns: i64) -> Option<Self> {
        let p = account.positions.get(index)?;
        if p.size == 0 {
            return None;
        }
        let mark = marks.get(usize::from(p.instrument)).copied().flatten()?;
        let (base_scaled, other_balance) = margin::position_context(instruments, marks, account, index)?;
        Some(PositionState {
            size: p.size,
            entry_notional: p.entry_notional,
            mark,
            other_balance,
            other_maintenance_scaled: RATE_SCALE * other_balance - base_scaled,
            elapsed_ns,
        })
    }
}

/// What a venue's rules do with a position at a mark, in gavel units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The venue would start (or continue) liquidating this margin unit.
    pub liquidatable: bool,
    /// Price (ticks) at which closing `size_to_liquidate` leaves the unit's
    /// equity at zero, rounded so that closing there needs no insurance money;
    /// `None` when it is not a positive price.
    pub bankruptcy_price: Option<i64>,
    /// Worst price (ticks) the venue's liquidation order accepts; `None` for a
    /// market order.
    pub limit_price: Option<i64>,
    /// Lots the venue would close in this step (0 when not liquidatable).
    pub size_to_liquidate: i64,
}

impl Decision {
    /// Not liquidatable: nothing to do.
    pub fn none(bankruptcy_price: Option<i64>) -> Self {
        Decision {
            liquidatable: false,
            bankruptcy_price,
            limit_price: None,
            size_to_liquidate: 0,
        }
    }
}

/// A venue's rule set with its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VenueRules {
    /// dYdX v4 (`rules = "dydx-v4"`).
    DydxV4(dydx::DydxParams),
    /// Hyperliquid (`rules = "hyperliquid"`).
    Hyperliquid(hyperliquid::HyperliquidParams),
    /// Binance USDⓈ-M futures (`rules = "binance-usdm"`).
    BinanceUsdm(binance::BinanceParams),
    /// Drift protocol v2 perps (`rules = "drift-v2"`).
    DriftV2(drift::DriftParams),
    /// Aave v4 spoke liquidations (`rules = "aave-v4"`).
    AaveV4(aave::AaveParams),
    /// MakerDAO Liquidations 2.0 Clipper (`rules = "maker-clip"`).
    MakerClip(maker::MakerParams),
}

/// Every accepted `rules` name.
pub const RULE_NAMES: [&str; 6] = ["dydx-v4", "hyperliquid", "binance-usdm", "drift-v2", "aave-v4", "maker-clip"];

impl VenueRules {
    /// The `rules` name of this rule set.
    pub fn name(&self) -> &'static str {
        match self {
            VenueRules::DydxV4(_) => RULE_NAMES[0],
            VenueRules::Hyperliquid(_) => RULE_NAMES[1],
            VenueRules::BinanceUsdm(_) => RULE_NAMES[2],
            VenueRules::DriftV2(_) => RULE_NAMES[3],
            VenueRules::AaveV4(_) => RULE_NAMES[4],
            VenueRules::MakerClip(_) => RULE_NAMES[5],
        }
    }

    /// The venue's decision for position `p` of instrument `ins`; a flat
    /// position or a non-positive mark has nothing to decide.
    pub fn decide(&self, ins: &Instrument, p: &PositionState) -> Decision {
        if p.size == 0 || p.mark <= 0 {
            return Decision::none(None);
        }
        match self {
            VenueRules::DydxV4(params) => dydx::decide(params, ins, p),
            VenueRules::Hyperliquid(params) => hyperliquid::decide(params, ins, p),
            VenueRules::BinanceUsdm(params) => binance::decide(params, ins, p),
            VenueRules::DriftV2(params) => drift::decide(params, ins, p),
            VenueRules::AaveV4(params) => aave::decide(params, ins, p),
            VenueRules::MakerClip(params) => maker::decide(params, ins, p),
        }
    }
}

/// gavel's bankruptcy price of the whole position (equity zero at that
/// price; up for a long, down for a short).
pub fn full_bankruptcy_price(ins: &Instrument, p: &PositionState) -> Option<i64> {
    margin::bankruptcy_price(ins, p.size, p.entry_notional, p.other_balance)
}

/// `a / b` in ticks rounded up (`ceil`) or down, clamped into `i64`; `b > 0`.
pub(crate) fn ticks(a: i128, b: i128, up: bool) -> i64 {
    let q = if up { div_ceil(a, b) } else { div_floor(a, b) };
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// A positive tick price or `None`.
pub(crate) fn positive(t: i64) -> Option<i64> {
    (t > 0).then_some(t)
}
