//! Snapshots of `gavel serve`: the full engine state after a journal sequence, so a restart
//! replays only the journal's tail.
//!
//! The live engine never stops for one. A snapshot thread keeps a second engine, built from the
//! same origin, and feeds it the journal's records from the segment files as they become durable
//! (never beyond the durable sequence the writer published, so a snapshot never holds an input
//! the journal could lose). Every `interval` it writes that engine's state to
//! `<data dir>/snapshots/snap-<sequence>.gsnap` — temp file, fsync, rename, fsync of the folder —
//! and keeps the newest `keep`. The engine is a pure function of its inputs, so this engine's
//! state after sequence N is the live engine's after N; at a clean stop the two hashes are
//! compared and printed.
//!
//! File: a 64-byte header ([`SnapshotHeader`]: magic, version, sequence, state hash, origin
//! hash, payload length and CRC-32, header CRC-32), then the zstd-compressed JSON of
//! [`Engine::write_snapshot`]. A file that fails any check is skipped with a warning and the
//! previous one is used; with none usable, recovery replays the whole journal.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use gavel_engine::engine::{CountingSink, Engine};
use gavel_feeds::input_journal_tail::JournalTail;

/// First bytes of a snapshot file.
pub const MAGIC: [u8; 8] = *b"GAVELSNP";
/// Format version.
pub const VERSION: u32 = 1;
/// Header length.
pub const HEADER_LEN: usize = 64;
/// Payloads above this are refused before they are read (a damaged length field).
const MAX_PAYLOAD: u64 = 16 << 30;

/// The header of a snapshot file.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct SnapshotHeader {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`VERSION`].
    pub version: u32,
    /// 1: the payload is zstd-compressed JSON.
    pub encoding: u32,
    /// The journal sequence the state is after.
    pub sequence: u64,
    /// `Engine::state_hash` of the state.
    pub state_hash: u64,
    /// FNV-1a 64 of the data dir's `origin.json`: a snapshot of another venue is refused.
    pub origin_hash: u64,
    /// Payload bytes after the header.
    pub payload_len: u64,
    /// CRC-32 of the payload.
    pub payload_crc: u32,
    /// Zero.
    pub reserved: u32,
    /// Zero.
    pub reserved2: u32,
    /// CRC-32 of the 60 bytes before it.
    pub header_crc: u32,
}

const _: () = assert!(core::mem::size_of::<SnapshotHeader>() == HEADER_LEN);
const _: () = assert!(core::mem::offset_of!(SnapshotHeader, header_crc) == HEADER_LEN - 4);

/// When snapshots are taken (`[durability]` `snapshot_interval_ms`, `snapshot_keep`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// Time between two snapshots (`None`: no snapshots).
    pub interval: Option<Duration>,
    /// Snapshots kept (older ones removed), at least 2 so a damaged newest has a fallback.
    pub keep: usize,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig { interval: Some(Duration::from_secs(60)), keep: 3 }
    }
}

/// The folder of a data dir's snapshots.
pub fn snapshot_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

fn snapshot_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("snap-{sequence:020}.gsnap"))
}

/// The snapshot files of `dir`, newest (highest sequence) first.
pub fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = gavel_feeds::input_journal::numbered_files(dir, "snap-", ".gsnap")?;
    out.reverse();
    Ok(out)
}

/// FNV-1a 64 of a data dir's origin file (what a snapshot must have been taken under).
pub fn origin_hash(data_dir: &Path) -> anyhow::Result<u64> {
    let path = super::recovery::journal_dir(data_dir).join("origin.json");
    let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut h = gavel_engine::engine::StateHasher::default();
    h.bytes(&bytes);
    Ok(h.finish())
}

/// Writes `engine`'s state after `sequence` atomically; returns the path and its size.
pub fn write(dir: &Path, sequence: u64, engine: &Engine, origin_hash: u64) -> anyhow::Result<(PathBuf, u64)> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut json = Vec::new();
    engine.write_snapshot(&mut json).map_err(anyhow::Error::msg)?;
    let payload = zstd::bulk::compress(&json, 1).map_err(|e| anyhow::anyhow!("compressing the snapshot: {e}"))?;
    let mut header = SnapshotHeader {
        magic: MAGIC,
        version: VERSION,
        encoding: 1,
        sequence,
        state_hash: engine.state_hash(),
        origin_hash,
        payload_len: payload.len() as u64,
        payload_crc: crc32fast::hash(&payload),
        reserved: 0,
        reserved2: 0,
        header_crc: 0,
    };
    header.header_crc = crc32fast::hash(&bytemuck::bytes_of(&header)[..HEADER_LEN - 4]);
    let path = snapshot_path(dir, sequence);
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(bytemuck::bytes_of(&header));
    bytes.extend_from_slice(&payload);
    gavel_feeds::atomic_file::write_atomic(&path, &bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((path, bytes.len() as u64))
}

/// Reads and checks the snapshot at `path`: its header, its CRCs and its origin.
pub fn read(path: &Path, origin_hash: u64) -> Result<(SnapshotHeader, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bad = |offset: usize, why: String| format!("{}: offset {offset}: {why}", path.display());
    if bytes.len() < HEADER_LEN {
        return Err(bad(0, format!("{} bytes, shorter than the {HEADER_LEN}-byte header", bytes.len())));
    }
    let header: SnapshotHeader = bytemuck::pod_read_unaligned(&bytes[..HEADER_LEN]);
    if header.magic != MAGIC || header.version != VERSION || header.encoding != 1 {
        return Err(bad(0, format!("not a gavel snapshot of version {VERSION} (magic {:?}, version {}, encoding {})", header.magic, header.version, header.encoding)));
    }
    if header.header_crc != crc32fast::hash(&bytes[..HEADER_LEN - 4]) {
        return Err(bad(HEADER_LEN - 4, "header CRC mismatch".into()));
    }
    if header.origin_hash != origin_hash {
        return Err(bad(32, format!("taken under another origin ({:016x}, this data dir's is {origin_hash:016x})", header.origin_hash)));
    }
    if header.payload_len > MAX_PAYLOAD || bytes.len() as u64 != HEADER_LEN as u64 + header.payload_len {
        return Err(bad(40, format!("payload length {} but the file holds {} bytes after the header", header.payload_len, bytes.len() - HEADER_LEN)));
    }
    let payload = &bytes[HEADER_LEN..];
    if header.payload_crc != crc32fast::hash(payload) {
        return Err(bad(HEADER_LEN, "payload CRC mismatch".into()));
    }
    let json = zstd::stream::decode_all(payload).map_err(|e| bad(HEADER_LEN, format!("zstd: {e}")))?;
    Ok((header, json))
}

/// Restores `engine` from the newest usable snapshot of `data_dir` whose sequence is at most
/// `journal_last` (the last record of the journal). A snapshot that fails a check, that the
/// engine refuses, or whose restored hash differs from its header's, is skipped with a warning
/// on stderr and the previous one is tried; `engine` is unchanged unless one is used. Returns
/// the sequence and path of the snapshot used.
pub fn restore_latest(engine: &mut Engine, data_dir: &Path, journal_last: u64) -> anyhow::Result<Option<(u64, PathBuf)>> {
    let dir = snapshot_dir(data_dir);
    let snapshots = list(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    if snapshots.is_empty() {
        return Ok(None);
    }
    let origin = origin_hash(data_dir)?;
    for (sequence, path) in snapshots {
        if sequence > journal_last {
            eprintln!("gavel: warning: snapshot unusable, trying the one before it: {}: after sequence {sequence}, but the journal ends at {journal_last}", path.display());
            continue;
        }
        let read = read(&path, origin).and_then(|(header, json)| {
            if header.sequence == sequence {
                Ok((header, json))
            } else {
                Err(format!("{}: the header says sequence {}, the name {sequence}", path.display(), header.sequence))
            }
        });
        let (header, json) = match read {
            Ok(r) => r,
            Err(why) => {
                eprintln!("gavel: warning: snapshot unusable, trying the one before it: {why}");
                continue;
            }
        };
        // A refused snapshot leaves the engine unchanged, so the next one is tried on it.
        if let Err(e) = engine.restore_snapshot(&json) {
            eprintln!("gavel: warning: snapshot unusable, trying the one before it: {}: {e}", path.display());
            continue;
        }
        // Restored: a hash that differs from the header's means the snapshot code is wrong,
        // and the engine now holds that state, so there is nothing to fall back on.
        anyhow::ensure!(
            engine.state_hash() == header.state_hash,
            "{}: restored state hash {:016x} differs from the header's {:016x}; refusing to continue",
            path.display(),
            engine.state_hash(),
            header.state_hash
        );
        return Ok(Some((sequence, path)));
    }
    eprintln!("gavel: warning: no usable snapshot in {}; replaying the whole journal", dir.display());
    Ok(None)
}

/// Renames every snapshot after `journal_last` to `….gsnap.ahead-of-journal` (with a warning):
/// after a torn tail is cut, the journal goes on from there with other inputs, so such a
/// snapshot would describe a history that no longer exists.
pub fn set_aside_after(data_dir: &Path, journal_last: u64) -> anyhow::Result<()> {
    let dir = snapshot_dir(data_dir);
    for (sequence, path) in list(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))? {
        if sequence > journal_last {
            let aside = path.with_extension("gsnap.ahead-of-journal");
            std::fs::rename(&path, &aside).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            eprintln!("gavel: warning: {} is after the journal's last record {journal_last}; set aside as {}", path.display(), aside.display());
        }
    }
    Ok(())
}

/// Removes all but the newest `keep` snapshots.
fn prune(dir: &Path, keep: usize) {
    if let Ok(all) = list(dir) {
        for (_, path) in all.into_iter().skip(keep) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What the snapshot thread did.
#[derive(Clone, Debug, Default)]
pub struct SnapshotReport {
    /// Snapshots written.
    pub taken: u64,
    /// Sequence of the last one (0: none).
    pub last_sequence: u64,
    /// Its size, bytes.
    pub last_bytes: u64,
    /// Longest time to serialize and write one, ms.
    pub max_write_ms: f64,
    /// The follower engine's state hash at the end and the sequence it is after.
    pub follower: (u64, u64),
    /// Failures (a snapshot that could not be written; the journal is unaffected).
    pub errors: Vec<String>,
}

/// The snapshot thread's work.
pub struct SnapshotTask {
    /// The follower engine: the live engine's state after `after`.
    pub follower: Engine,
    /// The journal sequence the follower is after.
    pub after: u64,
    /// The data dir.
    pub data_dir: PathBuf,
    /// Durable journal sequence published by the writer.
    pub durable: Arc<AtomicU64>,
    /// When to take them.
    pub config: SnapshotConfig,
}

/// Runs until `stop`; then catches up with the durable journal and takes a last snapshot.
pub fn run(task: SnapshotTask, stop: Arc<AtomicBool>) -> SnapshotReport {
    let SnapshotTask { mut follower, after, data_dir, durable, config } = task;
    let mut report = SnapshotReport::default();
    let journal = super::recovery::journal_dir(&data_dir);
    let dir = snapshot_dir(&data_dir);
    let origin = match origin_hash(&data_dir) {
        Ok(h) => h,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    let mut tail = JournalTail::after(&journal, after);
    let mut sink = CountingSink::default();
    let mut last_taken = after;
    let mut next_due = config.interval.map(|i| Instant::now() + i);
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let through = durable.load(Ordering::Acquire);
        if let Err(e) = tail.read_through(through, |_, e| follower.on_event(e, &mut sink)) {
            report.errors.push(e);
            break;
        }
        let at = tail.next_sequence() - 1;
        let due = next_due.is_some_and(|t| Instant::now() >= t) || (stopping && config.interval.is_some());
        if due && at > last_taken {
            let t = Instant::now();
            match write(&dir, at, &follower, origin) {
                Ok((_, bytes)) => {
                    report.taken += 1;
                    report.last_sequence = at;
                    report.last_bytes = bytes;
                    report.max_write_ms = report.max_write_ms.max(t.elapsed().as_secs_f64() * 1e3);
                    last_taken = at;
                    prune(&dir, config.keep);
                }
                Err(e) => {
                    eprintln!("gavel serve: warning: snapshot after sequence {at} not written: {e:#} (the journal is unaffected)");
                    report.errors.push(format!("{e:#}"));
                }
            }
            next_due = config.interval.map(|i| Instant::now() + i);
        }
        if stopping {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    report.follower = (follower.state_hash(), tail.next_sequence() - 1);
    report
}
