//! Step 1 of [`super::recorded`]: every recording replayed through the venue
//! parser and book sync; per symbol, the first, lowest and highest mirrored mid.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use gavel_feeds::capture::CaptureFile;
use gavel_feeds::recording::{RecordError, RecordKind, RecordingReader};
use gavel_feeds::replay::{resolve_spec, venue_by_name, TopReplay};
use gavel_feeds::Venue;

/// What the recordings showed for one symbol (prices as decimal strings on its tick grid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceRange {
    /// Venue symbol.
    pub symbol: String,
    /// Command-line names of the venues it was seen on.
    pub venues: Vec<String>,
    /// Tick size as a plain decimal.
    pub tick_size: String,
    /// Lot size as a plain decimal.
    pub lot_size: String,
    /// Receive time of the first mirrored mid, ns.
    pub first_ns: i64,
    /// First mid, ticks.
    pub first_mid: i64,
    /// Lowest mid, ticks.
    pub min_mid: i64,
    /// Highest mid, ticks.
    pub max_mid: i64,
    /// Book updates with both sides present.
    pub updates: u64,
}

/// A recording file and what it holds.
struct Source {
    path: PathBuf,
    gavel_capture: bool,
    venue: Venue,
    symbols: Vec<String>,
}

/// Replays every capture and returns, per symbol (sorted), the observed mid range.
pub fn recorded_ranges(
    captures: &[PathBuf],
    snapshots: &[PathBuf],
    venue_info: Option<&Path>,
    venue_override: Option<&str>,
) -> anyhow::Result<Vec<PriceRange>> {
    let forced = match venue_override {
        Some(name) => Some(venue_by_name(name).ok_or_else(|| anyhow!("unknown venue {name:?}"))?),
        None => None,
    };
    let mut sources = Vec::new();
    for path in captures {
        sources.push(inspect(path, forced)?);
    }
    // Venue → its files in the given order and the union of their symbols.
    let mut by_venue: BTreeMap<u8, (Venue, Vec<&Source>, Vec<String>)> = BTreeMap::new();
    for s in &sources {
        let entry = by_venue
            .entry(s.venue as u8)
            .or_insert_with(|| (s.venue, Vec::new(), Vec::new()));
        entry.1.push(s);
        for sym in &s.symbols {
            if !entry.2.contains(sym) {
                entry.2.push(sym.clone());
            }
        }
    }
    // Scratch space for gavel captures rewritten as lines; unique per call.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let scratch = std::env::temp_dir().join(format!("gavel-gen-accounts-{}-{call}", std::process::id()));
    let mut merged: BTreeMap<String, PriceRange> = BTreeMap::new();
    let result = (|| -> anyhow::Result<()> {
        for (venue, files, symbols) in by_venue.values() {
            if !matches!(venue, Venue::BinanceUsdm | Venue::Bybit) {
                // Spot has no liquidations; COIN-M is inverse, and the risk engine is linear only.
                eprintln!(
                    "gen accounts: {venue:?} skipped ({} symbols): only linear perpetuals (binance-usdm, bybit linear) have a margin model",
                    symbols.len()
                );
                continue;
            }
            let binance = *venue == Venue::BinanceUsdm;
            let url_filter = (*venue == Venue::Bybit).then(|| "/linear".to_string());
            for symbol in symbols {
                let mut paths = Vec::new();
                for (i, f) in files.iter().enumerate() {
                    if f.gavel_capture {
                        std::fs::create_dir_all(&scratch)?;
                        let lines = scratch.join(format!("{}-{i}.lines", symbol));
                        capture_as_lines(&f.path, symbol, &lines)?;
                        paths.push(lines);
                    } else {
                        paths.push(f.path.clone());
                    }
                }
                let snaps: Vec<PathBuf> = if binance { snapshots.to_vec() } else { Vec::new() };
                let mut spec_sources = snaps.clone();
                spec_sources.extend(paths.iter().cloned());
                let info = if binance { venue_info } else { None };
                let spec =
                    resolve_spec(symbol, 1, info, &spec_sources, url_filter.as_deref()).map_err(anyhow::Error::msg)?;
                let replay = TopReplay {
                    venue: *venue,
                    spec: spec.clone(),
                    captures: paths,
                    snapshots: snaps,
                    url_filter: url_filter.clone(),
                };
                let mut seen: Option<(i64, i64, i64, i64)> = None; // first_ns, first, min, max
                let mut updates = 0u64;
                let report = replay
                    .run(|receive_ns, _, book| {
                        if let (Some(b), Some(a)) = (book.best_bid(), book.best_ask()) {
                            let mid = (b.price + a.price).div_euclid(2);
                            updates += 1;
                            seen = Some(match seen {
                                None => (receive_ns, mid, mid, mid),
                                Some((t, f, lo, hi)) => (t, f, lo.min(mid), hi.max(mid)),
                            });
                        }
                    })
                    .map_err(|e| anyhow!("{e}"))?;
                let refused: u64 = report.parse_errors.values().sum();
                if refused + report.bad_lines + report.sync.gaps + report.sync.crossed > 0 {
                    eprintln!(
                        "gen accounts: {symbol} on {venue:?}: {refused} messages refused, {} bad lines, {} gaps, {} crossed books{}",
                        report.bad_lines,
                        report.sync.gaps,
                        report.sync.crossed,
                        report.first_errors.first().map(|e| format!("; first: {e}")).unwrap_or_default()
                    );
                }
                let Some((first_ns, first, lo, hi)) = seen else {
                    eprintln!("gen accounts: {symbol} on {venue:?}: the book never synced; symbol skipped");
                    continue;
                };
                let (tick_size, lot_size) = (spec.price.unit().to_string(), spec.qty.unit().to_string());
                let venue_name = venue_name(*venue).to_string();
                match merged.get_mut(symbol) {
                    Some(r) => {
                        if r.tick_size != tick_size {
                            eprintln!("gen accounts: {symbol}: tick {tick_size} on {venue_name} differs from {}; kept the first", r.tick_size);
                            continue;
                        }
                        r.venues.push(venue_name);
                        r.min_mid = r.min_mid.min(lo);
                        r.max_mid = r.max_mid.max(hi);
                        r.updates += updates;
                        if first_ns < r.first_ns {
                            r.first_ns = first_ns;
                            r.first_mid = first;
                        }
                    }
                    None => {
                        merged.insert(
                            symbol.clone(),
                            PriceRange {
                                symbol: symbol.clone(),
                                venues: vec![venue_name],
                                tick_size,
                                lot_size,
                                first_ns,
                                first_mid: first,
                                min_mid: lo,
                                max_mid: hi,
                                updates,
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    Ok(merged.into_values().collect())
}

/// The `venues` key gavel uses for a venue.
fn venue_name(venue: Venue) -> &'static str {
    match venue {
        Venue::BinanceUsdm => "binance-usdm",
        Venue::BinanceCoinm => "binance-coinm",
        Venue::BinanceSpot => "binance-spot",
        Venue::Bybit => "bybit",
        Venue::Okx => "okx",
        Venue::Coinbase => "coinbase",
        _ => "other",
    }
}

/// Reads a file once: its format, venue and the symbols with book messages.
fn inspect(path: &Path, forced: Option<Venue>) -> anyhow::Result<Source> {
    let mut head = [0u8; 8];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        f.read(&mut head)?
    };
    let mut symbols = Vec::new();
    if CaptureFile::sniff(&head[..n]) {
        let file = CaptureFile::open(path).map_err(|e| anyhow!("{e}"))?;
        if let Some(warning) = file.torn_tail_warning() {
            eprintln!("{warning}");
        }
        let mut venue = forced;
        for record in file.records() {
            let record = record.map_err(|e| anyhow!("{e}"))?;
            venue.get_or_insert(record.venue);
            add_book_symbol(record.message, &mut symbols);
        }
        let venue = venue.ok_or_else(|| anyhow!("{}: empty capture", path.display()))?;
        return Ok(Source {
            path: path.to_path_buf(),
            gavel_capture: true,
            venue,
            symbols,
        });
    }
    let mut reader = RecordingReader::open(path).map_err(|e| anyhow!("{e}"))?;
    let mut venue = forced;
    loop {
        let rec = match reader.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(RecordError::Bad(_)) => continue,
            Err(RecordError::Fatal(e)) => return Err(anyhow!("{e}")),
        };
        if rec.kind != RecordKind::Received {
            continue;
        }
        if venue.is_none() {
            venue = detect_venue(rec.url, rec.payload);
        }
        if venue == Some(Venue::Bybit) && !rec.url.is_empty() && !contains(rec.url, b"/linear") {
            continue;
        }
        add_book_symbol(rec.payload, &mut symbols);
    }
    let venue = venue.ok_or_else(|| anyhow!("{}: cannot tell the venue; pass --venue", path.display()))?;
    Ok(Source {
        path: path.to_path_buf(),
        gavel_capture: false,
        venue,
        symbols,
    })
}

/// The venue a record comes from, by its connection URL or its message shape.
pub fn detect_venue(url: &[u8], payload: &[u8]) -> Option<Venue> {
    if contains(url, b"fstream") {
        return Some(Venue::BinanceUsdm);
    }
    if contains(url, b"dstream") {
        return Some(Venue::BinanceCoinm);
    }
    if contains(url, b"stream.binance.com") {
        return Some(Venue::BinanceSpot);
    }
    if contains(url, b"bybit") || contains(payload, b"\"topic\":\"orderbook.") {
        return Some(Venue::Bybit);
    }
    if contains(payload, b"depthUpdate") {
        return Some(if !contains(payload, b"\"pu\":") {
            Venue::BinanceSpot
        } else if contains(payload, b"\"ps\":") {
            Venue::BinanceCoinm
        } else {
            Venue::BinanceUsdm
        });
    }
    None
}

/// Adds the symbol of a book message (Binance `depthUpdate`, Bybit `orderbook.*`) if new.
fn add_book_symbol(payload: &[u8], symbols: &mut Vec<String>) {
    let symbol = if contains(payload, b"depthUpdate") {
        text_after(payload, b"\"s\":\"")
    } else if let Some(rest) = find(payload, b"\"topic\":\"orderbook.").map(|p| &payload[p + 19..]) {
        // `<depth>.<SYMBOL>"`
        rest.iter()
            .position(|&b| b == b'.')
            .and_then(|dot| text_after(&rest[dot..], b"."))
    } else {
        None
    };
    if let Some(s) = symbol {
        if !s.is_empty() && !symbols.iter().any(|k| k.eq_ignore_ascii_case(&s)) {
            symbols.push(s.to_ascii_uppercase());
        }
    }
}

/// The text after `key` up to the next `"`.
fn text_after(haystack: &[u8], key: &[u8]) -> Option<String> {
    let start = find(haystack, key)? + key.len();
    let len = haystack[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&haystack[start..start + len])
        .ok()
        .map(str::to_string)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// Rewrites a gavel capture as hftbacktest lines (`<receive ns> <message>`),
/// the form [`TopReplay`] reads, keeping REST snapshots of `symbol` only.
fn capture_as_lines(capture: &Path, symbol: &str, out: &Path) -> anyhow::Result<()> {
    let file = CaptureFile::open(capture).map_err(|e| anyhow!("{e}"))?;
    gavel_feeds::atomic_file::write_atomic_with(out, |w| -> anyhow::Result<()> {
    for record in file.records() {
        let record = record.map_err(|e| anyhow!("{e}"))?;
        if let Some(sym) = record.channel.strip_prefix(b"rest/depth/") {
            if !sym.eq_ignore_ascii_case(symbol.as_bytes()) {
                continue;
            }
        }
        if record.message.contains(&b'\n') || record.channel == b"gavel/reconnect" {
            continue;
        }
        write!(w, "{} ", record.receive_ns)?;
        w.write_all(record.message)?;
        w.write_all(b"\n")?;
    }
    Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venues_and_book_symbols_are_recognised() {
        assert_eq!(
            detect_venue(b"wss://fstream.binance.com/stream", b"{}"),
            Some(Venue::BinanceUsdm)
        );
        assert_eq!(
            detect_venue(b"", br#"{"e":"depthUpdate","s":"X","U":1,"u":2,"pu":0}"#),
            Some(Venue::BinanceUsdm)
        );
        assert_eq!(
            detect_venue(b"", br#"{"e":"depthUpdate","s":"X","U":1,"u":2}"#),
            Some(Venue::BinanceSpot)
        );
        assert_eq!(
            detect_venue(b"", br#"{"topic":"orderbook.50.BTCUSDT"}"#),
            Some(Venue::Bybit)
        );
        assert_eq!(detect_venue(b"", br#"{"e":"trade"}"#), None);
        let mut symbols = Vec::new();
        add_book_symbol(
            br#"{"stream":"a@depth","data":{"e":"depthUpdate","E":1,"s":"SUSHIUSDT"}}"#,
            &mut symbols,
        );
        add_book_symbol(br#"{"topic":"orderbook.200.ETHUSDT","type":"delta"}"#, &mut symbols);
        add_book_symbol(br#"{"e":"aggTrade","s":"KEEPUSDT"}"#, &mut symbols);
        add_book_symbol(br#"{"e":"depthUpdate","s":"sushiusdt"}"#, &mut symbols);
        assert_eq!(symbols, ["SUSHIUSDT", "ETHUSDT"]);
    }
}
