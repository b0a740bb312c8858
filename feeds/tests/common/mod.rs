//! Local WebSocket + REST servers (plain and TLS) on 127.0.0.1 for the live
//! capture tests: scripted sessions that drop mid-stream, REST responders that
//! can hold a reply until the client has recorded enough. Every wait is bounded.
#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::result_large_err)] // tungstenite's handshake callback type

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};
use tungstenite::handshake::server::{Request, Response};
use tungstenite::{Message, WebSocket};

/// Longest any single wait in these tests may take.
pub const WAIT_LIMIT: Duration = Duration::from_secs(20);
pub const SUBSCRIBE: &str = r#"{"op":"subscribe","args":["depth.BTCUSDT"]}"#;
pub const PING_PAYLOAD: &[u8] = b"server-ping-1";

// ---------------------------------------------------------------- TLS material

pub struct TestTls {
    pub server: Arc<ServerConfig>,
    pub cert_pem_path: PathBuf,
    pub cert_der: CertificateDer<'static>,
}

pub fn test_tls(name: &str) -> TestTls {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    let cert_pem_path = temp_path(&format!("{name}-ca.pem"));
    std::fs::write(&cert_pem_path, certified.cert.pem()).unwrap();
    TestTls { server: Arc::new(server), cert_pem_path, cert_der }
}

pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gavel-net-{}-{name}", std::process::id()))
}

// ---------------------------------------------------------------- servers

/// A blocking server-side stream that can half-close (send FIN, no TLS close_notify).
pub trait ServerStream: Read + Write + Send + 'static {
    /// Flushes and half-closes the write side.
    fn shutdown_write(&mut self);
}

impl ServerStream for TcpStream {
    fn shutdown_write(&mut self) {
        let _ = self.flush();
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl ServerStream for StreamOwned<ServerConnection, TcpStream> {
    fn shutdown_write(&mut self) {
        let _ = self.flush();
        let _ = self.sock.shutdown(Shutdown::Write);
    }
}

/// Accepts one connection within the wait limit (the listener is non-blocking).
pub fn accept_bounded(listener: &TcpListener) -> TcpStream {
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(WAIT_LIMIT)).unwrap();
                stream.set_write_timeout(Some(WAIT_LIMIT)).unwrap();
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(start.elapsed() < WAIT_LIMIT, "no client connected within {WAIT_LIMIT:?}");
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

pub fn wrap(stream: TcpStream, tls: &Option<Arc<ServerConfig>>) -> Box<dyn FnOnce() -> Session> {
    match tls {
        None => Box::new(move || Session::Plain(stream)),
        Some(config) => {
            let conn = ServerConnection::new(config.clone()).unwrap();
            Box::new(move || Session::Tls(Box::new(StreamOwned::new(conn, stream))))
        }
    }
}

pub enum Session {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

/// What the WebSocket server saw in one session.
#[derive(Debug, Default)]
pub struct SessionSeen {
    pub request_uri: String,
    pub subscribes: Vec<String>,
    pub pong_payloads: Vec<Vec<u8>>,
    pub client_pings: Vec<Vec<u8>>,
    pub client_closed_cleanly: bool,
}

/// One session of the WebSocket server's script.
pub struct SessionPlan {
    pub frames: Vec<String>,
    /// Send a ping first and wait for the pong.
    pub ping: bool,
    /// Wait for a keep-alive ping from the client before sending frames.
    pub expect_client_ping: bool,
    /// Hold the frames until the client has recorded this many snapshots in total.
    pub frames_after_snapshots: usize,
    pub end: SessionEnd,
}

/// How a scripted session ends.
pub enum SessionEnd {
    /// After the frames, wait until this many snapshots were recorded, then drop the
    /// connection without a close frame (and without TLS close_notify).
    DropAfterSnapshots(usize),
    /// Keep serving (answering pings) until the client closes.
    UntilClientCloses,
    /// Go silent (read nothing, answer nothing) until the client gives up and disconnects.
    SilentUntilClientGone,
}

impl SessionPlan {
    pub fn new(frames: Vec<String>, end: SessionEnd) -> SessionPlan {
        SessionPlan { frames, ping: false, expect_client_ping: false, frames_after_snapshots: 0, end }
    }
}

/// Serves `plans` in order, one accepted connection each.
pub fn spawn_ws_server(
    tls: Option<Arc<ServerConfig>>,
    plans: Vec<SessionPlan>,
    snapshots_recorded: Arc<AtomicUsize>,
) -> (u16, JoinHandle<Vec<SessionSeen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut seen = Vec::new();
        for plan in plans {
            let stream = accept_bounded(&listener);
            let session = wrap(stream, &tls)();
            seen.push(match session {
                Session::Plain(s) => serve_session(s, &plan, &snapshots_recorded),
                Session::Tls(s) => serve_session(*s, &plan, &snapshots_recorded),
            });
        }
        seen
    });
    (port, handle)
}

pub fn serve_session<S: ServerStream>(stream: S, plan: &SessionPlan, snapshots_recorded: &AtomicUsize) -> SessionSeen {
    let mut seen = SessionSeen::default();
    let mut uri = String::new();
    let callback = |request: &Request, response: Response| {
        uri = request.uri().to_string();
        Ok(response)
    };
    let mut ws: WebSocket<S> = tungstenite::accept_hdr(stream, callback).expect("server WebSocket handshake");
    seen.request_uri = uri;
    // The client subscribes first.
    while seen.subscribes.is_empty() {
        match ws.read().expect("reading the subscription") {
            Message::Text(text) => seen.subscribes.push(text.to_string()),
            other => panic!("expected a subscription, got {other:?}"),
        }
    }
    if plan.ping {
        ws.send(Message::Ping(PING_PAYLOAD.into())).unwrap();
        while seen.pong_payloads.is_empty() {
            match ws.read().expect("waiting for the pong") {
                Message::Pong(payload) => seen.pong_payloads.push(payload.to_vec()),
                other => panic!("expected a pong, got {other:?}"),
            }
        }
    }
    while plan.expect_client_ping && seen.client_pings.is_empty() {
        match ws.read().expect("waiting for the client's keep-alive ping") {
            Message::Ping(payload) => seen.client_pings.push(payload.to_vec()),
            other => panic!("expected a ping, got {other:?}"),
        }
    }
    let start = Instant::now();
    while snapshots_recorded.load(Ordering::Acquire) < plan.frames_after_snapshots {
        assert!(start.elapsed() < WAIT_LIMIT, "the client recorded no snapshot before the frames");
        thread::sleep(Duration::from_millis(2));
    }
    for frame in &plan.frames {
        ws.write(Message::Text(frame.as_str().into())).unwrap();
    }
    ws.flush().unwrap();
    match plan.end {
        SessionEnd::DropAfterSnapshots(needed) => {
            let start = Instant::now();
            while snapshots_recorded.load(Ordering::Acquire) < needed {
                assert!(start.elapsed() < WAIT_LIMIT, "the client recorded no snapshot");
                thread::sleep(Duration::from_millis(2));
            }
            ws.get_mut().shutdown_write();
            // Wait for the client to notice and close its side.
            let _ = ws.get_mut().read_to_end(&mut Vec::new());
        }
        SessionEnd::UntilClientCloses => loop {
            match ws.read() {
                Ok(Message::Close(_)) => seen.client_closed_cleanly = true,
                Ok(_) => {}
                Err(_) => break,
            }
        },
        SessionEnd::SilentUntilClientGone => {
            // Raw reads bypass the WebSocket layer: nothing is answered.
            let _ = ws.get_mut().read_to_end(&mut Vec::new());
        }
    }
    seen
}

/// Serves `responses[k]` (status, body) to the k-th HTTP request (chunked for even k,
/// Content-Length for odd k); returns the request lines seen.
pub fn spawn_rest_server(
    tls: Option<Arc<ServerConfig>>,
    responses: Vec<(u16, Vec<u8>)>,
) -> (u16, JoinHandle<Vec<String>>) {
    let gated = responses.into_iter().map(|(status, body)| (status, body, None)).collect();
    spawn_gated_rest_server(tls, gated)
}

/// Holds a reply until `counter` reaches `at_least` (bounded by [`WAIT_LIMIT`]).
pub type ReplyGate = (Arc<AtomicUsize>, usize);

/// As [`spawn_rest_server`], but the k-th reply may wait for a gate after the
/// request was read, so a test can fix where the response lands in the stream.
pub fn spawn_gated_rest_server(
    tls: Option<Arc<ServerConfig>>,
    responses: Vec<(u16, Vec<u8>, Option<ReplyGate>)>,
) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut requests = Vec::new();
        for (k, (status, body, gate)) in responses.iter().enumerate() {
            let stream = accept_bounded(&listener);
            let line = match wrap(stream, &tls)() {
                Session::Plain(s) => serve_http(s, *status, body, k % 2 == 0, gate.as_ref()),
                Session::Tls(s) => serve_http(*s, *status, body, k % 2 == 0, gate.as_ref()),
            };
            requests.push(line);
        }
        requests
    });
    (port, handle)
}

/// Waits (sleeping) until `gate`'s counter reaches its target.
fn wait_for_gate(gate: &ReplyGate) {
    let start = Instant::now();
    while gate.0.load(Ordering::Acquire) < gate.1 {
        assert!(start.elapsed() < WAIT_LIMIT, "gate not reached: {} < {}", gate.0.load(Ordering::Acquire), gate.1);
        thread::sleep(Duration::from_millis(2));
    }
}

pub fn serve_http<S: ServerStream>(
    stream: S,
    status: u16,
    body: &[u8],
    chunked: bool,
    gate: Option<&ReplyGate>,
) -> String {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header == "\r\n" || header.is_empty() {
            break;
        }
    }
    if let Some(gate) = gate {
        wait_for_gate(gate);
    }
    let mut stream = reader.into_inner();
    if chunked {
        write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        for piece in body.chunks(4096) {
            write!(stream, "{:x}\r\n", piece.len()).unwrap();
            stream.write_all(piece).unwrap();
            stream.write_all(b"\r\n").unwrap();
        }
        stream.write_all(b"0\r\n\r\n").unwrap();
    } else {
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(body).unwrap();
    }
    stream.shutdown_write();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    request_line.trim_end().to_string()
}
