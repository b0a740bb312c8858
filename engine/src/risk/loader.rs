//! CSV loaders for accounts and positions.
//!
//! * accounts: `account,collateral[,margin_mode]` — collateral a decimal in the
//!   quote asset (≤ 6 decimals), margin_mode `cross` (default) or `isolated`.
//! * positions: `account,instrument,size,entry_price[,isolated_margin]` — size
//!   signed on the lot grid (base units for linear, contracts for inverse),
//!   entry price a decimal (an average need not be on the tick grid; the entry
//!   notional is rounded to the nearest unit once, here: linear
//!   `size × entry_price`, inverse `−size × contract_value ÷ entry_price` coin),
//!   isolated margin required for isolated accounts and refused for cross ones.
//!   Every position of a book settles in one asset (linear instruments in the
//!   quote asset, inverse ones in their `settlement_asset`); mixing is refused.
//!   Money columns (collateral, isolated margin) are in that asset.
//!
//! Bounds (so every margin computation stays inside `i128`, see
//! [`MAX_MONEY`] and [`MAX_POSITION_TICK_VALUE`]): collateral, isolated margin
//! and the entry notional are at most 10^18 quote units (10^12 quote
//! currency); a position's `|size| × quote_per_tick_lot` is at most 10^10.
//!
//! Fields are comma-separated and trimmed; no quoting. A first line whose
//! first field is `account` is a header. Blank lines and lines starting with
//! `#` are skipped. Any bad row stops the load with an
//! [`InputError`] naming file, line and field.

use gavel_feeds::{InputError, Location};

use super::account::MarginMode;
use super::book::RiskBook;
use super::decimal::{pow10, Decimal};
use super::instrument::{
    format_money, quote_unit, Instrument, MAX_INVERSE_POSITION_VALUE, MAX_MONEY, MAX_POSITION_TICK_VALUE, QUOTE_DECIMALS,
};

fn rows<'a>(text: &'a str) -> impl Iterator<Item = (u64, Vec<&'a str>)> + 'a {
    text.lines().enumerate().filter_map(|(i, line)| {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            return None;
        }
        let fields: Vec<&str> = t.split(',').map(str::trim).collect();
        if i == 0 && fields[0].eq_ignore_ascii_case("account") {
            return None;
        }
        Some((i as u64 + 1, fields))
    })
}

/// A money field: at most 6 decimals and at most [`MAX_MONEY`] in size.
fn money(source: &str, line: u64, field: &str, text: &str) -> Result<i128, InputError> {
    let err = |msg: String| InputError::new(source, Location::Line(line), field, msg);
    let d = Decimal::parse(text).map_err(|e| err(e.to_string()))?;
    let v = d.in_units_of(quote_unit()).ok_or_else(|| err(format!("{text:?} has more than 6 decimals or is out of range")))?;
    if v.abs() > MAX_MONEY {
        return Err(err(format!("{text} is beyond the bound of {} quote currency", format_money(MAX_MONEY, QUOTE_DECIMALS))));
    }
    Ok(v)
}

/// Loads accounts CSV text into `book`; `source` names the file in errors.
/// Returns the number of accounts added.
pub fn load_accounts(book: &mut RiskBook, text: &str, source: &str) -> Result<usize, InputError> {
    let mut n = 0;
    for (line, f) in rows(text) {
        let err = |field: &str, msg: String| InputError::new(source, Location::Line(line), field, msg);
        if f.len() < 2 || f.len() > 3 {
            return Err(err("(row)", format!("expected 2 or 3 fields, found {}", f.len())));
        }
        if f[0].is_empty() {
            return Err(err("account", "empty account name".into()));
        }
        let collateral = money(source, line, "collateral", f[1])?;
        if collateral < 0 {
            return Err(err("collateral", "must be ≥ 0".into()));
        }
        let mode = match f.get(2).copied().unwrap_or("cross") {
            "" | "cross" => MarginMode::Cross,
            "isolated" => MarginMode::Isolated,
            other => return Err(err("margin_mode", format!("{other:?} is not cross or isolated"))),
        };
        book.add_account(f[0], mode, collateral)
            .ok_or_else(|| err("account", format!("duplicate account {:?}", f[0])))?;
        n += 1;
    }
    Ok(n)
}

/// Loads positions CSV text into `book` (accounts must be loaded first).
/// Returns the number of positions set.
pub fn load_positions(book: &mut RiskBook, text: &str, source: &str) -> Result<usize, InputError> {
    let mut n = 0;
    // The settlement asset of the positions already in the book, if any; a book that already
    // mixes assets is refused before any row is read.
    let mut asset: Option<String> = book
        .settlement_asset()
        .map_err(|m| InputError::new(source, Location::Line(0), "instrument", m))?
        .map(str::to_string);
    for (line, f) in rows(text) {
        let err = |field: &str, msg: String| InputError::new(source, Location::Line(line), field, msg);
        if f.len() < 4 || f.len() > 5 {
            return Err(err("(row)", format!("expected 4 or 5 fields, found {}", f.len())));
        }
        let id = book
            .account_id(f[0])
            .ok_or_else(|| err("account", format!("unknown account {:?}", f[0])))?;
        let ins_id = book
            .instruments()
            .id(f[1])
            .ok_or_else(|| err("instrument", format!("unknown instrument {:?}", f[1])))?;
        let ins = book.instruments().get(ins_id);
        let size = ins.parse_size(f[2]).map_err(|m| err("size", m))?;
        let ep = Decimal::parse(f[3]).map_err(|e| err("entry_price", e.to_string()))?;
        if !ep.is_positive() {
            return Err(err("entry_price", "must be > 0".into()));
        }
        let entry_notional = if ins.is_inverse() {
            inverse_entry(ins, size, ep).map_err(|(field, m)| err(field, m))?
        } else {
            linear_entry(ins, size, ep).map_err(|(field, m)| err(field, m))?
        };
        if let Some(asset) = &asset {
            if *asset != ins.settlement_asset {
                let name = |a: &str| if a.is_empty() { "the quote asset".to_string() } else { a.to_string() };
                return Err(err(
                    "instrument",
                    format!(
                        "{} settles in {} but the book's positions settle in {}: one settlement asset per book (one insurance fund, one ledger)",
                        ins.symbol,
                        name(&ins.settlement_asset),
                        name(asset)
                    ),
                ));
            }
        }
        let acc = book.account(id);
        if acc.position(ins_id).is_some() {
            return Err(err("instrument", format!("duplicate position {}/{}", f[0], f[1])));
        }
        let iso = match (acc.mode, f.get(4).copied().filter(|s| !s.is_empty())) {
            (MarginMode::Cross, None) => 0,
            (MarginMode::Cross, Some(_)) => return Err(err("isolated_margin", "given for a cross-margin account".into())),
            (MarginMode::Isolated, None) => return Err(err("isolated_margin", "required for an isolated-margin account".into())),
            (MarginMode::Isolated, Some(t)) => {
                let v = money(source, line, "isolated_margin", t)?;
                if v < 0 {
                    return Err(err("isolated_margin", "must be ≥ 0".into()));
                }
                v
            }
        };
        if size != 0 {
            asset = Some(book.instruments().get(ins_id).settlement_asset.clone());
        }
        book.set_position(id, ins_id, size, entry_notional, iso);
        n += 1;
    }
    Ok(n)
}

type FieldError = (&'static str, String);

/// Linear entry notional `size × entry_price`, rounded to the nearest unit, within the bounds.
fn linear_entry(ins: &Instrument, size: i64, ep: Decimal) -> Result<i128, FieldError> {
    if i128::from(size).abs() * ins.quote_per_tick_lot > MAX_POSITION_TICK_VALUE {
        return Err((
            "size",
            format!(
                "{} lots is beyond the bound: |size| × tick value per lot must be at most {} quote currency per tick",
                size,
                format_money(MAX_POSITION_TICK_VALUE, QUOTE_DECIMALS)
            ),
        ));
    }
    let out_of_range = || {
        (
            "entry_price",
            format!("entry notional |size| × entry_price is beyond the bound of {} quote currency", format_money(MAX_MONEY, QUOTE_DECIMALS)),
        )
    };
    let mantissa = i128::from(size)
        .checked_mul(ins.lot_size.mantissa)
        .and_then(|m| m.checked_mul(ep.mantissa))
        .ok_or_else(out_of_range)?;
    let product = Decimal { mantissa, scale: ins.lot_size.scale + ep.scale };
    let entry_notional = product.in_units_of_rounded(quote_unit()).ok_or_else(out_of_range)?;
    if entry_notional.abs() > MAX_MONEY {
        return Err(out_of_range());
    }
    Ok(entry_notional)
}

/// Inverse entry value `−size × lot_size × contract_value ÷ entry_price` in
/// coin units, rounded to the nearest unit (ties away from zero), within the bounds.
fn inverse_entry(ins: &Instrument, size: i64, ep: Decimal) -> Result<i128, FieldError> {
    if i128::from(size).checked_mul(ins.inverse_value).is_none_or(|v| v.abs() > MAX_INVERSE_POSITION_VALUE) {
        return Err((
            "size",
            format!(
                "{size} contracts is beyond the bound: |size| × lot value at one tick must be at most {} coin",
                format_money(MAX_INVERSE_POSITION_VALUE, QUOTE_DECIMALS)
            ),
        ));
    }
    let out_of_range = || ("entry_price", format!("entry value is beyond the bound of {} coin", format_money(MAX_MONEY, QUOTE_DECIMALS)));
    let cv = ins.contract_value.ok_or_else(|| ("instrument", "inverse instrument without a contract value".to_string()))?;
    // size·lot·cv / ep in units of 10^-6: numerator and denominator as integers.
    let scale_num = QUOTE_DECIMALS + ep.scale;
    let scale_den = ins.lot_size.scale + cv.scale;
    let num = i128::from(size)
        .checked_mul(ins.lot_size.mantissa)
        .and_then(|m| m.checked_mul(cv.mantissa))
        .and_then(|m| m.checked_mul(pow10(scale_num)?))
        .ok_or_else(out_of_range)?;
    let den = ep.mantissa.checked_mul(pow10(scale_den).ok_or_else(out_of_range)?).ok_or_else(out_of_range)?;
    let half = den / 2;
    let rounded = if num >= 0 { (num + half) / den } else { -((-num + half) / den) };
    if rounded.abs() > MAX_MONEY {
        return Err(out_of_range());
    }
    Ok(-rounded)
}

/// Reads a file for a loader, mapping I/O failure to an [`InputError`].
pub fn read_file(path: &std::path::Path) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError::new(path.display().to_string(), Location::Line(0), "(file)", format!("cannot read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::instrument::InstrumentSet;

    const BOTH: &str = r#"
[[instrument]]
symbol = "BTCUSDT"
tick_size = "0.1"
lot_size = "0.001"
brackets = [{ notional_cap = "inf", maintenance_rate = "0.004", max_leverage = 125 }]

[[instrument]]
symbol = "BTCUSD"
kind = "inverse"
contract_value = "100"
settlement_asset = "BTC"
tick_size = "0.1"
lot_size = "1"
brackets = [{ notional_cap = "inf", maintenance_rate = "0.004", max_leverage = 125 }]
"#;

    fn book() -> RiskBook {
        let mut book = RiskBook::new(InstrumentSet::parse(BOTH, "i.toml").unwrap());
        load_accounts(&mut book, "a,1\nb,0.5\n", "a.csv").unwrap();
        book
    }

    #[test]
    fn inverse_entry_is_the_coin_value_rounded_to_the_nearest_unit() {
        let mut b = book();
        // 100 contracts @ 25,000: −0.4 BTC; −3 @ 7.0: +3 × 100 ÷ 7 = 42.857142857… → 42.857143.
        load_positions(&mut b, "a,BTCUSD,100,25000\nb,BTCUSD,-3,7\n", "p.csv").unwrap();
        assert_eq!(b.account(0).positions[0].entry_notional, -400_000);
        assert_eq!(b.account(1).positions[0].entry_notional, 42_857_143);
        // Average entries need not be on the tick grid: 1 @ 30,000.05 = 0.00333332777… BTC.
        let mut b = book();
        load_positions(&mut b, "a,BTCUSD,1,30000.05\n", "p.csv").unwrap();
        assert_eq!(b.account(0).positions[0].entry_notional, -3_333);
    }

    #[test]
    fn mixed_settlement_assets_and_out_of_bound_sizes_are_refused() {
        let e = load_positions(&mut book(), "a,BTCUSD,100,25000\nb,BTCUSDT,0.001,25000\n", "p.csv").unwrap_err();
        assert_eq!((e.field.as_str(), &e.location), ("instrument", &Location::Line(2)), "{e}");
        assert!(e.to_string().contains("settles in the quote asset") && e.to_string().contains("BTC"), "{e}");
        let e = load_positions(&mut book(), "a,BTCUSDT,0.001,25000\na,BTCUSD,1,25000\n", "p.csv").unwrap_err();
        assert_eq!(e.field, "instrument", "{e}");
        let e = load_positions(&mut book(), "a,BTCUSD,9000000000000000000,25000\n", "p.csv").unwrap_err();
        assert_eq!(e.field, "size", "{e}");
        let e = load_positions(&mut book(), "a,BTCUSD,1,0\n", "p.csv").unwrap_err();
        assert_eq!(e.field, "entry_price", "{e}");
    }

    #[test]
    fn a_book_already_mixed_outside_the_loader_is_refused_before_any_row() {
        let mut b = book();
        let (usd, usdt) = (b.instruments().id("BTCUSD").unwrap(), b.instruments().id("BTCUSDT").unwrap());
        b.set_position(0, usd, 100, -400_000, 0);
        b.set_position(1, usdt, 1, 25_000_000_000, 0);
        let e = load_positions(&mut b, "", "p.csv").unwrap_err();
        assert_eq!((e.source.as_str(), e.field.as_str(), &e.location), ("p.csv", "instrument", &Location::Line(0)), "{e}");
        assert!(e.to_string().contains("one settlement asset"), "{e}");
    }
}
