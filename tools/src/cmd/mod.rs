//! One module per `gavel` subcommand.

pub mod bench;
pub mod capture;
pub mod demo;
