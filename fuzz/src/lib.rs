//! What the fuzz targets and their seed generator share.

use gavel_engine::engine::{Engine, EngineConfig, EnginePolicy};
use gavel_engine::risk::{loader, InstrumentSet, Ledger, RiskBook};
use gavel_feeds::wire::Venue;

/// The example instruments (docs/examples/instruments.toml).
pub const INSTRUMENTS: &str = include_str!("../../docs/examples/instruments.toml");

/// The small engine the snapshot target restores into: the example instruments, three
/// accounts, small pools.
pub fn snapshot_engine() -> Engine {
    let mut book = RiskBook::new(InstrumentSet::parse(INSTRUMENTS, "instruments.toml").expect("instruments"));
    loader::load_accounts(&mut book, "a,1000\nb,1000\nc,1000\n", "accounts.csv").expect("accounts");
    let mut config = EngineConfig::for_venues(vec![Venue::BinanceUsdm]);
    config.book.order_capacity = 256;
    config.book.level_capacity = 64;
    config.mirror_levels = 16;
    config.max_liquidations = 8;
    Engine::new(config, EnginePolicy::builtin("auction").expect("policy"), Ledger::new(book, 0)).expect("engine")
}
