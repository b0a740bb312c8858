//! Where the real captured market data lives, for tests and examples.
//!
//! Tests read the folder from the `GAVEL_DATA` environment variable, or
//! `../shared/data` next to the workspace. Real-data tests are marked
//! `#[ignore]` so the everyday test command needs no data, and `.ci/run`
//! runs them with `--ignored`; there a missing file fails loudly.

use std::path::PathBuf;

/// The real-data folder: `$GAVEL_DATA`, else `<workspace>/../shared/data`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("GAVEL_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data")),
    }
}

/// The path of `relative` inside the real-data folder.
///
/// # Panics
/// Panics with a message naming the path and `GAVEL_DATA` when the file is
/// missing: a real-data test must fail loudly, never pass on nothing.
pub fn require_data_file(relative: &str) -> PathBuf {
    let path = data_dir().join(relative);
    assert!(
        path.exists(),
        "real-data file {} is missing: set GAVEL_DATA to the folder holding shared/data (see README)",
        path.display()
    );
    path
}
