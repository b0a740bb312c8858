//! Portfolio margin: offset groups in the instruments file, the netting bounds, the
//! liquidation plan on a netted account, and bad offset input.

use gavel_engine::risk::instrument::{InstrumentSet, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::risk::liquidation::{plan, LiquidationParams};
use gavel_engine::risk::margin;
use gavel_engine::risk::{MarginMode, RiskBook};
use gavel_feeds::Location;
use proptest::prelude::*;

fn shipped() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    std::fs::read_to_string(path).unwrap()
}

/// The shipped instruments plus one offset group over BTCUSDT and ETHUSDT.
fn with_group(credit: &str) -> InstrumentSet {
    let text = format!("{}\n[[offset]]\nname = \"btc-eth\"\ninstruments = [\"BTCUSDT\", \"ETHUSDT\"]\ncredit = \"{credit}\"\n", shipped());
    InstrumentSet::parse(&text, "instruments.toml").unwrap()
}

/// A book over `set` with BTCUSDT at 50,000.0 and ETHUSDT at 2,500.00; returns their ids.
fn marked_book(set: &InstrumentSet) -> (RiskBook, u16, u16) {
    let (btc, eth) = (set.id("BTCUSDT").unwrap(), set.id("ETHUSDT").unwrap());
    let mut book = RiskBook::new(set.clone());
    let mut crossed = Vec::new();
    book.set_mark(btc, 500_000, &mut crossed);
    book.set_mark(eth, 250_000, &mut crossed);
    (book, btc, eth)
}

/// Σ of each open position's own maintenance (scaled), the un-netted requirement.
fn isolated_sum(set: &InstrumentSet, marks: &[Option<i64>], sizes: &[(u16, i64)]) -> i128 {
    sizes
        .iter()
        .filter(|(_, s)| *s != 0)
        .map(|&(i, s)| {
            let ins = set.get(i);
            ins.maintenance_scaled(ins.notional(s, marks[usize::from(i)].unwrap()))
        })
        .sum()
}

#[test]
fn the_instruments_file_declares_offset_groups() {
    let set = with_group("0.8");
    let groups = set.offsets.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].name.as_str(), groups[0].credit_rate), ("btc-eth", 80_000_000));
    assert_eq!(set.offsets.group_of(set.id("BTCUSDT").unwrap()), Some(0));
    assert_eq!(set.offsets.group_of(set.id("BTCUSD").unwrap()), None);
}

#[test]
fn a_hedged_pair_earns_the_credit_and_a_one_sided_pair_does_not() {
    let set = with_group("0.5");
    let (mut book, btc, eth) = marked_book(&set);
    let a = book.add_account("hedged", MarginMode::Cross, 10_000 * QUOTE_SCALE).unwrap();
    let b = book.add_account("same-side", MarginMode::Cross, 10_000 * QUOTE_SCALE).unwrap();
    // 1 BTC long (notional 50,000: bracket 0, 0.4 % = 200) against 10 ETH short
    // (notional 25,000: bracket 1, 0.65 % − 15 = 147.5).
    book.set_position(a, btc, 1_000, 50_000 * QUOTE_SCALE, 0);
    book.set_position(a, eth, -10_000, -25_000 * QUOTE_SCALE, 0);
    book.set_position(b, btc, 1_000, 50_000 * QUOTE_SCALE, 0);
    book.set_position(b, eth, 10_000, 25_000 * QUOTE_SCALE, 0);
    let hedged = book.account_health(a).unwrap();
    let same = book.account_health(b).unwrap();
    // Plain sum 347.5; the hedged account is credited 50 % of min(200, 147.5) = 73.75.
    assert_eq!(same.maintenance_scaled, 347_500_000 * RATE_SCALE);
    assert_eq!(hedged.maintenance_scaled, (347_500_000 - 73_750_000) * RATE_SCALE);
    assert_eq!(hedged.equity, same.equity);
}

/// Closing one leg of a hedged pair gives up part of its credit: the plan's partial close
/// must restore the account with the credit recomputed at the remaining size.
#[test]
fn the_plan_accounts_for_the_credit_a_close_gives_up() {
    let set = with_group("0.9");
    let (mut book, btc, eth) = marked_book(&set);
    let a = book.add_account("a", MarginMode::Cross, 2_500 * QUOTE_SCALE).unwrap();
    book.set_position(a, btc, 2_000, 100_000 * QUOTE_SCALE, 0);
    book.set_position(a, eth, -40_000, -100_000 * QUOTE_SCALE, 0);
    // BTC falls 1 % and ETH rises 1 %: the pair loses 2,000, equity 500, under the netted
    // maintenance (≈ 450 + 641 − 90 % of 450) → liquidatable.
    let mut crossed = Vec::new();
    book.set_mark(btc, 495_000, &mut crossed);
    book.set_mark(eth, 252_500, &mut crossed);
    let h = book.account_health(a).unwrap();
    assert!(h.liquidatable(), "{h:?}");
    // Closing BTC (the smaller leg) only trades credit for requirement: 10 % of the BTC
    // requirement stays against the whole ETH one, which alone exceeds the equity, so no
    // partial BTC close restores the account and the plan closes it all.
    let btc_plan = plan(&book, a, btc, &LiquidationParams::default(), 0).unwrap();
    assert!(btc_plan.full_close, "{btc_plan:?}");
    // Closing ETH restores it part way.
    let req = plan(&book, a, eth, &LiquidationParams::default(), 0).unwrap();
    assert!(!req.full_close && req.qty < 40_000, "a partial close is expected here: {req:?}");
    let acc = book.account(a);
    let rest = req.position_size - req.qty * req.position_size.signum();
    let after = margin::unit_health_resized(book.instruments(), book.marks(), acc.wallet, acc.positions.iter(), Some((eth, rest))).unwrap();
    assert!(after.equity * RATE_SCALE * RATE_SCALE >= after.maintenance_scaled * (RATE_SCALE + 10_000_000), "{req:?} {after:?}");
    // One lot less would not have restored it.
    let short = margin::unit_health_resized(book.instruments(), book.marks(), acc.wallet, acc.positions.iter(), Some((eth, rest - 1))).unwrap();
    assert!(short.equity * RATE_SCALE * RATE_SCALE < short.maintenance_scaled * (RATE_SCALE + 10_000_000), "{req:?} {short:?}");
}

#[test]
fn bad_offset_groups_are_refused_with_line_and_field() {
    let cases = [
        ("credit = \"1\"", "credit"),
        ("credit = \"-0.1\"", "credit"),
        ("credit = \"nan\"", "credit"),
        ("credit = \"0.123456789\"", "credit"),
    ];
    for (credit, field) in cases {
        let text = format!("{}\n[[offset]]\nname = \"g\"\ninstruments = [\"BTCUSDT\", \"ETHUSDT\"]\n{credit}\n", shipped());
        let e = InstrumentSet::parse(&text, "i.toml").unwrap_err();
        assert_eq!(e.field, field, "{credit}: {e}");
        assert!(matches!(e.location, Location::Line(n) if n > 1), "{credit}: {e}");
    }
    let unknown = format!("{}\n[[offset]]\nname = \"g\"\ninstruments = [\"BTCUSDT\", \"SOLUSDT\"]\ncredit = \"0.5\"\n", shipped());
    let e = InstrumentSet::parse(&unknown, "i.toml").unwrap_err();
    assert!(e.field == "instruments" && e.to_string().contains("SOLUSDT"), "{e}");
    let twice = format!(
        "{}\n[[offset]]\nname = \"a\"\ninstruments = [\"BTCUSDT\", \"ETHUSDT\"]\ncredit = \"0.5\"\n[[offset]]\nname = \"b\"\ninstruments = [\"ETHUSDT\", \"BTCUSDT\"]\ncredit = \"0.5\"\n",
        shipped()
    );
    let e = InstrumentSet::parse(&twice, "i.toml").unwrap_err();
    assert!(e.to_string().contains("\"b\"") && e.to_string().contains("already in a group"), "{e}");
    let lonely = format!("{}\n[[offset]]\nname = \"g\"\ninstruments = [\"BTCUSDT\"]\ncredit = \"0.5\"\n", shipped());
    assert!(InstrumentSet::parse(&lonely, "i.toml").unwrap_err().to_string().contains("at least two"));
    let mixed = format!("{}\n[[offset]]\nname = \"g\"\ninstruments = [\"BTCUSDT\", \"BTCUSD\"]\ncredit = \"0.5\"\n", shipped());
    assert!(InstrumentSet::parse(&mixed, "i.toml").unwrap_err().to_string().contains("different assets"));
}

proptest! {
    /// Netting never takes maintenance below the isolated sum minus the configured credit on
    /// the hedged part, never above the isolated sum, and never credits more than half the
    /// credit rate of the sum; with credit 0 or one-sided positions it is the plain sum.
    #[test]
    fn netting_stays_within_its_bounds(
        btc in -20_000i64..20_000,
        eth in -200_000i64..200_000,
        btc_mark in 100_000i64..1_000_000,
        eth_mark in 10_000i64..500_000,
        credit_pct in 0u32..100,
    ) {
        let set = with_group(&format!("0.{credit_pct:02}"));
        let c = i128::from(credit_pct) * RATE_SCALE / 100;
        let marks = vec![Some(btc_mark), Some(eth_mark)];
        let mut book = RiskBook::new(set.clone());
        let a = book.add_account("a", MarginMode::Cross, 0).unwrap();
        book.set_position(a, 0, btc, 0, 0);
        book.set_position(a, 1, eth, 0, 0);
        let acc = book.account(a);
        let mut all = vec![None; set.len()];
        all[0] = marks[0];
        all[1] = marks[1];
        let netted = margin::cross_health(&set, &all, acc).unwrap().maintenance_scaled;
        let sum = isolated_sum(&set, &marks, &[(0, btc), (1, eth)]);
        let (mm_btc, mm_eth) = (isolated_sum(&set, &marks, &[(0, btc)]), isolated_sum(&set, &marks, &[(1, eth)]));
        let hedged = if (btc > 0) != (eth > 0) && btc != 0 && eth != 0 { mm_btc.min(mm_eth) } else { 0 };
        prop_assert!(netted <= sum);
        prop_assert!(netted >= sum - c * hedged / RATE_SCALE);
        prop_assert!(2 * RATE_SCALE * netted >= (2 * RATE_SCALE - c) * sum);
        if credit_pct == 0 || hedged == 0 {
            prop_assert_eq!(netted, sum);
        }
    }
}

#[test]
fn the_leg_to_close_frees_the_most_maintenance_per_unit_of_impact() {
    use gavel_engine::risk::portfolio::leg_to_close;
    let set = with_group("0.5");
    let (mut book, btc, eth) = marked_book(&set);
    let a = book.add_account("hedged", MarginMode::Cross, 10_000 * QUOTE_SCALE).unwrap();
    // 1 BTC long (maintenance 200) against 10 ETH short (147.5); credit 0.5 × 147.5.
    book.set_position(a, btc, 1_000, 50_000 * QUOTE_SCALE, 0);
    book.set_position(a, eth, -10_000, -25_000 * QUOTE_SCALE, 0);
    let acc = book.account(a);
    // Closing BTC frees 200 − 73.75 = 126.25, closing ETH 147.5 − 73.75 = 73.75.
    assert_eq!(leg_to_close(&set, book.marks(), acc, |_, _| 1), Some(btc));
    // Impact proportional to notional (50,000 vs 25,000): 126.25/50k < 73.75/25k.
    let by_notional = |i, size| set.get(i).notional(size, book.mark(i).unwrap()) / 1_000;
    assert_eq!(leg_to_close(&set, book.marks(), acc, by_notional), Some(eth));
    // Equal ratios: the lower instrument id.
    let tied = |i, _| if i == btc { 12_625 } else { 7_375 };
    assert_eq!(leg_to_close(&set, book.marks(), acc, tied), Some(btc.min(eth)));
    // A flat account has no leg.
    let flat = book.add_account("flat", MarginMode::Cross, QUOTE_SCALE).unwrap();
    assert_eq!(leg_to_close(&set, book.marks(), book.account(flat), |_, _| 1), None);
}

proptest! {
    /// The liquidation price `gavel risk` reports for a leg of a netted account is the exact
    /// boundary of the portfolio health along that mark, credits included.
    #[test]
    fn the_netted_liquidation_price_is_the_exact_boundary(
        btc in 1i64..3_000, eth in 1i64..30_000, btc_long in any::<bool>(), eth_long in any::<bool>(),
        wallet in 100i128..20_000, credit in prop::sample::select(vec!["0", "0.5", "0.95"]),
    ) {
        let set = with_group(credit);
        let (mut book, b, e) = marked_book(&set);
        let a = book.add_account("a", MarginMode::Cross, wallet * QUOTE_SCALE).unwrap();
        let (bs, es) = (if btc_long { btc } else { -btc }, if eth_long { eth } else { -eth });
        let m = set.get(b).quote_per_tick_lot;
        book.set_position(a, b, bs, i128::from(bs) * 500_000 * m, 0);
        book.set_position(a, e, es, i128::from(es) * 250_000 * set.get(e).quote_per_tick_lot, 0);
        let acc = book.account(a).clone();
        for (k, instrument) in [(0usize, b), (1, e)] {
            let index = acc.positions.iter().position(|p| p.instrument == instrument).unwrap();
            let netted = margin::position_trigger_netted(&set, book.marks(), &acc, index).unwrap();
            let plain = margin::position_trigger(&set, book.marks(), &acc, index).unwrap();
            let at = |price: i64| {
                let mut marks = book.marks().to_vec();
                marks[k] = Some(price);
                margin::cross_health(&set, &marks, &acc).unwrap().liquidatable()
            };
            match netted {
                gavel_engine::risk::Trigger::Long(t) => {
                    if t > 1 && t < i64::MAX / 4 {
                        prop_assert!(!at(t) && at(t - 1), "long boundary {t}");
                    }
                    // The credit only lowers maintenance: never a later trigger.
                    if let gavel_engine::risk::Trigger::Long(p) = plain { prop_assert!(t <= p.max(0)); }
                }
                gavel_engine::risk::Trigger::Short(t) => {
                    if (1..i64::MAX / 4).contains(&t) {
                        prop_assert!(!at(t) && at(t + 1), "short boundary {t}");
                    }
                    if let gavel_engine::risk::Trigger::Short(p) = plain { prop_assert!(t >= p); }
                }
            }
        }
    }
}
