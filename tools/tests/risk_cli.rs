//! `gavel risk` end to end on the shipped examples.

use std::process::Command;

fn docs(p: &str) -> String {
    format!("{}/../docs/examples/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn gavel_risk(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args([
            "risk",
            "--instruments",
            &docs("instruments.toml"),
            "--accounts",
            &docs("accounts.csv"),
            "--positions",
            &docs("positions.csv"),
        ])
        .args(extra)
        .output()
        .expect("gavel runs")
}

#[test]
fn csv_report_has_the_exact_header_and_values() {
    let out = gavel_risk(&["--mark", "BTCUSDT=49500", "--mark", "ETHUSDT=2550.5", "--csv"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "account,instrument,size,mark,equity,maintenance,health,liquidation_price,bankruptcy_price"
    );
    // alice: 1 BTC long @ 50 000, 1 000 isolated; mark 49 500: equity 500,
    // maintenance 0.4 % × 49 500 = 198, health 2.5252, LP 49 196.8, BP 49 000.
    assert_eq!(lines[1], "alice,BTCUSDT,1.000,49500.0,500.000000,198.000000,2.5252,49196.8,49000.0");
    // bob: the mirror short; LP in bracket 1: (1000 + 50 + 50000) / 1.005 = 50 796.02 → 50 796.0.
    assert_eq!(lines[2], "bob,BTCUSDT,-1.000,49500.0,1500.000000,198.000000,7.5757,50796.0,51000.0");
    // dave: 2 ETH long @ 2600 cross, wallet 200; equity 200 − 99 = 101; MM 0.5 % × 5101 = 25.505.
    assert_eq!(lines[5], "dave,ETHUSDT,2.000,2550.50,101.000000,25.505000,3.9600,2512.57,2500.00");
    assert_eq!(lines.len(), 6);
}

#[test]
fn missing_mark_and_bad_mark_are_errors() {
    let out = gavel_risk(&["--mark", "BTCUSDT=49500"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --mark for ETHUSDT"));
    let out = gavel_risk(&["--mark", "BTCUSDT=49500.05", "--mark", "ETHUSDT=1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tick"));
}

#[test]
fn an_offset_group_nets_the_hedged_account_in_the_report() {
    let dir = std::env::temp_dir().join(format!("gavel-risk-offset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shipped = std::fs::read_to_string(docs("instruments.toml")).unwrap();
    let netted = dir.join("instruments.toml");
    std::fs::write(&netted, format!("{shipped}\n[[offset]]\nname = \"btc-eth\"\ninstruments = [\"BTCUSDT\", \"ETHUSDT\"]\ncredit = \"0.5\"\n")).unwrap();
    let accounts = dir.join("accounts.csv");
    std::fs::write(&accounts, "account,collateral,margin_mode\nhedged,400,cross\n").unwrap();
    let positions = dir.join("positions.csv");
    std::fs::write(&positions, "account,instrument,size,entry_price\nhedged,BTCUSDT,1,50000\nhedged,ETHUSDT,-10,2500\n").unwrap();
    let run = |instruments: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
            .args(["risk", "--csv", "--mark", "BTCUSDT=50000", "--mark", "ETHUSDT=2500"])
            .arg("--instruments")
            .arg(instruments)
            .arg("--accounts")
            .arg(&accounts)
            .arg("--positions")
            .arg(&positions)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let with = run(&netted);
    let without = run(std::path::Path::new(&docs("instruments.toml")));
    std::fs::remove_dir_all(&dir).ok();
    let row = |text: &str, n: usize| text.lines().nth(n).unwrap().split(',').map(str::to_string).collect::<Vec<_>>();
    // Maintenance 200 + 147.5 = 347.5 alone; less the 0.5 × 147.5 credit netted.
    assert_eq!(row(&without, 1)[5], "347.500000");
    assert_eq!(row(&with, 1)[5], "273.750000");
    assert_eq!(row(&with, 1)[6], "1.4611", "health 400 / 273.75");
    // The BTC long's liquidation price moves down with the credit, the ETH short's up.
    let lp = |text: &str, n: usize| row(text, n)[7].parse::<f64>().unwrap();
    assert!(lp(&with, 1) < lp(&without, 1), "{with}\n{without}");
    assert!(lp(&with, 2) > lp(&without, 2), "{with}\n{without}");
}
