//! Client order flow of a scenario (`orders.csv`): orders that the world sends
//! into gavel's own book at their event time, through `ClientOrder` events.
//!
//! ```text
//! offset_ms,account,instrument,side,type,price,size,flags
//! 1500,acct000007,BTCUSDT,buy,limit,59000.5,0.25,post_only
//! 2000,acct000009,BTCUSDT,sell,market,,0.1,reduce_only
//! ```
//!
//! `offset_ms` is event time after the first captured event (0 ..= 10^9 ms);
//! `side` is `buy` or `sell`; `type` is `limit`, `ioc`, `fok` or `market`
//! (market orders leave `price` empty); `price` and `size` are decimals on the
//! instrument's grid; `flags` is empty or `post_only`, `reduce_only`, joined
//! by `|`. Each order's client id is its line number. Every error names the
//! file, the line and the field.

use gavel_engine::risk::{account_to_wire, InstrumentSet, RiskBook};
use gavel_feeds::input_error::{InputError, Location};
use gavel_feeds::wire::{order_flags, ClientOrder, Event, EventKind, Side, Venue};

/// Largest offset an order may have, ms (about eleven days).
pub const MAX_OFFSET_MS: i64 = 1_000_000_000;

/// One scenario input the world sends `offset_ns` after the first captured event: a
/// client order (this module) or an implied-vol quote ([`crate::implied_vol`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduledInput {
    /// Event time after the start, ns.
    pub offset_ns: i64,
    /// The event (its time is set when scheduled).
    pub event: Event,
}

/// One data row of a scenario input CSV: its trimmed fields and its error maker.
pub(crate) struct Row<'a> {
    /// Fields, trimmed; the first is `offset_ms`.
    pub cols: Vec<&'a str>,
    /// 1-based line number.
    pub number: u64,
    source: &'a str,
}

impl Row<'_> {
    /// An error about `field` of this row.
    pub fn err(&self, field: &str, message: String) -> InputError {
        InputError::new(self.source, Location::Line(self.number), field, message)
    }
}

/// Reads a scenario input CSV (`source` names it in errors): the first line must be
/// `header`, blank lines are skipped, each row has the header's column count and starts with
/// `offset_ms` in `0..=MAX_OFFSET_MS`; `event` turns a row into its event.
pub(crate) fn read_scheduled(text: &str, source: &str, header: &str, mut event: impl FnMut(&Row) -> Result<Event, InputError>) -> Result<Vec<ScheduledInput>, InputError> {
    let columns = header.split(',').count();
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let row = Row { cols: line.split(',').map(str::trim).collect(), number: index as u64 + 1, source };
        if index == 0 {
            if line.trim() != header {
                return Err(row.err("header", format!("expected `{header}`")));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if row.cols.len() != columns {
            return Err(row.err("columns", format!("{} columns, expected {columns}", row.cols.len())));
        }
        let offset_ms: i64 = row.cols[0].parse().map_err(|_| row.err("offset_ms", format!("{:?} is not a whole number of ms", row.cols[0])))?;
        if !(0..=MAX_OFFSET_MS).contains(&offset_ms) {
            return Err(row.err("offset_ms", format!("{offset_ms} is outside 0..={MAX_OFFSET_MS}")));
        }
        out.push(ScheduledInput { offset_ns: offset_ms * 1_000_000, event: event(&row)? });
    }
    Ok(out)
}

/// Reads `orders.csv` text (`source` names it in errors) against the accounts and instruments of `book`.
pub fn parse_orders(text: &str, source: &str, book: &RiskBook) -> Result<Vec<ScheduledInput>, InputError> {
    let set: &InstrumentSet = book.instruments();
    read_scheduled(text, source, "offset_ms,account,instrument,side,type,price,size,flags", |row| {
        let (cols, number) = (&row.cols, row.number);
        let err = |field: &str, message: String| row.err(field, message);
        let account = book.account_id(cols[1]).ok_or_else(|| err("account", format!("unknown account {:?}", cols[1])))?;
        let instrument = set.id(cols[2]).ok_or_else(|| err("instrument", format!("unknown instrument {:?}", cols[2])))?;
        let ins = set.get(instrument);
        let side = match cols[3] {
            "buy" => Side::Bid,
            "sell" => Side::Ask,
            other => return Err(err("side", format!("{other:?} is not buy or sell"))),
        };
        let kind = match cols[4] {
            "limit" => order_flags::TYPE_LIMIT,
            "ioc" => order_flags::TYPE_IOC,
            "fok" => order_flags::TYPE_FOK,
            "market" => order_flags::TYPE_MARKET,
            other => return Err(err("type", format!("{other:?} is not limit, ioc, fok or market"))),
        };
        let price = match (kind, cols[5]) {
            (order_flags::TYPE_MARKET, "") => 0,
            (order_flags::TYPE_MARKET, _) => return Err(err("price", "a market order takes no price".into())),
            (_, text) => {
                let p = ins.parse_price(text).map_err(|e| err("price", e))?;
                if p <= 0 || p > gavel_engine::auction::fixed::MAX_PRICE_TICKS {
                    return Err(err("price", format!("{text} is not a positive price in range")));
                }
                p
            }
        };
        let qty = ins.parse_size(cols[6]).map_err(|e| err("size", e))?;
        if qty <= 0 {
            return Err(err("size", format!("{} is not a positive size", cols[6])));
        }
        let mut flags = kind;
        for flag in cols[7].split('|').filter(|f| !f.is_empty()) {
            flags |= match flag {
                "post_only" => order_flags::POST_ONLY,
                "reduce_only" => order_flags::REDUCE_ONLY,
                other => return Err(err("flags", format!("{other:?} is not post_only or reduce_only"))),
            };
        }
        let mut event = Event::new(EventKind::ClientOrder, Venue::Gavel, u32::from(instrument), ClientOrder { account: account_to_wire(account), price, qty })
            .with_side(side)
            .with_times(number, 0, 0);
        event.flags = flags;
        Ok(event)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_engine::risk::instrument::QUOTE_SCALE;
    use gavel_engine::risk::MarginMode;

    fn book() -> RiskBook {
        let set = InstrumentSet::parse(
            "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 125 }]\n",
            "t",
        )
        .unwrap();
        let mut book = RiskBook::new(set);
        book.add_account("alice", MarginMode::Cross, 1_000 * QUOTE_SCALE).unwrap();
        book
    }

    const HEADER: &str = "offset_ms,account,instrument,side,type,price,size,flags\n";

    #[test]
    fn orders_parse_into_client_order_events() {
        let text = format!("{HEADER}1500,alice,BTCUSDT,buy,limit,59000.5,0.25,post_only\n2000,alice,BTCUSDT,sell,market,,0.1,reduce_only\n");
        let orders = parse_orders(&text, "orders.csv", &book()).unwrap();
        assert_eq!(orders.len(), 2);
        let first: ClientOrder = orders[0].event.payload();
        assert_eq!((orders[0].offset_ns, first.price, first.qty, orders[0].event.sequence), (1_500_000_000, 590_005, 250, 2));
        assert_eq!(orders[0].event.flags, order_flags::TYPE_LIMIT | order_flags::POST_ONLY);
        assert_eq!(orders[1].event.side(), Some(Side::Ask));
        assert_eq!(orders[1].event.flags, order_flags::TYPE_MARKET | order_flags::REDUCE_ONLY);
    }

    #[test]
    fn bad_rows_name_the_line_and_field() {
        let cases = [
            ("-1,alice,BTCUSDT,buy,limit,1,1,", "offset_ms"),
            ("5,bob,BTCUSDT,buy,limit,1,1,", "account"),
            ("5,alice,ETHUSDT,buy,limit,1,1,", "instrument"),
            ("5,alice,BTCUSDT,hold,limit,1,1,", "side"),
            ("5,alice,BTCUSDT,buy,stop,1,1,", "type"),
            ("5,alice,BTCUSDT,buy,limit,1.05,1,", "price"),
            ("5,alice,BTCUSDT,buy,market,100,1,", "price"),
            ("5,alice,BTCUSDT,buy,limit,100,0,", "size"),
            ("5,alice,BTCUSDT,buy,limit,100,1,hidden", "flags"),
            ("5,alice,BTCUSDT,buy,limit,100", "columns"),
            ("99999999999999999999,alice,BTCUSDT,buy,limit,100,1,", "offset_ms"),
        ];
        for (row, field) in cases {
            let err = parse_orders(&format!("{HEADER}{row}\n"), "orders.csv", &book()).unwrap_err().to_string();
            assert!(err.contains("orders.csv") && err.contains("line 2") && err.contains(field), "{row}: {err}");
        }
        let err = parse_orders("time,who\n", "orders.csv", &book()).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("header"), "{err}");
    }
}
