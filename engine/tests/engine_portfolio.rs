//! A portfolio account found crossed by one instrument's mark is liquidated on the leg that
//! frees the most maintenance per unit of expected impact, which need not be that instrument.

mod engine_common;

use engine_common::*;
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{AccountId, Ledger, RiskBook};
use gavel_feeds::wire::{Event, EventKind, PriceLevel, Side};

/// X and Y: tick 0.01, lot 1, maintenance 5 %, in one offset group at 50 % credit.
fn hedged_set() -> InstrumentSet {
    let one = |s: &str| format!("[[instrument]]\nsymbol = \"{s}\"\ntick_size = \"0.01\"\nlot_size = \"1\"\nbrackets = [{{ notional_cap = \"inf\", maintenance_rate = \"0.05\", max_leverage = 10 }}]\n");
    let text = format!("{}{}[[offset]]\nname = \"xy\"\ninstruments = [\"X\", \"Y\"]\ncredit = \"0.5\"\n", one("X"), one("Y"));
    InstrumentSet::parse(&text, "test").expect("instruments")
}

fn level_of(instrument: u32, side: Side, price: i64, qty: i64, t: i64) -> Event {
    Event::new(EventKind::BookLevel, VENUE, instrument, PriceLevel { price, qty, index: 0 }).with_side(side).with_times(0, t, t)
}

/// Account P: long 100 X and short 100 Y, both entered at 100.00, wallet 1,000: maintenance
/// 500 + 500 less the 250 credit. Counterparties hold the other sides.
fn ledger() -> (Ledger, AccountId) {
    let set = hedged_set();
    let mut book = RiskBook::new(set);
    let p = book.add_account("p", gavel_engine::risk::MarginMode::Cross, quote(1_000)).unwrap();
    let c = book.add_account("c", gavel_engine::risk::MarginMode::Cross, quote(1_000_000)).unwrap();
    let m = book.instruments().get(0).quote_per_tick_lot;
    book.set_position(p, 0, 100, 100 * 10_000 * m, 0);
    book.set_position(p, 1, -100, -100 * 10_000 * m, 0);
    book.set_position(c, 0, -100, -100 * 10_000 * m, 0);
    book.set_position(c, 1, 100, 100 * 10_000 * m, 0);
    (Ledger::new(book, quote(1_000_000)), p)
}

/// The instrument of the first liquidation of `account` after X falls to 97.00 (Y stays at
/// 100.00, its ask carrying `y_ask_qty` lots).
fn first_leg(y_ask_qty: i64) -> u32 {
    let (ledger, p) = ledger();
    let mut engine = engine(ledger, policy("partial", |_| {}), |_| {});
    let mut events = vec![
        level_of(0, Side::Bid, 9_999, 1_000, SEC),
        level_of(0, Side::Ask, 10_001, 1_000, SEC),
        level_of(1, Side::Bid, 9_999, 1_000, SEC),
        level_of(1, Side::Ask, 10_001, y_ask_qty, SEC),
        timer(2 * SEC),
    ];
    // X gaps to 97.00: P's equity 700 < maintenance 485 + 500 − 242.5 = 742.5.
    events.extend([
        level_of(0, Side::Bid, 9_999, 0, 3 * SEC),
        level_of(0, Side::Ask, 10_001, 0, 3 * SEC),
        level_of(0, Side::Bid, 9_699, 1_000, 3 * SEC),
        level_of(0, Side::Ask, 9_701, 1_000, 3 * SEC),
        timer(4 * SEC),
    ]);
    let mut out = Vec::new();
    for e in &events {
        engine.on_event(e, &mut out);
        assert_eq!(engine.ledger().check_conservation(), 0, "conservation after {e:?}");
    }
    let first = of_kind(&out, EventKind::LiquidationUpdate)
        .into_iter()
        .find(|e| e.payload::<gavel_feeds::wire::LiquidationNotice>().account == u64::from(p))
        .expect("P is liquidated");
    first.instrument
}

#[test]
fn with_deep_books_the_leg_freeing_more_goes_first_though_the_other_mark_crossed() {
    // Closing Y frees 742.5 − 485 = 257.5, closing X 742.5 − 500 = 242.5, at about the
    // same cost (one tick of spread on 100 lots): Y, though X's mark found the account.
    assert_eq!(first_leg(1_000), 1);
}

#[test]
fn a_leg_its_books_cannot_absorb_ranks_behind() {
    // Only 10 of Y's 100 lots can be bought back: the 90 others are charged 10 % of their
    // value, so X (cheap to sell) goes first.
    assert_eq!(first_leg(10), 0);
}
