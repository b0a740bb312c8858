//! Replays LOBSTER message files through gavel's L3 book and compares the
//! result with LOBSTER's order-book file.
//!
//! Mapping: a submit rests the order without matching ([`Book::place`];
//! LOBSTER reports trades as separate execution messages). Partial cancels and
//! visible executions reduce the order by id; deletes cancel it. An order the
//! book never saw (it rested before the file starts, or deeper than the file's
//! N levels) is handled as a reduction of its price level, oldest orders first
//! ([`Book::reduce_level`]); never a failure. Hidden executions, cross trades
//! and halts do not change the visible book.
//!
//! Seeding and resync place "anonymous" orders (ids with the top bit set) for
//! the quantity the reference shows and gavel does not know.

use super::{Book, BookConfig, DepthLevel};
use gavel_feeds::lobster::{BookRow, Message, MessageType, EMPTY_ASK_PRICE, EMPTY_BID_PRICE};
use gavel_feeds::wire::Side;

/// Ids of anonymous (seed/resync) orders start here; LOBSTER ids are far smaller.
pub const ANONYMOUS_ID_BASE: u64 = 1 << 63;

/// Why gavel's side of a row differed from the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchCause {
    /// The message emptied a level inside the top N of this side, so a level
    /// from beyond the file's window surfaced at rank N, and only rank N differs:
    /// its content is depth the file cannot show.
    SurfacedFromDepth,
    /// The message named a known order whose quantity in gavel disagreed with
    /// the message (e.g. a delete of 100 lots of an order gavel holds at 200): the
    /// order was changed while its level was beyond the file's window, by a
    /// message the file does not contain.
    OrderChangedOutsideWindow,
    /// Anything else (a replay defect or an inconsistency of the file).
    Unexplained,
}

/// What one message did to the book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Applied {
    /// The side the message touched (`None` for halts and non-book events).
    pub side: Option<Side>,
    /// Rank (0 = best) of a level of that side that the message emptied.
    pub emptied_rank: Option<usize>,
    /// The message referred to an order the book did not know.
    pub unknown_order: bool,
    /// The message referred to a known order whose quantity disagreed with it.
    pub qty_disagreed: bool,
}

/// Counters of a replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ReplayStats {
    /// Messages applied.
    pub messages: u64,
    /// Messages about orders the book never saw (applied as level reductions).
    pub unknown_orders: u64,
    /// Reductions of unknown orders at a price where the book had no level.
    pub missing_levels: u64,
    /// Messages whose size exceeded gavel's quantity of the order (after a resync
    /// cut it); the excess was taken from the level.
    pub shortfalls: u64,
    /// Orders that could not be placed (pool or level capacity).
    pub capacity_rejects: u64,
}

/// A LOBSTER replay: the book plus seed/resync bookkeeping.
pub struct LobsterReplay {
    book: Book,
    levels: usize,
    next_anonymous: u64,
    depth: Vec<DepthLevel>,
    scratch: Vec<i64>,
    /// Counters.
    pub stats: ReplayStats,
}

impl LobsterReplay {
    /// An empty replay writing and comparing `levels` levels.
    pub fn new(levels: usize) -> Self {
        let config = BookConfig {
            order_capacity: 1 << 18,
            level_capacity: 1 << 14,
            ..BookConfig::default()
        };
        LobsterReplay {
            book: Book::new(config),
            levels,
            next_anonymous: ANONYMOUS_ID_BASE,
            depth: vec![DepthLevel::default(); levels],
            scratch: Vec::with_capacity(1024),
            stats: ReplayStats::default(),
        }
    }

    /// The underlying book.
    pub fn book(&self) -> &Book {
        &self.book
    }

    /// Sets both sides from a reference row (the initial state).
    pub fn seed(&mut self, row: &BookRow) {
        self.resync_side(Side::Ask, &row.asks);
        self.resync_side(Side::Bid, &row.bids);
    }

    /// Applies one message.
    pub fn apply(&mut self, m: &Message) -> Applied {
        self.stats.messages += 1;
        let mut applied = Applied::default();
        if m.side == Side::None {
            return applied;
        }
        match m.kind {
            MessageType::Submit => {
                applied.side = Some(m.side);
                if m.size > 0
                    && self
                        .book
                        .place(m.order_id, 1, m.side, m.price, m.size)
                        .is_err()
                {
                    // A re-used id (never seen in LOBSTER's samples) still adds its quantity.
                    if self.place_anonymous(m.side, m.price, m.size).is_err() {
                        self.stats.capacity_rejects += 1;
                    }
                }
            }
            MessageType::PartialCancel | MessageType::Delete | MessageType::VisibleExecution => {
                applied.side = Some(m.side);
                let (side, price) = match self.book.order(m.order_id) {
                    Some(o) => (o.side, o.price),
                    None => (m.side, m.price),
                };
                let rank = self.book.level_rank(side, price);
                match self.book.order(m.order_id) {
                    Some(o) => {
                        // LOBSTER's size is the truth for this order. If gavel holds
                        // less, a resync cut this order for quantity that really left
                        // with another order of the level: take the excess from the level.
                        let removed = if m.kind == MessageType::Delete {
                            self.book.cancel(m.order_id).unwrap_or(0)
                        } else if m.size > 0 {
                            self.book.reduce(m.order_id, m.size).unwrap_or(0)
                        } else {
                            0
                        };
                        applied.qty_disagreed = if m.kind == MessageType::Delete {
                            m.size != o.qty
                        } else {
                            m.size > o.qty
                        };
                        if m.size > removed {
                            self.stats.shortfalls += 1;
                            self.book.reduce_level(o.side, o.price, m.size - removed);
                        }
                    }
                    None => {
                        applied.unknown_order = true;
                        self.stats.unknown_orders += 1;
                        if rank.is_none() {
                            self.stats.missing_levels += 1;
                        }
                        self.book.reduce_level(m.side, m.price, m.size);
                    }
                }
                if rank.is_some() && self.book.level_qty(side, price) == 0 {
                    applied.emptied_rank = rank;
                }
            }
            MessageType::HiddenExecution | MessageType::CrossTrade | MessageType::Halt => {}
        }
        applied
    }

    /// Writes gavel's current top N into `row` (sentinels for empty levels).
    pub fn snapshot(&mut self, row: &mut BookRow) {
        row.asks.clear();
        row.bids.clear();
        let n = self.book.depth(Side::Ask, &mut self.depth);
        for i in 0..self.levels {
            row.asks.push(if i < n {
                (self.depth[i].price, self.depth[i].qty)
            } else {
                (EMPTY_ASK_PRICE, 0)
            });
        }
        let n = self.book.depth(Side::Bid, &mut self.depth);
        for i in 0..self.levels {
            row.bids.push(if i < n {
                (self.depth[i].price, self.depth[i].qty)
            } else {
                (EMPTY_BID_PRICE, 0)
            });
        }
    }

    /// Classifies a side on which `ours` differs from `reference` after `applied`.
    pub fn classify(
        &self,
        side: Side,
        applied: &Applied,
        ours: &BookRow,
        reference: &BookRow,
    ) -> MismatchCause {
        let a = ours.side(side);
        let b = reference.side(side);
        let first_diff = a.iter().zip(b).position(|(x, y)| x != y);
        let emptied_in_window =
            applied.side == Some(side) && applied.emptied_rank.is_some_and(|r| r < self.levels);
        if emptied_in_window && first_diff == Some(self.levels - 1) {
            MismatchCause::SurfacedFromDepth
        } else if applied.side == Some(side) && applied.qty_disagreed {
            MismatchCause::OrderChangedOutsideWindow
        } else {
            MismatchCause::Unexplained
        }
    }

    /// Sets `side`'s top levels to `reference` (best first, sentinel-padded):
    /// gavel levels inside the reference's price range that the reference lacks
    /// are removed, quantities are cut (oldest orders first) or topped up with
    /// an anonymous order at the back of the level.
    pub fn resync_side(&mut self, side: Side, reference: &[(i64, i64)]) {
        let shown: usize = reference.iter().take_while(|(_, q)| *q > 0).count();
        let worst = if shown == reference.len() && shown > 0 {
            Some(reference[shown - 1].0)
        } else {
            None
        };
        // Levels of gavel's book within the reference range that it does not show.
        self.scratch.clear();
        let mut rank = 0;
        while let Some(price) = self.book.level_price_at(side, rank) {
            let inside = match worst {
                Some(w) => {
                    if side == Side::Bid {
                        price >= w
                    } else {
                        price <= w
                    }
                }
                None => true,
            };
            if !inside {
                break;
            }
            if !reference[..shown].iter().any(|(p, _)| *p == price) {
                self.scratch.push(price);
            }
            rank += 1;
        }
        for i in 0..self.scratch.len() {
            let price = self.scratch[i];
            self.book.clear_level(side, price);
        }
        for &(price, qty) in &reference[..shown] {
            let have = self.book.level_qty(side, price);
            if have > qty {
                self.book.reduce_level(side, price, have - qty);
            } else if have < qty && self.place_anonymous(side, price, qty - have).is_err() {
                self.stats.capacity_rejects += 1;
            }
        }
    }

    fn place_anonymous(&mut self, side: Side, price: i64, qty: i64) -> Result<(), super::Reject> {
        let id = self.next_anonymous;
        self.next_anonymous += 1;
        self.book.place(id, 0, side, price, qty)
    }
}

/// Counters of a compared replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CompareStats {
    /// Rows written.
    pub rows: u64,
    /// Rows where gavel's book differed from the reference on some side.
    pub mismatched_rows: u64,
    /// Sides re-set from the reference.
    pub resyncs: u64,
    /// Mismatched sides explained by depth the file cannot show.
    pub surfaced_from_depth: u64,
    /// Mismatched sides explained by an order changed outside the window.
    pub order_changed_outside_window: u64,
    /// Mismatched sides with no such explanation.
    pub unexplained: u64,
    /// Rows where some level above the last differed (rank < N − 1).
    pub rows_upper_levels_differ: u64,
}

impl CompareStats {
    /// Records the comparison of row `ours` (after `applied`) with `reference`
    /// and resyncs the replay where they differ. Returns the mismatched sides' causes.
    pub fn compare_and_resync(
        &mut self,
        replay: &mut LobsterReplay,
        applied: &Applied,
        ours: &BookRow,
        reference: &BookRow,
    ) -> [Option<MismatchCause>; 2] {
        self.rows += 1;
        let mut causes = [None, None];
        let n = replay.levels;
        let mut upper = false;
        for (k, side) in [Side::Ask, Side::Bid].into_iter().enumerate() {
            let a = ours.side(side);
            let b = reference.side(side);
            if a == b {
                continue;
            }
            if a[..n - 1] != b[..n - 1] {
                upper = true;
            }
            let cause = replay.classify(side, applied, ours, reference);
            match cause {
                MismatchCause::SurfacedFromDepth => self.surfaced_from_depth += 1,
                MismatchCause::OrderChangedOutsideWindow => self.order_changed_outside_window += 1,
                MismatchCause::Unexplained => self.unexplained += 1,
            }
            causes[k] = Some(cause);
            replay.resync_side(side, b);
            self.resyncs += 1;
        }
        if causes.iter().any(Option::is_some) {
            self.mismatched_rows += 1;
        }
        if upper {
            self.rows_upper_levels_differ += 1;
        }
        causes
    }
}

/// One mismatched side, as reported to [`run`]'s callback.
#[derive(Clone, Copy, Debug)]
pub struct Mismatch<'a> {
    /// 1-based row (= message) number.
    pub row: u64,
    /// The side that differed.
    pub side: Side,
    /// Why.
    pub cause: MismatchCause,
    /// The message applied before the row.
    pub message: &'a Message,
    /// gavel's levels of that side (best first).
    pub ours: &'a [(i64, i64)],
    /// The reference's levels of that side.
    pub reference: &'a [(i64, i64)],
}

/// Why a replay stopped.
#[derive(Debug)]
pub enum ReplayError {
    /// A bad row in the message or order-book file.
    Input(gavel_feeds::InputError),
    /// Writing a row failed.
    Io(std::io::Error),
    /// The order-book file ended before the message file.
    ReferenceTooShort {
        /// Message-file line that had no reference row.
        message_line: u64,
    },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Input(e) => write!(f, "{e}"),
            ReplayError::Io(e) => write!(f, "write failed: {e}"),
            ReplayError::ReferenceTooShort { message_line } => {
                write!(f, "the order-book file has fewer rows than the message file (message line {message_line})")
            }
        }
    }
}

impl std::error::Error for ReplayError {}

impl From<gavel_feeds::InputError> for ReplayError {
    fn from(e: gavel_feeds::InputError) -> Self {
        ReplayError::Input(e)
    }
}

/// How [`run`] uses the order-book file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceUse {
    /// Seed from its first row only.
    Seed,
    /// Seed from its first row, compare every row and resync differing sides.
    Resync,
}

/// Replays `messages` through a fresh book of `levels` levels. With a
/// reference order-book file the book starts from its first row (which already
/// includes message 1); otherwise it starts empty. Every row (gavel's book
/// after the message, before any resync) goes to `on_row`; with
/// [`ReferenceUse::Resync`] every differing side goes to `on_mismatch` and is
/// re-set from the reference. A bad row stops the replay with its error.
pub fn run(
    messages: &mut gavel_feeds::lobster::MessageReader,
    mut reference: Option<(&mut gavel_feeds::lobster::OrderbookReader, ReferenceUse)>,
    levels: usize,
    mut on_row: impl FnMut(&BookRow) -> std::io::Result<()>,
    mut on_mismatch: impl FnMut(&Mismatch<'_>),
) -> Result<(CompareStats, ReplayStats), ReplayError> {
    let mut replay = LobsterReplay::new(levels);
    let mut ours = BookRow::empty(levels);
    let mut reference_row = BookRow::empty(levels);
    let mut stats = CompareStats::default();
    let mut first = true;
    while let Some(msg) = messages.next_message()? {
        let (have_reference, compare) = match reference.as_mut() {
            Some((r, mode)) if first || *mode == ReferenceUse::Resync => (
                r.next_row(&mut reference_row)?,
                *mode == ReferenceUse::Resync,
            ),
            _ => (false, false),
        };
        if compare && !have_reference {
            return Err(ReplayError::ReferenceTooShort {
                message_line: messages.line(),
            });
        }
        let applied = if first && have_reference {
            replay.seed(&reference_row);
            None
        } else {
            Some(replay.apply(&msg))
        };
        replay.snapshot(&mut ours);
        on_row(&ours).map_err(ReplayError::Io)?;
        if compare {
            match applied {
                Some(a) => {
                    let causes = stats.compare_and_resync(&mut replay, &a, &ours, &reference_row);
                    for (cause, side) in causes.iter().zip([Side::Ask, Side::Bid]) {
                        if let Some(cause) = *cause {
                            on_mismatch(&Mismatch {
                                row: stats.rows,
                                side,
                                cause,
                                message: &msg,
                                ours: ours.side(side),
                                reference: reference_row.side(side),
                            });
                        }
                    }
                }
                None => stats.rows += 1,
            }
        }
        first = false;
    }
    Ok((stats, replay.stats))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_feeds::lobster::{MessageReader, OrderbookReader};
    use std::io::Cursor;

    fn readers(messages: &str, book: &str, levels: usize) -> (MessageReader, OrderbookReader) {
        (
            MessageReader::from_reader("m", Box::new(Cursor::new(messages.as_bytes().to_vec()))),
            OrderbookReader::from_reader(
                "o",
                Box::new(Cursor::new(book.as_bytes().to_vec())),
                levels,
            ),
        )
    }

    #[test]
    fn seeds_applies_and_resyncs_a_level_1_book() {
        // Row 1 = seed (ask 101×5, bid 99×10). Row 2: a new best bid 100×7.
        // Row 3: it is executed; the reference shows 98×4 surfacing (the 99 level
        // left outside the window) -> mismatch and resync. Row 4: an order gavel
        // never saw is executed at the ask: a level reduction.
        let msgs = "1.0,1,1,5,101,-1\n2.0,1,2,7,100,1\n3.0,4,2,7,100,1\n4.0,4,999,2,101,-1\n";
        let book = "101,5,99,10\n101,5,100,7\n101,5,98,4\n101,3,98,4\n";
        let (mut m, mut o) = readers(msgs, book, 1);
        let mut rows = Vec::new();
        let mut seen = Vec::new();
        let (stats, rstats) = run(
            &mut m,
            Some((&mut o, ReferenceUse::Resync)),
            1,
            |r| {
                rows.push(r.clone());
                Ok(())
            },
            |mm| seen.push((mm.row, mm.side, mm.cause)),
        )
        .unwrap();
        assert_eq!(rows[1].bids, vec![(100, 7)]);
        // gavel's own row 3 shows the seeded 99 level (before the resync).
        assert_eq!(rows[2].bids, vec![(99, 10)]);
        assert_eq!(seen, vec![(3, Side::Bid, MismatchCause::SurfacedFromDepth)]);
        assert_eq!(
            rows[3],
            BookRow {
                asks: vec![(101, 3)],
                bids: vec![(98, 4)]
            }
        );
        assert_eq!(
            (stats.rows, stats.mismatched_rows, stats.resyncs),
            (4, 1, 1)
        );
        assert_eq!(rstats.unknown_orders, 1);
    }

    #[test]
    fn bad_rows_stop_the_replay_with_their_location() {
        let (mut m, mut o) = readers(
            "1.0,1,1,5,101,-1\n2.0,1,2,x,100,1\n",
            "101,5,-9999999999,0\n",
            1,
        );
        let err = run(
            &mut m,
            Some((&mut o, ReferenceUse::Seed)),
            1,
            |_| Ok(()),
            |_| {},
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "m: line 2: field `Size`: not an integer: \"x\""
        );
        let (mut m, mut o) = readers(
            "1.0,1,1,5,101,-1\n2.0,1,2,5,100,1\n",
            "101,5,-9999999999,0\n",
            1,
        );
        let err = run(
            &mut m,
            Some((&mut o, ReferenceUse::Resync)),
            1,
            |_| Ok(()),
            |_| {},
        )
        .unwrap_err();
        assert!(matches!(
            err,
            ReplayError::ReferenceTooShort { message_line: 2 }
        ));
    }

    #[test]
    fn resync_drops_levels_the_reference_no_longer_has() {
        let mut r = LobsterReplay::new(2);
        r.seed(&BookRow {
            asks: vec![(10, 1), (12, 2)],
            bids: vec![(8, 3), (7, 4)],
        });
        r.apply(&Message {
            time_ns: 0,
            kind: MessageType::Submit,
            order_id: 5,
            size: 9,
            price: 11,
            side: Side::Ask,
        });
        r.resync_side(Side::Ask, &[(10, 2), (13, 1)]);
        let mut row = BookRow::default();
        r.snapshot(&mut row);
        assert_eq!(row.asks, vec![(10, 2), (13, 1)]);
        assert!(r.book().order(5).is_none());
    }
}
