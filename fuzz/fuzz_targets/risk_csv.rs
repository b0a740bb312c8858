//! Any text as accounts and positions CSV (split at a line `---`) over the example
//! instruments, then every instrument marked at a price taken from the input and every
//! account's health computed: loader errors name the source; nothing panics (overflow checks
//! are on in fuzz builds), whatever the numbers.
#![no_main]
use gavel_engine::risk::{loader, InstrumentSet, RiskBook};
use libfuzzer_sys::fuzz_target;

use gavel_fuzz::INSTRUMENTS;

fuzz_target!(|data: &[u8]| {
    let Some((mark_bytes, rest)) = data.split_first_chunk::<4>() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (accounts, positions) = text.split_once("\n---\n").unwrap_or((text, ""));
    let set = InstrumentSet::parse(INSTRUMENTS, "instruments.toml").expect("the example instruments load");
    let mut book = RiskBook::new(set);
    if let Err(e) = loader::load_accounts(&mut book, accounts, "accounts.csv") {
        assert!(e.to_string().contains("accounts.csv"), "{e}");
        return;
    }
    if let Err(e) = loader::load_positions(&mut book, positions, "positions.csv") {
        assert!(e.to_string().contains("positions.csv"), "{e}");
        return;
    }
    // Marks within the range the margin bounds are proven for (docs/RELIABILITY.md).
    let mark = i64::from(u32::from_le_bytes(*mark_bytes) % 100_000_000) + 1;
    let mut crossed = Vec::new();
    let instruments = book.instruments().len();
    for i in 0..instruments {
        book.set_mark(i as u16, mark, &mut crossed);
    }
    for a in 0..book.accounts().len() {
        for i in 0..instruments {
            let _ = book.health(a as u32, i as u16);
        }
    }
});
