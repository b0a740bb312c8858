//! `gavel risk --rules` end to end on the shipped examples.

use std::process::Command;

fn docs(p: &str) -> String {
    format!("{}/../docs/examples/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn gavel_risk(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["risk", "--instruments", &docs("instruments.toml"), "--accounts", &docs("accounts.csv")])
        .args(["--positions", &docs("positions.csv"), "--mark", "BTCUSDT=49100", "--mark", "ETHUSDT=2550.5"])
        .args(extra)
        .output()
        .expect("gavel runs")
}

fn csv_lines(extra: &[&str]) -> Vec<String> {
    let out = gavel_risk(extra);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
}

const BASE_HEADER: &str = "account,instrument,size,mark,equity,maintenance,health,liquidation_price,bankruptcy_price";
const ALICE: &str = "alice,BTCUSDT,1.000,49100.0,100.000000,196.400000,0.5091,49196.8,49000.0";
const BOB: &str = "bob,BTCUSDT,-1.000,49100.0,1900.000000,196.400000,9.6741,50796.0,51000.0";

#[test]
fn without_rules_the_output_is_unchanged() {
    let lines = csv_lines(&["--csv"]);
    assert_eq!(lines[0], BASE_HEADER);
    assert_eq!(lines[1], ALICE);
    assert_eq!(lines.len(), 6);
}

#[test]
fn binance_rules_add_the_decision_columns() {
    let lines = csv_lines(&["--csv", "--rules", &docs("rules-binance-usdm.toml")]);
    assert_eq!(lines[0], format!("{BASE_HEADER},liquidatable,venue_bankruptcy_price,limit_price,size_to_liquidate"));
    // alice: equity 100 < MM 196.4 → one IOC for 1 BTC at the bankruptcy price 49,000.
    assert_eq!(lines[1], format!("{ALICE},true,49000.0,49000.0,1.000"));
    // bob is healthy: no order, nothing to liquidate.
    assert_eq!(lines[2], format!("{BOB},false,51000.0,,0.000"));
    assert_eq!(lines.len(), 6);
}

#[test]
fn dydx_rules_price_the_fillable_limit() {
    let lines = csv_lines(&["--csv", "--rules", &docs("rules-dydx-v4.toml")]);
    // TNC 100, TMMR 196.4: ABR = 1 − 100/196.4, spread = ABR × 10 % × 196.4 = 9.64,
    // fillable (49,100 − 9.64) / 1 = 49,090.36 → up to the tick: 49,090.4.
    // Bankruptcy: 49,100 − floor(100 × 196.4 / 196.4) = 49,000.
    assert_eq!(lines[1], format!("{ALICE},true,49000.0,49090.4,1.000"));
    // The table shows the same decision under the rules' name.
    let out = gavel_risk(&["--rules", &docs("rules-dydx-v4.toml")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().next().unwrap().contains("dydx-v4"), "{text}");
    assert!(text.lines().nth(1).unwrap().ends_with("true      49000.0      49090.4        1.000"), "{text}");
}

#[test]
fn bad_rules_file_is_an_error_naming_file_line_and_key() {
    let path = std::env::temp_dir().join(format!("gavel-bad-rules-{}.toml", std::process::id()));
    std::fs::write(&path, "rules = \"dydx-v4\"\nmax_liquidation_fee_ppm = 0\n").unwrap();
    let out = gavel_risk(&["--rules", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}: line 2: field `max_liquidation_fee_ppm`", path.display())), "{err}");
}
