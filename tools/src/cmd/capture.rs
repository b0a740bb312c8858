//! `gavel capture`: record a venue's live market data into a capture file.
//!
//! Connects (WebSocket over TLS), subscribes, fetches REST depth snapshots,
//! reconnects with back-off, and appends every raw message with its receive time
//! until Ctrl-C or `--duration`. Prints the connection counters at the end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use gavel_feeds::capture::CaptureWriter;
use gavel_feeds::net::tls::{client_config_webpki, client_config_with_ca};
use gavel_feeds::net::venue::{connection_spec, LiveVenue, Overrides};
use gavel_feeds::net::{ConnectionStats, LiveLoop, NetConfig, Sink, StopReason, Url};

/// Arguments of `gavel capture`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Venue: binance-usdm, binance-spot or bybit.
    #[arg(long)]
    venue: String,
    /// Comma-separated symbols, e.g. BTCUSDT,ETHUSDT.
    #[arg(long, value_delimiter = ',', required = true)]
    symbols: Vec<String>,
    /// Capture file to create; an existing file is refused unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
    /// Compress with zstd, one independently readable frame per flush.
    #[arg(long)]
    compress: bool,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Use this WebSocket URL instead of the venue's (ws:// or wss://), e.g. a local test server.
    #[arg(long)]
    url_override: Option<String>,
    /// Send REST snapshot requests to this origin (scheme://host:port) instead of the venue's.
    #[arg(long)]
    rest_override: Option<String>,
    /// Trust only the certificates in this PEM file (a local test server's), not the public roots.
    #[arg(long)]
    insecure_test_ca: Option<PathBuf>,
}

/// Set by the SIGINT handler; polled by the capture loop.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Installs the SIGINT handler that sets [`INTERRUPTED`].
fn install_sigint_handler() -> anyhow::Result<()> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe;
    // `sigaction` is given a zeroed, fully initialised struct.
    let rc = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut())
    };
    if rc != 0 {
        bail!("installing the SIGINT handler: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs the capture.
pub fn run(args: Args) -> anyhow::Result<()> {
    let venue = LiveVenue::parse(&args.venue)?;
    let parse_url = |text: &Option<String>, what: &str| -> anyhow::Result<Option<Url>> {
        text.as_deref().map(|t| Url::parse(t).with_context(|| format!("{what} {t:?} is not a URL"))).transpose()
    };
    let overrides = Overrides {
        ws_url: parse_url(&args.url_override, "--url-override")?,
        rest_base: parse_url(&args.rest_override, "--rest-override")?,
    };
    // A local test server must never be mixed with a real venue's other half.
    if venue != LiveVenue::Bybit && overrides.ws_url.is_some() != overrides.rest_base.is_some() {
        bail!("for {} give --url-override and --rest-override together (or neither)", venue.name());
    }
    let spec = connection_spec(venue, &args.symbols, &overrides)?;
    let tls = match &args.insecure_test_ca {
        Some(path) => client_config_with_ca(path)?,
        None => client_config_webpki()?,
    };
    let duration = match args.duration {
        Some(s) => match Duration::try_from_secs_f64(s) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => bail!("--duration must be a positive number of seconds, got {s}"),
        },
        None => None,
    };
    install_sigint_handler()?;
    let writer = if args.compress {
        CaptureWriter::create_compressed(&args.out, args.force)
    } else {
        CaptureWriter::create_new(&args.out, args.force)
    };
    let writer = writer.context("--out")?;
    println!("capturing {} {} from {} into {}", venue.name(), args.symbols.join(","), spec.url, args.out.display());
    // The loop turns at least this often, so the writer's idle flush runs in time:
    // a record reaches the file at most FLUSH_INTERVAL + 50 ms after it arrived.
    let config = NetConfig { tls: Some(tls), max_poll_wait: Duration::from_millis(50), ..NetConfig::default() };
    let mut live = LiveLoop::new(vec![spec], config)?;
    // A duration too long to represent means no deadline.
    let deadline = duration.and_then(|d| Instant::now().checked_add(d));
    let started = Instant::now();
    let (reason, records) = record(&mut live, writer, deadline)?;
    let stats = live.stats();
    println!(
        "stopped ({}) after {:.1} s; {records} records written to {}",
        match reason {
            StopReason::Requested => "interrupted",
            StopReason::Deadline => "duration reached",
        },
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    for line in counter_lines(&stats[0]) {
        println!("  {line}");
    }
    if stats[0].sessions == 0 {
        bail!("never connected: {}", stats[0].last_error.as_deref().unwrap_or("no attempt finished before the stop"));
    }
    Ok(())
}

/// Runs the loop into `writer` until interrupted or `deadline`; returns the stop
/// reason and the number of records written.
fn record<W: std::io::Write>(
    live: &mut LiveLoop,
    mut writer: CaptureWriter<W>,
    deadline: Option<Instant>,
) -> anyhow::Result<(StopReason, u64)> {
    let sink: &mut dyn Sink = &mut writer;
    let reason = live.run(sink, deadline, &mut |_| INTERRUPTED.load(Ordering::SeqCst))?;
    let records = writer.records();
    writer.into_inner().context("flushing the capture file")?;
    Ok((reason, records))
}

/// The counters, one `name value` group per line.
fn counter_lines(s: &ConnectionStats) -> Vec<String> {
    let mut lines = vec![
        format!("sessions {} (reconnects {}), connect attempts {}", s.sessions, s.reconnects, s.connect_attempts),
        format!(
            "messages {} (text {}, binary {}), {} bytes; snapshots {} ({} bytes)",
            s.messages(),
            s.text_messages,
            s.binary_messages,
            s.message_bytes,
            s.snapshots,
            s.snapshot_bytes
        ),
        format!(
            "pings received {}, pongs received {}, keep-alive pings sent {}, close frames {}, subscriptions sent {}",
            s.pings_received, s.pongs_received, s.pings_sent, s.close_frames, s.subscribe_sent
        ),
        format!(
            "failures {}: connect {}, tls {}, handshake {}, stream {}, peer closed {}, dead {}, snapshot {}",
            s.failures(),
            s.connect_errors,
            s.tls_errors,
            s.handshake_errors,
            s.stream_errors,
            s.peer_closes,
            s.dead_timeouts,
            s.snapshot_errors
        ),
    ];
    if let Some(e) = &s.last_error {
        lines.push(format!("last error: {e}"));
    }
    lines
}
