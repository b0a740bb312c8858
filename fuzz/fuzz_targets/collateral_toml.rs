//! Any text through the collateral TOML loader: never a panic; a file it accepts
//! is indexed and every account stressed (integer arithmetic inside i128).
#![no_main]
use gavel_engine::risk::collateral::stress;
use gavel_engine::risk::collateral_toml::CollateralBook;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(book) = CollateralBook::parse(text, "fuzz.toml") else { return };
    let index: Vec<i128> = book.index().iter().map(|i| i.price).collect();
    for (a, i) in book.assets.iter().zip(&index) {
        assert!(*i > 0);
        if !a.is_quote {
            assert!(a.sources.iter().any(|s| s.price <= *i) && a.sources.iter().any(|s| s.price >= *i));
        }
    }
    for account in book.accounts.iter().take(50) {
        let r = stress(&book.assets, &index, account, book.stress);
        assert!(r.fund_needed >= 0);
    }
});
