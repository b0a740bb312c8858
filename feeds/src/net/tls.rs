//! TLS client configuration and the non-blocking byte stream under every
//! connection: plain TCP or rustls over a `mio` socket.
//!
//! [`Transport`] implements `Read + Write` with non-blocking semantics: every
//! method either makes progress or returns `WouldBlock`, which the event loop
//! answers by waiting for the socket's next readiness event. TLS records that
//! rustls wants to send (handshake messages, alerts, key updates) are pushed out
//! opportunistically on every call, so a caller that only reads still completes
//! the handshake.

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use super::NetError;

/// A client TLS configuration trusting the Mozilla root set shipped by `webpki-roots`
/// (what real venues need). Uses the `ring` crypto provider explicitly, so it never
/// depends on a process-wide default provider.
pub fn client_config_webpki() -> Result<Arc<ClientConfig>, NetError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    build_config(roots)
}

/// A client TLS configuration that trusts only the certificates in the PEM file
/// `ca_pem` (a local test server's self-signed certificate or test CA).
pub fn client_config_with_ca(ca_pem: &Path) -> Result<Arc<ClientConfig>, NetError> {
    let iter = CertificateDer::pem_file_iter(ca_pem)
        .map_err(|e| NetError::Config(format!("{}: cannot read PEM certificates: {e}", ca_pem.display())))?;
    let mut certs = Vec::new();
    for cert in iter {
        certs.push(cert.map_err(|e| NetError::Config(format!("{}: bad PEM certificate: {e}", ca_pem.display())))?);
    }
    client_config_with_certs(&certs).map_err(|e| match e {
        NetError::Config(msg) => NetError::Config(format!("{}: {msg}", ca_pem.display())),
        other => other,
    })
}

/// A client TLS configuration that trusts only `certs` (DER), for tests.
pub fn client_config_with_certs(certs: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, NetError> {
    if certs.is_empty() {
        return Err(NetError::Config("no certificate to trust".into()));
    }
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert.clone())
            .map_err(|e| NetError::Config(format!("certificate rejected as a trust anchor: {e}")))?;
    }
    build_config(roots)
}

fn build_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, NetError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Config(format!("TLS protocol versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Starts a TLS client session for `host` (a DNS name or an IP address literal).
pub fn client_session(config: &Arc<ClientConfig>, host: &str) -> Result<ClientConnection, NetError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| NetError::Config(format!("{host:?} is not a valid TLS server name: {e}")))?;
    ClientConnection::new(config.clone(), name).map_err(|e| NetError::Config(format!("TLS session for {host}: {e}")))
}

/// The byte stream of one connection: plain TCP, or TLS over TCP.
pub enum Transport {
    /// Unencrypted (`ws://`, `http://`), for local tests.
    Plain(TcpStream),
    /// rustls client session over the socket (`wss://`, `https://`).
    Tls(Box<TlsStream>),
}

/// A rustls client session and its non-blocking socket.
pub struct TlsStream {
    tls: ClientConnection,
    socket: TcpStream,
    /// The socket reported end of file.
    eof: bool,
}

impl Transport {
    /// Wraps `socket` in TLS when `tls` is given.
    pub fn new(socket: TcpStream, tls: Option<ClientConnection>) -> Transport {
        match tls {
            None => Transport::Plain(socket),
            Some(tls) => Transport::Tls(Box::new(TlsStream { tls, socket, eof: false })),
        }
    }

    /// The underlying socket (for `mio` registration).
    pub fn socket_mut(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(socket) => socket,
            Transport::Tls(stream) => &mut stream.socket,
        }
    }

    /// Drives the TLS handshake as far as the socket allows. `Ok(true)` once it is
    /// complete (always for plain TCP), `Ok(false)` when it waits for readiness.
    pub fn drive_handshake(&mut self) -> io::Result<bool> {
        let Transport::Tls(stream) = self else { return Ok(true) };
        loop {
            while stream.tls.wants_write() {
                match stream.tls.write_tls(&mut stream.socket) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e),
                }
            }
            if !stream.tls.is_handshaking() {
                return Ok(true);
            }
            match stream.tls.read_tls(&mut stream.socket) {
                Ok(0) => {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed during the TLS handshake"))
                }
                Ok(_) => stream.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }

    /// The negotiated TLS protocol version, `None` for plain TCP or before the handshake.
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        match self {
            Transport::Plain(_) => None,
            Transport::Tls(stream) => stream.tls.protocol_version(),
        }
    }
}

impl TlsStream {
    /// Decrypts buffered records; on a TLS error the alert is still sent (best effort).
    fn process(&mut self) -> io::Result<()> {
        match self.tls.process_new_packets() {
            Ok(_) => Ok(()),
            Err(err) => {
                let _ = self.tls.write_tls(&mut self.socket);
                Err(io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {err}")))
            }
        }
    }

    /// Writes pending TLS records until done or the socket would block.
    fn push_records(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.socket) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.eof {
                // rustls reports a missing close_notify itself; this guards the loop.
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "peer closed the TLS connection"));
            }
            self.push_records()?;
            if self.tls.read_tls(&mut self.socket)? == 0 {
                self.eof = true;
            }
            self.process()?;
            // Replies produced by processing (key updates, alerts) go out now.
            self.push_records()?;
        }
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.push_records()?;
        let n = self.tls.writer().write(buf)?;
        self.push_records()?;
        if n == 0 && !buf.is_empty() {
            // rustls's plaintext buffer is full because the socket is: wait for writable.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tls.writer().flush()?;
        while self.tls.wants_write() {
            self.tls.write_tls(&mut self.socket)?;
        }
        self.socket.flush()
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.read(buf),
            Transport::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(socket) => socket.write(buf),
            Transport::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(socket) => socket.flush(),
            Transport::Tls(stream) => stream.flush(),
        }
    }
}
