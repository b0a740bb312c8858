//! Realized volatility, EWMA over event time (analytics: f64).
//!
//! On each mark with event time `t` (ns): `r = ln(p / p_prev)`,
//! `dt = t − t_prev` (s), instantaneous variance rate `r² / dt`, blended with
//! weight `α = 1 − 2^(−dt / half_life)`. The estimate is a variance per
//! second; [`RealizedVol::sigma_over`] scales it to a horizon. Updates with
//! `dt = 0` fold the return into the next update (no division by zero).

/// EWMA realized-volatility estimator.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug)]
pub struct RealizedVol {
    half_life_ns: u64,
    last_price: Option<i64>,
    last_ns: u64,
    pending_log_return: f64,
    var_per_s: f64,
}

impl RealizedVol {
    /// An estimator with the given half-life (ns of event time) and initial
    /// variance per second.
    pub fn new(half_life_ns: u64, initial_var_per_s: f64) -> Self {
        RealizedVol {
            half_life_ns: half_life_ns.max(1),
            last_price: None,
            last_ns: 0,
            pending_log_return: 0.0,
            var_per_s: initial_var_per_s,
        }
    }

    /// Feeds a mark (ticks, > 0) at event time `t_ns`.
    pub fn update(&mut self, price: i64, t_ns: u64) {
        if price <= 0 {
            return;
        }
        if let Some(prev) = self.last_price {
            self.pending_log_return += (price as f64 / prev as f64).ln();
            if t_ns > self.last_ns {
                let dt_ns = (t_ns - self.last_ns) as f64;
                let alpha = 1.0 - (-(dt_ns / self.half_life_ns as f64)).exp2();
                let inst = self.pending_log_return * self.pending_log_return / (dt_ns * 1e-9);
                self.var_per_s += alpha * (inst - self.var_per_s);
                self.pending_log_return = 0.0;
                self.last_ns = t_ns;
            }
        } else {
            self.last_ns = t_ns;
        }
        self.last_price = Some(price);
    }

    /// Variance per second.
    pub fn var_per_s(&self) -> f64 {
        self.var_per_s
    }

    /// Standard deviation of the log return over `horizon_ns`.
    pub fn sigma_over(&self, horizon_ns: u64) -> f64 {
        (self.var_per_s * horizon_ns as f64 * 1e-9).max(0.0).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_price_decays_and_moves_raise_it() {
        let mut v = RealizedVol::new(1_000_000_000, 1e-6);
        for i in 0..100u64 {
            v.update(1_000, i * 100_000_000);
        }
        assert!(v.var_per_s() < 1e-6 * 0.01, "{}", v.var_per_s());
        let calm = v.var_per_s();
        for i in 100..120u64 {
            v.update(if i % 2 == 0 { 1_000 } else { 1_010 }, i * 100_000_000);
        }
        assert!(v.var_per_s() > calm * 100.0);
        // ~1 % moves every 0.1 s → variance/s ≈ 1e-4 / 0.1 = 1e-3.
        assert!((v.var_per_s() - 1e-3).abs() < 5e-4, "{}", v.var_per_s());
        assert!((v.sigma_over(1_000_000_000) - v.var_per_s().sqrt()).abs() < 1e-12);
    }
}
