//! A single-producer single-consumer ring over a shared file, for moving
//! fixed-size records (gavel's 64-byte [`Event`](crate::Event)) between
//! processes without system calls or locks.
//!
//! The producer [creates](Producer::create) the file (by default under
//! `/dev/shm`, see [`default_ring_path`]); the consumer [opens](Consumer::open)
//! it and checks its header. Records go into power-of-two many slots; the
//! producer publishes with one release store of its cursor per batch and the
//! consumer hands slots back with one release store of its own. Each side
//! keeps a private copy of the other's cursor and reads the shared one only
//! when its copy says the ring is full (producer) or empty (consumer), so in
//! steady state the two cursor cache lines do not bounce.
//!
//! Never silent: a full ring blocks or counts every dropped record in a shared
//! overflow counter ([`FullPolicy`]); a consumer waiting on an empty ring
//! returns [`RingError::Closed`] after a clean close and
//! [`RingError::ProducerDead`] when the producer's process is gone.
//! `docs/RING.md` has the layout table and the ordering argument.

mod consumer;
mod error;
mod event;
pub mod layout;
mod liveness;
mod mapping;
mod owner;
mod producer;
mod wait;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod owner_tests;

pub use consumer::{Consumer, ConsumerConfig, RingStatus};
pub use error::{DeathCause, HeaderField, RingError};
pub use event::EventProducer;
pub use producer::{Producer, ProducerConfig, Pushed};
pub use owner::reclaim_stale;
pub use wait::{FullPolicy, WaitStrategy};

use std::path::PathBuf;

/// Where ring files live by default: `/dev/shm` (memory-backed), or the
/// system temp directory where `/dev/shm` does not exist.
pub fn default_ring_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// `<default_ring_dir()>/<name>`.
pub fn default_ring_path(name: &str) -> PathBuf {
    default_ring_dir().join(name)
}
