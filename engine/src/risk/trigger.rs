//! The trigger index: per instrument, liquidation prices of longs and shorts
//! in two ordered sets, so a mark update finds every crossed position in
//! O(log n + k).
//!
//! A long with trigger `t` is crossed iff `mark < t`: the longs with
//! `t > mark`, a suffix of the long set. A short is crossed iff `mark > t`:
//! the shorts with `t < mark`, a prefix of the short set. The two cached
//! extremes (highest long trigger, lowest short trigger) answer the common
//! "nothing crossed" case without touching the trees.


use super::account::AccountId;
use super::trigger_price::Trigger;
use super::ordered_set::OrderedSet;

/// Ordered liquidation prices of one instrument.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
pub struct InstrumentTriggers {
    longs: OrderedSet<(i64, AccountId)>,
    shorts: OrderedSet<(i64, AccountId)>,
    /// Highest long trigger (`i64::MIN` when there is none).
    max_long: i64,
    /// Lowest short trigger (`i64::MAX` when there is none).
    min_short: i64,
}

impl InstrumentTriggers {
    /// An empty index.
    pub fn new() -> Self {
        InstrumentTriggers {
            longs: OrderedSet::new(),
            shorts: OrderedSet::new(),
            max_long: i64::MIN,
            min_short: i64::MAX,
        }
    }

    /// Adds a position's trigger.
    pub fn insert(&mut self, trigger: Trigger, account: AccountId) {
        match trigger {
            Trigger::Long(t) => {
                self.longs.insert((t, account));
                self.max_long = self.max_long.max(t);
            }
            Trigger::Short(t) => {
                self.shorts.insert((t, account));
                self.min_short = self.min_short.min(t);
            }
        }
    }

    /// Removes a position's trigger (it must be the key that was inserted).
    pub fn remove(&mut self, trigger: Trigger, account: AccountId) {
        match trigger {
            Trigger::Long(t) => {
                self.longs.remove(&(t, account));
                if t == self.max_long {
                    self.max_long = self.longs.last().map_or(i64::MIN, |e| e.0);
                }
            }
            Trigger::Short(t) => {
                self.shorts.remove(&(t, account));
                if t == self.min_short {
                    self.min_short = self.shorts.first().map_or(i64::MAX, |e| e.0);
                }
            }
        }
    }

    /// Appends to `out` every account whose trigger `mark` has crossed.
    #[inline]
    pub fn crossed(&self, mark: i64, out: &mut Vec<AccountId>) {
        if mark < self.max_long {
            out.extend(self.longs.iter_from((mark.saturating_add(1), 0)).map(|e| e.1));
        }
        if mark > self.min_short {
            out.extend(self.shorts.iter_before((mark, 0)).map(|e| e.1));
        }
    }

    /// The account `mark` has crossed furthest (highest long trigger above it, else
    /// lowest short trigger below it), found without walking the crossed set.
    #[inline]
    pub fn most_crossed(&self, mark: i64) -> Option<AccountId> {
        if mark < self.max_long {
            return self.longs.last().map(|e| e.1);
        }
        if mark > self.min_short {
            return self.shorts.first().map(|e| e.1);
        }
        None
    }

    /// Calls `f(account, trigger)` for every position not crossed at `mark` that would be
    /// at `down` (longs, `down ≤ mark`) or at `up` (shorts, `up ≥ mark`): the warning band.
    pub fn in_band(&self, mark: i64, down: i64, up: i64, mut f: impl FnMut(AccountId, Trigger)) {
        if down < mark && down < self.max_long {
            for e in self.longs.iter_from((down.saturating_add(1), 0)).take_while(|e| e.0 <= mark) {
                f(e.1, Trigger::Long(e.0));
            }
        }
        if up > mark && up > self.min_short {
            for e in self.shorts.iter_from((mark, 0)).take_while(|e| e.0 < up) {
                f(e.1, Trigger::Short(e.0));
            }
        }
    }

    /// Replaces the index with `longs` and `shorts` (each sorted strictly ascending by
    /// trigger, then account); false (and an empty index) if either is not.
    pub fn rebuild(&mut self, longs: &[(i64, AccountId)], shorts: &[(i64, AccountId)]) -> bool {
        let ok = self.longs.rebuild_sorted(longs) & self.shorts.rebuild_sorted(shorts);
        if !ok {
            self.longs.rebuild_sorted(&[]);
            self.shorts.rebuild_sorted(&[]);
        }
        self.max_long = self.longs.last().map_or(i64::MIN, |e| e.0);
        self.min_short = self.shorts.first().map_or(i64::MAX, |e| e.0);
        ok
    }

    /// Makes room for `positions` entries on each side without allocating later.
    pub fn reserve(&mut self, positions: usize) {
        self.longs.reserve(positions);
        self.shorts.reserve(positions);
    }

    /// Number of indexed positions.
    pub fn len(&self) -> usize {
        self.longs.len() + self.shorts.len()
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_the_crossed_positions() {
        let mut ix = InstrumentTriggers::new();
        ix.insert(Trigger::Long(100), 1);
        ix.insert(Trigger::Long(90), 2);
        ix.insert(Trigger::Short(120), 3);
        ix.insert(Trigger::Short(110), 4);
        let mut out = Vec::new();
        ix.crossed(100, &mut out);
        assert!(out.is_empty(), "long at 100 needs mark < 100");
        ix.crossed(99, &mut out);
        assert_eq!(out, vec![1]);
        out.clear();
        ix.crossed(115, &mut out);
        assert_eq!(out, vec![4]);
        out.clear();
        ix.remove(Trigger::Short(110), 4);
        ix.crossed(115, &mut out);
        assert!(out.is_empty());
        ix.remove(Trigger::Long(100), 1);
        ix.crossed(95, &mut out);
        assert!(out.is_empty());
        ix.crossed(89, &mut out);
        assert_eq!(out, vec![2]);
        assert_eq!(ix.len(), 2);
    }
}
