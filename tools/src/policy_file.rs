//! Policy TOML files: a built-in policy with any parameter overridden.
//!
//! ```toml
//! name = "adaptive-tight"        # shown in reports (default: the file stem)
//! base = "adaptive"              # naive | partial | auction | sliced | adaptive
//! partial = true                 # minimal partial close (false: close everything)
//! route = "auto"                 # auto | naive | auction | slicing | both
//! oracle_half_life_ms = 1000     # mark EMA half-life in event time (0: raw median)
//! buffer = "0.1"                 # restore to maintenance × (1 + buffer)
//! full_close_health = "0.5"      # close fully when equity ≤ this × maintenance
//! penalty = { static_rate = "0.01" }
//! # or: penalty = { base = "0.005", vol_coef = 0.5, depth_coef = 0.01, cap = "0.025" }
//! ```
//!
//! Rates are decimal strings, converted exactly to the risk engine's 10^-8 units.
//! Bounds: penalty rates (`static_rate`, `base`, `cap`) 0 ..= 1, `buffer`
//! 0 ..= 10, `full_close_health` 0 ..= 1, `oracle_half_life_ms` ≤ 3,600,000,
//! `vol_coef` and `depth_coef` finite in 0 ..= 1000. Unknown keys, NaN and
//! infinities are errors naming the file, line and field.

use std::path::Path;

use anyhow::Context;
use gavel_engine::auction::events::Route;
use gavel_engine::auction::policy::RouteMode;
use gavel_engine::policy_replay::{LiquidationPolicy, BUILTIN_POLICIES};
use gavel_engine::risk::decimal::Decimal;
use gavel_engine::risk::instrument::{rate_unit, RATE_SCALE};
use gavel_engine::risk::penalty::PenaltyPolicy;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: Option<String>,
    base: Option<Spanned<String>>,
    partial: Option<bool>,
    route: Option<Spanned<String>>,
    oracle_half_life_ms: Option<Spanned<u64>>,
    buffer: Option<Spanned<String>>,
    full_close_health: Option<Spanned<String>>,
    penalty: Option<Spanned<PenaltyFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PenaltyFile {
    static_rate: Option<Spanned<String>>,
    base: Option<Spanned<String>>,
    vol_coef: Option<Spanned<f64>>,
    depth_coef: Option<Spanned<f64>>,
    cap: Option<Spanned<String>>,
}

/// Largest `oracle_half_life_ms`: one hour.
pub const MAX_HALF_LIFE_MS: u64 = 3_600_000;
/// Largest penalty rate (`static_rate`, `base`, `cap`): 1 (100 % of the notional).
pub const MAX_PENALTY_RATE: i128 = RATE_SCALE;
/// Largest `buffer`: 10 (restore to 11 × maintenance).
pub const MAX_BUFFER_RATE: i128 = 10 * RATE_SCALE;
/// Largest `full_close_health`: 1 (close fully only once equity ≤ maintenance).
pub const MAX_FULL_CLOSE_HEALTH: i128 = RATE_SCALE;
/// Largest dynamic-penalty weight (`vol_coef`, `depth_coef`); must be finite and ≥ 0.
pub const MAX_PENALTY_COEF: f64 = 1_000.0;

/// Error context for one policy file: names the file and a value's line.
struct Source<'a> {
    name: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn line(&self, offset: usize) -> usize {
        1 + self.text[..offset.min(self.text.len())].matches('\n').count()
    }

    fn error<T>(&self, value: &Spanned<T>, field: &str, message: String) -> anyhow::Error {
        anyhow::anyhow!("{}: line {}: field `{field}`: {message}", self.name, self.line(value.span().start))
    }

    /// A rate in `0 ..= max` (decimal string, 10^-8 units).
    fn rate(&self, value: &Spanned<String>, field: &str, max: i128) -> anyhow::Result<i128> {
        let text = value.get_ref();
        let decimal = Decimal::parse(text).map_err(|e| self.error(value, field, e.to_string()))?;
        decimal.in_units_of(rate_unit()).filter(|r| (0..=max).contains(r)).ok_or_else(|| {
            self.error(value, field, format!("{text:?} is not a multiple of 1e-8 between 0 and {}", rate_text(max)))
        })
    }

    /// A finite weight in `0 ..= MAX_PENALTY_COEF`.
    fn coef(&self, value: &Spanned<f64>, field: &str) -> anyhow::Result<f64> {
        let v = *value.get_ref();
        if !(v.is_finite() && (0.0..=MAX_PENALTY_COEF).contains(&v)) {
            return Err(self.error(value, field, format!("{v} is not a finite number between 0 and {MAX_PENALTY_COEF}")));
        }
        Ok(v)
    }
}

/// Parses a route name.
pub fn parse_route(name: &str) -> Option<RouteMode> {
    Some(match name {
        "auto" => RouteMode::Auto,
        "naive" => RouteMode::Force(Route::Naive),
        "auction" => RouteMode::Force(Route::Auction),
        "slicing" => RouteMode::Force(Route::Slicing),
        "both" => RouteMode::Force(Route::Both),
        _ => return None,
    })
}

/// Parses policy TOML text (`source` names it in errors; `default_name` when it
/// has no `name`). Errors name the file, the line and the field; unknown keys,
/// non-finite weights and values beyond the documented maxima are errors.
pub fn parse_policy(text: &str, source: &str, default_name: &str) -> anyhow::Result<LiquidationPolicy> {
    let src = Source { name: source, text };
    let file: PolicyFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| src.line(s.start)).unwrap_or(0);
        anyhow::anyhow!("{source}: line {line}: {}", e.message().trim_end())
    })?;
    let mut policy = match &file.base {
        None => LiquidationPolicy::builtin("adaptive").expect("adaptive is built in"),
        Some(base) => LiquidationPolicy::builtin(base.get_ref()).ok_or_else(|| {
            src.error(base, "base", format!("unknown policy {:?} (built-ins: {})", base.get_ref(), BUILTIN_POLICIES.join(", ")))
        })?,
    };
    policy.name = file.name.unwrap_or_else(|| default_name.to_string());
    if let Some(partial) = file.partial {
        policy.partial = partial;
    }
    if let Some(route) = &file.route {
        policy.route = parse_route(route.get_ref()).ok_or_else(|| {
            src.error(route, "route", format!("{:?} is not auto, naive, auction, slicing or both", route.get_ref()))
        })?;
    }
    if let Some(ms) = &file.oracle_half_life_ms {
        if *ms.get_ref() > MAX_HALF_LIFE_MS {
            return Err(src.error(ms, "oracle_half_life_ms", format!("{} is above {MAX_HALF_LIFE_MS} (one hour)", ms.get_ref())));
        }
        policy.oracle_half_life_ns = ms.get_ref() * 1_000_000;
    }
    if let Some(buffer) = &file.buffer {
        policy.liquidation.buffer_rate = src.rate(buffer, "buffer", MAX_BUFFER_RATE)?;
    }
    if let Some(health) = &file.full_close_health {
        policy.liquidation.full_close_health = src.rate(health, "full_close_health", MAX_FULL_CLOSE_HEALTH)?;
    }
    if let Some(penalty) = &file.penalty {
        let p = penalty.get_ref();
        policy.penalty = match (&p.static_rate, &p.base) {
            (Some(r), None) => {
                for (given, field) in [(p.vol_coef.is_some(), "vol_coef"), (p.depth_coef.is_some(), "depth_coef"), (p.cap.is_some(), "cap")] {
                    if given {
                        return Err(src.error(penalty, "penalty", format!("`{field}` belongs to a dynamic penalty (base = …), not static_rate")));
                    }
                }
                PenaltyPolicy::Static { rate: src.rate(r, "penalty.static_rate", MAX_PENALTY_RATE)? }
            }
            (None, Some(base)) => PenaltyPolicy::Dynamic {
                base: src.rate(base, "penalty.base", MAX_PENALTY_RATE)?,
                vol_coef: p.vol_coef.as_ref().map(|v| src.coef(v, "penalty.vol_coef")).transpose()?.unwrap_or(0.5),
                depth_coef: p.depth_coef.as_ref().map(|v| src.coef(v, "penalty.depth_coef")).transpose()?.unwrap_or(0.01),
                cap: match &p.cap {
                    Some(cap) => src.rate(cap, "penalty.cap", MAX_PENALTY_RATE)?,
                    None => 2_500_000,
                },
            },
            _ => return Err(src.error(penalty, "penalty", "give either static_rate or base (+ vol_coef, depth_coef, cap)".into())),
        };
    }
    Ok(policy)
}

/// The name of a route mode as a policy file writes it (inverse of [`parse_route`]).
pub fn route_name(route: RouteMode) -> &'static str {
    match route {
        RouteMode::Auto => "auto",
        RouteMode::Force(Route::Naive) => "naive",
        RouteMode::Force(Route::Auction) => "auction",
        RouteMode::Force(Route::Slicing) => "slicing",
        RouteMode::Force(Route::Both) => "both",
    }
}

/// A rate in [`rate_unit`] parts as the shortest exact decimal string (`300_000` → `"0.003"`).
pub fn rate_text(rate: i128) -> String {
    let text = Decimal::from_units(rate, rate_unit()).to_string();
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Writes `policy` as a policy TOML file that [`parse_policy`] reads back to the
/// same policy: every field explicit, with the policy-file names.
///
/// Fails when a value has no policy-file spelling: an oracle half-life that is
/// not a whole number of milliseconds, or a non-finite dynamic-penalty weight.
pub fn to_toml(policy: &LiquidationPolicy) -> anyhow::Result<String> {
    anyhow::ensure!(
        policy.oracle_half_life_ns.is_multiple_of(1_000_000),
        "policy {}: oracle half-life {} ns is not a whole number of milliseconds",
        policy.name,
        policy.oracle_half_life_ns
    );
    let name = toml::Value::String(policy.name.clone()).to_string();
    let penalty = match policy.penalty {
        PenaltyPolicy::Static { rate } => format!("{{ static_rate = \"{}\" }}", rate_text(rate)),
        PenaltyPolicy::Dynamic { base, vol_coef, depth_coef, cap } => {
            anyhow::ensure!(
                vol_coef.is_finite() && depth_coef.is_finite(),
                "policy {}: dynamic penalty weights must be finite",
                policy.name
            );
            format!(
                "{{ base = \"{}\", vol_coef = {vol_coef:?}, depth_coef = {depth_coef:?}, cap = \"{}\" }}",
                rate_text(base),
                rate_text(cap)
            )
        }
    };
    Ok(format!(
        "name = {name}\n\
         base = \"adaptive\"  # every field below overrides it\n\
         partial = {}\n\
         route = \"{}\"\n\
         oracle_half_life_ms = {}\n\
         buffer = \"{}\"\n\
         full_close_health = \"{}\"\n\
         penalty = {penalty}\n",
        policy.partial,
        route_name(policy.route),
        policy.oracle_half_life_ns / 1_000_000,
        rate_text(policy.liquidation.buffer_rate),
        rate_text(policy.liquidation.full_close_health),
    ))
}

/// A `--policy` value: a built-in name, or a path to a policy TOML file.
pub fn resolve_policy(spec: &str) -> anyhow::Result<LiquidationPolicy> {
    if let Some(policy) = LiquidationPolicy::builtin(spec) {
        return Ok(policy);
    }
    let path = Path::new(spec);
    anyhow::ensure!(
        path.exists(),
        "--policy {spec:?} is neither a built-in policy ({}) nor an existing file",
        BUILTIN_POLICIES.join(", ")
    );
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("policy");
    parse_policy(&text, &path.display().to_string(), stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_on_the_base() {
        let p = parse_policy(
            "base = \"auction\"\npartial = false\nroute = \"both\"\noracle_half_life_ms = 250\nbuffer = \"0.2\"\npenalty = { static_rate = \"0.0125\" }\n",
            "t.toml",
            "t",
        )
        .unwrap();
        assert_eq!(p.name, "t");
        assert!(!p.partial);
        assert_eq!(p.route, RouteMode::Force(Route::Both));
        assert_eq!(p.oracle_half_life_ns, 250_000_000);
        assert_eq!(p.liquidation.buffer_rate, 20_000_000);
        assert_eq!(p.penalty, PenaltyPolicy::Static { rate: 1_250_000 });
    }

    #[test]
    fn to_toml_round_trips_every_builtin() {
        for name in BUILTIN_POLICIES {
            let policy = LiquidationPolicy::builtin(name).unwrap();
            let text = to_toml(&policy).unwrap();
            let back = parse_policy(&text, "rt.toml", "other").unwrap();
            assert_eq!(back, policy, "{name}:\n{text}");
        }
    }

    #[test]
    fn to_toml_round_trips_odd_values() {
        let mut policy = LiquidationPolicy::builtin("adaptive").unwrap();
        policy.name = "quote \"me\"".into();
        policy.route = RouteMode::Force(Route::Both);
        policy.oracle_half_life_ns = 250_000_000;
        policy.liquidation.buffer_rate = 2_000_000;
        policy.penalty = PenaltyPolicy::Dynamic { base: 1, vol_coef: 1.0, depth_coef: 0.125, cap: 123_456 };
        let text = to_toml(&policy).unwrap();
        assert!(text.contains("buffer = \"0.02\""), "{text}");
        assert_eq!(parse_policy(&text, "rt.toml", "x").unwrap(), policy);
        policy.penalty = PenaltyPolicy::Static { rate: 100_000_000 };
        assert_eq!(parse_policy(&to_toml(&policy).unwrap(), "rt.toml", "x").unwrap(), policy);
        policy.oracle_half_life_ns = 1;
        assert!(to_toml(&policy).is_err());
        assert_eq!(rate_text(300_000), "0.003");
        assert_eq!(rate_text(0), "0");
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = parse_policy("route = \"fast\"", "p.toml", "p").unwrap_err().to_string();
        assert!(err.contains("p.toml") && err.contains("route"), "{err}");
        let err = parse_policy("buffer = \"-1\"", "p.toml", "p").unwrap_err().to_string();
        assert!(err.contains("buffer"), "{err}");
        let err = parse_policy("base = \"magic\"", "p.toml", "p").unwrap_err().to_string();
        assert!(err.contains("base"), "{err}");
        assert!(parse_policy("colour = 1", "p.toml", "p").is_err());
        let err = parse_policy("name = \"x\"\nbase = \"magic\"", "p.toml", "p").unwrap_err().to_string();
        assert!(err.contains("p.toml: line 2: field `base`"), "{err}");
        assert!(resolve_policy("no-such-policy").is_err());
        assert_eq!(resolve_policy("naive").unwrap().name, "naive");
    }

    /// Issue 14: `vol_coef = nan`/`inf` and `static_rate = "2"` were accepted,
    /// unknown keys were reported without their line.
    #[test]
    fn out_of_range_and_unknown_values_are_refused_with_their_line() {
        let cases = [
            ("penalty = { base = \"0.01\", vol_coef = nan }", 1, "vol_coef"),
            ("penalty = { base = \"0.01\", vol_coef = inf }", 1, "vol_coef"),
            ("partial = true\npenalty = { base = \"0.01\", depth_coef = -inf }", 2, "depth_coef"),
            ("penalty = { base = \"0.01\", depth_coef = 1e300 }", 1, "depth_coef"),
            ("penalty = { static_rate = \"2\" }", 1, "static_rate"),
            ("penalty = { static_rate = \"0.01\", cap = \"0.1\" }", 1, "penalty"),
            ("penalty = { base = \"1.5\" }", 1, "base"),
            ("penalty = { base = \"0.01\", cap = \"7\" }", 1, "cap"),
            ("buffer = \"11\"", 1, "buffer"),
            ("full_close_health = \"1.01\"", 1, "full_close_health"),
            ("oracle_half_life_ms = 9223372036854775807", 1, "oracle_half_life_ms"),
            ("partial = true\n\ncolour = 1", 3, "colour"),
            ("penalty = { base = \"0.01\", vol_coeff = 1.0 }", 1, "vol_coeff"),
        ];
        for (text, line, needle) in cases {
            let err = parse_policy(text, "p.toml", "p").unwrap_err().to_string();
            assert!(err.contains(&format!("p.toml: line {line}:")) && err.contains(needle), "{text}: {err}");
        }
        // The bounds themselves are accepted.
        let p = parse_policy(
            "penalty = { base = \"1\", vol_coef = 1000.0, depth_coef = 0.0, cap = \"1\" }\nbuffer = \"10\"\noracle_half_life_ms = 3600000",
            "p.toml",
            "p",
        )
        .unwrap();
        assert_eq!(p.liquidation.buffer_rate, MAX_BUFFER_RATE);
        assert_eq!(p.penalty, PenaltyPolicy::Dynamic { base: MAX_PENALTY_RATE, vol_coef: 1000.0, depth_coef: 0.0, cap: MAX_PENALTY_RATE });
    }
}
