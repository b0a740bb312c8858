//! Margin calls end to end. `gavel gen crash --implied-vol`: the scenario carries
//! `implied_vol.csv`, the engine's margin calls read it (`compare` reports calls sized on the
//! implied vol), a scenario without it has none, and bad flags and rows are refused by name.
//! `compare --call-response`: called clients send reduce-only orders, deterministically, with
//! value conserved. `--preempt-pct` / a policy file's `preempt`: the engine reduces called
//! positions itself, counted apart from liquidations.

use std::path::{Path, PathBuf};
use std::process::Command;

fn gavel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs")
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-implied-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn naive(scenario: &Path) -> serde_json::Value {
    naive_with(scenario, &[])
}

fn naive_with(scenario: &Path, extra: &[&str]) -> serde_json::Value {
    let json = scenario.with_extension("json");
    let mut args = vec!["compare", "--scenario", scenario.to_str().unwrap(), "--policy", "naive", "--json", json.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = gavel(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let policies = &v["policies"];
    policies.as_array().and_then(|a| a.first().cloned()).or_else(|| policies.as_object().and_then(|o| o.values().next().cloned())).expect("one policy")
}

#[test]
fn implied_vol_quotes_reach_the_margin_calls() {
    let dir = scratch("run");
    let (with, without) = (dir.join("with"), dir.join("without"));
    let common = ["--seed", "7", "--accounts", "300", "--duration", "60"];
    for (out, extra) in [(&with, &["--implied-vol", "150"][..]), (&without, &[][..])] {
        let mut args = vec!["gen", "crash", "--out", out.to_str().unwrap()];
        args.extend_from_slice(&common);
        args.extend_from_slice(extra);
        let o = gavel(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let csv = std::fs::read_to_string(with.join("implied_vol.csv")).unwrap();
    assert!(csv.starts_with("offset_ms,instrument,vol_pct\n0,BTCUSDT,150.0000\n"), "{csv}");
    assert!(std::fs::read_to_string(with.join("scenario.toml")).unwrap().contains("implied_vol = \"implied_vol.csv\""));
    assert!(!without.join("implied_vol.csv").exists());
    let (a, b) = (naive(&with), naive(&without));
    assert!(a["margin_calls_on_implied"].as_u64().unwrap() > 0, "{a}");
    assert_eq!(b["margin_calls_on_implied"], 0, "{b}");
    // The implied σ only widens the band: at least as many calls, the same liquidations.
    assert!(a["margin_calls"].as_u64().unwrap() >= b["margin_calls"].as_u64().unwrap(), "{a} {b}");
    assert_eq!(a["total_loss_to_others"], b["total_loss_to_others"]);

    // A bad row names the file, the line and the field.
    let text = csv.replacen("\n1000,BTCUSDT,", "\n1000,BTCUSDT,-", 1);
    std::fs::write(with.join("implied_vol.csv"), text).unwrap();
    let out = gavel(&["compare", "--scenario", with.to_str().unwrap(), "--policy", "naive"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("implied_vol.csv") && err.contains("line 3") && err.contains("vol_pct"), "{err}");
    for bad in ["0", "1000.5", "nan"] {
        let out = gavel(&["gen", "crash", "--out", dir.join("x").to_str().unwrap(), "--implied-vol", bad]);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--implied-vol"), "{bad}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `gen crash --seed 7 --accounts 300 --duration 60` into `dir/crash`.
fn seed7_crash(dir: &Path) -> PathBuf {
    let scenario = dir.join("crash");
    let o = gavel(&["gen", "crash", "--out", scenario.to_str().unwrap(), "--seed", "7", "--accounts", "300", "--duration", "60"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    scenario
}

#[test]
fn called_clients_answer_with_reduce_only_orders() {
    let dir = scratch("answer");
    let scenario = seed7_crash(&dir);
    let quiet = naive(&scenario);
    assert_eq!(quiet["margin_call_orders"], 0);
    let answered = naive_with(&scenario, &["--call-response", "100,100,1000"]);
    let (calls, orders) = (answered["margin_calls"].as_u64().unwrap(), answered["margin_call_orders"].as_u64().unwrap());
    // Every called cross account answers once per call; isolated ones cannot trade the own book.
    assert!(orders > 0 && orders <= calls, "{calls} calls, {orders} orders");
    assert!(answered["counters"]["own_trades"].as_u64().unwrap() > quiet["counters"]["own_trades"].as_u64().unwrap(), "{answered}");
    assert_eq!(answered["conservation_error"], "0", "value is conserved to the unit");
    // Who answers is fixed by the inputs: the same run twice gives the same journal.
    let again = naive_with(&scenario, &["--call-response", "100,100,1000"]);
    assert_eq!(again["journal_fingerprint"], answered["journal_fingerprint"]);
    // Half the clients answer: fewer orders.
    let half = naive_with(&scenario, &["--call-response", "50,100,1000"]);
    assert!(half["margin_call_orders"].as_u64().unwrap() < orders, "{half}");
    for bad in ["101,50,1000", "50,0,1000", "50,50,600001", "50,50", "a,b,c"] {
        let out = gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--policy", "naive", "--call-response", bad]);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--call-response"), "{bad}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_engine_acts_on_its_calls_with_preempt() {
    let dir = scratch("preempt");
    let scenario = seed7_crash(&dir);
    let quiet = naive(&scenario);
    assert_eq!((quiet["preemptive_reductions"].as_u64(), quiet["preemptive_lots"].as_i64()), (Some(0), Some(0)));
    let acting = naive_with(&scenario, &["--preempt-pct", "50"]);
    let (calls, reductions) = (acting["margin_calls"].as_u64().unwrap(), acting["preemptive_reductions"].as_u64().unwrap());
    // One reduction per call at most (an account already in an episode is not reduced again).
    assert!(reductions > 0 && reductions <= calls, "{calls} calls, {reductions} reductions");
    assert!(acting["preemptive_lots"].as_i64().unwrap() > 0, "{acting}");
    assert_eq!(acting["conservation_error"], "0", "value is conserved to the unit");
    // The same as a policy file, and deterministic.
    let file = dir.join("naive-preempt.toml");
    std::fs::write(&file, "name = \"naive-preempt\"\nbase = \"naive\"\npreempt = \"0.5\"\n").unwrap();
    let json = dir.join("file.json");
    let out = gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--policy", file.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["policies"][0]["journal_fingerprint"], acting["journal_fingerprint"]);
    // Out of range, and not with a venue's rules.
    for bad in ["0", "101", "x"] {
        let out = gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--policy", "naive", "--preempt-pct", bad]);
        assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--preempt-pct"), "{bad}");
    }
    let out = gavel(&["compare", "--scenario", scenario.to_str().unwrap(), "--policy", "dydx-v4", "--preempt-pct", "30"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("pre-emptive"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
