//! `gavel options` end to end: the venue check on the real Deribit recording,
//! the margin report of the shipped example, the crash comparison, bad input.

mod cli_common;

use cli_common::{assert_refused, gavel, json};

/// The real Deribit recording under `GAVEL_DATA`; fails loudly when it is missing.
fn deribit_recording() -> String {
    let dir = std::env::var("GAVEL_DATA").unwrap_or_else(|_| "../../shared/data".into());
    let file = format!("{dir}/cryptofeed/DERIBIT.ws.1.0");
    assert!(std::path::Path::new(&file).exists(), "{file} is missing (set GAVEL_DATA)");
    file
}

#[test]
#[ignore = "real data: needs GAVEL_DATA"]
fn check_agrees_with_deribit_on_the_recording() {
    let file = deribit_recording();
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
    // Spreads still widening, but a 30 s refill is expected: hedge first, holding until 1.5 × calm.
    let refill = stressed(&["--spread-trend-pct-per-min", "20", "--spread-refill-half-life-s", "30"]);
    assert_eq!(plan(&refill), "HedgeDeltaFirst");
    let hold = refill["accounts"][1]["plans"][0]["hold_s"].as_f64().unwrap();
    assert!((hold - 30.0 * 14f64.log2()).abs() < 1e-9, "{hold}");
    assert_eq!(plan(&stressed(&["--spread-trend-pct-per-min", "20"])), "CloseOptions");
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
    assert_eq!(many["strategies"]["hedge-first"]["hedged_first"]["mean"], many["strategies"]["hedge-first"]["hedged_first"]["of_liquidated"]);
}

#[test]
fn a_depth_refill_adds_the_greeks_rule_with_the_refill_forecast() {
    let doc = json(&gavel(&["options", "crash", "--accounts", "60", "--seed", "1", "--depth-refill-half-life-ms", "120000", "--json"]));
    assert_eq!(doc["depth_refill_half_life_ms"], 120_000);
    let s = doc["strategies"].as_array().unwrap();
    let names: Vec<&str> = s.iter().map(|x| x["strategy"].as_str().unwrap()).collect();
    assert_eq!(names, ["close-first", "hedge-first", "greeks", "greeks-refill"]);
    let outcome = |i: usize, key: &str| s[i]["outcome"][key].as_f64().unwrap();
    assert!(outcome(3, "hedged_first") >= 1.0 && outcome(3, "liquidation_cost") < outcome(0, "liquidation_cost"), "{doc}");
    let text = String::from_utf8_lossy(&gavel(&["options", "crash", "--accounts", "20", "--seeds", "2", "--depth-refill-half-life-ms", "6900"]).stdout).into_owned();
    assert!(text.contains("depth refills with half-life 6900 ms") && text.contains("greeks-refill:") && text.contains("hedged_first"), "{text}");
}

#[test]
fn bad_flags_and_files_are_refused_with_their_name() {
    assert_refused(&[
        (&["options", "crash", "--accounts", "0"][..], "--accounts"),
        (&["options", "crash", "--drop-pct", "95"], "--drop-pct"),
        (&["options", "crash", "--depth-refill-half-life-ms", "0"], "--depth-refill-half-life-ms"),
        (&["options", "margin", "--spread-scale", "inf"], "--spread-scale"),
        (&["options", "margin", "--depth-scale", "0"], "--depth-scale"),
        (&["options", "margin", "--spread-trend-pct-per-min", "-100"], "--spread-trend-pct-per-min"),
        (&["options", "margin", "--vol-trend-pct-per-min", "nan"], "--vol-trend-pct-per-min"),
        (&["options", "margin", "--spread-refill-half-life-s", "0"], "--spread-refill-half-life-s"),
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

/// One Deribit `ticker` notification line of a cryptofeed recording.
fn ticker_line(received_s: f64, name: &str, stamp_ms: u64, underlying: f64, mark_iv: f64) -> String {
    format!(
        "{received_s}: {{\"jsonrpc\":\"2.0\",\"method\":\"subscription\",\"params\":{{\"channel\":\"ticker.{name}.raw\",\"data\":{{\"underlying_price\":{underlying},\"underlying_index\":\"index\",\"timestamp\":{stamp_ms},\"stats\":{{\"volume\":1.0}},\"state\":\"open\",\"mark_price\":0.05,\"mark_iv\":{mark_iv},\"interest_rate\":0.0,\"instrument_name\":\"{name}\",\"index_price\":{underlying},\"greeks\":{{\"vega\":0.2,\"theta\":-1.6,\"rho\":0.01,\"gamma\":0.0002,\"delta\":0.3}},\"best_bid_price\":0.04,\"best_bid_amount\":1.0,\"best_ask_price\":0.06,\"best_ask_amount\":1.0}}}}}}\n"
    )
}

#[test]
fn implied_vol_writes_the_at_the_money_vol_a_scenario_reads() {
    let dir = std::env::temp_dir().join(format!("gavel-options-iv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let t0 = 1_626_993_722_933u64;
    let mut text = String::from("wss://www.deribit.com/ws/api/v2 <-> 1626993722.0\n");
    text += &ticker_line(1.0, "BTC-31DEC21-34000-P", t0, 32_745.0, 80.02);
    // Further from the money: not used.
    text += &ticker_line(1.1, "BTC-24SEP21-34000-P", t0 + 200, 32_367.0, 76.57);
    // The ATM series moves within the row spacing, then again after it.
    text += &ticker_line(1.2, "BTC-31DEC21-34000-P", t0 + 500, 32_745.0, 81.0);
    text += &ticker_line(1.3, "ETH-31DEC21-2000-C", t0 + 600, 2_000.0, 99.0);
    text += &ticker_line(1.4, "BTC-31DEC21-34000-P", t0 + 1_200, 32_745.0, 81.5);
    // A bad ticker (mark_iv 0) is skipped and said; a stamp earlier than one seen counts at the latest.
    text += &ticker_line(1.5, "BTC-31DEC21-34000-P", t0 + 1_300, 32_745.0, 0.0);
    text += &ticker_line(1.6, "BTC-24SEP21-34000-P", t0 + 1_100, 32_367.0, 76.6);
    // At the money, 7.3 days to expiry (30 Jul 08:00 UTC): used unless 8 days are required.
    text += &ticker_line(1.7, "BTC-30JUL21-32000-C", t0 + 2_500, 32_185.0, 90.0);
    let recording = dir.join("deribit.ws");
    std::fs::write(&recording, text).unwrap();
    let run = |extra: &[&str]| {
        let out_file = dir.join("implied_vol.csv");
        let mut args = vec!["options", "implied-vol", recording.to_str().unwrap(), "--currency", "BTC", "--instrument", "BTCUSDT", "--out", out_file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = gavel(&args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        (std::fs::read_to_string(out_file).unwrap(), err)
    };
    let (csv, err) = run(&[]);
    assert_eq!(csv, "offset_ms,instrument,vol_pct\n0,BTCUSDT,80.0200\n1200,BTCUSDT,81.5000\n2500,BTCUSDT,90.0000\n");
    assert!(err.contains("line 7: field `mark_iv`") && err.contains("1 stamped before an earlier ticker") && err.contains("skipped 1 tickers"), "{err}");
    let (csv, _) = run(&["--min-expiry-days", "8"]);
    assert_eq!(csv, "offset_ms,instrument,vol_pct\n0,BTCUSDT,80.0200\n1200,BTCUSDT,81.5000\n");
    let (fine, _) = run(&["--every-ms", "1"]);
    assert_eq!(fine, "offset_ms,instrument,vol_pct\n0,BTCUSDT,80.0200\n500,BTCUSDT,81.0000\n1200,BTCUSDT,81.5000\n2500,BTCUSDT,90.0000\n");
    // The file is a scenario's implied_vol.csv: a generated crash replays with it in place.
    let scenario = dir.join("scenario");
    let gen = gavel(&["gen", "crash", "--seed", "3", "--accounts", "50", "--out", scenario.to_str().unwrap()]);
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    std::fs::copy(dir.join("implied_vol.csv"), scenario.join("implied_vol.csv")).unwrap();
    let toml_path = scenario.join("scenario.toml");
    let toml = std::fs::read_to_string(&toml_path).unwrap();
    std::fs::write(&toml_path, format!("implied_vol = \"implied_vol.csv\"\n{}", toml.lines().filter(|l| !l.starts_with("implied_vol")).collect::<Vec<_>>().join("\n"))).unwrap();
    let report = dir.join("compare.json");
    let out = gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--policy", "naive", "--json", report.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert!(doc["policies"][0]["margin_calls"].is_u64(), "{doc}");
    // It is read: a broken row in the same place stops the replay naming the file.
    std::fs::write(scenario.join("implied_vol.csv"), format!("{csv}0,BTCUSDT,0\n")).unwrap();
    let out = gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--policy", "naive"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("implied_vol.csv") && err.contains("vol_pct"), "{err}");
    assert_refused(&[
        (&["options", "implied-vol", recording.to_str().unwrap(), "--currency", "SOL", "--instrument", "SOLUSDT", "--out", "/tmp/x.csv"][..], "no SOL options ticker"),
        (&["options", "implied-vol", recording.to_str().unwrap(), "--currency", "BTC", "--instrument", "BTC,USDT"], "--instrument"),
        (&["options", "implied-vol", recording.to_str().unwrap(), "--currency", "BTC", "--instrument", "BTCUSDT", "--min-expiry-days", "400"], "no BTC series with at least 400 days"),
        (&["options", "implied-vol", recording.to_str().unwrap(), "--currency", "BTC", "--instrument", "BTCUSDT", "--every-ms", "0"], "--every-ms"),
        (&["options", "implied-vol", "/nonexistent/deribit.ws", "--currency", "BTC", "--instrument", "BTCUSDT"], "/nonexistent/deribit.ws"),
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
#[ignore = "real data: needs GAVEL_DATA"]
fn implied_vol_from_the_deribit_recording() {
    let file = deribit_recording();
    let out_dir = std::env::temp_dir().join(format!("gavel-options-iv-real-{}", std::process::id()));
    std::fs::create_dir_all(&out_dir).unwrap();
    let out_file = out_dir.join("iv.csv");
    let out = gavel(&["options", "implied-vol", &file, "--currency", "BTC", "--instrument", "BTCUSDT", "--out", out_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // 30 s of tickers on 7 BTC series; the nearest the money with ≥ 7 days left is
    // BTC-31DEC21-34000-P (|ln(34000 ÷ 32744.81)| = 0.038), whose mark vol stays 80.02 %.
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "offset_ms,instrument,vol_pct\n0,BTCUSDT,80.0200\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("69 BTC tickers"));
    std::fs::remove_dir_all(&out_dir).unwrap();
}
