//! Public market data of the own book as the gateway publishes it: one
//! sequence over all instruments, the last `history` messages kept for gap
//! recovery, and an L2 copy per instrument for snapshots.

use std::collections::BTreeMap;

use crate::protocol::{side, BookLevel, Message, SnapshotBegin, SnapshotEnd, SnapshotLevel};

/// Market-data state.
pub struct MarketData {
    sequence: u64,
    history: Vec<Option<Message>>,
    /// Per instrument: bids and asks, price → lots.
    books: Vec<[BTreeMap<i64, i64>; 2]>,
}

impl MarketData {
    /// State for `instruments` instruments keeping `history` messages (at least 1).
    pub fn new(instruments: usize, history: usize) -> Self {
        Self { sequence: 0, history: vec![None; history.max(1)], books: (0..instruments).map(|_| [BTreeMap::new(), BTreeMap::new()]).collect() }
    }

    /// The last sequence number published.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Gives `message` the next sequence number (via `stamp`), keeps it, applies a
    /// level to the L2 copy, and returns it.
    pub fn publish(&mut self, mut message: Message) -> Message {
        self.sequence += 1;
        let seq = self.sequence;
        match &mut message {
            Message::BookLevel(m) => {
                m.md_sequence = seq;
                if let Some(book) = self.books.get_mut(m.instrument as usize) {
                    let side = &mut book[usize::from(m.side == side::SELL)];
                    if m.qty > 0 {
                        side.insert(m.price, m.qty);
                    } else {
                        side.remove(&m.price);
                    }
                }
            }
            Message::Trade(m) => m.md_sequence = seq,
            Message::MarkPrice(m) => m.md_sequence = seq,
            _ => {}
        }
        let slot = (seq % self.history.len() as u64) as usize;
        self.history[slot] = Some(message);
        message
    }

    /// The kept messages `from..=to`, or `None` when part of the range is gone or not yet published.
    pub fn replay(&self, from: u64, to: u64) -> Option<impl Iterator<Item = Message> + '_> {
        let held_from = self.sequence.saturating_sub(self.history.len() as u64 - 1).max(1);
        if from == 0 || from > to || from < held_from || to > self.sequence {
            return None;
        }
        Some((from..=to).filter_map(|s| self.history[(s % self.history.len() as u64) as usize]))
    }

    /// A snapshot of one instrument: begin, levels (bids best first, then asks), end.
    pub fn snapshot(&self, instrument: u32, mut emit: impl FnMut(Message)) -> bool {
        let Some(book) = self.books.get(instrument as usize) else { return false };
        let levels = (book[0].len() + book[1].len()) as u32;
        emit(Message::SnapshotBegin(SnapshotBegin { md_sequence: self.sequence, instrument, levels }));
        for (&price, &qty) in book[0].iter().rev() {
            emit(Message::SnapshotLevel(SnapshotLevel { instrument, side: side::BUY, price, qty }));
        }
        for (&price, &qty) in book[1].iter() {
            emit(Message::SnapshotLevel(SnapshotLevel { instrument, side: side::SELL, price, qty }));
        }
        emit(Message::SnapshotEnd(SnapshotEnd { md_sequence: self.sequence, instrument }));
        true
    }

    /// The L2 copy's total at a price (tests).
    pub fn level(&self, instrument: u32, side_code: u8, price: i64) -> i64 {
        self.books.get(instrument as usize).and_then(|b| b[usize::from(side_code == side::SELL)].get(&price).copied()).unwrap_or(0)
    }
}

/// A level update message (sequence filled in by [`MarketData::publish`]).
pub fn level(instrument: u32, side_code: u8, price: i64, qty: i64) -> Message {
    Message::BookLevel(BookLevel { md_sequence: 0, instrument, side: side_code, price, qty })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_sequence_replay_and_snapshot() {
        let mut md = MarketData::new(1, 3);
        for (p, q) in [(100, 5), (101, 7), (100, 0), (99, 2)] {
            md.publish(level(0, side::BUY, p, q));
        }
        assert_eq!(md.sequence(), 4);
        assert_eq!((md.level(0, side::BUY, 100), md.level(0, side::BUY, 101)), (0, 7));
        let seqs: Vec<u64> = md.replay(2, 4).unwrap().map(|m| if let Message::BookLevel(b) = m { b.md_sequence } else { 0 }).collect();
        assert_eq!(seqs, vec![2, 3, 4]);
        assert!(md.replay(1, 4).is_none(), "sequence 1 fell out of a 3-message history");
        assert!(md.replay(4, 5).is_none(), "5 is not published yet");
        let mut snap = Vec::new();
        assert!(md.snapshot(0, |m| snap.push(m)));
        assert_eq!(snap.len(), 4, "begin, two bid levels, end");
        assert!(matches!(snap[1], Message::SnapshotLevel(SnapshotLevel { price: 101, qty: 7, .. })), "best bid first");
        assert!(!md.snapshot(5, |_| {}), "unknown instrument");
    }
}
