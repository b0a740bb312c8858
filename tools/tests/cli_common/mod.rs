//! Shared by the CLI tests: run the `gavel` binary, read its JSON, and check that bad
//! flags and files are refused naming what was wrong.

#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs `gavel args…`.
pub fn gavel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs")
}

/// The JSON a successful run printed on stdout.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Each `(args, needle)`: the run fails and its stderr names `needle`.
pub fn assert_refused(cases: &[(&[&str], &str)]) {
    for (args, needle) in cases {
        let out = gavel(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needle), "{args:?}: {err}");
    }
}
