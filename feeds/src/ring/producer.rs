//! The producing side of a ring.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::Ordering;

use bytemuck::Pod;

use super::error::RingError;
use super::layout::MAX_RECORD_ALIGN;
use super::liveness::process_alive;
use super::mapping::RingMap;
use super::wait::{Backoff, FullPolicy, WaitStrategy};

/// How a producer is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// Number of slots; must be a power of two (2 ..= 2^40).
    pub capacity: u64,
    /// How a blocking push waits for room.
    pub wait: WaitStrategy,
    /// What a push does when the ring is full.
    pub full: FullPolicy,
}

impl ProducerConfig {
    /// `capacity` slots, busy-spin waits, blocking when full.
    pub fn new(capacity: u64) -> Self {
        ProducerConfig {
            capacity,
            wait: WaitStrategy::default(),
            full: FullPolicy::default(),
        }
    }

    /// Sets the wait strategy.
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = wait;
        self
    }

    /// Sets the full-ring policy.
    pub fn full(mut self, full: FullPolicy) -> Self {
        self.full = full;
        self
    }
}

/// What became of one pushed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Pushed {
    /// The record was published.
    Written,
    /// The ring was full under [`FullPolicy::Drop`]; the record was counted in the overflow counter.
    Dropped,
}

/// The single producer of a shared-memory ring of `T` records.
///
/// Created with [`Producer::create`], which makes the file. Dropping the
/// producer marks the ring closed; the consumer then drains what is left and
/// gets [`RingError::Closed`].
pub struct Producer<T: Pod> {
    map: RingMap,
    slots: *mut T,
    mask: u64,
    capacity: u64,
    /// Records published so far (the shared producer cursor's value).
    tail: u64,
    /// Last seen consumer cursor; refreshed only when it seems to leave too little room.
    cached_head: u64,
    wait: WaitStrategy,
    full: FullPolicy,
    _records: PhantomData<T>,
}

// SAFETY: the producer owns its side of the protocol exclusively; the raw
// pointers point into a mapping it owns, which stays valid wherever the
// producer moves. It is not Sync: pushes take `&mut self`.
unsafe impl<T: Pod + Send> Send for Producer<T> {}

impl<T: Pod> Producer<T> {
    const LAYOUT_OK: () = assert!(
        core::mem::size_of::<T>() > 0
            && core::mem::size_of::<T>() <= u32::MAX as usize
            && core::mem::align_of::<T>() <= MAX_RECORD_ALIGN,
        "ring records must be non-empty and aligned to at most 128 bytes"
    );

    /// Creates a ring file at `path` (mode 0600) and becomes its producer,
    /// holding an exclusive `flock` on it. A file at `path` whose producer is
    /// alive is refused ([`RingError::ProducerActive`]); a stale one (its
    /// producer exited or died) is replaced.
    pub fn create(path: impl AsRef<Path>, config: ProducerConfig) -> Result<Self, RingError> {
        #[allow(clippy::let_unit_value)]
        let () = Self::LAYOUT_OK;
        let map = RingMap::create(
            path.as_ref(),
            config.capacity,
            core::mem::size_of::<T>(),
            core::mem::align_of::<T>(),
        )?;
        let capacity = map.capacity;
        let slots = map.slots::<T>();
        let mut producer = Producer {
            map,
            slots,
            mask: capacity - 1,
            capacity,
            tail: 0,
            cached_head: 0,
            wait: config.wait,
            full: config.full,
            _records: PhantomData,
        };
        producer.heartbeat();
        Ok(producer)
    }

    /// Room left as last seen, refreshing the consumer cursor if that is less than `wanted`.
    #[inline(always)]
    fn room(&mut self, wanted: u64) -> u64 {
        let room = self.capacity - self.tail.wrapping_sub(self.cached_head).min(self.capacity);
        if room >= wanted {
            return room;
        }
        // Acquire: the consumer's reads of the slots it released happen before
        // we overwrite them.
        self.cached_head = self.map.header().consumer_cursor.load(Ordering::Acquire);
        self.capacity - self.tail.wrapping_sub(self.cached_head).min(self.capacity)
    }

    /// Makes the records written so far visible to the consumer.
    #[inline(always)]
    fn publish(&mut self, count: u64) {
        self.tail = self.tail.wrapping_add(count);
        // Release: the slot writes above become visible before the cursor does.
        self.map
            .header()
            .producer_cursor
            .store(self.tail, Ordering::Release);
    }

    /// Pushes one record if there is room now; `false` (and nothing counted) if the ring is full.
    #[inline]
    #[must_use]
    pub fn try_push(&mut self, value: T) -> bool {
        if self.room(1) == 0 {
            return false;
        }
        let index = (self.tail & self.mask) as usize;
        // SAFETY: index < capacity, so the slot is inside the mapping; the room
        // check shows the consumer has released it (it is not being read).
        unsafe { self.slots.add(index).write(value) };
        self.publish(1);
        // Push the record's line out to the shared cache, where the consumer's
        // read finds it without snooping this core: the hop latency's largest
        // single saving (docs/PERFORMANCE.md). The cursor line is left alone:
        // the consumer is spinning on it, and demoting it measured no gain.
        demote_line(self.slots.wrapping_add(index));
        true
    }

    /// Writes up to `max` records made by `make(i)` (i = 0, 1, …) into the
    /// free slots and publishes them with one release store. Returns how many
    /// were written; `make` is called exactly that many times. Never blocks,
    /// never counts overflow.
    #[inline]
    pub fn try_push_with(&mut self, max: usize, mut make: impl FnMut(usize) -> T) -> usize {
        let count = self.room(max as u64).min(max as u64);
        if count == 0 {
            return 0;
        }
        let start = (self.tail & self.mask) as usize;
        let first = (count as usize).min(self.capacity as usize - start);
        for i in 0..first {
            // SAFETY: start + i < capacity; the slot is free (room check).
            unsafe { self.slots.add(start + i).write(make(i)) };
        }
        for i in first..count as usize {
            // SAFETY: the wrapped run covers slots [0, count - first) with
            // count <= capacity, so it stays inside the array and below `start`; free (room check).
            unsafe { self.slots.add(i - first).write(make(i)) };
        }
        self.publish(count);
        count as usize
    }

    /// Copies as many of `values` as fit now, with one release store; returns how many.
    #[inline]
    pub fn try_push_slice(&mut self, values: &[T]) -> usize {
        let count = self.room(values.len() as u64).min(values.len() as u64) as usize;
        if count == 0 {
            return 0;
        }
        let start = (self.tail & self.mask) as usize;
        let first = count.min(self.capacity as usize - start);
        // SAFETY: [start, start + first) and [0, count - first) are inside the
        // slot array, free (room check) and cannot overlap `values`, which is
        // process-private memory borrowed immutably.
        unsafe {
            core::ptr::copy_nonoverlapping(values.as_ptr(), self.slots.add(start), first);
            core::ptr::copy_nonoverlapping(values.as_ptr().add(first), self.slots, count - first);
        }
        self.publish(count as u64);
        count
    }

    /// Pushes one record under the ring's [`FullPolicy`].
    ///
    /// `Block` waits for room (and fails only if the attached consumer died);
    /// `Drop` counts the record in the shared overflow counter and returns
    /// [`Pushed::Dropped`].
    #[inline]
    pub fn push(&mut self, value: T) -> Result<Pushed, RingError> {
        loop {
            if self.try_push(value) {
                return Ok(Pushed::Written);
            }
            match self.full {
                FullPolicy::Drop => {
                    self.count_dropped(1);
                    return Ok(Pushed::Dropped);
                }
                FullPolicy::Block => self.wait_for_room()?,
            }
        }
    }

    /// Pushes `count` records made by `make(i)` under the ring's [`FullPolicy`],
    /// publishing in batches. Returns how many were written: all of them under
    /// `Block`; under `Drop` those that fit, the rest counted as overflow
    /// (and `make` is not called for them).
    pub fn push_with(
        &mut self,
        count: usize,
        mut make: impl FnMut(usize) -> T,
    ) -> Result<usize, RingError> {
        let mut done = 0;
        loop {
            done += self.try_push_with(count - done, |i| make(done + i));
            if done == count {
                return Ok(done);
            }
            match self.full {
                FullPolicy::Drop => {
                    self.count_dropped((count - done) as u64);
                    return Ok(done);
                }
                FullPolicy::Block => self.wait_for_room()?,
            }
        }
    }

    /// Pushes every record of `values` under the ring's [`FullPolicy`]; see [`Producer::push_with`].
    pub fn push_slice(&mut self, values: &[T]) -> Result<usize, RingError> {
        let mut done = 0;
        loop {
            done += self.try_push_slice(&values[done..]);
            if done == values.len() {
                return Ok(done);
            }
            match self.full {
                FullPolicy::Drop => {
                    self.count_dropped((values.len() - done) as u64);
                    return Ok(done);
                }
                FullPolicy::Block => self.wait_for_room()?,
            }
        }
    }

    #[cold]
    fn count_dropped(&mut self, count: u64) {
        self.map
            .header()
            .overflow
            .fetch_add(count, Ordering::Relaxed);
    }

    /// Waits until at least one slot is free. While waiting it keeps the
    /// heartbeat going and fails if the attached consumer's process is gone.
    #[cold]
    fn wait_for_room(&mut self) -> Result<(), RingError> {
        let mut backoff = Backoff::new(self.wait);
        loop {
            let due = backoff.check_due();
            if due {
                // Before this turn's header access: a truncated file is reported, not faulted on.
                self.check_ring_file()?;
            }
            if self.room(1) > 0 {
                return Ok(());
            }
            if due {
                self.heartbeat();
                let pid = self.map.header().consumer_pid.load(Ordering::Acquire);
                if pid != 0 && !process_alive(pid) {
                    // Re-read: a new consumer may have taken over meanwhile.
                    if self.map.header().consumer_pid.load(Ordering::Acquire) == pid
                        && self.room(1) == 0
                    {
                        return Err(RingError::ConsumerDead {
                            path: self.map.path.clone(),
                            pid,
                        });
                    }
                }
            }
            backoff.wait();
        }
    }

    /// Records a heartbeat: bumps the shared counter and stamps `CLOCK_MONOTONIC`.
    /// Call it from the producer's idle loop or a timer; blocking waits call it too.
    pub fn heartbeat(&mut self) {
        let h = self.map.header();
        h.heartbeat_ns
            .store(crate::clock::monotonic_ns(), Ordering::Relaxed);
        let next = h.heartbeat_counter.load(Ordering::Relaxed).wrapping_add(1);
        h.heartbeat_counter.store(next, Ordering::Release);
    }

    /// Fails if the ring file was truncated, removed or replaced since it was
    /// created ([`RingError::FileChanged`]): a slow-path check (two `stat`s)
    /// for an idle loop; blocking pushes run it while they wait.
    pub fn check_ring_file(&self) -> Result<(), RingError> {
        self.map.check_length()?;
        self.map.check_identity()
    }

    /// Records dropped so far under [`FullPolicy::Drop`] (the shared overflow counter).
    pub fn overflow_count(&self) -> u64 {
        self.map.header().overflow.load(Ordering::Relaxed)
    }

    /// Records published so far.
    pub fn published(&self) -> u64 {
        self.tail
    }

    /// Records published and not yet consumed (reads the consumer's cursor: for
    /// counters, not the hot path).
    pub fn used(&self) -> u64 {
        let head = self.map.header().consumer_cursor.load(Ordering::Acquire);
        self.tail.wrapping_sub(head).min(self.capacity)
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The ring file's creation id (unique per create).
    pub fn creation_id(&self) -> u64 {
        self.map.header().creation_id.load(Ordering::Relaxed)
    }

    /// The ring file's path.
    pub fn path(&self) -> &Path {
        &self.map.path
    }

    /// The shared header, for tests that simulate other processes.
    #[cfg(test)]
    pub(crate) fn map_header(&self) -> &super::layout::SharedHeader {
        self.map.header()
    }
}

#[cfg(test)]
impl<T: Pod> Producer<T> {
    /// Test hook: ends the producer as a SIGKILL would: the mapping and the
    /// lock go away, `closed` is never set and the file stays.
    pub(crate) fn kill_for_test(self) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the map is read
        // out (and then dropped) exactly once; the other fields own nothing.
        drop(unsafe { std::ptr::read(&this.map) });
    }
}

impl<T: Pod> Drop for Producer<T> {
    fn drop(&mut self) {
        if self.map.check_length().is_err() {
            // Truncated under us: the header page may be gone; touch nothing.
            return;
        }
        self.heartbeat();
        // Release: every publish happens before the consumer sees `closed`.
        let h = self.map.header();
        h.closed.store(1, Ordering::Release);
        // Remove the file on a clean exit when nobody needs its name any more:
        // everything was consumed, or a live consumer is attached (unlinking
        // leaves its mapping intact). Otherwise a late consumer may still
        // drain it; the next producer at this path reclaims it.
        let drained = h.consumer_cursor.load(Ordering::Acquire) == self.tail;
        let consumer = h.consumer_pid.load(Ordering::Acquire);
        if (drained || (consumer != 0 && process_alive(consumer))) && self.map.at_path() {
            let _ = std::fs::remove_file(&self.map.path);
        }
    }
}

/// Hints the CPU to move the cache line at `ptr` from this core's private
/// caches to the shared last-level cache (`cldemote`), so that another core's
/// next read of it is served from there instead of by a cross-core snoop.
#[inline(always)]
fn demote_line<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `cldemote` is a pure cache hint: it reads and writes no memory,
    // cannot fault, and on CPUs without the CLDEMOTE feature its encoding
    // (0F 1C /0, in the hint-NOP space) executes as a no-op.
    unsafe {
        core::arch::asm!("cldemote [{0}]", in(reg) ptr, options(nostack, preserves_flags, readonly));
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}
