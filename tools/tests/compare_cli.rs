//! End-to-end: `gavel gen crash` + `gavel compare` through the real pipeline
//! (feed threads → shared-memory rings → pinned engine), run as separate processes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn gavel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-compare-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("gavel runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "gavel failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn compare(scenario: &Path, out: &Path) -> (String, serde_json::Value) {
    let stdout = run_ok(
        gavel()
            .arg("compare")
            .arg("--scenario")
            .arg(scenario)
            .arg("--json")
            .arg(out.join("compare.json"))
            .arg("--journal-dir")
            .arg(out.join("journals")),
    );
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    (stdout, json)
}

/// The JSON without the latency figures, which measure the machine, not the policy.
fn outcomes(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let mut p = p.clone();
            p.as_object_mut().unwrap().remove("latency");
            p
        })
        .collect()
}

#[test]
fn compare_is_deterministic_across_processes_and_conserves_value() {
    let dir = temp_dir("det");
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "crash", "--seed", "7", "--accounts", "300", "--duration", "60", "--out"]).arg(&scenario));
    let (first_dir, second_dir) = (dir.join("run1"), dir.join("run2"));
    let (table, first) = compare(&scenario, &first_dir);
    let (_, second) = compare(&scenario, &second_dir);

    // Byte-identical journals for every policy, from two separate processes.
    for name in ["naive", "partial", "auction", "sliced", "adaptive"] {
        let a = std::fs::read(first_dir.join("journals").join(format!("{name}.journal"))).unwrap();
        let b = std::fs::read(second_dir.join("journals").join(format!("{name}.journal"))).unwrap();
        assert!(!a.is_empty(), "{name}: empty journal");
        assert!(a == b, "{name}: journals differ between two runs of the same input");
    }
    assert_eq!(outcomes(&first), outcomes(&second));

    let policies = first["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 5);
    for p in policies {
        let name = p["name"].as_str().unwrap();
        assert_eq!(p["conservation_error"], "0", "{name}: value not conserved");
        assert!(p["liquidations"].as_u64().unwrap() > 0, "{name}: the crash liquidated nobody");
        for key in ["total_loss_to_others", "fund_draws", "adl_counterparty_loss", "adl_excess", "adl_largest_loss", "bad_debt", "backstop_loss", "equity_kept", "penalties", "fund_min"] {
            let text = p[key].as_str().unwrap_or_else(|| panic!("{name}: {key} is not a decimal string"));
            assert!(text.contains('.'), "{name}: {key} = {text}");
        }
        assert!(p["zero_fill_attempts"].as_u64().is_some(), "{name}: zero_fill_attempts");
        // ADL at the bankruptcy price: beyond the shortfall only the price's rounding, and a
        // haircut means someone took it.
        let money = |key: &str| p[key].as_str().unwrap().parse::<f64>().unwrap();
        let hit = p["adl_accounts_hit"].as_u64().unwrap();
        // Under a tick (0.1) per lot (0.001): 0.0001 USDT per lot ADL moved.
        let adl_lots = p["volume_by_venue"]["adl"].as_i64().unwrap() as f64;
        assert!(money("adl_excess") <= adl_lots * 1e-4 + 1e-9, "{name}: excess {} over {adl_lots} lots", money("adl_excess"));
        assert_eq!(hit > 0, money("adl_counterparty_loss") > 0.0, "{name}: {hit} accounts hit");
        assert!(money("adl_largest_loss") <= money("adl_counterparty_loss"), "{name}");
        // Predictive margin calls: the crash is called before it liquidates; a preceded
        // liquidation has a positive lead within the 5-minute horizon.
        let (calls, preceded) = (p["margin_calls"].as_u64().unwrap(), p["liquidations_preceded_by_call"].as_u64().unwrap());
        assert!(calls > 0 && preceded > 0 && preceded <= p["liquidations"].as_u64().unwrap(), "{name}: {calls} calls, {preceded} preceded");
        let (lead50, lead99) = (p["call_lead_time_p50_ns"].as_u64().unwrap(), p["call_lead_time_p99_ns"].as_u64().unwrap());
        assert!(0 < lead50 && lead50 <= lead99 && lead99 <= 301_000_000_000, "{name}: lead {lead50}/{lead99}");
        assert!(p["journal_records"].as_u64().unwrap() > 0, "{name}: journal records");
        let stages = p["latency"].as_object().unwrap();
        for stage in ["feed_receive_to_ring", "ring_to_engine", "engine_event"] {
            assert!(stages[stage]["samples"].as_u64().unwrap() > 0, "{name}: no samples for {stage}");
        }
    }
    let by_name = |n: &str| policies.iter().find(|p| p["name"] == n).unwrap();
    assert_eq!(by_name("naive")["partial_liquidations"], 0, "naive closes whole positions");
    assert!(by_name("partial")["partial_liquidations"].as_u64().unwrap() > 0);
    // The own book is the first venue: the market maker's resting orders take liquidations.
    assert!(by_name("adaptive")["volume_by_venue"]["own_book"].as_i64().unwrap() > 0);
    // Naive never uses the own book or an auction.
    assert_eq!(by_name("naive")["volume_by_venue"]["own_book"], 0);
    assert_eq!(by_name("naive")["volume_by_venue"]["auction"], 0);
    assert!(table.contains("naive") && table.contains("adaptive"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_fail_with_the_file_and_field() {
    let dir = temp_dir("bad");
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "crash", "--seed", "1", "--accounts", "20", "--duration", "10", "--out"]).arg(&scenario));
    let positions = scenario.join("positions.csv");
    let mut text = std::fs::read_to_string(&positions).unwrap();
    text.push_str("acct000001,BTCUSDT,not-a-size,60000.0,\n");
    std::fs::write(&positions, text).unwrap();
    let out = gavel().arg("compare").arg("--scenario").arg(&scenario).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("positions.csv") && stderr.contains("line 22") && stderr.contains("size"), "{stderr}");

    let out = gavel().args(["compare", "--scenario"]).arg(&scenario).args(["--policy", "reckless"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reckless"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_orders_from_the_scenario_trade_in_the_own_book() {
    let dir = temp_dir("orders");
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "crash", "--seed", "3", "--accounts", "50", "--duration", "20", "--out"]).arg(&scenario));
    let accounts = scenario.join("accounts.csv");
    let mut text = std::fs::read_to_string(&accounts).unwrap();
    text.push_str("client1,1000000,cross\nclient2,1000000,cross\n");
    std::fs::write(&accounts, text).unwrap();
    std::fs::write(
        scenario.join("orders.csv"),
        "offset_ms,account,instrument,side,type,price,size,flags\n\
         500,client1,BTCUSDT,buy,limit,60000.0,1.5,\n\
         600,client2,BTCUSDT,sell,ioc,59000.0,1,\n",
    )
    .unwrap();
    let manifest = std::fs::read_to_string(scenario.join("scenario.toml")).unwrap();
    std::fs::write(scenario.join("scenario.toml"), format!("{manifest}orders = \"orders.csv\"\n")).unwrap();
    let journal = dir.join("naive.journal");
    run_ok(gavel().arg("replay").arg("--scenario").arg(&scenario).args(["--policy", "naive", "--max", "--journal"]).arg(&journal));
    let dump = run_ok(gavel().args(["journal", "dump", "--json"]).arg(&journal));
    let records: Vec<serde_json::Value> = dump.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let exec = |account: u64, kind: &str| records.iter().filter(move |r| r["record"] == "exec" && r["account"] == account && r["type"] == kind).cloned().collect::<Vec<_>>();
    // The accounts are numbered in file order: 50 generated, then client1 and client2.
    let (client1, client2) = (50u64, 51u64);
    let ack = &exec(client1, "ack")[0];
    assert_eq!((ack["client_order_id"].as_u64(), ack["qty"].as_i64()), (Some(2), Some(1500)));
    let sold = &exec(client2, "fill")[0];
    assert_eq!((sold["price"].as_i64(), sold["qty"].as_i64()), (Some(600_000), Some(1000)), "the IOC trades at the resting price");
    let bought = &exec(client1, "fill")[0];
    assert_eq!((bought["client_order_id"].as_u64(), bought["qty"].as_i64()), (Some(2), Some(1000)));
    // The rest of client1's bid stays on the book until something else takes it.
    assert!(records.iter().any(|r| r["record"] == "trade" && r["price"] == 600_000));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The venues' rule sets run side by side with gavel's policies on the same crash: by
/// name, and from rules files; each conserves value and shows up in the table and JSON.
#[test]
fn venue_rule_sets_compare_side_by_side() {
    let dir = temp_dir("venues");
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "crash", "--seed", "5", "--accounts", "200", "--duration", "60", "--out"]).arg(&scenario));
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples");
    let mut cmd = gavel();
    cmd.arg("compare").arg("--scenario").arg(&scenario).arg("--json").arg(dir.join("venues.json"));
    for name in ["adaptive", "dydx-v4", "binance-usdm", "maker-clip"] {
        cmd.args(["--policy", name]);
    }
    for file in ["rules-hyperliquid.toml", "rules-drift-v2.toml", "rules-aave-v4.toml"] {
        cmd.arg("--policy").arg(examples.join(file));
    }
    let table = run_ok(&mut cmd);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("venues.json")).unwrap()).unwrap();
    let names: Vec<&str> = json["policies"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["adaptive", "dydx-v4", "binance-usdm", "maker-clip", "hyperliquid", "drift-v2", "aave-v4"], "{json}");
    for name in &names {
        assert!(table.lines().any(|l| l.starts_with(name)), "{name} missing from\n{table}");
    }
    for p in json["policies"].as_array().unwrap() {
        assert_eq!(p["conservation_error"], "0", "{}", p["name"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_policy_named_twice_gets_its_own_journal_and_the_same_result() {
    let dir = temp_dir("twice");
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "crash", "--seed", "2", "--accounts", "100", "--duration", "30", "--out"]).arg(&scenario));
    let out = dir.join("out");
    run_ok(gavel().arg("compare").arg("--scenario").arg(&scenario).args(["--policy", "naive", "--policy", "naive", "--journal-dir"]).arg(out.join("j")));
    // Fails if the second run overwrote the first's journal (one file) or the runs differ.
    let a = std::fs::read(out.join("j/naive.journal")).unwrap();
    let b = std::fs::read(out.join("j/naive-2.journal")).unwrap();
    assert!(!a.is_empty() && a == b);
    let _ = std::fs::remove_dir_all(&dir);
}
