//! `gavel bench trigger`: the liquidation trigger index against a full scan.

/// Arguments of `gavel bench trigger`.
#[derive(clap::Args, Debug)]
pub struct TriggerArgs {
    /// Print JSON: {"gavel": {...}, "scan": {...}} for k = 0 (plus the realistic-k run).
    #[arg(long)]
    pub json: bool,
    /// Interleaved rounds per side (at least 5).
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Accounts in the book.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: usize,
    /// Every N-th account also holds ETHUSDT (multi-position cross); 0 = none.
    #[arg(long, default_value_t = 0)]
    pub multi_every: usize,
}

/// Runs `gavel bench trigger`.
pub fn run(args: TriggerArgs) -> anyhow::Result<()> {
    use gavel_bench::trigger::{run, TriggerBenchConfig};
    anyhow::ensure!(args.rounds >= 5, "--rounds must be at least 5");
    let cfg = TriggerBenchConfig {
        accounts: args.accounts,
        rounds: args.rounds,
        multi_every: args.multi_every,
        ..TriggerBenchConfig::default()
    };
    let r = run(cfg);
    if args.json {
        let v = serde_json::json!({
            "gavel": r.k0.gavel,
            "scan": r.k0.scan,
            "realistic_k": r.realistic_k,
            "accounts": r.accounts,
            "rounds": r.rounds,
            "agreement_checked": r.agreement_checked,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "gavel bench trigger: {} accounts, {} interleaved rounds per side, medians (ns per mark update)",
        r.accounts, r.rounds
    );
    for (label, s) in [("k = 0", r.k0), ("realistic k", r.realistic_k)] {
        println!("{label} (mean k {:.1}):", s.k_mean);
        for (side, l) in [("gavel", s.gavel), ("scan", s.scan)] {
            println!(
                "  {side:<6} p50 {:>10}  p99 {:>10}  p99.9 {:>10}  max {:>10}  samples {}",
                l.p50_ns, l.p99_ns, l.p999_ns, l.max_ns, l.samples
            );
        }
        println!(
            "  speed-up: p50 {:.0}×, p99 {:.0}×",
            s.scan.p50_ns as f64 / s.gavel.p50_ns.max(1) as f64,
            s.scan.p99_ns as f64 / s.gavel.p99_ns.max(1) as f64
        );
    }
    println!("index and scan agreed on {} crossed accounts (first updates of the fall)", r.agreement_checked);
    Ok(())
}
