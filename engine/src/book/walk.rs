//! Walking the resting orders of a [`Book`] in priority order (state hashes,
//! snapshots, tests). Not on the matching path.

use gavel_feeds::wire::Side;

use super::ladder::NIL;
use super::{Book, OrderView, ReduceOnlyCap};

impl<R: ReduceOnlyCap> Book<R> {
    /// Calls `f` with every resting order on `side`, best price first and, within
    /// a price, in time priority.
    pub fn for_each_order(&self, side: Side, mut f: impl FnMut(OrderView)) {
        if side == Side::None {
            return;
        }
        for level in self.ladder(side).iter_best_first() {
            let mut s = self.levels.levels[level as usize].head;
            while s != NIL {
                let slot = &self.slots[s as usize];
                f(OrderView { id: slot.id, account: slot.account, side: slot.side, price: slot.price, qty: slot.qty });
                s = slot.next;
            }
        }
    }
}
