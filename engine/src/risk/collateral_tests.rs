use super::*;
use crate::risk::collateral_toml::CollateralBook;
use proptest::prelude::*;

const EXAMPLE: &str = include_str!("../../../docs/examples/collateral.toml");
const R: i128 = RATE_SCALE;

fn example() -> CollateralBook {
    CollateralBook::parse(EXAMPLE, "collateral.toml").expect("the example parses")
}

fn account<'a>(book: &'a CollateralBook, id: &str) -> &'a CollateralAccount {
    book.accounts.iter().find(|a| a.id == id).unwrap()
}

#[test]
fn the_index_drops_the_venue_far_from_the_others() {
    let book = example();
    let index = book.index();
    // USDT is the quote asset; BTC: median of 94,990 / 95,000 / 95,012.5, nothing dropped.
    assert_eq!(index[0].price, 1_000_000);
    assert_eq!((index[1].price, index[1].dropped), (95_000_000_000, 0));
    // USDe: Binance spot at 0.6567 is 34 % under the median; the other two average 0.9988.
    assert_eq!(index[3], IndexPrice { price: 998_800, dropped: 1, fallback_lowest: false });
    // Two venues that disagree by more than the band: the index cannot tell, takes the lower.
    assert_eq!(index_price(&[1_000_000, 700_000], 3_000_000), Some(IndexPrice { price: 700_000, dropped: 1, fallback_lowest: true }));
    assert_eq!(index_price(&[], R / 100), None);
}

#[test]
fn a_long_on_stable_collateral_fails_on_the_fall() {
    let book = example();
    let index: Vec<i128> = book.index().iter().map(|i| i.price).collect();
    let r = stress(&book.assets, &index, account(&book, "btc-long-on-usdt"), book.stress);
    // Now: 30,000 USDT, no PnL; maintenance 2 × 95,000 × 0.5 % = 950.
    assert_eq!(r.now, Valuation { collateral: 30_000_000_000, position_pnl: 0, equity: 30_000_000_000, maintenance: 950_000_000 });
    // BTC −25 %: 71,250; PnL 2 × −23,750 = −47,500; equity −17,500; maintenance 712.5.
    assert!(r.fall_is_worse);
    assert_eq!(r.stressed, Valuation { collateral: 30_000_000_000, position_pnl: -47_500_000_000, equity: -17_500_000_000, maintenance: 712_500_000 });
    assert!(r.stressed.fails());
    assert_eq!(r.fund_needed, 17_500_000_000);
}

#[test]
fn a_short_on_coin_collateral_is_stressed_on_the_rise() {
    let book = example();
    let index: Vec<i128> = book.index().iter().map(|i| i.price).collect();
    let r = stress(&book.assets, &index, account(&book, "eth-short-on-btc"), book.stress);
    // Collateral 0.6 BTC × 95,000 × 0.95 = 54,150 now; ETH index 3,500.1.
    assert_eq!(r.now.collateral, 54_150_000_000);
    // Rise: collateral 0.6 × 118,750 × 0.95 = 67,687.5; PnL −25 × 875.025 = −21,875.625.
    assert!(!r.fall_is_worse);
    assert_eq!((r.stressed.collateral, r.stressed.position_pnl), (67_687_500_000, -21_875_625_000));
    assert_eq!(r.stressed.maintenance, 546_890_625);
    assert!(!r.stressed.fails());
    assert_eq!(r.fund_needed, 0);
}

#[test]
fn bad_input_names_file_line_and_field() {
    let cases: [(&str, &str, &str); 10] = [
        ("haircut = \"0.05\"", "haircut = \"1\"", "asset.haircut"),
        ("haircut = \"0.05\"", "haircut = \"-0.1\"", "asset.haircut"),
        ("band = \"0.03\"", "band = \"nan\"", "band"),
        ("stress = \"0.25\"", "stress = \"1.5\"", "stress"),
        ("sources = [{ venue = \"binance\", price = \"95000\" }, { venue = \"okx\", price = \"95012.5\" }, { venue = \"coinbase\", price = \"94990\" }]", "sources = []", "asset.sources"),
        ("sources = [{ venue = \"binance\", price = \"95000\" }, { venue = \"okx\", price = \"95012.5\" }, { venue = \"coinbase\", price = \"94990\" }]", "sources = [{ venue = \"binance\", price = \"95000\" }]", "asset.sources"),
        ("venue = \"okx\", price = \"95012.5\"", "venue = \"okx\", price = \"0\"", "asset.sources.price"),
        ("{ asset = \"USDT\", amount = \"30000\" }", "{ asset = \"DAI\", amount = \"30000\" }", "account.collateral.asset"),
        ("{ asset = \"USDT\", amount = \"30000\" }", "{ asset = \"USDT\", amount = \"-1\" }", "account.collateral.amount"),
        ("quote = true", "quote = true\nsources = [{ venue = \"x\", price = \"1\" }]", "asset.sources"),
    ];
    for (from, to, field) in cases {
        assert!(EXAMPLE.contains(from), "{from}");
        let text = EXAMPLE.replacen(from, to, 1);
        let e = CollateralBook::parse(&text, "c.toml").expect_err(to);
        assert_eq!((e.source.as_str(), e.field.as_str()), ("c.toml", field), "{to}: {e}");
        assert!(matches!(e.location, gavel_feeds::Location::Line(n) if n > 1), "{e}");
    }
    let e = CollateralBook::parse(&EXAMPLE.replacen("sources = [{ venue = \"binance\", price = \"95000\" }, { venue = \"okx\", price = \"95012.5\" }, { venue = \"coinbase\", price = \"94990\" }]", "", 1), "c.toml").unwrap_err();
    assert!(e.message.contains("never one venue's book"), "{e}");
}

proptest! {
    /// One venue far from several that agree cannot move the index.
    #[test]
    fn one_outlier_cannot_move_an_agreeing_index(base in 1_000i128..1_000_000_000, n in 3usize..8,
                                                 offsets in proptest::collection::vec(-250i128..=250, 8),
                                                 outlier_bp in prop_oneof![-9_900i128..=-700, 700i128..=50_000]) {
        let band = 3 * R / 100; // 3 %
        // Honest venues within ±0.25 % of base; the outlier at least 7 % away.
        let honest: Vec<i128> = offsets[..n].iter().map(|o| base + base * o / 100_000).collect();
        let outlier = base + base * outlier_bp / 10_000;
        prop_assume!(outlier > 0);
        let alone = index_price(&honest, band).unwrap();
        let mut all = honest.clone();
        all.push(outlier);
        let with = index_price(&all, band).unwrap();
        prop_assert_eq!(with.price, alone.price);
        prop_assert_eq!(with.dropped, 1);
        prop_assert!(!with.fallback_lowest);
    }

    /// The index lies between the lowest and highest venue.
    #[test]
    fn the_index_is_between_the_venues(prices in proptest::collection::vec(1i128..1_000_000_000_000, 1..9), band in 0i128..R) {
        let i = index_price(&prices, band).unwrap();
        prop_assert!(i.price >= *prices.iter().min().unwrap() && i.price <= *prices.iter().max().unwrap());
    }

    /// A larger haircut never raises equity; without a move positions carry no PnL.
    #[test]
    fn haircuts_only_lower_equity(amount in 0i128..1_000_000_000_000, price in 1i128..1_000_000_000_000, h1 in 0i128..R, h2 in 0i128..R,
                                  units in -1_000_000_000_000i128..1_000_000_000_000, shift in -(R - 1)..R) {
        let asset = |haircut| CollateralAsset { symbol: "X".into(), is_quote: false, haircut, maintenance_rate: R / 200, sources: vec![] };
        let acct = CollateralAccount { id: "a".into(), collateral: vec![(0, amount)], positions: vec![(0, units)] };
        let (lo, hi) = (h1.min(h2), h1.max(h2));
        let v_lo = valuation(&[asset(lo)], &[price], &acct, shift);
        let v_hi = valuation(&[asset(hi)], &[price], &acct, shift);
        prop_assert!(v_hi.equity <= v_lo.equity);
        prop_assert_eq!(valuation(&[asset(lo)], &[price], &acct, 0).position_pnl, 0);
        // Rounding never in the holder's favour: collateral ≤ the exact value.
        prop_assert!(v_lo.collateral * AMOUNT_SCALE * R <= amount * div_floor(price * (R + shift), R) * (R - lo));
    }
}
