//! gavel's capture file: raw venue messages exactly as received, append-only.
//!
//! Layout (all integers little-endian):
//!
//! | offset | size | field        | meaning                                   |
//! |-------:|-----:|--------------|-------------------------------------------|
//! | 0      | 8    | magic        | `GVLCAP01`                                |
//! | 8      | 4    | version      | [`CAPTURE_VERSION`]                       |
//! | 12     | 4    | reserved     | 0                                         |
//!
//! then records, each:
//!
//! | size | field        | meaning                                              |
//! |-----:|--------------|------------------------------------------------------|
//! | 4    | message_len  | length of the message bytes                          |
//! | 8    | receive_ns   | local receive time, ns since the Unix epoch          |
//! | 1    | venue        | [`Venue`] byte                                       |
//! | 1    | channel_len  | length of the channel name (≤ 255)                   |
//! | 2    | reserved     | 0                                                    |
//! | 4    | crc32        | CRC-32 (IEEE) of channel bytes followed by message   |
//! | n    | channel      | channel name, e.g. `btcusdt@depth@0ms` or a URL      |
//! | m    | message      | the message exactly as received                      |
//!
//! A compressed capture (`--compress`) is a sequence of independent zstd
//! frames, one per flush, that concatenate to the layout above; it starts
//! with the zstd frame magic, and readers detect that. Uncompressed files are
//! read through `memmap2` without copying.
//!
//! Crash safety: the writer flushes at least every [`FLUSH_INTERVAL`] or
//! [`FLUSH_BYTES`] of records (a compressed capture ends a frame there), so a
//! killed capture loses at most the records of that window. A file cut
//! anywhere (mid-record, mid-frame) opens: every complete record is read and
//! the cut tail is reported by [`CaptureFile::torn_tail`], a warning rather
//! than an error. A record with a bad checksum or venue byte before the end is
//! an [`InputError`] naming the file and byte offset, and the reader stops
//! there (after the good records before it).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::atomic_file::AtomicFile;
use crate::input_error::{InputError, Location};
use crate::wire::Venue;

/// Magic bytes at the start of every uncompressed capture.
pub const CAPTURE_MAGIC: [u8; 8] = *b"GVLCAP01";
/// Current capture format version.
pub const CAPTURE_VERSION: u32 = 1;
/// Size of the file header in bytes.
pub const FILE_HEADER_LEN: usize = 16;
/// Size of a record header in bytes.
pub const RECORD_HEADER_LEN: usize = 20;
/// Longest time an appended record waits in the writer's buffer: the next
/// append or [`CaptureWriter::tick`] after this flushes it.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(50);
/// Most record bytes the writer buffers before flushing.
pub const FLUSH_BYTES: usize = 64 * 1024;
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const ZSTD_LEVEL: i32 = 3;

/// One captured message, borrowed from the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureRecord<'a> {
    /// Local receive time, ns since the Unix epoch.
    pub receive_ns: i64,
    /// Venue the message came from.
    pub venue: Venue,
    /// Channel name (stream or URL).
    pub channel: &'a [u8],
    /// The message exactly as received.
    pub message: &'a [u8],
    /// Byte offset of the record in the (uncompressed) file.
    pub offset: u64,
}

/// Where the writer's bytes go: straight through, or through a zstd frame
/// that is ended at every flush.
enum Output<W: Write> {
    Plain(W),
    /// `None` only transiently, while a frame is being finished.
    Zstd(Option<zstd::stream::Encoder<'static, W>>),
}

/// Appends records to a capture file, flushing every [`FLUSH_INTERVAL`] or
/// [`FLUSH_BYTES`].
pub struct CaptureWriter<W: Write> {
    out: Output<W>,
    records: u64,
    /// Record bytes appended since the last flush.
    pending: usize,
    /// When the oldest unflushed record was appended.
    pending_since: Option<Instant>,
}

/// Opens `path` for a new capture: refuses an existing file unless `force`
/// (which truncates it).
fn create_file(path: &Path, force: bool) -> io::Result<BufWriter<File>> {
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let file = options.open(path).map_err(|e| {
        if e.kind() == io::ErrorKind::AlreadyExists {
            io::Error::new(e.kind(), format!("{} already exists (pass --force to overwrite it)", path.display()))
        } else {
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        }
    })?;
    Ok(BufWriter::with_capacity(FLUSH_BYTES * 2, file))
}

impl CaptureWriter<BufWriter<File>> {
    /// Creates `path` as a plain capture and writes (and flushes) the file
    /// header. An existing file is an error unless `force`.
    pub fn create_new(path: &Path, force: bool) -> io::Result<Self> {
        let mut w = CaptureWriter::new(create_file(path, force)?)?;
        w.flush()?;
        Ok(w)
    }

    /// Like [`create_new`](Self::create_new), compressed with zstd (level 3),
    /// one independently decodable frame per flush.
    pub fn create_compressed(path: &Path, force: bool) -> io::Result<Self> {
        let mut w = CaptureWriter::new_compressed(create_file(path, force)?)?;
        w.flush()?;
        Ok(w)
    }
}

impl CaptureWriter<AtomicFile> {
    /// Writes a plain capture to `path` atomically: nothing appears at `path`
    /// until [`commit`](Self::commit).
    pub fn create_atomic(path: &Path) -> io::Result<Self> {
        CaptureWriter::new(AtomicFile::create(path)?)
    }

    /// Finishes the file and renames it into place.
    pub fn commit(self) -> io::Result<()> {
        self.into_inner()?.commit()
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Wraps `out`, writing the file header first.
    pub fn new(mut out: W) -> io::Result<Self> {
        write_file_header(&mut out)?;
        Ok(CaptureWriter { out: Output::Plain(out), records: 0, pending: 0, pending_since: None })
    }

    /// Wraps `out` as a compressed capture, writing the file header first.
    pub fn new_compressed(out: W) -> io::Result<Self> {
        let mut encoder = zstd::stream::Encoder::new(out, ZSTD_LEVEL)?;
        write_file_header(&mut encoder)?;
        let mut w = CaptureWriter { out: Output::Zstd(Some(encoder)), records: 0, pending: 0, pending_since: None };
        // The header counts as pending so the first flush ends its frame.
        w.pending = FILE_HEADER_LEN;
        Ok(w)
    }

    /// Appends one message. Channels longer than 255 bytes are an error.
    pub fn append(&mut self, receive_ns: i64, venue: Venue, channel: &[u8], message: &[u8]) -> io::Result<()> {
        let channel_len = u8::try_from(channel.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "channel name longer than 255 bytes"))?;
        let message_len = u32::try_from(message.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message longer than 4 GiB"))?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(channel);
        crc.update(message);
        let mut header = [0u8; RECORD_HEADER_LEN];
        header[0..4].copy_from_slice(&message_len.to_le_bytes());
        header[4..12].copy_from_slice(&receive_ns.to_le_bytes());
        header[12] = venue as u8;
        header[13] = channel_len;
        header[16..20].copy_from_slice(&crc.finalize().to_le_bytes());
        let out = self.writer()?;
        out.write_all(&header)?;
        out.write_all(channel)?;
        out.write_all(message)?;
        self.records += 1;
        self.pending = self.pending.saturating_add(RECORD_HEADER_LEN + channel.len() + message.len());
        let now = Instant::now();
        let since = *self.pending_since.get_or_insert(now);
        if self.pending >= FLUSH_BYTES || now.duration_since(since) >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes if the oldest buffered record is [`FLUSH_INTERVAL`] old; call
    /// this while idle so a quiet feed's last records reach the file too.
    pub fn tick(&mut self, now: Instant) -> io::Result<()> {
        match self.pending_since {
            Some(since) if now.duration_since(since) >= FLUSH_INTERVAL => self.flush(),
            _ => Ok(()),
        }
    }

    fn writer(&mut self) -> io::Result<&mut dyn Write> {
        match &mut self.out {
            Output::Plain(w) => Ok(w),
            Output::Zstd(Some(e)) => Ok(e),
            Output::Zstd(None) => Err(io::Error::other("capture writer failed earlier")),
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes buffered records through to the underlying writer; a compressed
    /// capture ends its current zstd frame, so everything flushed decodes on
    /// its own even if the process dies later.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Output::Zstd(slot) = &mut self.out {
            if self.pending > 0 {
                let encoder = slot.take().ok_or_else(|| io::Error::other("capture writer failed earlier"))?;
                let inner = encoder.finish()?;
                *slot = Some(zstd::stream::Encoder::new(inner, ZSTD_LEVEL)?);
            }
        }
        self.pending = 0;
        self.pending_since = None;
        match &mut self.out {
            Output::Plain(w) => w.flush(),
            Output::Zstd(Some(e)) => e.get_mut().flush(),
            Output::Zstd(None) => Err(io::Error::other("capture writer failed earlier")),
        }
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        match self.out {
            Output::Plain(w) => Ok(w),
            // The frame begun by the flush holds nothing: it ends as an empty frame.
            Output::Zstd(Some(e)) => e.finish(),
            Output::Zstd(None) => Err(io::Error::other("capture writer failed earlier")),
        }
    }
}

fn write_file_header(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&CAPTURE_MAGIC)?;
    out.write_all(&CAPTURE_VERSION.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())
}

/// The bytes of a capture: a memory map of a plain file, or the decompressed
/// contents of a zstd file.
pub enum CaptureBytes {
    /// A plain capture mapped read-only.
    Mapped(memmap2::Mmap),
    /// A compressed capture, decompressed into memory.
    Owned(Vec<u8>),
}

impl std::ops::Deref for CaptureBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            CaptureBytes::Mapped(map) => map,
            CaptureBytes::Owned(bytes) => bytes,
        }
    }
}

/// The cut-off end of a capture whose writer died mid-record or mid-frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// Byte offset (in the uncompressed contents) where the torn record starts.
    pub offset: u64,
    /// Bytes of it present in the file (skipped).
    pub bytes: u64,
    /// Complete records before it (all of them are read).
    pub complete_records: u64,
    /// True when a compressed capture's last zstd frame was cut too.
    pub frame_cut: bool,
}

/// An opened capture file.
pub struct CaptureFile {
    path: PathBuf,
    bytes: CaptureBytes,
    /// End of the last complete record.
    complete_len: usize,
    torn: Option<TornTail>,
}

/// Decodes concatenated zstd frames, keeping everything decoded before a cut
/// or damaged frame; the flag says whether the stream ended early.
fn decode_frames(compressed: &[u8]) -> io::Result<(Vec<u8>, bool)> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(compressed)?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match decoder.read(&mut chunk) {
            Ok(0) => return Ok((out, false)),
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok((out, true)),
        }
    }
}

/// Walks the record headers of `bytes` from the file header on; returns the
/// end of the last complete record and the number of complete records.
fn complete_prefix(bytes: &[u8]) -> (usize, u64) {
    let (mut offset, mut records) = (FILE_HEADER_LEN, 0u64);
    loop {
        let remaining = bytes.len() - offset;
        if remaining < RECORD_HEADER_LEN {
            return (offset, records);
        }
        let header = &bytes[offset..offset + RECORD_HEADER_LEN];
        let message_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let record_len = RECORD_HEADER_LEN + header[13] as usize + message_len;
        if record_len > remaining {
            return (offset, records);
        }
        offset += record_len;
        records += 1;
    }
}

impl CaptureFile {
    /// Opens `path`, checking the header; zstd files are decompressed. A file
    /// cut mid-record opens; see [`torn_tail`](Self::torn_tail).
    pub fn open(path: &Path) -> Result<CaptureFile, InputError> {
        let name = path.display().to_string();
        let io_err = |e: io::Error| InputError::new(&name, Location::Offset(0), "file", e.to_string());
        let file = File::open(path).map_err(io_err)?;
        // SAFETY: the map is read-only; captures are append-only files that gavel
        // does not modify while reading (a concurrent writer only appends, and the
        // mapping's length is fixed at map time).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?;
        let (bytes, frame_cut) = if map.len() >= 4 && map[..4] == ZSTD_MAGIC {
            let (bytes, cut) = decode_frames(&map[..]).map_err(io_err)?;
            (CaptureBytes::Owned(bytes), cut)
        } else {
            (CaptureBytes::Mapped(map), false)
        };
        if bytes.len() < FILE_HEADER_LEN || bytes[..8] != CAPTURE_MAGIC {
            let what = if frame_cut { " (its first zstd frame is cut or damaged)" } else { "" };
            return Err(InputError::new(
                name,
                Location::Offset(0),
                "magic",
                format!("not a gavel capture (expected GVLCAP01){what}"),
            ));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != CAPTURE_VERSION {
            return Err(InputError::new(
                name,
                Location::Offset(8),
                "version",
                format!("capture version {version}, this gavel reads {CAPTURE_VERSION}"),
            ));
        }
        let (complete_len, complete_records) = complete_prefix(&bytes);
        let torn = (complete_len < bytes.len() || frame_cut).then(|| TornTail {
            offset: complete_len as u64,
            bytes: (bytes.len() - complete_len) as u64,
            complete_records,
            frame_cut,
        });
        Ok(CaptureFile { path: path.to_path_buf(), bytes, complete_len, torn })
    }

    /// True when `bytes` start like a gavel capture (plain or zstd).
    pub fn sniff(bytes: &[u8]) -> bool {
        bytes.starts_with(&CAPTURE_MAGIC) || bytes.starts_with(&ZSTD_MAGIC)
    }

    /// The cut-off end, if the file ends mid-record (or mid-frame): those
    /// bytes are skipped, every complete record before them is read.
    pub fn torn_tail(&self) -> Option<TornTail> {
        self.torn
    }

    /// A one-line warning about the torn tail, naming the file, if there is one.
    pub fn torn_tail_warning(&self) -> Option<String> {
        self.torn.map(|t| {
            format!(
                "warning: {}: capture ends in a torn record at offset {} ({} byte(s) skipped{}); \
                 the {} complete record(s) before it are used (a capture killed mid-write)",
                self.path.display(),
                t.offset,
                t.bytes,
                if t.frame_cut { ", last zstd frame cut" } else { "" },
                t.complete_records
            )
        })
    }

    /// Iterates over the complete records; a damaged record yields one error
    /// and ends the iteration.
    pub fn records(&self) -> CaptureRecords<'_> {
        CaptureRecords { file: self, offset: FILE_HEADER_LEN, failed: false }
    }
}

/// Iterator over a capture's records.
pub struct CaptureRecords<'a> {
    file: &'a CaptureFile,
    offset: usize,
    failed: bool,
}

impl<'a> Iterator for CaptureRecords<'a> {
    type Item = Result<CaptureRecord<'a>, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes: &'a [u8] = &self.file.bytes[..self.file.complete_len];
        if self.failed || self.offset >= bytes.len() {
            return None;
        }
        let start = self.offset;
        let fail = |this: &mut Self, field: &str, message: String| {
            this.failed = true;
            Some(Err(InputError::new(this.file.path.display().to_string(), Location::Offset(start as u64), field, message)))
        };
        let remaining = bytes.len() - start;
        if remaining < RECORD_HEADER_LEN {
            return fail(self, "record_header", format!("capture cut mid-record: {remaining} bytes left of a 20-byte header"));
        }
        let header = &bytes[start..start + RECORD_HEADER_LEN];
        let message_len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
        let receive_ns = i64::from_le_bytes(header[4..12].try_into().expect("8 bytes"));
        let Some(venue) = Venue::from_u8(header[12]) else {
            return fail(self, "venue", format!("unknown venue byte {}", header[12]));
        };
        let channel_len = header[13] as usize;
        let crc = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
        let body_start = start + RECORD_HEADER_LEN;
        let body_len = channel_len + message_len;
        if bytes.len() - body_start < body_len {
            return fail(
                self,
                "message",
                format!("capture cut mid-record: record needs {body_len} bytes, {} left", bytes.len() - body_start),
            );
        }
        let body = &bytes[body_start..body_start + body_len];
        if crc32fast::hash(body) != crc {
            return fail(self, "crc32", "checksum mismatch: the record is damaged".into());
        }
        self.offset = body_start + body_len;
        Some(Ok(CaptureRecord {
            receive_ns,
            venue,
            channel: &body[..channel_len],
            message: &body[channel_len..],
            offset: start as u64,
        }))
    }
}

#[cfg(test)]
#[path = "capture_tests.rs"]
mod tests;
