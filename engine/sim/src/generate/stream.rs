//! Synthetic market streams for demos, tests and benchmarks: a random-walk
//! mid price with book level updates, trades and mark prices around it.

use gavel_feeds::rng::SplitMix64;
use gavel_feeds::wire::{Event, EventKind, MarkPrice, PriceLevel, Side, TradePrint, Venue};

/// Parameters of a synthetic stream.
#[derive(Clone, Debug)]
pub struct StreamSpec {
    /// Seed of the generator.
    pub seed: u64,
    /// Number of events to generate.
    pub events: usize,
    /// Instrument id written into every event.
    pub instrument: u32,
    /// Venue written into every event.
    pub venue: Venue,
    /// Starting mid price in ticks.
    pub start_price: i64,
    /// Event time of the first event, ns.
    pub start_ns: i64,
    /// Mean spacing between events, ns.
    pub spacing_ns: i64,
}

impl Default for StreamSpec {
    fn default() -> Self {
        StreamSpec {
            seed: 1,
            events: 100_000,
            instrument: 1,
            venue: Venue::Synthetic,
            start_price: 600_000,
            start_ns: 1_700_000_000_000_000_000,
            spacing_ns: 50_000,
        }
    }
}

/// Generates a stream: mostly level updates within 20 ticks of the mid, with a
/// trade every 10 events and a mark price every 100. Deterministic in the seed.
pub fn market_stream(spec: &StreamSpec) -> Vec<Event> {
    let mut rng = SplitMix64::new(spec.seed);
    let mut mid = spec.start_price;
    let mut now = spec.start_ns;
    let mut out = Vec::with_capacity(spec.events);
    for sequence in 1..=spec.events as u64 {
        now += 1 + rng.below(2 * spec.spacing_ns.max(1) as u64) as i64;
        mid = (mid + rng.range_i64(-1, 1)).max(100);
        let event = if sequence % 100 == 0 {
            Event::new(
                EventKind::MarkPrice,
                spec.venue,
                spec.instrument,
                MarkPrice { mark: mid, index: mid, funding_rate_e9: 100_000 },
            )
        } else if sequence % 10 == 0 {
            let side = if rng.below(2) == 0 { Side::Bid } else { Side::Ask };
            Event::new(
                EventKind::Trade,
                spec.venue,
                spec.instrument,
                TradePrint { price: mid, qty: 1 + rng.below(50) as i64, trade_id: sequence },
            )
            .with_side(side)
        } else {
            let side = if rng.below(2) == 0 { Side::Bid } else { Side::Ask };
            let offset = 1 + rng.below(20) as i64;
            let price = if side == Side::Bid { mid - offset } else { mid + offset };
            let qty = if rng.below(5) == 0 { 0 } else { 1 + rng.below(500) as i64 };
            Event::new(EventKind::BookLevel, spec.venue, spec.instrument, PriceLevel { price, qty, index: 0 })
                .with_side(side)
        };
        out.push(event.with_times(sequence, now, now));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_deterministic_ordered_and_well_formed() {
        let spec = StreamSpec { events: 5_000, ..StreamSpec::default() };
        let a = market_stream(&spec);
        let b = market_stream(&spec);
        assert_eq!(a, b);
        assert_eq!(a.len(), 5_000);
        assert!(a.windows(2).all(|w| w[0].receive_ns < w[1].receive_ns));
        assert!(a.iter().enumerate().all(|(i, e)| e.sequence == i as u64 + 1));
        let marks = a.iter().filter(|e| e.kind() == Some(EventKind::MarkPrice)).count();
        assert_eq!(marks, 50);
        for e in a.iter().filter(|e| e.kind() == Some(EventKind::BookLevel)) {
            let level: PriceLevel = e.payload();
            assert!(level.qty >= 0 && level.price > 0);
        }
        let other = market_stream(&StreamSpec { seed: 2, events: 5_000, ..StreamSpec::default() });
        assert_ne!(a, other);
    }
}
