//! Fixed-point arithmetic for auction prices: RAY-scaled (1e27) unsigned integers,
//! as in MakerDAO's `abaci.sol`, with 256-bit intermediates so `a × b / d` never
//! overflows silently.
//!
//! A [`Ray`] holds a non-negative decimal with 27 fractional digits. Curve factors
//! (`cut`, `buf`, `cusp`, …) and auction prices in *ray-ticks* (ticks × 1e27) use it.
//! Every operation is exact integer arithmetic with a documented rounding
//! direction, so an auction price is a pure function of its inputs on any machine.

use std::fmt;

/// 10^27: the RAY scale.
pub const RAY: u128 = 1_000_000_000_000_000_000_000_000_000;

/// Largest price in ticks an auction accepts (so `ticks × RAY × 2` fits a `u128`).
pub const MAX_PRICE_TICKS: i64 = 100_000_000_000;

const LOW64: u128 = u64::MAX as u128;

/// Full 256-bit product of two `u128`, as `(high, low)` halves.
pub fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & LOW64);
    let (b1, b0) = (b >> 64, b & LOW64);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & LOW64) + (p10 & LOW64);
    let low = (p00 & LOW64) | (mid << 64);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (high, low)
}

/// 5^27: `RAY = 2^27 × 5^27`, and 5^27 < 2^63.
const FIVE_POW_27: u64 = 7_450_580_596_923_828_125;

/// `(high·2^128 + low) / d` rounded down; `None` when `d == 0` or the quotient
/// does not fit a `u128`.
///
/// Fast paths (exact, same result as the long division): a divisor below 2^64
/// divides 64-bit limb by limb with hardware division; `RAY` divides by 2^27
/// (a shift) and then by 5^27 (below 2^64), since `⌊⌊N / 2^27⌋ / 5^27⌋ = ⌊N / 10^27⌋`.
fn div_wide(high: u128, low: u128, d: u128) -> Option<u128> {
    if d == 0 || high >= d {
        return None;
    }
    if high == 0 {
        return Some(low / d);
    }
    if d == RAY {
        let shifted_low = (low >> 27) | (high << (128 - 27));
        let shifted_high = high >> 27;
        return div_wide_small(shifted_high, shifted_low, FIVE_POW_27);
    }
    if d <= u64::MAX as u128 {
        return div_wide_small(high, low, d as u64);
    }
    // Schoolbook binary long division; the remainder stays below `d`.
    let mut rem = high;
    let mut quotient = 0u128;
    for bit in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((low >> bit) & 1);
        quotient <<= 1;
        if carry == 1 || rem >= d {
            rem = rem.wrapping_sub(d);
            quotient |= 1;
        }
    }
    Some(quotient)
}

/// `(high·2^128 + low) / d` for a divisor below 2^64, limb by limb; `None` if
/// the quotient does not fit a `u128`.
fn div_wide_small(high: u128, low: u128, d: u64) -> Option<u128> {
    if d == 0 {
        return None;
    }
    let d = d as u128;
    let limbs = [(high >> 64) as u64, high as u64, (low >> 64) as u64, low as u64];
    let mut rem: u128 = 0;
    let mut quotient = [0u64; 4];
    for (q, &limb) in quotient.iter_mut().zip(&limbs) {
        // rem < d < 2^64, so the partial dividend fits a u128 and its quotient a u64.
        let cur = (rem << 64) | limb as u128;
        *q = (cur / d) as u64;
        rem = cur % d;
    }
    if quotient[0] != 0 || quotient[1] != 0 {
        return None;
    }
    Some(((quotient[2] as u128) << 64) | quotient[3] as u128)
}

/// `a × b / d` rounded down (toward zero); `None` on division by zero or overflow.
pub fn mul_div_floor(a: u128, b: u128, d: u128) -> Option<u128> {
    let (high, low) = mul_wide(a, b);
    div_wide(high, low, d)
}

/// `a × b / d` rounded up; `None` on division by zero or overflow.
pub fn mul_div_ceil(a: u128, b: u128, d: u128) -> Option<u128> {
    let (high, low) = mul_wide(a, b);
    let (low2, carry) = low.overflowing_add(d.saturating_sub(1));
    div_wide(high.checked_add(carry as u128)?, low2, d)
}

/// `a × b / d` rounded half up (Maker's `rpow` rounding); `None` on overflow.
pub fn mul_div_round(a: u128, b: u128, d: u128) -> Option<u128> {
    let (high, low) = mul_wide(a, b);
    let (low2, carry) = low.overflowing_add(d / 2);
    div_wide(high.checked_add(carry as u128)?, low2, d)
}

/// Maker's `rmul`: `x × y / RAY`, rounded down. Saturates at `u128::MAX` (only
/// reachable with factors far above 1, which the curves never produce).
pub fn rmul(x: u128, y: u128) -> u128 {
    mul_div_floor(x, y, RAY).unwrap_or(u128::MAX)
}

/// Maker's `rpow(x, n, RAY)`: `x^n` in RAY by square-and-multiply, each product
/// rounded half up. `rpow(0, 0) = RAY`. Saturates on overflow (bases above 1 only).
pub fn rpow(mut x: u128, mut n: u64) -> u128 {
    if n == 0 {
        return RAY;
    }
    if x == 0 {
        return 0;
    }
    let mut z = if n % 2 == 1 { x } else { RAY };
    n /= 2;
    while n > 0 {
        x = match mul_div_round(x, x, RAY) {
            Some(v) => v,
            None => return u128::MAX,
        };
        if n % 2 == 1 {
            z = match mul_div_round(z, x, RAY) {
                Some(v) => v,
                None => return u128::MAX,
            };
        }
        n /= 2;
    }
    z
}

/// A non-negative decimal with 27 fractional digits (the raw value is `× 1e27`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ray(pub u128);

/// Why a decimal string could not become a [`Ray`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RayParseError {
    /// Empty input.
    #[error("empty number")]
    Empty,
    /// A character other than digits and one `.`.
    #[error("invalid character {0:?} in number (expected digits and at most one '.')")]
    BadChar(char),
    /// More than 27 digits after the point.
    #[error("more than 27 fractional digits")]
    TooPrecise,
    /// The value does not fit.
    #[error("number too large")]
    TooLarge,
}

impl Ray {
    /// Exactly 1.
    pub const ONE: Ray = Ray(RAY);
    /// Exactly 0.
    pub const ZERO: Ray = Ray(0);

    /// Parses a plain decimal (`"0.99"`, `"1"`, `"1.000000000000000000000000001"`) exactly.
    pub fn parse(text: &str) -> Result<Ray, RayParseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(RayParseError::Empty);
        }
        let (int_part, frac_part) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(RayParseError::Empty);
        }
        if frac_part.len() > 27 {
            return Err(RayParseError::TooPrecise);
        }
        let mut int_value: u128 = 0;
        for c in int_part.chars() {
            let digit = c.to_digit(10).ok_or(RayParseError::BadChar(c))? as u128;
            int_value = int_value
                .checked_mul(10)
                .and_then(|v| v.checked_add(digit))
                .ok_or(RayParseError::TooLarge)?;
        }
        let mut frac_value: u128 = 0;
        for c in frac_part.chars() {
            let digit = c.to_digit(10).ok_or(RayParseError::BadChar(c))? as u128;
            frac_value = frac_value * 10 + digit;
        }
        frac_value *= 10u128.pow(27 - frac_part.len() as u32);
        int_value
            .checked_mul(RAY)
            .and_then(|v| v.checked_add(frac_value))
            .map(Ray)
            .ok_or(RayParseError::TooLarge)
    }

    /// A ray from basis points (1 bp = 0.0001).
    pub const fn from_bps(bps: u64) -> Ray {
        Ray(bps as u128 * (RAY / 10_000))
    }

    /// A ray holding an integer number of ticks.
    pub const fn from_ticks(ticks: i64) -> Ray {
        Ray(if ticks > 0 { ticks as u128 * RAY } else { 0 })
    }

    /// Rounds down to whole units (ticks), saturating at `i64::MAX`.
    pub fn floor_ticks(self) -> i64 {
        i64::try_from(self.0 / RAY).unwrap_or(i64::MAX)
    }

    /// Rounds up to whole units (ticks), saturating at `i64::MAX`.
    pub fn ceil_ticks(self) -> i64 {
        i64::try_from(self.0.div_ceil(RAY)).unwrap_or(i64::MAX)
    }

    /// `self × other`, rounded down.
    pub fn mul_floor(self, other: Ray) -> Ray {
        Ray(rmul(self.0, other.0))
    }

    /// `self × other`, rounded up.
    pub fn mul_ceil(self, other: Ray) -> Ray {
        Ray(mul_div_ceil(self.0, other.0, RAY).unwrap_or(u128::MAX))
    }

    /// `self / other` in RAY, rounded down (`None` when `other` is zero or on overflow).
    pub fn div_floor(self, other: Ray) -> Option<Ray> {
        mul_div_floor(self.0, RAY, other.0).map(Ray)
    }

    /// `self × value`, rounded down, for an integer `value ≥ 0` (money × fraction).
    pub fn apply_floor(self, value: i128) -> i128 {
        if value <= 0 {
            return 0;
        }
        mul_div_floor(value as u128, self.0, RAY)
            .and_then(|v| i128::try_from(v).ok())
            .unwrap_or(i128::MAX)
    }
}

impl fmt::Display for Ray {
    /// Exact decimal, trailing fractional zeros trimmed (`0.99`, `1`, `101.5`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int_part = self.0 / RAY;
        let frac = self.0 % RAY;
        if frac == 0 {
            return write!(f, "{int_part}");
        }
        let digits = format!("{frac:027}");
        write!(f, "{int_part}.{}", digits.trim_end_matches('0'))
    }
}

impl serde::Serialize for Ray {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Ray {
    /// Accepts a decimal string (exact), an unsigned integer, or a float (taken
    /// through its shortest round-trip decimal text, so `0.99` is exactly 0.99).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RayVisitor;
        impl serde::de::Visitor<'_> for RayVisitor {
            type Value = Ray;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative decimal number or decimal string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Ray, E> {
                Ray::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Ray, E> {
                Ok(Ray(v as u128 * RAY))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Ray, E> {
                u64::try_from(v)
                    .map(|v| Ray(v as u128 * RAY))
                    .map_err(|_| E::custom("negative number"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Ray, E> {
                if !v.is_finite() || v < 0.0 {
                    return Err(E::custom("not a finite non-negative number"));
                }
                Ray::parse(&format!("{v}")).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(RayVisitor)
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference: plain binary long division over all 256 bits.
    fn long_division(high: u128, low: u128, d: u128) -> Option<u128> {
        if d == 0 || high >= d {
            return None;
        }
        let mut rem = high;
        let mut quotient = 0u128;
        for bit in (0..128).rev() {
            let carry = rem >> 127;
            rem = (rem << 1) | ((low >> bit) & 1);
            quotient <<= 1;
            if carry == 1 || rem >= d {
                rem = rem.wrapping_sub(d);
                quotient |= 1;
            }
        }
        Some(quotient)
    }

    #[test]
    fn wide_division_matches_narrow_division_when_it_fits() {
        assert_eq!(mul_div_floor(7, 9, 4), Some(15));
        assert_eq!(mul_div_ceil(7, 9, 4), Some(16));
        assert_eq!(mul_div_round(7, 9, 4), Some(16)); // 15.75
        assert_eq!(mul_div_round(5, 1, 2), Some(3)); // 2.5 rounds up
        assert_eq!(mul_div_floor(1, 1, 0), None);
    }

    #[test]
    fn wide_division_handles_256_bit_products() {
        // (2^100 × 3^40) / 3^40 = 2^100 exactly, through a product above 2^128.
        let a = 1u128 << 100;
        let b = 3u128.pow(40);
        assert_eq!(mul_div_floor(a, b, b), Some(a));
        // RAY × RAY / RAY = RAY.
        assert_eq!(mul_div_floor(RAY, RAY, RAY), Some(RAY));
        // Quotient overflow is reported.
        assert_eq!(mul_div_floor(u128::MAX, u128::MAX, 1), None);
    }

    #[test]
    fn rpow_of_simple_values_is_exact() {
        let half = RAY / 2;
        assert_eq!(rpow(half, 0), RAY);
        assert_eq!(rpow(half, 1), half);
        assert_eq!(rpow(half, 2), RAY / 4);
        assert_eq!(rpow(half, 10), RAY / 1024);
        assert_eq!(rpow(0, 5), 0);
    }

    #[test]
    fn ray_parses_and_prints_exactly() {
        assert_eq!(Ray::parse("0.99").unwrap(), Ray(99 * RAY / 100));
        assert_eq!(Ray::parse("1").unwrap(), Ray::ONE);
        assert_eq!(Ray::parse(".5").unwrap().to_string(), "0.5");
        assert_eq!(Ray::parse("101.25").unwrap().to_string(), "101.25");
        assert_eq!(Ray::parse("1.000000000000000000000000001").unwrap().0, RAY + 1);
        assert!(Ray::parse("-1").is_err());
        assert!(Ray::parse("1e5").is_err());
        assert!(Ray::parse("0.0000000000000000000000000001").is_err());
        assert_eq!(Ray::from_bps(250), Ray::parse("0.025").unwrap());
    }

    #[test]
    fn ray_deserializes_from_string_integer_and_float() {
        #[derive(serde::Deserialize)]
        struct T {
            a: Ray,
            b: Ray,
            c: Ray,
        }
        let t: T = toml::from_str("a = \"0.999\"\nb = 2\nc = 0.99\n").unwrap();
        assert_eq!(t.a, Ray::parse("0.999").unwrap());
        assert_eq!(t.b, Ray(2 * RAY));
        assert_eq!(t.c, Ray::parse("0.99").unwrap());
    }

    proptest! {
        #[test]
        fn mul_div_agrees_with_u128_when_product_fits(a in 0u128..(1u128 << 64), b in 0u128..(1u128 << 63), d in 1u128..u128::MAX) {
            prop_assert_eq!(mul_div_floor(a, b, d), Some(a * b / d));
            prop_assert_eq!(mul_div_ceil(a, b, d), Some((a * b).div_ceil(d)));
        }

        #[test]
        fn fast_division_paths_match_long_division(a in 0u128..u128::MAX, b in 0u128..(1u128 << 100), small in 1u128..(1u128 << 64)) {
            let (high, low) = mul_wide(a, b);
            for d in [RAY, small, RAY + 1] {
                prop_assert_eq!(div_wide(high, low, d), long_division(high, low, d));
            }
        }

        #[test]
        fn mul_div_inverts_multiplication(a in 0u128..(1u128 << 120), b in 1u128..(1u128 << 120)) {
            prop_assert_eq!(mul_div_floor(a, b, b), Some(a));
        }
    }
}
