//! Any text through the options portfolio loader: never a panic; a portfolio it
//! accepts is valued and stress-margined, and a plan chosen, for every account.
#![no_main]
use gavel_engine::options::close_or_hedge::{choose, HedgeExit};
use gavel_engine::options::portfolio::{assess, MarketState, OptionsBook};
use gavel_engine::risk::instrument::MAX_MONEY;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(book) = OptionsBook::parse(text, "fuzz.toml") else { return };
    let market = MarketState::at_valuation(&book);
    for account in book.accounts.iter().take(20) {
        let risk = assess(&book, account, &market).expect("every loaded series is priceable at the valuation time");
        assert!((0..=MAX_MONEY).contains(&risk.margin));
        choose(&book, account, &market, &risk, HedgeExit { wait_ms: 60_000, calm_exit: HedgeExit::DEFAULT_CALM_EXIT }).expect("priceable");
    }
});
