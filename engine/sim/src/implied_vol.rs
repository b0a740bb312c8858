//! Option-implied volatility of a scenario (`implied_vol.csv`): quotes the world sends to
//! the engine as `ImpliedVol` events at their event time, for the predictive margin calls.
//!
//! ```text
//! offset_ms,instrument,vol_pct
//! 0,BTCUSDT,55
//! 1000,BTCUSDT,57.25
//! ```
//!
//! `offset_ms` is event time after the first captured event (0 ..= 10^9 ms); `vol_pct`
//! the annualised implied vol in percent, a decimal in (0, 1000] with at most 4 places.
//! Every error names the file, the line and the field.
//!
//! [`crash_implied_vols`] writes such a file for a generated crash. Its path is an
//! assumption, not a fit to option data: the implied vol rises with the drawdown from the
//! running high (`vol = base × (1 + 5 × drawdown)`, so a 15 % fall takes 55 % to 96.25 %),
//! the way option markets reprice a sell-off as it happens, while a realised estimate only
//! catches up with the moves it has seen.

use gavel_engine::engine::margin_call::MAX_IMPLIED_VOL_E6;
use gavel_engine::risk::decimal::Decimal;
use gavel_engine::risk::InstrumentSet;
use gavel_feeds::input_error::InputError;
use gavel_feeds::wire::{Event, EventKind, ImpliedVolQuote, Venue};

use crate::generate::market::PathPoint;
use crate::orders::{read_scheduled, ScheduledInput};

/// How much of the drawdown from the running high the generated implied vol adds, × base.
pub const DRAWDOWN_FACTOR: i128 = 5;

/// The header line.
pub const HEADER: &str = "offset_ms,instrument,vol_pct";

/// Reads `implied_vol.csv` text (`source` names it in errors) against `set`.
pub fn parse_implied_vols(text: &str, source: &str, set: &InstrumentSet) -> Result<Vec<ScheduledInput>, InputError> {
    // One vol_pct unit of 10⁻⁴ % is one millionth of vol: the wire's unit.
    let unit = Decimal { mantissa: 1, scale: 4 };
    read_scheduled(text, source, HEADER, |row| {
        let (cols, err) = (&row.cols, |field: &str, message: String| row.err(field, message));
        let instrument = set.id(cols[1]).ok_or_else(|| err("instrument", format!("unknown instrument {:?}", cols[1])))?;
        let vol_e6 = Decimal::parse(cols[2])
            .ok()
            .and_then(|d| d.in_units_of(unit))
            .and_then(|v| i64::try_from(v).ok())
            .filter(|v| (1..=MAX_IMPLIED_VOL_E6).contains(v))
            .ok_or_else(|| err("vol_pct", format!("{:?} is not a percentage in (0, 1000] with at most 4 places", cols[2])))?;
        Ok(Event::new(EventKind::ImpliedVol, Venue::Gavel, u32::from(instrument), ImpliedVolQuote { vol_e6, tenor_ns: 0, reserved: 0 }).with_times(row.number, 0, 0))
    })
}

/// `implied_vol.csv` for a generated crash of `symbol` along `path`: one quote a second,
/// `base_e6` (annualised, millionths) scaled by `1 + DRAWDOWN_FACTOR × drawdown` from the running high,
/// capped at 1,000 %.
pub fn crash_implied_vols(symbol: &str, path: &[PathPoint], base_e6: i64) -> String {
    let mut csv = format!("{HEADER}\n");
    let Some(first) = path.first() else { return csv };
    let (mut high, mut next_ms) = (first.mid_ticks.max(1), 0i64);
    for p in path {
        high = high.max(p.mid_ticks);
        let offset_ms = (p.time_ns - first.time_ns) / 1_000_000;
        if offset_ms < next_ms {
            continue;
        }
        next_ms = offset_ms + 1_000;
        // Integer arithmetic: vol × (1 + DRAWDOWN_FACTOR × (high − mid) ÷ high), in millionths.
        let drawdown = i128::from((high - p.mid_ticks).max(0));
        let vol = i128::from(base_e6) * (i128::from(high) + DRAWDOWN_FACTOR * drawdown) / i128::from(high);
        let vol = vol.clamp(1, i128::from(MAX_IMPLIED_VOL_E6)) as i64;
        csv.push_str(&format!("{offset_ms},{symbol},{}.{:04}\n", vol / 10_000, vol % 10_000));
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set() -> InstrumentSet {
        InstrumentSet::parse(
            "[[instrument]]\nsymbol = \"BTCUSDT\"\ntick_size = \"0.1\"\nlot_size = \"0.001\"\nbrackets = [{ notional_cap = \"inf\", maintenance_rate = \"0.004\", max_leverage = 125 }]\n",
            "t",
        )
        .unwrap()
    }

    #[test]
    fn rows_become_implied_vol_events_and_bad_rows_name_line_and_field() {
        let text = format!("{HEADER}\n0,BTCUSDT,55\n\n1500,BTCUSDT,57.2525\n");
        let inputs = parse_implied_vols(&text, "iv.csv", &set()).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[1].offset_ns, 1_500_000_000);
        assert_eq!(inputs[1].event.kind(), Some(EventKind::ImpliedVol));
        assert_eq!(inputs[1].event.payload::<ImpliedVolQuote>().vol_e6, 572_525);
        for (row, field) in [
            ("x,BTCUSDT,55", "offset_ms"),
            ("-1,BTCUSDT,55", "offset_ms"),
            ("0,DOGEUSDT,55", "instrument"),
            ("0,BTCUSDT,0", "vol_pct"),
            ("0,BTCUSDT,1000.0001", "vol_pct"),
            ("0,BTCUSDT,55.00001", "vol_pct"),
            ("0,BTCUSDT,nan", "vol_pct"),
            ("0,BTCUSDT", "columns"),
        ] {
            let e = parse_implied_vols(&format!("{HEADER}\n0,BTCUSDT,50\n{row}\n"), "iv.csv", &set()).unwrap_err().to_string();
            assert!(e.contains("iv.csv") && e.contains("line 3") && e.contains(field), "{row}: {e}");
        }
        assert!(parse_implied_vols("offset,instrument,vol\n", "iv.csv", &set()).unwrap_err().to_string().contains("header"));
    }

    #[test]
    fn a_crash_path_raises_the_implied_vol_with_the_drawdown_and_the_file_reads_back() {
        let path: Vec<PathPoint> = [100_000i64, 100_000, 95_000, 90_000, 92_000]
            .iter()
            .enumerate()
            .map(|(k, &mid)| PathPoint { time_ns: k as i64 * 1_000_000_000, mid_ticks: mid, depth_per_mille: 1000 })
            .collect();
        let csv = crash_implied_vols("BTCUSDT", &path, 550_000);
        let vols: Vec<i64> = parse_implied_vols(&csv, "gen", &set()).unwrap().iter().map(|i| i.event.payload::<ImpliedVolQuote>().vol_e6).collect();
        // 0 %, 0 %, 5 %, 10 %, 8 % below the high: × 1, 1, 1.25, 1.5, 1.4.
        assert_eq!(vols, vec![550_000, 550_000, 687_500, 825_000, 770_000]);
    }

    proptest! {
        /// Any text is an error or events, never a panic; every event's vol is in range.
        #[test]
        fn no_text_panics(rows in proptest::collection::vec("[0-9a-zA-Z,.\\- ]{0,30}", 0..6)) {
            let text = format!("{HEADER}\n{}", rows.join("\n"));
            if let Ok(inputs) = parse_implied_vols(&text, "p", &set()) {
                for i in inputs {
                    let v = i.event.payload::<ImpliedVolQuote>().vol_e6;
                    prop_assert!((1..=MAX_IMPLIED_VOL_E6).contains(&v));
                }
            }
        }
    }
}
