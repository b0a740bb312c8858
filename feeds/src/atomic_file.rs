//! Crash-safe output files: write a temporary file beside the target, fsync
//! it, rename it over the target and fsync the folder.
//!
//! A reader (or a crash at any instant) sees either the old target or the
//! complete new one, never a half-written file. The temporary file is
//! `<target>.tmp-<pid>` in the target's folder (a rename within one file
//! system is atomic); it is removed when the write fails or the
//! [`AtomicFile`] is dropped without [`AtomicFile::commit`].

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An output file being written under a temporary name.
pub struct AtomicFile {
    out: Option<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
}

/// Adds the path and the operation to an I/O error, keeping its kind.
fn named(path: &Path, operation: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {operation}: {e}", path.display()))
}

/// `<target>.tmp-<pid>` in the target's folder.
pub fn temp_path_for(target: &Path) -> PathBuf {
    let mut name = target.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp-{}", std::process::id()));
    target.with_file_name(name)
}

impl AtomicFile {
    /// Starts writing `target` (which is not touched until [`commit`](Self::commit)).
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        if target.file_name().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file name", target.display()),
            ));
        }
        let tmp = temp_path_for(target);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| named(&tmp, "create", e))?;
        Ok(AtomicFile { out: Some(BufWriter::with_capacity(1 << 16, file)), tmp, target: target.to_path_buf() })
    }

    /// The file this will become.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes, fsyncs, renames over the target and fsyncs the folder.
    pub fn commit(mut self) -> io::Result<()> {
        let out = self.out.take().expect("present until commit");
        let result = (|| {
            let file = out.into_inner().map_err(|e| named(&self.tmp, "write", e.into_error()))?;
            file.sync_all().map_err(|e| named(&self.tmp, "fsync", e))?;
            drop(file);
            std::fs::rename(&self.tmp, &self.target).map_err(|e| named(&self.target, "rename into place", e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result?;
        sync_parent(&self.target)
    }
}

/// Fsyncs the folder holding `path`, so a rename into it survives a power cut.
fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| named(dir, "fsync folder", e))
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let tmp = &self.tmp;
        self.out.as_mut().expect("present until commit").write(buf).map_err(|e| named(tmp, "write", e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let tmp = &self.tmp;
        self.out.as_mut().expect("present until commit").flush().map_err(|e| named(tmp, "write", e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Not committed: the target keeps its old contents.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `target` atomically (see the module docs).
pub fn write_atomic(target: impl AsRef<Path>, bytes: impl AsRef<[u8]>) -> io::Result<()> {
    let mut file = AtomicFile::create(target.as_ref())?;
    file.write_all(bytes.as_ref())?;
    file.commit()
}

/// Writes `target` atomically with `fill`, which streams the contents; an
/// error from `fill` leaves the old target untouched.
pub fn write_atomic_with<E: From<io::Error>>(
    target: &Path,
    fill: impl FnOnce(&mut AtomicFile) -> Result<(), E>,
) -> Result<(), E> {
    let mut file = AtomicFile::create(target)?;
    fill(&mut file)?;
    Ok(file.commit()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gavel-atomic-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_target_holds_the_old_contents_until_commit_and_the_new_ones_after() {
        let d = dir("commit");
        let target = d.join("report.json");
        std::fs::write(&target, "old").unwrap();
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"new contents").unwrap();
        file.flush().unwrap();
        // Written but not committed: the target is untouched, the bytes sit in the temp file.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_to_string(temp_path_for(&target)).unwrap(), "new contents");
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new contents");
        assert!(!temp_path_for(&target).exists());
        write_atomic(&target, "third").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "third");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "no temp file left behind");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_failed_or_abandoned_write_leaves_the_old_file_intact() {
        let d = dir("fail");
        let target = d.join("journal.csv");
        std::fs::write(&target, "old").unwrap();
        // The fill fails half way.
        let err = write_atomic_with(&target, |f| -> io::Result<()> {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        // Dropped without commit.
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"abandoned").unwrap();
        drop(file);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1, "temp files removed");
        // The rename fails (the target is a non-empty folder): old contents stay, error names the path.
        let blocked = d.join("blocked");
        std::fs::create_dir_all(blocked.join("inner")).unwrap();
        let err = write_atomic(&blocked, "x").unwrap_err();
        assert!(err.to_string().contains("blocked"), "{err}");
        assert!(blocked.join("inner").is_dir());
        assert!(!temp_path_for(&blocked).exists());
        // A missing folder is an error naming the temp file.
        let err = write_atomic(d.join("no/such/dir/x"), "x").unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
