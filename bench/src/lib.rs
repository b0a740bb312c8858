//! gavel benchmark harnesses. Every figure is measured side by side, in one
//! interleaved run, with the strongest peer.
#![warn(missing_docs)]

pub mod ring;
pub mod curve;
pub mod stats;
pub mod trigger;
pub mod trigger_portfolio;
pub mod options_margin;
pub mod parse;
pub mod book;
pub mod e2e;
pub mod jitter;
