//! Ring file ownership: the producer's exclusive `flock`, claiming the path
//! (refusing a live producer's file, reclaiming a dead one's), free-space and
//! identity checks. `docs/RING.md` describes the model.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use super::error::RingError;
use super::liveness::process_alive;

/// How many times `claim` retries when it races another creator.
const CLAIM_ATTEMPTS: u32 = 50;
/// How many times (2 ms apart) `claim` finds a file's lock held by a live
/// producer before refusing: a lock can be held for an instant by a forked
/// child that has not exec'd yet.
const HELD_LOOKS: u32 = 10;

/// Device and inode of a file: which file a path or descriptor names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileId {
        FileId { dev: meta.dev(), ino: meta.ino() }
    }
}

/// Tries to take an exclusive `flock` on `file` without waiting: `Ok(false)`
/// when another open file description holds a lock on it.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    // SAFETY: flock only reads the descriptor number, which `file` keeps open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// The producer pid stored in a ring file's header (0 if unreadable).
pub(crate) fn header_pid(file: &File) -> u32 {
    let mut pid = [0u8; 4];
    match file.read_exact_at(&mut pid, 40) {
        Ok(()) => u32::from_ne_bytes(pid),
        Err(_) => 0,
    }
}

/// Free bytes for an unprivileged writer in the file system holding `dir`.
pub(crate) fn free_bytes(dir: &Path) -> io::Result<u64> {
    let c_dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "folder name contains a NUL byte"))?;
    // SAFETY: statvfs is given a valid NUL-terminated path and a zeroed,
    // properly sized struct it fills in.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; both pointers are valid for the call.
    let rc = unsafe { libc::statvfs(c_dir.as_ptr(), &mut stats) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
}

/// Puts the fully built, locked file `tmp` at `path` without ever replacing
/// a live producer's ring: an existing file whose lock is free (its producer
/// exited or died) is stale and removed first; one whose lock is held is
/// refused with [`RingError::ProducerActive`] naming the holder's pid.
pub(crate) fn claim(path: &Path, tmp: &Path) -> Result<(), RingError> {
    let io_err = |operation: &'static str| {
        let path = path.to_owned();
        move |source| RingError::Io { path, operation, source }
    };
    let mut held = 0;
    for _ in 0..CLAIM_ATTEMPTS {
        // A hard link never replaces an existing name: creation is atomic and exclusive.
        match std::fs::hard_link(tmp, path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_err("link into place")(e)),
        }
        let existing = match OpenOptions::new().read(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("open the existing ring file")(e)),
        };
        if try_lock_exclusive(&existing).map_err(io_err("flock the existing ring file"))? {
            // Stale: nobody holds it. Remove it if the path still names it (the
            // lock, held until `existing` drops, keeps other claimers off it).
            let still_there = std::fs::metadata(path).map(|m| FileId::of(&m)).ok();
            let ours = existing.metadata().map(|m| FileId::of(&m)).ok();
            if still_there.is_some() && still_there == ours {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("remove the stale ring file")(e)),
                }
            }
            continue;
        }
        // Held. By a live producer, normally; but also, for an instant, by a
        // child forked (before its exec) while the old producer's descriptor
        // was open, or by another creator reclaiming the same stale file. So
        // look again a few times before refusing.
        held += 1;
        let pid = header_pid(&existing);
        if held >= HELD_LOOKS && pid != 0 && process_alive(pid) {
            return Err(RingError::ProducerActive { path: path.to_owned(), pid });
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    Err(RingError::ProducerActive {
        path: path.to_owned(),
        pid: OpenOptions::new().read(true).open(path).map(|f| header_pid(&f)).unwrap_or(0),
    })
}

/// Removes the stale ring files in `dir` whose names start with `prefix`
/// (and the hidden temporaries of creates that died half way): files whose
/// lock nobody holds and whose producer died without closing the ring, i.e.
/// left behind by killed runs. A cleanly closed ring with unread records is
/// kept for a late consumer; files that are not ring files are left alone.
/// Returns the paths removed.
pub fn reclaim_stale(dir: &Path, prefix: &str) -> io::Result<Vec<std::path::PathBuf>> {
    let hidden = format!(".{prefix}");
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let temporary = name.starts_with(&hidden) && name.ends_with(".tmp");
        if !(name.starts_with(prefix) || temporary) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = OpenOptions::new().read(true).open(&path) else { continue };
        let mut magic = [0u8; 8];
        let is_ring = file.read_exact_at(&mut magic, 0).is_ok() && u64::from_ne_bytes(magic) == super::layout::MAGIC;
        if !(is_ring || temporary) || !try_lock_exclusive(&file).unwrap_or(false) {
            continue;
        }
        let pid = header_pid(&file);
        let mut closed = [0u8; 4];
        let closed = file.read_exact_at(&mut closed, 152).is_ok() && u32::from_ne_bytes(closed) != 0;
        if (pid != 0 && process_alive(pid)) || (closed && !temporary) {
            continue;
        }
        let same = std::fs::metadata(&path).ok().map(|m| FileId::of(&m)) == file.metadata().ok().map(|m| FileId::of(&m));
        if same && std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    Ok(removed)
}
