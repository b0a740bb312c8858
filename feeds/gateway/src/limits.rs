//! Per-session limits: a token bucket on messages, counted in integer
//! nano-tokens so that refill is exact on event time.

/// A token bucket: `rate` messages per second, bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    rate_per_s: u64,
    capacity: u128,
    credit: u128,
    last_ns: u64,
}

const UNIT: u128 = 1_000_000_000;

impl TokenBucket {
    /// A full bucket at time `now_ns`.
    pub fn new(rate_per_s: u64, burst: u64, now_ns: u64) -> Self {
        let capacity = u128::from(burst.max(1)) * UNIT;
        Self { rate_per_s, capacity, credit: capacity, last_ns: now_ns }
    }

    /// Takes one token at `now_ns`; false when the bucket is empty.
    pub fn try_take(&mut self, now_ns: u64) -> bool {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        self.credit = (self.credit + u128::from(elapsed) * u128::from(self.rate_per_s)).min(self.capacity);
        if self.credit >= UNIT {
            self.credit -= UNIT;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut b = TokenBucket::new(1_000, 5, 0);
        assert_eq!((0..10).filter(|_| b.try_take(0)).count(), 5, "a burst of 5");
        assert!(!b.try_take(999_999), "one token takes 1 ms at 1000/s");
        assert!(b.try_take(1_000_000));
        // A long idle refills to the burst, not beyond.
        assert_eq!((0..10).filter(|_| b.try_take(10_000_000_000)).count(), 5);
    }

    #[test]
    fn time_going_backwards_grants_nothing() {
        let mut b = TokenBucket::new(1, 1, 5_000_000_000);
        assert!(b.try_take(5_000_000_000));
        assert!(!b.try_take(0));
        assert!(!b.try_take(5_500_000_000));
        assert!(b.try_take(6_000_000_000));
    }
}
