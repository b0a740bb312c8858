//! Differential test: the trigger index against a full scan of every account,
//! after every update of a random stream (marks, fills, balance changes) over
//! random cross (single- and multi-position) and isolated accounts, with
//! bracket schedule changes, with and without a BTC/ETH portfolio offset group.

use gavel_engine::risk::instrument::{Bracket, InstrumentSet, QUOTE_SCALE, RATE_SCALE};
use gavel_engine::risk::portfolio::OffsetGroup;
use gavel_engine::risk::{MarginMode, RiskBook};
use proptest::prelude::*;

fn instruments() -> InstrumentSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples/instruments.toml");
    InstrumentSet::load(&path).unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    /// Move instrument `0`'s mark by `1` ticks (relative, so paths wander across triggers).
    Mark(u16, i64),
    /// Account `0` trades `2` lots of instrument `1` at the current mark offset by `3` ticks.
    Fill(usize, u16, i64, i64),
    /// Account `0` balance change (USDT) on instrument `1`'s unit.
    Balance(usize, u16, i64),
    /// Instrument `0` switches between its shipped brackets and rates × `1` ÷ 2.
    Brackets(u16, i128),
    /// The full recompute: every account re-evaluated, the index rebuilt in bulk.
    Recompute,
}

/// The brackets of `ins` with every rate multiplied by `factor / 2`, cums re-derived.
fn rescaled(ins: &gavel_engine::risk::Instrument, factor: i128) -> Vec<Bracket> {
    let mut out: Vec<Bracket> = Vec::new();
    for b in &ins.brackets {
        let rate = (b.maintenance_rate * factor / 2).min(RATE_SCALE - 1);
        let cum = match out.last() {
            None => 0,
            Some(p) => p.maintenance_amount + p.notional_cap * (rate - p.maintenance_rate) / RATE_SCALE,
        };
        out.push(Bracket {
            maintenance_rate: rate,
            maintenance_amount: cum,
            ..*b
        });
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u16..2, -2_000i64..2_000).prop_map(|(i, d)| Op::Mark(i, d)),
        2 => (0usize..24, 0u16..2, -3_000i64..3_000, -500i64..500).prop_map(|(a, i, q, o)| Op::Fill(a, i, q, o)),
        1 => (0usize..24, 0u16..2, -3_000i64..3_000).prop_map(|(a, i, d)| Op::Balance(a, i, d)),
        1 => (0u16..2, prop::sample::select(vec![1i128, 2, 4])).prop_map(|(i, f)| Op::Brackets(i, f)),
        1 => Just(Op::Recompute),
    ]
}

fn account() -> impl Strategy<Value = (bool, i64, i64, i64)> {
    // isolated?, collateral USDT, btc lots, eth lots
    (any::<bool>(), 0i64..20_000, -3_000i64..3_000, -30_000i64..30_000)
}

fn check(book: &RiskBook) -> Result<(), TestCaseError> {
    let scan = book.liquidatable_scan();
    let indexed = book.liquidatable_indexed();
    prop_assert_eq!(&indexed, &scan);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn index_agrees_with_full_scan_after_every_update(
        accounts in prop::collection::vec(account(), 24),
        ops in prop::collection::vec(op(), 1..120),
        credit in prop::sample::select(vec![None, Some(0i128), Some(50_000_000), Some(95_000_000)]),
    ) {
        let mut set = instruments();
        if let Some(credit_rate) = credit {
            set.set_offsets(vec![OffsetGroup { name: "btc-eth".into(), instruments: vec![0, 1], credit_rate }]).unwrap();
        }
        let shipped = set.clone();
        let mut book = RiskBook::new(set);
        let mut marks = [500_000i64, 250_000];
        for (i, &(iso, coll, btc, eth)) in accounts.iter().enumerate() {
            let mode = if iso { MarginMode::Isolated } else { MarginMode::Cross };
            let id = book.add_account(&format!("a{i}"), mode, i128::from(coll) * QUOTE_SCALE).unwrap();
            let iso_margin = |c: i64| if iso { i128::from(c) * QUOTE_SCALE / 2 } else { 0 };
            if btc != 0 {
                book.set_position(id, 0, btc, i128::from(btc) * 500_000 * 100, iso_margin(coll));
            }
            if eth != 0 {
                book.set_position(id, 1, eth, i128::from(eth) * 250_000 * 10, iso_margin(coll));
            }
        }
        let mut crossed = Vec::new();
        book.set_mark(0, marks[0], &mut crossed);
        book.set_mark(1, marks[1], &mut crossed);
        check(&book)?;
        for op in ops {
            match op {
                Op::Mark(i, d) => {
                    marks[usize::from(i)] = (marks[usize::from(i)] + d * 10).max(1);
                    crossed.clear();
                    book.set_mark(i, marks[usize::from(i)], &mut crossed);
                    // The crossed set of the moved instrument is exactly the
                    // liquidatable units holding it.
                    let mut got: Vec<u32> = crossed.clone();
                    got.sort_unstable();
                    let want: Vec<u32> = book.liquidatable_scan().into_iter().filter(|&(_, ins)| ins == i).map(|(a, _)| a).collect();
                    prop_assert_eq!(got, want);
                }
                Op::Fill(a, i, q, o) => {
                    let price = (marks[usize::from(i)] + o).max(1);
                    book.apply_fill(a as u32, i, q, price);
                }
                Op::Balance(a, i, d) => book.adjust_balance(a as u32, i, i128::from(d) * QUOTE_SCALE),
                Op::Brackets(i, f) => {
                    let new = rescaled(shipped.get(i), f);
                    book.set_brackets(i, new).unwrap();
                }
                Op::Recompute => book.reevaluate_all(),
            }
            check(&book)?;
        }
    }
}
