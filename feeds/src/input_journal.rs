//! The input journal of `gavel serve`: every input event the engine consumed,
//! in consumption order, numbered 1, 2, … (the journal sequence). Replaying
//! it through a freshly built engine rebuilds the live engine's state.
//!
//! Segment files `seg-NNNNNNNN.gjl` in one directory, numbered from 1. Each
//! starts with a 32-byte [`SegmentHeader`] (magic `GAVELSEG`, version, record
//! length, the sequence of the segment's first record) followed by 80-byte
//! [`JournalRecord`]s: the sequence, the 64-byte event with `publish_ticks`
//! zeroed, and a CRC32 of the bytes before it. A writer always starts a new
//! segment (after recovery too) and rolls to the next one at a size limit.
//!
//! Reading ([`scan`]) checks magic, version, sequence continuity and every
//! CRC. A short or CRC-bad record at the very end of the last segment (the
//! record a crash interrupted) is a *torn tail*: reported, and removable with
//! [`truncate_torn`]. Any other damage is an error naming segment and offset.
//!
//! A writer opened with [`JournalWriter::open_mapped`] reserves each segment whole and copies
//! records into a shared mapping of it; the last segment of a crashed writer then ends in
//! zeros, which the scan reports apart ([`ScanReport::unused`]) and recovery cuts the same way.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytemuck::{Pod, Zeroable};

use crate::input_journal_mapped::{MappedSegment, MAX_MAPPED_SEGMENT_BYTES};
use crate::wire::Event;

/// First bytes of a segment.
pub const MAGIC: [u8; 8] = *b"GAVELSEG";
/// Format version.
pub const VERSION: u32 = 1;
/// Bytes of a segment header.
pub const HEADER_LEN: usize = 32;
/// Bytes of one record.
pub const RECORD_LEN: usize = 80;
/// Default segment size limit (a segment rolls once it holds this many bytes).
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 << 20;

/// The fixed header at the start of every segment.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct SegmentHeader {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// [`RECORD_LEN`].
    pub record_len: u32,
    /// Journal sequence of the segment's first record.
    pub first_sequence: u64,
    /// Zero.
    pub reserved: u64,
}

/// One journaled input event.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct JournalRecord {
    /// Journal sequence (1, 2, … in the engine's consumption order).
    pub sequence: u64,
    /// The input [`Event`]'s 64 bytes, `publish_ticks` zeroed.
    pub event: [u64; 8],
    /// Zero.
    pub reserved: u32,
    /// CRC32 (IEEE) of the 76 bytes before this field.
    pub crc: u32,
}

const _: () = assert!(core::mem::size_of::<SegmentHeader>() == HEADER_LEN);
const _: () = assert!(core::mem::size_of::<JournalRecord>() == RECORD_LEN);
const _: () = assert!(core::mem::offset_of!(JournalRecord, crc) == RECORD_LEN - 4);
const _: () = assert!(core::mem::size_of::<Event>() == 64);

impl JournalRecord {
    /// The record of input `event` at `sequence` (publish ticks dropped, CRC set).
    pub fn new(sequence: u64, event: &Event) -> Self {
        let mut e = *event;
        e.publish_ticks = 0;
        let mut r = JournalRecord { sequence, event: bytemuck::cast(e), reserved: 0, crc: 0 };
        r.crc = r.compute_crc();
        r
    }

    /// The CRC the record should carry.
    pub fn compute_crc(&self) -> u32 {
        crc32fast::hash(&bytemuck::bytes_of(self)[..RECORD_LEN - 4])
    }

    /// The event.
    pub fn event(&self) -> Event {
        bytemuck::cast(self.event)
    }
}

/// Path of segment number `n` in `dir`.
pub fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("seg-{n:08}.gjl"))
}

/// The segments in `dir`, by number (an absent directory holds none).
pub fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    numbered_files(dir, "seg-", ".gjl")
}

/// The files `<prefix><number><suffix>` in `dir`, by number ascending (an absent directory
/// holds none; other names are ignored). Journal segments and `gavel serve` snapshots.
pub fn numbered_files(dir: &Path, prefix: &str, suffix: &str) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name.strip_prefix(prefix).and_then(|r| r.strip_suffix(suffix)).and_then(|d| d.parse::<u64>().ok()) {
            out.push((n, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// A torn tail: the bytes from `offset` of the last segment are an interrupted write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment.
    pub segment: PathBuf,
    /// Where the good records end.
    pub offset: u64,
    /// Bytes after `offset`.
    pub bytes: u64,
    /// What was wrong.
    pub why: String,
}

/// What a [`scan`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Segments read.
    pub segments: usize,
    /// Good records read (in the segments scanned).
    pub records: u64,
    /// Sequence of the last good record (0: none).
    pub last_sequence: u64,
    /// Highest segment number seen (0: none).
    pub last_segment: u64,
    /// The torn tail, if the last segment ends in one.
    pub torn: Option<TornTail>,
    /// Zeros after the last record of the last segment: a segment written through a mapping
    /// ([`JournalWriter::open_mapped`]) that a crash left open. Not damage; cut it like a torn
    /// tail ([`truncate_torn`]) before a writer starts the next segment.
    pub unused: Option<TornTail>,
}

/// Reads every segment in `dir` in order, calling `f` with each good record's
/// sequence and event. A damaged record anywhere but at the end of the last
/// segment is an error naming segment and offset.
pub fn scan(dir: &Path, f: impl FnMut(u64, &Event)) -> Result<ScanReport, String> {
    scan_from(dir, 1, f)
}

/// [`scan`] from the segment that holds sequence `from` on (the last one starting at or
/// before it; from the first segment if none does): the segments before it are not read.
/// `f` sees every record of the segments read, including those of the first one before `from`.
pub fn scan_from(dir: &Path, from: u64, mut f: impl FnMut(u64, &Event)) -> Result<ScanReport, String> {
    let mut segments = list_segments(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut report = ScanReport::default();
    let mut expected = 1u64;
    if from > 1 {
        let mut skip = 0;
        for (k, (_, path)) in segments.iter().enumerate().skip(1) {
            match segment_first_sequence(path)? {
                Some(first) if first <= from => {
                    skip = k;
                    expected = first;
                }
                _ => break,
            }
        }
        segments.drain(..skip);
    }
    for (i, (n, path)) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let name = path.display();
        let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
        report.segments += 1;
        report.last_segment = *n;
        if bytes.len() < HEADER_LEN {
            if last {
                report.torn = Some(TornTail { segment: path.clone(), offset: 0, bytes: bytes.len() as u64, why: "the segment header is incomplete".into() });
                break;
            }
            return Err(format!("{name}: offset 0: the segment header is incomplete ({} bytes)", bytes.len()));
        }
        let header: SegmentHeader = bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN]);
        if header.magic != MAGIC || header.version != VERSION || header.record_len != RECORD_LEN as u32 {
            return Err(format!("{name}: offset 0: not a gavel journal segment of version {VERSION} (magic {:?}, version {}, record length {})", header.magic, header.version, header.record_len));
        }
        if header.first_sequence != expected {
            return Err(format!("{name}: offset 0: the segment starts at sequence {} but {expected} follows the previous record", header.first_sequence));
        }
        let mut offset = HEADER_LEN;
        while offset < bytes.len() {
            let rest = &bytes[offset..];
            let problem = if rest.len() < RECORD_LEN {
                Some(format!("a partial record of {} bytes", rest.len()))
            } else {
                let r: JournalRecord = bytemuck::pod_read_unaligned(&rest[..RECORD_LEN]);
                if r.crc != r.compute_crc() {
                    Some(format!("CRC mismatch (stored {:08x}, computed {:08x})", r.crc, r.compute_crc()))
                } else if r.sequence != expected {
                    return Err(format!("{name}: offset {offset}: sequence {} where {expected} was expected", r.sequence));
                } else {
                    f(r.sequence, &r.event());
                    report.records += 1;
                    report.last_sequence = r.sequence;
                    expected += 1;
                    None
                }
            };
            if let Some(why) = problem {
                if last && rest.iter().all(|&b| b == 0) {
                    // A mapped segment a crash left open: space reserved, never written.
                    report.unused = Some(TornTail { segment: path.clone(), offset: offset as u64, bytes: rest.len() as u64, why: "reserved space never written (zeros)".into() });
                    break;
                }
                // Torn only if nothing but this record (or zeroes) follows, in the last segment.
                let tail_is_junk = rest.len() <= RECORD_LEN || rest[RECORD_LEN..].iter().all(|&b| b == 0);
                if last && tail_is_junk {
                    report.torn = Some(TornTail { segment: path.clone(), offset: offset as u64, bytes: rest.len() as u64, why });
                    break;
                }
                return Err(format!("{name}: offset {offset}: {why}; records follow it, so this is not a torn write — refusing to guess"));
            }
            offset += RECORD_LEN;
        }
    }
    Ok(report)
}

/// The first sequence in the header of the segment at `path` (`None`: its header is not
/// complete, e.g. still being written); a header of another format is an error.
pub fn segment_first_sequence(path: &Path) -> Result<Option<u64>, String> {
    use std::io::Read;
    let mut bytes = [0u8; HEADER_LEN];
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match file.read_exact(&mut bytes) {
        Ok(()) => {
            let header: SegmentHeader = bytemuck::pod_read_unaligned(&bytes);
            if header.magic != MAGIC || header.version != VERSION || header.record_len != RECORD_LEN as u32 {
                return Err(format!("{}: offset 0: not a gavel journal segment of version {VERSION}", path.display()));
            }
            Ok(Some(header.first_sequence))
        }
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Cuts a torn tail off (a segment left without a whole header is removed).
pub fn truncate_torn(torn: &TornTail) -> io::Result<()> {
    if torn.offset < HEADER_LEN as u64 {
        return std::fs::remove_file(&torn.segment);
    }
    let f = OpenOptions::new().write(true).open(&torn.segment)?;
    f.set_len(torn.offset)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Appends records to segments; [`JournalWriter::sync`] makes them durable.
pub struct JournalWriter {
    dir: PathBuf,
    file: SegmentFile,
    segment: u64,
    segment_bytes: u64,
    limit: u64,
    buffer: Vec<u8>,
    next_sequence: u64,
    written: u64,
    fail_after: Option<u64>,
}

/// How the open segment takes its records.
enum SegmentFile {
    /// `write(2)` of what is buffered.
    Appended(File),
    /// Copied into a shared mapping of the file (see [`crate::input_journal_mapped`]).
    Mapped(MappedSegment),
}

impl JournalWriter {
    /// Starts segment `last_segment + 1` in `dir` (created if needed) whose first
    /// record will be `next_sequence`; segments roll at `segment_limit` bytes.
    /// Records reach the file by `write(2)`.
    pub fn open(dir: &Path, last_segment: u64, next_sequence: u64, segment_limit: u64) -> io::Result<Self> {
        Self::start(dir, last_segment, next_sequence, segment_limit.max((HEADER_LEN + RECORD_LEN) as u64), false)
    }

    /// [`Self::open`], but each segment is reserved whole (at most
    /// [`MAX_MAPPED_SEGMENT_BYTES`], which then is the limit) and mapped: an append that is
    /// flushed is a copy into the page cache, no system call. A segment a crash left open ends
    /// in zeros, which [`scan`] reports as [`ScanReport::unused`].
    pub fn open_mapped(dir: &Path, last_segment: u64, next_sequence: u64, segment_limit: u64) -> io::Result<Self> {
        Self::start(dir, last_segment, next_sequence, segment_limit.clamp((HEADER_LEN + RECORD_LEN) as u64, MAX_MAPPED_SEGMENT_BYTES), true)
    }

    fn start(dir: &Path, last_segment: u64, next_sequence: u64, limit: u64, mapped: bool) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = Self::create_segment(dir, last_segment + 1, next_sequence, mapped.then_some(limit))?;
        Ok(JournalWriter {
            dir: dir.to_path_buf(),
            file,
            segment: last_segment + 1,
            segment_bytes: HEADER_LEN as u64,
            limit,
            buffer: Vec::with_capacity(1 << 16),
            next_sequence,
            written: 0,
            fail_after: None,
        })
    }

    /// Test hook: every write after `records` records fails as a full disk would.
    pub fn fail_after(&mut self, records: Option<u64>) {
        self.fail_after = records;
    }

    /// Creates segment `n` with its header; `mapped`: reserved to that many bytes and mapped.
    fn create_segment(dir: &Path, n: u64, first_sequence: u64, mapped: Option<u64>) -> io::Result<SegmentFile> {
        let path = segment_path(dir, n);
        let mut file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        let header = SegmentHeader { magic: MAGIC, version: VERSION, record_len: RECORD_LEN as u32, first_sequence, reserved: 0 };
        file.write_all(bytemuck::bytes_of(&header))?;
        let segment = match mapped {
            Some(capacity) => SegmentFile::Mapped(MappedSegment::new(file, HEADER_LEN, capacity)?),
            None => {
                file.sync_all()?;
                SegmentFile::Appended(file)
            }
        };
        sync_dir(dir)?;
        Ok(segment)
    }

    /// The sequence the next appended record must carry.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The current segment's number.
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// Buffers `event` as record `sequence` (which must be [`Self::next_sequence`]).
    pub fn append(&mut self, sequence: u64, event: &Event) -> io::Result<()> {
        if sequence != self.next_sequence {
            return Err(io::Error::other(format!("journal: record {sequence} appended where {} was due", self.next_sequence)));
        }
        if self.segment_bytes + (self.buffer.len() + RECORD_LEN) as u64 > self.limit && self.segment_bytes + self.buffer.len() as u64 > HEADER_LEN as u64 {
            self.roll()?;
        }
        self.buffer.extend_from_slice(bytemuck::bytes_of(&JournalRecord::new(sequence, event)));
        self.next_sequence += 1;
        Ok(())
    }

    fn write_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let records = (self.buffer.len() / RECORD_LEN) as u64;
        if let Some(limit) = self.fail_after {
            if self.written + records > limit {
                return Err(io::Error::new(io::ErrorKind::StorageFull, format!("injected write failure after {limit} records (GAVEL_JOURNAL_FAIL_AFTER test hook)")));
            }
        }
        match &mut self.file {
            SegmentFile::Appended(file) => file.write_all(&self.buffer)?,
            SegmentFile::Mapped(segment) => segment.append(&self.buffer)?,
        }
        self.segment_bytes += self.buffer.len() as u64;
        self.written += records;
        self.buffer.clear();
        Ok(())
    }

    fn roll(&mut self) -> io::Result<()> {
        self.write_buffer()?;
        // The old segment is cut to its records and synced before the next one exists, so only
        // the last segment can ever end in unused space.
        let mapped = match &mut self.file {
            SegmentFile::Appended(file) => {
                file.sync_data()?;
                false
            }
            SegmentFile::Mapped(segment) => {
                segment.close()?;
                true
            }
        };
        self.file = Self::create_segment(&self.dir, self.segment + 1, self.next_sequence, mapped.then_some(self.limit))?;
        self.segment += 1;
        self.segment_bytes = HEADER_LEN as u64;
        Ok(())
    }

    /// Writes what is buffered to the file without syncing: after `Ok` everything appended
    /// survives the process (kill -9), not a crash of the host. Returns the last written sequence.
    pub fn flush(&mut self) -> io::Result<u64> {
        self.write_buffer()?;
        Ok(self.next_sequence - 1)
    }

    /// Writes what is buffered and `fdatasync`s it: everything appended is durable after `Ok`.
    /// Returns the last durable sequence.
    pub fn sync(&mut self) -> io::Result<u64> {
        self.write_buffer()?;
        match &self.file {
            SegmentFile::Appended(file) => file.sync_data()?,
            SegmentFile::Mapped(segment) => segment.sync()?,
        }
        Ok(self.next_sequence - 1)
    }

    /// A mapped segment: faults in the pages the next appends will reach (call it when there
    /// is nothing to write); the pages touched. Nothing for a segment written by `write(2)`.
    pub fn prefault(&mut self) -> usize {
        match &mut self.file {
            SegmentFile::Appended(_) => 0,
            SegmentFile::Mapped(segment) => segment.prefault(),
        }
    }

    /// A mapped segment: starts the write-back of the finished megabytes behind the last record
    /// (call it when there is nothing to write), so the sync when the segment rolls is short;
    /// the bytes handed to the disk. Nothing for a segment written by `write(2)`.
    pub fn start_writeback(&mut self) -> io::Result<u64> {
        match &mut self.file {
            SegmentFile::Appended(_) => Ok(0),
            SegmentFile::Mapped(segment) => segment.start_writeback(),
        }
    }
}

#[cfg(test)]
#[path = "input_journal_tests.rs"]
mod tests;
