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
//!
//! [`AtmVol`] picks the at-the-money vol from a venue's option tickers, for
//! `gavel options implied-vol`, which writes the same file from a recording.

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
        push_row(&mut csv, offset_ms, symbol, vol);
    }
    csv
}

/// Appends one `implied_vol.csv` row; `vol_e6` in millionths (10⁻⁴ %).
pub fn push_row(csv: &mut String, offset_ms: i64, symbol: &str, vol_e6: i64) {
    csv.push_str(&format!("{offset_ms},{symbol},{}.{:04}\n", vol_e6 / 10_000, vol_e6 % 10_000));
}

/// The at-the-money implied vol of one currency's options, from a venue's tickers: of
/// each series' latest mark vol, the one whose strike is nearest its own underlying price
/// (smallest `|ln(strike ÷ underlying)|`, the nearer expiry on a tie) among the series
/// with at least `min_expiry_ms` left to expiry. Floats: analytics of venue numbers.
#[derive(Debug, Default)]
pub struct AtmVol {
    min_expiry_ms: u64,
    series: std::collections::BTreeMap<String, SeriesMark>,
}

#[derive(Clone, Copy, Debug)]
struct SeriesMark {
    expiry_ms: u64,
    log_moneyness: f64,
    vol_e6: i64,
}

impl AtmVol {
    /// A tracker that ignores series with less than `min_expiry_ms` to expiry.
    pub fn new(min_expiry_ms: u64) -> Self {
        AtmVol { min_expiry_ms, series: Default::default() }
    }

    /// Takes one ticker (`mark_iv` in percent) and returns the at-the-money vol at
    /// `now_ms` in millionths, `None` when no series qualifies. A ticker whose numbers
    /// are out of range (vol outside (0, 1000] %, a price ≤ 0) is not kept.
    pub fn update(&mut self, series: &str, expiry_ms: u64, strike: f64, underlying: f64, mark_iv: f64, now_ms: u64) -> Option<i64> {
        let vol_e6 = (mark_iv * 10_000.0).round();
        let log_moneyness = (strike / underlying).ln().abs();
        if vol_e6 >= 1.0 && vol_e6 <= MAX_IMPLIED_VOL_E6 as f64 && log_moneyness.is_finite() {
            self.series.insert(series.to_string(), SeriesMark { expiry_ms, log_moneyness, vol_e6: vol_e6 as i64 });
        }
        self.at(now_ms)
    }

    /// The at-the-money vol at `now_ms`, millionths.
    pub fn at(&self, now_ms: u64) -> Option<i64> {
        self.series
            .values()
            .filter(|m| m.expiry_ms >= now_ms.saturating_add(self.min_expiry_ms))
            .min_by(|a, b| a.log_moneyness.total_cmp(&b.log_moneyness).then(a.expiry_ms.cmp(&b.expiry_ms)))
            .map(|m| m.vol_e6)
    }
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

    #[test]
    fn the_atm_vol_is_the_series_nearest_the_money_with_enough_time_left() {
        let day = 86_400_000u64;
        let mut atm = AtmVol::new(7 * day);
        // Only a far out-of-the-money series: it is the nearest there is.
        assert_eq!(atm.update("BTC-A-8000-P", 90 * day, 8_000.0, 32_000.0, 150.0, 0), Some(1_500_000));
        // A series at the money takes over; one closer still but expiring in 2 days does not.
        assert_eq!(atm.update("BTC-B-34000-P", 60 * day, 34_000.0, 32_000.0, 80.25, 0), Some(802_500));
        assert_eq!(atm.update("BTC-C-32000-C", 2 * day, 32_000.0, 32_000.0, 95.0, 0), Some(802_500));
        // A new mark of the ATM series moves the figure; a bad ticker is not kept.
        assert_eq!(atm.update("BTC-B-34000-P", 60 * day, 34_000.0, 32_000.0, 81.0, 1_000), Some(810_000));
        assert_eq!(atm.update("BTC-B-34000-P", 60 * day, 34_000.0, 32_000.0, f64::NAN, 2_000), Some(810_000));
        assert_eq!(atm.update("BTC-D-33000-C", 60 * day, 33_000.0, 0.0, 70.0, 2_000), Some(810_000));
        assert_eq!(atm.update("BTC-E-33000-C", 60 * day, 33_000.0, 32_000.0, 1000.5, 2_000), Some(810_000));
        // Once the ATM series is within the minimum time to expiry, the next nearest is used.
        assert_eq!(atm.at(53 * day), Some(810_000));
        assert_eq!(atm.at(53 * day + 1), Some(1_500_000));
        assert_eq!(atm.at(83 * day + 1), None);
        assert_eq!(AtmVol::new(0).at(0), None);
        let mut csv = String::new();
        push_row(&mut csv, 1_500, "BTCUSDT", 810_000);
        assert_eq!(csv, "1500,BTCUSDT,81.0000\n");
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
