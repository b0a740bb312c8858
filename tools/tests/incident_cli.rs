//! The incident library end to end: `gavel gen incident NAME` writes the scenario,
//! `gavel compare` replays it under gavel's best policy for it and under the policy
//! closest to the anchor, and each test asserts the anchor's failure mechanism
//! shows under the anchor-like policy and not under the best one (docs/INCIDENTS.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn gavel() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-incident-cli-{tag}-{}", std::process::id()));
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

/// Generates incident `name` with 300 accounts (seed 1) into `dir/scenario`.
fn generate(name: &str, dir: &Path) -> PathBuf {
    let scenario = dir.join("scenario");
    run_ok(gavel().args(["gen", "incident", name, "--seed", "1", "--accounts", "300", "--out"]).arg(&scenario));
    scenario
}

/// One replay of `inputs` (`--scenario DIR` or file flags) under `policies`: the JSON
/// outcomes by policy name and the journal records of each policy.
struct Compared {
    outcomes: BTreeMap<String, Value>,
    journals: BTreeMap<String, Vec<Value>>,
}

fn compare(inputs: &[&std::ffi::OsStr], policies: &[&str], out: &Path) -> Compared {
    let mut cmd = gavel();
    cmd.arg("compare").args(inputs).arg("--json").arg(out.join("compare.json")).arg("--journal-dir").arg(out.join("journals"));
    for p in policies {
        cmd.args(["--policy", p]);
    }
    run_ok(&mut cmd);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let mut outcomes = BTreeMap::new();
    let mut journals = BTreeMap::new();
    for p in json["policies"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_string();
        assert_eq!(p["conservation_error"], "0", "{name}: value not conserved");
        let dump = run_ok(gavel().args(["journal", "dump", "--json"]).arg(out.join("journals").join(format!("{name}.journal"))));
        journals.insert(name.clone(), dump.lines().map(|l| serde_json::from_str(l).unwrap()).collect());
        outcomes.insert(name, p.clone());
    }
    Compared { outcomes, journals }
}

fn money(v: &Value) -> f64 {
    v.as_str().unwrap_or_else(|| panic!("{v} is not a decimal string")).parse().unwrap()
}

/// The mark at each account's first trigger, ticks.
fn trigger_marks(journal: &[Value]) -> BTreeMap<u64, i64> {
    let mut marks = BTreeMap::new();
    for r in journal.iter().filter(|r| r["record"] == "liquidation" && r["stage"] == "triggered") {
        marks.entry(r["account"].as_u64().unwrap()).or_insert(r["price"].as_i64().unwrap());
    }
    marks
}

/// Each liquidated account's lowest fill (auction, own book, external venue) as a
/// fraction of its trigger mark.
fn worst_fills(journal: &[Value]) -> BTreeMap<u64, f64> {
    let marks = trigger_marks(journal);
    let mut worst = BTreeMap::new();
    for r in journal.iter().filter(|r| r["record"] == "ledger" && (r["type"] == "fill" || r["type"] == "external_fill")) {
        let account = r["account"].as_u64().unwrap();
        if let Some(mark) = marks.get(&account) {
            let ratio = r["price"].as_i64().unwrap() as f64 / *mark as f64;
            let w = worst.entry(account).or_insert(ratio);
            *w = ratio.min(*w);
        }
    }
    worst
}

#[test]
fn list_and_bad_flags() {
    let list = run_ok(gavel().args(["gen", "incident", "--list"]));
    for name in ["maker-2020-03-12", "cascade-2025-10-10", "jelly-2025", "usde-wbeth-2025", "slow-grind"] {
        assert!(list.lines().any(|l| l.starts_with(name) && l.len() > name.len() + 10), "{name} missing from\n{list}");
    }
    let dir = temp_dir("flags");
    let out = gavel().args(["gen", "incident", "ftx-2022", "--out"]).arg(dir.join("x")).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("ftx-2022") && stderr.contains("slow-grind"), "{stderr}");
    let out = gavel().args(["gen", "incident", "slow-grind", "--accounts", "0", "--out"]).arg(dir.join("x")).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--accounts"));
    let out = gavel().args(["gen", "incident", "slow-grind"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--out"));
    assert!(!dir.join("x").exists(), "a refused command wrote files");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Maker, 12 March 2020: with keepers stalled and nothing under the auction price, lots
/// clear near zero. Best: `partial` (IOCs into the venues' live depth, limited, no
/// dependence on bidders). Fails if the anchor-like auction never clears below 10 % of the
/// trigger mark for at least 20 accounts (the stall or the floorless curve stopped
/// working), if `partial` fills anything below half the trigger mark, or if it loses
/// others as much as the anchor.
#[test]
fn maker_2020_03_12_zero_bid_clears_only_under_the_anchor() {
    let dir = temp_dir("maker");
    let scenario = generate("maker-2020-03-12", &dir);
    let anchor = scenario.join("anchor-policy.toml");
    let run = compare(&["--scenario".as_ref(), scenario.as_os_str()], &["partial", anchor.to_str().unwrap()], &dir);
    let anchor_fills = worst_fills(&run.journals["maker-clip"]);
    let near_zero = anchor_fills.values().filter(|r| **r < 0.1).count();
    assert!(near_zero >= 20, "anchor-like auctions cleared near zero for only {near_zero} accounts: {anchor_fills:?}");
    assert!(run.outcomes["maker-clip"]["volume_by_venue"]["auction"].as_i64().unwrap() > 0);
    let best_fills = worst_fills(&run.journals["partial"]);
    assert!(best_fills.len() >= 20, "partial filled only {} accounts", best_fills.len());
    let worst = best_fills.values().cloned().fold(f64::MAX, f64::min);
    assert!(worst > 0.5, "partial sold at {worst:.3} of the trigger mark");
    let (best, anchor) = (money(&run.outcomes["partial"]["total_loss_to_others"]), money(&run.outcomes["maker-clip"]["total_loss_to_others"]));
    assert!(best < anchor, "loss to others: partial {best} vs anchor {anchor}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 10 October 2025: thin, slowly refilling books and a small backstop push the anchor's
/// (Hyperliquid's rules: the vault at 2/3 maintenance, then its ADL queue) shortfall onto
/// ADL. Best: `partial` (minimal steps into the books as they refill). Fails if the anchor
/// haircuts nobody, or if `partial`'s ADL haircut is not below a quarter of the anchor's.
#[test]
fn cascade_2025_10_10_adl_haircut_stays_below_the_anchor() {
    let dir = temp_dir("cascade");
    let scenario = generate("cascade-2025-10-10", &dir);
    let anchor = scenario.join("anchor-policy.toml");
    let run = compare(&["--scenario".as_ref(), scenario.as_os_str()], &["partial", anchor.to_str().unwrap()], &dir);
    let (best, anchor) = (&run.outcomes["partial"], &run.outcomes["hyperliquid"]);
    let anchor_haircut = money(&anchor["adl_counterparty_loss"]);
    assert!(anchor_haircut > 0.0 && anchor["volume_by_venue"]["adl"].as_i64().unwrap() > 0, "the anchor ran no ADL: {anchor}");
    let best_haircut = money(&best["adl_counterparty_loss"]);
    assert!(best_haircut * 4.0 < anchor_haircut, "ADL haircut: partial {best_haircut} vs anchor {anchor_haircut}");
    assert!(money(&best["total_loss_to_others"]) < money(&anchor["total_loss_to_others"]));
    let _ = std::fs::remove_dir_all(&dir);
}

/// JELLY, March 2025: a thinly margined short in a thin market that is squeezed up. The
/// anchor (Hyperliquid's rules) hands it to the backstop vault, which loses as the price
/// rises. Best: `partial` (buys the short back in steps as the squeeze starts). Fails if
/// the anchor's vault takes nothing or loses nothing, or if `partial`'s vault loss is not
/// below a quarter of it.
#[test]
fn jelly_2025_backstop_loss_stays_below_the_anchor() {
    let dir = temp_dir("jelly");
    let scenario = generate("jelly-2025", &dir);
    let anchor = scenario.join("anchor-policy.toml");
    let run = compare(&["--scenario".as_ref(), scenario.as_os_str()], &["partial", anchor.to_str().unwrap()], &dir);
    let (best, anchor) = (&run.outcomes["partial"], &run.outcomes["hyperliquid"]);
    let anchor_loss = money(&anchor["backstop_loss"]);
    assert!(anchor["volume_by_venue"]["backstop"].as_i64().unwrap() > 0 && anchor_loss > 0.0, "the anchor's vault inherited nothing: {anchor}");
    let best_loss = money(&best["backstop_loss"]);
    assert!(best_loss * 4.0 < anchor_loss, "backstop loss: partial {best_loss} vs anchor {anchor_loss}");
    assert!(money(&best["total_loss_to_others"]) < money(&anchor["total_loss_to_others"]));
    // The whale (the last account in the file) is liquidated under both.
    let whale = 300u64;
    for (name, journal) in &run.journals {
        assert!(trigger_marks(journal).contains_key(&whale), "{name}: the whale was never liquidated");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// USDe/wBETH, October 2025: Binance spot's thin book prints 15 % low from 15 s to 45 s.
/// With gavel's median of three venues (3 % band, quorum 2) nothing triggers in that
/// window; an oracle priced off that one venue (the same files, only its capture) does. Both
/// under `adaptive`. Fails if the median oracle lets the dislocation trigger anyone, or if
/// the single-venue oracle does not (the dislocation would then not be tested at all).
#[test]
fn usde_wbeth_2025_one_venue_dislocation_triggers_only_a_one_venue_oracle() {
    let dir = temp_dir("usde");
    let scenario = generate("usde-wbeth-2025", &dir);
    let window = |journal: &[Value]| {
        let start = journal.iter().find(|r| r["record"] == "mark").and_then(|r| r["t_ns"].as_i64()).unwrap();
        journal
            .iter()
            .filter(|r| r["record"] == "liquidation" && r["stage"] == "triggered")
            .filter(|r| (15_000_000_000..45_000_000_000).contains(&(r["t_ns"].as_i64().unwrap() - start)))
            .count()
    };
    let median = compare(&["--scenario".as_ref(), scenario.as_os_str()], &["adaptive"], &dir.join("median"));
    let single_inputs: Vec<std::ffi::OsString> = vec![
        "--instruments".into(),
        scenario.join("instruments.toml").into(),
        "--accounts".into(),
        scenario.join("accounts.csv").into(),
        "--positions".into(),
        scenario.join("positions.csv").into(),
        "--capture".into(),
        scenario.join("binance-spot.cap").into(),
    ];
    let single_refs: Vec<&std::ffi::OsStr> = single_inputs.iter().map(|s| s.as_os_str()).collect();
    let single = compare(&single_refs, &["adaptive"], &dir.join("single"));
    let (in_median, in_single) = (window(&median.journals["adaptive"]), window(&single.journals["adaptive"]));
    assert_eq!(in_median, 0, "the median oracle triggered {in_median} liquidations during the dislocation");
    assert!(in_single >= 10, "the one-venue oracle triggered only {in_single}");
    let count = |c: &Compared| c.outcomes["adaptive"]["liquidations"].as_u64().unwrap();
    assert!(count(&median) * 5 < count(&single), "liquidations: median {} vs one venue {}", count(&median), count(&single));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A slow grind with deep books and no gaps: no policy should need anyone else's money,
/// and `partial`'s minimal steps trade closer to the mark than `naive`'s whole-position
/// closes. Fails if either passes a loss to others or partial's arrival slippage is not
/// below naive's. (It does not claim partial keeps more equity: it does not here, see
/// docs/INCIDENTS.md.)
#[test]
fn slow_grind_needs_nobody_else_and_partial_trades_nearer_the_mark() {
    let dir = temp_dir("grind");
    let scenario = generate("slow-grind", &dir);
    let run = compare(&["--scenario".as_ref(), scenario.as_os_str()], &["naive", "partial"], &dir);
    let (naive, partial) = (&run.outcomes["naive"], &run.outcomes["partial"]);
    for p in [naive, partial] {
        assert_eq!(money(&p["total_loss_to_others"]), 0.0, "{}", p["name"]);
        assert!(p["liquidations"].as_u64().unwrap() > 50, "the grind liquidated too few: {}", p["name"]);
    }
    let slip = |p: &Value| p["arrival_slippage_bps"].as_f64().unwrap();
    assert!(slip(partial) < slip(naive), "arrival slippage: partial {} vs naive {}", slip(partial), slip(naive));
    let _ = std::fs::remove_dir_all(&dir);
}
