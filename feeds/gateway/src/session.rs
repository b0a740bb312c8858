//! One client connection: its socket, input frames, bounded output buffer,
//! logon state, limits and the orders it has open.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};

use mio::net::TcpStream;

use crate::limits::TokenBucket;
use crate::protocol::{encode_frame, FrameReader, Message, MAX_FRAME_LEN};

/// Who a session logged on as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    /// API key id (a liquidator's id in the engine).
    pub key_id: u64,
    /// Engine account.
    pub account: u64,
    /// Role code.
    pub role: u8,
}

/// Why a session is being closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed or reset the connection.
    PeerClosed,
    /// Its unsent output passed the bound (a slow reader).
    SlowReader,
    /// Too many protocol errors, or an undelimitable frame.
    ProtocolErrors,
    /// A failed logon.
    LogonFailed,
    /// The client logged out.
    Logout,
    /// The server is shutting down.
    Shutdown,
    /// Nothing arrived within the idle timeout.
    IdleTimeout,
}

/// A connected client.
pub struct Session {
    pub(crate) stream: TcpStream,
    pub(crate) reader: FrameReader,
    out: Vec<u8>,
    out_start: usize,
    out_limit: usize,
    pub(crate) nonce: [u8; 32],
    pub(crate) identity: Option<Identity>,
    pub(crate) bucket: TokenBucket,
    pub(crate) errors: u32,
    send_sequence: u64,
    pub(crate) channels: u32,
    /// Client order id → lots still resting (or asked, before the ack).
    pub(crate) open_orders: HashMap<u64, crate::requests::OpenOrder>,
    pub(crate) closing: Option<CloseReason>,
    pub(crate) dirty: bool,
    /// Event-clock time of the last frame read from the client.
    pub(crate) last_input_ns: i64,
}

impl Session {
    pub(crate) fn new(stream: TcpStream, nonce: [u8; 32], bucket: TokenBucket, read_capacity: usize, out_limit: usize, max_open_orders: usize) -> Self {
        Self {
            stream,
            reader: FrameReader::new(read_capacity),
            out: Vec::with_capacity(out_limit.min(1 << 20)),
            out_start: 0,
            out_limit,
            nonce,
            identity: None,
            bucket,
            errors: 0,
            send_sequence: 0,
            channels: 0,
            open_orders: HashMap::with_capacity(max_open_orders.min(1 << 16)),
            closing: None,
            dirty: false,
            last_input_ns: i64::MIN,
        }
    }

    /// Queues one message; a reader that lets its output pass the bound is marked slow.
    pub(crate) fn send(&mut self, message: &Message) {
        if self.closing.is_some() {
            return;
        }
        if self.out.len() - self.out_start + MAX_FRAME_LEN > self.out_limit {
            self.closing = Some(CloseReason::SlowReader);
            return;
        }
        self.send_sequence += 1;
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = encode_frame(message, self.send_sequence, &mut frame);
        self.out.extend_from_slice(&frame[..n]);
        self.dirty = true;
    }

    /// Bytes queued and not yet written.
    pub(crate) fn pending_output(&self) -> usize {
        self.out.len() - self.out_start
    }

    /// Writes what the socket takes now; false if the connection failed.
    pub(crate) fn flush(&mut self) -> bool {
        while self.out_start < self.out.len() {
            match self.stream.write(&self.out[self.out_start..]) {
                Ok(0) => return false,
                Ok(n) => self.out_start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        if self.out_start == self.out.len() {
            self.out.clear();
            self.out_start = 0;
        } else if self.out_start > self.out.capacity() / 2 {
            self.out.drain(..self.out_start);
            self.out_start = 0;
        }
        self.dirty = false;
        true
    }

    /// Reads what the socket has into the frame buffer; false when the peer is gone.
    pub(crate) fn fill(&mut self) -> ReadState {
        loop {
            let spare = self.reader.spare();
            if spare.is_empty() {
                return ReadState::BufferFull;
            }
            match self.stream.read(spare) {
                Ok(0) => return ReadState::Closed,
                Ok(n) => self.reader.filled(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return ReadState::Drained,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return ReadState::Closed,
            }
        }
    }
}

/// What [`Session::fill`] ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadState {
    /// The socket has nothing more now.
    Drained,
    /// The frame buffer is full; process frames, then read again.
    BufferFull,
    /// The peer closed or the connection failed.
    Closed,
}
