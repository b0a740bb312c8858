//! The order id → pool slot map.
//!
//! A std `HashMap` with a cheap multiplicative hasher, sized at construction
//! to twice the pool so that it never reallocates: the map never holds more
//! entries than the pool has slots, and with at most half of its buckets live
//! hashbrown clears tombstones by rehashing in place instead of growing.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Multiply-xorshift hasher for `u64` ids (not DoS-resistant: ids come from
/// authenticated clients or replayed files, not from an adversary choosing keys).
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        let h = (self.0 ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

pub(crate) struct IdMap {
    map: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
}

impl IdMap {
    pub fn with_capacity(pool: usize) -> Self {
        IdMap { map: HashMap::with_capacity_and_hasher(pool.saturating_mul(2).max(16), Default::default()) }
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        self.map.get(&id).copied()
    }

    #[inline]
    pub fn insert(&mut self, id: u64, slot: u32) {
        self.map.insert(id, slot);
    }

    #[inline]
    pub fn remove(&mut self, id: u64) {
        self.map.remove(&id);
    }
}
