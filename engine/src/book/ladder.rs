//! One side's price levels: a sorted array of `(key, level slot)` with the
//! best level at the end, over a slab of level records with a free list.
//!
//! The key is the price for bids and the negated price for asks, so on both
//! sides keys ascend towards the best price and the best level is the last
//! element. Activity clusters near the top of the book, so inserting or
//! removing a level moves only the few entries above it, and lookups scan the
//! last few entries before falling back to binary search.

/// Sentinel for "no slot".
pub(crate) const NIL: u32 = u32::MAX;

/// A price level: aggregate quantity and an intrusive FIFO of order slots.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub price: i64,
    pub total: i64,
    pub head: u32,
    pub tail: u32,
    pub count: u32,
}

impl Level {
    const EMPTY: Level = Level {
        price: 0,
        total: 0,
        head: NIL,
        tail: NIL,
        count: 0,
    };
}

/// Slab of level records shared by both sides (stable indices for orders).
pub(crate) struct LevelSlab {
    pub levels: Vec<Level>,
    free: Vec<u32>,
}

impl LevelSlab {
    pub fn with_capacity(capacity: usize) -> Self {
        let levels = vec![Level::EMPTY; capacity];
        let free = (0..capacity as u32).rev().collect();
        LevelSlab { levels, free }
    }

    #[inline]
    pub fn alloc(&mut self, price: i64) -> Option<u32> {
        let slot = self.free.pop()?;
        self.levels[slot as usize] = Level {
            price,
            ..Level::EMPTY
        };
        Some(slot)
    }

    #[inline]
    pub fn release(&mut self, slot: u32) {
        self.free.push(slot);
    }
}

/// The sorted index of one side.
pub(crate) struct Ladder {
    keys: Vec<i64>,
    slots: Vec<u32>,
    capacity: usize,
    is_bid: bool,
}

/// How many entries from the top are scanned linearly before binary search.
const LINEAR_SCAN: usize = 8;

impl Ladder {
    pub fn new(capacity: usize, is_bid: bool) -> Self {
        Ladder {
            keys: Vec::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            capacity,
            is_bid,
        }
    }

    #[inline]
    pub fn key(&self, price: i64) -> i64 {
        if self.is_bid {
            price
        } else {
            -price
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.keys.len() >= self.capacity
    }

    /// Slot of the best level.
    #[inline]
    pub fn best(&self) -> Option<u32> {
        self.slots.last().copied()
    }

    /// Slot of the level `depth` places below the best (0 = best).
    #[inline]
    pub fn nth_from_best(&self, depth: usize) -> Option<u32> {
        let n = self.slots.len();
        if depth < n {
            Some(self.slots[n - 1 - depth])
        } else {
            None
        }
    }

    /// `Ok(index)` of the level with this price, or `Err(index)` where it would go.
    #[inline]
    pub fn find(&self, price: i64) -> Result<usize, usize> {
        let key = self.key(price);
        let n = self.keys.len();
        let stop = n.saturating_sub(LINEAR_SCAN);
        let mut i = n;
        while i > stop {
            let k = self.keys[i - 1];
            if k == key {
                return Ok(i - 1);
            }
            if k < key {
                return Err(i);
            }
            i -= 1;
        }
        self.keys[..stop].binary_search(&key)
    }

    #[inline]
    pub fn slot_at(&self, index: usize) -> u32 {
        self.slots[index]
    }

    /// Inserts a level at `index` (from a failed [`Ladder::find`]); the caller checked capacity.
    #[inline]
    pub fn insert(&mut self, index: usize, price: i64, slot: u32) {
        debug_assert!(!self.is_full());
        let key = self.key(price);
        self.keys.insert(index, key);
        self.slots.insert(index, slot);
    }

    /// Removes the level with this price (which must exist).
    #[inline]
    pub fn remove_price(&mut self, price: i64) {
        if let Ok(i) = self.find(price) {
            self.remove_at(i);
        }
    }

    #[inline]
    pub fn remove_at(&mut self, index: usize) {
        if index + 1 == self.keys.len() {
            self.keys.pop();
            self.slots.pop();
        } else {
            self.keys.remove(index);
            self.slots.remove(index);
        }
    }

    /// Removes the best level.
    #[inline]
    pub fn pop_best(&mut self) {
        self.keys.pop();
        self.slots.pop();
    }

    /// Level slots from best to worst.
    pub fn iter_best_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots.iter().rev().copied()
    }
}
