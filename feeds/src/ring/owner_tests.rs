//! Ring ownership against real files under the ring folder (`/dev/shm`):
//! mode, the producer's lock, stale-file reclaim, removal on clean exit,
//! truncation and replacement detected without touching the cut pages.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;

/// A unique ring path, removed before and after the test.
struct TempRing(PathBuf);

impl TempRing {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = default_ring_path(&format!("gavel-owner-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempRing(path)
    }
}

impl Drop for TempRing {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn producer(path: &Path) -> Result<Producer<u64>, RingError> {
    Producer::create(path, ProducerConfig::new(8))
}

/// Leftover temporary files of a create at `path` (there must be none).
fn temp_files(path: &Path) -> usize {
    let prefix = format!(".{}.", path.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&prefix)))
        .count()
}

#[test]
fn ring_files_are_mode_0600_even_under_umask_000() {
    let ring = TempRing::new("mode");
    // SAFETY: umask only swaps the process's file-creation mask; it is restored below.
    let old = unsafe { libc::umask(0) };
    let created = producer(&ring.0);
    // SAFETY: as above.
    unsafe { libc::umask(old) };
    let p = created.unwrap();
    let mode = std::fs::metadata(&ring.0).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    drop(p);
}

#[test]
fn a_second_producer_is_refused_naming_the_live_holder_and_the_first_keeps_working() {
    let ring = TempRing::new("second");
    let mut first = producer(&ring.0).unwrap();
    match producer(&ring.0) {
        Err(err @ RingError::ProducerActive { pid, .. }) => {
            assert_eq!(pid, std::process::id());
            assert!(err.to_string().contains(&format!("producer pid {pid} holds it")), "{err}");
        }
        other => panic!("expected ProducerActive, got {:?}", other.err()),
    }
    assert_eq!(temp_files(&ring.0), 0, "the refused create left its temporary file");
    // The first producer's file is untouched: a consumer reads what it pushes.
    let mut consumer = Consumer::<u64>::open(&ring.0, ConsumerConfig::default()).unwrap();
    assert_eq!(consumer.status().creation_id, first.creation_id());
    first.push_slice(&[5, 6]).unwrap();
    assert_eq!((consumer.try_pop(), consumer.try_pop()), (Some(5), Some(6)));
    assert!(first.check_ring_file().is_ok());
}

#[test]
fn a_clean_exit_removes_the_file_unless_a_late_consumer_still_needs_it() {
    // Everything consumed: the file goes with the producer.
    let ring = TempRing::new("clean");
    let mut p = producer(&ring.0).unwrap();
    let mut c = Consumer::<u64>::open(&ring.0, ConsumerConfig::default()).unwrap();
    p.push_slice(&[1]).unwrap();
    assert_eq!(c.try_pop(), Some(1));
    drop(p);
    assert!(!ring.0.exists(), "a drained ring is removed on a clean exit");
    assert!(matches!(c.pop(), Err(RingError::Closed { published: 1, .. })), "the attached consumer still ends cleanly");

    // Unread records and no consumer yet: the file stays for a late consumer.
    let ring = TempRing::new("late");
    let mut p = producer(&ring.0).unwrap();
    p.push_slice(&[7, 8]).unwrap();
    drop(p);
    assert!(ring.0.exists());
    let mut late = Consumer::<u64>::open(&ring.0, ConsumerConfig::default()).unwrap();
    assert_eq!((late.pop().unwrap(), late.pop().unwrap()), (7, 8));
    assert!(matches!(late.pop(), Err(RingError::Closed { .. })));
}

#[test]
fn a_stale_file_whose_producer_is_gone_is_reclaimed_by_the_next_producer() {
    let ring = TempRing::new("stale");
    let mut old = producer(&ring.0).unwrap();
    old.push_slice(&[1, 2, 3]).unwrap();
    let old_id = old.creation_id();
    drop(old); // undrained, no consumer: left behind, its lock released
    assert!(ring.0.exists());
    let fresh = producer(&ring.0).unwrap();
    assert_ne!(fresh.creation_id(), old_id);
    let mut c = Consumer::<u64>::open(&ring.0, ConsumerConfig::default()).unwrap();
    assert_eq!(c.status().creation_id, fresh.creation_id());
    assert_eq!(c.status().published, 0, "a fresh ring, not the stale one");
    assert_eq!(c.try_pop(), None);
    assert_eq!(temp_files(&ring.0), 0);
}

#[test]
fn truncation_is_reported_by_both_sides_without_touching_the_cut_pages() {
    let ring = TempRing::new("truncate");
    let p = producer(&ring.0).unwrap();
    let mut c = Consumer::<u64>::open(&ring.0, ConsumerConfig::default()).unwrap();
    std::fs::OpenOptions::new().write(true).open(&ring.0).unwrap().set_len(0).unwrap();
    for err in [p.check_ring_file().unwrap_err(), c.check_producer_now(true).unwrap_err()] {
        assert!(matches!(err, RingError::FileChanged { .. }), "{err:?}");
        assert!(err.to_string().contains("truncated to 0 bytes"), "{err}");
    }
    // The producer's Drop sees the cut too and does not write the header.
    drop(p);
    std::mem::forget(c); // its Drop would write the (cut) header page
}

#[test]
fn a_removed_or_replaced_file_is_reported_while_the_producer_lives() {
    let ring = TempRing::new("replace");
    let p = producer(&ring.0).unwrap();
    let mut c = Consumer::<u64>::open(&ring.0, ConsumerConfig::default()).unwrap();
    std::fs::remove_file(&ring.0).unwrap();
    let err = c.check_producer_now(true).unwrap_err();
    assert!(err.to_string().contains("removed while in use"), "{err}");
    std::fs::write(&ring.0, b"someone else's file").unwrap();
    let err = p.check_ring_file().unwrap_err();
    assert!(err.to_string().contains("replaced by another file"), "{err}");
    let err = c.check_producer_now(true).unwrap_err();
    assert!(matches!(err, RingError::FileChanged { .. }), "{err:?}");
    // The producer does not remove a file that is not its own.
    drop(p);
    assert_eq!(std::fs::read(&ring.0).unwrap(), b"someone else's file");
}

#[test]
fn a_ring_bigger_than_the_free_space_is_refused_before_mapping() {
    let ring = TempRing::new("nospace");
    // 2^40 slots of 8 bytes: 8 TiB, more than any test machine's /dev/shm.
    match Producer::<u64>::create(&ring.0, ProducerConfig::new(1 << 40)) {
        Err(err @ RingError::NoSpace { .. }) => assert!(err.to_string().contains("are free"), "{err}"),
        other => panic!("expected NoSpace, got {:?}", other.err()),
    }
    assert!(!ring.0.exists());
    assert_eq!(temp_files(&ring.0), 0);
}

#[test]
fn a_sweep_removes_only_stale_ring_files_of_dead_producers() {
    let prefix = format!("gavel-sweep-{}-", std::process::id());
    let dir = default_ring_dir();
    let stale = dir.join(format!("{prefix}stale"));
    let live = dir.join(format!("{prefix}live"));
    let other = dir.join(format!("{prefix}not-a-ring"));
    let (_s, _l, _o) = (TempRing(stale.clone()), TempRing(live.clone()), TempRing(other.clone()));
    // A stale ring: its producer left it unread, then "died" (its pid rewritten to a reaped child's).
    let mut p = producer(&stale).unwrap();
    p.push_slice(&[1]).unwrap();
    p.map_header().producer_pid.store(dead_pid(), Ordering::Relaxed);
    // A cleanly closed ring with an unread record, kept for a late consumer.
    let closed = dir.join(format!("{prefix}closed"));
    let _c = TempRing(closed.clone());
    let mut q = producer(&closed).unwrap();
    q.push_slice(&[1]).unwrap();
    q.map_header().producer_pid.store(dead_pid(), Ordering::Relaxed);
    drop(q);
    let _live_producer = producer(&live).unwrap();
    // While the killed producer's lock is held the file is not stale.
    assert!(reclaim_stale(&dir, &prefix).unwrap().is_empty());
    p.kill_for_test();
    assert!(stale.exists());
    std::fs::write(&other, b"not a ring").unwrap();
    // A child forked by a concurrent test may hold the dead producer's lock
    // for an instant (until its exec): sweep again a few times.
    let mut removed = Vec::new();
    for _ in 0..50 {
        removed = reclaim_stale(&dir, &prefix).unwrap();
        if !removed.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(removed, vec![stale.clone()]);
    assert!(!stale.exists() && live.exists() && other.exists() && closed.exists());
}

/// A pid that certainly belongs to no process: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("reap");
    pid
}
