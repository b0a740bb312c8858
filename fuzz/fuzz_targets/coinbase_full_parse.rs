//! Any byte string through the Coinbase full-channel (L3) parser and, when it
//! parses, the L3 book sync: never a panic; on a parse error no events.
#![no_main]
use gavel_feeds::decimal::Grid;
use gavel_feeds::sync::coinbase_l3::CoinbaseL3Sync;
use gavel_feeds::venues::coinbase_full::{CoinbaseFullParser, FullMessage};
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let spec = InstrumentSpec::new(
        "BTC-USD",
        1,
        Grid::with_decimals(2).unwrap(),
        Grid::with_decimals(8).unwrap(),
    );
    let mut parser = CoinbaseFullParser::with_max_orders(Instruments::new(vec![spec]), 1024);
    let mut sync = CoinbaseL3Sync::new(1, 1024, 64);
    let mut emit = |_, _: &_| {};
    // Several messages per input, separated by newlines.
    for line in data.split(|&b| b == b'\n') {
        let mut out = Vec::new();
        match parser.parse_full(line, 0, None, &mut out) {
            Ok(FullMessage::Order { sequence, .. }) => sync.on_message(sequence, 0, &out, &mut emit),
            Ok(FullMessage::Snapshot { sequence, .. }) => sync.on_snapshot(sequence, 0, &out, &mut emit),
            Ok(FullMessage::Other(_)) => {}
            Err(_) => assert!(out.is_empty()),
        }
    }
});
