//! The built-in venue of `gavel serve --demo`: one BTCUSDT perpetual, traders,
//! a market maker whose quotes are seeded into the own book, leveraged longs
//! that a generated crash will liquidate (against a well-funded short), two
//! liquidators, a backstop vault, an insurance fund, and API keys for all.

use std::path::Path;

use gavel_engine::engine::{EngineConfig, EnginePolicy};
use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE};
use gavel_engine::risk::{AccountId, MarginMode, RiskBook};
use gavel_feeds::wire::{order_flags, ClientOrder, Event, EventKind, Side, Venue};
use gavel_gateway::auth::{random_bytes, ApiKey, KeyTable};
use gavel_gateway::protocol::role;
use gavel_sim::generate::market::{write_crash_captures, CrashSpec, Dialect};

use super::feed::ReplaySource;

const INSTRUMENT: &str = "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 50 }]\n";

/// Key ids of the demo (liquidator ids are their key ids).
pub mod keys {
    /// Traders 1..=4.
    pub const TRADERS: [u64; 4] = [1, 2, 3, 4];
    /// The market maker.
    pub const MARKET_MAKER: u64 = 10;
    /// Liquidators.
    pub const LIQUIDATORS: [u64; 2] = [100, 101];
    /// Market data only.
    pub const MARKET_DATA: u64 = 200;
    /// Admin.
    pub const ADMIN: u64 = 300;
}

/// Leveraged long accounts the crash liquidates.
pub const LEVERAGED_LONGS: usize = 200;

/// The demo venue, ready to serve.
pub struct DemoVenue {
    /// Accounts and positions.
    pub book: RiskBook,
    /// Engine settings (backstop, liquidators, session outputs).
    pub config: EngineConfig,
    /// The liquidation policy.
    pub policy: EnginePolicy,
    /// Insurance fund at the start, quote units.
    pub fund: i128,
    /// The API keys.
    pub keys: KeyTable,
    /// The market maker's seed quotes (client orders for the gateway ring).
    pub seed_orders: Vec<Event>,
    /// The mark source (`None` until [`build`] writes the capture).
    pub mark: Option<ReplaySource>,
}

fn crash_spec() -> CrashSpec {
    CrashSpec { seed: 7, duration_s: 300, drop_per_mille: 150, ..CrashSpec::default() }
}

/// Builds the demo venue; the crash capture is written under `data_dir`.
pub fn build(data_dir: &Path, policy: EnginePolicy, speed_per_mille: u64) -> anyhow::Result<DemoVenue> {
    let mut venue = venue(policy)?;
    let capture_dir = data_dir.join("demo-capture");
    std::fs::create_dir_all(&capture_dir)?;
    let files = write_crash_captures(&crash_spec(), &capture_dir, &[Dialect::BinanceUsdm])?;
    let capture = files.into_iter().next().ok_or_else(|| anyhow::anyhow!("the crash generator wrote no capture"))?;
    venue.mark = Some(ReplaySource { path: capture, speed_per_mille });
    Ok(venue)
}

/// The demo venue without its mark capture: deterministic from code but for
/// the API keys (random), which never decide engine state.
pub fn venue(policy: EnginePolicy) -> anyhow::Result<DemoVenue> {
    let set = InstrumentSet::parse(INSTRUMENT, "demo instrument").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mult = set.get(0).quote_per_tick_lot;
    let start = crash_spec().start_price_ticks;

    let mut book = RiskBook::new(set);
    let usdt = |whole: i128| whole * QUOTE_SCALE;
    let mut add = |name: &str, capital: i128| book.add_account(name, MarginMode::Cross, capital).ok_or_else(|| anyhow::anyhow!("account {name} exists"));
    let traders: Vec<AccountId> = (1..=4).map(|i| add(&format!("trader-{i}"), usdt(1_000_000))).collect::<Result<_, _>>()?;
    let maker = add("market-maker", usdt(50_000_000))?;
    let liquidators: Vec<AccountId> = (1..=2).map(|i| add(&format!("liquidator-{i}"), usdt(20_000_000))).collect::<Result<_, _>>()?;
    let backstop = add("backstop-vault", usdt(50_000_000))?;
    let short = add("house-short", usdt(100_000_000))?;
    // Leveraged longs of 1 BTC at the start price, liquidation prices spread 1 % to 14 % below.
    let size = 1_000i64;
    let notional_at = |p: i64| i128::from(size) * i128::from(p) * mult;
    let mut longs = Vec::with_capacity(LEVERAGED_LONGS);
    for i in 0..LEVERAGED_LONGS {
        let liq_price = start - start * (10 + 130 * i as i64 / LEVERAGED_LONGS as i64) / 1000;
        let collateral = notional_at(start) - notional_at(liq_price) + notional_at(liq_price) * 4 / 1000 + 1;
        longs.push(add(&format!("long-{i}"), collateral)?);
    }
    for &a in &longs {
        book.set_position(a, 0, size, notional_at(start), 0);
    }
    book.set_position(short, 0, -size * LEVERAGED_LONGS as i64, notional_at(start) * LEVERAGED_LONGS as i128, 0);

    let mut config = EngineConfig::for_venues(vec![Venue::BinanceUsdm]);
    config.session_outputs = true;
    config.backstop_account = Some(backstop);
    config.liquidators = keys::LIQUIDATORS.iter().zip(&liquidators).map(|(&k, &a)| (k as u32, a)).collect();
    config.max_liquidations = 4096;

    let wire = |a: AccountId| gavel_engine::risk::account::account_to_wire(a);
    let mut key_list = Vec::new();
    let mut key = |id: u64, account: AccountId, role: u8| -> anyhow::Result<()> {
        key_list.push(ApiKey { id, secret: random_bytes().map_err(anyhow::Error::msg)?, account: wire(account), role });
        Ok(())
    };
    for (&id, &a) in keys::TRADERS.iter().zip(&traders) {
        key(id, a, role::TRADER)?;
    }
    key(keys::MARKET_MAKER, maker, role::TRADER)?;
    for (&id, &a) in keys::LIQUIDATORS.iter().zip(&liquidators) {
        key(id, a, role::LIQUIDATOR)?;
    }
    key(keys::MARKET_DATA, traders[0], role::MARKET_DATA)?;
    key(keys::ADMIN, traders[0], role::ADMIN)?;

    // The maker's quotes: 20 levels a side, 10 ticks apart, 0.5 BTC each, around the start.
    let mut seed_orders = Vec::new();
    for level in 1..=20i64 {
        for (side, price) in [(Side::Bid, start - level * 10), (Side::Ask, start + level * 10)] {
            let id = seed_orders.len() as u64 + 1;
            let mut e = Event::new(EventKind::ClientOrder, Venue::Gavel, 0, ClientOrder { account: wire(maker), price, qty: 500 }).with_side(side).with_times(id, 0, 0);
            e.flags = order_flags::TYPE_LIMIT;
            seed_orders.push(e);
        }
    }
    Ok(DemoVenue {
        book,
        config,
        policy,
        fund: usdt(1_000_000),
        keys: KeyTable::from_keys(key_list),
        seed_orders,
        mark: None,
    })
}


