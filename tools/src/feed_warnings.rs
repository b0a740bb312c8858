//! The bad-input warnings of a pipeline run, one line per capture and venue
//! that had refused messages or gaps, so no command drops them silently.

use crate::pipeline::{PolicyRun, ReplayInputs};

/// The warning lines of `run` (empty when every message parsed and no gap was seen).
pub fn feed_warnings(inputs: &ReplayInputs, run: &PolicyRun) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, venue, stats) in &run.feed_stats {
        if stats.parse_errors == 0 && stats.gaps == 0 {
            continue;
        }
        // Name the file the user gave (a converted recording's source), not the temporary capture.
        let named = inputs.captures.iter().position(|c| c == path).and_then(|i| inputs.sources.get(i)).unwrap_or(path);
        lines.push(format!(
            "warning: {} ({venue:?}): {} bad messages skipped, {} gaps resynced; first: {}",
            named.display(),
            stats.parse_errors,
            stats.gaps,
            stats.first_errors.first().map(String::as_str).unwrap_or("-")
        ));
    }
    lines
}
