//! The ring between real processes: `gavel ring produce` in one, a consumer
//! in another (the `gavel ring consume` command or this test process).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gavel_feeds::ring::{
    default_ring_path, Consumer, ConsumerConfig, DeathCause, RingError, WaitStrategy,
};
use gavel_feeds::wire::Event;

const GAVEL: &str = env!("CARGO_BIN_EXE_gavel");
/// Upper bound on any wait here: a hang guard, not a speed assertion.
const HANG_GUARD: Duration = Duration::from_secs(120);

/// A child process killed (and reaped) if the test ends early.
struct ChildGuard(Child);

impl ChildGuard {
    fn spawn(args: &[&str]) -> Self {
        let child = Command::new(GAVEL)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gavel");
        ChildGuard(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits for exit within the hang guard; returns status, stdout, stderr.
    fn finish(mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + HANG_GUARD;
        let status = loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "gavel pid {} did not exit within {HANG_GUARD:?}",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        let mut err = String::new();
        self.0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        self.0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, out, err)
    }

    /// SIGKILL and reap.
    fn kill(mut self) {
        self.0.kill().expect("SIGKILL");
        self.0.wait().expect("reap");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A unique ring path, removed before and after the test.
struct RingPath(PathBuf);

impl RingPath {
    fn new(tag: &str) -> Self {
        let path = default_ring_path(&format!("gavel-xproc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        RingPath(path)
    }

    /// A path the start-up scan for stale rings does not look at (no `gavel-` prefix): a
    /// `gavel` process started by another test at the wrong instant would otherwise
    /// remove a killed producer's file before this test looks for it.
    fn unscanned(tag: &str) -> Self {
        let path = gavel_feeds::ring::default_ring_dir().join(format!("xproc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        RingPath(path)
    }

    fn arg(&self) -> &str {
        self.0.to_str().expect("utf-8 path")
    }
}

impl Drop for RingPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn ten_million_events_cross_processes_in_order_with_matching_checksum() {
    let path = RingPath::new("10m");
    let count = "10000000";
    // Yielding waits: the machine may have only two cores for both processes.
    let producer = ChildGuard::spawn(&[
        "ring",
        "produce",
        "--path",
        path.arg(),
        "--count",
        count,
        "--wait",
        "yield",
    ]);
    let consumer = ChildGuard::spawn(&[
        "ring",
        "consume",
        "--path",
        path.arg(),
        "--count",
        count,
        "--wait",
        "yield",
    ]);
    let (c_status, c_out, c_err) = consumer.finish();
    let (p_status, p_out, p_err) = producer.finish();
    assert!(
        p_status.success(),
        "producer failed: {p_status}\n{p_out}\n{p_err}"
    );
    assert!(
        c_status.success(),
        "consumer failed: {c_status}\n{c_out}\n{c_err}"
    );
    assert!(p_out.contains("written 10000000, dropped 0"), "{p_out}");
    assert!(
        c_out.contains("consumed 10000000 events")
            && c_out.contains("contiguous")
            && c_out.contains("matches"),
        "{c_out}"
    );
    eprintln!("{}{}", p_out, c_out);
}

#[test]
fn killed_producer_makes_the_consume_command_fail_with_producer_dead() {
    let path = RingPath::new("kill-cli");
    let endless = "1000000000000";
    let producer = ChildGuard::spawn(&[
        "ring",
        "produce",
        "--path",
        path.arg(),
        "--count",
        endless,
        "--capacity",
        "1024",
    ]);
    let producer_pid = producer.pid();
    let consumer =
        ChildGuard::spawn(&["ring", "consume", "--path", path.arg(), "--count", endless]);
    // Let events flow, then kill the producer mid-stream.
    wait_until_published(&path.0, 100_000);
    producer.kill();
    let (status, out, err) = consumer.finish();
    assert!(
        !status.success(),
        "consume must fail when its producer dies\n{out}"
    );
    assert!(
        err.contains(&format!("producer pid {producer_pid} is dead"))
            && err.contains("arrived intact"),
        "unclear error: {err}"
    );
}

#[test]
fn killed_producer_gives_an_attached_consumer_producer_dead_after_draining() {
    let path = RingPath::new("kill-lib");
    let producer = ChildGuard::spawn(&[
        "ring",
        "produce",
        "--path",
        path.arg(),
        "--count",
        "1000000000000",
        "--capacity",
        "4096",
    ]);
    let producer_pid = producer.pid();
    let ring = path.0.clone();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut consumer = open_when_created(&ring);
        let mut expected = 1u64;
        let result = loop {
            let batch = consumer.read_batch(usize::MAX, |ev: &Event| {
                assert_eq!(ev.sequence, expected, "gap before the kill");
                expected += 1;
            });
            if expected > 200_000 {
                let _ = tx.send(());
            }
            if let Err(err) = batch {
                break err;
            }
        };
        (result, expected - 1)
    });
    rx.recv_timeout(HANG_GUARD).expect("events never flowed");
    producer.kill();
    let started = Instant::now();
    while !reader.is_finished() {
        assert!(
            started.elapsed() < HANG_GUARD,
            "consumer hung on a dead producer"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let (err, delivered) = reader.join().expect("reader thread");
    match err {
        RingError::ProducerDead {
            pid,
            cause,
            published,
            ..
        } => {
            assert_eq!(pid, producer_pid);
            assert_eq!(cause, DeathCause::ProcessGone);
            assert_eq!(
                published, delivered,
                "everything published before the kill is delivered"
            );
            assert!(delivered > 200_000);
        }
        other => panic!("expected ProducerDead, got {other}"),
    }
}

fn open_when_created(path: &std::path::Path) -> Consumer<Event> {
    let config = ConsumerConfig::default().wait(WaitStrategy::SpinThenYield);
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        match Consumer::open(path, config) {
            Ok(consumer) => return consumer,
            Err(RingError::Io { .. }) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(err) => panic!("open {}: {err}", path.display()),
        }
    }
}

/// Polls the producer cursor (a read-only look at the header, offset 256) until it passes `count`.
fn wait_until_published(path: &std::path::Path, count: u64) {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            if bytes.len() >= 264 {
                let published = u64::from_le_bytes(bytes[256..264].try_into().unwrap());
                if published >= count {
                    return;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "producer never published {count} events"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Ownership between real processes: a second `gavel ring produce` on a live
/// producer's path is refused naming its pid (and the first runs on); once the
/// first is killed with SIGKILL its file is stale, and the next producer
/// reclaims it. The files are mode 0600.
#[test]
fn a_live_producer_owns_its_ring_and_a_killed_ones_file_is_reclaimed() {
    use std::os::unix::fs::PermissionsExt;
    let path = RingPath::unscanned("owner");
    let produce = |count: &str| {
        ChildGuard::spawn(&["ring", "produce", "--path", path.arg(), "--count", count, "--capacity", "1024"])
    };
    let first = produce("1000000000000");
    let first_pid = first.pid();
    wait_until_published(&path.0, 1024);
    assert_eq!(std::fs::metadata(&path.0).unwrap().permissions().mode() & 0o777, 0o600);
    let (status, _, err) = produce("10").finish();
    assert!(!status.success(), "a second producer must be refused");
    assert!(err.contains(&format!("producer pid {first_pid} holds it")), "unclear error: {err}");
    // The first producer's ring is intact: a consumer reads its events in order.
    let mut consumer = open_when_created(&path.0);
    let mut seen = 0u64;
    while seen < 10 {
        consumer.read_batch(10, |ev: &Event| {
            seen += 1;
            assert_eq!(ev.sequence, seen);
        })
        .unwrap();
    }
    drop(consumer);
    first.kill();
    assert!(path.0.exists(), "a killed producer leaves its file behind");
    // The next producer reclaims the stale file and runs to completion; a consumer gets all of it.
    // (It finishes first: 100 events fit the ring, and its unread file stays for the consumer.)
    let (p_status, p_out, p_err) = produce("100").finish();
    assert!(p_status.success(), "reclaiming producer failed: {p_out}\n{p_err}");
    let consume = ChildGuard::spawn(&["ring", "consume", "--path", path.arg(), "--count", "100", "--unlink"]);
    let (c_status, c_out, c_err) = consume.finish();
    assert!(c_status.success(), "consumer failed: {c_out}\n{c_err}");
    assert!(c_out.contains("consumed 100 events"), "{c_out}");
    assert!(!path.0.exists(), "the file is gone after a clean run");
}
