//! `gavel recover --data-dir D`: rebuild the engine of a `gavel serve` data
//! dir from its recorded origin and input journal, as a restart would (read
//! only: a torn tail is reported, not cut), and print what it holds.
//! It starts from the newest usable snapshot and replays the journal after it;
//! `gavel journal verify` replays the whole journal from the first record, and
//! the two must agree.

use std::path::{Path, PathBuf};

use gavel_engine::engine::Engine;

use crate::serve::recovery::{self, Origin, Replay, Start};

/// Arguments of `gavel recover`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The data dir of `gavel serve`.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Print one JSON object: state_hash, last_sequence, orders, resting_orders, records, ledger_imbalance.
    #[arg(long)]
    pub json: bool,
    /// Print every order id the engine acknowledged over the journal's history
    /// (account << 32 | client order id, as `gavel load --acks` writes), one a line.
    /// The history is the whole journal, so this replays it from the first record.
    #[arg(long, conflicts_with = "json")]
    pub list_orders: bool,
}

/// The engine of `data_dir` rebuilt from its origin and journal (from `start`); refuses when
/// the files that built it changed since.
pub fn rebuild(data_dir: &Path, start: Start, ids: Option<&mut Vec<u64>>) -> anyhow::Result<(Engine, Replay)> {
    let origin = recovery::read_origin(data_dir)?.ok_or_else(|| anyhow::anyhow!("{}: no journal origin (journal/origin.json): not a gavel serve data dir, or serve never started there", data_dir.display()))?;
    let mut engine = engine_for_origin(data_dir, &origin)?;
    let replay = recovery::replay(&mut engine, data_dir, start, false, 0, ids)?;
    Ok((engine, replay))
}

/// The initial engine `origin` describes, built again; refused when the files it was built
/// from changed since.
pub fn engine_for_origin(data_dir: &Path, origin: &Origin) -> anyhow::Result<Engine> {
    let (engine, now) = match origin {
        Origin::Demo { policy, mirror, .. } => crate::cmd::serve::demo_engine(policy, mirror.as_deref())?,
        Origin::Config { config, policy, .. } => crate::cmd::serve::config_engine(config.clone(), policy.clone())?,
    };
    anyhow::ensure!(now == *origin, "{}: the inputs that built this journal's engine changed: recorded {origin:?}, now {now:?}; refusing to recover onto another venue", data_dir.display());
    Ok(engine)
}

/// The JSON summary of a rebuilt engine.
pub fn summary(engine: &Engine, replay: &Replay) -> serde_json::Value {
    let source = match &replay.snapshot {
        Some((sequence, path)) => format!("snapshot after sequence {sequence} ({}) + {} journal records", path.display(), replay.applied),
        None => format!("journal from sequence 1 ({} records)", replay.applied),
    };
    serde_json::json!({
        "state_hash": format!("{:016x}", engine.state_hash()),
        "last_sequence": replay.scan.last_sequence,
        "orders": engine.metrics().orders_accepted,
        "resting_orders": engine.resting_orders(),
        "records": replay.scan.records,
        "applied": replay.applied,
        "snapshot_sequence": replay.snapshot.as_ref().map(|s| s.0),
        "segments": replay.scan.segments,
        "torn_tail": replay.scan.torn.is_some(),
        "unused_tail_bytes": replay.scan.unused.as_ref().map_or(0, |u| u.bytes),
        "ledger_imbalance": engine.ledger().check_conservation().to_string(),
        "replay_ms": replay.elapsed.as_secs_f64() * 1e3,
        "source": source,
    })
}

/// Runs `gavel recover`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut ids = Vec::new();
    let start = if args.list_orders { Start::FirstRecord } else { Start::Snapshot };
    let (engine, replay) = rebuild(&args.data_dir, start, args.list_orders.then_some(&mut ids))?;
    if args.list_orders {
        let mut out = String::with_capacity(ids.len() * 12);
        for id in ids {
            out.push_str(&id.to_string());
            out.push('\n');
        }
        print!("{out}");
    } else if args.json {
        println!("{}", summary(&engine, &replay));
    } else {
        let imbalance = engine.ledger().check_conservation();
        println!(
            "gavel recover: {} journal records in {} segments checked, {} applied in {:.3} s ({})\n  last sequence {}, state hash {:016x}\n  {} orders acknowledged over the history, {} resting now\n  ledger: {}",
            replay.scan.records,
            replay.scan.segments,
            replay.applied,
            replay.elapsed.as_secs_f64(),
            match &replay.snapshot {
                Some((sequence, path)) => format!("from the snapshot after sequence {sequence}, {}", path.display()),
                None => "no snapshot: from the first record".to_string(),
            },
            replay.scan.last_sequence,
            engine.state_hash(),
            engine.metrics().orders_accepted,
            engine.resting_orders(),
            if imbalance == 0 { "balances to the unit".to_string() } else { format!("OUT OF BALANCE by {imbalance} units") }
        );
    }
    anyhow::ensure!(engine.ledger().check_conservation() == 0, "the recovered ledger does not balance");
    Ok(())
}
