//! One module per `gavel` subcommand.

pub mod bench;
pub mod bench_trigger;
pub mod demo;
pub mod risk;
