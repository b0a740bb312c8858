//! Errors of the shared-memory ring.

use std::path::PathBuf;

/// A header field checked when a ring file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderField {
    /// The file is shorter than the header, or its length disagrees with capacity × record size.
    FileLength,
    /// The magic number (`"GAVELRNG"`).
    Magic,
    /// The layout version.
    Version,
    /// The size of one record in bytes.
    RecordSize,
    /// The number of slots (a power of two, and the one the opener expects, if it names one).
    Capacity,
    /// The byte offset of slot 0.
    SlotsOffset,
}

impl HeaderField {
    /// The field's name as written in the layout table of `docs/RING.md`.
    pub fn name(self) -> &'static str {
        match self {
            HeaderField::FileLength => "file_length",
            HeaderField::Magic => "magic",
            HeaderField::Version => "version",
            HeaderField::RecordSize => "record_size",
            HeaderField::Capacity => "capacity",
            HeaderField::SlotsOffset => "slots_offset",
        }
    }
}

/// Why a consumer declared its producer dead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeathCause {
    /// The producer's process no longer exists (or is a zombie awaiting its parent).
    ProcessGone,
    /// The process exists but has not sent a heartbeat within the consumer's configured timeout.
    HeartbeatStale,
}

/// Everything that can go wrong creating, opening or using a ring.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// A file operation failed.
    #[error("ring file {path}: {operation} failed")]
    Io {
        /// The ring file.
        path: PathBuf,
        /// What was being done (e.g. "open", "map", "rename").
        operation: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A header field of an existing file does not match what the opener requires.
    #[error("ring file {path}: header field `{}` is {found:#x}, expected {expected}", field.name())]
    HeaderMismatch {
        /// The ring file.
        path: PathBuf,
        /// The offending field.
        field: HeaderField,
        /// What the opener requires, in words.
        expected: String,
        /// What the file holds.
        found: u64,
    },
    /// A ring was asked for with an unusable capacity.
    #[error("ring file {path}: capacity {capacity} is invalid: it must be a power of two between 2 and 2^40")]
    InvalidCapacity {
        /// The ring file.
        path: PathBuf,
        /// The requested capacity.
        capacity: u64,
    },
    /// Another live consumer is attached; the ring has exactly one consumer.
    #[error("ring file {path}: consumer pid {pid} is already attached (single consumer only)")]
    ConsumerAttached {
        /// The ring file.
        path: PathBuf,
        /// The attached consumer's pid.
        pid: u32,
    },
    /// The producer died (or stopped heart-beating) and every record it published has been read.
    #[error(
        "ring file {path}: producer pid {pid} is dead ({cause:?}) after {published} records; \
         last heartbeat #{heartbeat_counter}, {heartbeat_age_ms} ms ago"
    )]
    ProducerDead {
        /// The ring file.
        path: PathBuf,
        /// The producer's pid from the header.
        pid: u32,
        /// How the death was detected.
        cause: DeathCause,
        /// Records the producer published before it died (all of them were delivered).
        published: u64,
        /// The producer's last heartbeat counter.
        heartbeat_counter: u64,
        /// Milliseconds since the producer's last heartbeat.
        heartbeat_age_ms: u64,
    },
    /// The producer closed the ring cleanly and every record has been read.
    #[error("ring file {path}: producer closed the ring after {published} records")]
    Closed {
        /// The ring file.
        path: PathBuf,
        /// Records the producer published in total.
        published: u64,
    },
    /// Another live producer holds the ring file's lock: one producer per ring.
    #[error("ring file {path}: producer pid {pid} holds it (one producer per ring: stop that process or use another path)")]
    ProducerActive {
        /// The ring file.
        path: PathBuf,
        /// The holder's pid, from the file's header (0 if unreadable).
        pid: u32,
    },
    /// The ring file was truncated, removed or replaced while mapped.
    #[error("ring file {path}: {what}")]
    FileChanged {
        /// The ring file.
        path: PathBuf,
        /// What changed, in words.
        what: String,
    },
    /// The ring's folder lacks the free space for the ring file.
    #[error("ring file {path}: needs {needed} bytes but only {available} are free in its folder")]
    NoSpace {
        /// The ring file.
        path: PathBuf,
        /// The ring file's length.
        needed: u64,
        /// Free bytes in the folder's file system.
        available: u64,
    },
    /// The consumer died while a blocking producer waited for room.
    #[error("ring file {path}: consumer pid {pid} died while the ring was full")]
    ConsumerDead {
        /// The ring file.
        path: PathBuf,
        /// The dead consumer's pid.
        pid: u32,
    },
}
