//! `gavel bench trigger --portfolio --json` and `gavel bench options --json`: the fields
//! the issues name, figures that are consistent with each other, and refused
//! out-of-range flags.

use std::process::Command;

fn gavel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs")
}

#[test]
fn portfolio_json_reports_the_named_fields() {
    let out = gavel(&["bench", "trigger", "--portfolio", "--json", "--accounts", "2000", "--rounds", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["accounts"], 2000);
    assert_eq!(v["instruments"], 5);
    let (p50, p99) = (v["gavel"]["p50_ns"].as_u64().unwrap(), v["gavel"]["p99_ns"].as_u64().unwrap());
    assert!(p50 >= 1 && p99 >= p50, "{v}");
    assert!(v["full_recompute_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["peer"]["p50_ns"].as_u64().unwrap() >= 1, "{v}");
    assert!(v["agreement_checked"].as_u64().unwrap() > 0, "{v}");
    // Every round covers the same path: 5 rounds × 20,000 updates on gavel's side.
    assert_eq!(v["gavel"]["samples"], 100_000);
}

#[test]
fn portfolio_flags_are_range_checked() {
    for (args, needle) in [
        (vec!["bench", "trigger", "--portfolio", "--accounts", "10"], "--accounts"),
        (vec!["bench", "trigger", "--portfolio", "--rounds", "2"], "--rounds"),
        (vec!["bench", "trigger", "--portfolio", "--multi-every", "3"], "--multi-every"),
    ] {
        let out = gavel(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(1) | Some(2)), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn options_json_reports_both_sides_and_their_agreement() {
    let out = gavel(&["bench", "options", "--json", "--accounts", "100", "--rounds", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!((v["accounts"].as_u64(), v["series"].as_u64(), v["scenarios"].as_u64()), (Some(100), Some(400), Some(21)), "{v}");
    assert_eq!(v["agreement_checked"], 100);
    for side in ["gavel", "peer"] {
        let s = &v[side];
        assert!(s["full_pass_ms"].as_f64().unwrap() > 0.0, "{v}");
        let (p50, p99) = (s["per_account"]["p50_ns"].as_u64().unwrap(), s["per_account"]["p99_ns"].as_u64().unwrap());
        assert!(p50 >= 1 && p99 >= p50, "{v}");
        // 5 rounds × 100 accounts.
        assert_eq!(s["per_account"]["samples"], 500, "{v}");
    }
    assert!(v["arrays_ms"].as_f64().unwrap() <= v["gavel"]["full_pass_ms"].as_f64().unwrap(), "{v}");
    for (args, needle) in [(vec!["bench", "options", "--accounts", "10"], "--accounts"), (vec!["bench", "options", "--rounds", "4"], "--rounds")] {
        let out = gavel(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(needle), "{args:?}: {stderr}");
    }
}
