//! An ordered set over a pool of fixed-size sorted chunks: the trigger index's
//! storage. `BTreeSet` allocates and frees nodes as keys come and go; this set
//! takes its chunks from a pool that [`OrderedSet::reserve`] fills up front, so
//! inserts and removes on the engine's event path allocate nothing while the
//! set stays within what was reserved (beyond it, a chunk is allocated — a
//! correct but slower path the allocation test would catch).
//!
//! Layout: keys live in chunks of at most [`CHUNK`] sorted keys; `order` lists
//! the non-empty chunks by their keys. Finding a key is a binary search over
//! `order` (by each chunk's first key) and one within the chunk; inserting into
//! a full chunk splits it in two. Every operation is O(log n + CHUNK + n/CHUNK)
//! memory moves at worst, with small constants.

/// Keys per chunk.
pub const CHUNK: usize = 64;

/// A sorted set of `Copy` keys.
#[derive(Clone, Debug, Default)]
pub struct OrderedSet<K: Ord + Copy> {
    chunks: Vec<Vec<K>>,
    order: Vec<u32>,
    /// First key of each chunk in `order` (same positions): the search runs over this.
    firsts: Vec<K>,
    free: Vec<u32>,
    len: usize,
}

impl<K: Ord + Copy> OrderedSet<K> {
    /// An empty set (no allocation until the first insert or reserve).
    pub fn new() -> Self {
        OrderedSet { chunks: Vec::new(), order: Vec::new(), firsts: Vec::new(), free: Vec::new(), len: 0 }
    }

    /// Makes room for `keys` keys in total without further allocation.
    pub fn reserve(&mut self, keys: usize) {
        // Every chunk but a sole one holds at least CHUNK/4 keys (splits leave halves,
        // removals restore the floor), so 4·keys/CHUNK + 1 chunks always suffice.
        let want = 4 * keys / CHUNK + 2;
        if self.chunks.len() >= want {
            return;
        }
        let more = want - self.chunks.len();
        self.chunks.reserve_exact(more);
        self.order.reserve_exact(want.saturating_sub(self.order.len()));
        self.firsts.reserve_exact(want.saturating_sub(self.firsts.len()));
        self.free.reserve_exact(want.saturating_sub(self.free.len()));
        for _ in 0..more {
            self.free.push(self.chunks.len() as u32);
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn take_chunk(&mut self) -> u32 {
        if let Some(id) = self.free.pop() {
            return id;
        }
        self.chunks.push(Vec::with_capacity(CHUNK));
        (self.chunks.len() - 1) as u32
    }

    /// Index in `order` of the chunk that holds (or would hold) `key`.
    fn locate(&self, key: &K) -> usize {
        let after = self.firsts.partition_point(|first| first <= key);
        after.saturating_sub(1)
    }

    /// Adds `key`; false if it was there.
    pub fn insert(&mut self, key: K) -> bool {
        if self.order.is_empty() {
            let id = self.take_chunk();
            self.chunks[id as usize].push(key);
            self.order.push(id);
            self.firsts.push(key);
            self.len = 1;
            return true;
        }
        let pos = self.locate(&key);
        let id = self.order[pos] as usize;
        let at = match self.chunks[id].binary_search(&key) {
            Ok(_) => return false,
            Err(at) => at,
        };
        if self.chunks[id].len() < CHUNK {
            self.chunks[id].insert(at, key);
            if at == 0 {
                self.firsts[pos] = key;
            }
        } else {
            let new = self.take_chunk() as usize;
            let (left, right) = if id < new {
                let (a, b) = self.chunks.split_at_mut(new);
                (&mut a[id], &mut b[0])
            } else {
                let (a, b) = self.chunks.split_at_mut(id);
                (&mut b[0], &mut a[new])
            };
            right.extend_from_slice(&left[CHUNK / 2..]);
            left.truncate(CHUNK / 2);
            if at <= CHUNK / 2 {
                left.insert(at, key);
            } else {
                right.insert(at - CHUNK / 2, key);
            }
            self.firsts[pos] = left[0];
            let right_first = right[0];
            self.order.insert(pos + 1, new as u32);
            self.firsts.insert(pos + 1, right_first);
        }
        self.len += 1;
        true
    }

    /// Removes `key`; false if it was not there.
    pub fn remove(&mut self, key: &K) -> bool {
        if self.order.is_empty() {
            return false;
        }
        let pos = self.locate(key);
        let id = self.order[pos] as usize;
        let Ok(at) = self.chunks[id].binary_search(key) else { return false };
        self.chunks[id].remove(at);
        if self.chunks[id].is_empty() {
            self.order.remove(pos);
            self.firsts.remove(pos);
            self.free.push(id as u32);
        } else {
            if at == 0 {
                self.firsts[pos] = self.chunks[id][0];
            }
            if self.chunks[id].len() < CHUNK / 4 {
                self.merge_small(pos);
            }
        }
        self.len -= 1;
        true
    }

    /// Restores the fill floor of the chunk at `order[pos]`, just under a quarter full: it
    /// is folded into a neighbour when both fit in one chunk, else the two share their keys
    /// evenly. Every chunk but a sole one thus holds at least `CHUNK / 4` keys, so removals
    /// cannot leave a long tail of nearly empty chunks (which would make `order` long and
    /// every split's shift of it slow) and `4·len/CHUNK + 1` chunks are ever in use.
    fn merge_small(&mut self, pos: usize) {
        let (left, right) = if pos + 1 < self.order.len() {
            (pos, pos + 1)
        } else if pos > 0 {
            (pos - 1, pos)
        } else {
            return;
        };
        let (l, r) = (self.order[left] as usize, self.order[right] as usize);
        let (mut lc, mut rc) = (std::mem::take(&mut self.chunks[l]), std::mem::take(&mut self.chunks[r]));
        let total = lc.len() + rc.len();
        if total <= CHUNK {
            lc.extend_from_slice(&rc);
            rc.clear();
            self.order.remove(right);
            self.firsts.remove(right);
            self.free.push(r as u32);
        } else if lc.len() < total / 2 {
            let m = total / 2 - lc.len();
            lc.extend_from_slice(&rc[..m]);
            rc.drain(..m);
            self.firsts[right] = rc[0];
        } else {
            let m = lc.len() - total / 2;
            let at = lc.len() - m;
            rc.splice(0..0, lc.drain(at..));
            self.firsts[right] = rc[0];
        }
        // Buffers go back with their capacity kept (no allocation).
        self.chunks[l] = lc;
        self.chunks[r] = rc;
    }

    /// Replaces the contents with `sorted` (strictly ascending keys), chunks filled to three
    /// quarters so later inserts rarely split; the chunk buffers are reused. Returns false
    /// (and leaves the set empty) if `sorted` is not strictly ascending.
    pub fn rebuild_sorted(&mut self, sorted: &[K]) -> bool {
        for &id in &self.order {
            self.chunks[id as usize].clear();
            self.free.push(id);
        }
        self.order.clear();
        self.firsts.clear();
        self.len = 0;
        if !sorted.windows(2).all(|w| w[0] < w[1]) {
            return false;
        }
        for part in sorted.chunks(CHUNK * 3 / 4) {
            let id = self.take_chunk();
            self.chunks[id as usize].extend_from_slice(part);
            self.order.push(id);
            self.firsts.push(part[0]);
        }
        self.len = sorted.len();
        true
    }

    /// Whether `key` is in the set.
    pub fn contains(&self, key: &K) -> bool {
        if self.order.is_empty() {
            return false;
        }
        let id = self.order[self.locate(key)] as usize;
        self.chunks[id].binary_search(key).is_ok()
    }

    /// The smallest key.
    pub fn first(&self) -> Option<K> {
        self.order.first().map(|&id| self.chunks[id as usize][0])
    }

    /// The largest key.
    pub fn last(&self) -> Option<K> {
        self.order.last().and_then(|&id| self.chunks[id as usize].last().copied())
    }

    /// Every key in order.
    pub fn iter(&self) -> impl Iterator<Item = K> + '_ {
        self.order.iter().flat_map(move |&id| self.chunks[id as usize].iter().copied())
    }

    /// Keys `≥ from`, in order.
    pub fn iter_from(&self, from: K) -> impl Iterator<Item = K> + '_ {
        let pos = if self.order.is_empty() { 0 } else { self.locate(&from) };
        self.order[pos.min(self.order.len())..]
            .iter()
            .flat_map(move |&id| self.chunks[id as usize].iter().copied())
            .skip_while(move |k| *k < from)
    }

    /// Keys `< until`, in order.
    pub fn iter_before(&self, until: K) -> impl Iterator<Item = K> + '_ {
        self.iter().take_while(move |k| *k < until)
    }
}

/// Serialized as its keys in order; the chunk layout is rebuilt when it is read.
impl<K: Ord + Copy + serde::Serialize> serde::Serialize for OrderedSet<K> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, K: Ord + Copy + serde::Deserialize<'de>> serde::Deserialize<'de> for OrderedSet<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let keys = Vec::<K>::deserialize(d)?;
        if !keys.windows(2).all(|w| w[0] < w[1]) {
            return Err(serde::de::Error::custom("ordered set: keys not strictly ascending"));
        }
        let mut set = OrderedSet::new();
        set.reserve(keys.len());
        for k in keys {
            set.insert(k);
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(ops in prop::collection::vec((any::<bool>(), -300i64..300), 0..2_000), probe in -310i64..310) {
            let mut ours = OrderedSet::new();
            ours.reserve(64);
            let mut reference = BTreeSet::new();
            for (add, k) in ops {
                if add {
                    prop_assert_eq!(ours.insert(k), reference.insert(k));
                } else {
                    prop_assert_eq!(ours.remove(&k), reference.remove(&k));
                }
                prop_assert_eq!(ours.len(), reference.len());
                if ours.order.len() > 1 {
                    prop_assert!(ours.order.iter().all(|&c| ours.chunks[c as usize].len() >= CHUNK / 4), "a chunk below the fill floor");
                }
                prop_assert!(ours.order.iter().zip(&ours.firsts).all(|(&c, f)| ours.chunks[c as usize][0] == *f));
            }
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), reference.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(ours.first(), reference.first().copied());
            prop_assert_eq!(ours.last(), reference.last().copied());
            prop_assert_eq!(ours.contains(&probe), reference.contains(&probe));
            prop_assert_eq!(ours.iter_from(probe).collect::<Vec<_>>(), reference.range(probe..).copied().collect::<Vec<_>>());
            prop_assert_eq!(ours.iter_before(probe).collect::<Vec<_>>(), reference.range(..probe).copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn reserved_sets_reuse_their_chunks() {
        let mut s = OrderedSet::new();
        s.reserve(10_000);
        let chunks = s.chunks.len();
        for round in 0..3 {
            for k in 0..10_000i64 {
                s.insert((k * 7_919) % 10_007 + round);
            }
            for k in 0..10_000i64 {
                s.remove(&((k * 7_919) % 10_007 + round));
            }
        }
        assert!(s.is_empty());
        assert_eq!(s.chunks.len(), chunks, "no chunk beyond the reserve");
    }

    #[test]
    fn scattered_removals_do_not_leave_a_tail_of_nearly_empty_chunks() {
        // The safe-band workload: keys leave from everywhere and come back clustered.
        let mut s = OrderedSet::new();
        s.reserve(20_000);
        for k in 0..20_000i64 {
            s.insert(k * 10);
        }
        for round in 0..5i64 {
            for k in (0..20_000i64).filter(|k| k % 7 != round) {
                s.remove(&(k * 10 + round));
                s.insert(k * 10 + round + 1);
            }
        }
        // Removing 9 keys in 10 everywhere.
        let keys: Vec<i64> = s.iter().collect();
        for (i, k) in keys.iter().enumerate() {
            if i % 10 != 0 {
                s.remove(k);
            }
        }
        let kept = keys.len().div_ceil(10);
        assert!(kept >= 1_000, "{kept}");
        assert_eq!(s.len(), kept);
        assert!(s.order.len() <= 4 * s.len() / CHUNK + 2, "{} chunks for {} keys", s.order.len(), s.len());
        assert_eq!(s.iter().count(), kept);
        assert_eq!(s.firsts.len(), s.order.len());
    }

    proptest! {
        #[test]
        fn a_bulk_loaded_set_behaves_like_a_btreeset(keys in prop::collection::btree_set(-5_000i64..5_000, 0..600), ops in prop::collection::vec((any::<bool>(), -5_000i64..5_000), 0..600)) {
            let mut ours = OrderedSet::new();
            ours.reserve(1_200);
            ours.insert(7);
            let sorted: Vec<i64> = keys.iter().copied().collect();
            prop_assert!(ours.rebuild_sorted(&sorted));
            let mut reference = keys.clone();
            prop_assert_eq!(ours.len(), reference.len());
            for (add, k) in ops {
                if add {
                    prop_assert_eq!(ours.insert(k), reference.insert(k));
                } else {
                    prop_assert_eq!(ours.remove(&k), reference.remove(&k));
                }
            }
            prop_assert_eq!(ours.iter().collect::<Vec<_>>(), reference.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(ours.first(), reference.first().copied());
            prop_assert_eq!(ours.last(), reference.last().copied());
        }
    }

    #[test]
    fn a_bulk_load_refuses_keys_out_of_order() {
        let mut s = OrderedSet::new();
        s.insert(1i64);
        assert!(!s.rebuild_sorted(&[3, 2]));
        assert!(s.is_empty() && s.first().is_none());
        assert!(!s.rebuild_sorted(&[2, 2]), "duplicates are refused");
        assert!(s.rebuild_sorted(&[2, 3]));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![2, 3]);
    }
}
