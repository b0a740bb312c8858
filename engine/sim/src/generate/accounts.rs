//! The synthetic account book of a generated crash: leveraged accounts with
//! one position each around a reference price, written as `accounts.csv` and
//! `positions.csv` (formats: docs/INSTRUMENTS.md).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use gavel_feeds::decimal::{pow10, Decimal, Grid};
use gavel_feeds::rng::SplitMix64;

/// Parameters of a synthetic leveraged account book around one instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountBookSpec {
    /// Generator seed.
    pub seed: u64,
    /// Number of accounts.
    pub accounts: usize,
    /// Instrument symbol written into the positions file.
    pub symbol: String,
    /// Reference (entry) price in ticks.
    pub reference_price_ticks: i64,
    /// Tick size.
    pub tick_size: Decimal,
    /// Lot size.
    pub lot_size: Decimal,
    /// Share of accounts that are long, per mille.
    pub long_per_mille: u64,
    /// Share of accounts in isolated margin, per mille.
    pub isolated_per_mille: u64,
}

/// One generated account and its position (money in whole quote units × 10^-2, i.e. cents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedAccount {
    /// Account name.
    pub name: String,
    /// Collateral in cents of the quote asset.
    pub collateral_cents: i64,
    /// `cross` or `isolated`.
    pub margin_mode: &'static str,
    /// Signed size in lots.
    pub size_lots: i64,
    /// Entry price in ticks.
    pub entry_ticks: i64,
    /// Leverage the account was drawn with (notional ÷ collateral).
    pub leverage: u32,
}

/// Leverage buckets `(upper bound of the draw per mille, low, high)`: most
/// accounts run 2–10×, a tail runs 20–100× (the accounts a crash wipes out first).
pub(crate) const LEVERAGE_BUCKETS: [(u64, u32, u32); 5] = [(400, 2, 5), (700, 5, 10), (900, 10, 20), (980, 20, 50), (1000, 50, 100)];

/// Generates a deterministic account book: leverage from [`LEVERAGE_BUCKETS`],
/// notional roughly log-uniform from 1,000 to 1,000,000 quote, entries within
/// ±0.5 % of the reference price.
pub fn generate_account_book(spec: &AccountBookSpec) -> anyhow::Result<Vec<GeneratedAccount>> {
    let mut rng = SplitMix64::new(spec.seed ^ 0xacc0_b00c);
    let tick = grid(spec.tick_size)?;
    let lot = grid(spec.lot_size)?;
    // One tick is tick.step() × 10^-tick.decimals() quote, likewise a lot.
    let (tick, lot) = ((i128::from(tick.step()), u32::from(tick.decimals())), (i128::from(lot.step()), u32::from(lot.decimals())));
    let scale = pow10(tick.1 + lot.1).ok_or_else(|| anyhow::anyhow!("tick and lot sizes with more than 38 decimals together"))?;
    let mut out = Vec::with_capacity(spec.accounts);
    for i in 0..spec.accounts {
        let draw = rng.below(1000);
        let (_, low, high) = LEVERAGE_BUCKETS.iter().copied().find(|b| draw < b.0).unwrap_or(LEVERAGE_BUCKETS[4]);
        let leverage = low + rng.below(u64::from(high - low) + 1) as u32;
        // Notional: 1,000 × 10^(k/1000 × 3) quote, k uniform in [0, 1000); powers of ten by integer steps.
        let decades = rng.below(3000);
        let mut notional_quote: i64 = 1000;
        for _ in 0..decades / 1000 {
            notional_quote *= 10;
        }
        notional_quote = notional_quote * (1000 + (decades % 1000) as i64 * 9) / 1000;
        let spread = (spec.reference_price_ticks / 200).max(1);
        let entry_ticks = spec.reference_price_ticks + rng.range_i64(-spread, spread);
        // lots = notional / (entry_ticks × tick × lot), in exact integer arithmetic on decimal parts.
        let value_per_lot_scaled = i128::from(entry_ticks) * tick.0 * lot.0; // × 10^-(tick.1 + lot.1)
        let notional_scaled = i128::from(notional_quote) * scale;
        let lots = (notional_scaled / value_per_lot_scaled.max(1)).max(1) as i64;
        let long = rng.below(1000) < spec.long_per_mille;
        let isolated = rng.below(1000) < spec.isolated_per_mille;
        let actual_notional_cents = (i128::from(lots) * value_per_lot_scaled * 100 / scale) as i64;
        let collateral_cents = (actual_notional_cents / i64::from(leverage)).max(100);
        out.push(GeneratedAccount {
            name: format!("acct{:06}", i + 1),
            collateral_cents,
            margin_mode: if isolated { "isolated" } else { "cross" },
            size_lots: if long { lots } else { -lots },
            entry_ticks,
            leverage,
        });
    }
    Ok(out)
}

fn grid(unit: Decimal) -> anyhow::Result<Grid> {
    Grid::from_decimal(unit).map_err(|e| anyhow::anyhow!("decimal step {:?}: {e}", unit.to_string()))
}

/// Formats `count` steps of `unit` exactly, with the places the unit needs
/// (60001 of `0.1` → `6000.1`; trailing zeros of the unit add none).
pub fn format_units(count: i64, unit: Decimal) -> String {
    Decimal::from_units(i128::from(count), unit.normalized()).to_string()
}

/// One account with its one position, as the text written to the CSV files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookRow<'a> {
    /// Account name.
    pub name: &'a str,
    /// Collateral (also the isolated margin of an isolated account), decimal text.
    pub collateral: String,
    /// Isolated (else cross) margin.
    pub isolated: bool,
    /// Instrument symbol.
    pub symbol: &'a str,
    /// Signed size, decimal text.
    pub size: String,
    /// Entry price, decimal text.
    pub entry_price: String,
}

/// Writes `accounts.csv` (`account,collateral,margin_mode`) and `positions.csv`
/// (`account,instrument,size,entry_price,isolated_margin`), one row each per account.
pub fn write_book_files<'a>(rows: impl IntoIterator<Item = BookRow<'a>>, dir: &Path) -> anyhow::Result<()> {
    let mut accounts = String::from("account,collateral,margin_mode\n");
    let mut positions = String::from("account,instrument,size,entry_price,isolated_margin\n");
    for r in rows {
        let mode = if r.isolated { "isolated" } else { "cross" };
        let _ = writeln!(accounts, "{},{},{}", r.name, r.collateral, mode);
        let isolated_margin = if r.isolated { r.collateral.as_str() } else { "" };
        let _ = writeln!(positions, "{},{},{},{},{}", r.name, r.symbol, r.size, r.entry_price, isolated_margin);
    }
    gavel_feeds::atomic_file::write_atomic(dir.join("accounts.csv"), accounts).context("writing accounts.csv")?;
    gavel_feeds::atomic_file::write_atomic(dir.join("positions.csv"), positions).context("writing positions.csv")?;
    Ok(())
}

/// Writes a generated book's `accounts.csv` and `positions.csv` ([`write_book_files`]).
pub fn write_account_book(spec: &AccountBookSpec, book: &[GeneratedAccount], dir: &Path) -> anyhow::Result<()> {
    let rows = book.iter().map(|a| BookRow {
        name: &a.name,
        collateral: format_units(a.collateral_cents, Decimal { mantissa: 1, scale: 2 }),
        isolated: a.margin_mode == "isolated",
        symbol: &spec.symbol,
        size: format_units(a.size_lots, spec.lot_size),
        entry_price: format_units(a.entry_ticks, spec.tick_size),
    });
    write_book_files(rows, dir)
}

/// Writes a generated book as coin-margined accounts on the inverse `symbol` (contracts of
/// 100 USD, money in BTC): each account keeps its side, entry price and leverage; its
/// size becomes the nearest whole number of contracts to its USD notional (at least one)
/// and its collateral the same USD amount in BTC at its entry price (rounded down to
/// 10^-6 BTC, at least 10^-6).
pub fn write_inverse_account_book(spec: &AccountBookSpec, book: &[GeneratedAccount], symbol: &str, dir: &Path) -> anyhow::Result<()> {
    let tick = grid(spec.tick_size)?;
    let lot = grid(spec.lot_size)?;
    let (tick_step, tick_places) = (i128::from(tick.step()), u32::from(tick.decimals()));
    let scale = pow10(tick_places + u32::from(lot.decimals())).ok_or_else(|| anyhow::anyhow!("tick and lot sizes with more than 38 decimals together"))?;
    let tick_scale = pow10(tick_places).ok_or_else(|| anyhow::anyhow!("tick size with more than 38 decimals"))?;
    let micro = Decimal { mantissa: 1, scale: 6 };
    let rows: Vec<(String, String, String)> = book
        .iter()
        .map(|a| {
            let entry = i128::from(a.entry_ticks);
            // USD notional × scale = |lots| × lot step × entry × tick step.
            let usd_scaled = i128::from(a.size_lots).abs() * i128::from(lot.step()) * entry * tick_step;
            let contracts = ((usd_scaled + 50 * scale) / (100 * scale)).max(1) as i64;
            // BTC units = cents × 10^4 ÷ entry USD, entry USD = entry × tick step ÷ 10^places.
            let units = (i128::from(a.collateral_cents) * 10_000 * tick_scale / (entry * tick_step).max(1)).max(1);
            let size = if a.size_lots < 0 { -contracts } else { contracts };
            (Decimal::from_units(units, micro).to_string(), size.to_string(), format_units(a.entry_ticks, spec.tick_size))
        })
        .collect();
    let rows = book.iter().zip(&rows).map(|(a, (collateral, size, entry))| BookRow {
        name: &a.name,
        collateral: collateral.clone(),
        isolated: a.margin_mode == "isolated",
        symbol,
        size: size.clone(),
        entry_price: entry.clone(),
    });
    write_book_files(rows, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AccountBookSpec {
        AccountBookSpec {
            seed: 3,
            accounts: 2000,
            symbol: "BTCUSDT".into(),
            reference_price_ticks: 600_000,
            tick_size: Decimal { mantissa: 1, scale: 1 },
            lot_size: Decimal { mantissa: 1, scale: 3 },
            long_per_mille: 700,
            isolated_per_mille: 200,
        }
    }


    #[test]
    fn account_book_is_deterministic_with_a_realistic_leverage_mix() {
        let book = generate_account_book(&spec()).unwrap();
        assert_eq!(book, generate_account_book(&spec()).unwrap());
        assert_eq!(book.len(), 2000);
        let longs = book.iter().filter(|a| a.size_lots > 0).count();
        assert!((1250..=1550).contains(&longs), "{longs} longs of 2000");
        let high = book.iter().filter(|a| a.leverage >= 20).count();
        assert!((100..=260).contains(&high), "{high} accounts at 20x or more");
        for a in &book {
            assert!((2..=100).contains(&a.leverage));
            assert!((597_000..=603_000).contains(&a.entry_ticks));
            assert!(a.size_lots != 0 && a.collateral_cents >= 100);
            // Collateral × leverage ≈ notional (within the 1-cent floor and lot rounding).
            let notional_cents = a.size_lots.abs() as i128 * a.entry_ticks as i128 * 100 / 10_000;
            let implied = notional_cents / a.collateral_cents as i128;
            assert!(implied <= a.leverage as i128 && implied + 1 >= a.leverage as i128 - 1, "{a:?}");
        }
    }


    #[test]
    fn units_format_exactly() {
        let unit = |s: &str| Decimal::parse(s).unwrap();
        assert_eq!(format_units(600_001, unit("0.1")), "60000.1");
        assert_eq!(format_units(-1234, unit("0.001")), "-1.234");
        assert_eq!(format_units(5, unit("1")), "5");
        assert_eq!(format_units(7, unit("0.01")), "0.07");
        assert_eq!(format_units(3, unit("0.5")), "1.5");
        assert_eq!(format_units(3, unit("0.50")), "1.5");
    }

}
