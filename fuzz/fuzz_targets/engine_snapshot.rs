//! Any bytes as an engine snapshot: refused with an error, or restored into an engine whose own
//! snapshot restores again to the same state hash; never a panic, never an allocation sized by
//! the input before it is checked against the engine (libFuzzer's malloc limit catches those).
//! Snapshots the engine wrote are also CRC-checked by `gavel serve`; this is the decoder alone.
#![no_main]
use std::sync::{Mutex, OnceLock};

use gavel_engine::engine::Engine;
use gavel_fuzz::snapshot_engine;
use libfuzzer_sys::fuzz_target;

static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut engine = ENGINE.get_or_init(|| Mutex::new(snapshot_engine())).lock().unwrap_or_else(|e| e.into_inner());
    if engine.restore_snapshot(data).is_ok() {
        let mut again = Vec::new();
        engine.write_snapshot(&mut again).expect("a restored engine writes its snapshot");
        let mut fresh = snapshot_engine();
        fresh.restore_snapshot(&again).expect("its own snapshot restores");
        assert_eq!(fresh.state_hash(), engine.state_hash());
    }
});
