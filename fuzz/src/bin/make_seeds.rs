//! Writes seed inputs for the fuzz targets whose inputs have structure a fuzzer rarely finds
//! alone: `make_seeds DIR` creates `DIR/<target>/seed-N`. Run by `fuzz/run.sh`; nothing it
//! writes is committed.

use std::path::Path;

// Links libFuzzer's runtime: the instrumented dependencies call its coverage hooks.
use libfuzzer_sys as _;

use gavel_feeds::wire::{ClientOrder, Event, EventKind, PriceLevel, Side, Venue};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("seed dir");
    std::fs::write(d.join(name), bytes).expect("seed file");
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: make_seeds DIR");
    let dir = Path::new(&dir);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let read = |name: &str| std::fs::read(root.join(name)).expect("docs/examples file");
    write(dir, "instruments_toml", "examples", &read("instruments.toml"));
    write(dir, "options_toml", "examples", &read("options.toml"));
    write(dir, "collateral_toml", "examples", &read("collateral.toml"));
    for rules in ["rules-aave-v4.toml", "rules-binance-usdm.toml", "rules-drift-v2.toml", "rules-dydx-v4.toml", "rules-hyperliquid.toml"] {
        write(dir, "venue_rules_toml", rules, &read(rules));
    }
    let policies = [
        "name = \"tuned\"\nbase = \"adaptive\"\nstages = [\"own_book\", \"auction\", \"route\"]\nbackstop = true\nbuffer = \"0.1\"\npenalty = { static_rate = \"0.01\" }\n",
        "base = \"sliced\"\nroute = { limit_bps = 50, slices = 5, depth_share = \"0.5\", slice_interval_ms = 1000, timeout_ms = 2000, deepest_only = false }\npenalty = { base = \"0.005\", vol_coef = 0.5, depth_coef = 0.01, cap = \"0.025\" }\n",
    ];
    for (k, policy) in policies.iter().enumerate() {
        write(dir, "policy_toml", &format!("seed-{k}"), policy.as_bytes());
    }
    let mut csv = 500_000u32.to_le_bytes().to_vec();
    csv.extend_from_slice(&read("accounts.csv"));
    csv.extend_from_slice(b"\n---\n");
    csv.extend_from_slice(&read("positions.csv"));
    write(dir, "risk_csv", "examples", &csv);
    let ticker = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"ticker.BTC-24SEP21-8000-P.raw","data":{"underlying_price":32150.5,"timestamp":1626993723632,"mark_price":0.0021,"mark_iv":95.5,"interest_rate":0.0,"instrument_name":"BTC-24SEP21-8000-P","index_price":32101.25,"greeks":{"vega":1.5,"theta":-0.8,"gamma":0.00001,"delta":-0.01},"best_bid_price":0.002,"best_ask_price":null}}}"#;
    write(dir, "deribit_ticker", "seed-0", ticker.as_bytes());
    // Snapshots of the snapshot target's engine: fresh, and with quotes, resting orders and a mark.
    let mut engine = gavel_fuzz::snapshot_engine();
    let mut out = Vec::new();
    engine.write_snapshot(&mut out).expect("snapshot");
    write(dir, "engine_snapshot", "fresh", &out);
    let mut sink = gavel_engine::engine::CountingSink::default();
    for k in 0..20i64 {
        let t = 1_000_000_000 + k * 100_000_000;
        for (side, price) in [(Side::Bid, 500_000 - k), (Side::Ask, 500_010 + k)] {
            let level = Event::new(EventKind::BookLevel, Venue::BinanceUsdm, 0, PriceLevel { price, qty: 1_000, index: 0 }).with_side(side).with_times(0, t, t);
            engine.on_event(&level, &mut sink);
        }
        let order = Event::new(EventKind::ClientOrder, Venue::Gavel, 0, ClientOrder { account: (k % 3) as u64, price: 499_900 - k, qty: 1 }).with_side(Side::Bid).with_times(k as u64 + 1, t, t);
        engine.on_event(&order, &mut sink);
    }
    out.clear();
    engine.write_snapshot(&mut out).expect("snapshot");
    write(dir, "engine_snapshot", "busy", &out);
    // Journal segments: five records; the same with a torn sixth; with a reserved zero tail.
    use gavel_feeds::input_journal::{JournalRecord, SegmentHeader, MAGIC, RECORD_LEN, VERSION};
    let header = SegmentHeader { magic: MAGIC, version: VERSION, record_len: RECORD_LEN as u32, first_sequence: 1, reserved: 0 };
    let mut segment = bytemuck::bytes_of(&header).to_vec();
    for s in 1..=5u64 {
        let e = Event::new(EventKind::ClientOrder, Venue::Gavel, 0, ClientOrder { account: s, price: 1_000 + s as i64, qty: 1 }).with_times(s, 0, s as i64);
        segment.extend_from_slice(bytemuck::bytes_of(&JournalRecord::new(s, &e)));
    }
    write(dir, "journal_segment", "five", &segment);
    let mut torn = segment.clone();
    torn.extend_from_slice(&segment[32..32 + RECORD_LEN / 2]);
    write(dir, "journal_segment", "torn", &torn);
    segment.resize(segment.len() + 4 * RECORD_LEN, 0);
    write(dir, "journal_segment", "reserved", &segment);
}
