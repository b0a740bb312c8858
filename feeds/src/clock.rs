//! Latency clock: a calibrated time-stamp counter on x86_64 with a
//! `CLOCK_MONOTONIC` fallback elsewhere.
//!
//! Ticks from [`Clock::now_ticks`] are comparable across threads and across
//! processes on one machine (an invariant TSC, or the kernel's monotonic
//! clock), so a producer in one process can stamp an event and the consumer in
//! another can measure the hop. Ticks are for latency measurement only; engine
//! logic never reads this clock.

use std::time::{Duration, Instant};

/// Which hardware source backs a [`Clock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// The x86_64 time-stamp counter (`rdtsc`), calibrated against `Instant`.
    Tsc,
    /// `CLOCK_MONOTONIC` in nanoseconds (one tick = 1 ns).
    Monotonic,
}

/// A calibrated tick clock with a fixed-point ticks-to-nanoseconds factor.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    source: ClockSource,
    /// Nanoseconds per tick, scaled by 2^32.
    ns_per_tick_q32: u64,
}

impl Clock {
    /// Calibrates the best available source over roughly `window`.
    ///
    /// Uses the TSC when the CPU reports an invariant one (`constant_tsc` and
    /// `nonstop_tsc` on Linux), else the monotonic clock.
    pub fn calibrate(window: Duration) -> Clock {
        if tsc_is_invariant() {
            let start_instant = Instant::now();
            let start_ticks = read_tsc();
            while start_instant.elapsed() < window {
                std::hint::spin_loop();
            }
            let ticks = read_tsc().wrapping_sub(start_ticks).max(1);
            let ns = start_instant.elapsed().as_nanos();
            let ns_per_tick_q32 = ((ns << 32) / ticks as u128) as u64;
            if ns_per_tick_q32 > 0 {
                return Clock { source: ClockSource::Tsc, ns_per_tick_q32 };
            }
        }
        Clock::monotonic()
    }

    /// A clock on `CLOCK_MONOTONIC`, needing no calibration.
    pub fn monotonic() -> Clock {
        Clock { source: ClockSource::Monotonic, ns_per_tick_q32: 1 << 32 }
    }

    /// The source backing this clock.
    pub fn source(&self) -> ClockSource {
        self.source
    }

    /// Current tick count.
    #[inline(always)]
    pub fn now_ticks(&self) -> u64 {
        match self.source {
            ClockSource::Tsc => read_tsc(),
            ClockSource::Monotonic => monotonic_ns(),
        }
    }

    /// Converts a tick difference to nanoseconds.
    #[inline(always)]
    pub fn ticks_to_ns(&self, ticks: u64) -> u64 {
        ((ticks as u128 * self.ns_per_tick_q32 as u128) >> 32) as u64
    }

    /// Nanoseconds elapsed since `start_ticks` (0 if the clock appears to have gone back).
    #[inline(always)]
    pub fn ns_since(&self, start_ticks: u64) -> u64 {
        let now = self.now_ticks();
        if now >= start_ticks {
            self.ticks_to_ns(now - start_ticks)
        } else {
            0
        }
    }

    /// Nanoseconds per tick as a float, for reports.
    pub fn ns_per_tick(&self) -> f64 {
        self.ns_per_tick_q32 as f64 / (1u64 << 32) as f64
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn read_tsc() -> u64 {
    // SAFETY: `rdtsc` is available on every x86_64 CPU and has no memory effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn read_tsc() -> u64 {
    monotonic_ns()
}

/// `CLOCK_MONOTONIC` in nanoseconds.
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn tsc_is_invariant() -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(info) => info
            .lines()
            .find(|line| line.starts_with("flags"))
            .map(|flags| {
                let has = |flag: &str| flags.split_whitespace().any(|f| f == flag);
                has("constant_tsc") && has("nonstop_tsc")
            })
            .unwrap_or(false),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibrated_clock_measures_a_sleep_within_reason() {
        let clock = Clock::calibrate(Duration::from_millis(20));
        let start = clock.now_ticks();
        std::thread::sleep(Duration::from_millis(30));
        let ns = clock.ns_since(start);
        // A sleep never returns early; the upper bound only guards against a
        // wildly wrong calibration (shared machines can delay wake-up a lot).
        assert!(ns >= 29_000_000, "measured {ns} ns for a 30 ms sleep");
        assert!(ns < 3_000_000_000, "measured {ns} ns for a 30 ms sleep");
    }

    #[test]
    fn monotonic_clock_is_one_ns_per_tick() {
        let clock = Clock::monotonic();
        assert_eq!(clock.ticks_to_ns(1234), 1234);
        assert_eq!(clock.ns_since(u64::MAX), 0);
    }
}
