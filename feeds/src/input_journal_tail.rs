//! Following a live input journal: [`JournalTail`] delivers the records of a journal
//! directory in sequence order, from any sequence on, while the writer keeps appending.
//!
//! Records have a fixed length and consecutive sequences within a segment, so a start in the
//! middle of a segment is one seek. The caller says how far to read (`through`: the durable
//! sequence the writer published); the bytes of every record up to it are on disk, so a record
//! there that is short or fails its CRC is damage, reported with segment and offset.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::input_journal::{list_segments, segment_first_sequence, JournalRecord, HEADER_LEN, RECORD_LEN};
use crate::wire::Event;

/// Records read per `read_at`.
const BATCH: usize = 1024;

/// A reader following a journal directory.
pub struct JournalTail {
    dir: PathBuf,
    /// The open segment: number, path, file, sequence of its first record.
    segment: Option<(u64, PathBuf, File, u64)>,
    /// Sequence of the next record to deliver.
    next: u64,
    buf: Vec<u8>,
}

impl JournalTail {
    /// A reader whose first record will be the one after sequence `after` (0: the first).
    pub fn after(dir: &Path, after: u64) -> Self {
        JournalTail { dir: dir.to_path_buf(), segment: None, next: after + 1, buf: vec![0; BATCH * RECORD_LEN] }
    }

    /// Sequence of the next record to deliver.
    pub fn next_sequence(&self) -> u64 {
        self.next
    }

    /// Calls `f` with every record from the next one through sequence `through`, in order, as
    /// far as they are in the files; returns how many it delivered.
    pub fn read_through(&mut self, through: u64, mut f: impl FnMut(u64, &Event)) -> Result<u64, String> {
        let mut delivered = 0;
        while self.next <= through {
            if self.segment.is_none() && !self.open_segment()? {
                break;
            }
            let Some((_, path, file, first)) = &self.segment else { break };
            let offset = HEADER_LEN as u64 + (self.next - *first) * RECORD_LEN as u64;
            let want = (through - self.next + 1).min(BATCH as u64) as usize * RECORD_LEN;
            let got = read_full(file, &mut self.buf[..want], offset).map_err(|e| format!("{}: offset {offset}: {e}", path.display()))?;
            // A record of zeros is the reserved, unwritten end of a mapped segment: the end of
            // the bytes, as the end of the file is for an appended one.
            let written = self.buf[..got - got % RECORD_LEN].chunks_exact(RECORD_LEN).position(|r| r.iter().all(|&b| b == 0));
            let whole = written.unwrap_or(got / RECORD_LEN);
            for k in 0..whole {
                let at = offset + (k * RECORD_LEN) as u64;
                let r: JournalRecord = bytemuck::pod_read_unaligned(&self.buf[k * RECORD_LEN..(k + 1) * RECORD_LEN]);
                if r.crc != r.compute_crc() {
                    return Err(format!("{}: offset {at}: CRC mismatch in a record the writer reported durable", path.display()));
                }
                if r.sequence != self.next {
                    return Err(format!("{}: offset {at}: sequence {} where {} was expected", path.display(), r.sequence, self.next));
                }
                f(r.sequence, &r.event());
                self.next += 1;
                delivered += 1;
            }
            if got < want || written.is_some() {
                // The end of this segment's bytes: the next record is in a later segment, or not
                // written yet.
                if (written.is_none() && got % RECORD_LEN != 0) || !self.next_segment_exists()? {
                    break;
                }
                self.segment = None;
            }
        }
        Ok(delivered)
    }

    /// Opens the segment holding sequence `next`: the last one starting at or before it.
    fn open_segment(&mut self) -> Result<bool, String> {
        let segments = list_segments(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let mut chosen = None;
        for (n, path) in segments {
            let Some(first) = segment_first_sequence(&path)? else { continue };
            if first <= self.next {
                chosen = Some((n, path, first));
            } else {
                break;
            }
        }
        let Some((n, path, first)) = chosen else { return Ok(false) };
        let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.segment = Some((n, path, file, first));
        Ok(true)
    }

    fn next_segment_exists(&self) -> Result<bool, String> {
        let current = self.segment.as_ref().map_or(0, |s| s.0);
        let segments = list_segments(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        Ok(segments.iter().any(|(n, _)| *n > current))
    }
}

/// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
fn read_full(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input_journal::JournalWriter;
    use crate::wire::{ClientOrder, EventKind, Venue};

    fn event(i: u64) -> Event {
        Event::new(EventKind::ClientOrder, Venue::Gavel, 0, ClientOrder { account: i, price: 100 + i as i64, qty: 1 }).with_times(i, 0, i as i64)
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gavel-tail-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn follows_a_growing_journal_across_segments_from_any_start() {
        for mapped in [false, true] {
            follows_a_growing_journal(mapped);
        }
    }

    fn follows_a_growing_journal(mapped: bool) {
        let d = dir(if mapped { "grow-mapped" } else { "grow" });
        // Segments of ~10 records; a mapped writer's last segment is longer than its records.
        let open = if mapped { JournalWriter::open_mapped } else { JournalWriter::open };
        let mut w = open(&d, 0, 1, (HEADER_LEN + 10 * RECORD_LEN) as u64).unwrap();
        let mut tail = JournalTail::after(&d, 0);
        let mut seen = Vec::new();
        assert_eq!(tail.read_through(5, |s, _| seen.push(s)).unwrap(), 0, "nothing written yet");
        for i in 1..=37 {
            w.append(i, &event(i)).unwrap();
            if i % 6 == 0 {
                w.flush().unwrap();
                tail.read_through(i, |s, e| {
                    assert_eq!(e.sequence, s);
                    seen.push(s);
                })
                .unwrap();
            }
        }
        w.flush().unwrap();
        assert!(list_segments(&d).unwrap().len() >= 3, "the journal spans segments");
        tail.read_through(u64::MAX, |s, _| seen.push(s)).unwrap();
        assert_eq!(seen, (1..=37).collect::<Vec<_>>());
        assert_eq!(tail.next_sequence(), 38);
        // A reader starting mid-journal delivers exactly the rest.
        for after in [0, 9, 10, 11, 25, 36, 37] {
            let mut rest = Vec::new();
            JournalTail::after(&d, after).read_through(u64::MAX, |s, _| rest.push(s)).unwrap();
            assert_eq!(rest, (after + 1..=37).collect::<Vec<_>>(), "after {after}");
        }
        // `through` bounds what is delivered.
        let mut some = Vec::new();
        JournalTail::after(&d, 3).read_through(8, |s, _| some.push(s)).unwrap();
        assert_eq!(some, (4..=8).collect::<Vec<_>>());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_damaged_durable_record_is_an_error_naming_segment_and_offset() {
        let d = dir("damage");
        let mut w = JournalWriter::open(&d, 0, 1, 1 << 20).unwrap();
        for i in 1..=5 {
            w.append(i, &event(i)).unwrap();
        }
        w.flush().unwrap();
        let (_, path) = list_segments(&d).unwrap().remove(0);
        let mut bytes = std::fs::read(&path).unwrap();
        let at = HEADER_LEN + 2 * RECORD_LEN + 20;
        bytes[at] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let mut seen = Vec::new();
        let err = JournalTail::after(&d, 0).read_through(5, |s, _| seen.push(s)).unwrap_err();
        assert_eq!(seen, [1, 2]);
        assert!(err.contains("seg-") && err.contains(&format!("offset {}", HEADER_LEN + 2 * RECORD_LEN)) && err.contains("CRC"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
