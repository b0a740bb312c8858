//! The order id → pool slot map: open addressing with linear probing and
//! backward-shift deletion (no tombstones), sized at construction to a power
//! of two at least twice the pool and written once so that every page is
//! resident before the first order: no allocation, no rehash and no first-touch
//! page fault on the hot path.
//!
//! An entry is only the 4-byte slot index; the id it stands for is read from
//! the pool slot (`key_of`). That keeps the table a quarter of the size of
//! (id, slot) pairs — more of it stays in cache for sparse ids — and a lookup
//! that finds its order reads the slot the caller needs next anyway.

use super::ladder::NIL;

pub(crate) struct IdMap {
    entries: Vec<u32>,
    mask: usize,
}

/// Folds an id's high bits into its low bits. Not a hash: consecutive ids
/// (the common case: venues and clients count up) land in consecutive entries,
/// which keeps the table's working set small and cache-resident, while ids that
/// differ only in high bits (e.g. multiples of 2^20) are still spread.
/// Not DoS-resistant: ids come from authenticated clients or replayed files.
#[inline]
fn mix(id: u64) -> u64 {
    id ^ (id >> 17) ^ (id >> 34) ^ (id >> 51)
}

impl IdMap {
    pub fn with_capacity(pool: usize) -> Self {
        let size = (pool.max(8) * 2).next_power_of_two();
        IdMap {
            entries: vec![NIL; size],
            mask: size - 1,
        }
    }

    #[inline]
    fn home(&self, id: u64) -> usize {
        mix(id) as usize & self.mask
    }

    /// The slot holding `id`; `key_of(slot)` is the id stored in a pool slot.
    #[inline]
    pub fn get(&self, id: u64, key_of: impl Fn(u32) -> u64) -> Option<u32> {
        let mut i = self.home(id);
        loop {
            let slot = self.entries[i];
            if slot == NIL {
                return None;
            }
            if key_of(slot) == id {
                return Some(slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts an id that is absent (the caller checked). The pool bounds the
    /// number of entries to half the table, so a free entry always exists.
    #[inline]
    pub fn insert(&mut self, id: u64, slot: u32) {
        let mut i = self.home(id);
        while self.entries[i] != NIL {
            i = (i + 1) & self.mask;
        }
        self.entries[i] = slot;
    }

    /// Removes `id` (whose pool slot must still hold it).
    #[inline]
    pub fn remove(&mut self, id: u64, key_of: impl Fn(u32) -> u64) {
        let mut i = self.home(id);
        loop {
            let slot = self.entries[i];
            if slot == NIL {
                return;
            }
            if key_of(slot) == id {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift: pull later entries of the run into the hole when
        // their home position lies at or before it (cyclically).
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let slot = self.entries[j];
            if slot == NIL {
                break;
            }
            let home = self.home(key_of(slot));
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            let dist_j = j.wrapping_sub(home) & self.mask;
            if dist_hole <= dist_j {
                self.entries[hole] = slot;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.entries[hole] = NIL;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_like_a_hash_map_under_churn() {
        // Slot i holds key keys[i]; 97 keys with colliding low bits stress probing.
        let keys: Vec<u64> = (0..97u64).map(|k| k << 20).collect();
        let key_of = |slot: u32| keys[slot as usize];
        let mut m = IdMap::with_capacity(64);
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut x = 12345u64;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x % 97) as u32;
            let key = keys[k as usize];
            if model.len() < 64 && !x.is_multiple_of(3) {
                if let std::collections::hash_map::Entry::Vacant(v) = model.entry(key) {
                    v.insert(k);
                    m.insert(key, k);
                }
            } else {
                model.remove(&key);
                m.remove(key, key_of);
            }
            for &key in &keys {
                assert_eq!(
                    m.get(key, key_of),
                    model.get(&key).copied(),
                    "step {step} key {key}"
                );
            }
        }
    }
}
