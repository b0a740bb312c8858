//! Option series vocabulary shared by the venue parsers and the engine's
//! analytics: call or put, a series name (currency, expiry, strike, kind)
//! and the Greeks. Deribit's naming `BTC-24SEP21-8000-P` is parsed here:
//! currency, expiry day (`D[D]MMMYY`, expiring at 08:00 UTC), strike (digits,
//! `d` as the decimal point: `0d5` = 0.5), `C` or `P`.

use std::fmt;

/// Call or put.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// The right to buy at the strike.
    Call,
    /// The right to sell at the strike.
    Put,
}

/// Sensitivities of one option on one unit of the underlying, in the units
/// venues print them: delta per unit of the underlying, gamma per unit per
/// unit, vega per one volatility point, theta per calendar day.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct Greeks {
    /// ∂V/∂F.
    pub delta: f64,
    /// ∂²V/∂F².
    pub gamma: f64,
    /// Change of V for σ + 1 vol point.
    pub vega: f64,
    /// Change of V over one calendar day.
    pub theta: f64,
}

/// A parsed series name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptionName<'a> {
    /// Base currency (`BTC`).
    pub currency: &'a [u8],
    /// Expiry, Unix milliseconds (08:00 UTC of the expiry day).
    pub expiry_ms: u64,
    /// Strike in the quote currency, > 0.
    pub strike: f64,
    /// Call or put.
    pub kind: OptionKind,
}

/// Why a series name was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionNameError(pub &'static str);

impl fmt::Display for OptionNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad option name: {}", self.0)
    }
}

impl std::error::Error for OptionNameError {}

/// Deribit's options expire at 08:00 UTC.
const EXPIRY_HOUR_MS: u64 = 8 * 3_600_000;
const MONTHS: [&[u8; 3]; 12] = [b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"];

/// Parses `CUR-DMMMYY-STRIKE-C|P`.
pub fn parse_option_name(name: &[u8]) -> Result<OptionName<'_>, OptionNameError> {
    let mut parts = name.split(|&b| b == b'-');
    let (Some(currency), Some(date), Some(strike), Some(kind), None) = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(OptionNameError("expected CURRENCY-DMMMYY-STRIKE-C|P"));
    };
    if currency.is_empty() || currency.len() > 16 || !currency.iter().all(u8::is_ascii_alphanumeric) {
        return Err(OptionNameError("currency must be 1-16 letters or digits"));
    }
    let kind = match kind {
        b"C" => OptionKind::Call,
        b"P" => OptionKind::Put,
        _ => return Err(OptionNameError("kind must be C or P")),
    };
    Ok(OptionName { currency, expiry_ms: parse_expiry(date)?, strike: parse_strike(strike)?, kind })
}

/// `D[D]MMMYY` → Unix ms at 08:00 UTC; years 2000-2099.
fn parse_expiry(date: &[u8]) -> Result<u64, OptionNameError> {
    let bad = OptionNameError("expiry must be DMMMYY or DDMMMYY, a real calendar day");
    if !(6..=7).contains(&date.len()) {
        return Err(bad);
    }
    let (day, rest) = date.split_at(date.len() - 5);
    let (month, year) = rest.split_at(3);
    let digits = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
    };
    let (Some(day), Some(year)) = (digits(day), digits(year)) else { return Err(bad) };
    let month = MONTHS.iter().position(|m| m.as_slice() == month).ok_or(bad)? as u32 + 1;
    let year = 2000 + year;
    if day == 0 || day > days_in_month(year, month) {
        return Err(bad);
    }
    Ok(days_from_epoch(year, month, day) * 86_400_000 + EXPIRY_HOUR_MS)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a civil date in 1970-9999 (proleptic Gregorian).
fn days_from_epoch(year: u32, month: u32, day: u32) -> u64 {
    // Count from 1 March 0000 so the leap day ends the year; then shift to 1970.
    let y = u64::from(if month <= 2 { year - 1 } else { year });
    let shifted_month = u64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + u64::from(day) - 1;
    let days = 365 * y + y / 4 - y / 100 + y / 400 + day_of_year;
    days - 719_468 // days from 0000-03-01 to 1970-01-01
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC, years 1970-9999) into Unix milliseconds.
pub fn parse_utc_time(text: &str) -> Result<u64, OptionNameError> {
    let bad = OptionNameError("expected a UTC time YYYY-MM-DDTHH:MM:SSZ between 1970 and 9999");
    let b = text.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z' {
        return Err(bad);
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, OptionNameError> {
        b[r].iter().try_fold(0u32, |acc, &c| if c.is_ascii_digit() { Ok(acc * 10 + u32::from(c - b'0')) } else { Err(bad) })
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 59 {
        return Err(bad);
    }
    let seconds = days_from_epoch(year, month, day) * 86_400 + u64::from(hour * 3600 + minute * 60 + second);
    Ok(seconds * 1000)
}

/// Digits with at most one `d` as the decimal point; at most 12 digits; > 0.
fn parse_strike(text: &[u8]) -> Result<f64, OptionNameError> {
    let bad = OptionNameError("strike must be digits (d as the decimal point), at most 12, and > 0");
    if text.is_empty() || text.len() > 13 {
        return Err(bad);
    }
    let (mut whole, mut frac, mut frac_digits, mut seen_point) = (0u64, 0u64, 0i32, false);
    for &b in text {
        match b {
            b'0'..=b'9' if seen_point => {
                frac = frac * 10 + u64::from(b - b'0');
                frac_digits += 1;
            }
            b'0'..=b'9' => whole = whole * 10 + u64::from(b - b'0'),
            b'd' if !seen_point => seen_point = true,
            _ => return Err(bad),
        }
    }
    let strike = whole as f64 + frac as f64 / 10f64.powi(frac_digits);
    if strike > 0.0 && (!seen_point || frac_digits > 0) {
        Ok(strike)
    } else {
        Err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn deribit_names_parse() {
        let n = parse_option_name(b"BTC-24SEP21-8000-P").unwrap();
        assert_eq!((n.currency, n.strike, n.kind), (&b"BTC"[..], 8000.0, OptionKind::Put));
        // 2021-09-24T08:00:00Z
        assert_eq!(n.expiry_ms, 1_632_470_400_000);
        let n = parse_option_name(b"ETH-6AUG21-2800-C").unwrap();
        assert_eq!(n.expiry_ms, 1_628_236_800_000);
        assert_eq!(parse_option_name(b"XRP-29FEB24-0d5-C").unwrap().strike, 0.5);
    }

    #[test]
    fn utc_times_parse() {
        assert_eq!(parse_utc_time("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_utc_time("2021-09-24T08:00:00Z"), Ok(1_632_470_400_000));
        assert_eq!(parse_utc_time("2000-02-29T23:59:59Z"), Ok(951_868_799_000));
        for bad in ["2021-09-24 08:00:00Z", "2021-13-01T00:00:00Z", "2100-02-29T00:00:00Z", "1969-12-31T23:59:59Z", "2021-09-24T24:00:00Z", "2021-09-24T08:00:00", "２021-09-24T08:00:00Z"] {
            assert!(parse_utc_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            &b"BTC-24SEP21-8000"[..],
            b"BTC-24SEP21-8000-X",
            b"BTC-31SEP21-8000-C",
            b"BTC-29FEB23-8000-C",
            b"BTC-0SEP21-8000-C",
            b"BTC-24SEx21-8000-C",
            b"BTC-24SEP21-0-C",
            b"BTC-24SEP21-1d-C",
            b"BTC-24SEP21-1d2d3-C",
            b"BTC-24SEP21-99999999999999-C",
            b"-24SEP21-8000-C",
            b"BTC-24SEP21-8000-C-extra",
        ] {
            assert!(parse_option_name(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_option_name(&bytes);
        }

        #[test]
        fn every_calendar_day_round_trips(year in 2000u32..2100, month in 1u32..=12, day in 1u32..=31, strike in 1u32..1_000_000) {
            prop_assume!(day <= days_in_month(year, month));
            let name = format!("BTC-{day}{}{:02}-{strike}-C", std::str::from_utf8(MONTHS[month as usize - 1]).unwrap(), year % 100);
            let n = parse_option_name(name.as_bytes()).unwrap();
            prop_assert_eq!(n.strike, f64::from(strike));
            // The next calendar day is exactly one day later (across month and year ends too).
            let (ny, nm, nd) = if day < days_in_month(year, month) { (year, month, day + 1) }
                else if month < 12 { (year, month + 1, 1) } else { (year + 1, 1, 1) };
            prop_assume!(ny < 2100);
            let next = format!("BTC-{nd}{}{:02}-{strike}-P", std::str::from_utf8(MONTHS[nm as usize - 1]).unwrap(), ny % 100);
            let m = parse_option_name(next.as_bytes()).unwrap();
            prop_assert_eq!(m.expiry_ms - n.expiry_ms, 86_400_000);
            prop_assert_eq!(m.kind, OptionKind::Put);
        }
    }
}
