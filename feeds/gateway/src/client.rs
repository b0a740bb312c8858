//! A blocking client of the protocol (std TCP): logon, send, receive. Used by
//! `gavel load` and the tests; `split` gives a sender for another thread so a
//! send schedule need not wait for replies.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::auth::sign;
use crate::protocol::{encode_frame, Logon, Message, ReadOutcome, FrameReader, MAX_FRAME_LEN};

/// The sending half: frames messages with its own sequence numbers.
pub struct ClientSender {
    stream: TcpStream,
    sequence: u64,
}

impl ClientSender {
    /// Sends one message.
    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        self.sequence += 1;
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = encode_frame(message, self.sequence, &mut frame);
        self.stream.write_all(&frame[..n])
    }

    /// The sequence number of the last message sent (the next one gets this + 1).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Sends bytes as they are (tests of bad input).
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }
}

/// A connected client.
pub struct Client {
    stream: TcpStream,
    reader: FrameReader,
    sender: ClientSender,
    /// The account the key trades for (after logon).
    pub account: u64,
    /// The key's role (after logon).
    pub role: u8,
}

impl Client {
    /// Connects without logging on; the server's challenge is read by [`Client::logon`].
    pub fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let sender = ClientSender { stream: stream.try_clone()?, sequence: 0 };
        Ok(Self { stream, reader: FrameReader::new(1 << 16), sender, account: 0, role: 0 })
    }

    /// Connects and logs on with `key_id` and `secret`; an error if refused.
    pub fn connect_logon(addr: SocketAddr, key_id: u64, secret: &[u8; 32]) -> io::Result<Self> {
        let mut c = Self::connect(addr)?;
        c.logon(key_id, secret)?;
        Ok(c)
    }

    /// Reads the challenge, signs it and waits for the answer.
    pub fn logon(&mut self, key_id: u64, secret: &[u8; 32]) -> io::Result<()> {
        let nonce = match self.recv(Duration::from_secs(5))? {
            Some(Message::Challenge(c)) => c.nonce,
            other => return Err(io::Error::other(format!("expected a challenge, got {other:?}"))),
        };
        self.send(&Message::Logon(Logon { key_id, signature: sign(secret, &nonce, key_id) }))?;
        match self.recv(Duration::from_secs(5))? {
            Some(Message::LogonAck(a)) => {
                self.account = a.account;
                self.role = a.role;
                Ok(())
            }
            other => Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("logon refused: {other:?}"))),
        }
    }

    /// Sends one message.
    pub fn send(&mut self, message: &Message) -> io::Result<()> {
        self.sender.send(message)
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.sender.send_raw(bytes)
    }

    /// A second sender on the same connection (for another thread).
    pub fn split_sender(&self) -> io::Result<ClientSender> {
        Ok(ClientSender { stream: self.stream.try_clone()?, sequence: self.sender.sequence })
    }

    /// The next message within `timeout` (`None`: nothing came). A closed
    /// connection is an `UnexpectedEof` error; refused frames are skipped.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Option<Message>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.reader.next_frame() {
                ReadOutcome::Message(_, m) => return Ok(Some(m)),
                ReadOutcome::Refused(_) => continue,
                ReadOutcome::Fatal(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}"))),
                ReadOutcome::NeedMore => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let spare = self.reader.spare();
            match self.stream.read(spare) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection")),
                Ok(n) => self.reader.filled(n),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Receives until `want` matches (returning it) or `timeout` passes (`None`).
    pub fn recv_until(&mut self, timeout: Duration, mut want: impl FnMut(&Message) -> bool) -> io::Result<Option<Message>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            match self.recv(left)? {
                Some(m) if want(&m) => return Ok(Some(m)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    /// Sets the socket's kernel receive buffer (a client that should fall behind sooner).
    pub fn set_receive_buffer(&self, bytes: usize) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let value = libc::c_int::try_from(bytes).map_err(io::Error::other)?;
        // SAFETY: a valid socket descriptor, a pointer to a live c_int and its size.
        let rc = unsafe { libc::setsockopt(self.stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, (&value as *const libc::c_int).cast(), core::mem::size_of::<libc::c_int>() as libc::socklen_t) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// The local socket address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }
}
