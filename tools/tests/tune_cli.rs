//! `gavel tune` end to end on tiny generated crash scenarios.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gavel_engine::risk::decimal::Decimal;

fn gavel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).output().expect("gavel runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stderr:\n{}\nstdout:\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Generates a tiny crash scenario (150 accounts, 40 s) into `dir`.
fn scenario(dir: &Path, seed: u64) -> String {
    let path = dir.to_str().unwrap().to_string();
    ok(&gavel(&["gen", "crash", "--out", &path, "--seed", &seed.to_string(), "--accounts", "150", "--duration", "40"]));
    path
}

fn work_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-tune-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A JSON objective figure (exact decimal string) in 10^-14 quote currency.
fn exact(value: &serde_json::Value) -> i128 {
    let text = value.as_str().expect("objective is a decimal string");
    Decimal::parse(text).unwrap().in_units_of(Decimal { mantissa: 1, scale: 14 }).unwrap()
}

/// The policy TOML printed between the markers.
fn printed_toml(stdout: &str) -> String {
    let start = stdout.find("# --- best policy").expect("TOML start marker");
    let body = &stdout[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("# --- end ---").expect("TOML end marker")].to_string()
}

#[test]
fn coordinate_search_beats_the_base_and_reports_the_holdout() {
    let dir = work_dir("coord");
    let train = scenario(&dir.join("train"), 11);
    let hold = scenario(&dir.join("hold"), 12);
    let run = |out: &Path, json: &Path| {
        ok(&gavel(&[
            "tune",
            "--scenario",
            &train,
            "--holdout",
            &hold,
            "--method",
            "coordinate",
            "--rounds",
            "1",
            "--search",
            "stages,buffer",
            "--values",
            "stages=own_book+auction+route,route",
            "--values",
            "buffer=0.05,0.2",
            "--out",
            out.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ]))
    };
    let (best, json) = (dir.join("best.toml"), dir.join("tune.json"));
    let stdout = run(&best, &json);
    assert!(stdout.contains("at most 4 candidates"), "{stdout}");
    assert!(stdout.contains("candidate 1/5: J="), "{stdout}");
    assert!(stdout.contains("candidate 5/5: "), "{stdout}");

    // The printed TOML is the file written, and `gavel compare` accepts it.
    let toml = printed_toml(&stdout);
    assert_eq!(toml, std::fs::read_to_string(&best).unwrap());
    let compared =
        ok(&gavel(&["compare", "--scenario", &hold, "--policy", best.to_str().unwrap(), "--policy", "naive"]));
    assert!(compared.lines().any(|l| l.starts_with("tuned-adaptive ")), "{compared}");

    // The base is a candidate, so the best training J is not above it.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let best_train = exact(&report["best"]["training_j"]["total"]);
    let base_train = exact(&report["base"]["training_j"]["total"]);
    assert!(best_train <= base_train, "best {best_train} > base {base_train}");
    let candidates = report["candidates"].as_array().unwrap();
    assert!(candidates.len() >= 2, "{report}");
    let lowest = candidates.iter().map(|c| exact(&c["training_j"]["total"])).min().unwrap();
    assert_eq!(best_train, lowest, "the best is the lowest candidate");

    // Hold-out figures for the best, the base and naive, in the table and the JSON.
    for key in ["best", "base", "naive"] {
        exact(&report[key]["holdout_j"]["total"]);
    }
    assert!(stdout.contains("hold-out J"), "{stdout}");
    for name in ["tuned-adaptive ", "adaptive ", "naive "] {
        let row = stdout.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row:\n{stdout}"));
        assert_eq!(row.split_whitespace().count(), 3, "{row}");
    }

    // Deterministic: the same command gives the same best policy.
    let again = dir.join("again.toml");
    run(&again, &dir.join("again.json"));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), toml);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn grid_prints_its_count_and_refuses_an_oversized_grid() {
    let dir = work_dir("grid");
    let train = scenario(&dir.join("train"), 21);
    let hold = scenario(&dir.join("hold"), 22);
    let base = ["tune", "--scenario", &train, "--holdout", &hold, "--method", "grid"];
    let same = gavel(&["tune", "--scenario", &train, "--holdout", &train]);
    assert!(String::from_utf8_lossy(&same.stderr).contains("hold-out must be unseen"), "{same:?}");
    let too_big = gavel(&[&base[..], &["--max-candidates", "10"]].concat());
    assert!(!too_big.status.success());
    assert!(String::from_utf8_lossy(&too_big.stderr).contains("--max-candidates"), "{too_big:?}");

    let stdout = ok(&gavel(
        &[&base[..], &["--search", "partial,oracle_half_life_ms", "--values", "oracle_half_life_ms=0,250"]].concat(),
    ));
    assert!(stdout.contains("grid: 2 partial × 2 oracle_half_life_ms = 4 candidates"), "{stdout}");
    assert!(stdout.contains("candidate 5/5: "), "{stdout}");
    let toml = printed_toml(&stdout);
    assert!(toml.contains("base = \"adaptive\""), "{toml}");
    let _ = std::fs::remove_dir_all(&dir);
}
