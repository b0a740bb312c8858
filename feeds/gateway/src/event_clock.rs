//! The event clock of a live engine: ns since the Unix epoch, read as the wall
//! clock at start plus a monotonic clock since, so it never goes backwards.
//! Producers (gateway, feed handlers) stamp `receive_ns` with it; the engine
//! only reads the stamps.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A shareable event clock.
#[derive(Clone, Copy, Debug)]
pub struct EventClock {
    base_unix_ns: i64,
    start: Instant,
}

impl EventClock {
    /// Starts the clock now.
    pub fn start() -> Self {
        let base = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX / 2));
        Self { base_unix_ns: base, start: Instant::now() }
    }

    /// Now, ns since the Unix epoch.
    pub fn now_ns(&self) -> i64 {
        let elapsed = i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX / 2);
        self.base_unix_ns.saturating_add(elapsed)
    }
}
