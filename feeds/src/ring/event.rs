//! A producer of [`Event`]s that stamps `publish_ticks` at publish.

use std::path::Path;

use crate::clock::Clock;
use crate::wire::Event;

use super::error::RingError;
use super::producer::{Producer, ProducerConfig, Pushed};

/// A [`Producer<Event>`] that stamps every event's `publish_ticks` with the
/// clock just before writing it, so the consumer can measure the hop with
/// [`Clock::ns_since`]. A batch shares one stamp, taken before its first write.
pub struct EventProducer {
    inner: Producer<Event>,
    clock: Clock,
}

impl EventProducer {
    /// Creates the ring file and an event producer stamping with `clock`.
    pub fn create(
        path: impl AsRef<Path>,
        config: ProducerConfig,
        clock: Clock,
    ) -> Result<Self, RingError> {
        Ok(EventProducer {
            inner: Producer::create(path, config)?,
            clock,
        })
    }

    /// Wraps an existing producer.
    pub fn new(inner: Producer<Event>, clock: Clock) -> Self {
        EventProducer { inner, clock }
    }

    /// Stamps and pushes one event under the ring's full policy.
    #[inline]
    pub fn push(&mut self, mut event: Event) -> Result<Pushed, RingError> {
        event.publish_ticks = self.clock.now_ticks();
        self.inner.push(event)
    }

    /// Stamps and pushes one event if there is room now.
    #[inline]
    #[must_use]
    pub fn try_push(&mut self, mut event: Event) -> bool {
        event.publish_ticks = self.clock.now_ticks();
        self.inner.try_push(event)
    }

    /// Records published and not yet consumed.
    pub fn used(&self) -> u64 {
        self.inner.used()
    }

    /// Stamps and pushes a batch under the ring's full policy; see [`Producer::push_with`].
    pub fn push_slice(&mut self, events: &[Event]) -> Result<usize, RingError> {
        let ticks = self.clock.now_ticks();
        self.inner.push_with(events.len(), |i| Event {
            publish_ticks: ticks,
            ..events[i]
        })
    }

    /// Stamps and pushes `count` events made by `make(i)` under the ring's full
    /// policy; see [`Producer::push_with`]. The call shares one stamp, taken before its first write.
    pub fn push_with(
        &mut self,
        count: usize,
        mut make: impl FnMut(usize) -> Event,
    ) -> Result<usize, RingError> {
        let ticks = self.clock.now_ticks();
        self.inner.push_with(count, |i| Event {
            publish_ticks: ticks,
            ..make(i)
        })
    }

    /// The clock used for stamps.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The underlying producer (heartbeat, counters, raw pushes without stamps).
    pub fn producer(&mut self) -> &mut Producer<Event> {
        &mut self.inner
    }
}
