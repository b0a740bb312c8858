//! `gavel bench trigger`: the liquidation trigger index against a full scan.

/// Arguments of `gavel bench trigger`.
#[derive(clap::Args, Debug)]
pub struct TriggerArgs {
    /// Print JSON: {"gavel": {...}, "scan": {...}} for k = 0 (plus the realistic-k run).
    #[arg(long)]
    pub json: bool,
    /// Interleaved rounds per side (5–1,000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(5..=1_000))]
    pub rounds: u16,
    /// Accounts in the book (1,000–10,000,000; default 1,000,000, or 100,000 with --portfolio).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1_000..=10_000_000))]
    pub accounts: Option<u32>,
    /// Every N-th account also holds ETHUSDT (multi-position cross); 0 = none.
    #[arg(long, default_value_t = 0)]
    pub multi_every: usize,
    /// Portfolio accounts over 5 instruments with offset groups, in a crash
    /// (`--accounts` defaults to 100,000 here): gavel's safe-band index against
    /// a recompute of every holder of the moved instrument.
    #[arg(long, conflicts_with = "multi_every")]
    pub portfolio: bool,
}

/// `gavel bench trigger --portfolio`.
fn run_portfolio(args: &TriggerArgs) -> anyhow::Result<()> {
    use gavel_bench::trigger_portfolio::{run, PortfolioBenchConfig};
    let mut cfg = PortfolioBenchConfig { rounds: usize::from(args.rounds), ..PortfolioBenchConfig::default() };
    if let Some(n) = args.accounts {
        cfg.accounts = n as usize;
    }
    let r = run(cfg);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "gavel bench trigger --portfolio: {} accounts ({} portfolio) x {} instruments, {} interleaved rounds per side, medians",
        r.accounts, r.portfolio_accounts, r.instruments, r.rounds
    );
    println!(
        "per update: mean {:.1} accounts affected, {:.1} crossed, {:.0} holders of the moved instrument",
        r.affected_mean, r.crossed_mean, r.holders_mean
    );
    for (side, l) in [("gavel", r.gavel), ("peer", r.peer), ("gavel/affected", r.per_affected)] {
        print_row(side, &l);
    }
    print_speedup(&r.gavel, &r.peer, " per update (peer = recompute every holder)");
    println!(
        "full recompute: gavel {:.2} ms (health + re-index of every account), peer {:.2} ms (health only)",
        r.full_recompute_ms, r.peer_full_scan_ms
    );
    println!("index and peer agreed on {} crossed accounts", r.agreement_checked);
    Ok(())
}

/// Runs `gavel bench trigger`.
pub fn run(args: TriggerArgs) -> anyhow::Result<()> {
    use gavel_bench::trigger::{run, TriggerBenchConfig};
    if args.portfolio {
        return run_portfolio(&args);
    }
    let cfg = TriggerBenchConfig {
        accounts: args.accounts.map_or(1_000_000, |n| n as usize),
        rounds: usize::from(args.rounds),
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
            print_row(side, &l);
        }
        print_speedup(&s.gavel, &s.scan, "");
    }
    println!("index and scan agreed on {} crossed accounts (first updates of the fall)", r.agreement_checked);
    Ok(())
}

/// One side's percentiles (ns), one line.
pub(crate) fn print_row(side: &str, l: &gavel_bench::stats::LatencySummary) {
    println!(
        "  {side:<15} p50 {:>10}  p99 {:>10}  p99.9 {:>10}  max {:>10}  samples {}",
        l.p50_ns, l.p99_ns, l.p999_ns, l.max_ns, l.samples
    );
}

/// How many times faster gavel is than `peer` at p50 and p99.
pub(crate) fn print_speedup(gavel: &gavel_bench::stats::LatencySummary, peer: &gavel_bench::stats::LatencySummary, note: &str) {
    println!(
        "  speed-up{note}: p50 {:.0}×, p99 {:.0}×",
        peer.p50_ns as f64 / gavel.p50_ns.max(1) as f64,
        peer.p99_ns as f64 / gavel.p99_ns.max(1) as f64
    );
}
