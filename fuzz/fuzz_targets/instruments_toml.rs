//! Any text as an instruments TOML: an error naming the source, or a set whose every
//! instrument has a value per tick and lot (linear) or a contract value (inverse); never a panic.
#![no_main]
use gavel_engine::risk::instrument::ContractKind;
use gavel_engine::risk::InstrumentSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match InstrumentSet::parse(text, "fuzz.toml") {
        Ok(set) => {
            for i in 0..set.len() {
                let ins = set.get(i as u16);
                match ins.kind {
                    ContractKind::Linear => assert!(ins.quote_per_tick_lot > 0, "{}: a tick × lot of no value", ins.symbol),
                    ContractKind::Inverse => assert!(ins.contract_value.is_some() && ins.inverse_value > 0, "{}: no contract value", ins.symbol),
                }
            }
        }
        Err(e) => assert!(e.to_string().contains("fuzz.toml"), "{e}"),
    }
});
