//! `gavel replay --dump-top --venue coinbase` on a full-channel (L3)
//! recording: the fixture is hand-written from Coinbase Exchange's
//! documentation (no real full-channel data is available), see
//! `feeds/tests/coinbase_full_replay.rs`.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn dump_top_on_a_full_channel_recording() {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../feeds/tests/fixtures/coinbase_full_session.cf");
    let out = Command::new(env!("CARGO_BIN_EXE_gavel"))
        .args(["replay", "--dump-top", "--venue", "coinbase", "--symbol", "BTC-USD"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert_eq!(lines[0], "recv_ns,venue_seq,bid_px,bid_qty,ask_px,ask_qty");
    assert_eq!(lines[7], "1700000000900000000,107,100.50,0.05000000,100.75,1.00000000");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 snapshots, 5 diffs applied, 2 stale, 0 duplicates, 1 gaps, 0 crossed"), "{stderr}");
}
