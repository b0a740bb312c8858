//! `gavel replay`: replays recorded venue captures.
//!
//! Default mode: the replay pipeline under one liquidation policy (feed
//! threads → shared-memory rings → pinned engine), with `--journal`, `--json`,
//! `--report`, and pacing at the recorded speed × `--speed` (or `--max`).
//!
//! Mode `--dump-top`: mirror one instrument's venue book (snapshot + diffs,
//! the venue's own sync rules) and print its top of book after every applied
//! update as CSV: `recv_ns,venue_seq,bid_px,bid_qty,ask_px,ask_qty`. A summary
//! (records, parse errors by kind, sync counters, ticker cross-checks) goes to
//! stderr.

use anyhow::{bail, Context};
use gavel_feeds::replay::{captures_mention_url, resolve_spec, venue_by_name, write_top_row, TopReplay};
use gavel_feeds::tardis_replay::{is_tardis_book_csv, tardis_book_spec, TardisTopReplay};
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
    /// Venue metadata (Binance exchangeInfo or Bybit v2 symbols JSON, raw or as a cryptofeed REST line) for tick and lot sizes.
    #[arg(long)]
    pub venue_info: Option<PathBuf>,
    /// Only records whose connection/request URL contains this text (default for bybit v5 captures: `/linear`).
    #[arg(long)]
    pub url_filter: Option<String>,
    /// Capture files (gavel capture, hftbacktest, cryptofeed, cryptofeed v3, or tardis.dev incremental_book_L2 CSV; .gz ok).
    pub captures: Vec<PathBuf>,
    /// Policy mode inputs: scenario, files, fund, feedback, core.
    #[command(flatten)]
    pub input: crate::pipeline::InputArgs,
    /// Liquidation policy: built-in name or policy TOML file (policy mode).
    #[arg(long, default_value = "adaptive")]
    pub policy: String,
    /// Write the journal here (policy mode): binary engine output records, read with `gavel journal dump`.
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Write the outcome as JSON here (policy mode).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the HTML report here (policy mode).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Pace the replay at the recorded speed × X (policy mode; 0 < X ≤ 10^6).
    #[arg(long, conflicts_with = "max", value_parser = crate::limits::speed)]
    pub speed: Option<f64>,
    /// Replay as fast as possible (policy mode; the default).
    #[arg(long)]
    pub max: bool,
}

/// Runs the replay.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.dump_top {
        return run_policy_mode(args);
    }
    if args.captures.is_empty() {
        bail!("--dump-top needs at least one capture file");
    }
    let venue_name = args.venue.as_deref().context("--dump-top needs --venue")?;
    let venue = venue_by_name(venue_name).with_context(|| {
        format!("unknown venue {venue_name:?} (binance-usdm, binance-coinm, binance-spot, bybit, okx, coinbase)")
    })?;
    let symbol = args
        .symbol
        .as_deref()
        .context("--dump-top needs --symbol")?;
    if args.captures.iter().all(|p| is_tardis_book_csv(p)) {
        return dump_top_tardis(venue, symbol, args.captures);
    }
    let mut sources = args.snapshot.clone();
    sources.extend(args.captures.iter().cloned());
    // Bybit v5 captures hold linear and spot connections; default to linear
    // (v2 captures have a single `realtime_public` connection: no filter).
    let url_filter = args.url_filter.clone().or_else(|| {
        (venue_name == "bybit" && captures_mention_url(&args.captures, "/linear"))
            .then(|| "/linear".to_string())
    });
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
    print_summary(&report);
    Ok(())
}

/// `--dump-top` over tardis.dev `incremental_book_L2` CSV files (plain or gzip).
fn dump_top_tardis(venue: gavel_feeds::Venue, symbol: &str, files: Vec<PathBuf>) -> anyhow::Result<()> {
    let spec = tardis_book_spec(&files[0], symbol, 1).map_err(anyhow::Error::msg)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    writeln!(out, "recv_ns,venue_seq,bid_px,bid_qty,ask_px,ask_qty")?;
    let mut line = String::with_capacity(128);
    let mut write_error = None;
    let replay = TardisTopReplay { venue, spec: spec.clone(), files };
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
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other.context("writing CSV")?,
    }
    print_summary(&report);
    Ok(())
}

/// The `--dump-top` summary on stderr.
fn print_summary(report: &gavel_feeds::replay::ReplayReport) {

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
}

/// The policy mode: one policy through the whole pipeline.
fn run_policy_mode(args: Args) -> anyhow::Result<()> {
    use crate::cmd::compare::{table, to_json, write_report};
    use crate::pipeline::{run_policy, Progress};
    use std::io::IsTerminal;

    let (name, mut inputs) = args.input.resolve(&args.captures)?;
    inputs.speed = if args.max { None } else { args.speed };
    let policy = crate::policy_file::resolve_policy(&args.policy)?;
    let clock = gavel_feeds::clock::Clock::calibrate(std::time::Duration::from_millis(20));
    let span = capture_span(&inputs.captures)?;
    let progress = std::sync::Arc::new(Progress::new(inputs.captures.len()));
    inputs.progress = Some(progress.clone());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bar = (std::io::stderr().is_terminal() && span.1 > span.0).then(|| {
        let bar = indicatif::ProgressBar::new(((span.1 - span.0) / 1_000_000) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} ms of event time")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let (bar2, done2, progress2) = (bar.clone(), done.clone(), progress.clone());
        let ticker = std::thread::spawn(move || {
            while !done2.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(t) = progress2.reached_ns() {
                    bar2.set_position(((t - span.0).max(0) / 1_000_000) as u64);
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        (bar, ticker)
    });
    let result = run_policy(&inputs, &policy, clock, args.journal.as_deref());
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some((bar, ticker)) = bar {
        let _ = ticker.join();
        bar.finish_and_clear();
    }
    let run = result?;
    for line in crate::feed_warnings::feed_warnings(&inputs, &run) {
        eprintln!("{line}");
    }
    let runs = vec![run];
    print!("{}", table(&runs));
    if let Some(path) = &args.journal {
        println!("wrote {} ({} records)", path.display(), runs[0].journal_records);
    }
    if let Some(path) = &args.json {
        gavel_feeds::atomic_file::write_atomic(path, serde_json::to_string_pretty(&to_json(&name, &inputs, &runs))?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if let Some(path) = &args.report {
        write_report(path, &name, &runs, Vec::new())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// First and last receive time over gavel captures (for the progress bar).
fn capture_span(captures: &[PathBuf]) -> anyhow::Result<(i64, i64)> {
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    for path in captures {
        let file = gavel_feeds::capture::CaptureFile::open(path)?;
        for record in file.records() {
            let t = record?.receive_ns;
            first = first.min(t);
            last = last.max(t);
        }
    }
    Ok((first, last))
}
