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

use std::path::Path;

use anyhow::Context;
use gavel_engine::auction::events::Route;
use gavel_engine::auction::policy::RouteMode;
use gavel_engine::policy_replay::{LiquidationPolicy, BUILTIN_POLICIES};
use gavel_engine::risk::decimal::Decimal;
use gavel_engine::risk::instrument::rate_unit;
use gavel_engine::risk::penalty::PenaltyPolicy;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    name: Option<String>,
    base: Option<String>,
    partial: Option<bool>,
    route: Option<String>,
    oracle_half_life_ms: Option<u64>,
    buffer: Option<String>,
    full_close_health: Option<String>,
    penalty: Option<PenaltyFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PenaltyFile {
    static_rate: Option<String>,
    base: Option<String>,
    vol_coef: Option<f64>,
    depth_coef: Option<f64>,
    cap: Option<String>,
}

fn rate(text: &str, field: &str, source: &str) -> anyhow::Result<i128> {
    let decimal = Decimal::parse(text).map_err(|e| anyhow::anyhow!("{source}: field `{field}`: {e}"))?;
    decimal
        .in_units_of(rate_unit())
        .filter(|r| *r >= 0)
        .ok_or_else(|| anyhow::anyhow!("{source}: field `{field}`: {text:?} is not a non-negative multiple of 1e-8"))
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

/// Parses policy TOML text (`source` names it in errors; `default_name` when it has no `name`).
pub fn parse_policy(text: &str, source: &str, default_name: &str) -> anyhow::Result<LiquidationPolicy> {
    let file: PolicyFile = toml::from_str(text).with_context(|| format!("parsing policy {source}"))?;
    let base_name = file.base.as_deref().unwrap_or("adaptive");
    let mut policy = LiquidationPolicy::builtin(base_name).ok_or_else(|| {
        anyhow::anyhow!("{source}: field `base`: unknown policy {base_name:?} (built-ins: {})", BUILTIN_POLICIES.join(", "))
    })?;
    policy.name = file.name.unwrap_or_else(|| default_name.to_string());
    if let Some(partial) = file.partial {
        policy.partial = partial;
    }
    if let Some(route) = file.route {
        policy.route = parse_route(&route).ok_or_else(|| {
            anyhow::anyhow!("{source}: field `route`: {route:?} is not auto, naive, auction, slicing or both")
        })?;
    }
    if let Some(ms) = file.oracle_half_life_ms {
        policy.oracle_half_life_ns = ms.saturating_mul(1_000_000);
    }
    if let Some(buffer) = file.buffer {
        policy.liquidation.buffer_rate = rate(&buffer, "buffer", source)?;
    }
    if let Some(health) = file.full_close_health {
        policy.liquidation.full_close_health = rate(&health, "full_close_health", source)?;
    }
    if let Some(p) = file.penalty {
        policy.penalty = match (p.static_rate, p.base) {
            (Some(r), None) => PenaltyPolicy::Static { rate: rate(&r, "penalty.static_rate", source)? },
            (None, Some(base)) => PenaltyPolicy::Dynamic {
                base: rate(&base, "penalty.base", source)?,
                vol_coef: p.vol_coef.unwrap_or(0.5),
                depth_coef: p.depth_coef.unwrap_or(0.01),
                cap: rate(p.cap.as_deref().unwrap_or("0.025"), "penalty.cap", source)?,
            },
            _ => anyhow::bail!("{source}: field `penalty`: give either static_rate or base (+ vol_coef, depth_coef, cap)"),
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
        assert!(resolve_policy("no-such-policy").is_err());
        assert_eq!(resolve_policy("naive").unwrap().name, "naive");
    }
}
