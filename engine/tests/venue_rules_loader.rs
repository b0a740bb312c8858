//! The rules TOML: defaults, overrides, and an error naming file, line and key
//! for every kind of bad input.

use gavel_engine::auction::curve::Curve;
use gavel_engine::auction::fixed::Ray;
use gavel_engine::venue_rules::dydx::DydxParams;
use gavel_engine::venue_rules::{parse_rules, VenueRules};
use gavel_feeds::{InputError, Location};

fn err(text: &str) -> InputError {
    parse_rules(text, "rules.toml").unwrap_err()
}

#[test]
fn defaults_and_overrides() {
    let r = parse_rules("rules = \"dydx-v4\"\n", "r.toml").unwrap();
    assert_eq!(r, VenueRules::DydxV4(DydxParams::default()));
    let r = parse_rules("# dYdX\nrules = \"dydx-v4\"\nmax_liquidation_fee_ppm = 15000\nmin_position_notional_liquidated = 1000000000\n", "r.toml").unwrap();
    let VenueRules::DydxV4(p) = r else { panic!("dydx") };
    assert_eq!((p.max_liquidation_fee_ppm, p.min_position_notional_liquidated), (15_000, 1_000_000_000));
    assert_eq!(p.bankruptcy_adjustment_ppm, 1_000_000);

    let VenueRules::Hyperliquid(h) = parse_rules("rules = \"hyperliquid\"\nmax_leverage = 40\npartial_fraction = \"0.25\"\n", "r").unwrap() else {
        panic!("hyperliquid")
    };
    assert_eq!((h.max_leverage, h.partial_fraction, h.partial_threshold_notional), (40, 25_000_000, 100_000_000_000));
    assert_eq!(parse_rules("rules = \"binance-usdm\"", "r").unwrap().name(), "binance-usdm");
    let VenueRules::DriftV2(d) = parse_rules("rules = \"drift-v2\"\nliquidator_fee = 5000\nif_liquidation_fee = 10000\n", "r").unwrap() else {
        panic!("drift")
    };
    assert_eq!((d.max_liquidator_fee, d.liquidation_margin_buffer_ratio), (15_000, 200));
    let aave = "rules = \"aave-v4\"\ncollateral_factor = 8000\nmax_liquidation_bonus = 10500\nliquidation_bonus_factor = 5000\nhealth_factor_for_max_bonus = \"0.8\"\ntarget_health_factor = \"1.05\"\n";
    let VenueRules::AaveV4(a) = parse_rules(aave, "r").unwrap() else { panic!("aave") };
    assert_eq!(a.target_health_factor, 1_050_000_000_000_000_000);
    let maker = "rules = \"maker-clip\"\nbuf = \"1.3\"\ntail = 8400\ncusp = \"0.4\"\nchip = \"0.001\"\ntip = \"300\"\ncurve = { kind = \"stairstep\", cut = \"0.99\", step_s = 90 }\n";
    let VenueRules::MakerClip(m) = parse_rules(maker, "r").unwrap() else { panic!("maker") };
    assert_eq!(m.buf, Ray::parse("1.3").unwrap());
    assert_eq!(m.tip, 300_000_000);
    assert_eq!(
        m.curve,
        Curve::Stairstep {
            cut: Ray::parse("0.99").unwrap(),
            step_s: 90
        }
    );
}

#[test]
fn unknown_rules_name_names_line_and_key() {
    let e = err("\n\nrules = \"dydx-v3\"\n");
    assert_eq!((e.source.as_str(), e.location, e.field.as_str()), ("rules.toml", Location::Line(3), "rules"));
    assert!(e.message.contains("dydx-v3") && e.message.contains("dydx-v4"), "{}", e.message);
    assert!(e.to_string().starts_with("rules.toml: line 3: field `rules`"), "{e}");
}

#[test]
fn missing_rules_key() {
    let e = err("max_leverage = 3\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(1), "rules"));
    assert!(e.message.contains("missing"), "{}", e.message);
}

#[test]
fn unknown_key_names_line_and_key() {
    let e = err("rules = \"dydx-v4\"\nbankruptcy_adjustment_ppm = 1000000\nmax_liquidation_fee = 5000\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(3), "max_liquidation_fee"));
    assert!(e.message.contains("unknown field"), "{}", e.message);
    // A key of another venue is unknown too.
    let e = err("rules = \"binance-usdm\"\n\nmax_leverage = 20\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(3), "max_leverage"));
}

#[test]
fn missing_required_parameter() {
    let e = err("# no default: per asset\nrules = \"hyperliquid\"\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "max_leverage"));
    assert!(e.message.contains("missing required parameter"), "{}", e.message);
    let e = err("rules = \"drift-v2\"\nliquidator_fee = 5000\n");
    assert_eq!(e.field, "if_liquidation_fee");
    let e = err("rules = \"aave-v4\"\ncollateral_factor = 8000\n");
    assert_eq!(e.field, "max_liquidation_bonus");
}

#[test]
fn value_out_of_the_venues_range() {
    // dYdX: bankruptcy_adjustment_ppm >= 1e6.
    let e = err("rules = \"dydx-v4\"\nbankruptcy_adjustment_ppm = 999999\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "bankruptcy_adjustment_ppm"));
    assert!(e.message.contains("out of range"), "{}", e.message);
    // spread_to_maintenance_margin_ratio_ppm > 0.
    let e = err("rules = \"dydx-v4\"\nspread_to_maintenance_margin_ratio_ppm = 0\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "spread_to_maintenance_margin_ratio_ppm"));
    // max_liquidation_fee_ppm in (0, 1e6].
    let e = err("rules = \"dydx-v4\"\n\nmax_liquidation_fee_ppm = 1000001\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(3), "max_liquidation_fee_ppm"));
    let e = err("rules = \"dydx-v4\"\nmax_liquidation_fee_ppm = 0\n");
    assert_eq!(e.field, "max_liquidation_fee_ppm");
    // Negative where the venue's type is unsigned.
    let e = err("rules = \"dydx-v4\"\nmin_position_notional_liquidated = -1\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "min_position_notional_liquidated"));
    // Other venues' ranges.
    let e = err("rules = \"hyperliquid\"\nmax_leverage = 0\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "max_leverage"));
    let e = err("rules = \"drift-v2\"\nliquidator_fee = 5000\nif_liquidation_fee = 10000\nmax_liquidator_fee = 1000\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(4), "max_liquidator_fee"));
    let e = err("rules = \"maker-clip\"\ncusp = \"1.5\"\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "cusp"));
}

#[test]
fn wrong_type_and_bad_decimals_name_the_key() {
    let e = err("rules = \"dydx-v4\"\nmax_liquidation_fee_ppm = \"5000\"\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "max_liquidation_fee_ppm"));
    let e = err("rules = \"hyperliquid\"\nmax_leverage = 10\npartial_fraction = \"0.2x\"\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(3), "partial_fraction"));
    let e = err("rules = \"maker-clip\"\ncurve = { kind = \"linear\", tau_s = 0 }\n");
    assert_eq!((e.location, e.field.as_str()), (Location::Line(2), "curve"));
    let e = err("rules = \"dydx-v4\"\nthis is not toml\n");
    assert_eq!(e.location, Location::Line(2));
}

#[test]
fn unreadable_file_names_the_file() {
    let e = gavel_engine::venue_rules::load_rules(std::path::Path::new("/nonexistent/rules.toml")).unwrap_err();
    assert_eq!(e.source, "/nonexistent/rules.toml");
    assert!(e.message.contains("cannot read"), "{}", e.message);
}
