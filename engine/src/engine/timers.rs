//! Liquidation timers: at most one per pool slot, in an indexed min-heap.
//!
//! A re-armed or finished liquidation's timer is moved or removed in place
//! (O(log n)), so no stale entry is ever left to expire later on the event path.
//! Ties on the due time go to the lower liquidation id, so the order timers fire
//! in is a function of the input events only.

/// Marks a slot with no timer in the position table.
const NONE: u32 = u32::MAX;

/// The timer heap; sized once, never grows.
///
/// Serialized as its slot count and heap entries; the position table is rebuilt when read.
#[derive(serde::Deserialize, Debug)]
#[serde(try_from = "StoredTimers")]
pub(crate) struct SlotTimers {
    /// Heap of (due ns, liquidation id, slot), earliest first.
    heap: Vec<(i64, u64, u32)>,
    /// Position of each slot's entry in `heap` (`NONE`: no timer).
    position: Vec<u32>,
}

/// The stored form of [`SlotTimers`].
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredTimers {
    slots: usize,
    heap: Vec<(i64, u64, u32)>,
}

impl serde::Serialize for SlotTimers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("StoredTimers", 2)?;
        st.serialize_field("slots", &self.position.len())?;
        st.serialize_field("heap", &self.heap)?;
        st.end()
    }
}

impl TryFrom<StoredTimers> for SlotTimers {
    type Error = String;

    fn try_from(stored: StoredTimers) -> Result<Self, String> {
        if stored.heap.len() > stored.slots {
            return Err(format!("timers: {} entries for {} slots", stored.heap.len(), stored.slots));
        }
        let mut position = vec![NONE; stored.slots];
        for (at, &(_, _, slot)) in stored.heap.iter().enumerate() {
            match position.get_mut(slot as usize) {
                Some(p) if *p == NONE => *p = at as u32,
                _ => return Err(format!("timers: slot {slot} out of range or armed twice")),
            }
        }
        let timers = SlotTimers { heap: stored.heap, position };
        if !(1..timers.heap.len()).all(|i| timers.key((i - 1) / 2) <= timers.key(i)) {
            return Err("timers: the heap is not ordered".into());
        }
        Ok(timers)
    }
}

impl SlotTimers {
    /// Room for one timer for each of `slots` pool slots.
    pub(crate) fn new(slots: usize) -> Self {
        SlotTimers { heap: Vec::with_capacity(slots), position: vec![NONE; slots] }
    }

    /// Pool slots it has room for.
    pub(crate) fn slots(&self) -> usize {
        self.position.len()
    }

    /// Pool slots with a timer armed.
    pub(crate) fn armed_slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.heap.iter().map(|&(_, _, slot)| slot as usize)
    }

    /// Reserves the heap's full room again (a restored heap holds only its entries).
    pub(crate) fn reserve_all(&mut self) {
        self.heap.reserve_exact(self.position.len().saturating_sub(self.heap.len()));
    }

    /// Timers armed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Arms (or moves) the timer of `slot`, whose liquidation is `id`, to `due`.
    pub(crate) fn set(&mut self, slot: usize, id: u64, due: i64) {
        let Some(&at) = self.position.get(slot) else { return };
        if at == NONE {
            self.heap.push((due, id, slot as u32));
            let last = self.heap.len() - 1;
            self.position[slot] = last as u32;
            self.sift_up(last);
        } else {
            let at = at as usize;
            self.heap[at] = (due, id, slot as u32);
            self.sift_up(at);
            self.sift_down(self.position[slot] as usize);
        }
    }

    /// Removes the timer of `slot`, if any.
    pub(crate) fn cancel(&mut self, slot: usize) {
        let Some(&at) = self.position.get(slot) else { return };
        if at != NONE {
            self.remove_at(at as usize);
        }
    }

    /// The earliest timer due at or before `now`, removed: its slot.
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<usize> {
        let &(due, _, slot) = self.heap.first()?;
        if due > now {
            return None;
        }
        self.remove_at(0);
        Some(slot as usize)
    }

    fn remove_at(&mut self, at: usize) {
        let slot = self.heap[at].2 as usize;
        self.position[slot] = NONE;
        let last = self.heap.len() - 1;
        if at != last {
            self.heap.swap(at, last);
            self.position[self.heap[at].2 as usize] = at as u32;
        }
        self.heap.pop();
        if at < self.heap.len() {
            // The entry moved into the hole may belong higher or lower.
            let moved = self.heap[at].2 as usize;
            self.sift_up(at);
            self.sift_down(self.position[moved] as usize);
        }
    }

    fn key(&self, i: usize) -> (i64, u64) {
        (self.heap[i].0, self.heap[i].1)
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.position[self.heap[a].2 as usize] = a as u32;
        self.position[self.heap[b].2 as usize] = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.key(i) >= self.key(parent) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut least = i;
            if l < n && self.key(l) < self.key(least) {
                least = l;
            }
            if r < n && self.key(r) < self.key(least) {
                least = r;
            }
            if least == i {
                return;
            }
            self.swap(i, least);
            i = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Against a model: the timers fire in (due, id) order, each at most once, and a
        /// moved or cancelled timer fires only at its last setting.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec((0usize..16, 0i64..50, 0u8..3), 1..200)) {
            let mut timers = SlotTimers::new(16);
            let mut model: Vec<Option<(i64, u64)>> = vec![None; 16];
            let mut now = 0i64;
            for (step, (slot, due, op)) in ops.into_iter().enumerate() {
                match op {
                    0 | 1 => {
                        let id = slot as u64 + 16 * step as u64;
                        timers.set(slot, id, now + due);
                        model[slot] = Some((now + due, id));
                    }
                    _ => {
                        timers.cancel(slot);
                        model[slot] = None;
                    }
                }
                now += 3;
                let mut fired = Vec::new();
                while let Some(s) = timers.pop_due(now) {
                    fired.push(s);
                }
                let mut due_model: Vec<(i64, u64, usize)> = model
                    .iter()
                    .enumerate()
                    .filter_map(|(s, t)| t.filter(|t| t.0 <= now).map(|t| (t.0, t.1, s)))
                    .collect();
                due_model.sort();
                let expected: Vec<usize> = due_model.iter().map(|t| t.2).collect();
                prop_assert_eq!(&fired, &expected);
                for s in expected {
                    model[s] = None;
                }
                prop_assert_eq!(timers.len(), model.iter().flatten().count());
            }
        }
    }
}
