//! Reconnect back-off: exponential, capped, with seeded jitter.
//!
//! Attempt `k` (0-based, counting failures since the last stable session) waits
//! `d = min(cap, base · 2^k)` scaled into `[d/2, d]` by a uniform draw from
//! [`SplitMix64`]: half fixed, half jitter, so many clients restarting together
//! spread out, and the same seed reproduces the same delays.

use std::time::Duration;

use crate::rng::SplitMix64;

/// Back-off parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Delay before the first retry (before jitter).
    pub base: Duration,
    /// Upper bound of any delay.
    pub cap: Duration,
    /// A session that stays up this long resets the attempt count.
    pub reset_after: Duration,
    /// Jitter seed.
    pub seed: u64,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
            seed: 0x6761_7665_6c00_0001,
        }
    }
}

/// Back-off state of one connection.
#[derive(Clone, Debug)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: SplitMix64,
}

impl Backoff {
    /// Fresh state (next delay is the base delay, jittered).
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff { config, attempt: 0, rng: SplitMix64::new(config.seed) }
    }

    /// Failures since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt; advances the attempt count.
    pub fn next_delay(&mut self) -> Duration {
        let cap_ns = self.config.cap.as_nanos().min(u64::MAX as u128) as u64;
        let base_ns = self.config.base.as_nanos().min(u64::MAX as u128) as u64;
        let shift = self.attempt.min(63);
        let full = base_ns.checked_shl(shift).filter(|d| d >> shift == base_ns).unwrap_or(u64::MAX).min(cap_ns);
        self.attempt = self.attempt.saturating_add(1);
        let half = full / 2;
        Duration::from_nanos(half + self.rng.below(full - half + 1))
    }

    /// Forgets past failures (after a session that stayed up `reset_after`).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How long a session must stay up to reset the back-off.
    pub fn reset_after(&self) -> Duration {
        self.config.reset_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delays_double_then_cap_and_reset() {
        let config = BackoffConfig {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            reset_after: Duration::from_secs(5),
            seed: 3,
        };
        let mut backoff = Backoff::new(config);
        let bounds = [100, 200, 400, 800, 1000, 1000, 1000];
        for full_ms in bounds {
            let d = backoff.next_delay();
            assert!(
                d >= Duration::from_millis(full_ms / 2) && d <= Duration::from_millis(full_ms),
                "{d:?} vs {full_ms}"
            );
        }
        assert_eq!(backoff.attempt(), 7);
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn same_seed_same_delays_different_seed_differs() {
        let config = BackoffConfig::default();
        let a: Vec<_> = {
            let mut b = Backoff::new(config);
            (0..10).map(|_| b.next_delay()).collect()
        };
        let b: Vec<_> = {
            let mut b = Backoff::new(config);
            (0..10).map(|_| b.next_delay()).collect()
        };
        let c: Vec<_> = {
            let mut b = Backoff::new(BackoffConfig { seed: 99, ..config });
            (0..10).map(|_| b.next_delay()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    proptest! {
        /// Every delay lies in [min(cap, base·2^k)/2, min(cap, base·2^k)], never overflowing.
        #[test]
        fn delays_stay_within_bounds(base_ms in 0u64..10_000, cap_ms in 0u64..100_000, seed: u64, steps in 1usize..80) {
            let mut backoff = Backoff::new(BackoffConfig {
                base: Duration::from_millis(base_ms), cap: Duration::from_millis(cap_ms),
                reset_after: Duration::ZERO, seed,
            });
            for k in 0..steps {
                let full = (base_ms as u128).saturating_mul(1u128 << k.min(100)).min(cap_ms as u128) as u64;
                let d = backoff.next_delay();
                prop_assert!(d <= Duration::from_millis(full));
                prop_assert!(d >= Duration::from_nanos(full * 1_000_000 / 2));
            }
        }
    }
}
