//! Framing: encoding one message into a frame, and a per-session reader that
//! cuts frames out of a fixed buffer filled from a socket.

use super::{reason, Message, HEADER_LEN, MAX_FRAME_LEN, SCHEMA_ID, SCHEMA_VERSION};

/// The decoded fixed header of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Bytes of the whole frame.
    pub frame_length: u32,
    /// Bytes of the body.
    pub block_length: u16,
    /// Message type.
    pub template_id: u16,
    /// Schema id.
    pub schema_id: u16,
    /// Schema version.
    pub version: u16,
    /// Sender's sequence number.
    pub sequence: u64,
}

/// Why a frame could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length field is impossible; the stream cannot be resynchronised.
    BadLength(u32),
    /// The frame is well-delimited but not usable ([`reason`] code); skip it.
    Refused {
        /// The frame's header.
        header: FrameHeader,
        /// The [`reason`] code.
        reason: u16,
    },
}

/// Reads the header at the start of `b` (at least [`HEADER_LEN`] bytes).
pub fn decode_header(b: &[u8]) -> FrameHeader {
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&b[12..20]);
    FrameHeader {
        frame_length: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        block_length: u16_at(4),
        template_id: u16_at(6),
        schema_id: u16_at(8),
        version: u16_at(10),
        sequence: u64::from_le_bytes(seq),
    }
}

/// Encodes `message` with `sequence` into `out`; returns the frame's length.
pub fn encode_frame(message: &Message, sequence: u64, out: &mut [u8; MAX_FRAME_LEN]) -> usize {
    let block = message.block_length();
    let len = HEADER_LEN + block;
    out[0..4].copy_from_slice(&(len as u32).to_le_bytes());
    out[4..6].copy_from_slice(&(block as u16).to_le_bytes());
    out[6..8].copy_from_slice(&message.template_id().to_le_bytes());
    out[8..10].copy_from_slice(&SCHEMA_ID.to_le_bytes());
    out[10..12].copy_from_slice(&SCHEMA_VERSION.to_le_bytes());
    out[12..20].copy_from_slice(&sequence.to_le_bytes());
    message.write_body(&mut out[HEADER_LEN..len]);
    len
}

/// Checks a complete frame and decodes its message. A slice shorter than the
/// header is [`FrameError::BadLength`] (with its length).
pub fn decode_frame(frame: &[u8]) -> Result<(FrameHeader, Message), FrameError> {
    if frame.len() < HEADER_LEN {
        return Err(FrameError::BadLength(frame.len() as u32));
    }
    let header = decode_header(frame);
    let refused = |reason| FrameError::Refused { header, reason };
    if header.schema_id != SCHEMA_ID || header.version != SCHEMA_VERSION {
        return Err(refused(reason::WRONG_VERSION));
    }
    if usize::from(header.block_length) + HEADER_LEN != frame.len() {
        return Err(refused(reason::BAD_LENGTH));
    }
    Message::decode(header.template_id, &frame[HEADER_LEN..]).map(|m| (header, m)).map_err(refused)
}

/// What [`FrameReader::next_frame`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// A decoded message.
    Message(FrameHeader, Message),
    /// A delimited frame that was refused; the stream goes on.
    Refused(FrameError),
    /// No complete frame buffered.
    NeedMore,
    /// An impossible length: the session must be closed.
    Fatal(FrameError),
}

/// A session's input buffer: bytes from the socket go into [`FrameReader::spare`],
/// frames come out of [`FrameReader::next_frame`]. Its size is fixed at
/// construction, so no input makes it allocate.
#[derive(Debug)]
pub struct FrameReader {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl FrameReader {
    /// A reader with `capacity` bytes (at least [`MAX_FRAME_LEN`]).
    pub fn new(capacity: usize) -> Self {
        Self { buf: vec![0u8; capacity.max(MAX_FRAME_LEN)].into_boxed_slice(), start: 0, end: 0 }
    }

    /// Free space to read socket bytes into (compacting first if needed);
    /// report what was written with [`FrameReader::filled`].
    pub fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 && (self.end == self.buf.len() || self.buf.len() - self.end < MAX_FRAME_LEN) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes of [`FrameReader::spare`] as filled.
    pub fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Bytes buffered and not yet cut into frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The next frame, if one is complete.
    pub fn next_frame(&mut self) -> ReadOutcome {
        let avail = &self.buf[self.start..self.end];
        if avail.len() < 4 {
            return ReadOutcome::NeedMore;
        }
        let len = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]);
        if (len as usize) < HEADER_LEN || len as usize > MAX_FRAME_LEN {
            return ReadOutcome::Fatal(FrameError::BadLength(len));
        }
        let len = len as usize;
        if avail.len() < len {
            return ReadOutcome::NeedMore;
        }
        let frame = &avail[..len];
        let outcome = match decode_frame(frame) {
            Ok((h, m)) => ReadOutcome::Message(h, m),
            Err(e) => ReadOutcome::Refused(e),
        };
        self.start += len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        outcome
    }
}
