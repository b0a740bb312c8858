//! Order-book benchmark: gavel's L3 book against the `lobster` crate (the
//! fastest single-threaded add/cancel/match book found on crates.io; see
//! docs/PERFORMANCE.md), on the same operation stream, in interleaved rounds.
//!
//! Two workloads:
//! - **lobster**: a LOBSTER message file (default the AMZN level-5 sample),
//!   seeded from order-book row 1. Submits are limit adds, deletes and partial
//!   cancels are cancels, visible executions are aggressive IOC orders of the
//!   other side at the execution price (the peer, which has no IOC, sends a
//!   limit order and cancels any rest). Hidden executions and halts are skipped.
//! - **synthetic**: a deterministic heavy mix around a drifting mid. Draws are
//!   45% passive adds, 30% cancels, 10% modifies (the peer, which has no modify,
//!   cancels and re-adds), 15% aggressive orders sweeping 1–3 levels; cancels and
//!   modifies of orders that trades already removed are dropped, so the stream
//!   holds about 58% adds, 17% cancels, 6% modifies and 19% aggressive orders.
//!
//! Latency is taken per operation with the TSC clock (two `rdtsc` reads per
//! operation; their overhead is measured and reported, not subtracted).
//! Throughput comes from separate untimed passes over the whole stream.

use crate::stats::{interleave, median_f64, median_summary, new_histogram, LatencySummary};
use gavel_engine::book::{Book, BookConfig, BookEvent, NewOrder, OrderType};
use gavel_feeds::clock::Clock;
use gavel_feeds::lobster::{BookRow, MessageReader, MessageType, OrderbookReader};
use gavel_feeds::wire::Side;
use serde::Serialize;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// One operation of a benchmark stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Add a GTC limit order (it may match if it crosses).
    Add {
        /// Order id (unique within the stream).
        id: u64,
        /// Side.
        side: Side,
        /// Price in ticks.
        price: i64,
        /// Lots.
        qty: i64,
    },
    /// Cancel an order by id (it may already be gone).
    Cancel {
        /// Order id.
        id: u64,
    },
    /// Change an order's price and quantity.
    Modify {
        /// Order id.
        id: u64,
        /// The order's side (for books that modify by cancel and re-add).
        side: Side,
        /// New price.
        price: i64,
        /// New quantity.
        qty: i64,
    },
    /// An aggressive immediate-or-cancel order.
    Take {
        /// Fresh id for the taker.
        id: u64,
        /// Taker side.
        side: Side,
        /// Limit price.
        price: i64,
        /// Lots.
        qty: i64,
    },
}

/// A benchmark stream: orders resting before timing starts, then operations.
#[derive(Clone, Debug, Default)]
pub struct Workload {
    /// Name for reports.
    pub name: String,
    /// Orders placed (untimed) before the stream: (id, side, price, qty).
    pub seed: Vec<(u64, Side, i64, i64)>,
    /// The timed operations.
    pub ops: Vec<Op>,
}

/// Order capacity of both contenders (the streams keep far fewer orders resting).
const POOL: usize = 1 << 16;

/// Ids for seed and taker orders start here (LOBSTER ids are far smaller).
const SYNTHETIC_ID_BASE: u64 = 1 << 40;

/// Builds the LOBSTER workload from a message file and its order-book file (row 1 seeds).
pub fn lobster_workload(
    message_file: &Path,
    orderbook_file: &Path,
    levels: usize,
) -> anyhow::Result<Workload> {
    let mut messages = MessageReader::open(message_file)?;
    let mut books = OrderbookReader::open(orderbook_file, levels)?;
    let mut row = BookRow::default();
    let mut w = Workload {
        name: "lobster".into(),
        ..Workload::default()
    };
    let mut next = SYNTHETIC_ID_BASE;
    if books.next_row(&mut row)? {
        for (side, levels) in [(Side::Ask, &row.asks), (Side::Bid, &row.bids)] {
            for &(price, qty) in levels.iter().filter(|l| l.1 > 0) {
                w.seed.push((next, side, price, qty));
                next += 1;
            }
        }
    }
    messages.next_message()?; // included in row 1
    while let Some(m) = messages.next_message()? {
        match m.kind {
            MessageType::Submit => w.ops.push(Op::Add {
                id: m.order_id,
                side: m.side,
                price: m.price,
                qty: m.size,
            }),
            MessageType::Delete | MessageType::PartialCancel => {
                w.ops.push(Op::Cancel { id: m.order_id })
            }
            MessageType::VisibleExecution => {
                w.ops.push(Op::Take {
                    id: next,
                    side: m.side.opposite(),
                    price: m.price,
                    qty: m.size,
                });
                next += 1;
            }
            MessageType::HiddenExecution | MessageType::CrossTrade | MessageType::Halt => {}
        }
    }
    Ok(w)
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Builds the synthetic heavy mix of `n` operations. Live orders are tracked
/// by running the stream through a gavel book while it is generated, so that
/// cancels and modifies name orders that still rest.
pub fn synthetic_workload(n: usize, seed: u64) -> Workload {
    let mut rng = Rng(seed | 1);
    let mut book = Book::new(BookConfig {
        order_capacity: 1 << 17,
        level_capacity: 1 << 12,
        ..BookConfig::default()
    });
    let mut live: Vec<u64> = Vec::with_capacity(1 << 16);
    let mut w = Workload {
        name: "synthetic".into(),
        ..Workload::default()
    };
    let mut mid: i64 = 100_000;
    let mut next_id = 1u64;
    let mut sink = |_e: BookEvent| {};
    // Seed: 20 levels a side, 5 orders each.
    for d in 1..=20 {
        for _ in 0..5 {
            for side in [Side::Bid, Side::Ask] {
                let price = if side == Side::Bid { mid - d } else { mid + d };
                let qty = 1 + rng.below(20) as i64;
                w.seed.push((next_id, side, price, qty));
                let _ = book.place(next_id, 0, side, price, qty);
                live.push(next_id);
                next_id += 1;
            }
        }
    }
    while w.ops.len() < n {
        if rng.below(64) == 0 {
            mid += rng.below(3) as i64 - 1;
        }
        let roll = rng.below(100);
        let side = if rng.below(2) == 0 {
            Side::Bid
        } else {
            Side::Ask
        };
        let remove_at = |live: &mut Vec<u64>, i: usize| live.swap_remove(i);
        if roll < 45 || live.is_empty() {
            let dist = 1 + rng.below(20) as i64;
            let price = if side == Side::Bid {
                mid - dist
            } else {
                mid + dist
            };
            let qty = 1 + rng.below(20) as i64;
            let op = Op::Add {
                id: next_id,
                side,
                price,
                qty,
            };
            if book
                .submit(NewOrder::limit(next_id, 0, side, price, qty), &mut sink)
                .is_ok_and(|o| o.resting > 0)
            {
                live.push(next_id);
            }
            next_id += 1;
            w.ops.push(op);
        } else if roll < 75 {
            let i = rng.below(live.len() as u64) as usize;
            let id = remove_at(&mut live, i);
            if book.cancel(id).is_ok() {
                w.ops.push(Op::Cancel { id });
            }
        } else if roll < 85 {
            let i = rng.below(live.len() as u64) as usize;
            let id = live[i];
            let Some(o) = book.order(id) else {
                remove_at(&mut live, i);
                continue;
            };
            let (price, qty) = if rng.below(2) == 0 {
                (o.price, (o.qty - 1).max(1))
            } else {
                let dist = 1 + rng.below(20) as i64;
                (
                    if o.side == Side::Bid {
                        mid - dist
                    } else {
                        mid + dist
                    },
                    1 + rng.below(20) as i64,
                )
            };
            match book.modify(id, price, qty, &mut sink) {
                Ok(out) if out.resting == 0 => {
                    remove_at(&mut live, i);
                }
                Ok(_) => {}
                Err(_) => continue,
            }
            w.ops.push(Op::Modify {
                id,
                side: o.side,
                price,
                qty,
            });
        } else {
            let Some((best, _)) = book.best(side.opposite()) else {
                continue;
            };
            let sweep = rng.below(3) as i64;
            let price = if side == Side::Bid {
                best + sweep
            } else {
                best - sweep
            };
            let qty = 5 + rng.below(40) as i64;
            let id = next_id;
            next_id += 1;
            let _ = book.submit(
                NewOrder {
                    order_type: OrderType::Ioc,
                    ..NewOrder::limit(id, 0, side, price, qty)
                },
                &mut sink,
            );
            w.ops.push(Op::Take {
                id,
                side,
                price,
                qty,
            });
        }
        // Drop ids that trades removed (checked lazily, cheaply, for the tail only).
        while let Some(&last) = live.last() {
            if book.order(last).is_some() {
                break;
            }
            live.pop();
        }
    }
    w
}

/// A book under test.
pub trait Contender {
    /// Name in reports.
    fn name(&self) -> &'static str;
    /// Starts from an empty book holding the workload's seed.
    fn reset(&mut self, seed: &[(u64, Side, i64, i64)]);
    /// Applies one operation; returns a value derived from the result (kept alive with `black_box`).
    fn apply(&mut self, op: &Op) -> u64;
}

/// gavel's book.
pub struct GavelBook {
    book: Book,
    fills: u64,
}

impl GavelBook {
    /// A contender sized for the benchmark streams.
    pub fn new() -> Self {
        GavelBook {
            book: Self::fresh(),
            fills: 0,
        }
    }

    fn fresh() -> Book {
        Book::new(BookConfig {
            order_capacity: POOL,
            level_capacity: 1 << 12,
            ..BookConfig::default()
        })
    }
}

impl GavelBook {
    /// The book under test.
    pub fn book(&self) -> &Book {
        &self.book
    }
}

impl Default for GavelBook {
    fn default() -> Self {
        Self::new()
    }
}

impl Contender for GavelBook {
    fn name(&self) -> &'static str {
        "gavel"
    }

    fn reset(&mut self, seed: &[(u64, Side, i64, i64)]) {
        self.book = Self::fresh();
        for &(id, side, price, qty) in seed {
            let _ = self.book.place(id, 0, side, price, qty);
        }
    }

    #[inline]
    fn apply(&mut self, op: &Op) -> u64 {
        let fills = &mut self.fills;
        let mut sink = |e: BookEvent| {
            if let BookEvent::Fill(f) = e {
                *fills += f.qty as u64;
            }
        };
        match *op {
            Op::Add {
                id,
                side,
                price,
                qty,
            } => self
                .book
                .submit(NewOrder::limit(id, 0, side, price, qty), &mut sink)
                .map_or(0, |o| o.resting as u64),
            Op::Cancel { id } => self.book.cancel(id).unwrap_or(0) as u64,
            Op::Modify { id, price, qty, .. } => self
                .book
                .modify(id, price, qty, &mut sink)
                .map_or(0, |o| o.resting as u64),
            Op::Take {
                id,
                side,
                price,
                qty,
            } => self
                .book
                .submit(
                    NewOrder {
                        order_type: OrderType::Ioc,
                        ..NewOrder::limit(id, 0, side, price, qty)
                    },
                    &mut sink,
                )
                .map_or(0, |o| o.filled as u64),
        }
    }
}

/// The `lobster` crate (v0.7): BTreeMap of price → Vec of arena indices.
pub struct PeerBook {
    book: lobster::OrderBook,
}

impl PeerBook {
    /// A contender with the crate's arena preallocated like gavel's pool.
    pub fn new() -> Self {
        PeerBook {
            book: Self::fresh(),
        }
    }

    fn fresh() -> lobster::OrderBook {
        lobster::OrderBook::new(POOL, 16, false)
    }

    fn limit(&mut self, id: u64, side: Side, price: i64, qty: i64) -> lobster::OrderEvent {
        let side = if side == Side::Bid {
            lobster::Side::Bid
        } else {
            lobster::Side::Ask
        };
        self.book.execute(lobster::OrderType::Limit {
            id: id as u128,
            side,
            qty: qty as u64,
            price: price as u64,
        })
    }
}

impl Default for PeerBook {
    fn default() -> Self {
        Self::new()
    }
}

fn event_value(e: &lobster::OrderEvent) -> u64 {
    match e {
        lobster::OrderEvent::Filled { filled_qty, .. }
        | lobster::OrderEvent::PartiallyFilled { filled_qty, .. } => *filled_qty,
        _ => 0,
    }
}

impl Contender for PeerBook {
    fn name(&self) -> &'static str {
        "lobster"
    }

    fn reset(&mut self, seed: &[(u64, Side, i64, i64)]) {
        self.book = Self::fresh();
        for &(id, side, price, qty) in seed {
            self.limit(id, side, price, qty);
        }
    }

    #[inline]
    fn apply(&mut self, op: &Op) -> u64 {
        match *op {
            Op::Add {
                id,
                side,
                price,
                qty,
            } => event_value(&self.limit(id, side, price, qty)),
            Op::Cancel { id } => event_value(
                &self
                    .book
                    .execute(lobster::OrderType::Cancel { id: id as u128 }),
            ),
            Op::Modify {
                id,
                side,
                price,
                qty,
            } => {
                // No modify in the crate: cancel and re-add.
                self.book
                    .execute(lobster::OrderType::Cancel { id: id as u128 });
                event_value(&self.limit(id, side, price, qty))
            }
            Op::Take {
                id,
                side,
                price,
                qty,
            } => {
                let e = self.limit(id, side, price, qty);
                let v = event_value(&e);
                if !matches!(e, lobster::OrderEvent::Filled { .. }) {
                    self.book
                        .execute(lobster::OrderType::Cancel { id: id as u128 });
                }
                v
            }
        }
    }
}

/// One side's figures for one workload.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct SideResult {
    /// Median p50 per operation, ns.
    pub p50_ns: u64,
    /// Median p99, ns.
    pub p99_ns: u64,
    /// Median p99.9, ns.
    pub p999_ns: u64,
    /// Median max, ns.
    pub max_ns: u64,
    /// Median throughput of untimed passes, operations per second.
    pub ops_per_s: f64,
}

/// Results of one workload.
#[derive(Clone, Debug, Serialize)]
pub struct WorkloadResult {
    /// Workload name.
    pub workload: String,
    /// Operations per pass.
    pub ops: usize,
    /// gavel's figures.
    pub gavel: SideResult,
    /// The peer's figures.
    pub peer: SideResult,
}

fn latency_pass(c: &mut dyn Contender, w: &Workload, clock: &Clock) -> LatencySummary {
    c.reset(&w.seed);
    let mut h = new_histogram();
    let mut acc = 0u64;
    for op in &w.ops {
        let t0 = clock.now_ticks();
        acc = acc.wrapping_add(c.apply(black_box(op)));
        let t1 = clock.now_ticks();
        let _ = h.record(clock.ticks_to_ns(t1.saturating_sub(t0)).max(1));
    }
    black_box(acc);
    LatencySummary::from_histogram(&h)
}

fn throughput_pass(c: &mut dyn Contender, w: &Workload) -> f64 {
    c.reset(&w.seed);
    let mut acc = 0u64;
    let start = Instant::now();
    for op in &w.ops {
        acc = acc.wrapping_add(c.apply(black_box(op)));
    }
    let secs = start.elapsed().as_secs_f64();
    black_box(acc);
    w.ops.len() as f64 / secs.max(1e-9)
}

/// Runs `rounds` interleaved rounds (gavel, peer, gavel, peer, …) of a latency
/// pass and a throughput pass each, and reports each side's medians.
pub fn compare(w: &Workload, rounds: usize, clock: &Clock) -> WorkloadResult {
    let mut gavel = GavelBook::new();
    let mut peer = PeerBook::new();
    let mut run_gavel = || {
        (
            latency_pass(&mut gavel, w, clock),
            throughput_pass(&mut gavel, w),
        )
    };
    let mut run_peer = || {
        (
            latency_pass(&mut peer, w, clock),
            throughput_pass(&mut peer, w),
        )
    };
    let results = interleave(rounds, &mut [&mut run_gavel, &mut run_peer]);
    let side = |r: &Vec<(LatencySummary, f64)>| {
        let lat = median_summary(&r.iter().map(|x| x.0).collect::<Vec<_>>());
        SideResult {
            p50_ns: lat.p50_ns,
            p99_ns: lat.p99_ns,
            p999_ns: lat.p999_ns,
            max_ns: lat.max_ns,
            ops_per_s: median_f64(&r.iter().map(|x| x.1).collect::<Vec<_>>()),
        }
    };
    WorkloadResult {
        workload: w.name.clone(),
        ops: w.ops.len(),
        gavel: side(&results[0]),
        peer: side(&results[1]),
    }
}

/// Median cost of two back-to-back clock reads, ns (the per-op timing overhead).
pub fn clock_overhead_ns(clock: &Clock) -> u64 {
    let mut samples: Vec<u64> = (0..10_000)
        .map(|_| {
            let a = clock.now_ticks();
            let b = clock.now_ticks();
            clock.ticks_to_ns(b.saturating_sub(a))
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both contenders end a stream with the same best prices and the same
    /// traded quantity: the stream means the same to both. Modifies are left
    /// out here: the peer re-adds on a quantity cut and so loses priority, which
    /// changes which orders later takes fill.
    #[test]
    fn contenders_agree_on_a_synthetic_stream() {
        let mut w = synthetic_workload(20_000, 7);
        assert_eq!(w.ops.len(), 20_000);
        let kinds = |w: &Workload, f: fn(&Op) -> bool| w.ops.iter().filter(|o| f(o)).count();
        assert!(kinds(&w, |o| matches!(o, Op::Take { .. })) > 1_000);
        assert!(kinds(&w, |o| matches!(o, Op::Modify { .. })) > 1_000);
        w.ops.retain(|o| !matches!(o, Op::Modify { .. }));
        let mut g = GavelBook::new();
        let mut p = PeerBook::new();
        g.reset(&w.seed);
        p.reset(&w.seed);
        let mut traded_g = 0;
        let mut traded_p = 0;
        for op in &w.ops {
            let a = g.apply(op);
            let b = p.apply(op);
            if let Op::Take { .. } = op {
                traded_g += a;
                traded_p += b;
            }
        }
        assert_eq!(traded_g, traded_p);
        assert!(traded_g > 10_000);
        let d = p.book.depth(10_000);
        let mut buf = vec![gavel_engine::book::DepthLevel::default(); 10_000];
        for (side, theirs) in [(Side::Ask, &d.asks), (Side::Bid, &d.bids)] {
            let n = g.book.depth(side, &mut buf);
            let ours: Vec<(u64, u64)> = buf[..n]
                .iter()
                .map(|l| (l.price as u64, l.qty as u64))
                .collect();
            let mut theirs: Vec<(u64, u64)> = theirs
                .iter()
                .filter(|l| l.qty > 0)
                .map(|l| (l.price, l.qty))
                .collect();
            if side == Side::Bid && theirs.first() < theirs.last() {
                theirs.reverse(); // the crate lists bids from the lowest
            }
            assert_eq!(ours, theirs);
        }
        assert_eq!(g.book.best_bid().map(|b| b.0 as u64), p.book.max_bid());
        assert_eq!(g.book.best_ask().map(|a| a.0 as u64), p.book.min_ask());
    }
}
