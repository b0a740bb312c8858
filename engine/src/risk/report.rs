//! The per-position risk report printed by `gavel risk`: the same margin
//! functions the engine liquidates with, formatted as decimal strings.

use super::account::MarginMode;
use super::book::RiskBook;
use super::decimal::Decimal;
use super::instrument::{format_money, QUOTE_DECIMALS};
use super::margin;

/// CSV header of the report, in column order.
pub const CSV_HEADER: &str = "account,instrument,size,mark,equity,maintenance,health,liquidation_price,bankruptcy_price";

/// One report line: a position (or an account without positions). Empty
/// strings mark values that do not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// Account name.
    pub account: String,
    /// Instrument symbol.
    pub instrument: String,
    /// Signed size in base units.
    pub size: String,
    /// Mark price.
    pub mark: String,
    /// Equity of the margin unit (cross: the whole account; isolated: the position).
    pub equity: String,
    /// Maintenance margin of the margin unit (rounded up).
    pub maintenance: String,
    /// equity ÷ maintenance, 4 decimals, rounded down; liquidatable below 1.
    pub health: String,
    /// Liquidation price with other marks fixed (rounded to the safe side), offset credits
    /// included.
    pub liquidation_price: String,
    /// Bankruptcy price with other marks fixed.
    pub bankruptcy_price: String,
}

impl ReportRow {
    /// The row as a CSV line (no quoting needed: no field contains a comma).
    pub fn to_csv(&self) -> String {
        [
            &self.account,
            &self.instrument,
            &self.size,
            &self.mark,
            &self.equity,
            &self.maintenance,
            &self.health,
            &self.liquidation_price,
            &self.bankruptcy_price,
        ]
        .map(|s| s.as_str())
        .join(",")
    }
}

/// Builds the report for every account of `book`, or names the first
/// instrument that has positions but no mark.
pub fn report(book: &RiskBook) -> Result<Vec<ReportRow>, String> {
    let ins = book.instruments();
    let marks = book.marks();
    let mut rows = Vec::new();
    for (id, acc) in book.accounts().iter().enumerate() {
        let name = book.name(id as u32).to_string();
        let open: Vec<usize> = (0..acc.positions.len()).filter(|&i| acc.positions[i].size != 0).collect();
        if open.is_empty() {
            rows.push(ReportRow {
                account: name,
                instrument: String::new(),
                size: String::new(),
                mark: String::new(),
                equity: format_money(acc.wallet, QUOTE_DECIMALS),
                maintenance: format_money(0, QUOTE_DECIMALS),
                health: String::new(),
                liquidation_price: String::new(),
                bankruptcy_price: String::new(),
            });
            continue;
        }
        for i in open {
            let p = &acc.positions[i];
            let instrument = ins.get(p.instrument);
            let mark = marks[usize::from(p.instrument)].ok_or_else(|| format!("no --mark for {}", instrument.symbol))?;
            for q in &acc.positions {
                if acc.mode == MarginMode::Cross && q.size != 0 && marks[usize::from(q.instrument)].is_none() {
                    return Err(format!("no --mark for {}", ins.get(q.instrument).symbol));
                }
            }
            let h = margin::unit_health_of(ins, marks, acc, p).expect("marks checked above");
            let lp = margin::position_trigger_netted(ins, marks, acc, i).and_then(|t| t.price());
            let bp = margin::position_bankruptcy(ins, marks, acc, i);
            rows.push(ReportRow {
                account: name.clone(),
                instrument: instrument.symbol.clone(),
                size: instrument.format_size(p.size),
                mark: instrument.format_price(mark),
                equity: format_money(h.equity, QUOTE_DECIMALS),
                maintenance: format_money(h.maintenance(), QUOTE_DECIMALS),
                health: h
                    .ratio_e4()
                    .map(|r| Decimal { mantissa: r, scale: 4 }.to_string())
                    .unwrap_or_default(),
                liquidation_price: lp.map(|t| instrument.format_price(t)).unwrap_or_default(),
                bankruptcy_price: bp.map(|t| instrument.format_price(t)).unwrap_or_default(),
            });
        }
    }
    Ok(rows)
}
