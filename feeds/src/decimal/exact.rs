//! [`Decimal`]: an exact decimal number, parsed from and printed as text.
//!
//! A [`Decimal`] is `mantissa × 10^-scale`. Tick size, lot size, rates and
//! money are parsed into decimals and then converted to integer units by exact
//! division; a value that is not a whole number of units is an error, never a
//! silent rounding.

use std::fmt;

use super::{pow10, MAX_DECIMALS};

/// An exact decimal number `mantissa × 10^-scale`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// The digits as an integer, signed.
    pub mantissa: i128,
    /// Number of digits after the decimal point.
    pub scale: u32,
}

/// Why [`Decimal::parse`] refused a string (the text is kept for the message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseDecimalError {
    /// Empty, a stray character, or an exponent.
    Syntax(String),
    /// More digits than fit in the fixed-point range.
    TooLarge(String),
}

impl fmt::Display for ParseDecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseDecimalError::Syntax(s) => write!(f, "not a decimal number: {s:?}"),
            ParseDecimalError::TooLarge(s) => write!(f, "decimal out of range: {s:?}"),
        }
    }
}

impl std::error::Error for ParseDecimalError {}

impl Decimal {
    /// Parses `[+-]digits[.digits]` exactly (no exponent, no separators).
    pub fn parse(text: &str) -> Result<Decimal, ParseDecimalError> {
        let s = text.trim();
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (int_part, frac_part) = match body.split_once('.') {
            Some((i, f)) => (i, f),
            None => (body, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(ParseDecimalError::Syntax(text.to_string()));
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseDecimalError::Syntax(text.to_string()));
        }
        if frac_part.len() > usize::from(MAX_DECIMALS) {
            return Err(ParseDecimalError::TooLarge(text.to_string()));
        }
        let mut mantissa: i128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or_else(|| ParseDecimalError::TooLarge(text.to_string()))?;
        }
        Ok(Decimal {
            mantissa: if negative { -mantissa } else { mantissa },
            scale: frac_part.len() as u32,
        })
    }

    /// The value divided by `unit`, if that is a whole number.
    ///
    /// `value / unit = (mv × 10^su) / (mu × 10^sv)`, computed exactly.
    pub fn in_units_of(self, unit: Decimal) -> Option<i128> {
        if unit.mantissa <= 0 {
            return None;
        }
        let num = self.mantissa.checked_mul(pow10(unit.scale)?)?;
        let den = unit.mantissa.checked_mul(pow10(self.scale)?)?;
        if num % den != 0 {
            return None;
        }
        Some(num / den)
    }

    /// Like [`Decimal::in_units_of`] but rounds to the nearest unit (ties away from zero).
    pub fn in_units_of_rounded(self, unit: Decimal) -> Option<i128> {
        if unit.mantissa <= 0 {
            return None;
        }
        let num = self.mantissa.checked_mul(pow10(unit.scale)?)?;
        let den = unit.mantissa.checked_mul(pow10(self.scale)?)?;
        let q = num / den;
        let r = num % den;
        Some(if 2 * r.abs() >= den { q + num.signum() } else { q })
    }

    /// `count` units of `unit` as an exact decimal (`count × unit`).
    pub fn from_units(count: i128, unit: Decimal) -> Decimal {
        Decimal {
            mantissa: count * unit.mantissa,
            scale: unit.scale,
        }
    }

    /// True when the value is strictly positive.
    pub fn is_positive(self) -> bool {
        self.mantissa > 0
    }

    /// The same value with the trailing zeros of the fraction dropped
    /// (`1.500` → `1.5`, `0.000` → `0`).
    pub fn normalized(self) -> Decimal {
        let mut d = self;
        while d.scale > 0 && d.mantissa % 10 == 0 {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        d
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.mantissa < 0 { "-" } else { "" };
        let digits = self.mantissa.unsigned_abs().to_string();
        if self.scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let scale = self.scale as usize;
        let padded = if digits.len() <= scale {
            format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits)
        } else {
            digits
        };
        let (i, frac) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{i}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_exactly() {
        let d = Decimal::parse("-12.3400").unwrap();
        assert_eq!(
            d,
            Decimal {
                mantissa: -123400,
                scale: 4
            }
        );
        assert_eq!(d.to_string(), "-12.3400");
        assert_eq!(Decimal::parse("0.001").unwrap().to_string(), "0.001");
        assert_eq!(Decimal::parse(".5").unwrap(), Decimal { mantissa: 5, scale: 1 });
        assert_eq!(Decimal::parse("7").unwrap().to_string(), "7");
        for bad in ["", "-", "1e5", "1.2.3", "abc", "1,5", " . "] {
            assert!(Decimal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn converts_to_units_exactly_or_refuses() {
        let tick = Decimal::parse("0.1").unwrap();
        assert_eq!(Decimal::parse("50000.5").unwrap().in_units_of(tick), Some(500005));
        assert_eq!(Decimal::parse("50000.55").unwrap().in_units_of(tick), None);
        assert_eq!(Decimal::parse("50000.55").unwrap().in_units_of_rounded(tick), Some(500006));
        assert_eq!(Decimal::parse("-0.25").unwrap().in_units_of_rounded(tick), Some(-3));
        let lot = Decimal::parse("0.001").unwrap();
        assert_eq!(Decimal::parse("-1.5").unwrap().in_units_of(lot), Some(-1500));
        assert_eq!(Decimal::from_units(500005, tick).to_string(), "50000.5");
        assert_eq!(Decimal::from_units(-3, lot).to_string(), "-0.003");
    }

    #[test]
    fn normalized_drops_trailing_zeros_only() {
        assert_eq!(Decimal::parse("1.500").unwrap().normalized().to_string(), "1.5");
        assert_eq!(Decimal::parse("0.000").unwrap().normalized().to_string(), "0");
        assert_eq!(Decimal::parse("-20").unwrap().normalized().to_string(), "-20");
    }
}
