//! Predictive margin calls: after each mark, every account that is not
//! liquidatable but would be after an adverse move of k standard deviations
//! over the horizon gets a
//! [`EventKind::MarginCall`] output — at most once per cooldown. The band is a
//! range of the trigger index (liquidation prices between the shocked price and
//! the mark), so only affected accounts are touched; a portfolio account whose
//! safe-band edge lies in that range is a candidate, checked exactly at the
//! shocked mark, and its call reports the band edge (a bound: its true
//! liquidation price lies beyond).
//!
//! The standard deviation is the larger of the realised-volatility estimate of
//! the marks and, where an [`EventKind::ImpliedVol`] quote for the instrument is
//! at most `implied_max_age_ns` old, the implied volatility scaled to the
//! horizon (`σ·√(horizon / year)`): realised volatility lags a crash, the
//! options market prices it as it starts. Calls made because the implied σ was
//! the larger are counted apart.
//!
//! With the policy's `preempt_per_mille`, the engine also acts on the call: it
//! starts a pre-emptive reduction of that share of the called position
//! ([`Engine::start_preemptive`]): own book and routes, no penalty, no auction,
//! never past the position's liquidation price, no escalation. If the account
//! becomes liquidatable while it runs, the reduction becomes its liquidation.
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
    /// Oldest implied-vol quote still used, ns of event time.
    pub implied_max_age_ns: i64,
}

/// The last implied-vol quote of an instrument (`vol_e6` 0: none yet).
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImpliedVolState {
    /// Annualised volatility, millionths.
    pub vol_e6: i64,
    /// Event time of the quote, ns.
    pub at_ns: i64,
}

pub use gavel_feeds::wire::MAX_IMPLIED_VOL_E6;

/// Seconds in the year the implied vol is annualised over (365 days).
const SECONDS_PER_YEAR: f64 = 365.0 * 86_400.0;

impl Default for MarginCallConfig {
    /// 3 σ over 5 minutes; one call a minute at most; implied vols up to an hour old.
    fn default() -> Self {
        Self { k_sigma_milli: 3_000, horizon_ns: 300_000_000_000, cooldown_ns: 60_000_000_000, implied_max_age_ns: 3_600_000_000_000 }
    }
}

impl MarginCallConfig {
    /// Checks the bounds.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=100_000).contains(&self.k_sigma_milli) {
            return Err(format!("engine: margin call k_sigma_milli must be in 1..=100000, not {}", self.k_sigma_milli));
        }
        if self.horizon_ns <= 0 || self.cooldown_ns < 0 || self.implied_max_age_ns < 0 {
            return Err("engine: margin call horizon must be positive, cooldown and implied_max_age_ns not negative".into());
        }
        Ok(())
    }
}

impl Engine {
    /// Takes an [`EventKind::ImpliedVol`] input; a quote for an unknown instrument or
    /// outside `1..=MAX_IMPLIED_VOL_E6` is counted as ignored.
    pub(crate) fn on_implied_vol(&mut self, event: &gavel_feeds::wire::Event) {
        let quote: gavel_feeds::wire::ImpliedVolQuote = event.payload();
        let i = event.instrument as usize;
        if i >= self.implied_vols.len() || !(1..=MAX_IMPLIED_VOL_E6).contains(&quote.vol_e6) {
            self.metrics.ignored_events += 1;
            return;
        }
        self.implied_vols[i] = ImpliedVolState { vol_e6: quote.vol_e6, at_ns: self.now };
        self.metrics.implied_vol_quotes += 1;
    }

    /// The implied σ of `instrument` over `cfg`'s horizon, if a quote is fresh enough.
    fn implied_sigma(&self, instrument: usize, cfg: &MarginCallConfig) -> Option<f64> {
        let q = self.implied_vols[instrument];
        (q.vol_e6 > 0 && self.now.saturating_sub(q.at_ns) <= cfg.implied_max_age_ns)
            .then(|| q.vol_e6 as f64 * 1e-6 * (cfg.horizon_ns as f64 * 1e-9 / SECONDS_PER_YEAR).sqrt())
    }

    /// Sends the margin calls due after a new `mark` of `instrument`.
    pub(crate) fn margin_calls(&mut self, instrument: usize, mark: i64, out: &mut impl OutputSink) {
        let Some(cfg) = self.config.margin_call else { return };
        let realised = self.vols[instrument].sigma_over(cfg.horizon_ns as u64);
        let implied = self.implied_sigma(instrument, &cfg);
        // Implied vol above realised, or not comparable (NaN): the implied figure is used (and then
        // refused below if it is not a positive finite number).
        let on_implied = implied.is_some_and(|i| !matches!(i.partial_cmp(&realised), Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)));
        let sigma = if on_implied { implied.unwrap_or(realised) } else { realised };
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
            self.metrics.margin_calls_on_implied += u64::from(on_implied);
            let st = &mut self.accounts[account as usize];
            st.call_pending = true;
            st.called_at = self.now;
            self.start_preemptive(account, id, out);
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
