//! The shared file's layout: a 512-byte header of four 128-byte blocks, then
//! the slots.
//!
//! | offset | size | field               | written by | meaning                                        |
//! |-------:|-----:|---------------------|------------|------------------------------------------------|
//! | 0      | 8    | `magic`             | create     | [`MAGIC`] (`"GAVELRNG"`)                       |
//! | 8      | 4    | `version`           | create     | [`FORMAT_VERSION`]                             |
//! | 12     | 4    | `record_size`       | create     | `size_of::<T>()`                               |
//! | 16     | 8    | `capacity`          | create     | slots, a power of two                          |
//! | 24     | 8    | `creation_id`       | create     | unique per create (pid, time, address entropy) |
//! | 32     | 8    | `slots_offset`      | create     | [`SLOTS_OFFSET`]                               |
//! | 40     | 4    | `producer_pid`      | create     | pid of the producing process                   |
//! | 44     | 4    | `consumer_pid`      | consumer   | pid of the attached consumer, 0 when none      |
//! | 128    | 8    | `heartbeat_counter` | producer   | bumped by every heartbeat                      |
//! | 136    | 8    | `heartbeat_ns`      | producer   | `CLOCK_MONOTONIC` ns of the last heartbeat     |
//! | 144    | 8    | `overflow`          | producer   | records dropped by the `Drop` full policy      |
//! | 152    | 4    | `closed`            | producer   | 1 once the producer has closed cleanly         |
//! | 256    | 8    | `producer_cursor`   | producer   | records published so far (monotonic)           |
//! | 384    | 8    | `consumer_cursor`   | consumer   | records consumed so far (monotonic)            |
//! | 512    | n×s  | slots               | producer   | record `i` lives in slot `i & (capacity - 1)`  |
//!
//! Every field is an atomic, so the mapping is only ever touched through
//! atomics or through slots the protocol hands to exactly one side. Each
//! cursor has a 128-byte block of its own: the adjacent-line prefetcher of
//! current x86 cores pulls cache lines in 128-byte pairs, so 64-byte padding
//! alone would still let the two cursors disturb each other.

use std::sync::atomic::{AtomicU32, AtomicU64};

/// `"GAVELRNG"` read as a little-endian `u64`.
pub const MAGIC: u64 = u64::from_le_bytes(*b"GAVELRNG");
/// Version of this layout; bumped on any change to it.
pub const FORMAT_VERSION: u32 = 1;
/// Byte offset of slot 0 in the file.
pub const SLOTS_OFFSET: usize = 512;
/// Largest record alignment the layout supports (slot 0 sits at offset 512 of a page-aligned mapping).
pub const MAX_RECORD_ALIGN: usize = 128;

/// The header at offset 0 of a ring file.
#[repr(C, align(128))]
pub(crate) struct SharedHeader {
    // Block 0 (offset 0): identity, written before the file becomes visible.
    pub(crate) magic: AtomicU64,
    pub(crate) version: AtomicU32,
    pub(crate) record_size: AtomicU32,
    pub(crate) capacity: AtomicU64,
    pub(crate) creation_id: AtomicU64,
    pub(crate) slots_offset: AtomicU64,
    pub(crate) producer_pid: AtomicU32,
    pub(crate) consumer_pid: AtomicU32,
    _pad0: [u8; 80],
    // Block 1 (offset 128): producer status, read by the consumer only while idle.
    pub(crate) heartbeat_counter: AtomicU64,
    pub(crate) heartbeat_ns: AtomicU64,
    pub(crate) overflow: AtomicU64,
    pub(crate) closed: AtomicU32,
    _pad1: [u8; 100],
    // Block 2 (offset 256): the producer's cursor.
    pub(crate) producer_cursor: AtomicU64,
    _pad2: [u8; 120],
    // Block 3 (offset 384): the consumer's cursor.
    pub(crate) consumer_cursor: AtomicU64,
    _pad3: [u8; 120],
}

/// Size of the shared header in bytes (slot 0 starts right after it).
pub const HEADER_SIZE: usize = core::mem::size_of::<SharedHeader>();

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<SharedHeader>() == SLOTS_OFFSET);
    assert!(align_of::<SharedHeader>() == 128);
    assert!(offset_of!(SharedHeader, magic) == 0);
    assert!(offset_of!(SharedHeader, version) == 8);
    assert!(offset_of!(SharedHeader, record_size) == 12);
    assert!(offset_of!(SharedHeader, capacity) == 16);
    assert!(offset_of!(SharedHeader, creation_id) == 24);
    assert!(offset_of!(SharedHeader, slots_offset) == 32);
    assert!(offset_of!(SharedHeader, producer_pid) == 40);
    assert!(offset_of!(SharedHeader, consumer_pid) == 44);
    assert!(offset_of!(SharedHeader, heartbeat_counter) == 128);
    assert!(offset_of!(SharedHeader, heartbeat_ns) == 136);
    assert!(offset_of!(SharedHeader, overflow) == 144);
    assert!(offset_of!(SharedHeader, closed) == 152);
    assert!(offset_of!(SharedHeader, producer_cursor) == 256);
    assert!(offset_of!(SharedHeader, consumer_cursor) == 384);
    // Atomics must have the size and alignment of the integers the file format names.
    assert!(size_of::<AtomicU64>() == 8 && align_of::<AtomicU64>() == 8);
    assert!(size_of::<AtomicU32>() == 4 && align_of::<AtomicU32>() == 4);
};

/// Total file length for `capacity` records of `record_size` bytes, or `None` on overflow.
pub(crate) fn file_len(capacity: u64, record_size: usize) -> Option<u64> {
    capacity
        .checked_mul(record_size as u64)?
        .checked_add(SLOTS_OFFSET as u64)
}
