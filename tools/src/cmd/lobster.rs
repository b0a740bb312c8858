//! `gavel lobster MESSAGE_FILE --levels N [--resync-from ORDERBOOK_FILE] [--seed-from ORDERBOOK_FILE]`:
//! replays a LOBSTER message file through gavel's L3 book and writes, one row
//! per message, the book after that message in LOBSTER's order-book format.
//!
//! With an order-book file the book starts from its first row (row 1 is the
//! book after message 1, so message 1 is not applied again); without one the
//! book starts empty. With `--resync-from`, after writing row i gavel compares
//! it with reference row i and re-sets each differing side's top N levels
//! from the reference; stderr then reports `rows=… mismatched_rows=… resyncs=…`.
//! A bad row stops the replay with an error naming file, line and field.

use anyhow::{bail, Context};
use gavel_engine::book::lobster_replay::{self, ReferenceUse};
use gavel_feeds::lobster::{MessageReader, OrderbookReader};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `gavel lobster`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// LOBSTER message file (plain or .gz).
    pub message_file: PathBuf,
    /// Number of levels per side to write (and compare), 1 ..= 10,000.
    #[arg(long, default_value_t = 10, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub levels: usize,
    /// LOBSTER order-book file: seed from its first row, compare every row, resync differing sides.
    #[arg(long, conflicts_with = "seed_from")]
    pub resync_from: Option<PathBuf>,
    /// LOBSTER order-book file: seed from its first row only.
    #[arg(long)]
    pub seed_from: Option<PathBuf>,
    /// With --resync-from: print every mismatched side (row, cause, message, both sides) to stderr.
    #[arg(long)]
    pub report_mismatches: bool,
}

/// Runs the replay.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.levels == 0 {
        bail!("--levels must be at least 1");
    }
    let mut messages = MessageReader::open(&args.message_file)
        .with_context(|| format!("cannot open {}", args.message_file.display()))?;
    let (book_file, mode) = match (&args.resync_from, &args.seed_from) {
        (Some(p), _) => (Some(p), ReferenceUse::Resync),
        (None, Some(p)) => (Some(p), ReferenceUse::Seed),
        (None, None) => (None, ReferenceUse::Seed),
    };
    let mut reference = match book_file {
        Some(p) => Some(
            OrderbookReader::open(p, args.levels)
                .with_context(|| format!("cannot open {}", p.display()))?,
        ),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut line = Vec::with_capacity(1024);
    let report = args.report_mismatches;
    let result = lobster_replay::run(
        &mut messages,
        reference.as_mut().map(|r| (r, mode)),
        args.levels,
        |row| {
            line.clear();
            row.write_csv(&mut line);
            line.push(b'\n');
            out.write_all(&line)
        },
        |m| {
            if report {
                eprintln!(
                    "row={} side={:?} cause={:?} msg={:?}\n  ours={:?}\n  ref ={:?}",
                    m.row, m.side, m.cause, m.message, m.ours, m.reference
                );
            }
        },
    );
    let (stats, replay_stats) = match result {
        Ok(r) => r,
        // A closed pipe (`gavel lobster … | head`) ends the output quietly.
        Err(lobster_replay::ReplayError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(())
        }
        Err(e) => return Err(e.into()),
    };
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        r => r?,
    }
    if mode == ReferenceUse::Resync && book_file.is_some() {
        eprintln!(
            "rows={} mismatched_rows={} resyncs={} surfaced_from_depth={} order_changed_outside_window={} \
             unexplained={} upper_levels_differ={} unknown_orders={} shortfalls={}",
            stats.rows,
            stats.mismatched_rows,
            stats.resyncs,
            stats.surfaced_from_depth,
            stats.order_changed_outside_window,
            stats.unexplained,
            stats.rows_upper_levels_differ,
            replay_stats.unknown_orders,
            replay_stats.shortfalls
        );
    }
    Ok(())
}
