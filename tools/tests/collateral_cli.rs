//! `gavel collateral` end to end: the stress of the shipped example, the
//! one-venue depeg, bad flags and files.

mod cli_common;

use cli_common::{assert_refused, gavel, json};

#[test]
fn stress_reports_the_failing_accounts_and_the_fund_needed() {
    let doc = json(&gavel(&["collateral", "stress", "--json"]));
    assert_eq!(doc["stress_pct"], "25");
    assert_eq!(doc["failing_accounts"], serde_json::json!(["btc-long-on-usdt", "btc-long-on-btc"]));
    // 17,500 (a 2 BTC long on 30,000 USDT) + 3,562.5 (a 3 BTC long on 1 BTC at a 5 % haircut).
    assert_eq!(doc["fund_needed"], "21062.500000");
    let usde = doc["index"].as_array().unwrap().iter().find(|i| i["asset"] == "USDe").unwrap();
    assert_eq!((usde["price"].as_str().unwrap(), usde["dropped_venues"].as_u64().unwrap()), ("0.998800", 1));
    // A milder stress: fewer failures, less fund.
    let mild = json(&gavel(&["collateral", "stress", "--json", "--stress-pct", "5"]));
    assert_eq!(mild["failing_accounts"], serde_json::json!([]));
    assert_eq!(mild["fund_needed"], "0.000000");
}

#[test]
fn a_one_venue_depeg_liquidates_on_that_venue_only() {
    let one = json(&gavel(&["collateral", "depeg", "--json", "--accounts", "1000"]));
    let o = &one["outcome"];
    assert!(o["single_venue"].as_u64().unwrap() > 200, "{o}");
    assert_eq!(o["index"], 0);
    let all = json(&gavel(&["collateral", "depeg", "--json", "--accounts", "1000", "--all-venues"]));
    assert_eq!(all["outcome"]["index"], all["outcome"]["single_venue"]);
    assert_eq!(all["outcome"]["single_venue"], o["single_venue"]);
}

#[test]
fn bad_flags_and_files_are_refused_with_their_name() {
    assert_refused(&[
        (&["collateral", "stress", "--stress-pct", "100"][..], "--stress-pct"),
        (&["collateral", "depeg", "--depeg-pct", "0"], "--depeg-pct"),
        (&["collateral", "depeg", "--accounts", "0"], "--accounts"),
        (&["collateral", "stress", "--file", "/nonexistent/c.toml"], "/nonexistent/c.toml"),
    ]);
    let dir = std::env::temp_dir().join(format!("gavel-collateral-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("c.toml");
    std::fs::write(&file, include_str!("../../docs/examples/collateral.toml").replacen("haircut = \"0.05\"", "haircut = \"1.2\"", 1)).unwrap();
    let out = gavel(&["collateral", "stress", "--file", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("c.toml: line 15: field `asset.haircut`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
