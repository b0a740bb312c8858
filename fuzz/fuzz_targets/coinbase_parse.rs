//! Any byte string through the coinbase parser: never a panic; on error no events.
#![no_main]
use gavel_feeds::decimal::Grid;
use gavel_feeds::venues::coinbase::CoinbaseParser;
use gavel_feeds::venues::{InstrumentSpec, Instruments, VenueParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = InstrumentSpec::new("BTC-USD", 1, Grid::with_decimals(2).unwrap(), Grid::with_decimals(8).unwrap());
    let mut parser = CoinbaseParser::new(Instruments::new(vec![spec]));
    let mut out = Vec::new();
    if parser.parse(data, 0, None, &mut out).is_err() {
        assert!(out.is_empty());
    }
});
