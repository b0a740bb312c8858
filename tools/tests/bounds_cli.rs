//! Out-of-range numbers from flags and files are refused with a non-zero exit
//! and an error naming the flag (or file, line and field); none panics, hangs
//! or allocates without bound. One regression test per failure of issue 14.

use std::path::PathBuf;
use std::process::{Command, Output};

fn gavel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs")
}

/// Runs gavel, expects exit status 1 or 2 (an error, not a signal or a panic's
/// 101) and stderr containing every one of `needles`; returns stderr.
fn refused(args: &[&str], needles: &[&str]) -> String {
    let out = gavel(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let code = out.status.code();
    assert!(matches!(code, Some(1) | Some(2)), "{args:?}: exit {code:?}, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{args:?}: stderr lacks {needle:?}: {stderr}");
    }
    stderr
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-bounds-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn account_counts_have_a_documented_maximum() {
    let dir = temp_dir("accounts");
    let out = dir.join("scenario");
    let out = out.to_str().unwrap();
    for n in ["18446744073709551615", "1000000000", "1000001", "0"] {
        refused(&["gen", "crash", "--out", out, "--accounts", n], &["--accounts", "1000000"]);
        refused(&["demo", "--accounts", n, "--keep", out], &["--accounts"]);
        refused(&["gen", "accounts", "--capture", "none.cap", "--out", out, "--accounts", n], &["--accounts"]);
    }
    refused(&["gen", "accounts", "--capture", "none.cap", "--out", out, "--accounts", "18446744073709551616"], &["--accounts"]);
    refused(&["gen", "crash", "--out", out, "--duration", "9223372036854775807"], &["--duration", "86400"]);
    refused(&["gen", "crash", "--out", out, "--drop", "NaN"], &["--drop"]);
    assert!(!dir.join("scenario").exists(), "refused before writing anything");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn liquidate_levels_and_market_flags_are_bounded() {
    refused(&["liquidate", "--levels", "4294967295"], &["--levels", "10000"]);
    refused(&["liquidate", "--levels", "0"], &["--levels"]);
    refused(&["liquidate", "--qty=-5"], &["--qty"]);
    refused(&["liquidate", "--spacing", "9223372036854775807"], &["--spacing"]);
    refused(&["liquidate", "--mark", "100", "--levels", "10", "--spacing", "20"], &["--mark", "positive price"]);
}

#[test]
fn ring_capacities_are_bounded_before_any_shared_memory_is_touched() {
    refused(&["stream", "--ring-capacity", "1099511627776"], &["--ring-capacity", "2^22"]);
    refused(&["stream", "--ring-capacity", "1000"], &["--ring-capacity", "power of two"]);
    refused(
        &["ring", "produce", "--path", "/dev/shm/gavel-bounds-never", "--count", "1", "--capacity", "1099511627776"],
        &["--capacity"],
    );
    assert!(!std::path::Path::new("/dev/shm/gavel-bounds-never").exists());
}
