//! `gavel replay`: replays recorded venue captures.
//!
//! Mode `--dump-top`: mirror one instrument's venue book (snapshot + diffs,
//! the venue's own sync rules) and print its top of book after every applied
//! update as CSV: `recv_ns,venue_seq,bid_px,bid_qty,ask_px,ask_qty`. A summary
//! (records, parse errors by kind, sync counters, ticker cross-checks) goes to
//! stderr.

use anyhow::{bail, Context};
use gavel_feeds::replay::{resolve_spec, venue_by_name, write_top_row, TopReplay};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `gavel replay`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the mirrored venue top of book after every applied update (CSV on stdout).
    #[arg(long)]
    pub dump_top: bool,
    /// Venue: binance-usdm, binance-coinm, binance-spot, bybit, okx, coinbase.
    #[arg(long)]
    pub venue: Option<String>,
    /// Venue symbol, e.g. BTCUSDT.
    #[arg(long)]
    pub symbol: Option<String>,
    /// File(s) of REST depth snapshots in a recording format, merged in by receive time.
    #[arg(long)]
    pub snapshot: Vec<PathBuf>,
    /// Venue metadata (Binance exchangeInfo JSON, raw or as a cryptofeed REST line) for tick and lot sizes.
    #[arg(long)]
    pub venue_info: Option<PathBuf>,
    /// Only records whose connection/request URL contains this text (default for bybit: `/linear`).
    #[arg(long)]
    pub url_filter: Option<String>,
    /// Capture files (hftbacktest, cryptofeed or cryptofeed v3 format; .gz ok), replayed in order.
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
}

/// Runs the replay.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.dump_top {
        bail!("only the --dump-top mode of replay exists so far");
    }
    let venue_name = args.venue.as_deref().context("--dump-top needs --venue")?;
    let venue = venue_by_name(venue_name).with_context(|| {
        format!("unknown venue {venue_name:?} (binance-usdm, binance-coinm, binance-spot, bybit, okx, coinbase)")
    })?;
    let symbol = args
        .symbol
        .as_deref()
        .context("--dump-top needs --symbol")?;
    let mut sources = args.snapshot.clone();
    sources.extend(args.captures.iter().cloned());
    // Bybit captures hold linear and spot connections; default to linear.
    let url_filter = args
        .url_filter
        .clone()
        .or_else(|| (venue_name == "bybit").then(|| "/linear".to_string()));
    let spec = resolve_spec(
        symbol,
        1,
        args.venue_info.as_deref(),
        &sources,
        url_filter.as_deref(),
    )
    .map_err(anyhow::Error::msg)?;

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    writeln!(out, "recv_ns,venue_seq,bid_px,bid_qty,ask_px,ask_qty")?;
    let mut line = String::with_capacity(128);
    let mut write_error = None;
    let replay = TopReplay {
        venue,
        spec: spec.clone(),
        captures: args.captures,
        snapshots: args.snapshot,
        url_filter,
    };
    let report = replay.run(|receive_ns, seq, book| {
        if write_error.is_some() {
            return;
        }
        write_top_row(&spec, receive_ns, seq, book, &mut line);
        line.push('\n');
        if let Err(e) = out.write_all(line.as_bytes()) {
            write_error = Some(e);
        }
    })?;
    match write_error.map_or_else(|| out.flush(), Err) {
        // A closed pipe (`| head`) just ends the output.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.context("writing CSV")?,
    }

    eprintln!(
        "replay: {} records, {} bad lines, {} for other instruments",
        report.records, report.bad_lines, report.other_instrument
    );
    for (kind, n) in &report.parse_errors {
        eprintln!("replay: {n} messages refused: {kind}");
    }
    for e in &report.first_errors {
        eprintln!("replay:   {e}");
    }
    let s = report.sync;
    eprintln!(
        "replay: sync: {} snapshots, {} diffs applied, {} stale, {} duplicates, {} gaps, {} crossed",
        s.snapshots, s.applied, s.stale, s.duplicates, s.gaps, s.crossed
    );
    if s.checksums_verified + s.checksum_failures > 0 {
        eprintln!(
            "replay: venue checksums: {} verified, {} failed",
            s.checksums_verified, s.checksum_failures
        );
    }
    eprintln!(
        "replay: venue ticker at the same update id: {} checked, {} matched",
        report.ticker_checks, report.ticker_matches
    );
    for m in &report.first_mismatches {
        eprintln!("replay:   mismatch: {m}");
    }
    Ok(())
}
