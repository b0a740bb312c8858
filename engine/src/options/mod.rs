//! Options analytics (`f64`, as the house rules allow for Greeks): Black-76
//! prices and Greeks, implied volatility, the check against a venue's own
//! Greeks, option portfolios read from TOML with their scenario-stress margin
//! (computed from per-series risk arrays),
//! and the choice between closing options and hedging delta first when such
//! a portfolio is liquidated. Money that leaves this module (a margin
//! requirement, an equity) is rounded into integer quote units against the
//! account. See `docs/INSTRUMENTS.md` (options) and `docs/POLICIES.md`.

pub mod black76;
pub mod close_or_hedge;
pub mod portfolio;
pub mod portfolio_toml;
pub mod risk_array;
pub mod surface;
pub mod venue_check;

pub use black76::{implied_vol, Black76, Greeks, OptionKind, PricingInputError};
pub use portfolio::{assess, AccountRisk, MarketState, OptionsBook};
pub use risk_array::RiskArrays;
