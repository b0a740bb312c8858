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
    refused(&["stream", "--events", "18446744073709551615"], &["--events"]);
    refused(&["stream", "--rate", "18446744073709551615"], &["--rate"]);
    refused(&["ring", "consume", "--path", "/dev/shm/gavel-bounds-never", "--count", "1", "--open-timeout-ms", "18446744073709551615"], &["--open-timeout-ms"]);
    refused(&["ring", "produce", "--path", "/dev/shm/gavel-bounds-never", "--count", "1", "--batch", "0"], &["--batch"]);
    refused(&["ring", "produce", "--path", "/dev/shm/gavel-bounds-never", "--count", "1", "--sleep-us", "0"], &["--sleep-us"]);
    refused(
        &["ring", "produce", "--path", "/dev/shm/gavel-bounds-never", "--count", "1", "--capacity", "1099511627776"],
        &["--capacity"],
    );
    assert!(!std::path::Path::new("/dev/shm/gavel-bounds-never").exists());
}

#[test]
fn lobster_sizes_beyond_the_bound_are_refused_with_line_and_field() {
    let dir = temp_dir("lobster");
    let messages = dir.join("messages.csv");
    let max = i64::MAX;
    std::fs::write(&messages, format!("34200.1,1,1,{max},100,1\n34200.2,1,2,{max},100,1\n")).unwrap();
    refused(&["lobster", messages.to_str().unwrap(), "--levels", "1"], &["messages.csv", "line 1", "Size"]);
    refused(&["lobster", messages.to_str().unwrap(), "--levels", "4294967295"], &["--levels"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14: tick_size ≥ 1e24 hit `unreachable!` in the margin solver; an
/// i64::MAX position, an entry price of 1e23 and an isolated margin of 1e32
/// were accepted. Every one is now refused at load, naming file, line and field.
#[test]
fn risk_inputs_beyond_the_bounds_are_refused_naming_file_line_and_field() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let dir = temp_dir("risk");
    let instruments = std::fs::read_to_string(examples.join("instruments.toml")).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let good_ins = write("instruments.toml", &instruments);
    let accounts = write("accounts.csv", "account,collateral,margin_mode\na,1000\ni,1000,isolated\n");
    let positions = write("positions.csv", "account,instrument,size,entry_price,isolated_margin\na,BTCUSDT,1,50000\n");
    let risk = |ins: &str, pos: &str, needles: &[&str]| {
        refused(
            &["risk", "--instruments", ins, "--accounts", &accounts, "--positions", pos, "--mark", "BTCUSDT=50000"],
            needles,
        )
    };
    let coarse = write("coarse.toml", &instruments.replacen("tick_size = \"0.1\"", "tick_size = \"1000000000000000000000000\"", 1));
    risk(&coarse, &positions, &["coarse.toml", "line", "tick_size"]);
    let kraken = write("kraken.toml", &instruments.replacen("okx = ", "kraken = ", 1));
    risk(&kraken, &positions, &["kraken.toml", "line", "venues", "kraken"]);
    for (text, field) in [
        ("a,BTCUSDT,9223372036854775.807,50000\n", "size"),
        ("a,BTCUSDT,1,100000000000000000000000\n", "entry_price"),
        ("i,BTCUSDT,1,50000,100000000000000000000000000000000\n", "isolated_margin"),
    ] {
        let bad = write("bad.csv", &format!("account,instrument,size,entry_price,isolated_margin\n{text}"));
        risk(&good_ins, &bad, &["bad.csv", "line 2", field]);
    }
    // A mark that puts a position's notional beyond the money bound.
    let big = write("big.csv", "account,instrument,size,entry_price,isolated_margin\na,BTCUSDT,100000,50000\n");
    refused(
        &["risk", "--instruments", &good_ins, "--accounts", &accounts, "--positions", &big, "--mark", "BTCUSDT=10000001"],
        &["--mark", "beyond the bound"],
    );
    let ok = gavel(&["risk", "--instruments", &good_ins, "--accounts", &accounts, "--positions", &big, "--mark", "BTCUSDT=10000000"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14: policy-mode `replay` exited 0 silently on bad messages that
/// `compare` warns about; both warn now, naming the capture.
#[test]
fn replay_and_compare_both_warn_about_bad_messages() {
    use gavel_feeds::capture::{CaptureFile, CaptureWriter};
    let dir = temp_dir("badmsg");
    let scenario = dir.join("scenario");
    let s = scenario.to_str().unwrap();
    let out = gavel(&["gen", "crash", "--out", s, "--seed", "3", "--accounts", "20", "--duration", "10"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Copy the Binance capture with one garbled depth message (valid record, bad JSON) after its 10th record.
    let path = scenario.join("binance-usdm.cap");
    let records: Vec<_> = {
        let file = CaptureFile::open(&path).unwrap();
        file.records().map(|r| r.unwrap()).map(|r| (r.receive_ns, r.venue, r.channel.to_vec(), r.message.to_vec())).collect()
    };
    let mut writer = CaptureWriter::create_new(&path, true).unwrap();
    for (i, (t, venue, channel, message)) in records.iter().enumerate() {
        writer.append(*t, *venue, channel, message).unwrap();
        if i == 10 {
            writer.append(*t, *venue, channel, br#"{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","b":[["x"#).unwrap();
        }
    }
    writer.into_inner().unwrap();
    for args in [vec!["replay", "--scenario", s, "--policy", "naive", "--max"], vec!["compare", "--scenario", s, "--policy", "naive"]] {
        let out = gavel(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("binance-usdm.cap") && stderr.contains("1 bad messages skipped"), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14: a position of i64::MAX lots hung `compare` in the slicing
/// planner; the scenario's loader now refuses it, naming file, line and field.
#[test]
fn compare_refuses_an_i64_max_position_instead_of_hanging() {
    let dir = temp_dir("maxpos");
    let scenario = dir.join("scenario");
    let s = scenario.to_str().unwrap();
    let out = gavel(&["gen", "crash", "--out", s, "--seed", "5", "--accounts", "10", "--duration", "10"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let positions = scenario.join("positions.csv");
    let text = std::fs::read_to_string(&positions).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    fields[2] = "9223372036854775.807".into();
    lines[1] = fields.join(",");
    std::fs::write(&positions, lines.join("\n") + "\n").unwrap();
    let started = std::time::Instant::now();
    refused(&["compare", "--scenario", s, "--policy", "sliced"], &["positions.csv", "line 2", "size"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "refused at load, not after a long run");
    std::fs::remove_dir_all(&dir).unwrap();
}
