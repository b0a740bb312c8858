//! Any text through exact and rounded decimal parsing: never a panic; exact
//! results format back to a string that parses to the same value.
#![no_main]
use gavel_feeds::decimal::Grid;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&decimals, text)) = data.split_first() else { return };
    let Ok(grid) = Grid::with_decimals(decimals % 19) else { return };
    let grid = grid.signed();
    if let Ok(steps) = grid.parse(text) {
        let mut s = String::new();
        grid.format(steps, grid.decimals(), &mut s);
        assert_eq!(grid.parse(s.as_bytes()), Ok(steps));
    }
    let _ = grid.parse_rounded(text);
});
