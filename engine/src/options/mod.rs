//! Options analytics (`f64`, as the house rules allow for Greeks): Black-76
//! prices and Greeks, implied volatility, option series and positions read
//! from TOML, and the scenario-stress margin of an options portfolio. Money
//! that leaves this module (a margin requirement) is rounded up into integer
//! units, never the other way. See `docs/INSTRUMENTS.md` (options).

pub mod black76;
pub mod venue_check;

pub use black76::{implied_vol, Black76, Greeks, OptionKind, PricingInputError};
