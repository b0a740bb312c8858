//! Real Binance liquidation orders (`liquidations/*.csv`, the `o` object of
//! `forceOrder` events) rebuilt into `forceOrder` frames and parsed: side,
//! price and quantity come out exactly; the average fill price is rounded to
//! the tick only when it is finer than the tick, and then flagged.

use gavel_feeds::data_dir::require_data_file;
use gavel_feeds::decimal::{fraction_places, Grid};
use gavel_feeds::venues::binance::{BinanceParser, FLAG_ROUNDED};
use gavel_feeds::venues::{InstrumentSpec, Instruments, Message, VenueParser};
use gavel_feeds::wire::LiquidationPrint;
use gavel_feeds::{Side, Venue};

#[test]
#[ignore = "real data (GAVEL_DATA)"]
fn every_recorded_liquidation_parses_exactly() {
    let mut parsed = 0;
    let mut rounded = 0;
    for file in [
        "liquidations/binance_usdm_forceOrder_2024-08-17.csv",
        "liquidations/binance_usdm_forceOrder_2024-08-18.csv",
    ] {
        let text = std::fs::read_to_string(require_data_file(file)).unwrap();
        for (n, line) in text.lines().enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 12, "{file}:{}", n + 1);
            // The recorder deleted "USDT" from each line; put it back except for USDC pairs.
            let symbol = if f[0].ends_with("USDC") {
                f[0].to_string()
            } else {
                format!("{}USDT", f[0])
            };
            let (price, qty, avg) = (f[5], f[4], f[6]);
            // The tick is not in the file: use the order price's places (Binance prints prices at tick precision).
            let price_grid =
                Grid::with_decimals(fraction_places(price.as_bytes()).unwrap()).unwrap();
            let qty_grid = Grid::with_decimals(fraction_places(qty.as_bytes()).unwrap()).unwrap();
            let spec = InstrumentSpec::new(&symbol, 9, price_grid, qty_grid);
            let mut parser = BinanceParser::new(Venue::BinanceUsdm, Instruments::new(vec![spec]));
            let frame = format!(
                r#"{{"e":"forceOrder","E":{t},"o":{{"s":"{symbol}","S":"{side}","o":"{o}","f":"{tif}","q":"{qty}","p":"{price}","ap":"{avg}","X":"{x}","l":"{l}","z":"{z}","T":{t}}}}}"#,
                t = f[10],
                side = f[1],
                o = f[2],
                tif = f[3],
                x = f[7],
                l = f[8],
                z = f[9],
            );
            let mut out = Vec::new();
            let message = parser
                .parse(frame.as_bytes(), 0, None, &mut out)
                .unwrap_or_else(|e| panic!("{file}:{}: {e}", n + 1));
            assert_eq!(message, Message::Liquidations { instrument: 9 });
            let liq: LiquidationPrint = out[0].payload();
            assert_eq!(liq.price, price_grid.parse(price.as_bytes()).unwrap());
            assert_eq!(liq.qty, qty_grid.parse(qty.as_bytes()).unwrap());
            let (expected_avg, exact) = price_grid.parse_rounded(avg.as_bytes()).unwrap();
            assert_eq!(liq.avg_price, expected_avg);
            assert_eq!(out[0].flags & FLAG_ROUNDED != 0, !exact);
            assert_eq!(
                out[0].side(),
                Some(if f[1] == "BUY" { Side::Bid } else { Side::Ask })
            );
            assert_eq!(
                out[0].exchange_ns,
                f[10].parse::<i64>().unwrap() * 1_000_000
            );
            parsed += 1;
            rounded += !exact as u32;
        }
    }
    // README: 456 + 385 liquidations.
    assert_eq!(parsed, 841);
    eprintln!("{rounded} of {parsed} average prices were finer than the order price's places and were rounded (flagged)");
}
