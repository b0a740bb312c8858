//! Live market data over WebSocket (plain or TLS) on a `mio` event loop:
//! connect, subscribe, fetch REST snapshots, keep alive, reconnect with
//! back-off, and hand every raw message with its receive time to a [`Sink`].
//!
//! The network layer never parses venue messages: it delivers bytes exactly as
//! received. The [`CaptureWriter`](crate::capture::CaptureWriter) is one sink;
//! a live parser is another.
//!
//! Channels written by the loop:
//! - the connection's stream channel (e.g. `ws/binance-usdm`): one record per
//!   text or binary WebSocket message, the payload byte for byte;
//! - [`snapshot_channel`] (`rest/depth/<SYMBOL>`): the body of a REST depth
//!   snapshot response, fetched after every (re)connect;
//! - [`RECONNECT_CHANNEL`] (`gavel/reconnect`): the resync marker, written once at
//!   the start of every session but the first, before any of its messages.
//!
//! See `docs/CAPTURE.md` for the state machine and the record order.

use std::io;

use crate::capture::CaptureWriter;
use crate::wire::Venue;

pub mod backoff;
pub mod http;
pub mod live;
pub mod replay;
pub mod tls;
pub mod venue;

pub use backoff::{Backoff, BackoffConfig};
pub use live::{ConnectionStats, LiveLoop, NetConfig, StopReason};
pub use replay::{read_capture, CapturedMessage, RecordKind};
/// URLs of connections and snapshots (re-exported so callers need no `url` dependency).
pub use url::Url;

/// Channel of the resync marker written at the start of every session after the first.
pub const RECONNECT_CHANNEL: &str = "gavel/reconnect";
/// Prefix of REST depth snapshot channels (`rest/depth/<SYMBOL>`).
pub const SNAPSHOT_CHANNEL_PREFIX: &str = "rest/depth";

/// The channel a REST depth snapshot of `symbol` is recorded on: `rest/depth/<SYMBOL>`.
pub fn snapshot_channel(symbol: &str) -> String {
    format!("{SNAPSHOT_CHANNEL_PREFIX}/{symbol}")
}

/// Receives every raw message the loop reads.
pub trait Sink {
    /// One message: local receive time (`CLOCK_REALTIME`, ns since the Unix epoch),
    /// venue, channel and the bytes exactly as received. An error stops the loop.
    fn on_message(&mut self, receive_ns: i64, venue: Venue, channel: &[u8], message: &[u8]) -> io::Result<()>;

    /// Called on every turn of the loop (at least every `max_poll_wait`), for
    /// time-based work such as flushing. An error stops the loop.
    fn on_tick(&mut self, _now: std::time::Instant) -> io::Result<()> {
        Ok(())
    }
}

impl<W: io::Write> Sink for CaptureWriter<W> {
    fn on_message(&mut self, receive_ns: i64, venue: Venue, channel: &[u8], message: &[u8]) -> io::Result<()> {
        self.append(receive_ns, venue, channel, message)
    }

    fn on_tick(&mut self, now: std::time::Instant) -> io::Result<()> {
        self.tick(now)
    }
}

/// Any closure with the [`Sink::on_message`] signature is a sink.
impl<F> Sink for F
where
    F: FnMut(i64, Venue, &[u8], &[u8]) -> io::Result<()>,
{
    fn on_message(&mut self, receive_ns: i64, venue: Venue, channel: &[u8], message: &[u8]) -> io::Result<()> {
        self(receive_ns, venue, channel, message)
    }
}

/// How a connection keeps an idle session alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingStyle {
    /// A WebSocket ping frame (Binance).
    Frame,
    /// An application-level text message (Bybit's `{"op":"ping"}`).
    Text(String),
}

/// A REST snapshot to fetch after every (re)connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotSpec {
    /// `http://` or `https://` URL.
    pub url: Url,
    /// Channel to record the response body on.
    pub channel: String,
}

/// One WebSocket connection to keep up.
#[derive(Clone, Debug)]
pub struct ConnectionSpec {
    /// Channel of the stream's messages in the capture (≤ 255 bytes).
    pub channel: String,
    /// Venue recorded with every message.
    pub venue: Venue,
    /// `ws://` or `wss://` URL.
    pub url: Url,
    /// Text frames sent after every WebSocket handshake, in order.
    pub subscribe: Vec<String>,
    /// Snapshots fetched (one at a time, in order) after every WebSocket handshake.
    pub snapshots: Vec<SnapshotSpec>,
    /// Keep-alive style.
    pub ping: PingStyle,
}

impl ConnectionSpec {
    /// Checks schemes, hosts and channel lengths.
    pub fn new(
        channel: String,
        venue: Venue,
        url: Url,
        subscribe: Vec<String>,
        snapshots: Vec<SnapshotSpec>,
        ping: PingStyle,
    ) -> Result<ConnectionSpec, NetError> {
        if !matches!(url.scheme(), "ws" | "wss") || url.host_str().is_none() {
            return Err(NetError::Config(format!("{url}: a WebSocket URL needs ws:// or wss:// and a host")));
        }
        for snapshot in &snapshots {
            if !matches!(snapshot.url.scheme(), "http" | "https") || snapshot.url.host_str().is_none() {
                return Err(NetError::Config(format!(
                    "{}: a snapshot URL needs http:// or https:// and a host",
                    snapshot.url
                )));
            }
        }
        for name in std::iter::once(&channel).chain(snapshots.iter().map(|s| &s.channel)) {
            if name.len() > 255 {
                return Err(NetError::Config(format!("channel name longer than 255 bytes: {name}")));
            }
        }
        Ok(ConnectionSpec { channel, venue, url, subscribe, snapshots, ping })
    }
}

/// Errors that stop the loop or reject a configuration. Connection failures are
/// not errors of this kind: they are counted and end in a reconnect.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A bad URL, certificate file or option.
    #[error("configuration: {0}")]
    Config(String),
    /// The sink failed (e.g. the capture file could not be written).
    #[error("sink: {0}")]
    Sink(io::Error),
    /// The poller itself failed.
    #[error("event loop: {0}")]
    Poll(io::Error),
}

/// `CLOCK_REALTIME` now, in ns since the Unix epoch (`SystemTime` reads that
/// clock on Linux); 0 if the clock is set before 1970.
pub fn realtime_ns() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}
