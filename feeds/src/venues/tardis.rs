//! tardis.dev normalized CSV files (one row per record; times in µs since the
//! epoch), told apart by their header line:
//!
//! | kind | header |
//! |---|---|
//! | `incremental_book_L2` | `exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount` |
//! | `trades` | `exchange,symbol,timestamp,local_timestamp,id,side,price,amount` |
//! | `liquidations` | `exchange,symbol,timestamp,local_timestamp,id,side,price,amount` |
//! | `derivative_ticker` | `exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price` |
//!
//! Book rows become one `SnapshotLevel` (`is_snapshot` true) or `BookLevel`
//! event each, with `sequence` = `local_timestamp` (rows of one venue message
//! share it); a snapshot starts when `is_snapshot` turns true
//! ([`TardisCsvParser::snapshot_starts`]). Trades keep their side as the
//! aggressor (`unknown` → no side); liquidation rows carry the liquidation
//! order's side. `trades` and `liquidations` share a header, so the caller
//! says which it is ([`TardisKind`]). Bad rows are errors naming the column;
//! empty optional numbers (`derivative_ticker`) read as 0.

use super::{decimal, InstrumentSpec, Instruments, ParseError};
use crate::decimal::Grid;
use crate::wire::{
    Event, EventKind, LiquidationPrint, MarkPrice, PriceLevel, Side, TradePrint, Venue,
};

/// Which tardis dataset a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TardisKind {
    /// `incremental_book_L2`.
    IncrementalBookL2,
    /// `trades`.
    Trades,
    /// `liquidations`.
    Liquidations,
    /// `derivative_ticker`.
    DerivativeTicker,
}

const BOOK_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount";
const TRADES_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount";
const TICKER_HEADER: &str = "exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price";

impl TardisKind {
    /// The kind of a file from its header; `liquidations` selects between the
    /// two datasets that share the trades header.
    pub fn from_header(header: &str, liquidations: bool) -> Option<Self> {
        match header.trim_end_matches('\r') {
            BOOK_HEADER => Some(TardisKind::IncrementalBookL2),
            TRADES_HEADER if liquidations => Some(TardisKind::Liquidations),
            TRADES_HEADER => Some(TardisKind::Trades),
            TICKER_HEADER => Some(TardisKind::DerivativeTicker),
            _ => None,
        }
    }
}

/// Parser of the rows of one tardis CSV file.
#[derive(Clone, Debug)]
pub struct TardisCsvParser {
    kind: TardisKind,
    venue: Venue,
    instruments: Instruments,
    funding: Grid,
    in_snapshot: bool,
    /// True when the last book row parsed began a new snapshot.
    pub snapshot_starts: bool,
}

fn micros(text: &str, field: &'static str) -> Result<i64, ParseError> {
    let us: i64 = text.parse().map_err(|_| ParseError::BadField {
        field,
        reason: "not a µs timestamp",
    })?;
    if us < 0 {
        return Err(ParseError::BadField {
            field,
            reason: "negative timestamp",
        });
    }
    us.checked_mul(1_000).ok_or(ParseError::BadField {
        field,
        reason: "timestamp out of range",
    })
}

impl TardisCsvParser {
    /// A parser for rows of `kind`, stamping `venue` on events.
    pub fn new(kind: TardisKind, venue: Venue, instruments: Instruments) -> Self {
        TardisCsvParser {
            kind,
            venue,
            instruments,
            funding: Grid::with_decimals(9).expect("9 decimals").signed(),
            in_snapshot: false,
            snapshot_starts: false,
        }
    }

    /// Parses one data row (not the header), appending its event(s). Returns
    /// `Ok(false)` for a row of an instrument not in the table.
    pub fn parse_row(&mut self, row: &str, out: &mut Vec<Event>) -> Result<bool, ParseError> {
        let mut cols = [""; 11];
        let mut n = 0;
        for col in row.trim_end_matches('\r').split(',') {
            if n == cols.len() {
                return Err(ParseError::BadField {
                    field: "<row>",
                    reason: "too many columns",
                });
            }
            cols[n] = col;
            n += 1;
        }
        let want = if self.kind == TardisKind::DerivativeTicker {
            11
        } else {
            8
        };
        if n != want {
            return Err(ParseError::BadField {
                field: "<row>",
                reason: "wrong number of columns",
            });
        }
        let Some(spec) = self.instruments.find(cols[1].as_bytes()) else {
            return Ok(false);
        };
        let exchange_ns = micros(cols[2], "timestamp")?;
        let receive_ns = micros(cols[3], "local_timestamp")?;
        let sequence = (receive_ns / 1_000) as u64;
        let (ev, snapshot) = match self.kind {
            TardisKind::IncrementalBookL2 => self.book_row(spec, &cols)?,
            TardisKind::Trades | TardisKind::Liquidations => (self.trade_row(spec, &cols)?, None),
            TardisKind::DerivativeTicker => (self.ticker_row(spec, &cols)?, None),
        };
        if let Some(snapshot) = snapshot {
            self.snapshot_starts = snapshot && !self.in_snapshot;
            self.in_snapshot = snapshot;
        }
        out.push(ev.with_times(sequence, exchange_ns, receive_ns));
        Ok(true)
    }

    fn book_row(
        &self,
        spec: &InstrumentSpec,
        cols: &[&str; 11],
    ) -> Result<(Event, Option<bool>), ParseError> {
        let snapshot = match cols[4] {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ParseError::BadField {
                    field: "is_snapshot",
                    reason: "not true or false",
                })
            }
        };
        let side = match cols[5] {
            "bid" => Side::Bid,
            "ask" => Side::Ask,
            _ => {
                return Err(ParseError::BadField {
                    field: "side",
                    reason: "not bid or ask",
                })
            }
        };
        let level = PriceLevel {
            price: decimal(&spec.price, cols[6].as_bytes(), "price")?,
            qty: decimal(&spec.qty, cols[7].as_bytes(), "amount")?,
            index: 0,
        };
        let kind = if snapshot {
            EventKind::SnapshotLevel
        } else {
            EventKind::BookLevel
        };
        Ok((
            Event::new(kind, self.venue, spec.id, level).with_side(side),
            Some(snapshot),
        ))
    }

    fn trade_row(&self, spec: &InstrumentSpec, cols: &[&str; 11]) -> Result<Event, ParseError> {
        let side = match cols[5] {
            "buy" => Side::Bid,
            "sell" => Side::Ask,
            "unknown" => Side::None,
            _ => {
                return Err(ParseError::BadField {
                    field: "side",
                    reason: "not buy, sell or unknown",
                })
            }
        };
        let price = decimal(&spec.price, cols[6].as_bytes(), "price")?;
        let qty = decimal(&spec.qty, cols[7].as_bytes(), "amount")?;
        Ok(if self.kind == TardisKind::Liquidations {
            Event::new(
                EventKind::LiquidationPrint,
                self.venue,
                spec.id,
                LiquidationPrint {
                    price,
                    qty,
                    avg_price: 0,
                },
            )
            .with_side(side)
        } else {
            // Trade ids are venue strings; numeric ones are kept, others read as 0.
            let trade_id = cols[4].parse().unwrap_or(0);
            Event::new(
                EventKind::Trade,
                self.venue,
                spec.id,
                TradePrint {
                    price,
                    qty,
                    trade_id,
                },
            )
            .with_side(side)
        })
    }

    fn ticker_row(&self, spec: &InstrumentSpec, cols: &[&str; 11]) -> Result<Event, ParseError> {
        let rounded = |text: &str, field: &'static str| -> Result<(i64, bool), ParseError> {
            if text.is_empty() {
                return Ok((0, true));
            }
            spec.price
                .parse_rounded(text.as_bytes())
                .map_err(|error| ParseError::Decimal { field, error })
        };
        let (mark, mark_exact) = rounded(cols[10], "mark_price")?;
        let (index, index_exact) = rounded(cols[9], "index_price")?;
        let funding_rate_e9 = if cols[5].is_empty() {
            0
        } else {
            decimal(&self.funding, cols[5].as_bytes(), "funding_rate")?
        };
        let mut ev = Event::new(
            EventKind::MarkPrice,
            self.venue,
            spec.id,
            MarkPrice {
                mark,
                index,
                funding_rate_e9,
            },
        );
        if !(mark_exact && index_exact) {
            ev.flags |= crate::venues::binance::FLAG_ROUNDED;
        }
        Ok(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parser(kind: TardisKind) -> TardisCsvParser {
        let spec = InstrumentSpec::new(
            "BTCUSDT",
            4,
            Grid::with_decimals(2).unwrap(),
            Grid::with_decimals(3).unwrap(),
        );
        TardisCsvParser::new(kind, Venue::BinanceUsdm, Instruments::new(vec![spec]))
    }

    #[test]
    fn headers_select_the_kind() {
        assert_eq!(
            TardisKind::from_header(BOOK_HEADER, false),
            Some(TardisKind::IncrementalBookL2)
        );
        assert_eq!(
            TardisKind::from_header(TRADES_HEADER, true),
            Some(TardisKind::Liquidations)
        );
        assert_eq!(
            TardisKind::from_header(&format!("{TICKER_HEADER}\r"), false),
            Some(TardisKind::DerivativeTicker)
        );
        assert_eq!(TardisKind::from_header("a,b", false), None);
    }

    #[test]
    fn book_rows_and_snapshot_start() {
        let mut p = parser(TardisKind::IncrementalBookL2);
        let mut out = Vec::new();
        assert!(p
            .parse_row(
                "binance-futures,BTCUSDT,1585699209920000,1585699210084490,true,ask,6640.00,0.001",
                &mut out
            )
            .unwrap());
        assert!(p.snapshot_starts);
        p.parse_row(
            "binance-futures,BTCUSDT,1585699209920000,1585699210084490,true,bid,6639.99,1.5",
            &mut out,
        )
        .unwrap();
        assert!(!p.snapshot_starts);
        p.parse_row(
            "binance-futures,BTCUSDT,1585699209947000,1585699210090765,false,bid,6639.99,0",
            &mut out,
        )
        .unwrap();
        assert_eq!(out[0].kind(), Some(EventKind::SnapshotLevel));
        assert_eq!(out[2].kind(), Some(EventKind::BookLevel));
        assert_eq!(
            out[1].payload::<PriceLevel>(),
            PriceLevel {
                price: 663_999,
                qty: 1_500,
                index: 0
            }
        );
        assert_eq!(
            (out[2].exchange_ns, out[2].receive_ns),
            (1_585_699_209_947_000_000, 1_585_699_210_090_765_000)
        );
        assert!(!p
            .parse_row("binance-futures,ETHUSDT,1,1,false,bid,1,1", &mut out)
            .unwrap());
    }

    #[test]
    fn trades_liquidations_ticker_and_bad_rows() {
        let mut out = Vec::new();
        parser(TardisKind::Trades)
            .parse_row(
                "binance-futures,BTCUSDT,1,2,123456,sell,6640.00,0.010",
                &mut out,
            )
            .unwrap();
        assert_eq!(
            out[0].payload::<TradePrint>(),
            TradePrint {
                price: 664_000,
                qty: 10,
                trade_id: 123_456
            }
        );
        assert_eq!(out[0].side(), Some(Side::Ask));
        parser(TardisKind::Liquidations)
            .parse_row("binance-futures,BTCUSDT,1,2,,buy,6640.00,0.010", &mut out)
            .unwrap();
        assert_eq!(out[1].kind(), Some(EventKind::LiquidationPrint));
        parser(TardisKind::DerivativeTicker)
            .parse_row("binance-futures,BTCUSDT,1,2,1585728000000000,0.0001,,1000.5,6640.1,6641.123,6640.55", &mut out)
            .unwrap();
        assert_eq!(
            out[2].payload::<MarkPrice>(),
            MarkPrice {
                mark: 664_055,
                index: 664_112,
                funding_rate_e9: 100_000
            }
        );
        assert_eq!(out[2].flags, crate::venues::binance::FLAG_ROUNDED);
        let mut p = parser(TardisKind::IncrementalBookL2);
        for (row, field) in [
            (
                "binance-futures,BTCUSDT,1,2,maybe,bid,1.00,1",
                "is_snapshot",
            ),
            ("binance-futures,BTCUSDT,1,2,false,bid,NaN,1", "price"),
            ("binance-futures,BTCUSDT,1,2,false,bid,1.00,-1", "amount"),
            ("binance-futures,BTCUSDT,x,2,false,bid,1.00,1", "timestamp"),
            ("binance-futures,BTCUSDT,1,2,false,bid", "<row>"),
        ] {
            assert_eq!(
                p.parse_row(row, &mut out).unwrap_err().field(),
                field,
                "{row}"
            );
        }
    }

    proptest! {
        #[test]
        fn no_string_panics(row in ".{0,120}") {
            let mut out = Vec::new();
            for kind in [TardisKind::IncrementalBookL2, TardisKind::Trades, TardisKind::DerivativeTicker] {
                let _ = parser(kind).parse_row(&row, &mut out);
            }
        }
    }
}
