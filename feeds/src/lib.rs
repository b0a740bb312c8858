//! gavel feeds: the wire format, the shared-memory SPSC ring, exchange parsers,
//! venue book sync, capture and replay.
//!
//! Data flows one way: feed handler → ring → engine.
#![warn(missing_docs)]

pub mod capture;
pub mod clock;
pub mod data_dir;
pub mod input_error;
pub mod net;
pub mod rng;
pub mod synthetic;
pub mod wire;

pub use input_error::{InputError, Location};
pub use wire::{Event, EventKind, Side, Venue};
