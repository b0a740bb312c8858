//! The input journal of `gavel serve`: a [`JournalPump`] pops the inputs the
//! engine consumed (each carrying its journal sequence in `publish_ticks`) from
//! the journal ring, appends them to segment files and commits them, then
//! publishes the durable sequence to the gateway ([`JournalGate`]).
//! - `fsync` mode: a writer thread group-commits, one `fdatasync` once
//!   `sync_records` records are pending or `sync_interval` has passed since the
//!   first unsynced one.
//! - `write` mode: the gateway thread pumps the journal itself in its poll loop
//!   and copies what the ring holds into a mapped segment (no system call)
//!   before releasing the outputs it makes durable, so an acknowledgement waits
//!   for no writer thread to wake; idle rounds fault in the pages ahead.
//!
//! A write or sync error sets the gate's `failed` flag: the gateway refuses
//! requests from then on and what was durable before stays so.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gavel_feeds::input_journal::JournalWriter;
use gavel_feeds::ring::Consumer;
use gavel_feeds::wire::Event;
use gavel_gateway::{InlineJournal, JournalGate};

/// Group-commit and segment settings (`[durability]` in the serve config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurabilityConfig {
    /// What "durable" means before an acknowledgement.
    pub mode: DurabilityMode,
    /// Sync once this long has passed since the first unsynced record.
    pub sync_interval: Duration,
    /// Sync once this many records are pending.
    pub sync_records: u64,
    /// A segment rolls once it holds this many bytes.
    pub segment_bytes: u64,
    /// Test hook (`GAVEL_JOURNAL_FAIL_AFTER`): writes fail after this many records.
    pub fail_after: Option<u64>,
}

impl Default for DurabilityConfig {
    fn default() -> Self {
        DurabilityConfig { mode: DurabilityMode::Fsync, sync_interval: Duration::from_micros(200), sync_records: 512, segment_bytes: gavel_feeds::input_journal::DEFAULT_SEGMENT_BYTES, fail_after: None }
    }
}

/// What the writer did.
#[derive(Clone, Debug, Default)]
pub struct WriterReport {
    /// Records written and synced.
    pub records: u64,
    /// `fdatasync` calls.
    pub syncs: u64,
    /// The last durable sequence.
    pub durable: u64,
    /// Wall time spent in write + sync, ns.
    pub sync_ns: u64,
    /// The failure, if the journal failed.
    pub error: Option<String>,
}

/// What must happen to an input's journal record before its outputs are released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DurabilityMode {
    /// `fdatasync` (group commit): survives a crash of the process and of the host.
    Fsync,
    /// In the page cache (copied into a mapped segment) as soon as the ring is drained:
    /// survives a crash of the process (kill -9), not of the host or its power.
    Write,
}

impl DurabilityMode {
    /// Parses `fsync` or `write`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "fsync" => Some(DurabilityMode::Fsync),
            "write" => Some(DurabilityMode::Write),
            _ => None,
        }
    }
}

/// The journal's consumer: pops the inputs the engine consumed from the journal ring, appends
/// them and makes them durable as [`DurabilityConfig::mode`] says, publishing the durable
/// sequence on the gate. In `fsync` mode it runs on its own thread ([`run`]); in `write` mode
/// the gateway thread pumps it before it releases outputs ([`InlineJournal`]), so an
/// acknowledgement waits for no other thread.
pub struct JournalPump {
    writer: JournalWriter,
    ring: Consumer<Event>,
    gate: JournalGate,
    config: DurabilityConfig,
    journal_dir: PathBuf,
    report: WriterReport,
    pending: u64,
    first_pending: Option<Instant>,
}

impl JournalPump {
    /// A pump appending to `writer` what arrives on `ring`.
    pub fn new(mut writer: JournalWriter, ring: Consumer<Event>, gate: JournalGate, config: DurabilityConfig, journal_dir: PathBuf) -> Self {
        writer.fail_after(config.fail_after);
        let report = WriterReport { durable: writer.next_sequence() - 1, ..WriterReport::default() };
        JournalPump { writer, ring, gate, config, journal_dir, report, pending: 0, first_pending: None }
    }

    /// One round: appends up to 4,096 records from the ring, then commits if due (always in
    /// `write` mode; `stopping` commits what is pending in `fsync` mode).
    /// Returns the records popped.
    pub fn round(&mut self, stopping: bool) -> usize {
        let mut got = 0;
        while got < 4096 {
            let Some(e) = self.ring.try_pop() else { break };
            got += 1;
            if self.report.error.is_some() {
                continue; // Failed: drain so the engine never blocks; nothing more is acknowledged.
            }
            if let Err(e) = self.writer.append(e.publish_ticks, &e) {
                self.fail(e);
                continue;
            }
            self.pending += 1;
            self.first_pending.get_or_insert_with(Instant::now);
        }
        if got == 0 && self.report.error.is_none() {
            // Nothing to write: fault in the mapped pages the next records will reach, and hand
            // the finished megabytes to the disk so the sync at the segment's roll is short.
            self.writer.prefault();
            if let Err(e) = self.writer.start_writeback() {
                self.fail(e);
            }
        }
        let due = self.pending > 0
            && match self.config.mode {
                DurabilityMode::Fsync => self.pending >= self.config.sync_records || self.first_pending.is_some_and(|t| t.elapsed() >= self.config.sync_interval) || (stopping && got == 0),
                // Written (to the page cache) in the round that popped it: nothing waits for a later round.
                DurabilityMode::Write => true,
            };
        if due && self.report.error.is_none() {
            let t = Instant::now();
            let done = match self.config.mode {
                DurabilityMode::Fsync => self.writer.sync(),
                DurabilityMode::Write => self.writer.flush(),
            };
            match done {
                Ok(durable) => {
                    self.report.sync_ns += t.elapsed().as_nanos() as u64;
                    self.report.records += self.pending;
                    self.report.syncs += 1;
                    self.report.durable = durable;
                    self.gate.durable.store(durable, Ordering::Release);
                }
                Err(e) => self.fail(e),
            }
            self.pending = 0;
            self.first_pending = None;
        }
        got
    }

    /// Whether everything popped so far is committed (or the journal failed).
    pub fn settled(&self) -> bool {
        self.pending == 0 || self.report.error.is_some()
    }

    /// Drains the ring to its end and commits it (after the engine has stopped); the report.
    pub fn finish(mut self) -> WriterReport {
        while self.round(true) > 0 || !self.settled() {}
        self.report
    }

    fn fail(&mut self, e: std::io::Error) {
        fail(&mut self.report, &self.gate, &self.journal_dir, e);
    }
}

impl InlineJournal for JournalPump {
    fn pump(&mut self) -> bool {
        self.round(false) > 0
    }

    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Runs the pump on its own thread until `stop` is set and the ring is drained (everything
/// committed); then the report.
pub fn run(mut pump: JournalPump, stop: Arc<AtomicBool>) -> WriterReport {
    super::tight_timer_slack();
    let mut idle = 0u32;
    loop {
        let stopping = stop.load(Ordering::Acquire);
        let got = pump.round(stopping);
        if got > 0 {
            idle = 0;
            continue;
        }
        if stopping && pump.settled() {
            return pump.report;
        }
        idle = idle.saturating_add(1);
        // A short spin, then sleep: on a machine without a spare core a longer spin takes the
        // core from the engine and the gateway (tried: 20,000 spins made the closed-loop
        // round trip in `write` mode 1.4 ms instead of 0.26 ms on the 2-core VM).
        if pump.pending == 0 && idle > 1_000 {
            std::thread::sleep(Duration::from_micros(50));
        } else {
            std::hint::spin_loop();
        }
    }
}

fn fail(report: &mut WriterReport, gate: &JournalGate, dir: &std::path::Path, e: std::io::Error) {
    let msg = format!("{}: {e}", dir.display());
    eprintln!("gavel serve: JOURNAL FAILED: {msg}; refusing every request from now on (JOURNAL_FAILED); orders acknowledged so far (journal sequence ≤ {}) are durable", report.durable);
    report.error = Some(msg);
    gate.failed.store(true, Ordering::Release);
}

/// The journal fault hook from the environment: `GAVEL_JOURNAL_FAIL_AFTER=N`
/// makes every journal write after N records (counted from this start) fail as
/// a full disk would. For tests of the failure path only.
pub fn fail_after_from_env() -> anyhow::Result<Option<u64>> {
    match std::env::var("GAVEL_JOURNAL_FAIL_AFTER") {
        Ok(v) => Ok(Some(v.trim().parse().map_err(|_| anyhow::anyhow!("GAVEL_JOURNAL_FAIL_AFTER={v:?}: not a record count"))?)),
        Err(_) => Ok(None),
    }
}
