//! Predictive margin calls: after each mark, every account that is not
//! liquidatable but would be after an adverse move of k standard deviations
//! over the horizon (the realised-volatility estimate of the marks) gets a
//! [`EventKind::MarginCall`] output — at most once per cooldown. The band is a
//! range of the trigger index (liquidation prices between the shocked price and
//! the mark), so only affected accounts are touched; a portfolio account whose
//! safe-band edge lies in that range is a candidate, checked exactly at the
//! shocked mark, and its call reports the band edge (a bound: its true
//! liquidation price lies beyond).
//!
//! When such an account's liquidation starts, the engine counts it as preceded
//! by a call if one was sent within the horizon, and records the lead time.
//! Volatility and the band edges are analytics (floats); nothing here moves
//! money or ranks anything.

use gavel_feeds::wire::{EventKind, MarginCallNotice, Side, Venue};

use super::output::{build, Header};
use super::{Engine, OutputSink};
use crate::risk::{margin, AccountId, InstrumentId};

/// Margin-call settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarginCallConfig {
    /// Adverse move, in standard deviations × 1000 (3000 = 3 σ).
    pub k_sigma_milli: u32,
    /// Horizon of the standard deviation, ns; also how long a call counts as preceding a liquidation.
    pub horizon_ns: i64,
    /// Least event time between two calls to one account, ns.
    pub cooldown_ns: i64,
}

impl Default for MarginCallConfig {
    /// 3 σ over 5 minutes; one call a minute at most.
    fn default() -> Self {
        Self { k_sigma_milli: 3_000, horizon_ns: 300_000_000_000, cooldown_ns: 60_000_000_000 }
    }
}

impl MarginCallConfig {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=100_000).contains(&self.k_sigma_milli) {
            return Err(format!("engine: margin call k_sigma_milli must be in 1..=100000, not {}", self.k_sigma_milli));
        }
        if self.horizon_ns <= 0 || self.cooldown_ns < 0 {
            return Err("engine: margin call horizon must be positive and cooldown not negative".into());
        }
        Ok(())
    }
}

impl Engine {
    /// Sends the margin calls due after a new `mark` of `instrument`.
    pub(crate) fn margin_calls(&mut self, instrument: usize, mark: i64, out: &mut impl OutputSink) {
        let Some(cfg) = self.config.margin_call else { return };
        let sigma = self.vols[instrument].sigma_over(cfg.horizon_ns as u64);
        if !(sigma.is_finite() && sigma > 0.0) || mark <= 0 {
            return;
        }
        let shock = f64::from(cfg.k_sigma_milli) / 1000.0 * sigma;
        let down = ((mark as f64) * (1.0 - shock)).floor().max(1.0) as i64;
        let up = ((mark as f64) * (1.0 + shock)).ceil().min(crate::auction::fixed::MAX_PRICE_TICKS as f64) as i64;
        let id = instrument as InstrumentId;
        let mut band = std::mem::take(&mut self.warned);
        band.clear();
        self.ledger.book.warning_band(id, down, up, |a, t, exact| {
            if band.len() < band.capacity() {
                band.push((a, t, exact));
            }
        });
        for &(account, trigger, exact) in &band {
            let st = &self.accounts[account as usize];
            let called_now = st.call_pending && st.called_at == self.now;
            if st.active != 0 || called_now || (st.call_pending && self.now.saturating_sub(st.called_at) < cfg.cooldown_ns) {
                continue;
            }
            // A long's trigger t is crossed below t: it is liquidatable from t − 1 down; a short's from t + 1 up.
            let (long, price) = match trigger {
                crate::risk::Trigger::Long(t) => (true, t),
                crate::risk::Trigger::Short(t) => (false, t),
            };
            if !exact && !self.liquidatable_at(account, id, if long { down } else { up }) {
                continue;
            }
            let liquidation_price = if long { price - 1 } else { price + 1 };
            // The same measure as the shock: the relative move to that price, in σ.
            let distance = (((mark - liquidation_price).abs() as f64 / mark as f64) / sigma * 1000.0).round() as i64;
            out.emit(&build(
                self.now,
                Header { kind: EventKind::MarginCall, venue: Venue::Gavel, side: Side::None, flags: 0, instrument: instrument as u32, sequence: self.metrics.margin_calls + 1 },
                MarginCallNotice { account: crate::risk::account::account_to_wire(account), liquidation_price, distance_sigma_milli: distance },
            ));
            self.metrics.margin_calls += 1;
            let st = &mut self.accounts[account as usize];
            st.call_pending = true;
            st.called_at = self.now;
        }
        self.warned = band;
    }

    /// Whether `account` would be liquidatable with `instrument` marked at `price`.
    fn liquidatable_at(&mut self, account: AccountId, instrument: InstrumentId, price: i64) -> bool {
        let book = &self.ledger.book;
        self.shock_marks.clear();
        self.shock_marks.extend_from_slice(book.marks());
        if let Some(m) = self.shock_marks.get_mut(usize::from(instrument)) {
            *m = Some(price);
        }
        margin::cross_health(book.instruments(), &self.shock_marks, book.account(account)).is_some_and(|h| h.liquidatable())
    }

    /// At a liquidation's start: was the account called within the horizon? Counts it and
    /// records the lead time; the call is then spent.
    pub(crate) fn note_call_before_liquidation(&mut self, account: AccountId) {
        let Some(cfg) = self.config.margin_call else { return };
        let now = self.now;
        let st = &mut self.accounts[account as usize];
        if !st.call_pending {
            return;
        }
        st.call_pending = false;
        let lead = now.saturating_sub(st.called_at);
        if lead <= cfg.horizon_ns {
            self.metrics.liquidations_preceded_by_call += 1;
            self.call_lead.saturating_record(lead.max(1) as u64);
        }
    }

    /// Lead times from a margin call to the liquidation it preceded, ns.
    pub fn call_lead_time(&self) -> &hdrhistogram::Histogram<u64> {
        &self.call_lead
    }
}
