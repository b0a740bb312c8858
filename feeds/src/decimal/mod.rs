//! gavel's one exact decimal type and its fixed-point grids: no floats anywhere.
//!
//! - [`Decimal`] (`mantissa × 10^-scale`): config and CSV values (tick and lot
//!   sizes, money, rates), converted to integer units by exact division.
//! - [`Grid`]: a tick or lot step (a positive [`Decimal`]) that parses venue
//!   text straight into integer step counts on the hot path.
//! - The integer helpers every money computation rounds with: [`div_ceil`],
//!   [`div_floor`], [`pow10`].

mod exact;
mod grid;

pub use exact::{Decimal, ParseDecimalError};
pub use grid::{DecimalError, Grid};

/// Most decimal places a [`Decimal`] or a [`Grid`] may have.
pub const MAX_DECIMALS: u8 = 18;

/// `10^i` for `i ≤ 18` as a table (the grid parser's hot path).
const POW10: [u64; 19] = {
    let mut table = [1u64; 19];
    let mut i = 1;
    while i < 19 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// `10^n`, `None` past `i128` (`n > 38`).
pub fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

/// `a / b` truncated toward zero, for `b > 0`: a 64-bit division when both fit (the
/// common case for money and prices), the 128-bit one otherwise.
#[inline]
fn div_trunc(a: i128, b: i128) -> i128 {
    if a == i128::from(a as i64) && b == i128::from(b as i64) {
        // b > 0, so i64::MIN / -1 cannot occur.
        i128::from(a as i64 / b as i64)
    } else {
        a / b
    }
}

/// `ceil(a / b)` for `b > 0`.
#[inline]
pub fn div_ceil(a: i128, b: i128) -> i128 {
    debug_assert!(b > 0);
    let q = div_trunc(a, b);
    // |q·b| ≤ |a|: no overflow. A positive remainder rounds up.
    if q * b < a {
        q + 1
    } else {
        q
    }
}

/// `floor(a / b)` for `b > 0`.
#[inline]
pub fn div_floor(a: i128, b: i128) -> i128 {
    debug_assert!(b > 0);
    let q = div_trunc(a, b);
    // A negative remainder rounds down.
    if q * b > a {
        q - 1
    } else {
        q
    }
}

/// Number of digits after the decimal point as written (`"61800.20"` → 2,
/// `"7"` → 0); `None` when the text is not a plain decimal.
pub fn fraction_places(text: &[u8]) -> Option<u8> {
    let body = text.strip_prefix(b"-").unwrap_or(text);
    let (int, frac) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, &body[body.len()..]),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || !frac.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    if body.contains(&b'.') && frac.is_empty() {
        return None;
    }
    u8::try_from(frac.len()).ok().filter(|&n| n <= MAX_DECIMALS)
}

/// Decimal places needed to hold `text` exactly (trailing zeros ignored):
/// `"61737.63000000"` → 2. `None` when not a plain decimal.
pub fn significant_places(text: &[u8]) -> Option<u8> {
    fraction_places(text)?;
    match text.iter().position(|&b| b == b'.') {
        None => Some(0),
        Some(dot) => Some(
            text[dot + 1..]
                .iter()
                .rposition(|&b| b != b'0')
                .map_or(0, |p| p + 1) as u8,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_as_written_and_significant() {
        assert_eq!(fraction_places(b"61737.63000000"), Some(8));
        assert_eq!(significant_places(b"61737.63000000"), Some(2));
        assert_eq!(fraction_places(b"35"), Some(0));
        assert_eq!(fraction_places(b"3x"), None);
    }

    #[test]
    fn rounding_helpers() {
        assert_eq!(div_ceil(7, 2), 4);
        assert_eq!(div_ceil(-7, 2), -3);
        assert_eq!(div_floor(-7, 2), -4);
        assert_eq!(div_floor(6, 2), 3);
        assert_eq!(pow10(3), Some(1000));
        assert_eq!(pow10(39), None);
    }

    use proptest::prelude::*;

    proptest! {
        /// Both paths (64-bit when the operands fit, 128-bit otherwise) agree with the
        /// Euclidean definition, across the i64 boundary and at the i128 extremes.
        #[test]
        fn rounding_matches_euclid(
            a in prop_oneof![
                any::<i64>().prop_map(i128::from),
                any::<i128>(),
                (-4i128..4).prop_map(|d| i128::from(i64::MAX) + d),
                (-4i128..4).prop_map(|d| i128::from(i64::MIN) + d),
            ],
            b in prop_oneof![
                1i128..1_000,
                (1i64..=i64::MAX).prop_map(i128::from),
                1i128..=i128::MAX,
            ],
        ) {
            let floor = a.div_euclid(b);
            let ceil = if a.rem_euclid(b) == 0 { floor } else { floor + 1 };
            prop_assert_eq!(div_floor(a, b), floor);
            prop_assert_eq!(div_ceil(a, b), ceil);
        }
    }
}
