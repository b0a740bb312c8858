//! Process liveness checks, used only on the slow (idle) path.

/// Whether process `pid` exists and is not a zombie.
///
/// `kill(pid, 0)` sends no signal; it fails with `ESRCH` when no such process
/// exists. A killed child stays a zombie until its parent reaps it, and a
/// zombie still answers `kill`, so `/proc/<pid>/stat` is read as well.
/// Pid 0 (never set) counts as not alive. Pids are per pid namespace: both
/// sides of a ring must share one.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check; no
    // signal is delivered and no memory is touched.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    // rc == 0, or EPERM (the process exists under another user).
    !is_zombie(pid)
}

fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // No procfs (or the process vanished meanwhile): trust kill's answer.
        return false;
    };
    // Format: "pid (comm) state ..."; comm may contain spaces and parentheses.
    stat.rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next())
        .is_some_and(|state| state == "Z" || state == "X")
}

/// This process's pid.
pub(crate) fn own_pid() -> u32 {
    std::process::id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_pid_zero_is_not() {
        assert!(process_alive(own_pid()));
        assert!(!process_alive(0));
    }

    #[test]
    fn a_reaped_child_is_dead_and_an_unreaped_one_is_a_zombie() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let pid = child.id();
        // Wait until it has exited but is not reaped yet.
        for _ in 0..2000 {
            if is_zombie(pid) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(
            !process_alive(pid),
            "an exited, unreaped child must count as dead"
        );
        child.wait().expect("reap");
        assert!(!process_alive(pid));
    }
}
