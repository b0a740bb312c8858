//! `gavel risk` on an inverse (coin-margined) book: the shipped BTCUSD entry
//! and the small fixture in tests/fixtures/inverse (money in BTC).

use std::process::{Command, Output};

fn path(p: &str) -> String {
    format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn gavel_risk(positions: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args([
            "risk",
            "--instruments",
            &path("../docs/examples/instruments.toml"),
            "--accounts",
            &path("tests/fixtures/inverse/accounts.csv"),
            "--positions",
            positions,
        ])
        .args(extra)
        .output()
        .expect("gavel runs")
}

#[test]
fn inverse_report_is_in_btc_with_exact_prices() {
    let out = gavel_risk(&path("tests/fixtures/inverse/positions.csv"), &["--mark", "BTCUSD=25000", "--csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "account,instrument,size,mark,equity,maintenance,health,liquidation_price,bankruptcy_price");
    // Binance's example: 100 contracts at 25,000 = 0.4 BTC, maintenance 0.4 % = 0.0016 BTC;
    // 0.01 BTC isolated: health 6.25. LP: 0.41 − c = 0.004·c at c = 0.41 ÷ 1.004 BTC
    // (smallest unit c = 0.408367) → ⌈10^11 ÷ 408,366⌉ = 244,879 ticks; BP ⌈10^11 ÷ 410,000⌉.
    assert_eq!(lines[1], "carol,BTCUSD,100,25000.0,0.010000,0.001600,6.2500,24487.9,24390.3");
    // The mirror short (200 contracts, 0.05 BTC cross): liquidated above, bankrupt further up.
    assert_eq!(lines[2], "erin,BTCUSD,-200,25000.0,0.050000,0.003200,15.6250,26559.9,26666.6");
    // 37 @ 26,000.7: entry value 3,700 ÷ 26,000.7 = 0.142303861… → 0.142304 BTC; the
    // long is under water: equity 0.002 − 0.148 + 0.142304 = −0.003696 BTC.
    assert_eq!(lines[3], "frank,BTCUSD,37,25000.0,-0.003696,0.000592,-6.2433,25742.9,25640.4");
    assert_eq!(lines.len(), 4);
    // Just below carol's liquidation price she is liquidatable; at it she is not.
    for (mark, flagged) in [("24487.8", true), ("24487.9", false)] {
        let out = gavel_risk(&path("tests/fixtures/inverse/positions.csv"), &["--mark", &format!("BTCUSD={mark}")]);
        let text = String::from_utf8(out.stdout).unwrap();
        let carol = text.lines().find(|l| l.starts_with("carol")).unwrap();
        assert_eq!(carol.ends_with("LIQUIDATABLE"), flagged, "{mark}: {carol}");
    }
}

#[test]
fn mixed_settlement_and_venue_rules_are_refused_naming_the_cause() {
    let dir = std::env::temp_dir().join(format!("gavel-inverse-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mixed = dir.join("mixed.csv");
    std::fs::write(&mixed, "carol,BTCUSD,100,25000,0.01\nerin,BTCUSDT,0.001,25000\n").unwrap();
    let out = gavel_risk(mixed.to_str().unwrap(), &["--mark", "BTCUSD=25000", "--mark", "BTCUSDT=25000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mixed.csv") && err.contains("line 2") && err.contains("instrument") && err.contains("settles in"), "{err}");
    let out = gavel_risk(&path("tests/fixtures/inverse/positions.csv"), &["--mark", "BTCUSD=25000", "--rules", &path("../docs/examples/rules-binance-usdm.toml")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("inverse") && !err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
