//! Per-operation-kind latency of gavel's book (kind 0 add, 1 cancel, 2 modify,
//! 3 take) on the LOBSTER workload, or the synthetic one with `syn`; two passes.
//! `cargo run --profile bench-fast -p gavel-bench --example breakdown [syn] [dense-ids]`
use gavel_bench::book::*;
use gavel_feeds::clock::Clock;
fn main() {
    let d = gavel_feeds::data_dir::data_dir().join("lobster");
    let w = if std::env::args().any(|a| a == "syn") {
        synthetic_workload(1_000_000, 0xb00c)
    } else {
        lobster_workload(
            &d.join("AMZN_2012-06-21_34200000_57600000_message_5.csv.gz"),
            &d.join("AMZN_2012-06-21_34200000_57600000_orderbook_5.csv.gz"),
            5,
        )
        .unwrap()
    };
    let mut w = w;
    if std::env::args().any(|a| a == "dense-ids") {
        // Renumber ids consecutively, to separate id-table locality from the rest.
        let mut map = std::collections::HashMap::new();
        let mut renumber = |id: &mut u64| {
            let n = map.len() as u64 + 1;
            *id = *map.entry(*id).or_insert(n);
        };
        for s in &mut w.seed {
            renumber(&mut s.0);
        }
        for op in &mut w.ops {
            match op {
                Op::Add { id, .. }
                | Op::Cancel { id }
                | Op::Modify { id, .. }
                | Op::Take { id, .. } => renumber(id),
            }
        }
    }
    let clock = Clock::calibrate(std::time::Duration::from_millis(100));
    for _ in 0..2 {
        let mut g = GavelBook::new();
        g.reset(&w.seed);
        let mut hs: Vec<_> = (0..4)
            .map(|_| gavel_bench::stats::new_histogram())
            .collect();
        for op in &w.ops {
            let k = match op {
                Op::Add { .. } => 0,
                Op::Cancel { .. } => 1,
                Op::Modify { .. } => 2,
                Op::Take { .. } => 3,
            };
            let t0 = clock.now_ticks();
            std::hint::black_box(g.apply(std::hint::black_box(op)));
            let t1 = clock.now_ticks();
            let _ = hs[k].record(clock.ticks_to_ns(t1 - t0).max(1));
        }
        println!(
            "levels bid={} ask={} orders={}",
            g.book().level_count(gavel_feeds::Side::Bid),
            g.book().level_count(gavel_feeds::Side::Ask),
            g.book().len()
        );
        for (k, h) in hs.iter().enumerate() {
            println!(
                "kind {k}: n={} p50={} p90={} p99={} p999={}",
                h.len(),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.9),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999)
            );
        }
    }
}
