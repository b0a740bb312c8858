//! Shared by the `gavel serve` tests: a server process on 127.0.0.1 with its
//! output collected, and the demo's keys.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gavel_gateway::auth::{ApiKey, KeyTable};

pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdout: Arc<Mutex<String>>,
    pub dir: PathBuf,
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gavel-serve-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `--config` venue in `dir`: the `instruments` TOML, the `accounts` CSV, trader keys 1 and
/// 2 on accounts 0 and 1 (secret: the id's byte 32 times), and `extra` appended to
/// `venue.toml`. Returns the config's path.
pub fn write_trader_venue(dir: &Path, instruments: &str, accounts: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("instruments.toml"), instruments).unwrap();
    std::fs::write(dir.join("accounts.csv"), accounts).unwrap();
    let mut keys = String::new();
    for (id, account) in [(1u64, 0u64), (2, 1)] {
        keys.push_str(&format!("[[key]]\nid = {id}\nsecret = \"{}\"\naccount = {account}\nrole = \"trader\"\n\n", format!("{id:02x}").repeat(32)));
    }
    std::fs::write(dir.join("keys.toml"), keys).unwrap();
    let path = dir.join("venue.toml");
    std::fs::write(&path, format!("instruments = \"instruments.toml\"\naccounts = \"accounts.csv\"\nkeys = \"keys.toml\"\n{extra}")).unwrap();
    path
}

impl Server {
    /// Starts `gavel serve ARGS --listen 127.0.0.1:0 --data-dir DIR` and waits for its address.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        Self::start_with(dir, args, Command::new(env!("CARGO_BIN_EXE_gavel")))
    }

    /// [`Server::start`] from a prepared command (e.g. with environment variables set).
    pub fn start_with(dir: &Path, args: &[&str], mut command: Command) -> Server {
        let mut child = command
            .arg("serve")
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gavel serve starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("gavel serve: listening on ") {
                    let _ = tx.send(a.trim().to_string());
                }
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let err = child.stderr.take().unwrap();
        let sink = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str("stderr: ");
                s.push_str(&line);
                s.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a.parse().expect("an address"),
            Err(_) => {
                let _ = child.kill();
                panic!("gavel serve did not say where it listens:\n{}", stdout.lock().unwrap());
            }
        };
        Server { child, addr, stdout, dir: dir.to_path_buf() }
    }

    pub fn keys(&self) -> KeyTable {
        let text = std::fs::read_to_string(self.dir.join("keys.toml")).unwrap();
        KeyTable::parse("keys.toml", &text).unwrap()
    }

    pub fn key(&self, id: u64) -> ApiKey {
        self.keys().get(id).cloned().unwrap()
    }

    pub fn output(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// SIGTERM, then waits for the exit (at most `limit`); returns the status and output.
    pub fn terminate(mut self, limit: Duration) -> (std::process::ExitStatus, String) {
        // SAFETY: the child's pid, a valid signal.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.output());
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                panic!("gavel serve did not stop within {limit:?} of SIGTERM:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
