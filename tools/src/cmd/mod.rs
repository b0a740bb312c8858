//! One module per `gavel` subcommand.

pub mod bench;
pub mod demo;
pub mod replay;
