//! The order id → pool slot map: open addressing with linear probing and
//! backward-shift deletion (no tombstones), sized at construction to a power
//! of two at least twice the pool and written once so that every page is
//! resident before the first order: no allocation, no rehash and no first-touch
//! page fault on the hot path.

use super::ladder::NIL;

#[derive(Clone, Copy)]
struct Entry {
    key: u64,
    /// Pool slot, or `NIL` for an empty entry.
    slot: u32,
}

const EMPTY: Entry = Entry { key: 0, slot: NIL };

pub(crate) struct IdMap {
    entries: Vec<Entry>,
    mask: usize,
}

/// Folds an id's high bits into its low bits. Not a hash: consecutive ids
/// (the common case: venues and clients count up) land in consecutive entries,
/// which keeps the table's working set small and cache-resident, while ids that
/// differ only in high bits (e.g. multiples of 2^20) are still spread.
#[inline]
fn mix(id: u64) -> u64 {
    id ^ (id >> 17) ^ (id >> 34) ^ (id >> 51)
}

impl IdMap {
    pub fn with_capacity(pool: usize) -> Self {
        let size = (pool.max(8) * 2).next_power_of_two();
        IdMap {
            entries: vec![EMPTY; size],
            mask: size - 1,
        }
    }

    #[inline]
    fn home(&self, id: u64) -> usize {
        mix(id) as usize & self.mask
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<u32> {
        let mut i = self.home(id);
        loop {
            let e = self.entries[i];
            if e.slot == NIL {
                return None;
            }
            if e.key == id {
                return Some(e.slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts a new id (the caller checked it is absent; the pool bounds the
    /// number of entries to half the table, so a free entry always exists).
    #[inline]
    pub fn insert(&mut self, id: u64, slot: u32) {
        let mut i = self.home(id);
        while self.entries[i].slot != NIL {
            if self.entries[i].key == id {
                break;
            }
            i = (i + 1) & self.mask;
        }
        self.entries[i] = Entry { key: id, slot };
    }

    #[inline]
    pub fn remove(&mut self, id: u64) {
        let mut i = self.home(id);
        loop {
            let e = self.entries[i];
            if e.slot == NIL {
                return;
            }
            if e.key == id {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward-shift: pull later entries of the run into the hole when
        // their home position lies at or before it (cyclically).
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let e = self.entries[j];
            if e.slot == NIL {
                break;
            }
            let home = self.home(e.key);
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            let dist_j = j.wrapping_sub(home) & self.mask;
            if dist_hole <= dist_j {
                self.entries[hole] = e;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.entries[hole] = EMPTY;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn behaves_like_a_hash_map_under_churn() {
        let mut m = IdMap::with_capacity(64);
        let mut model: HashMap<u64, u32> = HashMap::new();
        let mut x = 12345u64;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct keys with colliding low bits, to stress probing.
            let key = (x % 97) << 20;
            if model.len() < 64 && !x.is_multiple_of(3) {
                if let std::collections::hash_map::Entry::Vacant(v) = model.entry(key) {
                    v.insert(step);
                    m.insert(key, step);
                }
            } else {
                model.remove(&key);
                m.remove(key);
            }
            for k in 0..97u64 {
                assert_eq!(
                    m.get(k << 20),
                    model.get(&(k << 20)).copied(),
                    "step {step} key {k}"
                );
            }
        }
    }
}
