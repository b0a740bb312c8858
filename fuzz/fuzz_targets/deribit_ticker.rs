//! Any byte string through the Deribit options ticker parser: never a panic; a
//! ticker it accepts has the ranges it promises, and gavel's model values it.
#![no_main]
use gavel_engine::options::venue_check::VenueComparison;
use gavel_feeds::venues::deribit::{parse_ticker, MAX_IV_PERCENT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(t)) = parse_ticker(data) {
        assert!(t.underlying_price > 0.0 && t.mark_price >= 0.0);
        assert!(t.mark_iv > 0.0 && t.mark_iv <= MAX_IV_PERCENT);
        assert!(t.timestamp_ms < t.name.expiry_ms && t.name.strike > 0.0);
        // Every accepted ticker is a valid model input (no error, no panic).
        let cmp = VenueComparison::of(&t).expect("an accepted ticker is priceable");
        assert!(cmp.ours_coin_premium.is_finite());
    }
});
