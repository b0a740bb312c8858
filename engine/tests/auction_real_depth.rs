//! Liquidation execution on real depth: the Binance USD-M and spot BTCUSDT REST
//! depth snapshots (1 000 levels a side each, 2024-08-08, hftbacktest captures)
//! as two mirrored venues; a large long is liquidated by auction (simulated
//! liquidators hedging on those books) and by the naive route.

use std::io::{BufRead, BufReader};

use gavel_engine::auction::backstop::BackstopVault;
use gavel_engine::auction::curve::NS_PER_SEC;
use gavel_engine::auction::depth::{DepthView, L2Book};
use gavel_engine::auction::events::{ExecutionEvent, Route};
use gavel_engine::auction::liquidator::{LiquidatorConfig, SimLiquidator};
use gavel_engine::auction::lot::{LiquidationLot, LotSide};
use gavel_engine::auction::naive::execute_naive;
use gavel_engine::auction::policy::{InstrumentPolicy, RouteMode};
use gavel_engine::auction::sim::{run_lot, Market};
use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::wire::{Side, Venue};

/// A decimal string scaled by 10^`decimals`, truncated (no floats).
fn scaled(text: &str, decimals: u32) -> i64 {
    let (int_part, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut value: i64 = int_part.parse().expect("integer part");
    let mut frac_digits = frac.chars();
    for _ in 0..decimals {
        let digit = frac_digits.next().map_or(0, |c| c.to_digit(10).expect("digit") as i64);
        value = value * 10 + digit;
    }
    value
}

/// Reads the REST snapshot line of a capture into a book with tick 0.1 USDT and
/// lot 0.001 BTC (bids rounded down, asks up to the tick; quantities truncated).
fn snapshot_book(relative: &str, venue: Venue) -> L2Book {
    let file = std::fs::File::open(require_data_file(relative)).expect("open capture");
    let reader = BufReader::new(flate2::read::GzDecoder::new(file));
    for (number, line) in reader.lines().enumerate() {
        let line = line.expect("read line");
        if !line.contains("\"lastUpdateId\"") {
            continue;
        }
        let json = line
            .split_once(' ')
            .map(|(_, j)| j)
            .unwrap_or_else(|| panic!("{relative}:{}: no timestamp", number + 1));
        let snapshot: serde_json::Value = serde_json::from_str(json).expect("snapshot JSON");
        let mut book = L2Book::new(venue);
        for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
            let mut merged: std::collections::BTreeMap<i64, i64> = Default::default();
            for level in snapshot[key].as_array().expect("levels") {
                let price_cents = scaled(level[0].as_str().expect("price"), 2);
                let price = if side == Side::Bid {
                    price_cents / 10
                } else {
                    (price_cents + 9) / 10
                };
                let qty = scaled(level[1].as_str().expect("qty"), 3);
                *merged.entry(price).or_default() += qty;
            }
            for (price, qty) in merged {
                book.set_level(side, price, qty);
            }
        }
        return book;
    }
    panic!("{relative}: no snapshot line");
}

fn real_books() -> (Vec<L2Book>, i64) {
    let futures = snapshot_book("hftbacktest/usdm/btcusdt_20240808.gz", Venue::BinanceUsdm);
    let spot = snapshot_book("hftbacktest/spot/btcusdt_20240808.gz", Venue::BinanceSpot);
    let (bid, _) = futures.best(Side::Bid).expect("futures bid");
    let (ask, _) = futures.best(Side::Ask).expect("futures ask");
    assert!(bid < ask, "crossed snapshot");
    eprintln!(
        "mark {} (0.1 USDT ticks); bid depth: futures {} lots, spot {} lots (0.001 BTC)",
        (bid + ask) / 2,
        futures.total_qty(Side::Bid),
        spot.total_qty(Side::Bid)
    );
    (vec![futures, spot], (bid + ask) / 2)
}

/// A long of `qty` lots (0.001 BTC) bankrupt 3 % below the mark, penalty budget 0.5 %.
fn long_lot(qty: i64, mark: i64) -> LiquidationLot {
    let value_quote = mark as i128 * qty as i128; // quote unit = 0.1 × 0.001 USDT
    LiquidationLot {
        id: 1,
        instrument: 1,
        account: 1,
        side: LotSide::Sell,
        qty,
        mark,
        bankruptcy: mark * 97 / 100,
        penalty_budget: (value_quote / 200) as i64,
        created_ns: 0,
        deadline_ns: 600 * NS_PER_SEC,
    }
}

fn liquidators(mark: i64) -> Vec<SimLiquidator> {
    // Capital per take: 20, 50 and 10 BTC at the mark, in quote units.
    [(1, 30_000_000, 20, 10), (2, 200_000_000, 50, 8), (3, 2_000_000, 10, 20)]
        .iter()
        .map(|&(id, latency_ns, btc, margin_bps)| {
            SimLiquidator::new(LiquidatorConfig {
                id,
                latency_ns,
                capital: btc * 1_000 * mark,
                margin_bps,
            })
        })
        .collect()
}

/// Runs `lot` through `route` on fresh copies of `books`; returns (value lost, route taken, events).
fn run(books: &[L2Book], lot: &LiquidationLot, route: RouteMode) -> (i128, Route, Vec<ExecutionEvent>) {
    let policy = InstrumentPolicy { route, ..InstrumentPolicy::default() };
    let mut market = Market::new(books.to_vec(), 20 * NS_PER_SEC);
    let mut liquidators = liquidators(lot.mark);
    let mut vault = BackstopVault::new();
    let mut events = Vec::new();
    let outcome = run_lot(
        lot,
        &policy,
        &mut market,
        &mut liquidators,
        &mut vault,
        NS_PER_SEC / 10,
        &mut events,
    )
    .unwrap();
    let total = outcome.total(lot, 1);
    assert_eq!(total.filled + total.returned, lot.qty);
    for part in &outcome.parts {
        assert!(part.is_balanced());
    }
    (total.value_lost(lot.mark), outcome.decision.route, events)
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn route_choice_on_real_binance_depth() {
    let (books, mark) = real_books();
    // 150 BTC: well inside the futures book's 1 000 visible levels.
    let lot = long_lot(150_000, mark);
    let policy = InstrumentPolicy::default();
    let naive = execute_naive(&lot, &policy, &mut books.clone(), 0, &mut Vec::new());
    assert!(naive.is_balanced());
    let naive_lost = naive.value_lost(mark);
    let (auto_lost, auto_route, _) = run(&books, &lot, RouteMode::Auto);
    let (auction_lost, _, events) = run(&books, &lot, RouteMode::Force(Route::Auction));
    let takes = events
        .iter()
        .filter(|e| matches!(e, ExecutionEvent::Take { .. }))
        .count();
    eprintln!(
        "150 BTC: naive lost {naive_lost}, auto ({auto_route:?}) lost {auto_lost}, forced auction ({takes} takes) \
         lost {auction_lost} (quote units of 0.0001 USDT)"
    );
    assert!(takes > 0, "liquidators found nothing profitable on real depth");
    // On a deep book the route choice avoids paying liquidators their margin and
    // does at least as well as dumping on the deepest venue.
    assert_ne!(auto_route, Route::Auction);
    assert!(auto_lost <= naive_lost, "auto {auto_lost} vs naive {naive_lost}");
    assert!(auto_lost < auction_lost);
}

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn auction_beats_naive_when_the_lot_exceeds_visible_depth() {
    let (books, mark) = real_books();
    // 600 BTC: more than the futures snapshot's 1 000 bid levels hold.
    let lot = long_lot(600_000, mark);
    let policy = InstrumentPolicy::default();
    let naive = execute_naive(&lot, &policy, &mut books.clone(), 0, &mut Vec::new());
    let naive_lost = naive.value_lost(mark);
    let (auction_lost, _, events) = run(&books, &lot, RouteMode::Force(Route::Auction));
    let (auto_lost, auto_route, _) = run(&books, &lot, RouteMode::Auto);
    let takes = events
        .iter()
        .filter(|e| matches!(e, ExecutionEvent::Take { .. }))
        .count();
    let backstop: i64 = events
        .iter()
        .map(|e| {
            if let ExecutionEvent::BackstopTook { qty, .. } = e {
                *qty
            } else {
                0
            }
        })
        .sum();
    eprintln!(
        "600 BTC: naive lost {naive_lost}, auction ({takes} takes, backstop {backstop} lots) lost {auction_lost}, \
         auto ({auto_route:?}) lost {auto_lost}"
    );
    assert!(
        auction_lost < naive_lost,
        "auction {auction_lost} vs naive {naive_lost}"
    );
    assert!(auto_lost < naive_lost, "auto {auto_lost} vs naive {naive_lost}");
}
