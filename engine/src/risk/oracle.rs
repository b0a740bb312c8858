//! The mark price oracle of one instrument: per-venue inputs, median across
//! fresh venues, outlier band, quorum circuit breaker, EMA in event time.
//!
//! On [`MarkOracle::compute`] at event time `now`:
//! 1. venues whose last input is older than `staleness_ns` are excluded
//!    ([`RiskEvent::VenueStale`]);
//! 2. the median of the fresh prices is taken (mean of the two middle ones,
//!    rounded down, for an even count);
//! 3. venues farther than `outlier_band_bps` from that median are excluded
//!    and counted ([`RiskEvent::VenueOutlier`]); the median of the rest is the
//!    raw mark;
//! 4. fewer usable venues than `quorum` trips the circuit breaker
//!    ([`RiskEvent::CircuitBreaker`]): the output says
//!    `liquidation_allowed = false` and the EMA is not updated;
//! 5. the raw mark is smoothed by an EMA with half-life `half_life_ns` of
//!    EVENT time: `α = 1 − 2^(−Δt / half_life)`, computed in f64 (analytics)
//!    and rounded to the nearest tick. Same inputs → same marks.

use super::events::RiskEvent;
use super::instrument::InstrumentId;

/// One venue's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueQuote {
    /// Top of book; the mid (rounded down) is used.
    Mid {
        /// Best bid, ticks.
        bid: i64,
        /// Best ask, ticks.
        ask: i64,
    },
    /// Top of book with sizes; the microprice
    /// `(bid × ask_qty + ask × bid_qty) ÷ (bid_qty + ask_qty)` (nearest tick) is used.
    Micro {
        /// Best bid, ticks.
        bid: i64,
        /// Best ask, ticks.
        ask: i64,
        /// Lots at the bid.
        bid_qty: i64,
        /// Lots at the ask.
        ask_qty: i64,
    },
    /// The venue's own mark price, ticks.
    Mark(i64),
}

impl VenueQuote {
    /// The price this input stands for, or `None` if it is not a valid quote
    /// (non-positive price, crossed book, no size).
    pub fn price(&self) -> Option<i64> {
        match *self {
            VenueQuote::Mid { bid, ask } => (bid > 0 && ask >= bid).then(|| bid + (ask - bid) / 2),
            VenueQuote::Micro {
                bid,
                ask,
                bid_qty,
                ask_qty,
            } => {
                if bid <= 0 || ask < bid || bid_qty < 0 || ask_qty < 0 || bid_qty + ask_qty == 0 {
                    return None;
                }
                let num = i128::from(bid) * i128::from(ask_qty) + i128::from(ask) * i128::from(bid_qty);
                let den = i128::from(bid_qty) + i128::from(ask_qty);
                Some(((2 * num + den) / (2 * den)) as i64)
            }
            VenueQuote::Mark(p) => (p > 0).then_some(p),
        }
    }
}

/// Oracle parameters.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct OracleConfig {
    /// Number of venues (inputs are indexed 0..venues).
    pub venues: u8,
    /// A venue older than this is stale, ns.
    pub staleness_ns: u64,
    /// Largest distance from the median, basis points.
    pub outlier_band_bps: i64,
    /// Fewest usable venues for a price that may liquidate.
    pub quorum: u8,
    /// EMA half-life in event time, ns (0: no smoothing).
    pub half_life_ns: u64,
}

impl Default for OracleConfig {
    fn default() -> Self {
        OracleConfig {
            venues: 3,
            staleness_ns: 2_000_000_000,
            outlier_band_bps: 100,
            quorum: 2,
            half_life_ns: 1_000_000_000,
        }
    }
}

/// The oracle's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkOutput {
    /// Smoothed mark, ticks.
    pub price: i64,
    /// False while the circuit breaker holds: do not liquidate on this price.
    pub liquidation_allowed: bool,
}

/// Mark price oracle of one instrument.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct MarkOracle {
    instrument: InstrumentId,
    cfg: OracleConfig,
    last: Vec<Option<(i64, u64)>>,
    outliers: Vec<u64>,
    rejected: u64,
    ema: Option<f64>,
    ema_ns: u64,
    scratch: Vec<(u8, i64)>,
    prices: Vec<i64>,
}

impl MarkOracle {
    /// An oracle with no inputs yet.
    pub fn new(instrument: InstrumentId, cfg: OracleConfig) -> Self {
        let n = usize::from(cfg.venues);
        MarkOracle {
            instrument,
            cfg,
            last: vec![None; n],
            outliers: vec![0; n],
            rejected: 0,
            ema: None,
            ema_ns: 0,
            scratch: Vec::with_capacity(n),
            prices: Vec::with_capacity(n),
        }
    }

    /// Reserves the scratch space a restored oracle holds only as far as it was used.
    pub fn reserve_restored(&mut self) {
        let n = self.last.len();
        self.scratch.reserve_exact(n.saturating_sub(self.scratch.len()));
        self.prices.reserve_exact(n.saturating_sub(self.prices.len()));
    }

    /// Records a venue input at event time `t_ns`. Invalid quotes and
    /// unknown venues are refused and counted (returns false).
    pub fn on_quote(&mut self, venue: u8, quote: VenueQuote, t_ns: u64) -> bool {
        match (self.last.get_mut(usize::from(venue)), quote.price()) {
            (Some(slot), Some(p)) => {
                *slot = Some((p, t_ns));
                true
            }
            _ => {
                self.rejected += 1;
                false
            }
        }
    }

    /// Inputs refused so far.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Times `venue` was excluded as an outlier.
    pub fn outlier_count(&self, venue: u8) -> u64 {
        self.outliers.get(usize::from(venue)).copied().unwrap_or(0)
    }

    fn median(prices: &mut [i64]) -> i64 {
        prices.sort_unstable();
        let n = prices.len();
        if n % 2 == 1 {
            prices[n / 2]
        } else {
            let (a, b) = (prices[n / 2 - 1], prices[n / 2]);
            a + (b - a).div_euclid(2)
        }
    }

    /// Computes the mark at event time `now_ns`, pushing every exclusion and
    /// the result to `events`. `None` before any usable input.
    pub fn compute(&mut self, now_ns: u64, events: &mut Vec<RiskEvent>) -> Option<MarkOutput> {
        let instrument = self.instrument;
        self.scratch.clear();
        for (v, slot) in self.last.iter().enumerate() {
            if let Some((p, t)) = *slot {
                let age = now_ns.saturating_sub(t);
                if age > self.cfg.staleness_ns {
                    events.push(RiskEvent::VenueStale {
                        instrument,
                        venue: v as u8,
                        age_ns: age,
                    });
                } else {
                    self.scratch.push((v as u8, p));
                }
            }
        }
        let mut usable_median = None;
        if !self.scratch.is_empty() {
            self.prices.clear();
            self.prices.extend(self.scratch.iter().map(|e| e.1));
            let median = Self::median(&mut self.prices);
            self.prices.clear();
            for &(v, p) in &self.scratch {
                if i128::from((p - median).abs()) * 10_000 > i128::from(self.cfg.outlier_band_bps) * i128::from(median) {
                    self.outliers[usize::from(v)] += 1;
                    events.push(RiskEvent::VenueOutlier {
                        instrument,
                        venue: v,
                        price: p,
                        median,
                        count: self.outliers[usize::from(v)],
                    });
                } else {
                    self.prices.push(p);
                }
            }
            if !self.prices.is_empty() {
                usable_median = Some((Self::median(&mut self.prices), self.prices.len()));
            }
        }
        let usable = usable_median.map_or(0, |u| u.1);
        let allowed = usable >= usize::from(self.cfg.quorum);
        if !allowed {
            events.push(RiskEvent::CircuitBreaker {
                instrument,
                usable: usable as u8,
                quorum: self.cfg.quorum,
            });
        }
        if let (true, Some((raw, _))) = (allowed, usable_median) {
            let raw = raw as f64;
            self.ema = Some(match self.ema {
                None => raw,
                Some(prev) if self.cfg.half_life_ns > 0 && now_ns > self.ema_ns => {
                    let alpha = 1.0 - (-((now_ns - self.ema_ns) as f64 / self.cfg.half_life_ns as f64)).exp2();
                    prev + alpha * (raw - prev)
                }
                Some(prev) if self.cfg.half_life_ns > 0 => prev,
                Some(_) => raw,
            });
            self.ema_ns = self.ema_ns.max(now_ns);
        }
        let price = self.ema?.round() as i64;
        events.push(RiskEvent::Mark {
            instrument,
            price,
            liquidation_allowed: allowed,
        });
        Some(MarkOutput {
            price,
            liquidation_allowed: allowed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn quotes_reduce_to_prices() {
        assert_eq!(VenueQuote::Mid { bid: 100, ask: 103 }.price(), Some(101));
        assert_eq!(
            VenueQuote::Micro {
                bid: 100,
                ask: 102,
                bid_qty: 3,
                ask_qty: 1
            }
            .price(),
            Some(102)
        ); // 101.5 → nearest, up
        assert_eq!(
            VenueQuote::Micro {
                bid: 100,
                ask: 104,
                bid_qty: 1,
                ask_qty: 3
            }
            .price(),
            Some(101)
        );
        assert_eq!(VenueQuote::Mid { bid: 105, ask: 100 }.price(), None);
        assert_eq!(VenueQuote::Mark(0).price(), None);
    }

    #[test]
    fn median_outlier_stale_and_quorum() {
        let cfg = OracleConfig {
            venues: 3,
            staleness_ns: 2 * S,
            outlier_band_bps: 100,
            quorum: 2,
            half_life_ns: 0,
        };
        let mut o = MarkOracle::new(0, cfg);
        let mut ev = Vec::new();
        o.on_quote(0, VenueQuote::Mark(10_000), 0);
        o.on_quote(1, VenueQuote::Mark(10_010), 0);
        o.on_quote(2, VenueQuote::Mark(11_000), 0); // 10 % away: outlier
        let m = o.compute(S, &mut ev).unwrap();
        assert_eq!(
            m,
            MarkOutput {
                price: 10_005,
                liquidation_allowed: true
            }
        );
        assert!(matches!(
            ev[0],
            RiskEvent::VenueOutlier {
                venue: 2,
                price: 11_000,
                median: 10_010,
                count: 1,
                ..
            }
        ));
        ev.clear();
        // Venue 1 goes stale: one usable venue < quorum → breaker; the mark holds.
        o.on_quote(0, VenueQuote::Mark(10_020), 2 * S);
        o.on_quote(2, VenueQuote::Mark(12_000), 2 * S);
        let m = o.compute(3 * S + 1, &mut ev).unwrap();
        assert!(!m.liquidation_allowed);
        assert_eq!(m.price, 10_005);
        assert!(ev.iter().any(|e| matches!(e, RiskEvent::VenueStale { venue: 1, .. })));
        assert!(ev
            .iter()
            .any(|e| matches!(e, RiskEvent::CircuitBreaker { usable: 0, quorum: 2, .. })));
        assert!(!o.on_quote(7, VenueQuote::Mark(1), 0));
        assert_eq!(o.rejected(), 1);
    }

    #[test]
    fn ema_half_life_in_event_time() {
        let cfg = OracleConfig {
            venues: 1,
            staleness_ns: u64::MAX,
            outlier_band_bps: 10_000,
            quorum: 1,
            half_life_ns: S,
        };
        let mut o = MarkOracle::new(0, cfg);
        let mut ev = Vec::new();
        o.on_quote(0, VenueQuote::Mark(1_000), 0);
        assert_eq!(o.compute(0, &mut ev).unwrap().price, 1_000);
        o.on_quote(0, VenueQuote::Mark(2_000), S);
        // One half-life later: halfway.
        assert_eq!(o.compute(S, &mut ev).unwrap().price, 1_500);
        o.on_quote(0, VenueQuote::Mark(2_000), 3 * S);
        // Two more half-lives: 1500 + 0.75 × 500.
        assert_eq!(o.compute(3 * S, &mut ev).unwrap().price, 1_875);
    }
}
