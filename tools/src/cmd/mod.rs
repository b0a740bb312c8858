//! One module per `gavel` subcommand.

pub mod bench;
pub mod bench_curve;
pub mod curve;
pub mod demo;
pub mod liquidate;
