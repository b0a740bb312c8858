//! `gavel demo` end to end: every policy's row, the options section on the same
//! crash, the collateral depeg, portfolio margin with and without the offset credit, margin calls,
//! and all of them in the HTML report.

use std::process::Command;

#[test]
fn the_demo_prints_and_reports_the_policies_and_the_options_section() {
    let dir = std::env::temp_dir().join(format!("gavel-demo-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["demo", "--accounts", "300", "--report", report.to_str().unwrap()])
        .output()
        .expect("gavel runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for policy in ["naive", "partial", "auction", "sliced", "adaptive", "dydx-v4", "binance-usdm", "maker-clip", "adaptive-preempt"] {
        assert!(stdout.lines().any(|l| l.starts_with(policy)), "no {policy} row:\n{stdout}");
    }
    let options: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("options on the same crash")).collect();
    assert!(options.len() >= 5, "no options section:\n{stdout}");
    let liquidated: Vec<u64> = options[2..5].iter().map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()).collect();
    assert!(liquidated[0] > 0 && liquidated.iter().all(|&n| n == liquidated[0]), "{options:?}");
    let html = std::fs::read_to_string(&report).unwrap();
    let table = &html[html.find("<table id=\"options-crash\">").expect("options table in the report")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr>").count(), 4, "header and three strategies");
    for name in ["close-first", "hedge-first", "greeks"] {
        assert!(table.contains(&format!("<td>{name}</td>")));
    }
    // The collateral section: valued on the thin venue, accounts go; at the index, none.
    let depeg = &html[html.find("<table id=\"collateral-depeg\">").expect("collateral table in the report")..];
    let depeg = &depeg[..depeg.find("</table>").unwrap()];
    assert!(depeg.contains("<td>at gavel&#39;s index (3 venues, 3 %)</td><td>0</td>"), "{depeg}");
    assert!(stdout.contains("collateral depeg:"), "{stdout}");
    // The portfolio-margin section: the credit lowers the starting maintenance.
    let pm = &html[html.find("<table id=\"portfolio-margin\">").expect("portfolio table in the report")..];
    let pm = &pm[..pm.find("</table>").unwrap()];
    assert_eq!(pm.matches("<tr>").count(), 3, "header, netted, gross");
    let maintenance: Vec<f64> = stdout
        .lines()
        .filter(|l| l.starts_with("netted (credit 0.5)") || l.starts_with("gross "))
        .map(|l| l.split_whitespace().rev().nth(3).unwrap().parse().unwrap())
        .collect();
    assert!(maintenance.len() == 2 && maintenance[0] < maintenance[1], "{maintenance:?}\n{stdout}");
    // The margin-call section: a row per policy. (At 300 accounts no call is sized on the
    // implied vol; tools/tests/margin_calls_cli.rs shows one that is.)
    let mc = &html[html.find("<table id=\"margin-calls\">").expect("margin-call table in the report")..];
    let mc = &mc[..mc.find("</table>").unwrap()];
    assert_eq!(mc.matches("<tr>").count(), 10, "header and nine policies");
    let section = &stdout[stdout.find("margin calls:").expect("margin-call section")..];
    // (calls, on implied, reductions) per policy; only adaptive-preempt (last) reduces, at most once per call.
    let rows: Vec<(u64, u64, u64)> = section
        .lines()
        .skip(2)
        .take(9)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].parse().unwrap(), f[2].parse().unwrap(), f[f.len() - 2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), 9, "{section}");
    assert!(rows.iter().all(|&(calls, on_implied, _)| calls > 0 && on_implied <= calls), "{section}");
    assert!(rows[..8].iter().all(|r| r.2 == 0), "{section}");
    assert!(rows[8].2 > 0 && rows[8].2 <= rows[8].0, "{section}");
    // The coin-margined section: the inverse book liquidates under each policy, money in
    // BTC to the 10^-6 unit, conserved.
    let inv = &stdout[stdout.find("coin-margined:").expect("coin-margined section")..];
    let inv_rows: Vec<Vec<&str>> = inv.lines().skip(2).take(3).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(inv_rows.iter().map(|r| r[0]).collect::<Vec<_>>(), ["naive", "partial", "adaptive"], "{inv}");
    for r in &inv_rows {
        assert!(r[1].parse::<u64>().unwrap() > 0, "{inv}");
        assert_eq!(r[3].split('.').nth(1).map(str::len), Some(6), "{inv}");
        assert_eq!(r[5], "0", "{inv}");
    }
    let it = &html[html.find("<table id=\"inverse-crash\">").expect("coin-margined table in the report")..];
    assert_eq!(it[..it.find("</table>").unwrap()].matches("<tr>").count(), 4, "header and three policies");
    std::fs::remove_dir_all(&dir).unwrap();
}
