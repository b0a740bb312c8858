//! gavel benchmark harnesses. Every figure is measured side by side, in one
//! interleaved run, with the strongest peer.
#![warn(missing_docs)]

pub mod stats;
pub mod book;
