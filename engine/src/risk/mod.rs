//! The risk engine: instruments and margin brackets, accounts and positions,
//! the mark price oracle, the O(log n + k) liquidation trigger index, partial
//! liquidation, penalties, the insurance fund, auto-deleveraging, predictive
//! margin calls and the conservation ledger.
//!
//! Integer money throughout: prices in ticks (`i64`), sizes in lots (`i64`),
//! money in units of 10^-6 of the settlement asset (`i128`: the quote asset
//! of linear contracts, the base coin of inverse ones), rates in 10^-8 (see
//! [`instrument`] and [`inverse`]). Deterministic: every function is a pure function of its
//! inputs and of event time.
//!
//! Flow: venue quotes → [`oracle::MarkOracle`] → [`liquidation::on_mark`]
//! (sets the mark on the [`RiskBook`], gets the crossed accounts from the
//! trigger index, plans a [`LiquidationRequest`] each) → the auction executes
//! the request → [`Ledger::settle_liquidation`] books the fills, the penalty,
//! insurance-fund draws and ADL, returning [`RiskEvent`]s for the journal.

pub mod account;
pub mod book;
pub mod collateral;
pub mod collateral_toml;
pub mod events;
pub mod instrument;
pub mod instrument_toml;
pub mod insurance;
pub mod inverse;
pub mod ledger;
pub mod liquidation;
pub mod loader;
pub mod margin;
pub mod oracle;
pub mod ordered_set;
pub mod penalty;
pub mod portfolio;
pub mod radix;
pub mod predictive;
pub mod report;
pub mod trigger;
pub mod trigger_price;
pub mod volatility;

/// The exact decimal type and rounding helpers (one for the workspace, from `gavel_feeds`).
pub use gavel_feeds::decimal;

/// serde: a name index in key order, so equal states serialize to equal bytes whatever the
/// hash map's iteration order (snapshots are compared byte for byte).
pub(crate) fn serialize_sorted<S: serde::Serializer, V: serde::Serialize>(
    map: &std::collections::HashMap<String, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(map.iter().collect::<std::collections::BTreeMap<_, _>>())
}
pub use account::{account_from_wire, account_to_wire, ledger_accounts, Account, AccountId, MarginMode, Position};
pub use book::RiskBook;
pub use events::RiskEvent;
pub use instrument::{Instrument, InstrumentId, InstrumentSet};
pub use insurance::InsuranceFund;
pub use ledger::{Ledger, LiquidationFill, LiquidationOutcome};
pub use liquidation::{LiquidationParams, LiquidationRequest};
pub use margin::Health;
pub use trigger_price::Trigger;
