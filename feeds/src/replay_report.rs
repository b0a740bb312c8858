//! [`ReplayReport`]: what a book replay saw (the level-2 [`crate::replay`],
//! the Coinbase level-3 [`crate::replay_l3`] and the Tardis replays fill it).

use std::collections::BTreeMap;

use crate::sync::SyncStats;

/// What a replay saw.
#[derive(Clone, Debug, Default)]
pub struct ReplayReport {
    /// Records read from all files.
    pub records: u64,
    /// Bad record lines skipped (reader level).
    pub bad_lines: u64,
    /// Messages refused by the parser, by kind of error.
    pub parse_errors: BTreeMap<&'static str, u64>,
    /// The first few errors, in full.
    pub first_errors: Vec<String>,
    /// Messages for other instruments.
    pub other_instrument: u64,
    /// Book sync counters.
    pub sync: SyncStats,
    /// Venue tickers whose update id equalled the last applied diff's id.
    pub ticker_checks: u64,
    /// Of those, how many matched the mirrored top of book exactly.
    pub ticker_matches: u64,
    /// The first mismatches, described.
    pub first_mismatches: Vec<String>,
}

impl ReplayReport {
    /// Keeps `message` if fewer than ten errors are kept.
    pub(crate) fn error(&mut self, message: String) {
        if self.first_errors.len() < 10 {
            self.first_errors.push(message);
        }
    }
}
