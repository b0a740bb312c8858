//! Tests of [`super`]: generated books hit their target, deterministically.

use super::*;
use crate::scenario::Scenario;
use crate::generate::market::{write_crash_captures, CrashSpec, Dialect};

const FILES: [&str; 4] = ["scenario.toml", "instruments.toml", "accounts.csv", "positions.csv"];

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-genacc-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn args(captures: Vec<PathBuf>, out: PathBuf, seed: u64, accounts: usize) -> AccountsSpec {
    AccountsSpec {
        captures,
        snapshot: Vec::new(),
        venue_info: None,
        venue: None,
        out,
        seed,
        accounts,
        target_liquidated_pct: 20.0,
        long_pct: 50,
    }
}

/// Loads a written folder back the way `compare` will, and checks it with the risk engine.
fn load_and_verify(out: &Path, ranges: &[PriceRange]) -> (Scenario, Vec<SymbolCheck>) {
    let scenario = Scenario::load(out).unwrap();
    let checks = verify_book(&scenario.instruments, &scenario.accounts, &scenario.positions, ranges).unwrap();
    // Every position respects its bracket's leverage cap.
    let instruments = InstrumentSet::load(&scenario.instruments).unwrap();
    let mut book = RiskBook::new(instruments);
    loader::load_accounts(&mut book, &loader::read_file(&scenario.accounts).unwrap(), "a").unwrap();
    loader::load_positions(&mut book, &loader::read_file(&scenario.positions).unwrap(), "p").unwrap();
    for account in book.accounts() {
        let p = &account.positions[0];
        let ins = book.instruments().get(p.instrument);
        let collateral = if account.mode == MarginMode::Isolated {
            p.isolated_margin
        } else {
            account.wallet
        };
        let cap = i128::from(ins.bracket_for(p.entry_notional.abs()).max_leverage);
        assert!(
            p.entry_notional.abs() <= collateral * cap + collateral,
            "{account:?} over {cap}x"
        );
    }
    (scenario, checks)
}

#[test]
fn crash_capture_book_hits_the_target_and_is_deterministic() {
    let dir = temp_dir("crash");
    let market = CrashSpec {
        duration_s: 60,
        ..CrashSpec::default()
    };
    let captures = write_crash_captures(&market, &dir, &[Dialect::BinanceUsdm, Dialect::BybitV5]).unwrap();
    let (ranges, checks) = write_accounts_scenario(&args(captures.clone(), dir.join("a"), 7, 400)).unwrap();
    assert_eq!(ranges.len(), 1);
    let r = &ranges[0];
    assert_eq!(
        (r.symbol.as_str(), r.tick_size.as_str(), r.lot_size.as_str()),
        ("BTCUSDT", "0.1", "0.001")
    );
    assert_eq!(r.venues, ["binance-usdm", "bybit"]);
    // The crash falls by 15 %: the observed low is well below the start.
    assert!(r.min_mid < r.first_mid * 90 / 100 && r.max_mid >= r.first_mid, "{r:?}");

    let (scenario, loaded) = load_and_verify(&dir.join("a"), &ranges);
    assert_eq!(
        loaded.iter().map(|c| c.liquidatable_in_range).collect::<Vec<_>>(),
        checks.iter().map(|c| c.liquidatable_in_range).collect::<Vec<_>>()
    );
    let expected: Vec<PathBuf> = captures.iter().map(|c| std::fs::canonicalize(c).unwrap()).collect();
    assert_eq!(scenario.captures, expected, "absolute capture paths load as they are");
    let c = &loaded[0];
    assert_eq!(c.accounts, 400);
    assert!(
        (50..=110).contains(&c.liquidatable_in_range),
        "{c:?}: target 20 % of 400"
    );
    // Every account aimed inside is crossed, and none aimed outside.
    assert_eq!(c.liquidatable_in_range, checks[0].aimed_inside, "{c:?}");
    assert_eq!(c.liquidatable_at_start, 0);

    // Same seed: byte-identical files; another seed: a different book.
    write_accounts_scenario(&args(captures.clone(), dir.join("b"), 7, 400)).unwrap();
    write_accounts_scenario(&args(captures, dir.join("c"), 8, 400)).unwrap();
    for f in FILES {
        let a = std::fs::read(dir.join("a").join(f)).unwrap();
        assert_eq!(a, std::fs::read(dir.join("b").join(f)).unwrap(), "{f}");
    }
    let positions = |d: &str| std::fs::read(dir.join(d).join("positions.csv")).unwrap();
    assert_ne!(positions("a"), positions("c"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn target_zero_and_hundred_are_honoured() {
    let dir = temp_dir("extremes");
    let market = CrashSpec {
        duration_s: 30,
        ..CrashSpec::default()
    };
    let captures = write_crash_captures(&market, &dir, &[Dialect::BinanceUsdm]).unwrap();
    for (pct, want) in [(0.0, 0), (100.0, 120)] {
        let mut a = args(captures.clone(), dir.join(format!("p{pct}")), 3, 120);
        a.target_liquidated_pct = pct;
        let (_, checks) = write_accounts_scenario(&a).unwrap();
        assert_eq!(checks[0].liquidatable_in_range, want, "{pct} %: {checks:?}");
    }
    let mut bad = args(captures, dir.join("bad"), 3, 10);
    bad.target_liquidated_pct = 120.0;
    assert!(write_accounts_scenario(&bad)
        .unwrap_err()
        .to_string()
        .contains("--target-liquidated-pct"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flat_symbol_hands_its_share_to_the_others() {
    let range = |symbol: &str, first, min, max| PriceRange {
        symbol: symbol.into(),
        venues: vec!["bybit".into()],
        tick_size: "0.01".into(),
        lot_size: "0.001".into(),
        first_ns: 0,
        first_mid: first,
        min_mid: min,
        max_mid: max,
        updates: 10,
    };
    let ranges = [
        range("FLATUSDT", 100_000, 100_000, 100_001),
        range("MOVEUSDT", 100_000, 99_800, 100_300),
    ];
    let instruments = InstrumentSet::parse(&instruments_toml(&ranges), "t").unwrap();
    let plan = plan_accounts(&ranges, &instruments, &args(Vec::new(), PathBuf::new(), 5, 2000)).unwrap();
    let inside = |s: &str| plan.iter().filter(|a| a.symbol == s && a.aimed_inside).count();
    assert_eq!(inside("FLATUSDT"), 0);
    // 20 % of 2000 = 400, all on the moving symbol (40 % of its 1000 accounts).
    assert!((340..=460).contains(&inside("MOVEUSDT")), "{}", inside("MOVEUSDT"));
    for a in &plan {
        let r = if a.symbol == "FLATUSDT" { &ranges[0] } else { &ranges[1] };
        let crossed = if a.size_lots > 0 {
            r.min_mid < a.target_liq_ticks
        } else {
            r.max_mid > a.target_liq_ticks
        };
        assert_eq!(crossed, a.aimed_inside, "{a:?}");
    }
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn cryptofeed_binance_futures_book() {
    use gavel_feeds::data_dir::require_data_file;
    let ws = require_data_file("cryptofeed/BINANCE_FUTURES.ws.1.0");
    let snapshots = require_data_file("cryptofeed/BINANCE_FUTURES.http.0.0");
    let info = require_data_file("cryptofeed/BINANCE_FUTURES.0");
    let dir = temp_dir("real");
    let mut a = args(vec![ws], dir.join("a"), 1, 900);
    a.snapshot = vec![snapshots];
    a.venue_info = Some(info);
    let (ranges, checks) = write_accounts_scenario(&a).unwrap();
    // CTKUSDT has no snapshot in the recording, so its book never syncs.
    let symbols: Vec<&str> = ranges.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(symbols, ["AKROUSDT", "KEEPUSDT", "SUSHIUSDT"]);
    let sushi = &ranges[2];
    // exchangeInfo grids, and the 30 s path stays within a fraction of a percent.
    assert_eq!((sushi.tick_size.as_str(), sushi.lot_size.as_str()), ("0.001", "1"));
    assert!(
        sushi.min_mid < sushi.max_mid && sushi.max_mid - sushi.min_mid < sushi.first_mid / 100,
        "{sushi:?}"
    );
    let (scenario, loaded) = load_and_verify(&dir.join("a"), &ranges);
    assert_eq!(scenario.snapshots.len(), 1);
    assert!(scenario.venue_info.is_some());
    // What the command reported equals what the written files verify to.
    let reported: Vec<(&str, usize)> = checks.iter().map(|c| (c.symbol.as_str(), c.liquidatable_in_range)).collect();
    let verified: Vec<(&str, usize)> = loaded.iter().map(|c| (c.symbol.as_str(), c.liquidatable_in_range)).collect();
    assert_eq!(reported, verified);
    for c in &loaded {
        assert_eq!(c.accounts, 300);
        // 20 % of 300 = 60; binomial spread ±7.
        assert!((35..=85).contains(&c.liquidatable_in_range), "{c:?}");
        assert_eq!(c.liquidatable_at_start, 0, "{c:?}");
        assert!(c.max_leverage <= 50, "{c:?}");
    }
    assert!(loaded.iter().any(|c| c.liquidatable_in_range > 0));
    std::fs::remove_dir_all(&dir).unwrap();
}
