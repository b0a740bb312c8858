use super::*;
use proptest::prelude::*;

fn option(kind: OptionKind, forward: f64, strike: f64, years: f64, vol: f64, rate: f64) -> Black76 {
    Black76::new(kind, forward, strike, years, vol, rate).expect("valid test inputs")
}

#[test]
fn erfc_matches_reference_values() {
    // Reference values to 16 digits (as C99 erfc / Python math.erfc give them).
    for (x, want) in [
        (0.0, 1.0),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_1),
        (1.999_999, 0.004_677_755_648_073_953),
        (2.0, 0.004_677_734_981_047_266),
        (3.0, 2.209_049_699_858_544e-5),
        (5.0, 1.537_459_794_428_035_1e-12),
        (-1.0, 1.842_700_792_949_715),
    ] {
        let got = erfc(x);
        assert!(((got - want) / want).abs() < 1e-12, "erfc({x}) = {got}, want {want}");
    }
    assert!(erfc(f64::NAN).is_nan());
    assert_eq!(erfc(40.0), 0.0);
    assert_eq!(erfc(-40.0), 2.0);
}

#[test]
fn a_textbook_futures_option_prices_as_published() {
    // Hull, "Options, Futures, and Other Derivatives": a European put on a
    // futures, F = K = 20, r = 9 %, T = 4 months, σ = 25 %, is worth 1.12.
    let put = option(OptionKind::Put, 20.0, 20.0, 4.0 / 12.0, 0.25, 0.09);
    assert!((put.price() - 1.12).abs() < 0.005, "{}", put.price());
    // At the money on a forward, the call is worth the same.
    let call = Black76 { kind: OptionKind::Call, ..put };
    assert!((call.price() - put.price()).abs() < 1e-12);
}

#[test]
fn bad_inputs_are_named() {
    let ok = |f, k, t, v, r| Black76::new(OptionKind::Call, f, k, t, v, r);
    assert_eq!(ok(0.0, 1.0, 1.0, 0.5, 0.0), Err(PricingInputError::Forward));
    assert_eq!(ok(f64::INFINITY, 1.0, 1.0, 0.5, 0.0), Err(PricingInputError::Forward));
    assert_eq!(ok(1.0, -5.0, 1.0, 0.5, 0.0), Err(PricingInputError::Strike));
    assert_eq!(ok(1.0, 1.0, 0.0, 0.5, 0.0), Err(PricingInputError::Expired));
    assert_eq!(ok(1.0, 1.0, -1.0, 0.5, 0.0), Err(PricingInputError::Expired));
    assert_eq!(ok(1.0, 1.0, 1.0, 0.0, 0.0), Err(PricingInputError::Vol));
    assert_eq!(ok(1.0, 1.0, 1.0, f64::NAN, 0.0), Err(PricingInputError::Vol));
    assert_eq!(ok(1.0, 1.0, 1.0, 11.0, 0.0), Err(PricingInputError::Vol));
    assert_eq!(ok(1.0, 1.0, 1.0, 0.5, f64::NAN), Err(PricingInputError::Rate));
    assert_eq!(PricingInputError::Vol.field(), "vol");
}

#[test]
fn theta_in_the_last_day_never_exceeds_the_value() {
    // Six hours to expiry, far out of the money: the analytic decay is more than the premium.
    let o = option(OptionKind::Call, 2000.0, 2300.0, 0.25 / 365.0, 1.2, 0.0);
    let g = o.greeks();
    assert!(o.price() > 0.0);
    assert_eq!(g.theta, -o.price());
}

fn kind() -> impl Strategy<Value = OptionKind> {
    prop_oneof![Just(OptionKind::Call), Just(OptionKind::Put)]
}

proptest! {
    #[test]
    fn put_call_parity_holds(f in 1.0f64..1e6, moneyness in 0.3f64..3.0, years in 0.002f64..3.0,
                             vol in 0.05f64..3.0, rate in -0.05f64..0.2) {
        let k = f * moneyness;
        let call = option(OptionKind::Call, f, k, years, vol, rate);
        let put = Black76 { kind: OptionKind::Put, ..call };
        let parity = (-rate * years).exp() * (f - k);
        prop_assert!((call.price() - put.price() - parity).abs() <= 1e-6 * f.max(k));
        // Delta parity: Δc − Δp = e^(−rT); gamma and vega equal.
        let (gc, gp) = (call.greeks(), put.greeks());
        prop_assert!((gc.delta - gp.delta - (-rate * years).exp()).abs() < 1e-6);
        prop_assert!((gc.gamma - gp.gamma).abs() <= 1e-9 * gc.gamma.abs().max(1e-300));
        prop_assert!((gc.vega - gp.vega).abs() <= 1e-9 * gc.vega.abs().max(1e-300));
    }

    #[test]
    fn greeks_are_the_derivatives_of_the_price(k in kind(), f in 10.0f64..1e5, moneyness in 0.7f64..1.4,
                                                years in 0.02f64..2.0, vol in 0.1f64..2.0) {
        let o = option(k, f, f * moneyness, years, vol, 0.0);
        let g = o.greeks();
        let h = f * 1e-4;
        let up = o.shocked(f + h, vol).unwrap().price();
        let down = o.shocked(f - h, vol).unwrap().price();
        let scale = f * 1e-7 + 1e-9;
        prop_assert!(((up - down) / (2.0 * h) - g.delta).abs() < 1e-4, "delta");
        let fd_gamma = (up - 2.0 * o.price() + down) / (h * h);
        prop_assert!((fd_gamma - g.gamma).abs() <= 1e-3 * g.gamma.abs() + scale / (h * h), "gamma");
        let dv = 1e-4;
        let fd_vega = (o.shocked(f, vol + dv).unwrap().price() - o.shocked(f, vol - dv).unwrap().price()) / (2.0 * dv) / 100.0;
        prop_assert!((fd_vega - g.vega).abs() <= 1e-4 * g.vega.abs() + scale, "vega");
        let day = 1.0 / 365.0;
        if years > 2.0 * day {
            let dt = day * 1e-3;
            let later = Black76 { years: years - dt, ..o }.price();
            let fd_theta = (later - o.price()) / dt / 365.0;
            prop_assert!((fd_theta - g.theta).abs() <= 1e-3 * g.theta.abs() + scale * 365.0, "theta");
        }
    }

    #[test]
    fn implied_vol_inverts_the_price(k in kind(), f in 10.0f64..1e5, moneyness in 0.6f64..1.6,
                                     years in 0.01f64..2.0, vol in 0.05f64..3.0) {
        let o = option(k, f, f * moneyness, years, vol, 0.0);
        // Only where the price still moves with vol (vega above float noise).
        prop_assume!(o.greeks().vega > 1e-6 * f);
        let iv = implied_vol(&o, o.price()).expect("a price made by the model has an implied vol");
        prop_assert!((iv - vol).abs() < 1e-6, "iv {} vs {}", iv, vol);
    }

    #[test]
    fn prices_are_bounded_and_monotone(k in kind(), f in 1.0f64..1e5, moneyness in 0.2f64..5.0,
                                       years in 0.001f64..3.0, vol in 0.01f64..3.0, bump in 0.001f64..0.5) {
        let o = option(k, f, f * moneyness, years, vol, 0.0);
        let p = o.price();
        let intrinsic = match k { OptionKind::Call => (f - o.strike).max(0.0), OptionKind::Put => (o.strike - f).max(0.0) };
        let bound = match k { OptionKind::Call => f, OptionKind::Put => o.strike };
        prop_assert!(p >= intrinsic - 1e-6 * f.max(o.strike) && p <= bound * (1.0 + 1e-9));
        prop_assert!(o.shocked(f, (vol + bump).min(MAX_VOL)).unwrap().price() >= p - 1e-9 * f.max(o.strike));
        prop_assert!(implied_vol(&o, -1.0).is_none());
        prop_assert!(implied_vol(&o, f64::NAN).is_none());
    }
}
