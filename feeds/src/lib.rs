//! gavel feeds: the wire format, the shared-memory SPSC ring, exchange parsers,
//! venue book sync, capture and replay.
//!
//! Data flows one way: feed handler → ring → engine.
#![warn(missing_docs)]

pub mod atomic_file;
pub mod capture;
pub mod capture_feed;
pub mod clock;
pub mod data_dir;
pub mod input_error;
pub mod journal;
pub mod input_journal;
pub mod input_journal_mapped;
pub mod input_journal_tail;
pub mod net;
pub mod rng;
pub mod ring;
pub mod wire;

pub use input_error::{InputError, Location};
pub use wire::{Event, EventKind, Side, Venue};
pub mod lobster;
pub mod options;
pub mod decimal;
pub mod json_scan;
pub mod venues;
pub mod recording;
pub mod sync;
pub mod venue_book;
pub mod replay;
pub mod tardis_replay;
pub mod replay_l3;
pub mod replay_report;
pub mod replay_spec;
