//! One module per `gavel` subcommand.

pub mod bench;
pub mod calibrate;
pub mod compare;
pub mod recover;
pub mod bench_ring;
pub mod bench_curve;
pub mod curve;
pub mod capture;
pub mod demo;
pub mod stream;
pub mod gen;
pub mod ring;
pub mod lobster;
pub mod bench_trigger;
pub mod risk;
pub mod bench_parse;
pub mod replay;
pub mod liquidate;
pub mod bench_book;
pub mod bench_e2e;
pub mod gen_accounts;
pub mod tune;
pub mod journal;
pub mod study;
pub mod serve;
pub mod load;
