//! `gavel compare` on a real recording: Binance USD-M futures from cryptofeed's
//! sample data (30 s, four symbols, no crash), with an account book built by
//! `gavel gen accounts` around the recorded prices.

use std::process::Command;

use gavel_feeds::data_dir::require_data_file;

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn compare_on_the_real_binance_recording() {
    let capture = require_data_file("cryptofeed/BINANCE_FUTURES.ws.1.0");
    let snapshots = require_data_file("cryptofeed/BINANCE_FUTURES.http.0.0");
    let venue_info = require_data_file("cryptofeed/BINANCE_FUTURES.0");
    let dir = std::env::temp_dir().join(format!("gavel-real-compare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let gavel = env!("CARGO_BIN_EXE_gavel");
    let gen = Command::new(gavel)
        .args(["gen", "accounts", "--seed", "1", "--accounts", "1000", "--capture"])
        .arg(&capture)
        .arg("--snapshot")
        .arg(&snapshots)
        .arg("--venue-info")
        .arg(&venue_info)
        .arg("--out")
        .arg(dir.join("scenario"))
        .output()
        .unwrap();
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let json_path = dir.join("compare.json");
    let out = Command::new(gavel)
        .arg("compare")
        .arg("--scenario")
        .arg(dir.join("scenario"))
        .arg("--json")
        .arg(&json_path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let policies = json["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 5);
    let get = |name: &str| policies.iter().find(|p| p["name"] == name).unwrap().clone();
    for p in policies {
        let name = p["name"].as_str().unwrap();
        assert_eq!(p["conservation_error"], "0", "{name}");
        assert!(p["liquidations"].as_u64().unwrap() > 50, "{name}: the recorded moves should liquidate accounts");
    }
    // The recorded books are thin: closing whole positions at market slips far more
    // than the minimal partial close does.
    let naive = get("naive")["arrival_slippage_bps"].as_f64().unwrap();
    let adaptive = get("adaptive")["arrival_slippage_bps"].as_f64().unwrap();
    assert!(adaptive < naive, "adaptive {adaptive} bps vs naive {naive} bps");
    assert_eq!(get("naive")["partial_liquidations"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
