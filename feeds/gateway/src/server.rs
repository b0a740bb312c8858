//! The gateway: one mio poll loop (non-blocking TCP, no async runtime) that
//! logs sessions on, turns their requests into engine input events on a ring
//! ([`requests`](crate::requests)) and the engine's output events from another
//! ring into messages for the sessions they concern ([`routing`](crate::routing)).
//!
//! The engine never waits for a client: output for a session goes into that
//! session's bounded buffer, and a session whose unsent output passes the
//! bound is disconnected and counted. Nothing a client sends allocates beyond
//! its fixed read buffer.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gavel_feeds::clock::Clock;
use gavel_feeds::ring::{Consumer, EventProducer};
use gavel_feeds::wire::{Event, EventKind, Venue};
use hdrhistogram::Histogram;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

use crate::auth::{random_bytes, KeyTable};
use crate::event_clock::EventClock;
use crate::limits::TokenBucket;
use crate::market_data::MarketData;
use crate::protocol::{reason, Challenge, FrameHeader, Logout, Message, ReadOutcome, SessionReject};
use crate::session::{CloseReason, ReadState, Session};

const LISTENER: Token = Token(usize::MAX);

/// Gateway settings.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Sessions at once; further connections are closed at accept.
    pub max_sessions: usize,
    /// Bytes of unsent output after which a session is a slow reader and is closed.
    pub output_limit: usize,
    /// Input buffer per session, bytes.
    pub read_buffer: usize,
    /// Messages per second per session (token bucket rate).
    pub rate_per_s: u64,
    /// Token bucket burst.
    pub burst: u64,
    /// Open orders per session.
    pub max_open_orders: usize,
    /// Protocol errors after which a session is closed.
    pub max_protocol_errors: u32,
    /// Heartbeat interval announced at logon, ms.
    pub heartbeat_ms: u32,
    /// Market-data messages kept for gap recovery.
    pub md_history: usize,
    /// Instruments of the own book.
    pub instruments: u32,
    /// A timer event goes to the engine at least this often, ns (auctions move with time).
    pub timer_interval_ns: i64,
    /// Poll without sleeping (lowest latency; burns the gateway's core).
    pub busy_poll: bool,
    /// Close a session from which nothing (not even a heartbeat) arrived for this long, ns
    /// (`None`: never). Counted from logon or the last frame.
    pub idle_timeout_ns: Option<i64>,
    /// Kernel send buffer of each session socket, bytes (`None`: the system's autotuning).
    /// Small values make the output bound bite sooner on a reader that stops reading.
    pub socket_send_buffer: Option<usize>,
}

impl GatewayConfig {
    /// Defaults for `listen`.
    pub fn new(listen: SocketAddr, instruments: u32) -> Self {
        Self {
            listen,
            max_sessions: 1024,
            output_limit: 4 << 20,
            read_buffer: 64 << 10,
            rate_per_s: 100_000,
            burst: 10_000,
            max_open_orders: 10_000,
            max_protocol_errors: 10,
            heartbeat_ms: 1_000,
            md_history: 1 << 16,
            instruments,
            timer_interval_ns: 10_000_000,
            busy_poll: false,
            socket_send_buffer: None,
            idle_timeout_ns: None,
        }
    }
}

/// The gateway's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GatewayCounters {
    /// Connections accepted.
    pub connections: u64,
    /// Connections refused at accept (too many sessions).
    pub refused_connections: u64,
    /// Successful logons.
    pub logons: u64,
    /// Failed logons.
    pub logon_failures: u64,
    /// Frames refused as protocol errors.
    pub protocol_errors: u64,
    /// Requests refused by the rate limit.
    pub rate_limited: u64,
    /// Orders refused by the open-order cap.
    pub open_order_limited: u64,
    /// Requests refused because the engine's input ring was full.
    pub engine_busy: u64,
    /// Sessions closed as slow readers.
    pub slow_disconnects: u64,
    /// Sessions closed for protocol errors.
    pub error_disconnects: u64,
    /// Sessions closed after the idle timeout.
    pub idle_disconnects: u64,
    /// Orders, cancels and takes sent to the engine.
    pub orders_in: u64,
    /// Execution reports and take reports sent to sessions.
    pub reports_out: u64,
    /// Market-data messages published.
    pub market_data_out: u64,
    /// Engine outputs read.
    pub engine_outputs: u64,
    /// Routed intents seen (no external venue executes them in `gavel serve`).
    pub routed_intents: u64,
    /// Requests refused because the input journal failed.
    pub journal_refused: u64,
    /// Most engine outputs held at once waiting for the journal.
    pub held_max: u64,
}

/// The journal's progress as the gateway sees it: an engine output may reach a
/// session only once the input that caused it is durable.
#[derive(Clone, Debug, Default)]
pub struct JournalGate {
    /// Highest journal sequence known durable (fsynced).
    pub durable: Arc<AtomicU64>,
    /// Set when the journal writer failed; requests are then refused.
    pub failed: Arc<AtomicBool>,
}

/// A journal the gateway thread writes itself, in its poll loop, before it releases the outputs
/// the records make durable (instead of a writer thread the gateway must wait for: one thread
/// hop less on every acknowledgement). Used where a record is durable once written (the page
/// cache, `--durability write`); a journal that must `fsync` keeps its own thread.
pub trait InlineJournal: Send {
    /// Writes every record waiting and publishes the durable sequence (and any failure) on the
    /// gate; true when it wrote something. Called on every round of the gateway's loop.
    fn pump(&mut self) -> bool;
    /// The journal itself, to read its report once the gateway has stopped.
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any>;
}

/// Gateway latency histograms (ns).
pub struct GatewayLatency {
    /// Request frame decoded → its first execution report written to the socket.
    pub round_trip: Histogram<u64>,
    /// Engine publish of an output → written to the session's socket.
    pub output: Histogram<u64>,
}

/// The gateway.
pub struct Gateway {
    pub(crate) config: GatewayConfig,
    poll: Poll,
    listener: TcpListener,
    pub(crate) keys: KeyTable,
    pub(crate) sessions: Vec<Option<Session>>,
    pub(crate) by_account: HashMap<u64, Vec<usize>>,
    pub(crate) by_liquidator: HashMap<u64, Vec<usize>>,
    pub(crate) to_engine: EventProducer,
    from_engine: Consumer<Event>,
    pub(crate) md: MarketData,
    pub(crate) counters: GatewayCounters,
    pub(crate) clock: EventClock,
    pub(crate) ticks: Clock,
    pub(crate) latency: GatewayLatency,
    last_timer_ns: i64,
    stopping: bool,
    shutdown_deadline_ns: Option<i64>,
    gate: Option<JournalGate>,
    /// Engine outputs read but not yet durable, in engine order.
    held: VecDeque<Event>,
    /// The journal this thread writes, if it writes one ([`Gateway::set_inline_journal`]).
    journal: Option<Box<dyn InlineJournal>>,
}

/// Engine outputs held at most, waiting for the journal (the engine's output ring backs up beyond).
pub const HELD_CAPACITY: usize = 1 << 16;

impl Gateway {
    /// Binds the listener. `to_engine` carries requests to the engine, `from_engine` its outputs.
    pub fn bind(config: GatewayConfig, keys: KeyTable, to_engine: EventProducer, from_engine: Consumer<Event>, clock: EventClock) -> io::Result<Self> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(config.listen)?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let hist = || Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"));
        Ok(Self {
            md: MarketData::new(config.instruments as usize, config.md_history),
            ticks: *to_engine.clock(),
            config,
            poll,
            listener,
            keys,
            sessions: Vec::new(),
            by_account: HashMap::new(),
            by_liquidator: HashMap::new(),
            to_engine,
            from_engine,
            counters: GatewayCounters::default(),
            clock,
            latency: GatewayLatency { round_trip: hist(), output: hist() },
            last_timer_ns: i64::MIN,
            stopping: false,
            shutdown_deadline_ns: None,
            gate: None,
            held: VecDeque::new(),
            journal: None,
        })
    }

    /// Holds every engine output until the journal is durable up to the input
    /// sequence the output carries in `exchange_ns` (see `gavel_feeds::wire`).
    pub fn set_journal_gate(&mut self, gate: JournalGate) {
        self.held = VecDeque::with_capacity(HELD_CAPACITY);
        self.gate = Some(gate);
    }

    /// Makes this thread write the journal (see [`InlineJournal`]); the gate still decides what
    /// is released, so [`Gateway::set_journal_gate`] must be given the journal's gate.
    pub fn set_inline_journal(&mut self, journal: Box<dyn InlineJournal>) {
        self.journal = Some(journal);
    }

    /// Takes the inline journal back (after [`Gateway::run`]), to finish and report it.
    pub fn take_inline_journal(&mut self) -> Option<Box<dyn InlineJournal>> {
        self.journal.take()
    }

    /// Whether the journal failed (requests are refused).
    pub fn journal_failed(&self) -> bool {
        self.gate.as_ref().is_some_and(|g| g.failed.load(Ordering::Relaxed))
    }

    /// Engine outputs waiting for the journal now.
    pub fn held_outputs(&self) -> usize {
        self.held.len()
    }

    /// Where the listener is bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The counters so far.
    pub fn counters(&self) -> GatewayCounters {
        self.counters
    }

    /// The latency histograms so far.
    pub fn latency(&self) -> &GatewayLatency {
        &self.latency
    }

    /// Sessions connected now.
    pub fn session_count(&self) -> usize {
        self.sessions.iter().filter(|s| s.is_some()).count()
    }

    /// Events waiting in the engine's input ring and in its output ring.
    pub fn ring_occupancy(&self) -> (u64, u64) {
        let status = self.from_engine.status();
        (self.to_engine.used(), status.published.saturating_sub(status.consumed))
    }

    /// Runs until `stop` is set, then logs every session out, flushes and returns.
    /// `dump` is polled too: when set, `on_dump` is called with the gateway and it is cleared.
    pub fn run(&mut self, stop: &AtomicBool, dump: &AtomicBool, mut on_dump: impl FnMut(&Gateway)) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut idle_rounds = 0u32;
        loop {
            if stop.load(Ordering::Relaxed) && !self.stopping {
                self.begin_shutdown();
            }
            if dump.swap(false, Ordering::Relaxed) {
                on_dump(self);
            }
            // Spin while busy; once idle for a while, sleep in the poll (a timer tick
            // or a socket wakes it; engine outputs wait at most one poll period).
            let timeout = if self.config.busy_poll || idle_rounds < 2_000 { Duration::ZERO } else { Duration::from_micros(200) };
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            let mut busy = !events.is_empty();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept()?,
                    Token(i) => {
                        if event.is_readable() || event.is_read_closed() {
                            self.read_session(i);
                        }
                        if event.is_writable() {
                            if let Some(s) = self.sessions.get_mut(i).and_then(|s| s.as_mut()) {
                                s.dirty = true;
                            }
                        }
                    }
                }
            }
            // The journal first: what it makes durable is released in the same round.
            if let Some(journal) = self.journal.as_mut() {
                busy |= journal.pump();
            }
            busy |= self.drain_engine() > 0;
            // Held outputs go out as soon as the journal moves: keep polling without sleeping.
            busy |= !self.held.is_empty();
            self.tick_timer();
            self.flush_and_reap();
            idle_rounds = if busy { 0 } else { idle_rounds.saturating_add(1) };
            if self.stopping && self.sessions.iter().all(|s| s.is_none()) {
                return Ok(());
            }
        }
    }

    fn begin_shutdown(&mut self) {
        self.stopping = true;
        self.shutdown_deadline_ns = Some(self.clock.now_ns().saturating_add(2_000_000_000));
        let _ = self.poll.registry().deregister(&mut self.listener);
        for s in self.sessions.iter_mut().flatten() {
            s.send(&Message::Logout(Logout { reason: reason::SHUTTING_DOWN }));
            if s.closing.is_none() {
                s.closing = Some(CloseReason::Shutdown);
            }
        }
    }

    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, _) = match self.listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if self.stopping || self.session_count() >= self.config.max_sessions {
                self.counters.refused_connections += 1;
                continue;
            }
            let _ = stream.set_nodelay(true);
            if let Some(bytes) = self.config.socket_send_buffer {
                set_send_buffer(&stream, bytes);
            }
            let index = match self.sessions.iter().position(|s| s.is_none()) {
                Some(i) => i,
                None => {
                    self.sessions.push(None);
                    self.sessions.len() - 1
                }
            };
            self.poll.registry().register(&mut stream, Token(index), Interest::READABLE | Interest::WRITABLE)?;
            let nonce = random_bytes().map_err(io::Error::other)?;
            let now = self.clock.now_ns().max(0) as u64;
            let bucket = TokenBucket::new(self.config.rate_per_s, self.config.burst, now);
            let mut session = Session::new(stream, nonce, bucket, self.config.read_buffer, self.config.output_limit, self.config.max_open_orders);
            session.send(&Message::Challenge(Challenge { nonce }));
            self.sessions[index] = Some(session);
            self.counters.connections += 1;
        }
    }

    fn read_session(&mut self, index: usize) {
        loop {
            let Some(s) = self.sessions.get_mut(index).and_then(|s| s.as_mut()) else { return };
            if s.closing.is_some() {
                return;
            }
            let state = s.fill();
            // Cut and handle every complete frame.
            loop {
                let Some(s) = self.sessions.get_mut(index).and_then(|s| s.as_mut()) else { return };
                if s.closing.is_some() {
                    break;
                }
                match s.reader.next_frame() {
                    ReadOutcome::NeedMore => break,
                    ReadOutcome::Message(header, message) => {
                        s.last_input_ns = self.clock.now_ns();
                        self.on_message(index, header, message)
                    }
                    ReadOutcome::Refused(crate::protocol::FrameError::Refused { header, reason }) => self.protocol_error(index, &header, reason),
                    ReadOutcome::Refused(crate::protocol::FrameError::BadLength(_)) | ReadOutcome::Fatal(_) => {
                        self.counters.protocol_errors += 1;
                        let s = self.session(index);
                        s.send(&Message::SessionReject(SessionReject { ref_sequence: 0, ref_template: 0, reason: reason::BAD_LENGTH }));
                        s.closing = Some(CloseReason::ProtocolErrors);
                        break;
                    }
                }
            }
            match state {
                ReadState::Drained => return,
                ReadState::BufferFull => continue,
                ReadState::Closed => {
                    if let Some(s) = self.sessions.get_mut(index).and_then(|s| s.as_mut()) {
                        s.closing.get_or_insert(CloseReason::PeerClosed);
                    }
                    return;
                }
            }
        }
    }

    /// The session at `index` (which exists: callers hold a live index).
    pub(crate) fn session(&mut self, index: usize) -> &mut Session {
        self.sessions[index].as_mut().unwrap_or_else(|| unreachable!("live session index"))
    }

    /// Refuses a frame; counts it, and closes the session after too many.
    pub(crate) fn protocol_error(&mut self, index: usize, header: &FrameHeader, why: u16) {
        self.counters.protocol_errors += 1;
        let limit = self.config.max_protocol_errors;
        let s = self.session(index);
        s.errors += 1;
        s.send(&Message::SessionReject(SessionReject { ref_sequence: header.sequence, ref_template: header.template_id, reason: why }));
        if s.errors >= limit {
            s.send(&Message::Logout(Logout { reason: reason::TOO_MANY_ERRORS }));
            s.closing = Some(CloseReason::ProtocolErrors);
        }
    }

    /// Refuses a request without counting it as a protocol error.
    pub(crate) fn refuse(&mut self, index: usize, header: &FrameHeader, why: u16) {
        self.session(index).send(&Message::SessionReject(SessionReject { ref_sequence: header.sequence, ref_template: header.template_id, reason: why }));
    }

    fn drain_engine(&mut self) -> usize {
        let durable = self.gate.as_ref().map_or(u64::MAX, |g| g.durable.load(Ordering::Acquire));
        let mut released = 0;
        // Outputs held earlier go first (engine order), as far as the journal is durable.
        while let Some(e) = self.held.front().copied() {
            if e.exchange_ns as u64 > durable {
                break;
            }
            self.held.pop_front();
            self.counters.engine_outputs += 1;
            self.on_engine_output(&e);
            released += 1;
        }
        let mut batch = [Event::ZERO; 256];
        let mut n = 0;
        while n < batch.len() && (self.gate.is_none() || self.held.len() < HELD_CAPACITY) {
            match self.from_engine.try_pop() {
                Some(e) if self.held.is_empty() && e.exchange_ns as u64 <= durable => {
                    batch[n] = e;
                    n += 1;
                }
                Some(e) => self.held.push_back(e),
                None => break,
            }
        }
        self.counters.held_max = self.counters.held_max.max(self.held.len() as u64);
        for e in &batch[..n] {
            self.counters.engine_outputs += 1;
            self.on_engine_output(e);
        }
        released + n
    }

    fn tick_timer(&mut self) {
        let now = self.clock.now_ns();
        if now.saturating_sub(self.last_timer_ns) >= self.config.timer_interval_ns {
            let timer = Event::new(EventKind::Timer, Venue::Gavel, 0, gavel_feeds::wire::Heartbeat { pid: 0, counter: 0, reserved: 0 }).with_times(0, 0, now);
            if self.to_engine.try_push(timer) {
                self.last_timer_ns = now;
            }
            self.close_idle_sessions(now);
        }
    }

    /// Logs out the sessions that sent nothing within the idle timeout (checked on each timer tick).
    fn close_idle_sessions(&mut self, now: i64) {
        let Some(limit) = self.config.idle_timeout_ns else { return };
        for s in self.sessions.iter_mut().flatten() {
            if s.last_input_ns == i64::MIN {
                s.last_input_ns = now;
            }
            if s.closing.is_none() && now.saturating_sub(s.last_input_ns) > limit {
                s.send(&Message::Logout(Logout { reason: reason::IDLE_TIMEOUT }));
                s.closing = Some(CloseReason::IdleTimeout);
            }
        }
    }

    fn flush_and_reap(&mut self) {
        for index in 0..self.sessions.len() {
            let Some(s) = self.sessions[index].as_mut() else { continue };
            let ok = !s.dirty || s.flush();
            let overdue = self.shutdown_deadline_ns.is_some_and(|d| self.clock.now_ns() >= d);
            let close = match (ok, s.closing) {
                (false, _) => Some(CloseReason::PeerClosed),
                (true, None) => None,
                // A clean close waits for its output to leave (until the shutdown deadline).
                (true, Some(r @ (CloseReason::Shutdown | CloseReason::Logout))) => (s.pending_output() == 0 || overdue).then_some(r),
                (true, Some(r)) => Some(r),
            };
            if let Some(reason) = close {
                self.close(index, reason);
            }
        }
    }

    fn close(&mut self, index: usize, reason: CloseReason) {
        let Some(mut s) = self.sessions[index].take() else { return };
        if s.pending_output() > 0 && reason != CloseReason::SlowReader {
            let _ = s.flush();
        }
        let _ = self.poll.registry().deregister(&mut s.stream);
        match reason {
            CloseReason::SlowReader => self.counters.slow_disconnects += 1,
            CloseReason::ProtocolErrors => self.counters.error_disconnects += 1,
            CloseReason::IdleTimeout => self.counters.idle_disconnects += 1,
            _ => {}
        }
        if let Some(id) = s.identity {
            if let Some(list) = self.by_account.get_mut(&id.account) {
                list.retain(|&i| i != index);
            }
            if let Some(list) = self.by_liquidator.get_mut(&id.key_id) {
                list.retain(|&i| i != index);
            }
        }
    }
}

fn set_send_buffer(stream: &mio::net::TcpStream, bytes: usize) {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor, a pointer to a live c_int and its size.
    unsafe {
        libc::setsockopt(stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, (&value as *const libc::c_int).cast(), core::mem::size_of::<libc::c_int>() as libc::socklen_t);
    }
}
