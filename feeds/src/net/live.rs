//! The `mio` event loop that keeps WebSocket connections up.
//!
//! Per connection, the session state machine is
//!
//! ```text
//! Waiting ──(back-off over)──▶ Connecting ──(TCP up)──▶ Tls ──(done / plain)──▶ WsHandshake
//!    ▲                                                                             │
//!    │                                     (handshake done: marker if reconnect,   ▼
//!    └──────── any failure / timeout ◀──── subscribe, start snapshots) ◀──── Streaming
//! ```
//!
//! Every phase runs until its socket returns `WouldBlock` (the poller is
//! edge-triggered), then waits for the next readiness event or timer. Failures
//! never panic and never stop the loop: they are counted by kind, remembered as
//! `last_error`, and followed by a back-off and a new session. Only a failing
//! sink or poller stops the loop with an error.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};
use rustls::ClientConfig;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::{Message, WebSocket};
use url::Url;

use super::backoff::{Backoff, BackoffConfig};
use super::http;
use super::tls::{client_session, Transport};
use super::{realtime_ns, ConnectionSpec, NetError, PingStyle, Sink, RECONNECT_CHANNEL};

/// Loop-wide settings.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// TLS client configuration for `wss://` and `https://` (None: TLS URLs fail to connect).
    pub tls: Option<Arc<ClientConfig>>,
    /// Reconnect back-off; connection `i` uses seed `seed + i`.
    pub backoff: BackoffConfig,
    /// Send a keep-alive ping after this long without receiving anything.
    pub ping_after: Duration,
    /// Declare the session dead after this long without receiving anything.
    pub dead_after: Duration,
    /// Limit for TCP connect + TLS + WebSocket handshake, and for each snapshot fetch.
    pub connect_timeout: Duration,
    /// Longest single poll wait (bounds how late a stop request is noticed).
    pub max_poll_wait: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            tls: None,
            backoff: BackoffConfig::default(),
            ping_after: Duration::from_secs(15),
            dead_after: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(10),
            max_poll_wait: Duration::from_millis(100),
        }
    }
}

/// Counters of one connection. Every frame read and every failure is counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// TCP connects started.
    pub connect_attempts: u64,
    /// WebSocket handshakes completed (sessions).
    pub sessions: u64,
    /// Sessions after the first (= resync markers written).
    pub reconnects: u64,
    /// Text messages delivered to the sink.
    pub text_messages: u64,
    /// Binary messages delivered to the sink.
    pub binary_messages: u64,
    /// Payload bytes of delivered messages.
    pub message_bytes: u64,
    /// Pings received (each answered with a pong by the WebSocket layer).
    pub pings_received: u64,
    /// Pongs received.
    pub pongs_received: u64,
    /// Keep-alive pings sent on idle.
    pub pings_sent: u64,
    /// Close frames received.
    pub close_frames: u64,
    /// Subscription frames sent.
    pub subscribe_sent: u64,
    /// REST snapshots recorded.
    pub snapshots: u64,
    /// Bytes of recorded snapshot bodies.
    pub snapshot_bytes: u64,
    /// Failures: name resolution, TCP connect refused/reset, connect timeout.
    pub connect_errors: u64,
    /// Failures: TLS handshake (certificate, protocol).
    pub tls_errors: u64,
    /// Failures: WebSocket handshake (HTTP status, bad upgrade) or its timeout.
    pub handshake_errors: u64,
    /// Failures: read/write/protocol errors while streaming.
    pub stream_errors: u64,
    /// Sessions ended by the peer (close frame or end of file).
    pub peer_closes: u64,
    /// Sessions declared dead after `dead_after` without data.
    pub dead_timeouts: u64,
    /// Failed snapshot fetches (connect, TLS, HTTP status, malformed response, timeout).
    pub snapshot_errors: u64,
    /// The most recent failure, described.
    pub last_error: Option<String>,
}

impl ConnectionStats {
    /// Messages delivered to the sink from the stream (text + binary).
    pub fn messages(&self) -> u64 {
        self.text_messages + self.binary_messages
    }

    /// All failures of every kind.
    pub fn failures(&self) -> u64 {
        self.connect_errors
            + self.tls_errors
            + self.handshake_errors
            + self.stream_errors
            + self.peer_closes
            + self.dead_timeouts
            + self.snapshot_errors
    }
}

/// Why [`LiveLoop::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The stop predicate said so (Ctrl-C, enough data).
    Requested,
    /// The deadline passed.
    Deadline,
}

#[derive(Clone, Copy, Debug)]
enum Failure {
    Connect,
    Tls,
    Handshake,
    Stream,
    PeerClosed,
    Dead,
    Snapshot,
}

enum Phase {
    Waiting {
        until: Instant,
    },
    Connecting(Transport),
    Tls(Transport),
    WsHandshake(MidHandshake<ClientHandshake<Transport>>),
    Streaming(Box<WebSocket<Transport>>),
    /// Transitional value while a phase is being advanced.
    Moving,
}

enum FetchPhase {
    Connecting(Transport),
    Tls(Transport),
    Sending { transport: Transport, request: Vec<u8>, written: usize },
    Receiving { transport: Transport, response: Vec<u8> },
    Moving,
}

struct Fetch {
    index: usize,
    phase: FetchPhase,
    started: Instant,
}

struct Connection {
    spec: ConnectionSpec,
    stats: ConnectionStats,
    backoff: Backoff,
    phase: Phase,
    attempt_started: Instant,
    established_at: Option<Instant>,
    last_receive: Instant,
    ping_outstanding: bool,
    fetch: Option<Fetch>,
    /// Reason the previous session ended, written into the resync marker.
    last_end: String,
}

/// Drives connections until stopped. Single-threaded; create and run it on the
/// capture thread.
pub struct LiveLoop {
    poll: Poll,
    config: NetConfig,
    connections: Vec<Connection>,
}

/// What advancing a phase asks the loop to do next.
enum Step {
    /// Blocked on the socket: wait for readiness.
    Wait,
    /// The session failed.
    Fail(Failure, String),
}

impl LiveLoop {
    /// A loop over `specs`; nothing connects until [`run`](Self::run).
    pub fn new(specs: Vec<ConnectionSpec>, config: NetConfig) -> Result<LiveLoop, NetError> {
        let limit = Duration::from_secs(86_400);
        let durations = [
            ("backoff.base", config.backoff.base),
            ("backoff.cap", config.backoff.cap),
            ("backoff.reset_after", config.backoff.reset_after),
            ("ping_after", config.ping_after),
            ("dead_after", config.dead_after),
            ("connect_timeout", config.connect_timeout),
            ("max_poll_wait", config.max_poll_wait),
        ];
        for (name, value) in durations {
            if value > limit {
                return Err(NetError::Config(format!("{name} = {value:?} is longer than a day")));
            }
        }
        if config.max_poll_wait.is_zero() {
            return Err(NetError::Config("max_poll_wait must be positive".into()));
        }
        let poll = Poll::new().map_err(NetError::Poll)?;
        let now = Instant::now();
        let connections = specs
            .into_iter()
            .enumerate()
            .map(|(i, spec)| Connection {
                spec,
                stats: ConnectionStats::default(),
                backoff: Backoff::new(BackoffConfig {
                    seed: config.backoff.seed.wrapping_add(i as u64),
                    ..config.backoff
                }),
                phase: Phase::Waiting { until: now },
                attempt_started: now,
                established_at: None,
                last_receive: now,
                ping_outstanding: false,
                fetch: None,
                last_end: String::new(),
            })
            .collect();
        Ok(LiveLoop { poll, config, connections })
    }

    /// Counters per connection, in spec order.
    pub fn stats(&self) -> Vec<ConnectionStats> {
        self.connections.iter().map(|c| c.stats.clone()).collect()
    }

    /// Runs until `stop` returns true (checked after every wake-up, at least every
    /// `max_poll_wait`) or `deadline` passes, delivering messages to `sink`. On
    /// return every open session has been sent a close frame (best effort) and
    /// dropped.
    pub fn run(
        &mut self,
        sink: &mut dyn Sink,
        deadline: Option<Instant>,
        stop: &mut dyn FnMut(&[ConnectionStats]) -> bool,
    ) -> Result<StopReason, NetError> {
        let mut events = Events::with_capacity(256);
        let result = loop {
            let now = Instant::now();
            if let Err(e) = self.on_timers(now, sink) {
                break Err(e);
            }
            if let Err(e) = sink.on_tick(now) {
                break Err(NetError::Sink(e));
            }
            let stats: Vec<ConnectionStats> = self.stats();
            if stop(&stats) {
                break Ok(StopReason::Requested);
            }
            if deadline.is_some_and(|d| now >= d) {
                break Ok(StopReason::Deadline);
            }
            let mut wait = self.next_timer(now).saturating_duration_since(now).min(self.config.max_poll_wait);
            if let Some(d) = deadline {
                wait = wait.min(d.saturating_duration_since(now));
            }
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(NetError::Poll(e)),
            }
            let mut failed = None;
            for event in events.iter() {
                let token = event.token().0;
                let (index, is_fetch) = (token / 2, token % 2 == 1);
                if index >= self.connections.len() {
                    continue;
                }
                let outcome = if is_fetch { self.advance_fetch(index, sink) } else { self.advance(index, sink) };
                if let Err(e) = outcome {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(e) = failed {
                break Err(e);
            }
        };
        self.shutdown();
        result
    }

    /// Earliest instant any timer of any connection fires.
    fn next_timer(&self, now: Instant) -> Instant {
        let far = now + self.config.max_poll_wait;
        let mut next = far;
        for conn in &self.connections {
            let t = match &conn.phase {
                Phase::Waiting { until } => *until,
                Phase::Connecting(_) | Phase::Tls(_) | Phase::WsHandshake(_) => {
                    conn.attempt_started + self.config.connect_timeout
                }
                Phase::Streaming(_) => {
                    if conn.ping_outstanding {
                        conn.last_receive + self.config.dead_after
                    } else {
                        conn.last_receive + self.config.ping_after.min(self.config.dead_after)
                    }
                }
                Phase::Moving => far,
            };
            next = next.min(t);
            if let Some(fetch) = &conn.fetch {
                next = next.min(fetch.started + self.config.connect_timeout);
            }
        }
        next
    }

    /// Starts due connects, sends idle pings, enforces timeouts.
    fn on_timers(&mut self, now: Instant, sink: &mut dyn Sink) -> Result<(), NetError> {
        for i in 0..self.connections.len() {
            let config = &self.config;
            let conn = &mut self.connections[i];
            let step = match &mut conn.phase {
                Phase::Waiting { until } if now >= *until => {
                    self.start_connect(i);
                    self.advance(i, sink)?;
                    continue;
                }
                Phase::Connecting(_) if now >= conn.attempt_started + config.connect_timeout => Some(Step::Fail(
                    Failure::Connect,
                    format!("TCP connect timed out after {:?}", config.connect_timeout),
                )),
                Phase::Tls(_) if now >= conn.attempt_started + config.connect_timeout => Some(Step::Fail(
                    Failure::Tls,
                    format!("TLS handshake timed out after {:?}", config.connect_timeout),
                )),
                Phase::WsHandshake(_) if now >= conn.attempt_started + config.connect_timeout => Some(Step::Fail(
                    Failure::Handshake,
                    format!("WebSocket handshake timed out after {:?}", config.connect_timeout),
                )),
                Phase::Streaming(ws) => {
                    let idle = now.saturating_duration_since(conn.last_receive);
                    if idle >= config.dead_after {
                        Some(Step::Fail(
                            Failure::Dead,
                            format!("no data for {idle:?} (dead after {:?})", config.dead_after),
                        ))
                    } else if idle >= config.ping_after && !conn.ping_outstanding {
                        conn.ping_outstanding = true;
                        conn.stats.pings_sent += 1;
                        let ping = match &conn.spec.ping {
                            PingStyle::Frame => Message::Ping(b"gavel"[..].into()),
                            PingStyle::Text(text) => Message::Text(text.as_str().into()),
                        };
                        match ws.send(ping) {
                            Ok(()) => None,
                            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => None,
                            Err(e) => Some(Step::Fail(Failure::Stream, format!("sending keep-alive ping: {e}"))),
                        }
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(Step::Fail(kind, message)) = step {
                self.fail(i, kind, message);
                continue;
            }
            let conn = &mut self.connections[i];
            if let Some(fetch) = &conn.fetch {
                if now >= fetch.started + config.connect_timeout {
                    let url = conn.spec.snapshots[fetch.index].url.clone();
                    self.fail(
                        i,
                        Failure::Snapshot,
                        format!("snapshot {url} not complete after {:?}", config.connect_timeout),
                    );
                }
            }
        }
        Ok(())
    }

    /// Opens the TCP connection of a new session.
    fn start_connect(&mut self, i: usize) {
        let now = Instant::now();
        let conn = &mut self.connections[i];
        conn.stats.connect_attempts += 1;
        conn.attempt_started = now;
        conn.phase = Phase::Moving;
        let url = conn.spec.url.clone();
        match open_transport(&url, self.config.tls.as_ref(), self.poll.registry(), Token(2 * i)) {
            Ok(transport) => self.connections[i].phase = Phase::Connecting(transport),
            Err((kind, message)) => self.fail(i, kind, message),
        }
    }

    /// Advances connection `i`'s session as far as its socket allows.
    fn advance(&mut self, i: usize, sink: &mut dyn Sink) -> Result<(), NetError> {
        loop {
            let conn = &mut self.connections[i];
            let phase = std::mem::replace(&mut conn.phase, Phase::Moving);
            let step = match phase {
                Phase::Connecting(mut transport) => match tcp_connected(transport.socket_mut()) {
                    Ok(true) => {
                        conn.phase = Phase::Tls(transport);
                        continue;
                    }
                    Ok(false) => {
                        conn.phase = Phase::Connecting(transport);
                        Step::Wait
                    }
                    Err(e) => Step::Fail(Failure::Connect, format!("TCP connect to {}: {e}", conn.spec.url)),
                },
                Phase::Tls(mut transport) => match transport.drive_handshake() {
                    Ok(true) => match tungstenite::client(conn.spec.url.as_str(), transport) {
                        Ok((ws, _response)) => {
                            self.on_established(i, ws, sink)?;
                            continue;
                        }
                        Err(HandshakeError::Interrupted(mid)) => {
                            conn.phase = Phase::WsHandshake(mid);
                            Step::Wait
                        }
                        Err(HandshakeError::Failure(e)) => {
                            Step::Fail(Failure::Handshake, format!("WebSocket handshake with {}: {e}", conn.spec.url))
                        }
                    },
                    Ok(false) => {
                        conn.phase = Phase::Tls(transport);
                        Step::Wait
                    }
                    Err(e) => Step::Fail(Failure::Tls, format!("TLS handshake with {}: {e}", conn.spec.url)),
                },
                Phase::WsHandshake(mid) => match mid.handshake() {
                    Ok((ws, _response)) => {
                        self.on_established(i, ws, sink)?;
                        continue;
                    }
                    Err(HandshakeError::Interrupted(mid)) => {
                        conn.phase = Phase::WsHandshake(mid);
                        Step::Wait
                    }
                    Err(HandshakeError::Failure(e)) => {
                        Step::Fail(Failure::Handshake, format!("WebSocket handshake with {}: {e}", conn.spec.url))
                    }
                },
                Phase::Streaming(mut ws) => {
                    let step = read_frames(conn, &mut ws, sink)?;
                    conn.phase = Phase::Streaming(ws);
                    step
                }
                other @ (Phase::Waiting { .. } | Phase::Moving) => {
                    conn.phase = other;
                    Step::Wait
                }
            };
            if let Step::Fail(kind, message) = step {
                self.fail(i, kind, message);
            }
            return Ok(());
        }
    }

    /// A WebSocket handshake completed: marker, subscriptions, snapshots.
    fn on_established(&mut self, i: usize, mut ws: WebSocket<Transport>, sink: &mut dyn Sink) -> Result<(), NetError> {
        let now = Instant::now();
        let conn = &mut self.connections[i];
        conn.stats.sessions += 1;
        conn.established_at = Some(now);
        conn.last_receive = now;
        conn.ping_outstanding = false;
        if conn.stats.sessions > 1 {
            conn.stats.reconnects += 1;
            let marker = format!(
                "{{\"channel\":\"{}\",\"session\":{},\"after\":\"{}\"}}",
                json_escape(&conn.spec.channel),
                conn.stats.sessions,
                json_escape(&conn.last_end)
            );
            sink.on_message(realtime_ns(), conn.spec.venue, RECONNECT_CHANNEL.as_bytes(), marker.as_bytes())
                .map_err(NetError::Sink)?;
        }
        for text in &conn.spec.subscribe {
            conn.stats.subscribe_sent += 1;
            match ws.send(Message::Text(text.as_str().into())) {
                Ok(()) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    self.fail(i, Failure::Stream, format!("sending subscription: {e}"));
                    return Ok(());
                }
            }
        }
        conn.phase = Phase::Streaming(Box::new(ws));
        if !conn.spec.snapshots.is_empty() {
            self.start_fetch(i, 0, sink)?;
        }
        Ok(())
    }

    /// Starts fetching snapshot `index` of connection `i`.
    fn start_fetch(&mut self, i: usize, index: usize, sink: &mut dyn Sink) -> Result<(), NetError> {
        let url = self.connections[i].spec.snapshots[index].url.clone();
        match open_transport(&url, self.config.tls.as_ref(), self.poll.registry(), Token(2 * i + 1)) {
            Ok(transport) => {
                self.connections[i].fetch =
                    Some(Fetch { index, phase: FetchPhase::Connecting(transport), started: Instant::now() });
                self.advance_fetch(i, sink)
            }
            Err((_, message)) => {
                self.fail(i, Failure::Snapshot, format!("snapshot {url}: {message}"));
                Ok(())
            }
        }
    }

    /// Advances connection `i`'s snapshot fetch as far as its socket allows.
    fn advance_fetch(&mut self, i: usize, sink: &mut dyn Sink) -> Result<(), NetError> {
        loop {
            let conn = &mut self.connections[i];
            let Some(fetch) = conn.fetch.as_mut() else { return Ok(()) };
            let url = &conn.spec.snapshots[fetch.index].url;
            let phase = std::mem::replace(&mut fetch.phase, FetchPhase::Moving);
            let failure = match phase {
                FetchPhase::Connecting(mut transport) => match tcp_connected(transport.socket_mut()) {
                    Ok(true) => {
                        fetch.phase = FetchPhase::Tls(transport);
                        continue;
                    }
                    Ok(false) => {
                        fetch.phase = FetchPhase::Connecting(transport);
                        return Ok(());
                    }
                    Err(e) => format!("snapshot {url}: TCP connect: {e}"),
                },
                FetchPhase::Tls(mut transport) => match transport.drive_handshake() {
                    Ok(true) => {
                        fetch.phase = FetchPhase::Sending { transport, request: http::get_request(url), written: 0 };
                        continue;
                    }
                    Ok(false) => {
                        fetch.phase = FetchPhase::Tls(transport);
                        return Ok(());
                    }
                    Err(e) => format!("snapshot {url}: TLS handshake: {e}"),
                },
                FetchPhase::Sending { mut transport, request, mut written } => {
                    let mut error = None;
                    while written < request.len() {
                        match transport.write(&request[written..]) {
                            Ok(0) => {
                                error = Some("socket accepted no bytes".to_string());
                                break;
                            }
                            Ok(n) => written += n,
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => {
                                error = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    if let Some(e) = error {
                        format!("snapshot {url}: sending the request: {e}")
                    } else if written < request.len() {
                        fetch.phase = FetchPhase::Sending { transport, request, written };
                        return Ok(());
                    } else {
                        match transport.flush() {
                            Ok(()) => {
                                fetch.phase = FetchPhase::Receiving { transport, response: Vec::new() };
                                continue;
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                fetch.phase = FetchPhase::Sending { transport, request, written };
                                return Ok(());
                            }
                            Err(e) => format!("snapshot {url}: sending the request: {e}"),
                        }
                    }
                }
                FetchPhase::Receiving { mut transport, mut response } => {
                    let mut eof = false;
                    let mut error = None;
                    let mut chunk = [0u8; 16 * 1024];
                    loop {
                        match transport.read(&mut chunk) {
                            Ok(0) => {
                                eof = true;
                                break;
                            }
                            Ok(n) => {
                                response.extend_from_slice(&chunk[..n]);
                                if response.len() > http::MAX_RESPONSE_BYTES {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            // A TLS peer closing without close_notify after `Connection: close`
                            // ends the body like a plain end of file; the length checks below
                            // still catch a cut Content-Length or chunked body.
                            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                                eof = true;
                                break;
                            }
                            Err(e) => {
                                error = Some(e.to_string());
                                break;
                            }
                        }
                    }
                    if let Some(e) = error {
                        format!("snapshot {url}: reading the response: {e}")
                    } else {
                        match http::parse_response(&response, eof) {
                            Ok(None) => {
                                fetch.phase = FetchPhase::Receiving { transport, response };
                                return Ok(());
                            }
                            Err(e) => format!("snapshot {url}: {e}"),
                            Ok(Some(resp)) if resp.status != 200 => {
                                let head = String::from_utf8_lossy(&resp.body[..resp.body.len().min(200)]).into_owned();
                                format!("snapshot {url}: HTTP status {}: {head}", resp.status)
                            }
                            Ok(Some(resp)) => {
                                let receive_ns = realtime_ns();
                                let index = fetch.index;
                                let _ = self.poll.registry().deregister(transport.socket_mut());
                                drop(transport);
                                conn.fetch = None;
                                let channel = &conn.spec.snapshots[index].channel;
                                sink.on_message(receive_ns, conn.spec.venue, channel.as_bytes(), &resp.body)
                                    .map_err(NetError::Sink)?;
                                conn.stats.snapshots += 1;
                                conn.stats.snapshot_bytes += resp.body.len() as u64;
                                if index + 1 < conn.spec.snapshots.len() {
                                    return self.start_fetch(i, index + 1, sink);
                                }
                                return Ok(());
                            }
                        }
                    }
                }
                FetchPhase::Moving => return Ok(()),
            };
            self.fail(i, Failure::Snapshot, failure);
            return Ok(());
        }
    }

    /// Ends connection `i`'s session: counts the failure, closes its sockets and
    /// schedules the next attempt after a back-off.
    fn fail(&mut self, i: usize, kind: Failure, message: String) {
        let now = Instant::now();
        let registry = self.poll.registry();
        let conn = &mut self.connections[i];
        let counter = match kind {
            Failure::Connect => &mut conn.stats.connect_errors,
            Failure::Tls => &mut conn.stats.tls_errors,
            Failure::Handshake => &mut conn.stats.handshake_errors,
            Failure::Stream => &mut conn.stats.stream_errors,
            Failure::PeerClosed => &mut conn.stats.peer_closes,
            Failure::Dead => &mut conn.stats.dead_timeouts,
            Failure::Snapshot => &mut conn.stats.snapshot_errors,
        };
        *counter += 1;
        close_phase(registry, std::mem::replace(&mut conn.phase, Phase::Moving), false);
        if let Some(fetch) = conn.fetch.take() {
            close_fetch(registry, fetch.phase);
        }
        if let Some(established) = conn.established_at.take() {
            if now.saturating_duration_since(established) >= conn.backoff.reset_after() {
                conn.backoff.reset();
            }
        }
        let delay = conn.backoff.next_delay();
        conn.phase = Phase::Waiting { until: now + delay };
        conn.last_end = message.clone();
        conn.stats.last_error = Some(message);
    }

    /// Closes every session (close frame sent best effort, no waiting for the reply).
    fn shutdown(&mut self) {
        let registry = self.poll.registry();
        for conn in &mut self.connections {
            close_phase(registry, std::mem::replace(&mut conn.phase, Phase::Moving), true);
            if let Some(fetch) = conn.fetch.take() {
                close_fetch(registry, fetch.phase);
            }
        }
    }
}

/// Reads every available frame of a streaming session into the sink, then
/// flushes queued writes (pongs, close replies, subscriptions).
fn read_frames(conn: &mut Connection, ws: &mut WebSocket<Transport>, sink: &mut dyn Sink) -> Result<Step, NetError> {
    loop {
        match ws.read() {
            Ok(message) => {
                let receive_ns = realtime_ns();
                conn.last_receive = Instant::now();
                conn.ping_outstanding = false;
                let payload: &[u8] = match &message {
                    Message::Text(text) => {
                        conn.stats.text_messages += 1;
                        text.as_bytes()
                    }
                    Message::Binary(bytes) => {
                        conn.stats.binary_messages += 1;
                        bytes
                    }
                    Message::Ping(_) => {
                        conn.stats.pings_received += 1;
                        continue;
                    }
                    Message::Pong(_) => {
                        conn.stats.pongs_received += 1;
                        continue;
                    }
                    Message::Close(frame) => {
                        conn.stats.close_frames += 1;
                        // tungstenite queued the close reply; the next read flushes it and
                        // then reports the closed connection.
                        let why = match frame {
                            Some(f) => format!("peer sent close frame {} {:?}", u16::from(f.code), f.reason.as_str()),
                            None => "peer sent close frame without code".to_string(),
                        };
                        conn.last_end = why;
                        continue;
                    }
                    Message::Frame(_) => continue,
                };
                conn.stats.message_bytes += payload.len() as u64;
                sink.on_message(receive_ns, conn.spec.venue, conn.spec.channel.as_bytes(), payload)
                    .map_err(NetError::Sink)?;
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                let why = if conn.last_end.starts_with("peer sent close") {
                    conn.last_end.clone()
                } else {
                    "connection closed".to_string()
                };
                return Ok(Step::Fail(Failure::PeerClosed, format!("{}: {why}", conn.spec.url)));
            }
            Err(tungstenite::Error::Io(e)) if is_peer_gone(&e) => {
                return Ok(Step::Fail(
                    Failure::PeerClosed,
                    format!("{}: peer dropped the connection: {e}", conn.spec.url),
                ));
            }
            Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => {
                return Ok(Step::Fail(
                    Failure::PeerClosed,
                    format!("{}: peer dropped the connection without a close frame", conn.spec.url),
                ));
            }
            Err(e) => return Ok(Step::Fail(Failure::Stream, format!("{}: {e}", conn.spec.url))),
        }
    }
    match ws.flush() {
        Ok(()) => Ok(Step::Wait),
        Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(Step::Wait),
        Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
            Ok(Step::Fail(Failure::PeerClosed, format!("{}: connection closed", conn.spec.url)))
        }
        Err(tungstenite::Error::Io(e)) if is_peer_gone(&e) => {
            Ok(Step::Fail(Failure::PeerClosed, format!("{}: peer dropped the connection: {e}", conn.spec.url)))
        }
        Err(e) => Ok(Step::Fail(Failure::Stream, format!("{}: {e}", conn.spec.url))),
    }
}

fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Resolves `url`, starts a non-blocking TCP connect, registers it under `token`
/// and wraps it in TLS for `wss`/`https`.
fn open_transport(
    url: &Url,
    tls: Option<&Arc<ClientConfig>>,
    registry: &Registry,
    token: Token,
) -> Result<Transport, (Failure, String)> {
    let host = url.host_str().ok_or((Failure::Connect, format!("{url}: no host")))?;
    let port = url.port_or_known_default().ok_or((Failure::Connect, format!("{url}: no port")))?;
    // Bracketed IPv6 literals resolve without them.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addr: SocketAddr = (bare_host, port)
        .to_socket_addrs()
        .map_err(|e| (Failure::Connect, format!("{url}: resolving {host}: {e}")))?
        .next()
        .ok_or((Failure::Connect, format!("{url}: {host} resolved to no address")))?;
    let session = match url.scheme() {
        "wss" | "https" => {
            let config = tls.ok_or((Failure::Tls, format!("{url}: TLS URL but no TLS configuration")))?;
            Some(client_session(config, bare_host).map_err(|e| (Failure::Tls, format!("{url}: {e}")))?)
        }
        _ => None,
    };
    let mut socket = TcpStream::connect(addr).map_err(|e| (Failure::Connect, format!("{url}: connect {addr}: {e}")))?;
    let _ = socket.set_nodelay(true);
    registry
        .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)
        .map_err(|e| (Failure::Connect, format!("{url}: registering the socket: {e}")))?;
    Ok(Transport::new(socket, session))
}

/// `Ok(true)` once a non-blocking connect has completed, `Ok(false)` while in progress.
fn tcp_connected(socket: &mut TcpStream) -> io::Result<bool> {
    if let Some(e) = socket.take_error()? {
        return Err(e);
    }
    match socket.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

fn close_phase(registry: &Registry, phase: Phase, graceful: bool) {
    match phase {
        Phase::Connecting(mut t) | Phase::Tls(mut t) => {
            let _ = registry.deregister(t.socket_mut());
        }
        Phase::WsHandshake(mut mid) => {
            let _ = registry.deregister(mid.get_mut().get_mut().socket_mut());
        }
        Phase::Streaming(mut ws) => {
            if graceful {
                let _ = ws.close(None);
                let _ = ws.flush();
            }
            let _ = registry.deregister(ws.get_mut().socket_mut());
        }
        Phase::Waiting { .. } | Phase::Moving => {}
    }
}

fn close_fetch(registry: &Registry, phase: FetchPhase) {
    match phase {
        FetchPhase::Connecting(mut t)
        | FetchPhase::Tls(mut t)
        | FetchPhase::Sending { transport: mut t, .. }
        | FetchPhase::Receiving { transport: mut t, .. } => {
            let _ = registry.deregister(t.socket_mut());
        }
        FetchPhase::Moving => {}
    }
}

/// Escapes `text` for a JSON string literal.
fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escape_handles_quotes_backslashes_and_controls() {
        assert_eq!(json_escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(json_escape("x\ny"), "x\\u000ay");
    }

    #[test]
    fn out_of_range_durations_are_configuration_errors() {
        let too_long = NetConfig { dead_after: Duration::from_secs(90_000), ..NetConfig::default() };
        let err = LiveLoop::new(vec![], too_long).err().unwrap();
        assert!(err.to_string().contains("dead_after"), "{err}");
        let spinning = NetConfig { max_poll_wait: Duration::ZERO, ..NetConfig::default() };
        assert!(LiveLoop::new(vec![], spinning).is_err());
        assert!(LiveLoop::new(vec![], NetConfig::default()).is_ok());
    }

    #[test]
    fn a_refused_connection_is_counted_and_retried_with_back_off() {
        // Bind then drop a listener to get a loopback port with nobody listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = Url::parse(&format!("ws://127.0.0.1:{port}/stream")).unwrap();
        let spec =
            ConnectionSpec::new("ws/test".into(), crate::wire::Venue::Synthetic, url, vec![], vec![], PingStyle::Frame)
                .unwrap();
        let config = NetConfig {
            backoff: BackoffConfig {
                base: Duration::from_millis(5),
                cap: Duration::from_millis(20),
                ..BackoffConfig::default()
            },
            ..NetConfig::default()
        };
        let mut live = LiveLoop::new(vec![spec], config).unwrap();
        let mut records = 0u32;
        let mut sink = |_: i64, _: crate::wire::Venue, _: &[u8], _: &[u8]| -> io::Result<()> {
            records += 1;
            Ok(())
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let reason = live.run(&mut sink, Some(deadline), &mut |stats| stats[0].connect_errors >= 3).unwrap();
        assert_eq!(reason, StopReason::Requested);
        let stats = &live.stats()[0];
        assert!(stats.connect_attempts >= 3);
        assert_eq!(stats.sessions, 0);
        assert!(stats.last_error.as_deref().unwrap().contains("TCP connect"), "{:?}", stats.last_error);
        assert_eq!(records, 0);
    }
}
