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
    /// Print a Dutch-auction price curve (`t,price` lines).
    Curve(cmd::curve::Args),
    /// Run one liquidation lot end to end on a synthetic market (vs the naive route).
    Liquidate(cmd::liquidate::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cmd::demo::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Curve(args) => cmd::curve::run(args),
        Command::Liquidate(args) => cmd::liquidate::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gavel: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
