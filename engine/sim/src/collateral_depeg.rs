//! A collateral asset depegs on one venue only: which accounts does a
//! single-venue valuation liquidate, and which does gavel's index?
//!
//! The world: a dollar stablecoin (`USDe`-like, haircut 10 %) quoted on three
//! venues at 1 ± 0.1 %; BTC at 95,000 on every venue. Accounts post the
//! stablecoin as collateral and hold a long BTC position at 2-15 × leverage.
//! From 40 s to 60 s of a 120 s run, BTC falls 5 % (everywhere) and one
//! venue's stablecoin book prints `depeg_per_mille` below one (or every venue
//! does, with `all_venues`: a real depeg). Each second every account is valued
//! twice: with the collateral at the depegging venue's own price (what Binance
//! did with USDe and wBETH on 10-11 Oct 2025) and at gavel's index
//! ([`gavel_engine::risk::collateral::index_price`]). An account is
//! liquidated the first second its equity is below maintenance.

use gavel_engine::risk::collateral::{index_price, valuation_at, CollateralAccount, CollateralAsset, AMOUNT_SCALE};
use gavel_engine::risk::instrument::RATE_SCALE;
use gavel_feeds::rng::SplitMix64;

/// The scenario's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DepegSpec {
    /// Seed of the accounts and the quote noise.
    pub seed: u64,
    /// Accounts.
    pub accounts: usize,
    /// How far the depegging venue prints below one, per mille.
    pub depeg_per_mille: i64,
    /// Every venue depegs (a real depeg), not one.
    pub all_venues: bool,
}

/// Liquidations under each valuation.
#[derive(serde::Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct DepegOutcome {
    /// Accounts liquidated when the collateral is valued on the depegging venue's book.
    pub single_venue: usize,
    /// Accounts liquidated when it is valued at gavel's index.
    pub index: usize,
    /// Liquidated on the single venue but never at the index.
    pub single_venue_only: usize,
    /// Seconds in which the index dropped a venue as an outlier.
    pub index_outlier_seconds: usize,
    /// Lowest index and lowest single-venue price seen, quote units.
    pub lowest_index: i128,
    /// See `lowest_index`.
    pub lowest_single_venue: i128,
}

const STABLE: usize = 0;
const BTC: usize = 1;
const BTC_PRICE: i128 = 95_000_000_000;
const BAND: i128 = 3 * RATE_SCALE / 100;

fn assets() -> [CollateralAsset; 2] {
    [
        CollateralAsset { symbol: "USDe".into(), is_quote: false, haircut: RATE_SCALE / 10, maintenance_rate: RATE_SCALE / 100, sources: Vec::new() },
        CollateralAsset { symbol: "BTC".into(), is_quote: false, haircut: RATE_SCALE / 20, maintenance_rate: RATE_SCALE / 200, sources: Vec::new() },
    ]
}

/// The generated accounts: 1,000-100,000 of the stablecoin, long BTC at 2-15 × its value.
pub fn generate_accounts(spec: &DepegSpec) -> Vec<CollateralAccount> {
    let mut rng = SplitMix64::new(spec.seed ^ 0xde9e_9000);
    (0..spec.accounts)
        .map(|i| {
            let amount = rng.range_i64(1_000, 100_000) as i128 * AMOUNT_SCALE;
            let leverage_tenths = rng.range_i64(20, 150) as i128;
            // units = amount × leverage ÷ BTC price (one stable ≈ one quote), in 10⁻⁸ BTC.
            let units = amount * leverage_tenths * 1_000_000 / 10 / BTC_PRICE;
            CollateralAccount { id: format!("depeg-{i}"), collateral: vec![(STABLE, amount)], positions: vec![(BTC, units)] }
        })
        .collect()
}

/// Runs the 120 s scenario.
pub fn run(spec: &DepegSpec) -> DepegOutcome {
    let assets = assets();
    let accounts = generate_accounts(spec);
    let mut rng = SplitMix64::new(spec.seed ^ 0x9e95_11ce);
    let (mut by_single, mut by_index) = (vec![false; accounts.len()], vec![false; accounts.len()]);
    let mut out = DepegOutcome { lowest_index: i128::MAX, lowest_single_venue: i128::MAX, ..DepegOutcome::default() };
    for second in 0..120i64 {
        let in_window = (40..60).contains(&second);
        // BTC: −5 % linearly over the window, back half of it after.
        let fall_per_mille = match second {
            s if s < 40 => 0,
            s if s < 60 => (s - 39) * 50 / 20,
            _ => 25,
        };
        let btc = BTC_PRICE * i128::from(1000 - fall_per_mille) / 1000;
        let venues: Vec<i128> = (0..3)
            .map(|v| {
                let noise = i128::from(rng.range_i64(-1_000, 1_000)); // ±0.1 % of one (10⁻⁶ units)
                let depegged = in_window && (v == 0 || spec.all_venues);
                if depegged { 1_000_000 - i128::from(spec.depeg_per_mille) * 1_000 + noise } else { 1_000_000 + noise }
            })
            .collect();
        let index = index_price(&venues, BAND).expect("three venues");
        out.index_outlier_seconds += usize::from(index.dropped > 0);
        out.lowest_index = out.lowest_index.min(index.price);
        out.lowest_single_venue = out.lowest_single_venue.min(venues[0]);
        for (k, a) in accounts.iter().enumerate() {
            // Positions carry PnL from their entry at 95,000 to now.
            let fails = |stable: i128| valuation_at(&assets, &[1_000_000, BTC_PRICE], &[stable, btc], a).fails();
            by_single[k] |= !by_single[k] && fails(venues[0]);
            by_index[k] |= !by_index[k] && fails(index.price);
        }
    }
    out.single_venue = by_single.iter().filter(|&&b| b).count();
    out.index = by_index.iter().filter(|&&b| b).count();
    out.single_venue_only = by_single.iter().zip(&by_index).filter(|(&s, &i)| s && !i).count();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(all_venues: bool) -> DepegSpec {
        DepegSpec { seed: 7, accounts: 2_000, depeg_per_mille: 350, all_venues }
    }

    #[test]
    fn one_venue_depegging_liquidates_on_that_venue_only() {
        let o = run(&spec(false));
        // At most 15 × leverage, the 5 % BTC fall alone liquidates no one (0.9 > 15 × (5 % + 0.5 % × 95 %));
        // valued on the thin venue (collateral × 0.65) everyone above about 10.7 × goes.
        assert_eq!(o.index, 0, "{o:?}");
        assert!(o.single_venue > 500, "{o:?}");
        assert_eq!(o.single_venue_only, o.single_venue);
        // The index dropped the thin venue through the whole window and stayed near one.
        assert_eq!(o.index_outlier_seconds, 20);
        assert!(o.lowest_index >= 998_000 && o.lowest_single_venue <= 651_000, "{o:?}");
        assert_eq!(run(&spec(false)), o);
    }

    #[test]
    fn a_real_depeg_on_every_venue_is_not_hidden_by_the_index() {
        let o = run(&spec(true));
        assert_eq!(o.index, o.single_venue, "{o:?}");
        assert_eq!(o.index_outlier_seconds, 0);
        assert!(o.lowest_index <= 651_000);
    }
}
