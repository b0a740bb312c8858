//! gavel's simulated world: everything a replay needs around the engine that
//! a live venue would have instead — external venue books that react to our
//! orders and refill, liquidators with latency, capital and hedges, a market
//! maker in the own book — and the outcome metrics of a run.
//!
//! The world is a consumer of the engine, never part of it: it drives
//! [`gavel_engine::engine::Engine`] only through input events and learns only
//! from its output events, the same events a live gateway and feed handlers
//! exchange with it. hftbacktest's split (backtest and live behind one
//! interface) is the model.
#![warn(missing_docs)]

pub mod agents;
pub mod generate;
pub mod implied_vol;
pub mod orders;
pub mod outcome;
pub mod scenario;
pub mod shadow;
pub mod venues;
pub mod world;
pub mod options_crash;
pub mod collateral_depeg;
pub mod portfolio_crash;

pub use outcome::{Outcome, Series};
pub use world::{World, WorldConfig};
