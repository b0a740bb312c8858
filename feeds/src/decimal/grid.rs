//! [`Grid`]: a tick or lot step, and exact decimal text → integer step counts.
//!
//! Venues print prices and quantities as decimal strings (`"61800.20"`). A
//! [`Grid`] turns such a string into an integer count of grid steps (price
//! ticks or quantity lots) without ever passing through a float: the digits
//! are accumulated as an integer at `10^-decimals` and divided by the step,
//! which must divide them exactly. Anything not on the grid, any exponent,
//! `NaN`, infinity, a sign where none is allowed, or a value beyond `i64` is a
//! [`DecimalError`], never a rounding. The step itself is a [`Decimal`]
//! ([`Grid::from_decimal`], [`Grid::unit`]).

use std::fmt;

use super::{fraction_places, Decimal, MAX_DECIMALS, POW10};

/// Why a decimal string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// The string was empty.
    Empty,
    /// The string is not a plain decimal (`[-]digits[.digits]`): exponent, `NaN`, letters, …
    Invalid,
    /// A minus sign where the grid allows only non-negative values.
    Negative,
    /// More significant decimal places than the grid's resolution.
    TooManyDecimals,
    /// On the grid's resolution but not a multiple of its step.
    OffGrid,
    /// The value does not fit an `i64` count of steps.
    Overflow,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecimalError::Empty => "empty decimal",
            DecimalError::Invalid => "not a plain decimal number",
            DecimalError::Negative => "negative value not allowed",
            DecimalError::TooManyDecimals => "more decimal places than the instrument's grid",
            DecimalError::OffGrid => "not a multiple of the instrument's step",
            DecimalError::Overflow => "value overflows a 64-bit step count",
        })
    }
}

impl std::error::Error for DecimalError {}

/// Digits beyond a grid's resolution seen while parsing.
#[derive(Clone, Copy)]
struct Dropped {
    /// No nonzero digit was dropped.
    exact: bool,
    /// The first dropped digit (0 when none), which decides rounding.
    first_dropped: u8,
    /// The text had a minus sign (kept even when the truncated value is 0).
    negative: bool,
}

/// A fixed-point grid: values are multiples of `step × 10^-decimals`.
///
/// A price grid with tick size `0.10` is `decimals = 1, step = 1`; a tick of
/// `0.5` is `decimals = 1, step = 5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    decimals: u8,
    step: u64,
    allow_negative: bool,
}

impl Grid {
    /// A grid of resolution `10^-decimals` with step 1 (non-negative values only).
    pub fn with_decimals(decimals: u8) -> Result<Self, DecimalError> {
        if decimals > MAX_DECIMALS {
            return Err(DecimalError::TooManyDecimals);
        }
        Ok(Grid {
            decimals,
            step: 1,
            allow_negative: false,
        })
    }

    /// A grid from a step written as a decimal (`"0.10"`, `"0.00100000"`, `"5"`);
    /// trailing zeros of the fraction do not add resolution. The text must be
    /// a plain decimal as venues print it (`digits[.digits]`).
    pub fn from_step(step: &str) -> Result<Self, DecimalError> {
        fraction_places(step.as_bytes()).ok_or(DecimalError::Invalid)?;
        if step.starts_with('-') {
            return Err(DecimalError::Negative);
        }
        // The grammar is checked: only the range can fail here.
        let unit = Decimal::parse(step).map_err(|_| DecimalError::Overflow)?;
        Grid::from_decimal(unit)
    }

    /// A grid whose step is `unit` (`0.10` → resolution 10^-1, step 1):
    /// positive, at most [`MAX_DECIMALS`] significant places, a step that fits `i64`.
    pub fn from_decimal(unit: Decimal) -> Result<Self, DecimalError> {
        let unit = unit.normalized();
        if unit.mantissa <= 0 {
            return Err(DecimalError::Invalid);
        }
        if unit.scale > u32::from(MAX_DECIMALS) {
            return Err(DecimalError::TooManyDecimals);
        }
        let step = i64::try_from(unit.mantissa).map_err(|_| DecimalError::Overflow)?;
        Ok(Grid {
            decimals: unit.scale as u8,
            step: step as u64,
            allow_negative: false,
        })
    }

    /// The step as an exact decimal (`step × 10^-decimals`).
    pub fn unit(&self) -> Decimal {
        Decimal {
            mantissa: i128::from(self.step),
            scale: u32::from(self.decimals),
        }
    }

    /// The same grid, accepting negative values too (funding rates, PnL).
    pub fn signed(mut self) -> Self {
        self.allow_negative = true;
        self
    }

    /// Decimal places of the grid's resolution.
    pub fn decimals(&self) -> u8 {
        self.decimals
    }

    /// The step in units of `10^-decimals`.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Parses decimal text into a count of grid steps, exactly.
    #[inline]
    pub fn parse(&self, text: &[u8]) -> Result<i64, DecimalError> {
        let (units, dropped) = self.parse_units(text)?;
        if !dropped.exact {
            return Err(DecimalError::TooManyDecimals);
        }
        self.units_to_steps(units)
    }

    /// Parses decimal text, rounding to the nearest step (half away from zero).
    /// Returns the steps and whether the text was exactly on the grid. Only for
    /// values that are by nature off the grid (mark prices, average fill prices);
    /// the caller flags rounded values.
    pub fn parse_rounded(&self, text: &[u8]) -> Result<(i64, bool), DecimalError> {
        let (units, digits) = self.parse_units(text)?;
        let magnitude = units.unsigned_abs();
        let quotient = magnitude / self.step;
        let remainder = magnitude % self.step;
        // value = units + fraction (fraction < one unit, first digit `first_dropped`):
        // round up when (remainder + fraction) ≥ step / 2.
        let up = 2 * remainder >= self.step
            || (2 * remainder + 1 == self.step && digits.first_dropped >= 5);
        let rounded = if up { quotient + 1 } else { quotient };
        if rounded > i64::MAX as u64 {
            return Err(DecimalError::Overflow);
        }
        let steps = if digits.negative {
            -(rounded as i64)
        } else {
            rounded as i64
        };
        Ok((steps, digits.exact && remainder == 0))
    }

    /// Accumulates the digits at this grid's resolution. Returns the signed
    /// value in units of `10^-decimals` (truncated) and what was dropped.
    ///
    /// Fast path: with at most 18 accumulated digits the value is below 10^18
    /// and cannot overflow, so digits are accumulated without checks; longer
    /// numbers take the checked path.
    #[inline]
    fn parse_units(&self, text: &[u8]) -> Result<(i64, Dropped), DecimalError> {
        let (negative, digits) = self.split_sign(text)?;
        let mut value: u64 = 0;
        let mut i = 0;
        while i < digits.len() {
            let d = digits[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            value = value.wrapping_mul(10).wrapping_add(d as u64);
            i += 1;
        }
        let int_digits = i;
        if int_digits == 0 || int_digits > 18 {
            return self.parse_units_checked(text);
        }
        let mut places = 0u8;
        if i < digits.len() {
            if digits[i] != b'.' || i + 1 == digits.len() {
                return Err(DecimalError::Invalid);
            }
            i += 1;
            let frac = &digits[i..];
            let take = frac.len().min(self.decimals as usize);
            if int_digits + self.decimals as usize > 18 {
                return self.parse_units_checked(text);
            }
            let mut k = 0;
            while take - k >= 8 {
                match eight_digits(&frac[k..k + 8]) {
                    Some(v) => value = value * 100_000_000 + v,
                    None => return Err(DecimalError::Invalid),
                }
                k += 8;
            }
            for &c in &frac[k..take] {
                let d = c.wrapping_sub(b'0');
                if d > 9 {
                    return Err(DecimalError::Invalid);
                }
                value = value * 10 + d as u64;
            }
            places = take as u8;
            if !frac[take..].iter().all(|&c| c == b'0') {
                // Nonzero or invalid digits beyond the grid: the general path reports them.
                return self.parse_units_checked(text);
            }
        } else if int_digits + self.decimals as usize > 18 {
            return self.parse_units_checked(text);
        }
        value *= POW10[(self.decimals - places) as usize];
        let signed = with_sign(value, negative);
        Ok((
            signed,
            Dropped {
                exact: true,
                first_dropped: 0,
                negative,
            },
        ))
    }

    /// The sign and the digits of `text`; a minus sign only where the grid allows it.
    #[inline]
    fn split_sign<'t>(&self, text: &'t [u8]) -> Result<(bool, &'t [u8]), DecimalError> {
        let (negative, digits) = match text.first() {
            None => return Err(DecimalError::Empty),
            Some(b'-') => (true, &text[1..]),
            Some(_) => (false, text),
        };
        if negative && !self.allow_negative {
            return Err(DecimalError::Negative);
        }
        Ok((negative, digits))
    }

    /// The checked, general form of [`Self::parse_units`].
    fn parse_units_checked(&self, text: &[u8]) -> Result<(i64, Dropped), DecimalError> {
        let (negative, digits) = self.split_sign(text)?;
        let mut value: u64 = 0;
        let mut i = 0;
        let mut int_digits = 0usize;
        while i < digits.len() && digits[i].is_ascii_digit() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add((digits[i] - b'0') as u64))
                .ok_or(DecimalError::Overflow)?;
            i += 1;
            int_digits += 1;
        }
        if int_digits == 0 {
            return Err(DecimalError::Invalid);
        }
        let mut places = 0u8;
        let mut exact = true;
        let mut first_dropped = 0u8;
        let mut dropped_any = false;
        if i < digits.len() {
            if digits[i] != b'.' {
                return Err(DecimalError::Invalid);
            }
            i += 1;
            if i == digits.len() {
                return Err(DecimalError::Invalid);
            }
            while i < digits.len() {
                let d = digits[i];
                if !d.is_ascii_digit() {
                    return Err(DecimalError::Invalid);
                }
                if places < self.decimals {
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add((d - b'0') as u64))
                        .ok_or(DecimalError::Overflow)?;
                    places += 1;
                } else {
                    if !dropped_any {
                        first_dropped = d - b'0';
                        dropped_any = true;
                    }
                    if d != b'0' {
                        exact = false;
                    }
                }
                i += 1;
            }
        }
        if places < self.decimals {
            value = value
                .checked_mul(POW10[(self.decimals - places) as usize])
                .ok_or(DecimalError::Overflow)?;
        }
        if value > i64::MAX as u64 {
            return Err(DecimalError::Overflow);
        }
        let signed = with_sign(value, negative);
        Ok((
            signed,
            Dropped {
                exact,
                first_dropped,
                negative,
            },
        ))
    }

    #[inline]
    fn units_to_steps(&self, units: i64) -> Result<i64, DecimalError> {
        if self.step == 1 {
            return Ok(units);
        }
        let step = self.step as i64;
        if units % step != 0 {
            return Err(DecimalError::OffGrid);
        }
        Ok(units / step)
    }

    /// Writes `steps` as decimal text with exactly `places` decimal places
    /// (`places` ≥ the grid's decimals, as the venue prints it: `61800.20`).
    pub fn format(&self, steps: i64, places: u8, out: &mut String) {
        use fmt::Write;
        let places = places.max(self.decimals);
        let units = (steps as i128) * (self.step as i128);
        let negative = units < 0;
        let magnitude = units.unsigned_abs();
        let scale = 10u128.pow(self.decimals as u32);
        let int_part = magnitude / scale;
        let frac_part = magnitude % scale;
        if negative {
            out.push('-');
        }
        let _ = write!(out, "{int_part}");
        if places > 0 {
            out.push('.');
            if self.decimals > 0 {
                let _ = write!(out, "{:0width$}", frac_part, width = self.decimals as usize);
            }
            for _ in self.decimals..places {
                out.push('0');
            }
        }
    }
}

/// The value of exactly eight ASCII digits, or `None` if any byte is not a
/// digit (SWAR: all eight converted with three multiplications).
#[inline]
fn eight_digits(chunk: &[u8]) -> Option<u64> {
    let word = u64::from_le_bytes(chunk.try_into().ok()?);
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // Every byte is 0x30..=0x39: high nibble 3, and adding 6 does not carry out of the nibble.
    if word & HIGH_NIBBLES != ZEROS
        || word.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES != ZEROS
    {
        return None;
    }
    let mut v = word & 0x0F0F_0F0F_0F0F_0F0F;
    v = v.wrapping_mul(2561) >> 8;
    v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
    v = (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32;
    Some(v)
}

/// `value` (at most `i64::MAX`, checked by the caller) with its sign.
#[inline]
fn with_sign(value: u64, negative: bool) -> i64 {
    if negative {
        -(value as i64)
    } else {
        value as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_on_grid_values_exactly() {
        let tick = Grid::from_step("0.10").unwrap();
        assert_eq!((tick.decimals(), tick.step()), (1, 1));
        assert_eq!(tick.parse(b"61800.20"), Ok(618_002));
        assert_eq!(tick.parse(b"61800.25"), Err(DecimalError::TooManyDecimals));
        let cents = Grid::with_decimals(2).unwrap();
        assert_eq!(cents.parse(b"61800.20"), Ok(6_180_020));
        assert_eq!(cents.parse(b"61800"), Ok(6_180_000));
        assert_eq!(cents.parse(b"0.1"), Ok(10));
        let spot = Grid::from_step("0.01000000").unwrap();
        assert_eq!(spot.parse(b"61737.63000000"), Ok(6_173_763));
        let half = Grid::from_step("0.5").unwrap();
        assert_eq!(half.parse(b"10.5"), Ok(21));
        assert_eq!(half.parse(b"10.3"), Err(DecimalError::OffGrid));
    }

    #[test]
    fn refuses_everything_that_is_not_a_plain_decimal() {
        let g = Grid::with_decimals(8).unwrap();
        for bad in [
            &b"NaN"[..],
            b"nan",
            b"inf",
            b"1e5",
            b"1.",
            b".5",
            b"+1",
            b"1.2.3",
            b" 1",
            b"0x10",
            b"--1",
        ] {
            assert!(
                matches!(
                    g.parse(bad),
                    Err(DecimalError::Invalid | DecimalError::Negative)
                ),
                "{bad:?}"
            );
        }
        assert_eq!(g.parse(b""), Err(DecimalError::Empty));
        assert_eq!(g.parse(b"-1"), Err(DecimalError::Negative));
        assert_eq!(g.signed().parse(b"-0.00002754"), Ok(-2754));
        assert_eq!(
            g.parse(b"99999999999999999999"),
            Err(DecimalError::Overflow)
        );
        assert_eq!(g.parse(b"100000000000"), Err(DecimalError::Overflow));
        assert_eq!(g.parse(b"0.000000001"), Err(DecimalError::TooManyDecimals));
        assert_eq!(g.parse(b"0.000000010"), Ok(1));
    }

    #[test]
    fn rounds_only_when_asked_and_says_so() {
        let tick = Grid::from_step("0.1").unwrap();
        assert_eq!(tick.parse_rounded(b"28147.27373413"), Ok((281_473, false)));
        assert_eq!(tick.parse_rounded(b"28147.25"), Ok((281_473, false)));
        assert_eq!(tick.parse_rounded(b"28147.2"), Ok((281_472, true)));
        assert_eq!(tick.signed().parse_rounded(b"-0.05"), Ok((-1, false)));
    }

    #[test]
    fn formats_as_the_venue_prints() {
        let mut s = String::new();
        Grid::with_decimals(2).unwrap().format(6_180_020, 2, &mut s);
        assert_eq!(s, "61800.20");
        s.clear();
        Grid::from_step("0.01")
            .unwrap()
            .format(6_173_763, 8, &mut s);
        assert_eq!(s, "61737.63000000");
        s.clear();
        Grid::from_step("0.5").unwrap().format(21, 1, &mut s);
        assert_eq!(s, "10.5");
        s.clear();
        Grid::with_decimals(0).unwrap().format(35, 0, &mut s);
        assert_eq!(s, "35");
    }

    #[test]
    fn steps_are_decimals() {
        let tick = Grid::from_step("0.050").unwrap();
        assert_eq!((tick.decimals(), tick.step()), (2, 5));
        assert_eq!(tick.unit().to_string(), "0.05");
        assert_eq!(Grid::from_decimal(Decimal::parse("0.050").unwrap()), Ok(tick));
        assert_eq!(Grid::from_step("0"), Err(DecimalError::Invalid));
        assert_eq!(Grid::from_step("-0.1"), Err(DecimalError::Negative));
        assert_eq!(Grid::from_step("+0.1"), Err(DecimalError::Invalid));
        assert_eq!(Grid::from_step("99999999999999999999"), Err(DecimalError::Overflow));
        assert_eq!(Grid::from_decimal(Decimal { mantissa: 1, scale: 19 }), Err(DecimalError::TooManyDecimals));
    }

    #[test]
    fn eight_digits_swar() {
        assert_eq!(eight_digits(b"12345678"), Some(12_345_678));
        assert_eq!(eight_digits(b"00000001"), Some(1));
        assert_eq!(eight_digits(b"99999999"), Some(99_999_999));
        assert_eq!(eight_digits(b"1234567:"), None);
        assert_eq!(eight_digits(b"1234 678"), None);
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(steps in 0i64..1_000_000_000_000, decimals in 0u8..9, step in 1u64..20) {
            let grid = Grid { decimals, step, allow_negative: false };
            let mut s = String::new();
            grid.format(steps, decimals, &mut s);
            prop_assert_eq!(grid.parse(s.as_bytes()), Ok(steps));
        }

        #[test]
        fn fast_path_agrees_with_checked_path(text in "-?[0-9]{0,21}(\\.[0-9]{0,21})?", decimals in 0u8..19) {
            let grid = Grid::with_decimals(decimals).unwrap().signed();
            let fast = grid.parse_units(text.as_bytes()).map(|(v, d)| (v, d.exact, d.negative));
            let slow = grid.parse_units_checked(text.as_bytes()).map(|(v, d)| (v, d.exact, d.negative));
            prop_assert_eq!(fast, slow, "{}", text);
        }

        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), decimals in 0u8..19) {
            let grid = Grid::with_decimals(decimals).unwrap().signed();
            let _ = grid.parse(&bytes);
            let _ = grid.parse_rounded(&bytes);
            let _ = super::super::fraction_places(&bytes);
        }
    }
}

