//! `gavel bench e2e`: venue message bytes → parse → ring → engine → first liquidation order.

/// Arguments of `gavel bench e2e`.
#[derive(clap::Args, Debug)]
pub struct E2eArgs {
    /// Accounts in the book (1,000 to 10,000,000).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_000..=10_000_000))]
    pub accounts: u64,
    /// Print JSON: {"accounts":N,"total":{...},"stages":{...}}.
    #[arg(long)]
    pub json: bool,
    /// Core of the feed thread.
    #[arg(long, default_value_t = 0)]
    pub feed_core: usize,
    /// Core of the engine thread.
    #[arg(long, default_value_t = 1)]
    pub engine_core: usize,
}

/// Runs `gavel bench e2e`.
pub fn run(args: E2eArgs) -> anyhow::Result<()> {
    use gavel_bench::e2e::{run, E2eConfig};
    let cfg = E2eConfig { accounts: args.accounts as usize, feed_core: args.feed_core, engine_core: args.engine_core, ..E2eConfig::default() };
    let r = run(&cfg)?;
    let summary = |s: &gavel_bench::stats::LatencySummary| serde_json::json!({"p50_ns": s.p50_ns, "p99_ns": s.p99_ns, "p999_ns": s.p999_ns, "max_ns": s.max_ns, "samples": s.samples});
    if args.json {
        let stages: serde_json::Map<String, serde_json::Value> = r.stages.iter().map(|(n, s)| (n.clone(), summary(s))).collect();
        let v = serde_json::json!({
            "accounts": r.accounts,
            "near_liquidation": r.near,
            "messages": r.messages,
            "liquidation_orders": r.liquidation_orders,
            "liquidations": r.liquidations,
            "pinned": r.pinned,
            "total": summary(&r.total),
            "stages": stages,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "gavel bench e2e: {} accounts ({} within 5 % of liquidation), {} venue messages, {} liquidation orders measured ({} liquidations){}",
        r.accounts,
        r.near,
        r.messages,
        r.liquidation_orders,
        r.liquidations,
        if r.pinned { "" } else { "; threads NOT pinned" }
    );
    for (name, s) in r.stages.iter().map(|(n, s)| (n.as_str(), s)).chain(std::iter::once(("total", &r.total))) {
        println!("  {name:<7} p50 {:>8} ns  p99 {:>8} ns  p99.9 {:>8} ns  max {:>10} ns  samples {}", s.p50_ns, s.p99_ns, s.p999_ns, s.max_ns, s.samples);
    }
    Ok(())
}
