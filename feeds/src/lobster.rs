//! Readers for LOBSTER files (Nasdaq order flow reconstructed by LOBSTER).
//!
//! A message file has one event per line: `Time,Type,OrderId,Size,Price,Direction`
//! (time in seconds after midnight with up to 9 decimals, price in dollars × 10000,
//! direction 1 buy / −1 sell). The matching order-book file has, per line, the
//! book after that message: `AskPrice1,AskSize1,BidPrice1,BidSize1,…` for N levels,
//! an empty level written as `9999999999,0` (ask) / `-9999999999,0` (bid).
//!
//! Both readers accept plain or gzip files (by the `.gz` suffix or the gzip magic
//! bytes) and skip one optional header line (a first line whose first field does
//! not start with a digit or a sign).
//!
//! Bad rows: the readers stop with an [`InputError`] naming the file, the 1-based
//! line and the field. The caller decides the policy; `gavel lobster` stops.

use crate::input_error::{InputError, Location};
use crate::wire::Side;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// Largest accepted size (shares) of a message or an order-book level: 10^9.
/// With at most 2^32 resting orders a level's total then stays below
/// `i64::MAX`, so the book's sums cannot overflow.
pub const MAX_SIZE: i64 = 1_000_000_000;
/// Largest accepted message price (dollars × 10000): just below the empty-ask
/// sentinel, $999,999.9998.
pub const MAX_PRICE: i64 = EMPTY_ASK_PRICE - 1;

/// Ask price LOBSTER writes for an empty ask level.
pub const EMPTY_ASK_PRICE: i64 = 9_999_999_999;
/// Bid price LOBSTER writes for an empty bid level.
pub const EMPTY_BID_PRICE: i64 = -9_999_999_999;

/// LOBSTER event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1: a new limit order.
    Submit,
    /// 2: partial cancellation (size = lots removed).
    PartialCancel,
    /// 3: total deletion of an order.
    Delete,
    /// 4: execution of a visible order (size = lots executed).
    VisibleExecution,
    /// 5: execution of a hidden order (no visible book change).
    HiddenExecution,
    /// 6: cross trade, e.g. an auction (no visible book change).
    CrossTrade,
    /// 7: trading halt indicator (price −1 halt, 0 quote, 1 resume).
    Halt,
}

impl MessageType {
    /// Decodes LOBSTER's type number.
    pub const fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Self::Submit,
            2 => Self::PartialCancel,
            3 => Self::Delete,
            4 => Self::VisibleExecution,
            5 => Self::HiddenExecution,
            6 => Self::CrossTrade,
            7 => Self::Halt,
            _ => return None,
        })
    }
}

/// One message-file row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    /// Nanoseconds after midnight.
    pub time_ns: i64,
    /// Event type.
    pub kind: MessageType,
    /// LOBSTER order id (0 for some hidden executions and halts).
    pub order_id: u64,
    /// Lots.
    pub size: i64,
    /// Price in dollars × 10000 (−1/0/1 for halts).
    pub price: i64,
    /// Side of the order in the book (`Bid` for direction 1, `Ask` for −1;
    /// `None` only for halts, whose direction is not meaningful).
    pub side: Side,
}

/// Opens a plain or gzip file as a buffered reader.
pub fn open(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    drop(file);
    let file = File::open(path)?;
    let gz = (n == 2 && magic == [0x1f, 0x8b]) || path.extension().is_some_and(|e| e == "gz");
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(BufReader::with_capacity(1 << 16, file))
    })
}

/// Line reader shared by both file kinds: header skipping and error locations.
struct Lines {
    source: String,
    reader: Box<dyn BufRead>,
    line: String,
    line_no: u64,
}

impl Lines {
    fn new(source: String, reader: Box<dyn BufRead>) -> Self {
        Lines {
            source,
            reader,
            line: String::with_capacity(512),
            line_no: 0,
        }
    }

    /// Reads the next data line into `self.line` (trimmed of the line end);
    /// false at end of file.
    fn next_line(&mut self) -> Result<bool, InputError> {
        loop {
            self.line.clear();
            let n = self.reader.read_line(&mut self.line).map_err(|e| {
                InputError::new(
                    &self.source,
                    Location::Line(self.line_no + 1),
                    "line",
                    format!("read failed: {e}"),
                )
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            let trimmed = self.line.trim_end_matches(['\n', '\r']).len();
            self.line.truncate(trimmed);
            if self.line.is_empty() {
                continue;
            }
            if self.line_no == 1 {
                let first = self.line.as_bytes()[0];
                if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
                    continue; // header line
                }
            }
            return Ok(true);
        }
    }

    fn error(&self, field: &str, message: impl Into<String>) -> InputError {
        InputError::new(&self.source, Location::Line(self.line_no), field, message)
    }
}

fn parse_int(lines: &Lines, field: &str, text: Option<&str>) -> Result<i64, InputError> {
    let text = text.ok_or_else(|| lines.error(field, "missing"))?;
    text.trim()
        .parse::<i64>()
        .map_err(|_| lines.error(field, format!("not an integer: {text:?}")))
}

/// Parses `seconds[.fraction]` into nanoseconds (digits past the 9th decimal are truncated).
fn parse_time(lines: &Lines, text: Option<&str>) -> Result<i64, InputError> {
    let text = text.ok_or_else(|| lines.error("Time", "missing"))?.trim();
    let bad = || lines.error("Time", format!("not a time in seconds: {text:?}"));
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    // Some LOBSTER rows carry float noise past the nanosecond (e.g. `43002.632812672004`): truncate.
    let frac = &frac[..frac.len().min(9)];
    let secs: i64 = whole.parse().map_err(|_| bad())?;
    let mut nanos: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    for _ in frac.len()..9 {
        nanos *= 10;
    }
    secs.checked_mul(1_000_000_000)
        .and_then(|s| s.checked_add(nanos))
        .ok_or_else(bad)
}

/// Reads a LOBSTER message file row by row.
pub struct MessageReader {
    lines: Lines,
}

impl MessageReader {
    /// Opens `path` (plain or gzip).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self::from_reader(path.display().to_string(), open(path)?))
    }

    /// Reads from any buffered reader; `source` names it in errors.
    pub fn from_reader(source: impl Into<String>, reader: Box<dyn BufRead>) -> Self {
        MessageReader {
            lines: Lines::new(source.into(), reader),
        }
    }

    /// The 1-based line number of the last row returned.
    pub fn line(&self) -> u64 {
        self.lines.line_no
    }

    /// The next message, `Ok(None)` at end of file.
    pub fn next_message(&mut self) -> Result<Option<Message>, InputError> {
        if !self.lines.next_line()? {
            return Ok(None);
        }
        let l = &self.lines;
        let mut f = l.line.split(',');
        let time_ns = parse_time(l, f.next())?;
        let code = parse_int(l, "Type", f.next())?;
        let kind = MessageType::from_code(code)
            .ok_or_else(|| l.error("Type", format!("unknown type {code}")))?;
        let order_id = parse_int(l, "OrderId", f.next())?;
        if order_id < 0 {
            return Err(l.error("OrderId", format!("negative: {order_id}")));
        }
        let size = parse_int(l, "Size", f.next())?;
        if !(0..=MAX_SIZE).contains(&size) {
            return Err(l.error("Size", format!("{size} is outside 0 ..= {MAX_SIZE}")));
        }
        let price = parse_int(l, "Price", f.next())?;
        let direction = parse_int(l, "Direction", f.next())?;
        let side = match (kind, direction) {
            (MessageType::Halt, _) => Side::None,
            (_, 1) => Side::Bid,
            (_, -1) => Side::Ask,
            (_, d) => return Err(l.error("Direction", format!("must be 1 or -1, got {d}"))),
        };
        if kind != MessageType::Halt && !(1..=MAX_PRICE).contains(&price) {
            return Err(l.error("Price", format!("must be in 1 ..= {MAX_PRICE}, got {price}")));
        }
        if f.next().is_some() {
            return Err(l.error("Direction", "extra columns after Direction"));
        }
        Ok(Some(Message {
            time_ns,
            kind,
            order_id: order_id as u64,
            size,
            price,
            side,
        }))
    }
}

impl Iterator for MessageReader {
    type Item = Result<Message, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_message().transpose()
    }
}

/// One order-book row: per level (best first) ask and bid price and size.
/// Empty levels keep LOBSTER's sentinel prices and size 0.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BookRow {
    /// `(price, size)` of the ask levels, best first.
    pub asks: Vec<(i64, i64)>,
    /// `(price, size)` of the bid levels, best first.
    pub bids: Vec<(i64, i64)>,
}

impl BookRow {
    /// An empty row of `levels` levels (all sentinels).
    pub fn empty(levels: usize) -> Self {
        BookRow {
            asks: vec![(EMPTY_ASK_PRICE, 0); levels],
            bids: vec![(EMPTY_BID_PRICE, 0); levels],
        }
    }

    /// The levels of one side.
    pub fn side(&self, side: Side) -> &[(i64, i64)] {
        if side == Side::Bid {
            &self.bids
        } else {
            &self.asks
        }
    }

    /// Appends the row in LOBSTER's CSV format (no line end).
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        for (i, (a, b)) in self.asks.iter().zip(&self.bids).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Writing into a Vec cannot fail.
            let _ = write!(out, "{},{},{},{}", a.0, a.1, b.0, b.1);
        }
    }
}

/// Reads a LOBSTER order-book file row by row into a reused [`BookRow`].
pub struct OrderbookReader {
    lines: Lines,
    levels: usize,
}

impl OrderbookReader {
    /// Opens `path` (plain or gzip) expecting `levels` levels per row.
    pub fn open(path: &Path, levels: usize) -> std::io::Result<Self> {
        Ok(Self::from_reader(
            path.display().to_string(),
            open(path)?,
            levels,
        ))
    }

    /// Reads from any buffered reader; `source` names it in errors.
    pub fn from_reader(source: impl Into<String>, reader: Box<dyn BufRead>, levels: usize) -> Self {
        OrderbookReader {
            lines: Lines::new(source.into(), reader),
            levels,
        }
    }

    /// The 1-based line number of the last row read.
    pub fn line(&self) -> u64 {
        self.lines.line_no
    }

    /// Reads the next row into `row`; false at end of file.
    pub fn next_row(&mut self, row: &mut BookRow) -> Result<bool, InputError> {
        if !self.lines.next_line()? {
            return Ok(false);
        }
        row.asks.clear();
        row.bids.clear();
        let l = &self.lines;
        let mut f = l.line.split(',');
        const NAMES: [&str; 4] = ["AskPrice", "AskSize", "BidPrice", "BidSize"];
        for level in 1..=self.levels {
            let mut v = [0i64; 4];
            for (k, name) in NAMES.iter().enumerate() {
                let text = f.next();
                let parsed = text
                    .and_then(|t| t.trim().parse::<i64>().ok())
                    .filter(|x| k % 2 == 0 || (0..=MAX_SIZE).contains(x));
                v[k] = match parsed {
                    Some(x) => x,
                    None => {
                        let field = format!("{name}{level}");
                        return Err(match text {
                            None => l.error(&field, "missing"),
                            Some(t) => l.error(&field, format!("not a valid integer (sizes 0 ..= {MAX_SIZE}): {t:?}")),
                        });
                    }
                };
            }
            row.asks.push((v[0], v[1]));
            row.bids.push((v[2], v[3]));
        }
        if f.next().is_some() {
            return Err(l.error("row", format!("more than {} levels", self.levels)));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn reader(text: &str) -> MessageReader {
        MessageReader::from_reader(
            "m.csv",
            Box::new(Cursor::new(text.to_string().into_bytes())),
        )
    }

    #[test]
    fn reads_messages_with_and_without_header() {
        let text = "Time,Type,OrderId,Size,Price,Direction\n34200.01746,1,11885113,21,2238100,1\n34200.5,7,0,0,-1,-1\r\n";
        let msgs: Vec<_> = reader(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            msgs[0],
            Message {
                time_ns: 34_200_017_460_000,
                kind: MessageType::Submit,
                order_id: 11885113,
                size: 21,
                price: 2238100,
                side: Side::Bid
            }
        );
        assert_eq!(msgs[1].kind, MessageType::Halt);
        assert_eq!(msgs[1].time_ns, 34_200_500_000_000);
        let plain: Vec<_> =
            reader("34200.017459617,5,0,1,2238200,-1\n43002.632812672004,3,1,1,1,1\n")
                .collect::<Result<_, _>>()
                .unwrap();
        assert_eq!(plain[0].time_ns, 34_200_017_459_617);
        assert_eq!(plain[1].time_ns, 43_002_632_812_672);
        assert_eq!(plain[0].side, Side::Ask);
    }

    #[test]
    fn bad_rows_name_file_line_and_field() {
        let e = reader("34200.1,1,5,10,100,1\n34200.2,9,5,10,100,1\n")
            .nth(1)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.to_string(), "m.csv: line 2: field `Type`: unknown type 9");
        let e = reader("34200.1,1,5,10,100,0\n")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (e.location, e.field.as_str()),
            (Location::Line(1), "Direction")
        );
        let e = reader("34x00.1,1,5,10,100,1\n")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.field, "Time");
        let e = reader("34200.1,1,5,-3,100,1\n")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.field, "Size");
        let e = reader("34200.1,1,5,3\n").next().unwrap().unwrap_err();
        assert_eq!(e.message, "missing");
    }

    /// Issue 14: two i64::MAX orders on one level summed to a level size of -2.
    #[test]
    fn sizes_and_prices_beyond_the_bounds_are_refused() {
        let max = i64::MAX;
        for (text, field) in [
            (format!("34200.1,1,5,{max},100,1\n"), "Size"),
            (format!("34200.1,1,5,{},100,1\n", MAX_SIZE + 1), "Size"),
            (format!("34200.1,1,5,10,{max},1\n"), "Price"),
            (format!("34200.1,1,5,10,{},-1\n", EMPTY_ASK_PRICE), "Price"),
        ] {
            let e = reader(&text).next().unwrap().unwrap_err();
            assert_eq!((e.location, e.field.as_str()), (Location::Line(1), field), "{text}");
        }
        let ok = format!("34200.1,1,5,{MAX_SIZE},{MAX_PRICE},1\n");
        assert_eq!(reader(&ok).next().unwrap().unwrap().size, MAX_SIZE);
        let mut r = OrderbookReader::from_reader("b.csv", Box::new(Cursor::new(format!("2239500,{max},2231800,100\n"))), 1);
        let e = r.next_row(&mut BookRow::empty(1)).unwrap_err();
        assert_eq!(e.field, "AskSize1");
    }

    #[test]
    fn reads_orderbook_rows() {
        let text = "BestAsk,BestAskVolume,BestBid,BestBidVolume\n2239500,100,2231800,100\n9999999999,0,-9999999999,0\n";
        let mut r = OrderbookReader::from_reader(
            "o.csv",
            Box::new(Cursor::new(text.as_bytes().to_vec())),
            1,
        );
        let mut row = BookRow::default();
        assert!(r.next_row(&mut row).unwrap());
        assert_eq!(row.asks, vec![(2239500, 100)]);
        assert_eq!(row.bids, vec![(2231800, 100)]);
        assert!(r.next_row(&mut row).unwrap());
        assert_eq!(row, BookRow::empty(1));
        assert!(!r.next_row(&mut row).unwrap());
        let mut out = Vec::new();
        row.write_csv(&mut out);
        assert_eq!(out, b"9999999999,0,-9999999999,0");
        let mut bad =
            OrderbookReader::from_reader("o.csv", Box::new(Cursor::new(b"1,2,3\n".to_vec())), 1);
        let e = bad.next_row(&mut row).unwrap_err();
        assert_eq!(e.to_string(), "o.csv: line 1: field `BidSize1`: missing");
    }
}
