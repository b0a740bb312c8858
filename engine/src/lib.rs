//! gavel engine: the single-threaded core pinned to one core.
//!
//! It owns the protocol's order book, mirrored venue books, the mark price,
//! accounts and margin, the liquidation trigger and execution, and the journal.
//! No locks, no allocation and no syscalls on the hot path.
#![warn(missing_docs)]

pub mod engine;
pub mod engine_loop;
pub mod latency;
pub mod ring_source;
pub mod book;
pub mod auction;
pub mod risk;
pub mod toml_input;
pub mod options;
pub mod venue_rules;
