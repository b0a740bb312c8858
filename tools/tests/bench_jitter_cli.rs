//! `gavel bench jitter --json`: the machine's noise floor, figures consistent with each
//! other on both clocks, and refused out-of-range flags.

use std::process::Command;

fn gavel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs")
}

#[test]
fn jitter_json_is_consistent_on_both_clocks() {
    let out = gavel(&["bench", "jitter", "--core", "0", "--seconds", "0.05", "--rounds", "5", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["core"], 0);
    assert_eq!(v["rounds"], 5);
    assert_eq!(v["threshold_ns"], 1000);
    assert_eq!(v["seconds"], 0.05);
    for side in ["tsc", "monotonic"] {
        let s = &v[side];
        let lost = s["lost_share"].as_f64().unwrap();
        assert!((0.0..1.0).contains(&lost), "{side}: {s}");
        let rate = s["interruptions_per_s"].as_f64().unwrap();
        assert!(rate >= 0.0, "{side}: {s}");
        let (floor99, floor999) = (s["p99_floor_ns"].as_u64().unwrap(), s["p999_floor_ns"].as_u64().unwrap());
        let (gaps, max_gap) = (s["gap"]["samples"].as_u64().unwrap(), s["gap"]["max_ns"].as_u64().unwrap());
        // A floor comes from the gaps: none without them, never past the longest, and the
        // p99.9's is the higher. Each holds in every round, so it holds for the medians too.
        if gaps == 0 {
            assert_eq!((floor99, floor999, lost), (0, 0, 0.0), "{side}: {s}");
        }
        assert!(floor99 <= floor999, "{side}: {s}");
        assert!(floor999 <= max_gap, "{side}: {s}");
        if gaps > 0 {
            assert!(s["gap"]["p50_ns"].as_u64().unwrap() >= 1_000, "a gap is at least the threshold: {s}");
        }
        assert!(s["self_timed_clean_ns"].as_u64().unwrap() > 0, "{side}: {s}");
        assert_eq!(s["gaps_unrecorded"], 0, "{side}: {s}");
    }
}

#[test]
fn jitter_flags_are_range_checked() {
    for (args, needle) in [
        (vec!["bench", "jitter", "--core", "4096", "--seconds", "0.05"], "--core"),
        (vec!["bench", "jitter", "--seconds", "0"], "--seconds"),
        (vec!["bench", "jitter", "--seconds", "abc"], "--seconds"),
        (vec!["bench", "jitter", "--threshold-ns", "5"], "--threshold-ns"),
        (vec!["bench", "jitter", "--rounds", "2"], "--rounds"),
    ] {
        let out = gavel(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(matches!(out.status.code(), Some(1) | Some(2)), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}
