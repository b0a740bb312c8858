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

/// Writes records 1..=n with a writer from `open`, flushing every `every`; returns the writer.
fn write_flushed(dir: &Path, open: fn(&Path, u64, u64, u64) -> io::Result<JournalWriter>, n: u64, every: u64, limit: u64) -> JournalWriter {
    let mut w = open(dir, 0, 1, limit).unwrap();
    for s in 1..=n {
        w.append(s, &event(s)).unwrap();
        if s % every == 0 {
            assert_eq!(w.flush().unwrap(), s);
        }
    }
    w
}

fn segment_bytes(dir: &Path) -> Vec<Vec<u8>> {
    list_segments(dir).unwrap().into_iter().map(|(_, p)| std::fs::read(p).unwrap()).collect()
}

#[test]
fn a_mapped_writer_leaves_the_same_segments_as_an_appending_one() {
    let limit = (HEADER_LEN + 30 * RECORD_LEN) as u64;
    let (plain, mapped) = (temp("same-plain"), temp("same-mapped"));
    drop(write_flushed(&plain, JournalWriter::open, 100, 7, limit));
    let w = write_flushed(&mapped, JournalWriter::open_mapped, 100, 7, limit);
    // Open: the last segment is reserved whole, the closed ones are cut to their records.
    let lens: Vec<u64> = list_segments(&mapped).unwrap().iter().map(|(_, p)| std::fs::metadata(p).unwrap().len()).collect();
    assert_eq!(lens, [limit, limit, limit, limit], "30 records fill a segment exactly; the fourth is reserved");
    let (r, got) = read_all(&mapped);
    assert_eq!((r.records, r.last_sequence, r.torn.is_some()), (98, 98, false), "what was flushed (every 7th), nothing torn");
    let unused = r.unused.expect("the open segment's reserved end");
    assert_eq!((unused.offset, unused.bytes), ((HEADER_LEN + 8 * RECORD_LEN) as u64, limit - (HEADER_LEN + 8 * RECORD_LEN) as u64));
    assert_eq!(got.last().unwrap().0, 98);
    // Closed (the last two records were buffered, never flushed: a drop loses them as `write(2)` would).
    drop(w);
    let plain_segments = segment_bytes(&plain);
    assert_eq!(plain_segments.len(), 4);
    assert!(segment_bytes(&mapped) == plain_segments, "the segments differ");
    let (r, _) = read_all(&mapped);
    assert!(r.unused.is_none() && r.torn.is_none());
    std::fs::remove_dir_all(&plain).unwrap();
    std::fs::remove_dir_all(&mapped).unwrap();
}

#[test]
fn a_crashed_mapped_writer_leaves_zeros_that_recovery_cuts_and_a_torn_record_stays_torn() {
    let dir = temp("mapped-crash");
    let limit = 1 << 20;
    // A crash: the writer never runs its close (nor its drop).
    std::mem::forget(write_flushed(&dir, JournalWriter::open_mapped, 20, 5, limit));
    let seg = segment_path(&dir, 1);
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), limit);
    let (r, got) = read_all(&dir);
    assert_eq!((got.len(), r.torn.is_some()), (20, false));
    let unused = r.unused.clone().expect("zeros after the last record");
    assert_eq!(unused.offset, (HEADER_LEN + 20 * RECORD_LEN) as u64);
    // Half a record written when the crash came: torn, not unused.
    let mut bytes = std::fs::read(&seg).unwrap();
    let end = HEADER_LEN + 20 * RECORD_LEN;
    bytes[end..end + 40].copy_from_slice(&bytemuck::bytes_of(&JournalRecord::new(21, &event(21)))[..40]);
    std::fs::write(&seg, &bytes).unwrap();
    let (r, _) = read_all(&dir);
    assert!(r.unused.is_none() && r.torn.as_ref().is_some_and(|t| t.offset == end as u64 && t.why.contains("CRC")), "{r:?}");
    // A stray byte far into the zeros is damage, not a tail: refused.
    bytes[end..end + 40].fill(0);
    bytes[end + 4_000] = 1;
    std::fs::write(&seg, &bytes).unwrap();
    assert!(scan(&dir, |_, _| {}).unwrap_err().contains("refusing to guess"));
    // Zeros only again: cut, then a new writer goes on in the next segment.
    bytes[end + 4_000] = 0;
    std::fs::write(&seg, &bytes).unwrap();
    truncate_torn(&read_all(&dir).0.unused.unwrap()).unwrap();
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), end as u64);
    let mut w = JournalWriter::open_mapped(&dir, 1, 21, limit).unwrap();
    w.append(21, &event(21)).unwrap();
    w.flush().unwrap();
    drop(w);
    let (r, got) = read_all(&dir);
    assert_eq!((r.segments, r.last_sequence, got.len()), (2, 21, 21));
    assert!(r.unused.is_none() && r.torn.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_mapped_writer_faults_pages_ahead_hands_megabytes_to_the_disk_and_keeps_its_limits() {
    let dir = temp("mapped-ahead");
    let mut w = JournalWriter::open_mapped(&dir, 0, 1, 4 << 20).unwrap();
    assert_eq!(w.prefault(), 0, "the first pages were touched when the segment was made");
    // 1,000 records (80,000 bytes) pass the first 64 KiB: the pages after them are new.
    for s in 1..=1_000 {
        w.append(s, &event(s)).unwrap();
    }
    w.flush().unwrap();
    let pages = w.prefault();
    let used = HEADER_LEN + 1_000 * RECORD_LEN;
    assert_eq!(pages, (used + (64 << 10)).div_ceil(4096) - used / 4096, "from the last record's page to 64 KiB past it");
    assert_eq!(w.prefault(), 0);
    assert_eq!(w.start_writeback().unwrap(), 0, "less than a megabyte written");
    // Past 1 MiB: the whole pages behind the last record go to the disk, once.
    for s in 1_001..=15_000 {
        w.append(s, &event(s)).unwrap();
    }
    w.flush().unwrap();
    let handed = w.start_writeback().unwrap();
    assert_eq!(handed, ((HEADER_LEN + 15_000 * RECORD_LEN) / 4096 * 4096) as u64);
    assert_eq!(w.start_writeback().unwrap(), 0);
    w.fail_after(Some(15_002));
    w.append(15_001, &event(15_001)).unwrap();
    w.append(15_002, &event(15_002)).unwrap();
    assert_eq!(w.flush().unwrap(), 15_002);
    w.append(15_003, &event(15_003)).unwrap();
    assert_eq!(w.flush().unwrap_err().kind(), io::ErrorKind::StorageFull);
    drop(w);
    assert_eq!(read_all(&dir).0.last_sequence, 15_002);
    // A limit past what a mapping reserves is clamped to it; the header must fit.
    assert!(crate::input_journal_mapped::MappedSegment::new(tempfile_in(&dir), 32, 16).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_in(dir: &Path) -> File {
    OpenOptions::new().read(true).write(true).create(true).truncate(true).open(dir.join("scratch")).unwrap()
}

