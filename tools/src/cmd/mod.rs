//! One module per `gavel` subcommand.

pub mod bench;
pub mod demo;
pub mod lobster;
pub mod bench_book;
