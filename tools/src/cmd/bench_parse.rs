//! `gavel bench parse`: venue parser throughput against serde_json and sonic-rs.

/// Arguments of `gavel bench parse`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Interleaved rounds per contender (median reported).
    #[arg(long, default_value_t = 7)]
    pub rounds: usize,
}

/// Runs the parse benchmark.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.rounds >= 1, "--rounds must be at least 1");
    let figures = gavel_bench::parse::run(args.rounds).map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "{:<15} {:>9} {:>10} {:>10} {:>10} {:>8} {:>8} {:>12}",
        "venue",
        "msgs",
        "gavel MB/s",
        "serde MB/s",
        "sonic MB/s",
        "×serde",
        "×sonic",
        "gavel msg/s"
    );
    for (venue, f) in &figures {
        println!(
            "{:<15} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>8.2} {:>8.2} {:>12.0}",
            venue,
            f.messages,
            f.gavel_mb_s,
            f.serde_json_mb_s,
            f.sonic_rs_mb_s,
            f.gavel_mb_s / f.serde_json_mb_s,
            f.gavel_mb_s / f.sonic_rs_mb_s,
            f.gavel_msgs_s
        );
    }
    println!(
        "(median of {} interleaved rounds per side; outputs verified identical before timing)",
        args.rounds
    );
    Ok(())
}
