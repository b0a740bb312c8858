//! `gavel study` end to end: a small grid of generated crashes, its output contract,
//! and shards merged into exactly the output of one run.

use std::path::PathBuf;
use std::process::Command;

fn gavel(args: &[&str], extra: &[&PathBuf]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel")).args(args).args(extra).output().expect("gavel runs")
}

fn ok(out: std::process::Output) -> String {
    assert!(out.status.success(), "gavel failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

const GRID: [&str; 12] = ["study", "--seeds", "1..2", "--drops", "15,30", "--accounts", "60", "--duration", "20", "--policy", "naive", "--policy"];

fn study(extra: &[&str], out: &PathBuf) -> std::process::Output {
    let mut args: Vec<&str> = GRID.to_vec();
    args.push("adaptive");
    args.extend_from_slice(extra);
    args.push("--json");
    gavel(&args, &[out])
}

#[test]
fn study_reports_intervals_and_shards_merge_exactly() {
    let dir = std::env::temp_dir().join(format!("gavel-study-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let full = dir.join("full.json");
    let full_html = dir.join("full.html");
    let table = ok(study(&["--html", full_html.to_str().unwrap()], &full));
    assert!(table.contains("naive") && table.contains("adaptive"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&full).unwrap()).unwrap();
    assert_eq!(json["tasks"], 4);
    assert_eq!(json["results"].as_array().unwrap().len(), 4);
    for metric in ["total_loss_to_others", "arrival_slippage_bps", "equity_kept"] {
        let m = &json["policies"]["adaptive"][metric];
        let (mean, lo, hi) = (m["mean"].as_f64().unwrap(), m["ci95"][0].as_f64().unwrap(), m["ci95"][1].as_f64().unwrap());
        assert!(lo <= mean && mean <= hi, "{metric}: {lo} {mean} {hi}");
        let p = &json["paired"]["adaptive-naive"][metric];
        let win = p["win_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&win), "{metric} win rate {win}");
    }
    // The paired mean is the mean of the per-task differences.
    let per_task: Vec<f64> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["policies"]["adaptive"]["total_loss_to_others"].as_f64().unwrap() - r["policies"]["naive"]["total_loss_to_others"].as_f64().unwrap())
        .collect();
    let expected = per_task.iter().sum::<f64>() / per_task.len() as f64;
    let got = json["paired"]["adaptive-naive"]["total_loss_to_others"]["mean"].as_f64().unwrap();
    assert!((got - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{got} vs {expected}");

    // Two shards, merged: byte for byte the single run.
    let (s0, s1, merged) = (dir.join("s0.json"), dir.join("s1.json"), dir.join("merged.json"));
    ok(study(&["--shard", "0/2"], &s0));
    ok(study(&["--shard", "1/2"], &s1));
    let merged_html = dir.join("merged.html");
    ok(gavel(&["study", "merge"], &[&s0, &s1, &PathBuf::from("--json"), &merged, &PathBuf::from("--html"), &merged_html]));
    assert_eq!(std::fs::read(&merged).unwrap(), std::fs::read(&full).unwrap(), "merge differs from one run");
    // The HTML page: per metric a distribution (2 policies, a dot per task each) and the
    // paired chart (adaptive − naive); the merged study's page is the same page.
    let html = std::fs::read_to_string(&full_html).unwrap();
    for metric in ["total_loss_to_others", "arrival_slippage_bps", "equity_kept"] {
        assert!(html.contains(&format!("<svg id=\"dist-{metric}\" data-series=\"2\"")), "{metric}");
        assert!(html.contains(&format!("<svg id=\"paired-{metric}\" data-series=\"1\"")), "{metric}");
    }
    assert_eq!(html.matches("class=\"task\"").count(), 4 * 2 * 3);
    assert_eq!(std::fs::read(&merged_html).unwrap(), html.as_bytes(), "the merged study's page differs");

    // A shard of another study, a missing shard, a bad shard argument: clear errors.
    let other = dir.join("other.json");
    let mut args: Vec<&str> = GRID.to_vec();
    args[4] = "15";
    args.extend_from_slice(&["adaptive", "--shard", "1/2", "--json"]);
    ok(gavel(&args, &[&other]));
    let err = gavel(&["study", "merge"], &[&s0, &other, &PathBuf::from("--json"), &dir.join("x.json")]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("other.json: from a different study"), "{}", String::from_utf8_lossy(&err.stderr));
    let err = gavel(&["study", "merge"], &[&s0, &PathBuf::from("--json"), &dir.join("x.json")]);
    assert!(String::from_utf8_lossy(&err.stderr).contains("in none of the shard files"));
    let err = study(&["--shard", "2/2"], &dir.join("x.json"));
    assert!(String::from_utf8_lossy(&err.stderr).contains("--shard"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_study_on_a_market_fit_records_it_and_does_not_merge_with_one_without() {
    let dir = std::env::temp_dir().join(format!("gavel-study-fit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let params = dir.join("params.toml");
    std::fs::write(&params, "[generator]\nnoise_bp_e3 = 170\nstep_ms = 100\nhalf_spread_bp_e3 = 18\nlevel_grid_bp_e3 = 1000\ndepth_quote_per_bp = [[1, 558592], [5, 1028882], [50, 1131238]]\nresilience_half_life_ms = 6928\n").unwrap();
    let p = params.to_str().unwrap();
    let (fitted, plain) = (dir.join("fit-0.json"), dir.join("plain-1.json"));
    // Two jobs: parallel tasks in one process each get their own rings.
    ok(study(&["--params", p, "--shard", "0/2", "--jobs", "2"], &fitted));
    ok(study(&["--shard", "1/2"], &plain));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&fitted).unwrap()).unwrap();
    assert_eq!(json["study"]["market"]["params"], p, "{}", json["study"]);
    let merged = dir.join("merged.json");
    let out = gavel(&["study", "merge"], &[&fitted, &plain, &PathBuf::from("--json"), &merged]);
    assert!(!out.status.success(), "shards of a fitted and an unfitted study must not merge");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[generator]\nnoise_bp_e3 = 0\n").unwrap();
    let out = study(&["--params", bad.to_str().unwrap()], &dir.join("never.json"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--params") && err.contains("bad.toml"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn incidents_join_the_grid_and_bad_names_are_refused() {
    let dir = std::env::temp_dir().join(format!("gavel-study-incident-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("study.json");
    let args = ["study", "--seeds", "1", "--incident", "slow-grind", "--drops", "15", "--accounts", "60", "--duration", "20", "--policy", "naive", "--policy", "adaptive", "--jobs", "2", "--json"];
    ok(gavel(&args, &[&out]));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["tasks"], 2, "one crash and one incident");
    assert_eq!(json["study"]["incidents"], serde_json::json!(["slow-grind"]));
    let results = json["results"].as_array().unwrap();
    assert_eq!(results[0]["drop"], 15);
    assert_eq!(results[1]["incident"], "slow-grind");
    assert!(results[1]["drop"].is_null());
    assert!(results[1]["policies"]["adaptive"]["total_loss_to_others"].is_number(), "{}", results[1]);
    let err = gavel(&["study", "--incident", "ftx-2022", "--json"], &[&dir.join("never.json")]);
    let text = String::from_utf8_lossy(&err.stderr);
    assert!(!err.status.success() && text.contains("--incident") && text.contains("slow-grind"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_coin_margined_study_counts_money_in_btc_and_does_not_merge_with_a_linear_one() {
    let dir = std::env::temp_dir().join(format!("gavel-study-inverse-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (inverse, linear) = (dir.join("inverse.json"), dir.join("linear.json"));
    let table = ok(study(&["--inverse", "--shard", "0/2"], &inverse));
    assert!(table.contains("(money in BTC)"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&inverse).unwrap()).unwrap();
    assert_eq!(json["study"]["money"], "BTC");
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "shard 0 of 4 tasks");
    for r in results {
        for name in ["naive", "adaptive"] {
            let m = &r["policies"][name];
            // Losses and equity in BTC: the 60-account book holds far less than 1,000 BTC.
            let (loss, kept) = (m["total_loss_to_others"].as_f64().unwrap(), m["equity_kept"].as_f64().unwrap());
            assert!((0.0..1_000.0).contains(&loss) && (0.0..1_000.0).contains(&kept), "{name}: {m}");
        }
    }
    ok(study(&["--shard", "1/2"], &linear));
    let merged = dir.join("merged.json");
    let out = gavel(&["study", "merge", inverse.to_str().unwrap(), linear.to_str().unwrap(), "--json"], &[&merged]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("different study"), "{err}");
    // Refused before any work: incidents (linear books) and venue rule sets with --inverse.
    for (extra, want) in [(&["--incident", "slow-grind"][..], "--inverse: the incidents"), (&["--policy", "maker-clip"][..], "--policy maker-clip")] {
        let mut args = vec!["study", "--inverse", "--seeds", "1"];
        args.extend_from_slice(extra);
        args.push("--json");
        let out = gavel(&args, &[&dir.join("bad.json")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.code() == Some(1) && err.contains(want), "{err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
