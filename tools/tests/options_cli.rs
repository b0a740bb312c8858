//! `gavel options` end to end: the venue check on the real Deribit recording,
//! the margin report of the shipped example, the crash comparison, bad input.

mod cli_common;

use cli_common::{assert_refused, gavel, json};

#[test]
#[ignore = "real data: needs GAVEL_DATA"]
fn check_agrees_with_deribit_on_the_recording() {
    let dir = std::env::var("GAVEL_DATA").unwrap_or_else(|_| "../../shared/data".into());
    let file = format!("{dir}/cryptofeed/DERIBIT.ws.1.0");
    assert!(std::path::Path::new(&file).exists(), "{file} is missing (set GAVEL_DATA)");
    let doc = json(&gavel(&["options", "check", &file, "--json"]));
    assert_eq!(doc["tickers"], 89);
    assert_eq!(doc["outside_tolerance"], 0);
    assert_eq!(doc["series"].as_object().unwrap().len(), 10);
    // The one series with theta capped at its premium (under a day to expiry) is in the table.
    assert!(doc["series"]["ETH-23JUL21-2300-C"]["worst_excess"]["theta"].as_f64().unwrap() < 0.01);
}

#[test]
fn check_refuses_a_file_without_tickers() {
    let dir = std::env::temp_dir().join(format!("gavel-options-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("empty.ws");
    std::fs::write(&file, "wss://www.deribit.com/ws/api/v2 <-> 1626993723.424371\n1626993723.8: {\"jsonrpc\":\"2.0\",\"id\":0,\"result\":[]}\n").unwrap();
    let out = gavel(&["options", "check", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no options ticker"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn margin_reports_every_account_of_the_example() {
    let doc = json(&gavel(&["options", "margin", "--json"]));
    let accounts = doc["accounts"].as_array().unwrap();
    let by_id = |id: &str| accounts.iter().find(|a| a["account"] == id).unwrap_or_else(|| panic!("{id}"));
    assert_eq!(accounts.len(), 5);
    assert_eq!(by_id("put-seller")["liquidatable"], false);
    assert_eq!(by_id("delta-hedged-seller")["liquidatable"], true);
    assert_eq!(by_id("eth-put-seller")["liquidatable"], true);
    assert_eq!(by_id("option-buyer")["exposures"].as_array().unwrap().len(), 2);
    // A put seller's worst scenario is the largest fall with vols up.
    assert_eq!(by_id("put-seller")["exposures"][0]["worst_move"], -0.15);
    // Calm market: closing is at least as cheap. Wide spreads in a thin book favour hedging first
    // only while they narrow, and not while the seller's vols rise.
    let plan = |d: &serde_json::Value| d["accounts"][1]["plans"][0]["plan"].as_str().unwrap().to_string();
    assert_eq!(plan(&doc), "CloseOptions");
    let stressed = |extra: &[&str]| json(&gavel(&[&["options", "margin", "--json", "--spread-scale", "8", "--depth-scale", "0.25"][..], extra].concat()));
    assert_eq!(plan(&stressed(&[])), "CloseOptions");
    let narrowing = stressed(&["--spread-trend-pct-per-min", "-50"]);
    assert_eq!(plan(&narrowing), "HedgeDeltaFirst");
    assert_eq!(narrowing["accounts"][1]["plans"][0]["vega_wait"], 0.0);
    let rising = stressed(&["--spread-trend-pct-per-min", "-50", "--vol-trend-pct-per-min", "20"]);
    assert!(rising["accounts"][1]["plans"][0]["vega_wait"].as_f64().unwrap() > 0.0);
    assert_eq!(plan(&rising), "CloseOptions");
}

#[test]
fn crash_compares_the_three_strategies_on_the_same_accounts() {
    let doc = json(&gavel(&["options", "crash", "--accounts", "60", "--seed", "3", "--json"]));
    let s = doc["strategies"].as_array().unwrap();
    let names: Vec<&str> = s.iter().map(|x| x["strategy"].as_str().unwrap()).collect();
    assert_eq!(names, ["close-first", "hedge-first", "greeks"]);
    let liquidated: Vec<u64> = s.iter().map(|x| x["outcome"]["liquidated"].as_u64().unwrap()).collect();
    assert!(liquidated[0] > 0 && liquidated.iter().all(|&n| n == liquidated[0]), "{liquidated:?}");
    assert_eq!(s[0]["outcome"]["hedged_first"], 0);
    assert_eq!(s[1]["outcome"]["hedged_first"], s[1]["outcome"]["liquidated"]);
    let many = json(&gavel(&["options", "crash", "--accounts", "40", "--seeds", "3", "--json"]));
    let g = &many["strategies"]["greeks"]["loss_to_others"];
    let ci = g["vs_close_first"]["ci95"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() <= ci[1].as_f64().unwrap());
    assert!(many["strategies"]["close-first"]["liquidation_cost"]["mean"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_flags_and_files_are_refused_with_their_name() {
    assert_refused(&[
        (&["options", "crash", "--accounts", "0"][..], "--accounts"),
        (&["options", "crash", "--drop-pct", "95"], "--drop-pct"),
        (&["options", "margin", "--spread-scale", "inf"], "--spread-scale"),
        (&["options", "margin", "--depth-scale", "0"], "--depth-scale"),
        (&["options", "margin", "--spread-trend-pct-per-min", "-100"], "--spread-trend-pct-per-min"),
        (&["options", "margin", "--vol-trend-pct-per-min", "nan"], "--vol-trend-pct-per-min"),
        (&["options", "margin", "--portfolio", "/nonexistent/options.toml"], "/nonexistent/options.toml"),
    ]);
    let dir = std::env::temp_dir().join(format!("gavel-options-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("p.toml");
    let text = include_str!("../../docs/examples/options.toml").replacen("strike = \"90000\"", "strike = \"0\"", 1);
    std::fs::write(&file, text).unwrap();
    let out = gavel(&["options", "margin", "--portfolio", file.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("p.toml: line 27: field `series.strike`"), "{err}");
    // A portfolio without series: nothing to generate options on, said so (not a panic).
    std::fs::write(&file, "valuation_time = \"2026-12-04T00:00:00Z\"\n[[underlying]]\nsymbol = \"BTC\"\nprice = \"95000\"\nlot_size = \"0.001\"\ndepth_per_bp = \"6\"\nrealized_vol = \"0.5\"\n").unwrap();
    let out = gavel(&["options", "crash", "--portfolio", file.to_str().unwrap(), "--accounts", "5"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.code() == Some(1) && err.contains("no [[series]]"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
