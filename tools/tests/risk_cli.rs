//! `gavel risk` end to end on the shipped examples.

use std::process::Command;

fn docs(p: &str) -> String {
    format!("{}/../docs/examples/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn gavel_risk(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args([
            "risk",
            "--instruments",
            &docs("instruments.toml"),
            "--accounts",
            &docs("accounts.csv"),
            "--positions",
            &docs("positions.csv"),
        ])
        .args(extra)
        .output()
        .expect("gavel runs")
}

#[test]
fn csv_report_has_the_exact_header_and_values() {
    let out = gavel_risk(&["--mark", "BTCUSDT=49500", "--mark", "ETHUSDT=2550.5", "--csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "account,instrument,size,mark,equity,maintenance,health,liquidation_price,bankruptcy_price"
    );
    // alice: 1 BTC long @ 50 000, 1 000 isolated; mark 49 500: equity 500,
    // maintenance 0.4 % × 49 500 = 198, health 2.5252, LP 49 196.8, BP 49 000.
    assert_eq!(lines[1], "alice,BTCUSDT,1.000,49500.0,500.000000,198.000000,2.5252,49196.8,49000.0");
    // bob: the mirror short; LP in bracket 1: (1000 + 50 + 50000) / 1.005 = 50 796.02 → 50 796.0.
    assert_eq!(lines[2], "bob,BTCUSDT,-1.000,49500.0,1500.000000,198.000000,7.5757,50796.0,51000.0");
    // dave: 2 ETH long @ 2600 cross, wallet 200; equity 200 − 99 = 101; MM 0.5 % × 5101 = 25.505.
    assert_eq!(lines[5], "dave,ETHUSDT,2.000,2550.50,101.000000,25.505000,3.9600,2512.57,2500.00");
    assert_eq!(lines.len(), 6);
}

#[test]
fn missing_mark_and_bad_mark_are_errors() {
    let out = gavel_risk(&["--mark", "BTCUSDT=49500"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --mark for ETHUSDT"));
    let out = gavel_risk(&["--mark", "BTCUSDT=49500.05", "--mark", "ETHUSDT=1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tick"));
}
