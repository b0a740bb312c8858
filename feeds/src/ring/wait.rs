//! How a ring side waits for the other, and what a full ring does.

use std::time::Duration;

/// How a side waits while the ring is empty (consumer) or full (blocking producer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WaitStrategy {
    /// Spin with `pause` hints, never yielding the core: lowest latency, for pinned, isolated cores.
    #[default]
    BusySpin,
    /// Spin briefly, then yield the core to the scheduler on each further attempt.
    SpinThenYield,
    /// Sleep this long between attempts: for tests, laptops and shared machines.
    Sleep(Duration),
}

/// What [`Producer::push`](super::Producer::push) does when the ring is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FullPolicy {
    /// Wait (per the [`WaitStrategy`]) until the consumer makes room.
    #[default]
    Block,
    /// Drop the record and count it in the shared overflow counter.
    Drop,
}

/// Spins before [`WaitStrategy::SpinThenYield`] starts yielding.
const SPINS_BEFORE_YIELD: u32 = 64;

/// The state of one wait: how many attempts were made so far.
pub(crate) struct Backoff {
    strategy: WaitStrategy,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(strategy: WaitStrategy) -> Self {
        Backoff {
            strategy,
            attempts: 0,
        }
    }

    /// Attempts made so far.
    #[inline]
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Whether a slow liveness check is due on this attempt. Checks run about
    /// every millisecond of waiting whatever the strategy, so a spinning side
    /// stays off the clock and the kernel in its hot loop.
    #[inline]
    pub(crate) fn check_due(&self) -> bool {
        let every = match self.strategy {
            WaitStrategy::BusySpin => 4096,
            WaitStrategy::SpinThenYield => 256,
            WaitStrategy::Sleep(d) => (1_000_000 / d.as_nanos().max(1)).clamp(1, 4096) as u32,
        };
        self.attempts % every == every - 1
    }

    /// Waits once.
    #[inline]
    pub(crate) fn wait(&mut self) {
        match self.strategy {
            WaitStrategy::BusySpin => std::hint::spin_loop(),
            WaitStrategy::SpinThenYield => {
                if self.attempts < SPINS_BEFORE_YIELD {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            WaitStrategy::Sleep(d) => std::thread::sleep(d),
        }
        self.attempts = self.attempts.wrapping_add(1);
    }
}
