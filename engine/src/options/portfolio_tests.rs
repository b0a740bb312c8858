use super::*;
use crate::options::black76::Black76;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../docs/examples/options.toml");

fn example() -> OptionsBook {
    OptionsBook::parse(EXAMPLE, "options.toml").expect("the example parses")
}

fn account<'a>(book: &'a OptionsBook, id: &str) -> &'a OptionsAccount {
    book.accounts.iter().find(|a| a.id == id).expect("account in the example")
}

#[test]
fn the_example_loads_with_every_part() {
    let book = example();
    assert_eq!((book.underlyings.len(), book.series.len(), book.accounts.len()), (2, 4, 5));
    assert_eq!(book.stress, StressGrid { range: 0.15, steps: 7, vol_shift: 0.3 });
    assert_eq!(book.accounts[0].collateral, 400_000 * QUOTE_SCALE);
    assert_eq!(book.series[0].kind, OptionKind::Put);
}

#[test]
fn a_put_sellers_worst_case_is_a_fall_with_vol_up_and_the_margin_is_that_loss() {
    let book = example();
    let market = MarketState::at_valuation(&book);
    let seller = account(&book, "put-seller");
    let risk = assess(&book, seller, &market).unwrap();
    let e = risk.exposures[0];
    assert_eq!((e.worst_move, e.worst_vol_scale), (-0.15, 1.3));
    assert!(e.greeks.delta > 0.0 && e.greeks.gamma < 0.0 && e.greeks.vega < 0.0 && e.greeks.theta > 0.0);
    // The loss recomputed here, directly from the model, at the worst scenario.
    let mut crash = market.clone();
    crash.prices[0] *= 0.85;
    crash.vol_scale[0] = 1.3;
    let loss: f64 = seller
        .options
        .iter()
        .map(|p| {
            let s = &book.series[p.series];
            -(p.contracts as f64) * s.contract_size * (s.model(&crash).unwrap().price() - s.model(&market).unwrap().price())
        })
        .sum();
    assert_eq!(risk.margin, to_units(loss, true));
    // Equity: collateral minus what buying the puts back would cost at the model price.
    let value: f64 = seller.options.iter().map(|p| p.contracts as f64 * book.series[p.series].contract_size * book.series[p.series].model(&market).unwrap().price()).sum();
    assert!(value < 0.0);
    assert_eq!(risk.equity, seller.collateral + to_units(value, false));
}

#[test]
fn a_delta_hedge_lowers_the_margin_of_a_put_seller() {
    let book = example();
    let market = MarketState::at_valuation(&book);
    let naked = assess(&book, account(&book, "put-seller"), &market).unwrap();
    let hedged = assess(&book, account(&book, "delta-hedged-seller"), &market).unwrap();
    assert!(hedged.exposures[0].greeks.delta.abs() < naked.exposures[0].greeks.delta.abs());
    assert!(hedged.margin < naked.margin, "{} vs {}", hedged.margin, naked.margin);
}

#[test]
fn a_buyer_never_owes_more_than_the_premium() {
    let book = example();
    let market = MarketState::at_valuation(&book);
    let buyer = account(&book, "option-buyer");
    let risk = assess(&book, buyer, &market).unwrap();
    let premium = to_units(risk.exposures.iter().map(|e| e.option_value).sum(), true);
    assert!(risk.margin > 0 && risk.margin <= premium, "{} vs {}", risk.margin, premium);
    assert_eq!(risk.exposures.len(), 2);
    assert!(!risk.liquidatable());
}

#[test]
fn a_series_without_a_vol_reads_its_underlyings_surface() {
    let book = example();
    let eth_put = book.series.iter().find(|s| s.symbol == "ETH-25DEC26-3200-P").unwrap();
    assert_eq!(eth_put.vol, 0.70);
    // Moved between the nodes: linear in ln(strike) between 3,200 (0.70) and 3,600 (0.64).
    let text = EXAMPLE.replacen("strike = \"3200\"\nexpiry", "strike = \"3400\"\nexpiry", 1);
    let moved = OptionsBook::parse(&text, "o.toml").unwrap();
    let v = moved.series.iter().find(|s| s.underlying == 1).unwrap().vol;
    let want = 0.70 + (0.64 - 0.70) * (3400.0f64 / 3200.0).ln() / (3600.0f64 / 3200.0).ln();
    assert!((v - want).abs() < 1e-12, "{v} vs {want}");
}

#[test]
fn bad_input_names_file_line_and_field() {
    let cases: [(&str, &str, &str); 12] = [
        ("expiry = \"2026-12-25T08:00:00Z\"", "expiry = \"2026-12-01T08:00:00Z\"", "series.expiry"),
        ("strike = \"90000\"", "strike = \"-90000\"", "series.strike"),
        ("strike = \"90000\"", "strike = \"0\"", "series.strike"),
        ("underlying = \"BTC\"\nkind = \"put\"\nstrike = \"90000\"", "kind = \"put\"\nstrike = \"90000\"", "series.underlying"),
        ("underlying = \"BTC\"\nkind = \"put\"\nstrike = \"90000\"", "underlying = \"SOL\"\nkind = \"put\"\nstrike = \"90000\"", "series.underlying"),
        ("\nvol = \"0.55\"", "\nvol = \"0\"", "series.vol"),
        ("\nvol = \"0.55\"", "\nvol = \"nan\"", "series.vol"),
        ("\nvol = \"0.55\"", "\nvol = \"-0.2\"", "series.vol"),
        ("half_spread = \"0.02\"", "half_spread = \"1\"", "series.half_spread"),
        ("steps = 7", "steps = 8", "stress.steps"),
        ("contracts = -200 }, { series", "contracts = 0 }, { series", "account.options.contracts"),
        ("collateral = \"400000\"", "collateral = \"-1\"", "account.collateral"),
    ];
    for (from, to, field) in cases {
        assert!(EXAMPLE.contains(from), "{from}");
        let text = EXAMPLE.replacen(from, to, 1);
        let e = OptionsBook::parse(&text, "o.toml").expect_err(to);
        assert_eq!((e.source.as_str(), e.field.as_str()), ("o.toml", field), "{to}: {e}");
        let first = to.trim_start_matches('\n').lines().next().unwrap();
        let want_line = 1 + text[..text.find(first).unwrap()].matches('\n').count() as u64;
        if field != "series.underlying" || to.starts_with("underlying") {
            assert_eq!(e.location, gavel_feeds::Location::Line(want_line), "{to}: {e}");
        }
    }
    // The surface: no vol and no surface; a surface on an unknown underlying; a duplicate node.
    let no_surface = EXAMPLE.replacen("[[surface]]\nunderlying = \"ETH\"", "[[surface]]\nunderlying = \"BTC\"", 1);
    let e = OptionsBook::parse(&no_surface, "o.toml").unwrap_err();
    assert_eq!((e.field.as_str(), e.location), ("series.vol", gavel_feeds::Location::Line(1 + no_surface[..no_surface.find("symbol = \"ETH-25DEC26-3200-P\"").unwrap()].matches('\n').count() as u64)), "{e}");
    let e = OptionsBook::parse(&EXAMPLE.replacen("underlying = \"ETH\"\nnodes", "underlying = \"SOL\"\nnodes", 1), "o.toml").unwrap_err();
    assert_eq!(e.field, "surface.underlying", "{e}");
    let e = OptionsBook::parse(&EXAMPLE.replacen("strike = \"3600\", vol = \"0.64\"", "strike = \"3200\", vol = \"0.64\"", 1), "o.toml").unwrap_err();
    assert_eq!(e.field, "surface.nodes", "{e}");
    let e = OptionsBook::parse(&EXAMPLE.replacen("strike = \"3600\", vol = \"0.64\"", "strike = \"3600\", vol = \"0\"", 1), "o.toml").unwrap_err();
    assert_eq!(e.field, "surface.nodes.vol", "{e}");
    let e = OptionsBook::parse("valuation_time = \"2026-12-04\"\n", "o.toml").unwrap_err();
    assert_eq!(e.field, "valuation_time");
    let e = OptionsBook::parse("valuation_time = \"2026-12-04T00:00:00Z\"\nextra = 1\n", "o.toml").unwrap_err();
    assert_eq!(e.field, "(toml)");
}

fn one_series_book(kind: OptionKind, strike_ratio: f64, days: f64, vol: f64) -> OptionsBook {
    OptionsBook {
        valuation_ms: 1_000_000_000_000,
        underlyings: vec![Underlying { symbol: "X".into(), price: 1000.0, lot_size: 0.01, depth_per_bp: 10.0, realized_vol: 0.6 }],
        series: vec![
            Series { symbol: "A".into(), underlying: 0, kind, strike: 1000.0 * strike_ratio, expiry_ms: 1_000_000_000_000 + (days * 86_400_000.0) as u64, contract_size: 1.0, vol, half_spread: 0.02 },
            Series { symbol: "B".into(), underlying: 0, kind: OptionKind::Call, strike: 1100.0, expiry_ms: 1_000_000_000_000 + 30 * 86_400_000, contract_size: 1.0, vol: 0.5, half_spread: 0.02 },
        ],
        stress: StressGrid { range: 0.2, steps: 9, vol_shift: 0.25 },
        accounts: vec![],
    }
}

proptest! {
    /// Netting: a portfolio's margin is never more than the sum of its positions' margins
    /// (worst case of a sum ≤ sum of worst cases), up to one unit of rounding per position.
    #[test]
    fn margin_is_subadditive_and_at_least_every_scenario_loss(
        kind in prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)],
        ratio in 0.7f64..1.3, days in 1.0f64..200.0, vol in 0.1f64..2.0,
        a in -500i64..500, b in -500i64..500, lots in -50_000i64..50_000,
    ) {
        prop_assume!(a != 0 && b != 0 && lots != 0);
        let book = one_series_book(kind, ratio, days, vol);
        let market = MarketState::at_valuation(&book);
        let acct = |options: Vec<OptionPosition>, perps: Vec<PerpPosition>| OptionsAccount { id: "x".into(), collateral: 0, options, perps };
        let (pa, pb, pp) = (OptionPosition { series: 0, contracts: a }, OptionPosition { series: 1, contracts: b }, PerpPosition { underlying: 0, lots });
        let whole = assess(&book, &acct(vec![pa, pb], vec![pp]), &market).unwrap();
        let parts: i128 = [acct(vec![pa], vec![]), acct(vec![pb], vec![]), acct(vec![], vec![pp])]
            .iter().map(|x| assess(&book, x, &market).unwrap().margin).sum();
        prop_assert!(whole.margin <= parts + 3, "{} > {}", whole.margin, parts);
        prop_assert!(whole.margin >= 0);
        // At least the loss of a scenario on the grid checked directly: the largest fall at the highest vol.
        let mut s = market.clone();
        s.prices[0] *= 0.8;
        s.vol_scale[0] = 1.25;
        let value = |m: &MarketState| -> f64 {
            [pa, pb].iter().map(|p| p.contracts as f64 * book.series[p.series].model(m).unwrap().price()).sum::<f64>()
                + lots as f64 * 0.01 * m.prices[0]
        };
        let loss = value(&market) - value(&s);
        prop_assert!(whole.margin >= to_units(loss, false), "{} < {}", whole.margin, loss);
    }

    /// Doubling every position doubles the margin (to rounding).
    #[test]
    fn margin_scales_with_size(ratio in 0.7f64..1.3, days in 1.0f64..200.0, vol in 0.1f64..2.0, a in -500i64..500) {
        prop_assume!(a != 0);
        let book = one_series_book(OptionKind::Put, ratio, days, vol);
        let market = MarketState::at_valuation(&book);
        let m = |c: i64| assess(&book, &OptionsAccount { id: "x".into(), collateral: 0, options: vec![OptionPosition { series: 0, contracts: c }], perps: vec![] }, &market).unwrap().margin;
        prop_assert!((m(2 * a) - 2 * m(a)).abs() <= 2);
    }
}

#[test]
fn a_model_of_a_series_uses_the_market_state() {
    let book = example();
    let mut market = MarketState::at_valuation(&book);
    market.vol_scale[0] = 2.0;
    market.time_ms += 86_400_000;
    let s = &book.series[0];
    let m = s.model(&market).unwrap();
    let want = Black76::new(s.kind, 95_000.0, 90_000.0, (s.expiry_ms - market.time_ms) as f64 / 1000.0 / SECONDS_PER_YEAR, 1.1, 0.0).unwrap();
    assert_eq!(m, want);
    market.time_ms = s.expiry_ms;
    assert_eq!(s.model(&market), Err(PricingInputError::Expired));
}
