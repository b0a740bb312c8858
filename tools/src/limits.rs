//! Documented maxima of the count flags, with their clap parsers. A value
//! outside a range is refused by clap with the flag's name and the range,
//! before any work (or allocation) starts. `docs/RELIABILITY.md` lists them.

use clap::builder::{RangedI64ValueParser, RangedU64ValueParser};

/// Most accounts `gen crash`, `gen accounts`, `gen incident` and `demo` generate (`--accounts`).
pub const MAX_ACCOUNTS: u64 = 1_000_000;
/// Most levels per side per venue of `liquidate`'s synthetic market (`--levels`).
pub const MAX_LEVELS: i64 = 10_000;
/// Largest ring capacity in events of `stream --ring-capacity` and
/// `ring produce --capacity`: 2^22 slots, 256 MiB of 64-byte events.
pub const MAX_RING_CAPACITY: u64 = 1 << 22;

/// `--accounts`: 1 ..= [`MAX_ACCOUNTS`].
pub fn accounts() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::<usize>::new().range(1..=MAX_ACCOUNTS)
}

/// `--levels`: 1 ..= [`MAX_LEVELS`].
pub fn levels() -> RangedI64ValueParser<i64> {
    RangedI64ValueParser::<i64>::new().range(1..=MAX_LEVELS)
}

/// A ring capacity flag: a power of two in 2 ..= [`MAX_RING_CAPACITY`].
pub fn ring_capacity(text: &str) -> Result<u64, String> {
    let value: u64 = text.trim().parse().map_err(|_| format!("{text:?} is not a whole number"))?;
    if !value.is_power_of_two() || !(2..=MAX_RING_CAPACITY).contains(&value) {
        return Err(format!("{value} is not a power of two between 2 and {MAX_RING_CAPACITY} (2^22)"));
    }
    Ok(value)
}

/// Largest `replay --speed` factor.
pub const MAX_SPEED: f64 = 1_000_000.0;

/// `replay --speed`: a finite factor in (0, [`MAX_SPEED`]]; NaN and infinities are refused.
pub fn speed(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
    if !(value.is_finite() && value > 0.0 && value <= MAX_SPEED) {
        return Err(format!("{text} is not a number above 0 and at most {MAX_SPEED}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Flags {
        #[arg(long, value_parser = accounts(), default_value_t = 1)]
        accounts: usize,
        #[arg(long, value_parser = levels(), default_value_t = 1)]
        levels: i64,
        #[arg(long, value_parser = ring_capacity, default_value_t = 2)]
        ring_capacity: u64,
        #[arg(long, value_parser = speed, default_value_t = 1.0)]
        speed: f64,
    }

    fn parse(args: &[&str]) -> Result<Flags, String> {
        Flags::try_parse_from(std::iter::once("t").chain(args.iter().copied())).map_err(|e| e.to_string())
    }

    #[test]
    fn counts_inside_the_bounds_parse_and_outside_are_refused_naming_the_flag() {
        let ok = parse(&["--accounts", "1000000", "--levels", "10000", "--ring-capacity", "4194304", "--speed", "1000000"]).unwrap();
        assert_eq!((ok.accounts, ok.levels, ok.ring_capacity, ok.speed), (1_000_000, 10_000, 1 << 22, MAX_SPEED));
        for (flag, value) in [
            ("--accounts", "18446744073709551615"),
            ("--accounts", "18446744073709551616"),
            ("--accounts", "1000001"),
            ("--accounts", "0"),
            ("--levels", "4294967295"),
            ("--levels", "0"),
            ("--ring-capacity", "1099511627776"),
            ("--ring-capacity", "1000"),
            ("--ring-capacity", "1"),
            ("--speed", "NaN"),
            ("--speed", "inf"),
            ("--speed", "0"),
            ("--speed", "-2"),
            ("--speed", "1000001"),
        ] {
            let err = parse(&[&format!("{flag}={value}")]).unwrap_err();
            assert!(err.contains(flag), "{flag} {value}: {err}");
        }
    }
}
