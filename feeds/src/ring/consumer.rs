//! The consuming side of a ring.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytemuck::Pod;

use super::error::{DeathCause, RingError};
use super::layout::MAX_RECORD_ALIGN;
use super::liveness::{own_pid, process_alive};
use super::mapping::RingMap;
use super::wait::{Backoff, WaitStrategy};

/// How a consumer attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ConsumerConfig {
    /// How blocking reads wait for data.
    pub wait: WaitStrategy,
    /// Capacity the file must have; `None` accepts whatever power of two the file holds.
    pub expected_capacity: Option<u64>,
    /// Declare the producer dead when its process lives but its heartbeat is
    /// older than this (only for producers that heartbeat while idle). `None`
    /// relies on the process check alone.
    pub heartbeat_timeout: Option<Duration>,
}

impl ConsumerConfig {
    /// Sets the wait strategy.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// Requires the file to have exactly `capacity` slots.
    pub fn expected_capacity(mut self, capacity: u64) -> Self {
        self.expected_capacity = Some(capacity);
        self
    }

    /// Sets the heartbeat timeout.
    pub fn heartbeat_timeout(mut self, timeout: Duration) -> Self {
        self.heartbeat_timeout = Some(timeout);
        self
    }
}

/// A snapshot of the ring's shared state, for monitoring and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingStatus {
    /// The file's creation id.
    pub creation_id: u64,
    /// The producer's pid.
    pub producer_pid: u32,
    /// Number of slots.
    pub capacity: u64,
    /// Records published so far.
    pub published: u64,
    /// Records consumed so far.
    pub consumed: u64,
    /// Records dropped by a full ring under the `Drop` policy.
    pub overflow: u64,
    /// The producer's heartbeat counter.
    pub heartbeat_counter: u64,
    /// Whether the producer closed the ring cleanly.
    pub closed: bool,
}

/// The single consumer of a shared-memory ring of `T` records.
///
/// Only one consumer may be attached at a time: [`Consumer::open`] claims the
/// header's consumer pid and fails with [`RingError::ConsumerAttached`] while
/// another live process holds it. It resumes at the shared consumer cursor.
pub struct Consumer<T: Pod> {
    map: RingMap,
    slots: *const T,
    mask: u64,
    capacity: u64,
    /// Records consumed so far (the shared consumer cursor's value).
    head: u64,
    /// Last seen producer cursor; refreshed only when it seems to have nothing left.
    cached_tail: u64,
    producer_pid: u32,
    config: ConsumerConfig,
    _records: PhantomData<T>,
}

// SAFETY: the consumer owns its side of the protocol exclusively; the raw
// pointers point into a mapping it owns, which stays valid wherever the
// consumer moves. It is not Sync: reads take `&mut self`.
unsafe impl<T: Pod + Send> Send for Consumer<T> {}

impl<T: Pod> Consumer<T> {
    const LAYOUT_OK: () = assert!(
        core::mem::size_of::<T>() > 0 && core::mem::align_of::<T>() <= MAX_RECORD_ALIGN,
        "ring records must be non-empty and aligned to at most 128 bytes"
    );

    /// Opens the ring file at `path`, validates its header and attaches as its consumer.
    pub fn open(path: impl AsRef<Path>, config: ConsumerConfig) -> Result<Self, RingError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::LAYOUT_OK;
        let map = RingMap::open(
            path.as_ref(),
            core::mem::size_of::<T>(),
            config.expected_capacity,
        )?;
        let h = map.header();
        let me = own_pid();
        let mut current = h.consumer_pid.load(Ordering::Acquire);
        loop {
            if current != 0 && (current == me || process_alive(current)) {
                return Err(RingError::ConsumerAttached {
                    path: map.path.clone(),
                    pid: current,
                });
            }
            match h
                .consumer_pid
                .compare_exchange(current, me, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        let head = h.consumer_cursor.load(Ordering::Acquire);
        let producer_pid = h.producer_pid.load(Ordering::Relaxed);
        let capacity = map.capacity;
        let slots = map.slots::<T>().cast_const();
        Ok(Consumer {
            map,
            slots,
            mask: capacity - 1,
            capacity,
            head,
            cached_tail: head,
            producer_pid,
            config,
            _records: PhantomData,
        })
    }

    /// Records readable as last seen, refreshing the producer cursor when fewer than `wanted` are.
    #[inline(always)]
    fn available(&mut self, wanted: u64) -> u64 {
        let seen = self.cached_tail.wrapping_sub(self.head).min(self.capacity);
        if seen >= wanted {
            return seen;
        }
        // Acquire: the producer's slot writes happen before we read them.
        self.cached_tail = self.map.header().producer_cursor.load(Ordering::Acquire);
        self.cached_tail.wrapping_sub(self.head).min(self.capacity)
    }

    /// Hands `count` read slots back to the producer with one release store.
    #[inline(always)]
    fn release(&mut self, count: u64) {
        self.head = self.head.wrapping_add(count);
        // Release: our reads of the slots happen before the producer may reuse them.
        self.map
            .header()
            .consumer_cursor
            .store(self.head, Ordering::Release);
    }

    /// Pops one record if one is published; never blocks.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        if self.available(1) == 0 {
            return None;
        }
        let index = (self.head & self.mask) as usize;
        // SAFETY: index < capacity, inside the mapping; the slot is published
        // (acquire load of the producer cursor) and not yet released, so the
        // producer does not write it. T is Pod, so any bytes are a valid T.
        let value = unsafe { self.slots.add(index).read() };
        self.release(1);
        Some(value)
    }

    /// Calls `f` on up to `max` published records in order, then releases them
    /// all with one store. Returns how many were read; never blocks.
    #[inline]
    pub fn try_read_batch(&mut self, max: usize, mut f: impl FnMut(&T)) -> usize {
        let count = self.available(max as u64).min(max as u64) as usize;
        if count == 0 {
            return 0;
        }
        let start = (self.head & self.mask) as usize;
        let first = count.min(self.capacity as usize - start);
        // SAFETY: both runs lie inside the slot array (first <= capacity - start,
        // count - first < start) and hold published, unreleased records, which
        // the producer does not touch until `release`.
        let (a, b) = unsafe {
            (
                core::slice::from_raw_parts(self.slots.add(start), first),
                core::slice::from_raw_parts(self.slots, count - first),
            )
        };
        a.iter().for_each(&mut f);
        b.iter().for_each(&mut f);
        self.release(count as u64);
        count
    }

    /// Pops one record, waiting for it per the [`WaitStrategy`].
    ///
    /// Fails with [`RingError::Closed`] once a cleanly closed ring is drained,
    /// and with [`RingError::ProducerDead`] once the ring is drained and its
    /// producer is dead: it never waits forever on a dead producer.
    #[inline]
    pub fn pop(&mut self) -> Result<T, RingError> {
        loop {
            if let Some(value) = self.try_pop() {
                return Ok(value);
            }
            self.wait_for_data()?;
        }
    }

    /// Waits until at least one record is published, then reads up to `max` as
    /// [`Consumer::try_read_batch`] does. Fails as [`Consumer::pop`] does.
    #[inline]
    pub fn read_batch(&mut self, max: usize, mut f: impl FnMut(&T)) -> Result<usize, RingError> {
        loop {
            let read = self.try_read_batch(max, &mut f);
            if read > 0 || max == 0 {
                return Ok(read);
            }
            self.wait_for_data()?;
        }
    }

    /// Waits until a record is published, or the producer is known closed or dead with nothing left.
    #[cold]
    fn wait_for_data(&mut self) -> Result<(), RingError> {
        let mut backoff = Backoff::new(self.config.wait);
        loop {
            // The slow-path check runs before this turn's cursor read, so a
            // truncated file is reported instead of faulting on the header.
            let due = backoff.check_due();
            if backoff.attempts() == 0 || due {
                self.check_producer(due)?;
            }
            if self.available(1) > 0 {
                return Ok(());
            }
            backoff.wait();
        }
    }

    /// Never blocks: `Ok` while more records may come, [`RingError::Closed`]
    /// once a cleanly closed ring is drained, and (when `liveness` is set, a
    /// slow path with one `kill(pid, 0)`) [`RingError::ProducerDead`] once the
    /// ring is drained and its producer is gone or its heartbeat is stale.
    /// For callers that poll several sources instead of waiting on one.
    pub fn check_producer_now(&mut self, liveness: bool) -> Result<(), RingError> {
        self.check_producer(liveness)
    }

    /// Fails if the ring is drained and the producer closed it (always
    /// checked) or is dead (checked when `liveness` is set: a slow path).
    fn check_producer(&mut self, liveness: bool) -> Result<(), RingError> {
        if liveness {
            // Before touching the header: a truncated file would fault.
            self.map.check_length()?;
        }
        if self.map.header().closed.load(Ordering::Acquire) != 0 {
            // `closed` was stored after the last publish: this reload sees it.
            if self.available(1) == 0 {
                return Err(RingError::Closed {
                    path: self.map.path.clone(),
                    published: self.cached_tail,
                });
            }
            return Ok(());
        }
        if !liveness {
            return Ok(());
        }
        let cause = if !process_alive(self.producer_pid) {
            Some(DeathCause::ProcessGone)
        } else {
            self.config
                .heartbeat_timeout
                .filter(|timeout| self.heartbeat_age_ns() > timeout.as_nanos() as u64)
                .map(|_| DeathCause::HeartbeatStale)
        };
        match cause {
            // A dead process's stores are all visible by now; reload once more.
            Some(cause) if self.available(1) == 0 => Err(RingError::ProducerDead {
                path: self.map.path.clone(),
                pid: self.producer_pid,
                cause,
                published: self.cached_tail,
                heartbeat_counter: self.map.header().heartbeat_counter.load(Ordering::Acquire),
                heartbeat_age_ms: self.heartbeat_age_ns() / 1_000_000,
            }),
            Some(_) => Ok(()),
            // A live producer's file must still be at the path: it removes the
            // name only after setting `closed`, so re-check that on a mismatch.
            None => match self.map.check_identity() {
                Err(err) if self.map.header().closed.load(Ordering::Acquire) == 0 => Err(err),
                _ => Ok(()),
            },
        }
    }

    fn heartbeat_age_ns(&self) -> u64 {
        let last = self.map.header().heartbeat_ns.load(Ordering::Relaxed);
        crate::clock::monotonic_ns().saturating_sub(last)
    }

    /// Records dropped by the producer under the `Drop` full policy.
    pub fn overflow_count(&self) -> u64 {
        self.map.header().overflow.load(Ordering::Relaxed)
    }

    /// A snapshot of the shared state.
    pub fn status(&self) -> RingStatus {
        let h = self.map.header();
        RingStatus {
            creation_id: h.creation_id.load(Ordering::Relaxed),
            producer_pid: self.producer_pid,
            capacity: self.capacity,
            published: h.producer_cursor.load(Ordering::Acquire),
            consumed: self.head,
            overflow: h.overflow.load(Ordering::Relaxed),
            heartbeat_counter: self.map.header().heartbeat_counter.load(Ordering::Acquire),
            closed: h.closed.load(Ordering::Acquire) != 0,
        }
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The ring file's path.
    pub fn path(&self) -> &Path {
        &self.map.path
    }
}

impl<T: Pod> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Detach so that a later consumer may attach; ignore a takeover that
        // already replaced us.
        let _ = self.map.header().consumer_pid.compare_exchange(
            own_pid(),
            0,
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }
}
