//! A coin-margined crash end to end: `gavel gen crash --inverse` writes a BTCUSD book in
//! BTC on Binance COIN-M messages (sizes in contracts), and `gavel compare` / `gavel replay`
//! liquidate it through the real pipeline, conserving value to the coin unit, with the
//! same journal from two processes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn gavel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-inverse-replay-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `cmd`, asserts success, returns (stdout, stderr).
fn run_ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("gavel runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
    assert!(out.status.success(), "gavel failed: {stderr}\n{stdout}");
    (stdout, stderr)
}

fn compare(scenario: &Path, out: &Path) -> (String, String, serde_json::Value) {
    let (stdout, stderr) = run_ok(gavel().arg("compare").arg("--scenario").arg(scenario).arg("--json").arg(out.join("compare.json")).arg("--journal-dir").arg(out.join("journals")));
    let json = serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    (stdout, stderr, json)
}

#[test]
fn an_inverse_crash_is_liquidated_in_btc_and_conserves_to_the_coin_unit() {
    let dir = temp_dir("crash");
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "crash", "--inverse", "--seed", "4", "--accounts", "200", "--duration", "60", "--out"]).arg(&scenario));
    let instruments = std::fs::read_to_string(scenario.join("instruments.toml")).unwrap();
    assert!(instruments.contains("kind = \"inverse\"") && instruments.contains("\"binance-coinm\" = \"BTCUSD_PERP\""), "{instruments}");
    let positions = std::fs::read_to_string(scenario.join("positions.csv")).unwrap();
    for row in positions.lines().skip(1) {
        let size = row.split(',').nth(2).unwrap();
        assert!(size.parse::<i64>().is_ok_and(|s| s != 0), "sizes are whole contracts: {row}");
    }

    let (first_dir, second_dir) = (dir.join("run1"), dir.join("run2"));
    let (table, stderr, first) = compare(&scenario, &first_dir);
    let (_, _, second) = compare(&scenario, &second_dir);
    // Every COIN-M message parses on the contract grid: nothing is skipped.
    assert!(!stderr.contains("bad messages"), "{stderr}");
    assert!(table.contains("money in BTC"), "{table}");
    assert_eq!(first["money_unit"], "BTC");
    for name in ["naive", "partial", "auction", "sliced", "adaptive"] {
        let a = std::fs::read(first_dir.join("journals").join(format!("{name}.journal"))).unwrap();
        let b = std::fs::read(second_dir.join("journals").join(format!("{name}.journal"))).unwrap();
        assert!(!a.is_empty() && a == b, "{name}: journals differ between two processes");
    }
    for p in first["policies"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        assert_eq!(p["conservation_error"], "0", "{name}: value not conserved");
        assert!(p["liquidations"].as_u64().unwrap() > 0, "{name}: the crash liquidated nobody");
        // Money is printed to the coin's 10^-6 unit.
        let penalties = p["penalties"].as_str().unwrap();
        assert_eq!(penalties.split('.').nth(1).map(str::len), Some(6), "{name}: penalties {penalties}");
        assert!(penalties.parse::<f64>().unwrap() > 0.0, "{name}: no penalty charged");
    }
    let outcomes = |j: &serde_json::Value| -> Vec<serde_json::Value> {
        j["policies"].as_array().unwrap().iter().map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("latency");
            p
        }).collect()
    };
    assert_eq!(outcomes(&first), outcomes(&second));

    // `gavel replay` runs the same engine on it.
    let (out, _) = run_ok(gavel().args(["replay", "--policy", "partial", "--scenario"]).arg(&scenario));
    let row = out.lines().find(|l| l.starts_with("partial")).unwrap_or_else(|| panic!("{out}"));
    assert!(row.trim_end().ends_with(" 0"), "conservation error: {row}");
    let _ = std::fs::remove_dir_all(&dir);
}
