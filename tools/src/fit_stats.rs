//! Goodness-of-fit statistics for `gavel calibrate`: moments, the normal CDF and
//! Kolmogorov–Smirnov tests. Floats are fine here: analytics of captured data.

/// Mean and standard deviation (population) of `xs`; `(0, 0)` when empty.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, v.sqrt())
}

/// Excess kurtosis of `xs` (0 for a normal sample; 0 when degenerate).
pub fn excess_kurtosis(xs: &[f64]) -> f64 {
    let (m, s) = mean_std(xs);
    if s == 0.0 {
        return 0.0;
    }
    xs.iter().map(|x| ((x - m) / s).powi(4)).sum::<f64>() / xs.len() as f64 - 3.0
}

/// The `q` quantile (0..=1) of `sorted` (nearest rank); 0 when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26 for erf, |error| < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// One-sample KS statistic of `xs` against the continuous `cdf`.
pub fn ks_one_sample(xs: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted.iter().enumerate().fold(0.0f64, |d, (i, &x)| {
        let f = cdf(x);
        d.max((f - i as f64 / n).abs()).max(((i + 1) as f64 / n - f).abs())
    })
}

/// Two-sample KS statistic (largest gap between the empirical CDFs, ties handled).
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// Asymptotic p-value of a KS statistic `d` with effective sample size `n`
/// (Kolmogorov's series, with Stephens' small-sample correction).
pub fn ks_p_value(d: f64, n: f64) -> f64 {
    if n <= 0.0 {
        return 1.0;
    }
    let lambda = (n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d;
    let sum: f64 = (1..=100).map(|k| {
        let k = k as f64;
        2.0 * (-1f64).powf(k - 1.0) * (-2.0 * k * k * lambda * lambda).exp()
    }).sum();
    sum.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_feeds::rng::SplitMix64;

    fn uniform(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = SplitMix64::new(seed);
        (0..n).map(|_| rng.below(1 << 30) as f64 / (1u64 << 30) as f64).collect()
    }

    #[test]
    fn the_normal_cdf_matches_known_values() {
        for (z, p) in [(0.0, 0.5), (1.0, 0.841_344_7), (-1.96, 0.024_997_9), (3.0, 0.998_650_1)] {
            assert!((normal_cdf(z) - p).abs() < 1e-6, "{z}: {}", normal_cdf(z));
        }
    }

    #[test]
    fn ks_accepts_the_right_distribution_and_rejects_a_wrong_one() {
        let xs = uniform(1, 2000);
        let d = ks_one_sample(&xs, |x| x.clamp(0.0, 1.0));
        assert!(ks_p_value(d, 2000.0) > 0.05, "uniform against uniform: d {d}");
        let d = ks_one_sample(&xs, |x| (x * x).clamp(0.0, 1.0));
        assert!(ks_p_value(d, 2000.0) < 1e-6, "uniform against x²: d {d}");
        let ys = uniform(2, 3000);
        let d = ks_two_sample(&xs, &ys);
        assert!(ks_p_value(d, 2000.0 * 3000.0 / 5000.0) > 0.05, "two uniform samples: d {d}");
        let shifted: Vec<f64> = ys.iter().map(|y| y + 0.2).collect();
        assert!(ks_two_sample(&xs, &shifted) > 0.15);
        assert_eq!(ks_two_sample(&[1.0, 1.0, 2.0], &[1.0, 1.0, 2.0]), 0.0, "ties");
    }

    #[test]
    fn moments_and_quantiles() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.118_034).abs() < 1e-6);
        assert!(excess_kurtosis(&uniform(3, 20_000)) < -1.1, "a uniform sample is platykurtic (−1.2)");
        assert_eq!(quantile(&[1.0, 2.0, 3.0], 0.5), 2.0);
    }
}
