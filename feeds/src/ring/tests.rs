//! Unit and property tests of the ring (in-process; the cross-process tests
//! live in `tools/tests/ring_cross_process.rs`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::clock::Clock;
use crate::wire::{Event, EventKind, TradePrint, Venue};

const WAIT: WaitStrategy = WaitStrategy::Sleep(Duration::from_micros(200));

/// A unique ring path under the default ring dir, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        TempPath(default_ring_path(&format!(
            "gavel-ring-test-{}-{tag}-{n}",
            std::process::id()
        )))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn pair<T: bytemuck::Pod>(
    path: &Path,
    capacity: u64,
    full: FullPolicy,
) -> (Producer<T>, Consumer<T>) {
    let producer = Producer::create(path, ProducerConfig::new(capacity).wait(WAIT).full(full))
        .expect("create");
    let consumer = Consumer::open(path, ConsumerConfig::default().wait(WAIT)).expect("open");
    (producer, consumer)
}

/// A pid that certainly belongs to no process: a child that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("reap");
    pid
}

#[test]
fn records_come_out_in_order_across_many_wraparounds() {
    let path = TempPath::new("wrap");
    let (mut p, mut c) = pair::<u64>(&path.0, 4, FullPolicy::Block);
    let mut next_out = 0u64;
    for value in 0..1000u64 {
        assert!(p.try_push(value));
        // Keep 0..3 records in flight so the cursors cross the wrap point at every offset.
        if value % 4 != 3 {
            continue;
        }
        while let Some(got) = c.try_pop() {
            assert_eq!(got, next_out);
            next_out += 1;
        }
    }
    assert_eq!(next_out, 1000);
    assert_eq!(c.try_pop(), None);
    assert_eq!(c.status().published, 1000);
    assert_eq!(c.status().consumed, 1000);
}

#[test]
fn full_ring_refuses_try_push_without_counting() {
    let path = TempPath::new("full");
    let (mut p, mut c) = pair::<u32>(&path.0, 2, FullPolicy::Block);
    assert!(p.try_push(1));
    assert!(p.try_push(2));
    assert!(!p.try_push(3));
    assert_eq!(c.overflow_count(), 0);
    assert_eq!(c.try_pop(), Some(1));
    assert!(p.try_push(3));
    assert_eq!(
        (c.try_pop(), c.try_pop(), c.try_pop()),
        (Some(2), Some(3), None)
    );
}

#[test]
fn batches_write_and_read_across_the_wrap_point() {
    let path = TempPath::new("batch");
    let (mut p, mut c) = pair::<u64>(&path.0, 8, FullPolicy::Block);
    // Move both cursors to 5 so the next batch wraps.
    assert_eq!(p.try_push_slice(&[0, 1, 2, 3, 4]), 5);
    let mut seen = Vec::new();
    assert_eq!(c.try_read_batch(usize::MAX, |&v| seen.push(v)), 5);
    let batch: Vec<u64> = (5..20).collect();
    // Only 8 fit.
    assert_eq!(p.try_push_slice(&batch), 8);
    assert_eq!(c.status().published, 13);
    // A bounded read takes 3, then the rest in one call.
    assert_eq!(c.try_read_batch(3, |&v| seen.push(v)), 3);
    assert_eq!(c.try_read_batch(usize::MAX, |&v| seen.push(v)), 5);
    assert_eq!(c.try_read_batch(usize::MAX, |&v| seen.push(v)), 0);
    // try_push_with calls its maker exactly as often as it writes.
    let mut made = 0;
    assert_eq!(
        p.try_push_with(100, |i| {
            made += 1;
            13 + i as u64
        }),
        8
    );
    assert_eq!(made, 8);
    assert_eq!(c.read_batch(usize::MAX, |&v| seen.push(v)).unwrap(), 8);
    assert_eq!(seen, (0..21).collect::<Vec<u64>>());
}

#[test]
fn drop_policy_counts_every_dropped_record() {
    let path = TempPath::new("drop");
    let (mut p, mut c) = pair::<u64>(&path.0, 4, FullPolicy::Drop);
    let outcomes: Vec<Pushed> = (0..10).map(|v| p.push(v).unwrap()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Pushed::Written).count(),
        4
    );
    assert_eq!(c.overflow_count(), 6);
    assert_eq!(p.overflow_count(), 6);
    // A slice that half fits: 2 written after popping 2, the other 3 counted.
    assert_eq!((c.try_pop(), c.try_pop()), (Some(0), Some(1)));
    assert_eq!(p.push_slice(&[10, 11, 12, 13, 14]).unwrap(), 2);
    assert_eq!(c.overflow_count(), 9);
    assert_eq!(
        p.push_with(3, |_| unreachable!("no room: maker must not run"))
            .unwrap(),
        0
    );
    assert_eq!(c.status().overflow, 12);
    let rest: Vec<u64> = std::iter::from_fn(|| c.try_pop()).collect();
    assert_eq!(rest, vec![2, 3, 10, 11]);
}

#[test]
fn blocking_push_waits_for_a_consumer_thread() {
    let path = TempPath::new("block");
    let (mut p, mut c) = pair::<u64>(&path.0, 8, FullPolicy::Block);
    let consumer = std::thread::spawn(move || {
        let mut expected = 0u64;
        loop {
            match c.read_batch(3, |&v| {
                assert_eq!(v, expected);
                expected += 1;
            }) {
                Ok(_) => {}
                Err(RingError::Closed { published, .. }) => return (expected, published),
                Err(other) => panic!("unexpected {other}"),
            }
        }
    });
    let values: Vec<u64> = (0..5000).collect();
    assert_eq!(p.push_slice(&values[..2000]).unwrap(), 2000);
    for &v in &values[2000..] {
        assert_eq!(p.push(v).unwrap(), Pushed::Written);
    }
    drop(p);
    assert_eq!(consumer.join().unwrap(), (5000, 5000));
}

#[test]
fn clean_close_gives_closed_after_draining() {
    let path = TempPath::new("closed");
    let (mut p, mut c) = pair::<u64>(&path.0, 16, FullPolicy::Block);
    p.push_slice(&[7, 8, 9]).unwrap();
    drop(p);
    assert!(c.status().closed);
    assert_eq!(c.pop().unwrap(), 7);
    assert_eq!(c.read_batch(10, |_| {}).unwrap(), 2);
    match c.pop() {
        Err(RingError::Closed { published, .. }) => assert_eq!(published, 3),
        other => panic!("expected Closed, got {other:?}"),
    }
}

#[test]
fn dead_producer_is_reported_after_draining_not_waited_on() {
    let path = TempPath::new("dead");
    let producer = Producer::<u64>::create(&path.0, ProducerConfig::new(16).wait(WAIT)).unwrap();
    let mut producer = std::mem::ManuallyDrop::new(producer);
    producer.push_slice(&[1, 2]).unwrap();
    // Pretend the ring was made by a process that has since died.
    let pid = dead_pid();
    producer
        .map_header()
        .producer_pid
        .store(pid, Ordering::Relaxed);
    let mut c = Consumer::<u64>::open(&path.0, ConsumerConfig::default().wait(WAIT)).unwrap();
    assert_eq!(c.pop().unwrap(), 1);
    assert_eq!(c.pop().unwrap(), 2);
    match c.pop() {
        Err(RingError::ProducerDead {
            pid: reported,
            cause,
            published,
            ..
        }) => {
            assert_eq!(reported, pid);
            assert_eq!(cause, DeathCause::ProcessGone);
            assert_eq!(published, 2);
        }
        other => panic!("expected ProducerDead, got {other:?}"),
    }
    // Dropping would mark the ring closed; a dead process never does.
    // SAFETY (test): the producer is dropped exactly once, here.
    unsafe { std::mem::ManuallyDrop::drop(&mut producer) };
}

#[test]
fn stale_heartbeat_counts_as_dead_only_when_asked_for() {
    let path = TempPath::new("stale");
    let _p = Producer::<u64>::create(&path.0, ProducerConfig::new(16)).unwrap();
    let config = ConsumerConfig::default()
        .wait(WAIT)
        .heartbeat_timeout(Duration::from_millis(20));
    let mut c = Consumer::<u64>::open(&path.0, config).unwrap();
    match c.pop() {
        Err(RingError::ProducerDead {
            cause: DeathCause::HeartbeatStale,
            heartbeat_counter,
            heartbeat_age_ms,
            ..
        }) => {
            assert_eq!(heartbeat_counter, 1, "create sends one heartbeat");
            assert!(heartbeat_age_ms >= 20);
        }
        other => panic!("expected a stale heartbeat, got {other:?}"),
    }
}

#[test]
fn blocked_producer_reports_a_dead_consumer() {
    let path = TempPath::new("consumer-dead");
    let mut p = Producer::<u64>::create(&path.0, ProducerConfig::new(2).wait(WAIT)).unwrap();
    let pid = dead_pid();
    p.map_header().consumer_pid.store(pid, Ordering::Relaxed);
    p.push_slice(&[1, 2]).unwrap();
    match p.push(3) {
        Err(RingError::ConsumerDead { pid: reported, .. }) => assert_eq!(reported, pid),
        other => panic!("expected ConsumerDead, got {other:?}"),
    }
    // A dead consumer's claim does not stop a new one from attaching.
    let mut c = Consumer::<u64>::open(&path.0, ConsumerConfig::default()).unwrap();
    assert_eq!(c.try_pop(), Some(1));
}

#[test]
fn one_consumer_at_a_time_and_a_new_one_resumes_at_the_cursor() {
    let path = TempPath::new("attach");
    let (mut p, mut c) = pair::<u64>(&path.0, 8, FullPolicy::Block);
    match Consumer::<u64>::open(&path.0, ConsumerConfig::default()) {
        Err(RingError::ConsumerAttached { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected ConsumerAttached, got {:?}", other.err()),
    }
    p.push_slice(&[1, 2, 3]).unwrap();
    assert_eq!(c.try_pop(), Some(1));
    drop(c);
    let mut again = Consumer::<u64>::open(&path.0, ConsumerConfig::default()).unwrap();
    assert_eq!(
        (again.try_pop(), again.try_pop(), again.try_pop()),
        (Some(2), Some(3), None)
    );
}

#[test]
fn invalid_capacities_are_refused_at_create() {
    let path = TempPath::new("cap");
    for capacity in [0, 1, 3, 100, 1 << 41] {
        match Producer::<u64>::create(&path.0, ProducerConfig::new(capacity)) {
            Err(RingError::InvalidCapacity { capacity: c, .. }) => assert_eq!(c, capacity),
            other => panic!(
                "capacity {capacity}: expected InvalidCapacity, got {:?}",
                other.err()
            ),
        }
    }
    assert!(!path.0.exists(), "a refused create leaves no file");
}

fn expect_mismatch<T: bytemuck::Pod>(
    path: &Path,
    config: ConsumerConfig,
    field: HeaderField,
) -> String {
    match Consumer::<T>::open(path, config) {
        Err(err @ RingError::HeaderMismatch { field: f, .. }) if f == field => {
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(field.name()), "{text}");
            text
        }
        other => panic!("expected a {field:?} mismatch, got {:?}", other.err()),
    }
}

fn patch_u64(path: &Path, offset: u64, value: u64) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&value.to_le_bytes()).unwrap();
}

#[test]
fn header_mismatches_name_the_file_and_the_field() {
    let path = TempPath::new("header");
    let _p = Producer::<u64>::create(&path.0, ProducerConfig::new(8)).unwrap();
    let any = ConsumerConfig::default();
    let text = expect_mismatch::<[u64; 2]>(&path.0, any, HeaderField::RecordSize);
    assert!(
        text.contains("is 0x8") && text.contains("expected 16 bytes"),
        "{text}"
    );
    expect_mismatch::<u64>(&path.0, any.expected_capacity(16), HeaderField::Capacity);
    // The same file opens fine with the right expectations.
    drop(Consumer::<u64>::open(&path.0, any.expected_capacity(8)).unwrap());

    patch_u64(&path.0, 16, 6); // capacity: not a power of two
    expect_mismatch::<u64>(&path.0, any, HeaderField::Capacity);
    patch_u64(&path.0, 16, 16); // capacity: a power of two the length does not match
    expect_mismatch::<u64>(&path.0, any, HeaderField::FileLength);
    patch_u64(
        &path.0,
        8,
        u64::from(layout::FORMAT_VERSION + 1) | (8 << 32),
    ); // version (record_size kept)
    expect_mismatch::<u64>(&path.0, any, HeaderField::Version);
    patch_u64(&path.0, 0, u64::from_le_bytes(*b"NOTARING"));
    expect_mismatch::<u64>(&path.0, any, HeaderField::Magic);

    std::fs::write(&path.0, [0u8; 100]).unwrap();
    expect_mismatch::<u64>(&path.0, any, HeaderField::FileLength);
    let missing = TempPath::new("missing");
    match Consumer::<u64>::open(&missing.0, any) {
        Err(err @ RingError::Io { .. }) => {
            assert!(err.to_string().contains("open failed"), "{err}")
        }
        other => panic!("expected Io, got {:?}", other.err()),
    }
}

#[test]
fn event_producer_stamps_publish_ticks() {
    let path = TempPath::new("event");
    let clock = Clock::monotonic();
    let before = clock.now_ticks();
    let mut p = EventProducer::create(&path.0, ProducerConfig::new(8), clock).unwrap();
    let mut c = Consumer::<Event>::open(&path.0, ConsumerConfig::default()).unwrap();
    let ev = Event::new(
        EventKind::Trade,
        Venue::Synthetic,
        3,
        TradePrint {
            price: 10,
            qty: 2,
            trade_id: 5,
        },
    );
    assert_eq!(p.push(ev).unwrap(), Pushed::Written);
    assert_eq!(p.push_slice(&[ev, ev]).unwrap(), 2);
    let got: Vec<Event> = std::iter::from_fn(|| c.try_pop()).collect();
    assert_eq!(got.len(), 3);
    for g in &got {
        assert!(g.publish_ticks >= before, "unstamped event {g:?}");
        assert_eq!(
            Event {
                publish_ticks: 0,
                ..*g
            },
            ev
        );
    }
    assert_eq!(
        got[1].publish_ticks, got[2].publish_ticks,
        "a batch shares one stamp"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Push(usize),
    Pop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..40).prop_map(Op::Push),
        (0usize..40).prop_map(Op::Pop)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any interleaving of batch pushes and batch pops delivers exactly the
    /// accepted records, in order, and the ring never holds more than its capacity.
    #[test]
    fn interleaved_batches_preserve_order_and_content(
        capacity_log2 in 1u32..6,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let capacity = 1u64 << capacity_log2;
        let path = TempPath::new("prop");
        let (mut p, mut c) = pair::<[u64; 3]>(&path.0, capacity, FullPolicy::Block);
        let mut model: VecDeque<[u64; 3]> = VecDeque::new();
        let mut next = 0u64;
        let record = |n: u64| [n, n.wrapping_mul(0x9e37_79b9_7f4a_7c15), !n];
        for op in ops {
            match op {
                Op::Push(n) => {
                    let batch: Vec<[u64; 3]> = (0..n as u64).map(|i| record(next + i)).collect();
                    let written = if n % 2 == 0 {
                        p.try_push_slice(&batch)
                    } else {
                        p.try_push_with(n, |i| batch[i])
                    };
                    prop_assert_eq!(written, n.min(capacity as usize - model.len()));
                    model.extend(&batch[..written]);
                    next += written as u64;
                }
                Op::Pop(n) => {
                    let mut got = Vec::new();
                    let read = c.try_read_batch(n, |r| got.push(*r));
                    prop_assert_eq!(read, n.min(model.len()));
                    let want: Vec<[u64; 3]> = model.drain(..read).collect();
                    prop_assert_eq!(got, want);
                }
            }
        }
        let rest: Vec<[u64; 3]> = std::iter::from_fn(|| c.try_pop()).collect();
        prop_assert_eq!(rest, model.into_iter().collect::<Vec<_>>());
    }
}
