//! Any text as a venue-rules TOML: parsed rules or an error naming the source; never a panic.
#![no_main]
use gavel_engine::venue_rules::loader::parse_rules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = parse_rules(text, "rules.toml") {
        assert!(e.to_string().contains("rules.toml"), "{e}");
    }
});
