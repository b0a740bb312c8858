//! gavel's binary protocol: little-endian frames of a fixed 20-byte header and
//! a fixed-size body, specified as an SBE (Simple Binary Encoding) schema in
//! `feeds/gateway/sbe/gavel.xml` and documented in `docs/PROTOCOL.md`.
//!
//! | offset | size | field          | meaning                                          |
//! |--------|------|----------------|--------------------------------------------------|
//! | 0      | 4    | `frame_length` | bytes of the whole frame, header included         |
//! | 4      | 2    | `block_length` | bytes of the body (SBE root block)                |
//! | 6      | 2    | `template_id`  | message type ([`template`])                        |
//! | 8      | 2    | `schema_id`    | [`SCHEMA_ID`]                                      |
//! | 10     | 2    | `version`      | [`SCHEMA_VERSION`]                                 |
//! | 12     | 8    | `sequence`     | sender's message sequence number (1, 2, …)         |
//!
//! Bytes 4..20 are the SBE message header composite; `frame_length` is the
//! framing in front of it. No message has variable-length fields.

mod frame;
mod messages;

pub use frame::{decode_frame, decode_header, encode_frame, FrameError, FrameHeader, FrameReader, ReadOutcome};
pub use messages::*;

/// SBE schema id of gavel's protocol.
pub const SCHEMA_ID: u16 = 0x4756;
/// Schema version this build speaks.
pub const SCHEMA_VERSION: u16 = 1;
/// Bytes of the frame header.
pub const HEADER_LEN: usize = 20;
/// Largest frame accepted: a longer `frame_length` is a protocol error and is
/// never allocated for.
pub const MAX_FRAME_LEN: usize = 256;

/// Session-level reject reasons ([`SessionReject::reason`], [`LogonReject::reason`]).
pub mod reason {
    /// `frame_length` below the header or above [`super::MAX_FRAME_LEN`], or not header + block.
    pub const BAD_LENGTH: u16 = 1;
    /// Unknown `template_id`.
    pub const UNKNOWN_TEMPLATE: u16 = 2;
    /// `schema_id` or `version` not spoken here.
    pub const WRONG_VERSION: u16 = 3;
    /// A message other than logon or heartbeat before a successful logon.
    pub const NOT_LOGGED_IN: u16 = 4;
    /// The body is shorter than the template's block.
    pub const SHORT_BLOCK: u16 = 5;
    /// A field is out of range (side, order type, flags, quantity).
    pub const BAD_FIELD: u16 = 6;
    /// The session's role may not send this message.
    pub const NOT_PERMITTED: u16 = 7;
    /// The session's rate limit is exhausted.
    pub const RATE_LIMITED: u16 = 8;
    /// The session has as many open orders as it may.
    pub const TOO_MANY_OPEN_ORDERS: u16 = 9;
    /// Unknown API key id or wrong signature.
    pub const BAD_CREDENTIALS: u16 = 10;
    /// A second logon on a logged-in session.
    pub const ALREADY_LOGGED_IN: u16 = 11;
    /// The engine's input ring is full; nothing was accepted.
    pub const ENGINE_BUSY: u16 = 12;
    /// A message a client may not send (server-to-client template).
    pub const WRONG_DIRECTION: u16 = 13;
    /// The requested market-data range is no longer held; ask for a snapshot.
    pub const REPLAY_UNAVAILABLE: u16 = 14;
    /// The server is shutting down.
    pub const SHUTTING_DOWN: u16 = 15;
    /// Too many protocol errors: the session is closed.
    pub const TOO_MANY_ERRORS: u16 = 16;
    /// The server's input journal failed (disk full, I/O error): no request is accepted.
    pub const JOURNAL_FAILED: u16 = 17;
    /// Nothing arrived from the session within the idle timeout (heartbeats keep it open).
    pub const IDLE_TIMEOUT: u16 = 18;
}
