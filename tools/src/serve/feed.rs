//! The mark source of `gavel serve`: a capture replayed in real time (at a
//! speed factor) through the venue parsers and book sync, stamped with the
//! live event clock and pushed onto the engine's feed ring.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_engine::risk::instrument::InstrumentSet;
use gavel_feeds::capture::CaptureFile;
use gavel_feeds::capture_feed::VenueFeed;
use gavel_feeds::decimal::Grid;
use gavel_feeds::input_error::Location;
use gavel_feeds::ring::EventProducer;
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use gavel_feeds::net::tls::client_config_webpki;
use gavel_feeds::net::venue::{connection_spec, LiveVenue, Overrides};
use gavel_feeds::net::{LiveLoop, NetConfig};
use gavel_feeds::wire::{Event, Venue};
use gavel_gateway::EventClock;

/// A capture to replay: its path and speed (per mille of real time: 1000 = real time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplaySource {
    /// The capture file.
    pub path: PathBuf,
    /// Speed in per mille (1000 = real time, 10000 = ten times faster).
    pub speed_per_mille: u64,
}

/// A live venue feed: the venue and its symbols (upper case), and URL overrides for a local test server.
#[derive(Clone, Debug)]
pub struct LiveSource {
    /// The venue.
    pub venue: LiveVenue,
    /// Symbols, e.g. `BTCUSDT`.
    pub symbols: Vec<String>,
    /// Local test server URLs (none for the real venue).
    pub overrides: Overrides,
}

/// Where the mark comes from.
#[derive(Clone, Debug)]
pub enum MarkSource {
    /// A capture replayed in real time.
    Replay(ReplaySource),
    /// A venue's live WebSocket/REST feed.
    Live(LiveSource),
}

impl MarkSource {
    /// The replay source, if it is one.
    pub fn replay_mut(&mut self) -> Option<&mut ReplaySource> {
        match self {
            MarkSource::Replay(r) => Some(r),
            MarkSource::Live(_) => None,
        }
    }

    /// The venue whose book the engine mirrors.
    pub fn venue(&self) -> Result<Venue, String> {
        match self {
            MarkSource::Replay(r) => capture_venue(&r.path),
            MarkSource::Live(l) => Ok(l.venue.venue()),
        }
    }
}

/// Parses `--mark-from`: `replay:FILE[,speed=X]` (X a decimal, 0.001 to 1000) or
/// `live:VENUE:SYMBOL[,SYMBOL…]` (VENUE binance-usdm, binance-spot or bybit).
pub fn parse_mark_source(text: &str) -> Result<MarkSource, String> {
    if let Some(rest) = text.strip_prefix("live:") {
        let (venue, symbols) = rest.split_once(':').ok_or_else(|| format!("--mark-from {text:?}: expected live:VENUE:SYMBOL[,SYMBOL…]"))?;
        let venue = LiveVenue::parse(venue).map_err(|e| format!("--mark-from {text:?}: {e}"))?;
        let symbols: Vec<String> = symbols.split(',').map(|s| s.trim().to_ascii_uppercase()).collect();
        if symbols.iter().any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
            return Err(format!("--mark-from {text:?}: symbols must be non-empty letters, digits or '-'"));
        }
        return Ok(MarkSource::Live(LiveSource { venue, symbols, overrides: Overrides::default() }));
    }
    parse_mark_from(text).map(MarkSource::Replay)
}

/// Parses `replay:FILE[,speed=X]` (X a decimal, 0.001 to 1000).
pub fn parse_mark_from(text: &str) -> Result<ReplaySource, String> {
    let Some(rest) = text.strip_prefix("replay:") else {
        return Err(format!("--mark-from {text:?}: expected replay:FILE[,speed=X] or live:VENUE:SYMBOL[,SYMBOL…]"));
    };
    let (path, speed) = match rest.split_once(",speed=") {
        Some((p, s)) => (p, s),
        None => (rest, "1"),
    };
    if path.is_empty() {
        return Err("--mark-from: the capture path is empty".into());
    }
    Ok(ReplaySource { path: PathBuf::from(path), speed_per_mille: parse_speed(speed)? })
}

/// Parses a replay speed (× real time, 0.001 to 1000) into per mille.
pub fn parse_speed(speed: &str) -> Result<u64, String> {
    let d = gavel_feeds::decimal::Decimal::parse(speed).map_err(|e| format!("replay speed {speed:?}: {e}"))?;
    let per_mille = d.in_units_of(gavel_feeds::decimal::Decimal { mantissa: 1, scale: 3 }).ok_or_else(|| format!("replay speed {speed:?}: at most 3 decimals"))?;
    if !(1..=1_000_000).contains(&per_mille) {
        return Err(format!("replay speed {speed}: must be within 0.001..=1000"));
    }
    Ok(per_mille as u64)
}

/// The parsers' instrument table for the engine's instruments (ids in order).
pub fn feed_instruments(set: &InstrumentSet) -> Result<Instruments, String> {
    let mut specs = Vec::new();
    for i in 0..set.len() {
        let ins = set.get(i as gavel_engine::risk::InstrumentId);
        let price = Grid::from_decimal(ins.tick_size).map_err(|e| format!("{}: tick size: {e}", ins.symbol))?;
        let qty = Grid::from_decimal(ins.lot_size).map_err(|e| format!("{}: lot size: {e}", ins.symbol))?;
        specs.push(InstrumentSpec::new(&ins.symbol, i as u32, price, qty));
    }
    Ok(Instruments::new(specs))
}

/// The venue of a capture's first record.
pub fn capture_venue(path: &std::path::Path) -> Result<gavel_feeds::wire::Venue, String> {
    let capture = CaptureFile::open(path).map_err(|e| e.to_string())?;
    let first = capture.records().next().ok_or_else(|| format!("{}: the capture holds no record", path.display()))?;
    first.map(|r| r.venue).map_err(|e| e.to_string())
}

/// What the replay did.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeedReport {
    /// Capture records replayed.
    pub records: u64,
    /// Events pushed to the engine.
    pub events: u64,
    /// Whether the whole capture was replayed (false: stopped first).
    pub finished: bool,
}

/// Replays `source` until it ends or `stop` is set.
pub fn run(source: &ReplaySource, instruments: Instruments, mut ring: EventProducer, clock: EventClock, stop: Arc<AtomicBool>) -> Result<FeedReport, String> {
    let capture = CaptureFile::open(&source.path).map_err(|e| e.to_string())?;
    let mut venue = VenueFeed::new(capture_venue(&source.path)?, instruments, 1000)?;
    let mut report = FeedReport::default();
    let started = Instant::now();
    let mut first_ns: Option<i64> = None;
    let mut batch: Vec<Event> = Vec::with_capacity(4096);
    let name = source.path.display().to_string();
    for record in capture.records() {
        let r = record.map_err(|e| e.to_string())?;
        let first = *first_ns.get_or_insert(r.receive_ns);
        // Wait until this record's time, scaled by the speed.
        let due = Duration::from_nanos((r.receive_ns.saturating_sub(first).max(0) as u128 * 1000 / u128::from(source.speed_per_mille)).min(u128::from(u64::MAX)) as u64);
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(report);
            }
            let elapsed = started.elapsed();
            if elapsed >= due {
                break;
            }
            std::thread::sleep((due - elapsed).min(Duration::from_millis(20)));
        }
        batch.clear();
        let hint = gavel_feeds::capture_feed::channel_symbol(r.channel);
        let now = clock.now_ns();
        venue.on_message(r.message, now, hint, || (name.clone(), Location::Offset(0)), &mut |e| batch.push(e));
        push_all(&mut ring, &batch).map_err(|e| e.to_string())?;
        report.records += 1;
        report.events += batch.len() as u64;
    }
    report.finished = true;
    Ok(report)
}

/// Runs a live venue feed until `stop` is set: every message goes through the
/// venue's parser and book sync, stamped with the event clock, onto the ring.
pub fn run_live(source: &LiveSource, instruments: Instruments, mut ring: EventProducer, clock: EventClock, stop: Arc<AtomicBool>) -> Result<FeedReport, String> {
    let spec = connection_spec(source.venue, &source.symbols, &source.overrides).map_err(|e| e.to_string())?;
    let tls = client_config_webpki().map_err(|e| e.to_string())?;
    let config = NetConfig { tls: Some(tls), max_poll_wait: Duration::from_millis(20), ..NetConfig::default() };
    let mut live = LiveLoop::new(vec![spec], config).map_err(|e| e.to_string())?;
    let mut feed = VenueFeed::new(source.venue.venue(), instruments, 1000)?;
    let mut report = FeedReport::default();
    let mut batch: Vec<Event> = Vec::with_capacity(4096);
    let name = format!("live {}", source.venue.name());
    let mut sink = |_receive_ns: i64, _venue: Venue, channel: &[u8], message: &[u8]| -> std::io::Result<()> {
        batch.clear();
        let now = clock.now_ns();
        feed.on_message(message, now, gavel_feeds::capture_feed::channel_symbol(channel), || (name.clone(), Location::Offset(0)), &mut |e| batch.push(e));
        push_all(&mut ring, &batch).map_err(std::io::Error::other)?;
        report.records += 1;
        report.events += batch.len() as u64;
        Ok(())
    };
    live.run(&mut sink, None, &mut |_| stop.load(Ordering::Relaxed)).map_err(|e| e.to_string())?;
    Ok(report)
}

/// Pushes one message's events, waiting for room as the ring's policy says (the engine sees them together).
fn push_all(ring: &mut EventProducer, batch: &[Event]) -> Result<(), gavel_feeds::ring::RingError> {
    let mut sent = 0;
    while sent < batch.len() {
        sent += ring.push_slice(&batch[sent..])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_from_parses_and_bounds_the_speed() {
        assert_eq!(parse_mark_from("replay:a.cap").unwrap(), ReplaySource { path: "a.cap".into(), speed_per_mille: 1000 });
        assert_eq!(parse_mark_from("replay:a.cap,speed=2.5").unwrap().speed_per_mille, 2500);
        assert!(parse_mark_from("replay:a.cap,speed=0").is_err());
        assert!(parse_mark_from("replay:a.cap,speed=1e9").is_err());
        assert!(parse_mark_from("replay:a.cap,speed=nan").is_err());
        assert!(parse_mark_from("live:binance-usdm:BTCUSDT").is_err());
        match parse_mark_source("live:binance-usdm:btcusdt,ETHUSDT").unwrap() {
            MarkSource::Live(l) => assert_eq!((l.venue, l.symbols), (LiveVenue::BinanceUsdm, vec!["BTCUSDT".to_string(), "ETHUSDT".to_string()])),
            other => panic!("{other:?}"),
        }
        assert!(parse_mark_source("live:kraken:BTCUSD").unwrap_err().contains("kraken"));
        assert!(parse_mark_source("live:bybit:").is_err());
        assert!(parse_mark_source("live:bybit").is_err());
        assert!(matches!(parse_mark_source("replay:x.cap").unwrap(), MarkSource::Replay(_)));
        assert!(parse_mark_from("replay:").is_err());
    }
}
