//! Reading a live capture back in record order, with each record classified as
//! stream message, REST snapshot or resync marker: the input of a straight
//! replay through the parsers and book sync.

use std::path::Path;

use super::{RECONNECT_CHANNEL, SNAPSHOT_CHANNEL_PREFIX};
use crate::capture::CaptureFile;
use crate::input_error::InputError;
use crate::wire::Venue;

/// What a captured record is, by its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A WebSocket message on a stream channel.
    Stream,
    /// A REST depth snapshot body for the named symbol.
    Snapshot {
        /// Symbol from the channel `rest/depth/<SYMBOL>` (empty for a bare `rest/depth`).
        symbol: String,
    },
    /// The resync marker: a new session starts here; drop book state and wait for its snapshot.
    Reconnect,
}

impl RecordKind {
    /// Classifies a channel name.
    pub fn of_channel(channel: &[u8]) -> RecordKind {
        if channel == RECONNECT_CHANNEL.as_bytes() {
            return RecordKind::Reconnect;
        }
        if let Some(rest) = channel.strip_prefix(SNAPSHOT_CHANNEL_PREFIX.as_bytes()) {
            if rest.is_empty() || rest[0] == b'/' {
                let symbol = String::from_utf8_lossy(rest.get(1..).unwrap_or(&[])).into_owned();
                return RecordKind::Snapshot { symbol };
            }
        }
        RecordKind::Stream
    }
}

/// One record of a capture, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedMessage {
    /// Local receive time, ns since the Unix epoch.
    pub receive_ns: i64,
    /// Venue.
    pub venue: Venue,
    /// Channel name.
    pub channel: Vec<u8>,
    /// The bytes exactly as received.
    pub message: Vec<u8>,
    /// Classification of the channel.
    pub kind: RecordKind,
}

/// Reads every record of the capture at `path` in file order (which is receive
/// order). A damaged record is an error naming the file and byte offset; a
/// torn tail (a capture killed mid-write) is skipped with a warning on stderr.
pub fn read_capture(path: &Path) -> Result<Vec<CapturedMessage>, InputError> {
    let file = CaptureFile::open(path)?;
    if let Some(warning) = file.torn_tail_warning() {
        eprintln!("{warning}");
    }
    let mut out = Vec::new();
    for record in file.records() {
        let record = record?;
        out.push(CapturedMessage {
            receive_ns: record.receive_ns,
            venue: record.venue,
            channel: record.channel.to_vec(),
            message: record.message.to_vec(),
            kind: RecordKind::of_channel(record.channel),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_classify() {
        assert_eq!(RecordKind::of_channel(b"gavel/reconnect"), RecordKind::Reconnect);
        assert_eq!(RecordKind::of_channel(b"rest/depth/BTCUSDT"), RecordKind::Snapshot { symbol: "BTCUSDT".into() });
        assert_eq!(RecordKind::of_channel(b"rest/depth"), RecordKind::Snapshot { symbol: String::new() });
        assert_eq!(RecordKind::of_channel(b"rest/depthx"), RecordKind::Stream);
        assert_eq!(RecordKind::of_channel(b"ws/binance-usdm"), RecordKind::Stream);
    }
}
