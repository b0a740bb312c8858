//! Tests of the capture format: round trips, damage, torn tails, killed writers.
use super::*;
use proptest::prelude::*;

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gavel-capture-{}-{name}", std::process::id()))
}

fn write_sample(path: &Path, compressed: bool) {
    let records: [(i64, Venue, &[u8], &[u8]); 3] = [
        (1, Venue::BinanceUsdm, b"btcusdt@depth", br#"{"u":1}"#),
        (2, Venue::Bybit, b"orderbook.50.BTCUSDT", b""),
        (3, Venue::Okx, b"", br#"{"arg":{}}"#),
    ];
    let _ = std::fs::remove_file(path);
    let mut w = if compressed {
        CaptureWriter::create_compressed(path, false).unwrap()
    } else {
        CaptureWriter::create_new(path, false).unwrap()
    };
    for (t, v, c, m) in records {
        w.append(t, v, c, m).unwrap();
    }
    assert_eq!(w.records(), 3);
    w.into_inner().unwrap();
}

#[test]
fn plain_and_compressed_captures_round_trip() {
    for compressed in [false, true] {
        let path = temp_path(if compressed { "rt.zst" } else { "rt" });
        write_sample(&path, compressed);
        let file = CaptureFile::open(&path).unwrap();
        let records: Vec<_> = file.records().map(|r| r.unwrap()).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].message, br#"{"u":1}"#);
        assert_eq!(records[0].channel, b"btcusdt@depth");
        assert_eq!(records[0].offset, FILE_HEADER_LEN as u64);
        assert_eq!((records[1].receive_ns, records[1].venue), (2, Venue::Bybit));
        assert_eq!(records[2].channel, b"");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_capture_cut_mid_record_keeps_the_records_before_it_and_reports_the_tail() {
    let path = temp_path("cut");
    write_sample(&path, false);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() - 3);
    std::fs::write(&path, &bytes).unwrap();
    let file = CaptureFile::open(&path).unwrap();
    let results: Vec<_> = file.records().collect();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.is_ok()));
    let torn = file.torn_tail().unwrap();
    assert_eq!((torn.complete_records, torn.frame_cut), (2, false));
    assert_eq!(torn.offset + torn.bytes, bytes.len() as u64);
    let warning = file.torn_tail_warning().unwrap();
    assert!(warning.contains("torn record") && warning.contains("2 complete"), "{warning}");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn damaged_bytes_fail_the_checksum_and_bad_headers_are_named() {
    let path = temp_path("crc");
    write_sample(&path, false);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let file = CaptureFile::open(&path).unwrap();
    let err = file.records().find_map(|r| r.err()).unwrap();
    assert_eq!(err.field, "crc32");

    bytes[..8].copy_from_slice(b"NOTACAPT");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(CaptureFile::open(&path).err().unwrap().field, "magic");
    bytes[..8].copy_from_slice(&CAPTURE_MAGIC);
    bytes[8] = 9;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(CaptureFile::open(&path).err().unwrap().field, "version");
    std::fs::remove_file(&path).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// No byte string after a valid header panics the reader, and it never loops forever.
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let path = temp_path(&format!("fuzz-{}", body.len()));
        let mut bytes = CAPTURE_MAGIC.to_vec();
        bytes.extend_from_slice(&CAPTURE_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&body);
        std::fs::write(&path, &bytes).unwrap();
        let file = CaptureFile::open(&path).unwrap();
        let mut seen = 0usize;
        for _ in file.records() {
            seen += 1;
            prop_assert!(seen <= body.len() / RECORD_HEADER_LEN + 1);
        }
        std::fs::remove_file(&path).unwrap();
    }
}

/// Many records of varied sizes, for the cut and kill tests.
fn sample_records(n: usize) -> Vec<(i64, Venue, Vec<u8>, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let channel = format!("ch{}", i % 7).into_bytes();
            let message = format!("{{\"seq\":{i},\"pad\":\"{}\"}}", "x".repeat(i * 13 % 200)).into_bytes();
            (i as i64 * 1_000, Venue::BinanceUsdm, channel, message)
        })
        .collect()
}

fn check_prefix(file: &CaptureFile, expected: &[(i64, Venue, Vec<u8>, Vec<u8>)]) -> usize {
    let mut n = 0;
    for (record, want) in file.records().zip(expected) {
        let record = record.unwrap();
        assert_eq!((record.receive_ns, record.venue, record.channel, record.message), (want.0, want.1, &want.2[..], &want.3[..]));
        n += 1;
    }
    assert_eq!(file.records().count(), n, "no record beyond the expected ones");
    n
}

#[test]
fn a_plain_capture_cut_at_every_byte_of_its_last_records_yields_every_complete_record() {
    let path = temp_path("every-cut");
    let records = sample_records(40);
    let _ = std::fs::remove_file(&path);
    let mut w = CaptureWriter::create_new(&path, false).unwrap();
    let mut ends = Vec::new();
    let mut end = FILE_HEADER_LEN;
    for (t, v, c, m) in &records {
        w.append(*t, *v, c, m).unwrap();
        end += RECORD_HEADER_LEN + c.len() + m.len();
        ends.push(end);
    }
    w.into_inner().unwrap();
    let full = std::fs::read(&path).unwrap();
    assert_eq!(full.len(), end);
    let cut_path = temp_path("every-cut-part");
    // Every cut from the middle of record 35 to the end of the file.
    for cut in ends[34]..=full.len() {
        std::fs::write(&cut_path, &full[..cut]).unwrap();
        let file = CaptureFile::open(&cut_path).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(check_prefix(&file, &records), complete, "cut at {cut}");
        match file.torn_tail() {
            None => assert_eq!(cut, ends[complete - 1], "cut at {cut}: a torn tail must be reported"),
            Some(t) => {
                assert_eq!(t.offset as usize, ends[complete - 1], "cut at {cut}");
                assert_eq!((t.offset + t.bytes) as usize, cut);
                assert_eq!(t.complete_records as usize, complete);
            }
        }
    }
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&cut_path).unwrap();
}

#[test]
fn a_compressed_capture_cut_anywhere_yields_the_records_of_its_complete_frames() {
    let path = temp_path("every-cut.zst");
    let records = sample_records(30);
    let _ = std::fs::remove_file(&path);
    let mut w = CaptureWriter::create_compressed(&path, false).unwrap();
    // Flush (end a frame) every 5 records; remember the file length at each flush.
    let mut frame_ends = vec![(std::fs::metadata(&path).unwrap().len() as usize, 0usize)];
    for (i, (t, v, c, m)) in records.iter().enumerate() {
        w.append(*t, *v, c, m).unwrap();
        if i % 5 == 4 {
            w.flush().unwrap();
            frame_ends.push((std::fs::metadata(&path).unwrap().len() as usize, i + 1));
        }
    }
    w.into_inner().unwrap();
    let full = std::fs::read(&path).unwrap();
    let cut_path = temp_path("every-cut-part.zst");
    for cut in frame_ends[0].0..=full.len() {
        std::fs::write(&cut_path, &full[..cut]).unwrap();
        let file = CaptureFile::open(&cut_path).unwrap();
        let got = check_prefix(&file, &records);
        // Every record of every complete frame is there.
        let flushed = frame_ends.iter().filter(|(len, _)| *len <= cut).map(|(_, n)| *n).max().unwrap();
        assert!(got >= flushed, "cut at {cut}: {got} records, {flushed} were in complete frames");
        if cut < full.len() && !frame_ends.iter().any(|(len, _)| *len == cut) {
            assert!(file.torn_tail().is_some_and(|t| t.frame_cut), "cut at {cut} mid-frame must be reported");
        }
    }
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&cut_path).unwrap();
}

/// A capture process killed with SIGKILL: the writer is never finished or
/// dropped, so only what it flushed reaches the file.
#[test]
fn a_writer_that_dies_without_finishing_leaves_every_flushed_record_readable() {
    for compressed in [false, true] {
        let path = temp_path(if compressed { "killed.zst" } else { "killed" });
        let records = sample_records(25);
        let _ = std::fs::remove_file(&path);
        let mut w = if compressed {
            CaptureWriter::create_compressed(&path, false).unwrap()
        } else {
            CaptureWriter::create_new(&path, false).unwrap()
        };
        for (t, v, c, m) in &records[..20] {
            w.append(*t, *v, c, m).unwrap();
        }
        w.flush().unwrap();
        // Five more records sit unflushed in the buffer (or the open frame) when the process dies.
        for (t, v, c, m) in &records[20..] {
            w.append(*t, *v, c, m).unwrap();
        }
        std::mem::forget(w);
        let file = CaptureFile::open(&path).unwrap();
        assert_eq!(check_prefix(&file, &records), 20, "compressed: {compressed}");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_quiet_writer_flushes_on_tick_and_a_busy_one_every_64_kib() {
    let path = temp_path("tick");
    let _ = std::fs::remove_file(&path);
    let mut w = CaptureWriter::create_new(&path, false).unwrap();
    w.append(1, Venue::Bybit, b"c", b"one").unwrap();
    let len = || std::fs::metadata(&path).unwrap().len() as usize;
    assert_eq!(len(), FILE_HEADER_LEN, "buffered, not yet written");
    w.tick(Instant::now()).unwrap();
    assert_eq!(len(), FILE_HEADER_LEN, "younger than the flush interval");
    w.tick(Instant::now() + FLUSH_INTERVAL).unwrap();
    assert_eq!(len(), FILE_HEADER_LEN + RECORD_HEADER_LEN + 4);
    let big = vec![b'x'; FLUSH_BYTES];
    w.append(2, Venue::Bybit, b"c", &big).unwrap();
    assert_eq!(len(), FILE_HEADER_LEN + 2 * RECORD_HEADER_LEN + 5 + FLUSH_BYTES);
    std::mem::forget(w);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_new_capture_refuses_an_existing_file_unless_forced() {
    let path = temp_path("exists");
    std::fs::write(&path, b"precious data").unwrap();
    for compressed in [false, true] {
        let err = if compressed {
            CaptureWriter::create_compressed(&path, false).err().unwrap()
        } else {
            CaptureWriter::create_new(&path, false).err().unwrap()
        };
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"precious data");
    }
    CaptureWriter::create_new(&path, true).unwrap().into_inner().unwrap();
    assert_eq!(std::fs::read(&path).unwrap().len(), FILE_HEADER_LEN);
    std::fs::remove_file(&path).unwrap();
}
