//! The journal file: the engine's output events, in order, as raw 64-byte
//! wire records after a 16-byte header (`GAVELJNL`, version, record size).
//! Records are written with `publish_ticks` zeroed, so the same input gives a
//! byte-identical file in every process. The writer fills a temporary file
//! in the target's folder and renames it over the target when finished (after
//! an fsync), so a reader never sees half a journal under the final name.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::wire::{Event, EVENT_SIZE};

/// First bytes of a journal file.
pub const MAGIC: &[u8; 8] = b"GAVELJNL";
/// Format version.
pub const VERSION: u32 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 16;

/// Writes a journal to a temporary file and renames it into place on [`JournalWriter::finish`].
pub struct JournalWriter {
    out: Option<BufWriter<File>>,
    temp: PathBuf,
    target: PathBuf,
    records: u64,
    hash: u64,
}

/// FNV-1a over the record bytes: a cheap fingerprint for determinism checks.
fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The FNV-1a offset basis.
pub const HASH_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Adds one record (with `publish_ticks` zeroed) to a running journal fingerprint.
pub fn fingerprint(hash: u64, event: &Event) -> u64 {
    let mut e = *event;
    e.publish_ticks = 0;
    fnv(hash, bytemuck::bytes_of(&e))
}

impl JournalWriter {
    /// Starts a journal that will be named `target` once finished.
    pub fn create(target: &Path) -> io::Result<Self> {
        let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("journal");
        let temp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let file = File::create(&temp)?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&(EVENT_SIZE as u32).to_le_bytes())?;
        Ok(JournalWriter { out: Some(out), temp, target: target.to_path_buf(), records: 0, hash: HASH_START })
    }

    /// Appends one record.
    pub fn append(&mut self, event: &Event) -> io::Result<()> {
        let mut e = *event;
        e.publish_ticks = 0;
        self.hash = fnv(self.hash, bytemuck::bytes_of(&e));
        self.records += 1;
        match self.out.as_mut() {
            Some(out) => out.write_all(bytemuck::bytes_of(&e)),
            None => Err(io::Error::other("journal already finished")),
        }
    }

    /// Flushes, syncs and renames the journal into place; returns `(records, fingerprint)`.
    pub fn finish(mut self) -> io::Result<(u64, u64)> {
        let out = self.out.take().ok_or_else(|| io::Error::other("journal already finished"))?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.target)?;
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok((self.records, self.hash))
    }
}

impl Drop for JournalWriter {
    fn drop(&mut self) {
        // Not finished (an error or a panic on the way): leave no temporary file behind.
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// A journal read back.
#[derive(Debug)]
pub struct Journal {
    /// The records, in order.
    pub records: Vec<Event>,
    /// Bytes after the last whole record (a file cut mid-record), ignored.
    pub torn_tail_bytes: usize,
}

/// Reads a journal file; errors name the file and the byte offset.
pub fn read(path: &Path) -> Result<Journal, String> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err(format!("{}: offset 0: not a gavel journal (no {:?} header)", path.display(), std::str::from_utf8(MAGIC).unwrap_or("")));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let size = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
    if version != VERSION || size != EVENT_SIZE {
        return Err(format!("{}: offset 8: journal version {version} with {size}-byte records; this build reads version {VERSION} with {EVENT_SIZE}", path.display()));
    }
    let body = &bytes[HEADER_LEN..];
    let whole = body.len() / EVENT_SIZE;
    let records = (0..whole).map(|i| bytemuck::pod_read_unaligned::<Event>(&body[i * EVENT_SIZE..(i + 1) * EVENT_SIZE])).collect();
    Ok(Journal { records, torn_tail_bytes: body.len() % EVENT_SIZE })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EventKind, PriceLevel, Venue};

    #[test]
    fn round_trip_zeroes_publish_ticks_and_reports_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("gavel-journal-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.journal");
        let mut w = JournalWriter::create(&path).unwrap();
        assert!(!path.exists(), "nothing under the final name before finish");
        let mut e = Event::new(EventKind::BookLevel, Venue::Bybit, 3, PriceLevel { price: 5, qty: 6, index: 0 });
        e.publish_ticks = 999;
        w.append(&e).unwrap();
        w.append(&e).unwrap();
        let (n, hash) = w.finish().unwrap();
        assert_eq!(n, 2);
        let j = read(&path).unwrap();
        assert_eq!(j.records.len(), 2);
        assert_eq!(j.records[0].publish_ticks, 0);
        assert_eq!(fingerprint(fingerprint(HASH_START, &e), &e), hash);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 10);
        std::fs::write(&path, &bytes).unwrap();
        let j = read(&path).unwrap();
        assert_eq!((j.records.len(), j.torn_tail_bytes), (1, 54));
        std::fs::write(&path, b"nonsense").unwrap();
        assert!(read(&path).unwrap_err().contains("not a gavel journal"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
