//! Runs `gavel liquidate` end to end and checks its summary lines.

use std::process::Command;

fn liquidate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .arg("liquidate")
        .args(args)
        .output()
        .expect("run gavel");
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The comma-separated `key,value,key,value…` line starting with `first`.
fn fields(stdout: &str, first: &str) -> Vec<(String, i128)> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{first},")))
        .expect(first);
    let parts: Vec<&str> = line.split(',').collect();
    parts
        .chunks(2)
        .map(|kv| (kv[0].to_string(), kv[1].parse().unwrap_or(i128::MIN)))
        .collect()
}

fn get(fields: &[(String, i128)], key: &str) -> i128 {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v).expect(key)
}

#[test]
fn auction_route_closes_the_lot_and_beats_naive_on_the_thin_market() {
    for side in ["sell", "buy"] {
        let (ok, stdout, stderr) = liquidate(&["--side", side, "--qty", "60", "--route", "auction", "--journal"]);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("AuctionStarted"), "{stdout}");
        assert!(stdout.contains("Take {"), "{stdout}");
        let totals = fields(&stdout, "filled");
        assert_eq!(get(&totals, "filled") + get(&totals, "returned_for_adl"), 60);
        // Sale: gross = account + keeper + fund; buy-back: −account = gross + keeper + fund.
        let (gross, keeper, fund, account) = (
            get(&totals, "gross"),
            get(&totals, "keeper"),
            get(&totals, "fund"),
            get(&totals, "account"),
        );
        if side == "sell" {
            assert_eq!(gross, account + keeper + fund);
        } else {
            assert_eq!(-account, gross + keeper + fund);
        }
        let lost = fields(&stdout, "value_lost");
        assert!(get(&lost, "value_lost") < get(&lost, "naive_value_lost"), "{stdout}");
    }
}

#[test]
fn bad_policy_file_is_reported_with_the_field() {
    let dir = std::env::temp_dir().join(format!("gavel-liquidate-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[default.auction]\ncusp = 2\n").unwrap();
    let (ok, _, stderr) = liquidate(&["--policy", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!ok);
    assert!(stderr.contains("auction.cusp"), "{stderr}");
}
