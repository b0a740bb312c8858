//! `gavel bench jitter`: the machine's own noise floor on one core.

/// Arguments of `gavel bench jitter`.
#[derive(clap::Args, Debug)]
pub struct JitterArgs {
    /// Core to pin the spinning thread to (a core this machine has; the run fails unpinned).
    #[arg(long, default_value_t = 1)]
    pub core: usize,
    /// Seconds of spin per round and clock (0.05–60).
    #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
    pub seconds: f64,
    /// Interleaved rounds per clock (5–100).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(5..=100))]
    pub rounds: u16,
    /// A step between two clock reads this long or longer (ns) counts as an interruption (100–1,000,000).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub threshold_ns: u64,
    /// Print JSON: {"core":…,"tsc":{"interruptions_per_s":…,"lost_share":…,"gap":{…},"p99_floor_ns":…,"self_timed_clean_ns":…},"monotonic":{…}}.
    #[arg(long)]
    pub json: bool,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    let s: f64 = text.parse().map_err(|_| format!("not a number: {text:?}"))?;
    if !(0.05..=60.0).contains(&s) {
        return Err(format!("{s} is outside 0.05–60 seconds"));
    }
    Ok(s)
}

/// Runs `gavel bench jitter`.
pub fn run(args: JitterArgs) -> anyhow::Result<()> {
    use gavel_bench::jitter::{run, JitterConfig};
    let cfg = JitterConfig {
        core: args.core,
        spin: std::time::Duration::from_secs_f64(args.seconds),
        rounds: usize::from(args.rounds),
        threshold_ns: args.threshold_ns,
    };
    let r = run(&cfg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "gavel bench jitter: core {} (pinned), {} rounds of {:.2} s per clock, interruptions = steps of {} ns or more between clock reads; medians",
        r.core,
        r.rounds,
        r.seconds,
        r.threshold_ns
    );
    for (name, s) in [("tsc", &r.tsc), ("monotonic", &r.monotonic)] {
        println!(
            "  {name:<9} {:>8.0} interruptions/s, {:>6.3} % of the time lost; gap p50 {} ns p99 {} ns max {} ns; p99 floor {} ns, p99.9 floor {} ns; self-timed clean up to {} ns",
            s.interruptions_per_s,
            s.lost_share * 100.0,
            s.gap.p50_ns,
            s.gap.p99_ns,
            s.gap.max_ns,
            s.p99_floor_ns,
            s.p999_floor_ns,
            s.self_timed_clean_ns
        );
    }
    println!(
        "events that arrive on their own and are handled on this core: p99 >= {} ns, p99.9 >= {} ns, whatever the code does;",
        r.tsc.p99_floor_ns, r.tsc.p999_floor_ns
    );
    println!(
        "work timed back to back: samples longer than {} ns are interrupted more than once in 100 on each core they cross",
        r.tsc.self_timed_clean_ns
    );
    Ok(())
}
