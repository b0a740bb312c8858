//! The risk engine: instruments and margin brackets, accounts and positions,
//! the mark price oracle, the O(log n + k) liquidation trigger index, partial
//! liquidation, penalties, the insurance fund, auto-deleveraging, predictive
//! margin calls and the conservation ledger.
//!
//! Integer money throughout: prices in ticks (`i64`), sizes in lots (`i64`),
//! money in quote units of 10^-6 (`i128`), rates in 10^-8 (see
//! [`instrument`]). Deterministic: every function is a pure function of its
//! inputs and of event time.

pub mod account;
pub mod book;
pub mod decimal;
pub mod instrument;
pub mod loader;
pub mod margin;
pub mod report;
pub mod trigger;

pub use account::{Account, AccountId, MarginMode, Position};
pub use book::RiskBook;
pub use instrument::{Instrument, InstrumentId, InstrumentSet};
pub use margin::{Health, Trigger};
