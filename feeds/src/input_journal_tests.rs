use super::*;
use crate::wire::{ClientOrder, EventKind, Venue};

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gavel-ijl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn event(i: u64) -> Event {
    let mut e = Event::new(EventKind::ClientOrder, Venue::Gavel, 0, ClientOrder { account: 3, price: 1000 + i as i64, qty: 1 }).with_times(i, 0, 1_000 + i as i64);
    e.publish_ticks = 99;
    e
}

fn write(dir: &Path, n: u64, limit: u64) {
    let mut w = JournalWriter::open(dir, 0, 1, limit).unwrap();
    for s in 1..=n {
        w.append(s, &event(s)).unwrap();
    }
    assert_eq!(w.sync().unwrap(), n);
}

fn read_all(dir: &Path) -> (ScanReport, Vec<(u64, Event)>) {
    let mut got = Vec::new();
    let r = scan(dir, |s, e| got.push((s, *e))).unwrap();
    (r, got)
}

#[test]
fn records_round_trip_across_segments_without_publish_ticks() {
    let dir = temp("roundtrip");
    write(&dir, 100, (HEADER_LEN + 30 * RECORD_LEN) as u64);
    let (r, got) = read_all(&dir);
    assert_eq!(r.records, 100);
    assert_eq!(r.last_sequence, 100);
    assert_eq!(r.segments, 4, "30 records a segment");
    assert!(r.torn.is_none());
    for (i, (s, e)) in got.iter().enumerate() {
        let mut want = event(i as u64 + 1);
        want.publish_ticks = 0;
        assert_eq!((*s, *e), (i as u64 + 1, want));
    }
    // A writer reopened after recovery continues in a new segment.
    let mut w = JournalWriter::open(&dir, r.last_segment, 101, DEFAULT_SEGMENT_BYTES).unwrap();
    assert!(w.append(102, &event(102)).is_err(), "sequence gaps are refused");
    w.append(101, &event(101)).unwrap();
    w.sync().unwrap();
    assert_eq!(read_all(&dir).0.last_sequence, 101);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_last_record_is_reported_and_truncated() {
    let dir = temp("torn");
    write(&dir, 10, DEFAULT_SEGMENT_BYTES);
    let seg = segment_path(&dir, 1);
    let len = std::fs::metadata(&seg).unwrap().len();
    OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 7).unwrap();
    let (r, got) = read_all(&dir);
    assert_eq!(got.len(), 9);
    let torn = r.torn.clone().expect("torn tail");
    assert_eq!(torn.offset, (HEADER_LEN + 9 * RECORD_LEN) as u64);
    assert_eq!(torn.bytes, RECORD_LEN as u64 - 7);
    truncate_torn(&torn).unwrap();
    let (r, _) = read_all(&dir);
    assert!(r.torn.is_none());
    assert_eq!(r.last_sequence, 9);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_crc_in_the_middle_is_an_error_naming_segment_and_offset() {
    let dir = temp("middle");
    write(&dir, 10, DEFAULT_SEGMENT_BYTES);
    let seg = segment_path(&dir, 1);
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = HEADER_LEN + 4 * RECORD_LEN + 20;
    bytes[at] ^= 1;
    std::fs::write(&seg, &bytes).unwrap();
    let err = scan(&dir, |_, _| {}).unwrap_err();
    assert!(err.contains("seg-00000001.gjl") && err.contains(&format!("offset {}", HEADER_LEN + 4 * RECORD_LEN)) && err.contains("CRC"), "{err}");
    // The same flip in the last record is a torn tail instead.
    bytes[at] ^= 1;
    let last = HEADER_LEN + 9 * RECORD_LEN + 20;
    bytes[last] ^= 1;
    std::fs::write(&seg, &bytes).unwrap();
    let (r, got) = read_all(&dir);
    assert_eq!(got.len(), 9);
    assert!(r.torn.unwrap().why.contains("CRC"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_segment_or_foreign_file_is_an_error() {
    let dir = temp("gap");
    write(&dir, 90, (HEADER_LEN + 30 * RECORD_LEN) as u64);
    std::fs::remove_file(segment_path(&dir, 2)).unwrap();
    let err = scan(&dir, |_, _| {}).unwrap_err();
    assert!(err.contains("seg-00000003.gjl") && err.contains("starts at sequence 61"), "{err}");
    std::fs::write(segment_path(&dir, 2), [7u8; 200]).unwrap();
    assert!(scan(&dir, |_, _| {}).unwrap_err().contains("not a gavel journal segment"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_injected_failure_refuses_writes_past_its_limit() {
    let dir = temp("fail");
    let mut w = JournalWriter::open(&dir, 0, 1, DEFAULT_SEGMENT_BYTES).unwrap();
    w.fail_after(Some(5));
    for s in 1..=5 {
        w.append(s, &event(s)).unwrap();
    }
    assert_eq!(w.sync().unwrap(), 5);
    w.append(6, &event(6)).unwrap();
    let err = w.sync().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::StorageFull);
    assert_eq!(read_all(&dir).0.last_sequence, 5);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_scan_from_a_sequence_reads_only_the_segments_from_the_one_holding_it() {
    let dir = temp("scanfrom");
    write(&dir, 100, (HEADER_LEN + 30 * RECORD_LEN) as u64);
    for (from, first_seen, segments) in [(1, 1, 4), (30, 1, 4), (31, 31, 3), (75, 61, 2), (100, 91, 1), (1_000, 91, 1)] {
        let mut seen = Vec::new();
        let r = scan_from(&dir, from, |s, _| seen.push(s)).unwrap();
        assert_eq!((seen[0], r.segments, r.last_sequence), (first_seen, segments, 100), "from {from}");
        assert_eq!(seen, (first_seen..=100).collect::<Vec<_>>(), "from {from}");
    }
    // Damage in a skipped segment is not seen; in a read one it is.
    let (_, first) = list_segments(&dir).unwrap().remove(0);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[HEADER_LEN + 5] ^= 1;
    std::fs::write(&first, &bytes).unwrap();
    assert!(scan_from(&dir, 31, |_, _| {}).is_ok());
    assert!(scan_from(&dir, 1, |_, _| {}).unwrap_err().contains("CRC"));
    std::fs::remove_dir_all(&dir).unwrap();
}
