//! A seeded Binance USD-M depth-diff path with its ground truth: one update id
//! per level change, diffs chained by `U/u/pu` (ids not contiguous between
//! frames, as on the futures stream), and the venue's book — hence its REST
//! snapshot — at any update id. The reconnect tests serve it from a local
//! server and check the replayed book against [`BookPath::book_at`].
//!
//! Prices are ticks of 0.1, quantities lots of 0.001, symbol [`SYMBOL`].

use std::collections::BTreeMap;

use gavel_feeds::decimal::Decimal;
use gavel_feeds::rng::SplitMix64;
use gavel_feeds::Side;

/// The symbol the frames name.
pub const SYMBOL: &str = "BTCUSDT";
/// Levels per side of the generated book.
pub const BOOK_LEVELS: i64 = 30;

/// One side's levels: price ticks → quantity lots.
pub type Levels = BTreeMap<i64, i64>;

/// One level change with its own update id.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    /// Update id.
    pub id: u64,
    /// Book side.
    pub side: Side,
    /// Price, ticks of 0.1.
    pub price: i64,
    /// Quantity, lots of 0.001; 0 removes the level.
    pub qty: i64,
}

/// One depth diff as the venue streams it.
pub struct Frame {
    /// First update id (`U`).
    pub first_id: u64,
    /// Final update id (`u`).
    pub final_id: u64,
    /// The combined-stream message.
    pub json: String,
}

/// A deterministic Binance USD-M book path: the initial book, every change, the frames.
pub struct BookPath {
    /// Bids and asks before the first frame.
    pub initial: (Levels, Levels),
    /// Every level change, in update-id order.
    pub changes: Vec<Change>,
    /// The depth-diff messages, in order.
    pub frames: Vec<Frame>,
}

fn price_text(ticks: i64) -> String {
    Decimal { mantissa: i128::from(ticks), scale: 1 }.to_string()
}

fn qty_text(lots: i64) -> String {
    Decimal { mantissa: i128::from(lots), scale: 3 }.to_string()
}

/// Levels as a Binance JSON array of `["price","qty"]` pairs.
pub fn levels_json<'a>(levels: impl Iterator<Item = (&'a i64, &'a i64)>) -> String {
    let items: Vec<String> = levels.map(|(&p, &q)| format!(r#"["{}","{}"]"#, price_text(p), qty_text(q))).collect();
    format!("[{}]", items.join(","))
}

/// The book the venue wants around `mid`: a ladder with the occasional hole,
/// resting quantities mostly kept from `previous`.
fn desired_side(rng: &mut SplitMix64, previous: &Levels, mid: i64, side: Side) -> Levels {
    let mut levels = Levels::new();
    for i in 0..BOOK_LEVELS {
        let price = if side == Side::Bid { mid - 1 - i } else { mid + 1 + i };
        if rng.below(100) < 8 {
            continue; // a hole in the ladder
        }
        let qty = match previous.get(&price) {
            Some(&q) if rng.below(100) < 75 => q,
            _ => rng.range_i64(1, 5_000),
        };
        levels.insert(price, qty);
    }
    levels
}

/// A level change before it gets its update id: side, price ticks, quantity lots.
type LevelSet = (Side, i64, i64);

/// Removals of `side` turning `old` into `new`, then additions and updates.
fn side_changes(old: &Levels, new: &Levels, side: Side) -> (Vec<LevelSet>, Vec<LevelSet>) {
    let removals = old.keys().filter(|p| !new.contains_key(p)).map(|&p| (side, p, 0)).collect();
    let sets = new.iter().filter(|(p, q)| old.get(p) != Some(q)).map(|(&p, &q)| (side, p, q)).collect();
    (removals, sets)
}

impl BookPath {
    /// A path of `frame_count` frames from `seed` (the same seed, the same path).
    pub fn generate(seed: u64, frame_count: usize) -> BookPath {
        let mut rng = SplitMix64::new(seed);
        let mut mid = 500_000i64; // 50000.0
        let mut bids = desired_side(&mut rng, &Levels::new(), mid, Side::Bid);
        let mut asks = desired_side(&mut rng, &Levels::new(), mid, Side::Ask);
        let initial = (bids.clone(), asks.clone());
        let mut changes = Vec::new();
        let mut frames = Vec::with_capacity(frame_count);
        let mut last_final = 7_000_000u64;
        for k in 0..frame_count {
            mid += rng.range_i64(-3, 3);
            let new_bids = desired_side(&mut rng, &bids, mid, Side::Bid);
            let new_asks = desired_side(&mut rng, &asks, mid, Side::Ask);
            let (mut ordered, bid_sets) = side_changes(&bids, &new_bids, Side::Bid);
            let (ask_removals, ask_sets) = side_changes(&asks, &new_asks, Side::Ask);
            // Removals first: every partly applied frame (a snapshot taken inside
            // its id range) is then a subset of the old or the new book, never crossed.
            ordered.extend(ask_removals);
            ordered.extend(bid_sets);
            ordered.extend(ask_sets);
            if ordered.is_empty() {
                let (&price, &qty) = new_bids.iter().next_back().unwrap();
                ordered.push((Side::Bid, price, qty + 1));
            }
            // Futures ids are not contiguous between frames (other symbols share them).
            let first_id = last_final + 1 + rng.below(3);
            let final_id = first_id + ordered.len() as u64 - 1;
            let (mut b, mut a) = (Vec::new(), Vec::new());
            for (n, &(side, price, qty)) in ordered.iter().enumerate() {
                changes.push(Change { id: first_id + n as u64, side, price, qty });
                let list = if side == Side::Bid { &mut b } else { &mut a };
                list.push(format!(r#"["{}","{}"]"#, price_text(price), qty_text(qty)));
            }
            let ms = 1_700_000_000_000u64 + k as u64 * 100;
            let json = format!(
                r#"{{"stream":"btcusdt@depth@0ms","data":{{"e":"depthUpdate","E":{ms},"T":{ms},"s":"{SYMBOL}","U":{first_id},"u":{final_id},"pu":{last_final},"b":[{}],"a":[{}]}}}}"#,
                b.join(","),
                a.join(",")
            );
            frames.push(Frame { first_id, final_id, json });
            last_final = final_id;
            bids = new_bids;
            asks = new_asks;
            // Keep what the frame's changes produced (a forced change alters the quantity).
            for c in &changes[changes.len() - ordered.len()..] {
                let book = if c.side == Side::Bid { &mut bids } else { &mut asks };
                if c.qty == 0 {
                    book.remove(&c.price);
                } else {
                    book.insert(c.price, c.qty);
                }
            }
        }
        BookPath { initial, changes, frames }
    }

    /// The venue's book after every change with id ≤ `update_id`.
    pub fn book_at(&self, update_id: u64) -> (Levels, Levels) {
        let (mut bids, mut asks) = self.initial.clone();
        for c in self.changes.iter().take_while(|c| c.id <= update_id) {
            let book = if c.side == Side::Bid { &mut bids } else { &mut asks };
            if c.qty == 0 {
                book.remove(&c.price);
            } else {
                book.insert(c.price, c.qty);
            }
        }
        (bids, asks)
    }

    /// The REST snapshot (`GET /fapi/v1/depth`) of the book at `update_id`.
    pub fn snapshot_json(&self, update_id: u64) -> Vec<u8> {
        let (bids, asks) = self.book_at(update_id);
        format!(
            r#"{{"lastUpdateId":{update_id},"E":1700000000000,"T":1700000000000,"bids":{},"asks":{}}}"#,
            levels_json(bids.iter().rev()),
            levels_json(asks.iter())
        )
        .into_bytes()
    }

    /// An update id strictly inside frame `k`'s range when it has room: the
    /// snapshot then holds part of that frame, as on the venue.
    pub fn id_inside(&self, k: usize) -> u64 {
        let f = &self.frames[k];
        f.first_id + (f.final_id - f.first_id) / 2
    }
}
