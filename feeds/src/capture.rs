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
//! A file may be compressed whole with zstd (it then starts with the zstd
//! frame magic); readers detect that. Uncompressed files are read through
//! `memmap2` without copying. A record cut short (a capture interrupted
//! mid-write) or with a bad checksum is an [`InputError`] naming the file and
//! byte offset; the reader stops there (policy: stop, after reporting how many
//! good records came before).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

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
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

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

/// Appends records to a capture file.
pub struct CaptureWriter<W: Write> {
    out: W,
    records: u64,
}

impl CaptureWriter<BufWriter<File>> {
    /// Creates (truncates) `path` as a plain capture and writes the file header.
    pub fn create(path: &Path) -> io::Result<Self> {
        CaptureWriter::new(BufWriter::with_capacity(1 << 20, File::create(path)?))
    }
}

impl CaptureWriter<zstd::stream::AutoFinishEncoder<'static, BufWriter<File>>> {
    /// Creates (truncates) `path` as a capture compressed whole with zstd (level 3).
    pub fn create_compressed(path: &Path) -> io::Result<Self> {
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let encoder = zstd::stream::Encoder::new(file, 3)?.auto_finish();
        CaptureWriter::new(encoder)
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Wraps `out`, writing the file header first.
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(&CAPTURE_MAGIC)?;
        out.write_all(&CAPTURE_VERSION.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        Ok(CaptureWriter { out, records: 0 })
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
        self.out.write_all(&header)?;
        self.out.write_all(channel)?;
        self.out.write_all(message)?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Flushes buffered bytes to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
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

/// An opened capture file.
pub struct CaptureFile {
    path: PathBuf,
    bytes: CaptureBytes,
}

impl CaptureFile {
    /// Opens `path`, checking the header; zstd files are decompressed.
    pub fn open(path: &Path) -> Result<CaptureFile, InputError> {
        let name = path.display().to_string();
        let io_err = |e: io::Error| InputError::new(&name, Location::Offset(0), "file", e.to_string());
        let file = File::open(path).map_err(io_err)?;
        // SAFETY: the map is read-only; captures are append-only files that gavel
        // does not modify while reading (a concurrent writer only appends, and the
        // mapping's length is fixed at map time).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io_err)?;
        let bytes = if map.len() >= 4 && map[..4] == ZSTD_MAGIC {
            CaptureBytes::Owned(zstd::stream::decode_all(&map[..]).map_err(io_err)?)
        } else {
            CaptureBytes::Mapped(map)
        };
        if bytes.len() < FILE_HEADER_LEN || bytes[..8] != CAPTURE_MAGIC {
            return Err(InputError::new(name, Location::Offset(0), "magic", "not a gavel capture (expected GVLCAP01)"));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != CAPTURE_VERSION {
            return Err(InputError::new(
                name,
                Location::Offset(8),
                "version",
                format!("capture version {version}, this gavel reads {CAPTURE_VERSION}"),
            ));
        }
        Ok(CaptureFile { path: path.to_path_buf(), bytes })
    }

    /// True when `bytes` start like a gavel capture (plain or zstd).
    pub fn sniff(bytes: &[u8]) -> bool {
        bytes.starts_with(&CAPTURE_MAGIC) || bytes.starts_with(&ZSTD_MAGIC)
    }

    /// Iterates over the records; a damaged record yields one error and ends the iteration.
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
        let bytes: &'a [u8] = &self.file.bytes;
        if self.failed || self.offset == bytes.len() {
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
mod tests {
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
        if compressed {
            let mut w = CaptureWriter::create_compressed(path).unwrap();
            for (t, v, c, m) in records {
                w.append(t, v, c, m).unwrap();
            }
        } else {
            let mut w = CaptureWriter::create(path).unwrap();
            for (t, v, c, m) in records {
                w.append(t, v, c, m).unwrap();
            }
            assert_eq!(w.records(), 3);
            w.flush().unwrap();
        }
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
    fn a_capture_cut_mid_record_reports_the_offset_once() {
        let path = temp_path("cut");
        write_sample(&path, false);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, &bytes).unwrap();
        let file = CaptureFile::open(&path).unwrap();
        let results: Vec<_> = file.records().collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].is_ok() && results[1].is_ok());
        let err = results[2].as_ref().unwrap_err();
        assert_eq!(err.field, "message");
        assert!(matches!(err.location, Location::Offset(o) if o > FILE_HEADER_LEN as u64));
        assert!(err.to_string().contains("cut mid-record"), "{err}");
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
}
