//! One module per `gavel` subcommand.

pub mod bench;
pub mod bench_parse;
pub mod demo;
pub mod replay;
