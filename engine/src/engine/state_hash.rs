//! [`Engine::state_hash`]: a 64-bit fingerprint of the state that decides what
//! the engine does next and what it owes, computed in a fixed order so two
//! engines fed the same inputs agree and one differing input shows.
//!
//! Covered, in this order (integers little-endian, FNV-1a 64):
//! - the event time ([`Engine::now`]) and the next liquidation id;
//! - per instrument: the mark (0 when none);
//! - per account in id order: margin mode, wallet, realized PnL, funding, fees,
//!   and every position (instrument, size, entry notional, isolated margin);
//! - insurance fund balance, paid in and drawn; fee pool; bad debt;
//! - per own book, bids then asks, every resting order in priority order
//!   (id, account, price, quantity);
//! - every active liquidation by pool slot (id, account, instrument, planned,
//!   remaining, stage).
//!
//! Not covered: mirrored venue books, oracle and volatility internals, timers,
//! metrics and histograms (they follow from the inputs but are not positions,
//! money or orders). Not a cryptographic hash.

use gavel_feeds::wire::Side;

use super::Engine;
use crate::risk::MarginMode;

/// FNV-1a over little-endian integers.
#[derive(Clone, Copy, Debug)]
pub struct StateHasher(u64);

impl Default for StateHasher {
    fn default() -> Self {
        StateHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl StateHasher {
    /// Feeds bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Feeds a u64.
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Feeds an i64.
    pub fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    /// Feeds an i128.
    pub fn i128(&mut self, v: i128) {
        self.bytes(&v.to_le_bytes());
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Engine {
    /// A deterministic fingerprint of ledger, own books, active liquidations and
    /// event time (see the module documentation for exactly what is covered).
    pub fn state_hash(&self) -> u64 {
        let mut h = StateHasher::default();
        h.i64(self.now);
        h.u64(self.next_liquidation_id);
        let book = &self.ledger.book;
        for i in 0..self.instrument_count() {
            h.i64(book.mark(i as crate::risk::InstrumentId).unwrap_or(0));
        }
        h.u64(book.accounts().len() as u64);
        for acc in book.accounts() {
            h.u64(u64::from(matches!(acc.mode, MarginMode::Isolated)));
            h.i128(acc.wallet);
            h.i128(acc.realized_pnl);
            h.i128(acc.funding);
            h.i128(acc.fees);
            h.u64(acc.positions.len() as u64);
            for p in &acc.positions {
                h.u64(u64::from(p.instrument));
                h.i64(p.size);
                h.i128(p.entry_notional);
                h.i128(p.isolated_margin);
            }
        }
        let fund = &self.ledger.fund;
        h.i128(fund.balance());
        h.i128(fund.paid_in);
        h.i128(fund.drawn);
        h.i128(self.ledger.fee_pool());
        h.i128(self.ledger.bad_debt());
        for b in &self.books {
            for side in [Side::Bid, Side::Ask] {
                h.u64(b.len() as u64);
                b.for_each_order(side, |o| {
                    h.u64(o.id);
                    h.u64(u64::from(o.account));
                    h.i64(o.price);
                    h.i64(o.qty);
                });
            }
        }
        h.u64(self.active_count as u64);
        for (slot, l) in self.pool.iter().enumerate() {
            if let Some(l) = l {
                h.u64(slot as u64);
                h.u64(l.id);
                h.u64(u64::from(l.account));
                h.u64(u64::from(l.instrument));
                h.i64(l.planned);
                h.i64(l.remaining);
                h.u64(l.stage as u64);
            }
        }
        h.finish()
    }

    /// Resting orders in all own books.
    pub fn resting_orders(&self) -> usize {
        self.books.iter().map(|b| b.len()).sum()
    }
}
