//! Recovery of `gavel serve`: what built the initial engine is recorded at the
//! first start (`<data dir>/journal/origin.json`); a later start (and
//! `gavel recover`, `gavel journal verify`) rebuilds that engine and replays
//! the input journal through it with outputs discarded. The engine is a pure
//! function of its inputs, so the result is the state the live engine had
//! after the last durable input.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gavel_engine::engine::{Engine, OutputSink};
use gavel_feeds::input_journal::{scan, scan_from, truncate_torn, ScanReport};
use gavel_feeds::input_journal_tail::JournalTail;
use gavel_feeds::wire::{report, Event, EventKind, ExecReport};
use serde::{Deserialize, Serialize};

/// What built the initial engine. API keys are not recorded (the demo's are
/// random per start and never decide engine state; a config's key *file* is
/// hashed because it names the liquidators).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Origin {
    /// `gavel serve --demo`: the demo venue is built by code.
    Demo {
        /// `--policy` as given (built-in, rule name or file).
        policy: String,
        /// FNV-1a 64 of the policy file, when `policy` names a file.
        policy_hash: Option<String>,
        /// The venue whose book the engine mirrors (the mark source's; absent: Binance USD-M).
        #[serde(default)]
        mirror: Option<String>,
    },
    /// `gavel serve --config FILE`.
    Config {
        /// The config file.
        config: PathBuf,
        /// `--policy` as given, if any.
        policy: Option<String>,
        /// Every file the engine was built from, with its FNV-1a 64.
        files: Vec<(PathBuf, String)>,
    },
}

/// FNV-1a 64 of a file, hex.
pub fn file_hash(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut h = gavel_engine::engine::StateHasher::default();
    h.bytes(&bytes);
    Ok(format!("{:016x}", h.finish()))
}

/// The policy file hash when `policy` names an existing file.
pub fn policy_hash(policy: &str) -> anyhow::Result<Option<String>> {
    let p = Path::new(policy);
    if p.is_file() { file_hash(p).map(Some) } else { Ok(None) }
}

/// Where the journal of a data dir lives.
pub fn journal_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("journal")
}

fn origin_path(data_dir: &Path) -> PathBuf {
    journal_dir(data_dir).join("origin.json")
}

/// The recorded origin, if any.
pub fn read_origin(data_dir: &Path) -> anyhow::Result<Option<Origin>> {
    let path = origin_path(data_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
    }
}

/// Records `origin` at the first start; on a later start refuses to go on
/// when what builds the engine changed (the journal would replay onto another venue).
pub fn check_or_write_origin(data_dir: &Path, origin: &Origin) -> anyhow::Result<bool> {
    match read_origin(data_dir)? {
        Some(old) if &old == origin => Ok(true),
        Some(old) => Err(anyhow::anyhow!(
            "{}: this data dir's journal was built from {old:?}, not {origin:?}; its engine cannot be rebuilt from the present inputs — restore them or use another --data-dir",
            origin_path(data_dir).display()
        )),
        None => {
            std::fs::create_dir_all(journal_dir(data_dir))?;
            let text = serde_json::to_string_pretty(origin)?;
            gavel_feeds::atomic_file::write_atomic(origin_path(data_dir), text)?;
            Ok(false)
        }
    }
}

/// Discards outputs, keeping the order ids the engine acknowledged (if asked).
struct ReplaySink<'a> {
    ids: Option<&'a mut Vec<u64>>,
}

impl OutputSink for ReplaySink<'_> {
    fn emit(&mut self, e: &Event) {
        if let Some(ids) = self.ids.as_mut().filter(|_| e.kind == EventKind::ExecReport as u8 && e.flags & report::TYPE_MASK == report::ACK) {
            let r: ExecReport = e.payload();
            ids.push((r.account << 32) | e.sequence);
        }
    }
}

/// What a replay did.
pub struct Replay {
    /// The journal scan (every record read and checked).
    pub scan: ScanReport,
    /// The snapshot the engine was restored from (sequence, file), if one was used.
    pub snapshot: Option<(u64, PathBuf)>,
    /// Journal records applied to the engine (those after the snapshot).
    pub applied: u64,
    /// The first inputs, up to `keep_first` of them (to match the demo's seed orders).
    pub first: Vec<Event>,
    /// Time taken.
    pub elapsed: Duration,
}

/// Where the engine of a replay starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// From the newest usable snapshot (a restart, `gavel recover`).
    Snapshot,
    /// From the first journal record (`gavel journal verify`, `gavel recover --list-orders`).
    FirstRecord,
}

/// Replays the journal of `data_dir` into `engine`, which must be the engine its origin builds.
/// With [`Start::FirstRecord`] (or no snapshot) every record is read, checked (CRC, sequence)
/// and applied in one pass. With [`Start::Snapshot`] the segments from the one holding the
/// newest snapshot's next record on are checked, the engine is restored from the newest usable
/// snapshot, and the records after it are applied (each checked again as it is read). With
/// `repair`, a torn tail is cut off (with a warning on stderr); without, it is only reported.
/// `ids` collects the id of every order acknowledged by the applied records.
pub fn replay(engine: &mut Engine, data_dir: &Path, start: Start, repair: bool, keep_first: usize, ids: Option<&mut Vec<u64>>) -> anyhow::Result<Replay> {
    let started = Instant::now();
    let dir = journal_dir(data_dir);
    let newest = match start {
        Start::Snapshot => super::snapshots::list(&super::snapshots::snapshot_dir(data_dir))?.first().map(|s| s.0),
        Start::FirstRecord => None,
    };
    let mut sink = ReplaySink { ids };
    let mut applied = 0u64;
    let scan = match newest {
        // One pass: check and apply.
        None => scan(&dir, |_, e| {
            engine.on_event(e, &mut sink);
            applied += 1;
        }),
        Some(sequence) => scan_from(&dir, sequence.saturating_add(1), |_, _| {}),
    }
    .map_err(|e| anyhow::anyhow!("journal: {e}"))?;
    if let Some(t) = &scan.torn {
        eprintln!(
            "gavel: warning: {}: a torn record at offset {} ({} bytes: {}) — the write a crash interrupted; {}",
            t.segment.display(),
            t.offset,
            t.bytes,
            t.why,
            if repair { "truncated, recovering up to the record before it" } else { "ignored (nothing was acknowledged from it)" }
        );
        if repair {
            truncate_torn(t).map_err(|e| anyhow::anyhow!("{}: truncating the torn tail: {e}", t.segment.display()))?;
        }
    }
    if let (Some(u), true) = (&scan.unused, repair) {
        // Not damage: the reserved end of a mapped segment (`--durability write`) a crash left open.
        truncate_torn(u).map_err(|e| anyhow::anyhow!("{}: cutting {} unused reserved bytes: {e}", u.segment.display(), u.bytes))?;
    }
    if repair {
        super::snapshots::set_aside_after(data_dir, scan.last_sequence)?;
    }
    let snapshot = match newest {
        Some(_) => super::snapshots::restore_latest(engine, data_dir, scan.last_sequence)?,
        None => None,
    };
    if newest.is_some() {
        let after = snapshot.as_ref().map_or(0, |s| s.0);
        applied = JournalTail::after(&dir, after)
            .read_through(scan.last_sequence, |_, e| engine.on_event(e, &mut sink))
            .map_err(|e| anyhow::anyhow!("journal: {e}"))?;
        anyhow::ensure!(after + applied == scan.last_sequence, "journal: {applied} records applied after sequence {after}, but the journal ends at {}", scan.last_sequence);
    }
    let mut first = Vec::with_capacity(keep_first);
    JournalTail::after(&dir, 0).read_through((keep_first as u64).min(scan.last_sequence), |_, e| first.push(*e)).map_err(|e| anyhow::anyhow!("journal: {e}"))?;
    Ok(Replay { scan, snapshot, applied, first, elapsed: started.elapsed() })
}

/// How many of `seeds` the journal already starts with (times aside).
pub fn seeds_journaled(seeds: &[Event], first: &[Event]) -> usize {
    let bare = |e: &Event| {
        let mut e = *e;
        e.receive_ns = 0;
        e.publish_ticks = 0;
        e
    };
    seeds.iter().zip(first).take_while(|(s, f)| bare(s) == bare(f)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_is_recorded_once_and_a_different_one_refused() {
        let dir = std::env::temp_dir().join(format!("gavel-origin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let demo = Origin::Demo { policy: "auction".into(), policy_hash: None, mirror: None };
        assert!(!check_or_write_origin(&dir, &demo).unwrap(), "first start records it");
        assert!(check_or_write_origin(&dir, &demo).unwrap(), "same origin: recover");
        let other = Origin::Demo { policy: "naive".into(), policy_hash: None, mirror: None };
        assert!(check_or_write_origin(&dir, &other).unwrap_err().to_string().contains("cannot be rebuilt"));
        let config = Origin::Config { config: "/x/venue.toml".into(), policy: None, files: vec![("/x/venue.toml".into(), "00".into())] };
        assert!(check_or_write_origin(&dir, &config).is_err());
        assert_eq!(read_origin(&dir).unwrap(), Some(demo));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn journaled_seeds_are_counted_ignoring_times() {
        let seed = |i: u64| Event::new(EventKind::ClientOrder, gavel_feeds::wire::Venue::Gavel, 0, gavel_feeds::wire::ClientOrder { account: 4, price: 100 + i as i64, qty: 5 }).with_times(i, 0, 0);
        let seeds: Vec<Event> = (1..=4).map(seed).collect();
        let journaled: Vec<Event> = (1..=2).map(|i| seed(i).with_times(i, 0, 777)).chain([seed(9)]).collect();
        assert_eq!(seeds_journaled(&seeds, &journaled), 2);
        assert_eq!(seeds_journaled(&seeds, &[]), 0);
    }
}
