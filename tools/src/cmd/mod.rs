//! One module per `gavel` subcommand.

pub mod bench;
pub mod curve;
pub mod demo;
pub mod liquidate;
