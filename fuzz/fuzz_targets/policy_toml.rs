//! Any text as a liquidation-policy TOML (the `gavel` binary's loader, compiled in here): an
//! error naming the source, or a policy that validates and whose TOML form reads back to the
//! same TOML; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tools/src/policy_file.rs"]
mod policy_file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match policy_file::parse_policy(text, "policy.toml", "fuzz") {
        Ok(policy) => {
            policy.validate().expect("a loaded policy validates");
            let written = policy_file::to_toml(&policy).expect("a loaded policy writes");
            let again = policy_file::parse_policy(&written, "written.toml", "fuzz").unwrap_or_else(|e| panic!("{e:#}\n{written}"));
            assert_eq!(policy_file::to_toml(&again).expect("writes again"), written);
        }
        Err(e) => assert!(format!("{e:#}").contains("policy.toml"), "{e:#}"),
    }
});
