//! One `gavel serve` per data dir. A second venue on the same folder would overwrite the
//! first one's demo keys, cut the journal segment the first one is writing (its recovery
//! repairs what it takes for a crashed writer's tail) and interleave two journals. So `gavel
//! serve` takes an exclusive `flock` on `<data dir>/serve.lock` before it writes anything there
//! and holds it until it exits; the kernel releases it when the process dies (kill -9
//! included), so a crash never leaves a stale lock. The file holds the holder's pid, for the
//! message. `gavel recover` and `gavel journal verify` only read and take no lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The held lock; released when dropped (or when the process ends).
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Creates `data_dir` if needed and locks it, or says which process holds it.
    pub fn acquire(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| anyhow::anyhow!("{}: {e}", data_dir.display()))?;
        let path = data_dir.join("serve.lock");
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // SAFETY: plain system call on a descriptor this function owns; no memory is passed.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                anyhow::bail!(
                    "{}: this data dir is in use by another gavel serve ({}); stop it first or give this one another --data-dir",
                    data_dir.display(),
                    if holder.is_empty() { "pid unknown" } else { holder }
                );
            }
            anyhow::bail!("{}: locking the data dir: {e}", path.display());
        }
        file.set_len(0).and_then(|_| writeln!(file, "pid {}", std::process::id())).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(DataDirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("gavel-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = DataDirLock::acquire(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(first.path()).unwrap(), format!("pid {}\n", std::process::id()));
        // flock locks belong to the open file: a second open in this process conflicts too.
        let err = DataDirLock::acquire(&dir).err().expect("the dir is held").to_string();
        assert!(err.contains("in use by another gavel serve") && err.contains(&format!("pid {}", std::process::id())) && err.contains(&dir.display().to_string()), "{err}");
        drop(first);
        let again = DataDirLock::acquire(&dir).expect("free once the first is dropped");
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
