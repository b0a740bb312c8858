//! `gavel gen accounts`: a leveraged account book built around the prices of
//! real recordings.
//!
//! 1. Every capture is replayed through the venue parser and book sync
//!    ([`TopReplay`]); per symbol the mirrored mid price (best bid + best ask,
//!    halved and rounded down to the tick) gives the first mid, the lowest and
//!    the highest mid.
//! 2. `instruments.toml` gets one linear instrument per symbol with the tick
//!    and lot sizes of the venue ([`resolve_spec`]) and a small-cap bracket
//!    schedule ([`SMALL_CAP_BRACKETS`]).
//! 3. Each account gets a position in one symbol. About `target` per mille
//!    of them are given a liquidation price inside the observed range, the
//!    others one outside it; collateral is solved from the target price with
//!    the risk engine's maintenance function, so the trigger lands on it.
//! 4. The written files are loaded back with the risk loaders and every
//!    position's trigger is computed by [`position_trigger`]; the count of
//!    positions the observed path crosses is printed (and tested).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use gavel_engine::risk::account::MarginMode;
use gavel_engine::risk::decimal::div_ceil;
use gavel_engine::risk::instrument::{quote_unit, Instrument, InstrumentSet, RATE_SCALE};
use gavel_engine::risk::margin::position_trigger;
use gavel_engine::risk::Trigger;
use gavel_engine::risk::{loader, RiskBook};
use gavel_feeds::capture::CaptureFile;
use gavel_feeds::recording::{RecordError, RecordKind, RecordingReader};
use gavel_feeds::replay::{resolve_spec, venue_by_name, TopReplay};
use gavel_feeds::rng::SplitMix64;
use gavel_feeds::Venue;

use crate::scenario::{format_units, ScenarioManifest, LEVERAGE_BUCKETS};

/// Arguments of `gavel gen accounts`.
#[derive(clap::Args, Debug, Clone)]
pub struct AccountsArgs {
    /// Recording(s) to take the prices from: gavel capture, hftbacktest or cryptofeed lines (.gz ok).
    #[arg(long = "capture", required = true, num_args = 1..)]
    pub captures: Vec<PathBuf>,
    /// File(s) of REST depth snapshots in a recording format (e.g. cryptofeed `BINANCE_FUTURES.http.0.0`).
    #[arg(long)]
    pub snapshot: Vec<PathBuf>,
    /// Binance exchangeInfo (raw JSON or a cryptofeed REST line) for tick and lot sizes.
    #[arg(long)]
    pub venue_info: Option<PathBuf>,
    /// Venue of the text recordings (default: detected from URLs and messages).
    #[arg(long)]
    pub venue: Option<String>,
    /// Folder to write the scenario into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Generator seed; the same seed and inputs give byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of accounts, spread evenly over the symbols found (1 ..= 1,000,000).
    #[arg(long, default_value_t = 1000, value_parser = crate::limits::accounts())]
    pub accounts: usize,
    /// Share of accounts whose liquidation price lies inside the observed price range, percent.
    #[arg(long, default_value_t = 20.0)]
    pub target_liquidated_pct: f64,
    /// Share of accounts that are long, percent.
    #[arg(long, default_value_t = 50)]
    pub long_pct: u64,
}

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

/// One generated account: one position in one instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAccount {
    /// Account name.
    pub name: String,
    /// Instrument symbol.
    pub symbol: String,
    /// Collateral, quote units (10^-6).
    pub collateral: i128,
    /// Isolated or cross margin.
    pub isolated: bool,
    /// Signed size, lots.
    pub size_lots: i64,
    /// Entry price, ticks.
    pub entry_ticks: i64,
    /// The liquidation price aimed at, ticks.
    pub target_liq_ticks: i64,
    /// Whether the target lies inside the observed range.
    pub aimed_inside: bool,
}

/// The verified outcome for one symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolCheck {
    /// Instrument symbol.
    pub symbol: String,
    /// Accounts holding it.
    pub accounts: usize,
    /// Accounts aimed inside the range.
    pub aimed_inside: usize,
    /// Accounts whose trigger the observed [min, max] crosses.
    pub liquidatable_in_range: usize,
    /// Accounts already liquidatable at the first mid.
    pub liquidatable_at_start: usize,
    /// Highest leverage (entry notional ÷ collateral), rounded down.
    pub max_leverage: i128,
}

/// Maintenance brackets written for every symbol: `(cap, rate, cum, max leverage)`.
///
/// Shape of Binance USDⓈ-M's leverage & margin tables for small-cap
/// perpetuals (50× top tier, 1 % first maintenance rate, caps 5k/25k/100k/
/// 250k/1M/5M USDT), as published for many altcoins in 2021–2022; it is a
/// representative schedule, not the exact table of each symbol on the day of
/// the recording. The amounts satisfy the continuity rule of
/// `docs/INSTRUMENTS.md`.
pub const SMALL_CAP_BRACKETS: [(&str, &str, &str, u32); 7] = [
    ("5000", "0.01", "0", 50),
    ("25000", "0.025", "75", 20),
    ("100000", "0.05", "700", 10),
    ("250000", "0.1", "5700", 5),
    ("1000000", "0.125", "11950", 4),
    ("5000000", "0.25", "136950", 2),
    ("inf", "0.5", "1386950", 1),
];

/// Runs `gavel gen accounts`: writes the folder and prints the verification.
pub fn run(args: &AccountsArgs) -> anyhow::Result<()> {
    let (ranges, checks) = write_accounts_scenario(args)?;
    for (r, c) in ranges.iter().zip(&checks) {
        println!(
            "{}: {} book updates on {}, mid first {} min {} max {} (ticks of {})",
            r.symbol,
            r.updates,
            r.venues.join("+"),
            r.first_mid,
            r.min_mid,
            r.max_mid,
            r.tick_size
        );
        println!(
            "{}: {} accounts, {} aimed inside the range, {} liquidatable within [min, max] (verified with the risk engine), {} already at the first mid, max leverage {}x",
            c.symbol, c.accounts, c.aimed_inside, c.liquidatable_in_range, c.liquidatable_at_start, c.max_leverage
        );
    }
    let total: usize = checks.iter().map(|c| c.accounts).sum();
    let hit: usize = checks.iter().map(|c| c.liquidatable_in_range).sum();
    println!(
        "wrote {}: {total} accounts, {hit} ({:.1} %) liquidatable within the recorded range (target {} %)",
        args.out.display(),
        if total == 0 {
            0.0
        } else {
            hit as f64 * 100.0 / total as f64
        },
        args.target_liquidated_pct
    );
    Ok(())
}

/// Writes the scenario folder and returns the observed ranges and the verification, per symbol.
pub fn write_accounts_scenario(args: &AccountsArgs) -> anyhow::Result<(Vec<PriceRange>, Vec<SymbolCheck>)> {
    anyhow::ensure!(
        (0.0..=100.0).contains(&args.target_liquidated_pct),
        "--target-liquidated-pct must be between 0 and 100, got {}",
        args.target_liquidated_pct
    );
    anyhow::ensure!(
        args.long_pct <= 100,
        "--long-pct must be at most 100, got {}",
        args.long_pct
    );
    anyhow::ensure!(args.accounts > 0, "--accounts must be at least 1");
    let ranges = recorded_ranges(
        &args.captures,
        &args.snapshot,
        args.venue_info.as_deref(),
        args.venue.as_deref(),
    )?;
    anyhow::ensure!(
        !ranges.is_empty(),
        "no linear-perpetual symbol with a synced book found in the captures"
    );
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let instruments_text = instruments_toml(&ranges);
    let instruments = InstrumentSet::parse(&instruments_text, "instruments.toml")
        .map_err(|e| anyhow!("{e} (tick × lot × 10^6 must be whole: pass --venue-info for the venue's real grids)"))?;
    gavel_feeds::atomic_file::write_atomic(args.out.join("instruments.toml"), &instruments_text).context("writing instruments.toml")?;
    let plan = plan_accounts(&ranges, &instruments, args)?;
    write_plan(&plan, &instruments, &args.out)?;
    let mut captures = Vec::new();
    for c in &args.captures {
        captures.push(absolute(c)?);
    }
    let mut snapshots = Vec::new();
    for s in &args.snapshot {
        snapshots.push(absolute(s)?);
    }
    let manifest = ScenarioManifest {
        name: format!("accounts-seed-{}", args.seed),
        instruments: "instruments.toml".into(),
        accounts: "accounts.csv".into(),
        positions: "positions.csv".into(),
        captures,
        snapshots,
        venue_info: args.venue_info.as_deref().map(absolute).transpose()?,
        orders: None,
    };
    gavel_feeds::atomic_file::write_atomic(args.out.join("scenario.toml"), toml::to_string(&manifest)?).context("writing scenario.toml")?;
    let mut checks = verify_book(
        &args.out.join("instruments.toml"),
        &args.out.join("accounts.csv"),
        &args.out.join("positions.csv"),
        &ranges,
    )?;
    for c in &mut checks {
        c.aimed_inside = plan.iter().filter(|a| a.symbol == c.symbol && a.aimed_inside).count();
    }
    Ok((ranges, checks))
}

fn absolute(path: &Path) -> anyhow::Result<String> {
    let abs = std::fs::canonicalize(path).with_context(|| format!("resolving {}", path.display()))?;
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} is not UTF-8", abs.display()))
}

// ---------------------------------------------------------------- price ranges

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
pub(crate) fn detect_venue(url: &[u8], payload: &[u8]) -> Option<Venue> {
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

// ---------------------------------------------------------------- instruments

/// `instruments.toml` for the observed symbols.
pub fn instruments_toml(ranges: &[PriceRange]) -> String {
    let mut out = String::from(
        "# Generated by `gavel gen accounts`; format: docs/INSTRUMENTS.md.\n\
         # Tick and lot sizes: the venue's (exchangeInfo when given, else the recording's decimals).\n\
         # Brackets: the shape of Binance USD-M leverage & margin tables for small-cap perpetuals\n\
         # (50x top tier, 1 % first maintenance rate; as published for many altcoins in 2021-2022).\n\
         # A representative schedule, not the exact table of each symbol on the recording's date.\n",
    );
    for r in ranges {
        let venues: Vec<String> = r.venues.iter().map(|v| format!("\"{v}\" = \"{}\"", r.symbol)).collect();
        let _ = write!(
            out,
            "\n[[instrument]]\nsymbol = \"{}\"\nkind = \"linear\"\ntick_size = \"{}\"\nlot_size = \"{}\"\nmin_size = \"{}\"\nvenues = {{ {} }}\nbrackets = [\n",
            r.symbol,
            r.tick_size,
            r.lot_size,
            r.lot_size,
            venues.join(", ")
        );
        for (cap, rate, cum, lev) in SMALL_CAP_BRACKETS {
            let _ = writeln!(
                out,
                "  {{ notional_cap = \"{cap}\", maintenance_rate = \"{rate}\", maintenance_amount = \"{cum}\", max_leverage = {lev} }},"
            );
        }
        out.push_str("]\n");
    }
    out
}

// ---------------------------------------------------------------- the book

/// Draws the accounts: account `i` trades symbol `i mod symbols`.
pub fn plan_accounts(
    ranges: &[PriceRange],
    instruments: &InstrumentSet,
    args: &AccountsArgs,
) -> anyhow::Result<Vec<PlannedAccount>> {
    let mut rng = SplitMix64::new(args.seed ^ 0x9e4a_cc07);
    // Symbols whose price never left the first mid by two ticks cannot hold an
    // account liquidated inside the range: the others take their share.
    let roomy = |r: &PriceRange| r.first_mid - r.min_mid >= 2 || r.max_mid - r.first_mid >= 2;
    let in_roomy = (0..args.accounts).filter(|i| roomy(&ranges[i % ranges.len()])).count();
    let wanted = args.target_liquidated_pct / 100.0 * args.accounts as f64;
    let target_per_mille = if in_roomy == 0 {
        0
    } else {
        ((wanted / in_roomy as f64 * 1000.0).round() as u64).min(1000)
    };
    if in_roomy < args.accounts {
        for r in ranges.iter().filter(|r| !roomy(r)) {
            eprintln!(
                "gen accounts: {}: the mid stayed within a tick of its first value; its accounts all liquidate outside the range, the other symbols take their share",
                r.symbol
            );
        }
    }
    let mut out = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let r = &ranges[i % ranges.len()];
        let id = instruments
            .id(&r.symbol)
            .ok_or_else(|| anyhow!("{} missing from instruments", r.symbol))?;
        let ins = instruments.get(id);
        out.push(plan_one(&mut rng, i, r, ins, target_per_mille, args.long_pct * 10));
    }
    Ok(out)
}

/// One account; see the module docs and docs/SIMULATION.md for the rules.
fn plan_one(
    rng: &mut SplitMix64,
    index: usize,
    r: &PriceRange,
    ins: &Instrument,
    target_per_mille: u64,
    long_per_mille: u64,
) -> PlannedAccount {
    let (first, lo, hi) = (r.first_mid, r.min_mid, r.max_mid);
    let inside = rng.below(1000) < target_per_mille;
    let mut long = rng.below(1000) < long_per_mille;
    let isolated = rng.below(1000) < 200;
    // Notional log-uniform over 200 … 20,000 quote: 200 × 10^(k/1000), k < 2000.
    let k = rng.below(2000) as i64;
    let mut notional_quote: i128 = 200;
    for _ in 0..k / 1000 {
        notional_quote *= 10;
    }
    notional_quote = notional_quote * (1000 + (k % 1000) as i128 * 9) / 1000;
    let spread = (first / 2000).max(1); // entries within ±0.05 % of the first mid
    let entry0 = (first + rng.range_i64(-spread, spread)).max(1);
    let unit = i128::from(entry0) * ins.quote_per_tick_lot;
    let lots = ((notional_quote * 1_000_000) / unit).max(i128::from(ins.min_size_lots.max(1))) as i64;
    let lever_draw = rng.below(1000);
    let lever_pick = rng.below(1_000_000);
    let shift_pick = rng.below(1_000_000);
    let liq_pick = rng.below(1_000_000);
    let gap = (first / 1000).max(1); // out-of-range targets keep 0.1 % away from the range
    let can_long = first - lo >= 2;
    let can_short = hi - first >= 2;
    let inside = inside && (can_long || can_short);
    if inside && !(if long { can_long } else { can_short }) {
        long = !long;
    }
    let size = if long { lots } else { -lots };
    let m = ins.quote_per_tick_lot;
    let q = i128::from(lots);
    let maintenance_at = |price: i64| ins.maintenance(ins.notional(size, price));
    // Collateral that puts the root of `equity = maintenance` at `liq` for an entry at `entry`.
    let collateral_for = |entry: i64, liq: i64| -> i128 {
        let upnl_at_liq = if long {
            q * m * i128::from(liq - entry)
        } else {
            q * m * i128::from(entry - liq)
        };
        maintenance_at(liq) - upnl_at_liq
    };
    let max_lev_at = |entry: i64| i128::from(ins.bracket_for(ins.notional(size, entry)).max_leverage);
    let pick =
        |low: i64, high: i64, draw: u64| low + ((i128::from(high - low + 1) * i128::from(draw)) / 1_000_000) as i64;

    let (entry, liq, collateral) = if inside {
        let liq = if long {
            pick(lo + 1, first - 1, liq_pick)
        } else {
            pick(first + 1, hi - 1, liq_pick)
        };
        let mut entry = entry0;
        let mut collateral = collateral_for(entry, liq);
        let mut lmax = max_lev_at(entry);
        let ok_side = if long { entry > liq } else { entry < liq };
        // Too much leverage for the bracket: the position was opened earlier, further
        // away, at a leverage between half the bracket's maximum and the maximum. The
        // new entry may move the notional into a lower-leverage bracket: retry there.
        let mut tries = 0;
        while tries < 4 && (!ok_side || collateral <= 0 || ins.notional(size, entry) > collateral * lmax) {
            tries += 1;
            let low = (lmax + 1) / 2;
            let lev = (low + i128::from(shift_pick % (1 + (lmax - low) as u64))).max(2);
            let mm = maintenance_at(liq);
            let liq_value = q * m * i128::from(liq);
            entry = if long {
                div_ceil(lev * (liq_value - mm), q * m * (lev - 1))
            } else {
                (lev * (mm + liq_value)) / (q * m * (lev + 1))
            } as i64;
            collateral = collateral_for(entry, liq);
            if ins.notional(size, entry) <= collateral * max_lev_at(entry) {
                break;
            }
            lmax = max_lev_at(entry);
        }
        (entry, liq, collateral)
    } else {
        let lmax = max_lev_at(entry0) as u32;
        let (_, low, high) = LEVERAGE_BUCKETS
            .iter()
            .copied()
            .find(|b| lever_draw < b.0)
            .unwrap_or(LEVERAGE_BUCKETS[4]);
        let lev = (low + (lever_pick % u64::from(high - low + 1)) as u32).min(lmax).max(1);
        let notional = ins.notional(size, entry0);
        let mut collateral = div_ceil(notional, i128::from(lev));
        let trigger = gavel_engine::risk::margin::trigger(ins, size, notional, RATE_SCALE * collateral);
        let crossed = trigger.is_some_and(|t| t.crossed(lo) || t.crossed(hi));
        let mut liq = trigger.and_then(Trigger::price).unwrap_or(0);
        if crossed {
            liq = if long { (lo - gap).max(1) } else { hi + gap };
            collateral = collateral.max(collateral_for(entry0, liq));
        }
        (entry0, liq, collateral)
    };
    PlannedAccount {
        name: format!("acct{:06}", index + 1),
        symbol: r.symbol.clone(),
        collateral: collateral.max(1),
        isolated,
        size_lots: size,
        entry_ticks: entry.max(1),
        target_liq_ticks: liq,
        aimed_inside: inside,
    }
}

/// Writes `accounts.csv` and `positions.csv` (collateral with six decimals, the risk engine's money unit).
pub fn write_plan(plan: &[PlannedAccount], instruments: &InstrumentSet, dir: &Path) -> anyhow::Result<()> {
    let mut accounts = String::from("account,collateral,margin_mode\n");
    let mut positions = String::from("account,instrument,size,entry_price,isolated_margin\n");
    for a in plan {
        let ins = instruments.get(
            instruments
                .id(&a.symbol)
                .ok_or_else(|| anyhow!("unknown {}", a.symbol))?,
        );
        let collateral = format_units(i64::try_from(a.collateral)?, quote_unit());
        let mode = if a.isolated { "isolated" } else { "cross" };
        let _ = writeln!(accounts, "{},{},{}", a.name, collateral, mode);
        let iso = if a.isolated { collateral.as_str() } else { "" };
        let _ = writeln!(
            positions,
            "{},{},{},{},{}",
            a.name,
            a.symbol,
            format_units(a.size_lots, ins.lot_size),
            format_units(a.entry_ticks, ins.tick_size),
            iso
        );
    }
    gavel_feeds::atomic_file::write_atomic(dir.join("accounts.csv"), accounts).context("writing accounts.csv")?;
    gavel_feeds::atomic_file::write_atomic(dir.join("positions.csv"), positions).context("writing positions.csv")?;
    Ok(())
}

// ---------------------------------------------------------------- verification

/// Loads the written files with the risk loaders and counts, per symbol, the
/// positions whose trigger ([`position_trigger`]) the observed range crosses.
pub fn verify_book(
    instruments_path: &Path,
    accounts: &Path,
    positions: &Path,
    ranges: &[PriceRange],
) -> anyhow::Result<Vec<SymbolCheck>> {
    let instruments = InstrumentSet::load(instruments_path).map_err(|e| anyhow!("{e}"))?;
    let mut book = RiskBook::new(instruments);
    let name = accounts.display().to_string();
    loader::load_accounts(
        &mut book,
        &loader::read_file(accounts).map_err(|e| anyhow!("{e}"))?,
        &name,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let name = positions.display().to_string();
    loader::load_positions(
        &mut book,
        &loader::read_file(positions).map_err(|e| anyhow!("{e}"))?,
        &name,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut checks = Vec::new();
    for r in ranges {
        let id = book
            .instruments()
            .id(&r.symbol)
            .ok_or_else(|| anyhow!("{} not in instruments", r.symbol))?;
        // The range's prices are ticks of the venue grid, which is the instrument's.
        let (first, lo, hi) = (r.first_mid, r.min_mid, r.max_mid);
        let mut check = SymbolCheck {
            symbol: r.symbol.clone(),
            accounts: 0,
            aimed_inside: 0,
            liquidatable_in_range: 0,
            liquidatable_at_start: 0,
            max_leverage: 0,
        };
        for account in book.accounts() {
            for (index, p) in account.positions.iter().enumerate() {
                if p.instrument != id || p.size == 0 {
                    continue;
                }
                check.accounts += 1;
                let collateral = match account.mode {
                    MarginMode::Isolated => p.isolated_margin,
                    MarginMode::Cross => account.wallet,
                };
                if collateral > 0 {
                    check.max_leverage = check.max_leverage.max(p.entry_notional.abs() / collateral);
                }
                let Some(t) = position_trigger(book.instruments(), book.marks(), account, index) else {
                    continue;
                };
                if t.crossed(lo) || t.crossed(hi) {
                    check.liquidatable_in_range += 1;
                }
                if t.crossed(first) {
                    check.liquidatable_at_start += 1;
                }
            }
        }
        checks.push(check);
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use gavel_feeds::crash_market::{write_crash_captures, CrashSpec, Dialect};

    const FILES: [&str; 4] = ["scenario.toml", "instruments.toml", "accounts.csv", "positions.csv"];

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gavel-genacc-test-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn args(captures: Vec<PathBuf>, out: PathBuf, seed: u64, accounts: usize) -> AccountsArgs {
        AccountsArgs {
            captures,
            snapshot: Vec::new(),
            venue_info: None,
            venue: None,
            out,
            seed,
            accounts,
            target_liquidated_pct: 20.0,
            long_pct: 50,
        }
    }

    /// Loads a written folder back the way `compare` will, and checks it with the risk engine.
    fn load_and_verify(out: &Path, ranges: &[PriceRange]) -> (Scenario, Vec<SymbolCheck>) {
        let scenario = Scenario::load(out).unwrap();
        let checks = verify_book(&scenario.instruments, &scenario.accounts, &scenario.positions, ranges).unwrap();
        // Every position respects its bracket's leverage cap.
        let instruments = InstrumentSet::load(&scenario.instruments).unwrap();
        let mut book = RiskBook::new(instruments);
        loader::load_accounts(&mut book, &loader::read_file(&scenario.accounts).unwrap(), "a").unwrap();
        loader::load_positions(&mut book, &loader::read_file(&scenario.positions).unwrap(), "p").unwrap();
        for account in book.accounts() {
            let p = &account.positions[0];
            let ins = book.instruments().get(p.instrument);
            let collateral = if account.mode == MarginMode::Isolated {
                p.isolated_margin
            } else {
                account.wallet
            };
            let cap = i128::from(ins.bracket_for(p.entry_notional.abs()).max_leverage);
            assert!(
                p.entry_notional.abs() <= collateral * cap + collateral,
                "{account:?} over {cap}x"
            );
        }
        (scenario, checks)
    }

    #[test]
    fn crash_capture_book_hits_the_target_and_is_deterministic() {
        let dir = temp_dir("crash");
        let market = CrashSpec {
            duration_s: 60,
            ..CrashSpec::default()
        };
        let captures = write_crash_captures(&market, &dir, &[Dialect::BinanceUsdm, Dialect::BybitV5]).unwrap();
        let (ranges, checks) = write_accounts_scenario(&args(captures.clone(), dir.join("a"), 7, 400)).unwrap();
        assert_eq!(ranges.len(), 1);
        let r = &ranges[0];
        assert_eq!(
            (r.symbol.as_str(), r.tick_size.as_str(), r.lot_size.as_str()),
            ("BTCUSDT", "0.1", "0.001")
        );
        assert_eq!(r.venues, ["binance-usdm", "bybit"]);
        // The crash falls by 15 %: the observed low is well below the start.
        assert!(r.min_mid < r.first_mid * 90 / 100 && r.max_mid >= r.first_mid, "{r:?}");

        let (scenario, loaded) = load_and_verify(&dir.join("a"), &ranges);
        assert_eq!(
            loaded.iter().map(|c| c.liquidatable_in_range).collect::<Vec<_>>(),
            checks.iter().map(|c| c.liquidatable_in_range).collect::<Vec<_>>()
        );
        let expected: Vec<PathBuf> = captures.iter().map(|c| std::fs::canonicalize(c).unwrap()).collect();
        assert_eq!(scenario.captures, expected, "absolute capture paths load as they are");
        let c = &loaded[0];
        assert_eq!(c.accounts, 400);
        assert!(
            (50..=110).contains(&c.liquidatable_in_range),
            "{c:?}: target 20 % of 400"
        );
        // Every account aimed inside is crossed, and none aimed outside.
        assert_eq!(c.liquidatable_in_range, checks[0].aimed_inside, "{c:?}");
        assert_eq!(c.liquidatable_at_start, 0);

        // Same seed: byte-identical files; another seed: a different book.
        write_accounts_scenario(&args(captures.clone(), dir.join("b"), 7, 400)).unwrap();
        write_accounts_scenario(&args(captures, dir.join("c"), 8, 400)).unwrap();
        for f in FILES {
            let a = std::fs::read(dir.join("a").join(f)).unwrap();
            assert_eq!(a, std::fs::read(dir.join("b").join(f)).unwrap(), "{f}");
        }
        let positions = |d: &str| std::fs::read(dir.join(d).join("positions.csv")).unwrap();
        assert_ne!(positions("a"), positions("c"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn target_zero_and_hundred_are_honoured() {
        let dir = temp_dir("extremes");
        let market = CrashSpec {
            duration_s: 30,
            ..CrashSpec::default()
        };
        let captures = write_crash_captures(&market, &dir, &[Dialect::BinanceUsdm]).unwrap();
        for (pct, want) in [(0.0, 0), (100.0, 120)] {
            let mut a = args(captures.clone(), dir.join(format!("p{pct}")), 3, 120);
            a.target_liquidated_pct = pct;
            let (_, checks) = write_accounts_scenario(&a).unwrap();
            assert_eq!(checks[0].liquidatable_in_range, want, "{pct} %: {checks:?}");
        }
        let mut bad = args(captures, dir.join("bad"), 3, 10);
        bad.target_liquidated_pct = 120.0;
        assert!(write_accounts_scenario(&bad)
            .unwrap_err()
            .to_string()
            .contains("--target-liquidated-pct"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_flat_symbol_hands_its_share_to_the_others() {
        let range = |symbol: &str, first, min, max| PriceRange {
            symbol: symbol.into(),
            venues: vec!["bybit".into()],
            tick_size: "0.01".into(),
            lot_size: "0.001".into(),
            first_ns: 0,
            first_mid: first,
            min_mid: min,
            max_mid: max,
            updates: 10,
        };
        let ranges = [
            range("FLATUSDT", 100_000, 100_000, 100_001),
            range("MOVEUSDT", 100_000, 99_800, 100_300),
        ];
        let instruments = InstrumentSet::parse(&instruments_toml(&ranges), "t").unwrap();
        let plan = plan_accounts(&ranges, &instruments, &args(Vec::new(), PathBuf::new(), 5, 2000)).unwrap();
        let inside = |s: &str| plan.iter().filter(|a| a.symbol == s && a.aimed_inside).count();
        assert_eq!(inside("FLATUSDT"), 0);
        // 20 % of 2000 = 400, all on the moving symbol (40 % of its 1000 accounts).
        assert!((340..=460).contains(&inside("MOVEUSDT")), "{}", inside("MOVEUSDT"));
        for a in &plan {
            let r = if a.symbol == "FLATUSDT" { &ranges[0] } else { &ranges[1] };
            let crossed = if a.size_lots > 0 {
                r.min_mid < a.target_liq_ticks
            } else {
                r.max_mid > a.target_liq_ticks
            };
            assert_eq!(crossed, a.aimed_inside, "{a:?}");
        }
    }

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

    #[test]
    #[ignore = "real data (GAVEL_DATA)"]
    fn cryptofeed_binance_futures_book() {
        use gavel_feeds::data_dir::require_data_file;
        let ws = require_data_file("cryptofeed/BINANCE_FUTURES.ws.1.0");
        let snapshots = require_data_file("cryptofeed/BINANCE_FUTURES.http.0.0");
        let info = require_data_file("cryptofeed/BINANCE_FUTURES.0");
        let dir = temp_dir("real");
        let mut a = args(vec![ws], dir.join("a"), 1, 900);
        a.snapshot = vec![snapshots];
        a.venue_info = Some(info);
        let (ranges, checks) = write_accounts_scenario(&a).unwrap();
        // CTKUSDT has no snapshot in the recording, so its book never syncs.
        let symbols: Vec<&str> = ranges.iter().map(|r| r.symbol.as_str()).collect();
        assert_eq!(symbols, ["AKROUSDT", "KEEPUSDT", "SUSHIUSDT"]);
        let sushi = &ranges[2];
        // exchangeInfo grids, and the 30 s path stays within a fraction of a percent.
        assert_eq!((sushi.tick_size.as_str(), sushi.lot_size.as_str()), ("0.001", "1"));
        assert!(
            sushi.min_mid < sushi.max_mid && sushi.max_mid - sushi.min_mid < sushi.first_mid / 100,
            "{sushi:?}"
        );
        let (scenario, loaded) = load_and_verify(&dir.join("a"), &ranges);
        assert_eq!(scenario.snapshots.len(), 1);
        assert!(scenario.venue_info.is_some());
        // What the command reported equals what the written files verify to.
        let reported: Vec<(&str, usize)> = checks.iter().map(|c| (c.symbol.as_str(), c.liquidatable_in_range)).collect();
        let verified: Vec<(&str, usize)> = loaded.iter().map(|c| (c.symbol.as_str(), c.liquidatable_in_range)).collect();
        assert_eq!(reported, verified);
        for c in &loaded {
            assert_eq!(c.accounts, 300);
            // 20 % of 300 = 60; binomial spread ±7.
            assert!((35..=85).contains(&c.liquidatable_in_range), "{c:?}");
            assert_eq!(c.liquidatable_at_start, 0, "{c:?}");
            assert!(c.max_leverage <= 50, "{c:?}");
        }
        assert!(loaded.iter().any(|c| c.liquidatable_in_range > 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
