//! Liquidation execution: Dutch auctions, simulated liquidators, impact-aware
//! slicing, route choice and the backstop vault.
//!
//! Flow for one [`lot::LiquidationLot`] handed over by the risk engine:
//! [`route`] picks auction, slicing, both, or the naive baseline by expected value
//! lost; [`dutch`] runs MakerDAO-style Dutch auctions (curves in [`curve`], RAY
//! arithmetic in [`fixed`]) that liquidators take ([`liquidator`]); [`slicing`]
//! sends impact-limited child orders to venues; what is left at the deadline goes
//! to the [`backstop`] vault or back to the risk engine for ADL. Every step is an
//! [`events::ExecutionEvent`] for the journal, and money is tracked to the unit in
//! [`ledger`]. Depth comes through the [`depth::DepthView`] trait.
//!
//! Parameters, defaults and formulas: `docs/POLICIES-EXECUTION.md`.

pub mod backstop;
pub mod curve;
pub mod depth;
pub mod dutch;
pub mod events;
pub mod fixed;
pub mod ledger;
pub mod liquidator;
pub mod lot;
pub mod naive;
pub mod policy;
pub mod route;
pub mod sim;
pub mod slicing;
