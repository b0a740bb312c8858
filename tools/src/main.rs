//! The `gavel` command-line program: one binary, a subcommand per job.

use clap::{Parser, Subcommand};

mod cmd;

/// gavel: a low-latency matching and liquidation-auction engine.
#[derive(Parser, Debug)]
#[command(name = "gavel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the built-in demo scenario and print its results.
    Demo(cmd::demo::Args),
    /// Run a benchmark against its strongest peer.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCommand),
    /// Record a venue's live market data (WebSocket + REST snapshots) into a capture file.
    Capture(cmd::capture::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Capture(args) => cmd::capture::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gavel: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
