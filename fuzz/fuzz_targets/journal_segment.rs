//! Any bytes as the only segment of a `gavel serve` input journal: the scan either refuses them
//! with an error or accepts a prefix of records numbered 1, 2, …; the follower (`JournalTail`)
//! then delivers exactly those records; and cutting a torn or unused (all-zero) tail leaves a
//! journal that scans to the same records with nothing left to cut. Never a panic.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use gavel_feeds::input_journal::{scan, segment_path, truncate_torn};
use gavel_feeds::input_journal_tail::JournalTail;
use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<PathBuf> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let dir = DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("gavel-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    });
    let path = segment_path(dir, 1);
    std::fs::write(&path, data).expect("write the segment");
    let mut scanned = Vec::new();
    let Ok(report) = scan(dir, |s, e| scanned.push((s, *e))) else { return };
    assert_eq!(scanned.iter().map(|r| r.0).collect::<Vec<_>>(), (1..=report.last_sequence).collect::<Vec<_>>());
    assert!(report.torn.is_none() || report.unused.is_none(), "one tail at most");
    let mut followed = Vec::new();
    let delivered = JournalTail::after(dir, 0).read_through(report.last_sequence, |s, e| followed.push((s, *e))).expect("the follower reads what the scan accepted");
    assert_eq!(delivered, report.last_sequence);
    assert_eq!(followed, scanned);
    if let Some(tail) = report.torn.as_ref().or(report.unused.as_ref()) {
        if !path.exists() {
            return;
        }
        truncate_torn(tail).expect("cut the tail");
        let again = scan(dir, |_, _| {}).expect("a cut journal scans");
        assert_eq!(again.last_sequence, report.last_sequence);
        assert!(again.torn.is_none() && again.unused.is_none(), "{again:?}");
    }
});
