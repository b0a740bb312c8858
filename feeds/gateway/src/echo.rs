//! A bare mio echo server: the physical floor of a TCP round trip on this
//! machine, for `gavel load` to measure beside the engine in the same run.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};

/// Starts the echo server on `127.0.0.1:0` in a thread; returns its address.
/// It stops when `stop` is set.
pub fn spawn_echo(stop: Arc<AtomicBool>) -> std::io::Result<(SocketAddr, std::thread::JoinHandle<()>)> {
    let mut listener = TcpListener::bind("127.0.0.1:0".parse().map_err(std::io::Error::other)?)?;
    let addr = listener.local_addr()?;
    let handle = std::thread::Builder::new().name("gavel-echo".into()).spawn(move || {
        let Ok(mut poll) = Poll::new() else { return };
        if poll.registry().register(&mut listener, Token(usize::MAX), Interest::READABLE).is_err() {
            return;
        }
        let mut conns: Vec<mio::net::TcpStream> = Vec::new();
        let mut events = Events::with_capacity(64);
        let mut buf = [0u8; 64 << 10];
        while !stop.load(Ordering::Relaxed) {
            // Spin like the gateway does while busy.
            if poll.poll(&mut events, Some(Duration::ZERO)).is_err() {
                return;
            }
            for ev in events.iter() {
                if ev.token() == Token(usize::MAX) {
                    while let Ok((mut s, _)) = listener.accept() {
                        let _ = s.set_nodelay(true);
                        if poll.registry().register(&mut s, Token(conns.len()), Interest::READABLE).is_ok() {
                            conns.push(s);
                        }
                    }
                    continue;
                }
                let Some(s) = conns.get_mut(ev.token().0) else { continue };
                loop {
                    match s.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            let mut done = 0;
                            while done < n {
                                match s.write(&buf[done..n]) {
                                    Ok(w) => done += w,
                                    Err(e) if e.kind() == ErrorKind::WouldBlock => std::hint::spin_loop(),
                                    Err(_) => break,
                                }
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
            }
        }
    })?;
    Ok((addr, handle))
}
