//! The engine's outputs: every one is a 64-byte wire [`Event`] handed to an
//! [`OutputSink`] (an output ring in live mode, the simulated world in a
//! replay). The same stream is the journal.

use gavel_feeds::wire::{Event, EventKind, Payload, Side, Venue};

/// Where the engine's output events go. Implementations must not call back
/// into the engine.
pub trait OutputSink {
    /// Takes one output event.
    fn emit(&mut self, event: &Event);
}

impl OutputSink for Vec<Event> {
    fn emit(&mut self, event: &Event) {
        self.push(*event);
    }
}

/// A sink that drops everything but counts it (benchmarks, warm-up).
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingSink {
    /// Events received.
    pub count: u64,
}

impl OutputSink for CountingSink {
    fn emit(&mut self, _event: &Event) {
        self.count += 1;
    }
}

/// Header fields of one output.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub kind: EventKind,
    pub venue: Venue,
    pub side: Side,
    pub flags: u8,
    pub instrument: u32,
    pub sequence: u64,
}

/// Builds an output event at event time `now` (publish ticks stay 0 so that
/// journals are byte-identical across runs).
#[inline]
pub(crate) fn build<P: Payload>(now: i64, h: Header, payload: P) -> Event {
    let mut e = Event::new(h.kind, h.venue, h.instrument, payload).with_side(h.side);
    e.flags = h.flags;
    e.sequence = h.sequence;
    e.receive_ns = now;
    e
}

/// Clamps a quote amount into a ledger entry's 64-bit word (amounts beyond
/// ±9.2·10^18 quote units do not occur with the loaders' bounds; clamping keeps
/// the journal total even if they did).
#[inline]
pub(crate) fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}
