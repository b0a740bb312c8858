//! The synthetic data generators, in one tree: the `gavel gen` and `gavel
//! stream` commands, the end-to-end benchmark and the tests call these. (The
//! order-book benchmark's operation mix stays in `gavel_bench::book`, and the
//! auction tests' thin books in `gavel_engine::auction::sim`, beside what they
//! measure.)
//!
//! - [`market`]: crash markets written as real venue messages into capture files.
//! - [`stream`]: random-walk wire event streams (demos, ring and loop tests).
//! - [`accounts`]: the synthetic leveraged account book of a generated crash.
//! - [`crash`]: a whole crash scenario folder (captures, instruments, accounts, manifest).
//! - [`shape`]: a price and depth path through knots, per venue (lags, dislocations, thin books).
//! - [`incident`]: named scenario folders that reproduce the mechanics of known failures.
//! - [`diffs`]: a Binance USD-M depth-diff path with the venue's book at every update id
//!   (the reconnect tests' venue).
//! - [`recorded`] (with [`ranges`]): an account book around the prices of real recordings,
//!   verified with the risk engine.
//!
//! Each is deterministic: the same seed and inputs give byte-identical output.

pub mod accounts;
pub mod crash;
pub mod diffs;
pub mod fit;
pub mod incident;
pub mod market;
pub mod ranges;
pub mod recorded;
pub mod shape;
pub mod stream;
