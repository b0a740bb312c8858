//! The `gavel` command-line program: one binary, a subcommand per job.

// `compare`'s outcome JSON is one `json!` literal with every metric; the default limit (128)
// is too low for it.
#![recursion_limit = "256"]

use clap::{Parser, Subcommand};

mod cmd;
mod feed_warnings;
mod fit_stats;
mod limits;
mod pipeline;
mod policy_file;
mod recording_capture;
mod report;
mod serve;
mod study_report;
mod study_stats;
mod venue_access;

/// gavel: a low-latency matching and liquidation-auction engine.
#[derive(Parser, Debug)]
#[command(name = "gavel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the built-in demo: a generated crash replayed under every built-in policy, with the HTML report.
    Demo(cmd::demo::Args),
    /// Stream a generated market through a shared-memory ring into the pinned engine; print loop latency.
    Stream(cmd::stream::Args),
    /// Run a benchmark against its strongest peer.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Replay one scenario under several liquidation policies and compare their losses.
    Compare(cmd::compare::Args),
    /// Many generated crashes × policies: means, 95 % intervals, paired differences (`study merge` joins shards).
    Study(cmd::study::Args),
    /// Generate synthetic scenarios.
    #[command(subcommand)]
    Gen(cmd::gen::GenCommand),
    /// Fit the crash generator's market parameters on real captures (`--out params.toml` for `gen crash --params`).
    Calibrate(cmd::calibrate::Args),
    /// Move events between processes through the shared-memory ring and verify them.
    #[command(subcommand)]
    Ring(cmd::ring::RingCommand),
    /// Replay a LOBSTER message file through gavel's book, writing LOBSTER order-book rows.
    Lobster(cmd::lobster::Args),
    /// Print a Dutch-auction price curve (`t,price` lines).
    Curve(cmd::curve::Args),
    /// Margin report: equity, maintenance, health, liquidation and bankruptcy prices.
    Risk(cmd::risk::Args),
    /// Options: Greeks vs a venue recording, portfolio stress margin, close-or-hedge on a crash.
    #[command(subcommand)]
    Options(cmd::options::OptionsCommand),
    /// Multi-asset collateral: index prices, the correlation-one stress, a one-venue depeg.
    #[command(subcommand)]
    Collateral(cmd::collateral::CollateralCommand),
    /// Replay recorded venue captures (e.g. `--dump-top`: mirrored venue top of book as CSV).
    Replay(cmd::replay::Args),
    /// Record a venue's live market data (WebSocket + REST snapshots) into a capture file.
    Capture(cmd::capture::Args),
    /// Run one liquidation lot end to end on a synthetic market (vs the naive route).
    Liquidate(cmd::liquidate::Args),
    /// Search liquidation-policy parameters over scenarios; report the best on a held-out scenario.
    Tune(cmd::tune::Args),
    /// Run the engine as a live venue: clients and liquidators connect over TCP (binary protocol).
    Serve(cmd::serve::Args),
    /// Measure a running venue: open-loop order flow from many clients, order→ack round trip vs a bare echo.
    Load(cmd::load::Args),
    /// Read the engine's binary journal.
    #[command(subcommand)]
    Journal(cmd::journal::JournalCommand),
    /// Rebuild a `gavel serve` data dir's engine from its journal; print its state hash or acknowledged orders.
    Recover(cmd::recover::Args),
}

fn main() -> std::process::ExitCode {
    // Output piped into a reader that stops early (`| head`) ends gavel quietly,
    // as it does other Unix tools, instead of a panic on a failed print.
    // SAFETY: called first thing in main, before any other thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    install_sigbus_message();
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Demo(_) | Command::Serve(_) | Command::Stream(_) | Command::Compare(_) | Command::Study(_) | Command::Replay(_) | Command::Tune(_) | Command::Ring(_)
    ) {
        reclaim_stale_rings();
    }
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Load(args) => cmd::load::run(args),
        Command::Stream(args) => cmd::stream::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Gen(args) => cmd::gen::run(args),
        Command::Calibrate(args) => cmd::calibrate::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Study(args) => cmd::study::run(args),
        Command::Ring(args) => cmd::ring::run(args),
        Command::Lobster(args) => cmd::lobster::run(args),
        Command::Curve(args) => cmd::curve::run(args),
        Command::Risk(args) => cmd::risk::run(args),
        Command::Options(args) => cmd::options::run(args),
        Command::Collateral(args) => cmd::collateral::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Capture(args) => cmd::capture::run(args),
        Command::Liquidate(args) => cmd::liquidate::run(args),
        Command::Tune(args) => cmd::tune::run(args),
        Command::Journal(args) => cmd::journal::run(args),
        Command::Recover(args) => cmd::recover::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gavel: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// On SIGBUS (in gavel: a shared-memory ring file truncated under the
/// process, or a full `/dev/shm`), say so on stderr before dying of it.
extern "C" fn on_sigbus(signal: libc::c_int) {
    const MESSAGE: &[u8] = b"gavel: fatal: SIGBUS: a mapped file was truncated under this process \
(a shared-memory ring file truncated or /dev/shm full; see docs/RING.md)\n";
    // SAFETY: write(2), signal(2) and raise(3) are async-signal-safe; the
    // message is a static buffer. The default action then ends the process
    // with SIGBUS as before.
    unsafe {
        libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}

/// Removes ring files left in the ring folder by killed gavel runs (their
/// producer is dead and holds no lock); see docs/RING.md.
fn reclaim_stale_rings() {
    let dir = gavel_feeds::ring::default_ring_dir();
    match gavel_feeds::ring::reclaim_stale(&dir, "gavel-") {
        Ok(removed) if !removed.is_empty() => {
            eprintln!("gavel: removed {} stale ring file(s) left in {} by killed runs", removed.len(), dir.display())
        }
        Ok(_) => {}
        Err(e) => eprintln!("gavel: warning: cannot scan {} for stale ring files: {e}", dir.display()),
    }
}

fn install_sigbus_message() {
    // SAFETY: the handler only makes async-signal-safe calls (see on_sigbus);
    // called before any other thread exists.
    unsafe {
        libc::signal(libc::SIGBUS, on_sigbus as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Clap's own consistency checks over every subcommand (unique ids, valid defaults…).
    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
