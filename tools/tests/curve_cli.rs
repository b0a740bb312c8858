//! Runs the `gavel curve` binary and checks its output against values computed
//! independently from MakerDAO's published abacus formulas.

// Expected values are pasted verbatim from the independent computation.
#![allow(clippy::excessive_precision)]

use std::process::Command;

fn gavel_curve(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .arg("curve")
        .args(args)
        .output()
        .expect("run gavel");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Parses `t,price` lines into (t text, price as f64 for tolerance checks, price text).
fn parse(stdout: &str) -> Vec<(String, f64, String)> {
    stdout
        .lines()
        .map(|line| {
            let (t, p) = line.split_once(',').expect("t,price");
            (t.to_string(), p.parse::<f64>().expect("decimal price"), p.to_string())
        })
        .collect()
}

fn assert_rel(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= want.abs() * 1e-13 + 1e-18,
        "got {got}, want {want}"
    );
}

#[test]
fn stairstep_curve_prints_published_values_with_full_precision() {
    let (ok, stdout, stderr) = gavel_curve(&[
        "--curve",
        "stairstep",
        "--top",
        "100",
        "--cut",
        "0.99",
        "--step",
        "90",
        "--at",
        "0,89.999999999,90,180,900",
    ]);
    assert!(ok, "{stderr}");
    let rows = parse(&stdout);
    assert_eq!(rows.len(), 5);
    // python3: Decimal(100) * Decimal("0.99") ** (t // 90)
    let want = [100.0, 100.0, 99.0, 98.01, 90.438207500880449001];
    for (row, want) in rows.iter().zip(want) {
        assert_rel(row.1, want);
    }
    assert_eq!(rows[2].0, "90");
    // Exact decimal output with all 27 fractional digits: 0.99^10 × 100 has 18 decimals.
    assert_eq!(rows[4].2, "90.438207500880449001000000000");
    assert_eq!(rows[0].2, "100.000000000000000000000000000");
}

#[test]
fn linear_and_exponential_curves_match_published_formulas() {
    let (ok, stdout, stderr) = gavel_curve(&[
        "--curve",
        "linear",
        "--top",
        "2500.5",
        "--tau",
        "3600",
        "--at",
        "0,1234,3599,3600,4000",
    ]);
    assert!(ok, "{stderr}");
    let rows = parse(&stdout);
    // python3: Decimal("2500.5") * (3600 - t) / 3600, 0 once t >= 3600
    let want = [2500.5, 1643.3841666666666667, 0.69458333333333333333, 0.0, 0.0];
    for (row, want) in rows.iter().zip(want) {
        assert_rel(row.1, want);
    }
    // ≥ 12 significant digits are printed.
    assert!(
        rows[1].2.replace('.', "").trim_start_matches('0').len() >= 12,
        "{}",
        rows[1].2
    );

    let (ok, stdout, stderr) = gavel_curve(&[
        "--curve",
        "exponential",
        "--top",
        "30000",
        "--cut",
        "0.999",
        "--at",
        "0,1.5,60,3600",
    ]);
    assert!(ok, "{stderr}");
    let rows = parse(&stdout);
    // python3: Decimal(30000) * Decimal("0.999") ** int(t)
    let want = [
        30000.0,
        29970.0,
        28252.087866695045909782651849499,
        818.23653692169580425673594419999,
    ];
    for (row, want) in rows.iter().zip(want) {
        assert_rel(row.1, want);
    }
}

#[test]
fn missing_or_bad_parameters_fail_with_a_clear_message() {
    let (ok, _, stderr) = gavel_curve(&["--curve", "stairstep", "--top", "100", "--cut", "0.99", "--at", "1"]);
    assert!(!ok);
    assert!(stderr.contains("--step"), "{stderr}");
    let (ok, _, stderr) = gavel_curve(&["--curve", "exponential", "--top", "100", "--cut", "1.5", "--at", "1"]);
    assert!(!ok);
    assert!(stderr.contains("cut"), "{stderr}");
    let (ok, _, stderr) = gavel_curve(&["--curve", "linear", "--top", "100", "--tau", "10", "--at", "x"]);
    assert!(!ok);
    assert!(stderr.contains("--at"), "{stderr}");
}
