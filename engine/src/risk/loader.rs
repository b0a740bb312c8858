//! CSV loaders for accounts and positions.
//!
//! * accounts: `account,collateral[,margin_mode]` — collateral a decimal in the
//!   quote asset (≤ 6 decimals), margin_mode `cross` (default) or `isolated`.
//! * positions: `account,instrument,size,entry_price[,isolated_margin]` — size
//!   signed in base units on the lot grid, entry price a decimal (an average
//!   need not be on the tick grid; the entry notional `size × entry_price` is
//!   rounded to the nearest quote unit once, here), isolated margin required
//!   for isolated accounts and refused for cross ones.
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
use super::decimal::Decimal;
use super::instrument::{format_money, quote_unit, MAX_MONEY, MAX_POSITION_TICK_VALUE, QUOTE_DECIMALS};

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
        if i128::from(size).abs() * ins.quote_per_tick_lot > MAX_POSITION_TICK_VALUE {
            return Err(err(
                "size",
                format!(
                    "{} lots is beyond the bound: |size| × tick value per lot must be at most {} quote currency per tick",
                    size,
                    format_money(MAX_POSITION_TICK_VALUE, QUOTE_DECIMALS)
                ),
            ));
        }
        let ep = Decimal::parse(f[3]).map_err(|e| err("entry_price", e.to_string()))?;
        if !ep.is_positive() {
            return Err(err("entry_price", "must be > 0".into()));
        }
        let out_of_range = || {
            err(
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
        book.set_position(id, ins_id, size, entry_notional, iso);
        n += 1;
    }
    Ok(n)
}

/// Reads a file for a loader, mapping I/O failure to an [`InputError`].
pub fn read_file(path: &std::path::Path) -> Result<String, InputError> {
    std::fs::read_to_string(path)
        .map_err(|e| InputError::new(path.display().to_string(), Location::Line(0), "(file)", format!("cannot read: {e}")))
}
