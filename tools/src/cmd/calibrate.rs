//! `gavel calibrate CAPTURE… [--liquidations CSV…] --out params.toml`: fits the crash
//! generator's calm-market parameters on real Binance USD-M recordings (the hftbacktest format:
//! depth snapshot + diffs, replayed through the venue's book sync) and measures the liquidation
//! flow of Binance `forceOrder` rows; writes the fit (`[generator]`, what `gavel gen crash
//! --params` applies) and the measurements with their goodness of fit (`[report]`).
//!
//! What is fitted and how (docs/SIMULATION.md, *Calibration*):
//! - noise: the standard deviation σ of `step_ms` mid returns; the generator's calm mid is an
//!   AR(1) around its target (φ = 0.8) driven by uniform noise of half-width a, whose returns
//!   have σ = a/√3·√(2/1.8), so a = 1.643·σ;
//! - half-spread: the median of (ask − bid)/2 over the samples;
//! - depth: the mean quote notional per bp within distance bands from the mid, both sides;
//! - level grid: the generator keeps 50 levels a side, so the grid is the larger of the book's
//!   median level gap and the widest band / 50 (the real book's levels are aggregated);
//! - resilience: after a one-update drop of ≥ 30 % in the depth within 5 bp of a side, the time
//!   until half the drop is back (median; drops not refilled within 60 s are counted apart);
//! - liquidations (report only: the generator has no liquidation flow of its own; the engine
//!   produces it from the account book): rate, side share, and a lognormal fit of the notional.

use std::path::PathBuf;

use gavel_feeds::replay::{resolve_spec, TopReplay};
use gavel_feeds::venue_book::L2Book;
use gavel_feeds::wire::Side;
use gavel_feeds::Venue;
use gavel_sim::generate::fit::{level_lots, MarketFit, ParamsFile};
use gavel_sim::generate::market::{crash_path, CrashSpec};
use serde_json::{json, Value};

use crate::fit_stats::{excess_kurtosis, ks_one_sample, ks_p_value, ks_two_sample, mean_std, normal_cdf, quantile};

/// Arguments of `gavel calibrate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Binance USD-M recordings of one session, in order (hftbacktest format; the book sync
    /// carries over from file to file).
    #[arg(required = true)]
    pub captures: Vec<PathBuf>,
    /// The symbol to fit.
    #[arg(long, default_value = "BTCUSDT")]
    pub symbol: String,
    /// Binance forceOrder rows (CSV without header: s,S,o,f,q,p,ap,X,l,z,T,notional).
    #[arg(long = "liquidations", num_args = 1..)]
    pub liquidations: Vec<PathBuf>,
    /// Where to write the params file (refused if it exists, unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Overwrite --out.
    #[arg(long)]
    pub force: bool,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Sampling step of the mid path, ms (10 to 60,000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i64).range(10..=60_000))]
    pub step_ms: i64,
}

/// Distance bands of the depth fit, upper bounds in bp.
const BANDS_BP: [i64; 6] = [1, 2, 5, 10, 25, 50];
/// Levels a side in a generated book.
const GENERATED_LEVELS: i64 = 50;
/// A one-update drop of at least this share of a side's near depth starts a resilience sample.
const SHOCK_SHARE: f64 = 0.3;
/// Near depth: within this many bp of the mid.
const NEAR_BP: f64 = 5.0;
/// A drop not half refilled within this long is censored.
const REFILL_LIMIT_NS: i64 = 60_000_000_000;

fn decimal_f64(d: gavel_feeds::decimal::Decimal) -> f64 {
    d.mantissa as f64 / 10f64.powi(d.scale as i32)
}

/// What the book replay measured.
#[derive(Default)]
struct BookStats {
    returns_bp: Vec<f64>,
    half_spread_bp: Vec<f64>,
    band_notional: [f64; BANDS_BP.len()],
    band_samples: u64,
    level_gap_bp: Vec<f64>,
    refill_ms: Vec<f64>,
    refill_censored: u64,
    mid: Vec<f64>,
    updates: u64,
    first_ns: i64,
    last_ns: i64,
}

/// A depletion waiting to be refilled: side, start, the depth that counts as half refilled.
struct Pending {
    at_ns: i64,
    target: f64,
}

fn near_depth(book: &L2Book, side: Side, mid: f64, tick: f64, lot: f64) -> f64 {
    book.levels(side)
        .take_while(|l| ((l.price as f64 - mid).abs() / mid) * 1e4 <= NEAR_BP)
        .map(|l| l.qty as f64 * lot * l.price as f64 * tick)
        .sum()
}

fn measure_book(args: &Args) -> anyhow::Result<(BookStats, gavel_feeds::venues::InstrumentSpec)> {
    let spec = resolve_spec(&args.symbol, 1, None, &args.captures, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tick = decimal_f64(spec.price.unit());
    let lot = decimal_f64(spec.qty.unit());
    let step_ns = args.step_ms * 1_000_000;
    let mut s = BookStats { first_ns: i64::MAX, ..BookStats::default() };
    let mut bucket: Option<(i64, f64)> = None; // (step index, last mid in it)
    let mut last_band_ns = i64::MIN;
    let mut near_prev = [f64::NAN; 2];
    let mut pending: [Option<Pending>; 2] = [None, None];
    let replay = TopReplay { venue: Venue::BinanceUsdm, spec: spec.clone(), captures: args.captures.clone(), snapshots: Vec::new(), url_filter: None };
    let report = replay
        .run(|receive_ns, _, book| {
            let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else { return };
            if bid.price >= ask.price {
                return;
            }
            s.updates += 1;
            s.first_ns = s.first_ns.min(receive_ns);
            s.last_ns = s.last_ns.max(receive_ns);
            let mid = (bid.price + ask.price) as f64 / 2.0;
            // Mid path sampled every step (the last mid of each step; quiet steps repeat it).
            let index = receive_ns.div_euclid(step_ns);
            match bucket {
                Some((at, last)) if index > at => {
                    let quiet = (index - at - 1).min(100);
                    s.mid.push(last);
                    for _ in 0..quiet {
                        s.mid.push(last);
                    }
                    if index - at > 100 {
                        s.mid.push(f64::NAN); // a gap: no return across it
                    }
                    s.half_spread_bp.push((ask.price - bid.price) as f64 / 2.0 / mid * 1e4);
                }
                _ => {}
            }
            bucket = Some((index, mid));
            // Depth by distance, once a second.
            if receive_ns.saturating_sub(last_band_ns) >= 1_000_000_000 {
                last_band_ns = receive_ns;
                s.band_samples += 1;
                for side in [Side::Bid, Side::Ask] {
                    let mut previous: Option<i64> = None;
                    for (k, l) in book.levels(side).enumerate() {
                        let d = (l.price as f64 - mid).abs() / mid * 1e4;
                        if let Some(band) = BANDS_BP.iter().position(|&b| d < b as f64) {
                            s.band_notional[band] += l.qty as f64 * lot * l.price as f64 * tick;
                        } else {
                            break;
                        }
                        if let (Some(p), true) = (previous, k < 20) {
                            s.level_gap_bp.push((l.price - p).abs() as f64 / mid * 1e4);
                        }
                        previous = Some(l.price);
                    }
                }
            }
            // Resilience of the near depth on each side.
            for (k, side) in [Side::Bid, Side::Ask].into_iter().enumerate() {
                let depth = near_depth(book, side, mid, tick, lot);
                if let Some(p) = &pending[k] {
                    if depth >= p.target {
                        s.refill_ms.push((receive_ns - p.at_ns) as f64 / 1e6);
                        pending[k] = None;
                    } else if receive_ns - p.at_ns > REFILL_LIMIT_NS {
                        s.refill_censored += 1;
                        pending[k] = None;
                    }
                }
                let before = near_prev[k];
                if pending[k].is_none() && before.is_finite() && before > 0.0 && depth < before * (1.0 - SHOCK_SHARE) {
                    pending[k] = Some(Pending { at_ns: receive_ns, target: before - (before - depth) / 2.0 });
                }
                near_prev[k] = depth;
            }
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    s.refill_censored += pending.iter().filter(|p| p.is_some()).count() as u64;
    for w in s.mid.windows(2) {
        if w[0].is_finite() && w[1].is_finite() && w[0] > 0.0 {
            s.returns_bp.push((w[1] / w[0] - 1.0) * 1e4);
        }
    }
    anyhow::ensure!(
        s.returns_bp.len() >= 100,
        "{}: only {} mid returns of {} ms from {} book updates ({} bad lines, {} parse errors); at least 100 are needed",
        args.captures.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        s.returns_bp.len(),
        args.step_ms,
        s.updates,
        report.bad_lines,
        report.parse_errors.values().sum::<u64>()
    );
    Ok((s, spec))
}

/// One forceOrder row.
struct Liquidation {
    sell: bool,
    notional: f64,
    time_ms: i64,
}

fn read_liquidations(paths: &[PathBuf]) -> anyhow::Result<(Vec<Liquidation>, u64, Option<String>)> {
    let mut rows = Vec::new();
    let mut skipped = 0u64;
    let mut first_error = None;
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            let parsed = (|| -> Result<Liquidation, String> {
                if f.len() != 12 {
                    return Err(format!("{} fields, 12 expected", f.len()));
                }
                let num = |k: usize, name: &str| -> Result<f64, String> {
                    let v: f64 = f[k].trim().parse().map_err(|_| format!("field `{name}`: {:?} is not a number", f[k]))?;
                    if v.is_finite() && v > 0.0 && v < 1e15 {
                        Ok(v)
                    } else {
                        Err(format!("field `{name}`: {v} is outside (0, 1e15)"))
                    }
                };
                let sell = match f[1].trim() {
                    "SELL" => true,
                    "BUY" => false,
                    other => return Err(format!("field `S`: {other:?} is not BUY or SELL")),
                };
                let time_ms = f[10].trim().parse::<i64>().ok().filter(|t| (1_000_000_000_000..=10_000_000_000_000).contains(t)).ok_or_else(|| format!("field `T`: {:?} is not a time in ms", f[10]))?;
                Ok(Liquidation { sell, notional: num(4, "q")? * num(6, "ap")?, time_ms })
            })();
            match parsed {
                Ok(r) => rows.push(r),
                Err(e) => {
                    skipped += 1;
                    first_error.get_or_insert_with(|| format!("{} line {}: {e}", path.display(), i + 1));
                }
            }
        }
    }
    Ok((rows, skipped, first_error))
}

/// Runs `gavel calibrate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.out.exists() && !args.force {
        anyhow::bail!("--out {}: already exists (pass --force to overwrite it)", args.out.display());
    }
    let (book, _spec) = measure_book(&args)?;
    let (_, sigma) = mean_std(&book.returns_bp);
    let noise_bp = sigma * 3f64.sqrt() / (2.0 / 1.8f64).sqrt();
    let mut half_spreads = book.half_spread_bp.clone();
    half_spreads.sort_by(f64::total_cmp);
    let half_spread_bp = quantile(&half_spreads, 0.5);
    let mut gaps = book.level_gap_bp.clone();
    gaps.sort_by(f64::total_cmp);
    let widest = *BANDS_BP.last().unwrap_or(&50) as f64;
    let grid_bp = quantile(&gaps, 0.5).max(widest / GENERATED_LEVELS as f64);
    let mut lower = 0i64;
    let mut depth = Vec::new();
    for (k, &upper) in BANDS_BP.iter().enumerate() {
        let per_bp = book.band_notional[k] / book.band_samples.max(1) as f64 / (2.0 * (upper - lower) as f64);
        depth.push([upper, (per_bp.round() as i64).max(1)]);
        lower = upper;
    }
    let mut refill = book.refill_ms.clone();
    refill.sort_by(f64::total_cmp);
    let fit = MarketFit {
        noise_bp_e3: ((noise_bp * 1000.0).round() as i64).max(1),
        step_ms: args.step_ms,
        half_spread_bp_e3: (half_spread_bp * 1000.0).round() as i64,
        level_grid_bp_e3: ((grid_bp * 1000.0).round() as i64).max(1),
        depth_quote_per_bp: depth.clone(),
        resilience_half_life_ms: (!refill.is_empty()).then(|| quantile(&refill, 0.5).round() as i64),
    };
    fit.validate().map_err(|e| anyhow::anyhow!("the fit is out of the generator's range ({e}); the captures may not be a {} book", args.symbol))?;

    // Goodness of fit: the generator's calm mid returns with this fit against the real ones.
    let generated = {
        let steps_needed = (book.returns_bp.len() as i64 * 10 / 3 + 10).min(2_000_000);
        let spec = CrashSpec { fit: Some(fit.clone()), step_ms: args.step_ms, duration_s: (steps_needed * args.step_ms / 1000).max(10), drop_per_mille: 1, ..CrashSpec::default() };
        let path = crash_path(&spec);
        let calm = path.len() * 3 / 10;
        path[..calm].windows(2).map(|w| (w[1].mid_ticks as f64 / w[0].mid_ticks as f64 - 1.0) * 1e4).collect::<Vec<f64>>()
    };
    let (_, generated_sigma) = mean_std(&generated);
    let ks_generated = ks_two_sample(&book.returns_bp, &generated);
    let n_eff = (book.returns_bp.len() * generated.len()) as f64 / (book.returns_bp.len() + generated.len()).max(1) as f64;
    let ks_normal = ks_one_sample(&book.returns_bp, |x| normal_cdf(x / sigma.max(1e-12)));
    let jumps: Vec<f64> = book.returns_bp.iter().copied().filter(|r| r.abs() > 5.0 * sigma).collect();
    // The generator's calm book with this fit, by the same bands.
    let generated_depth: Vec<f64> = {
        let d = CrashSpec::default();
        let mid = d.start_price_ticks;
        let grid = (i128::from(mid) * i128::from(fit.level_grid_bp_e3) / 10_000_000).max(1) as i64;
        let half = (i128::from(mid) * i128::from(fit.half_spread_bp_e3) / 10_000_000).max(1) as i64;
        let (tick, lot) = (decimal_f64(d.tick_size), decimal_f64(d.lot_size));
        let mut bands = [0.0f64; BANDS_BP.len()];
        for i in 0..GENERATED_LEVELS {
            let distance = half + i * grid;
            let bp = distance as f64 / mid as f64 * 1e4;
            let density = fit.density_at((bp * 1000.0) as i64);
            let lots = level_lots(density, grid, mid, d.tick_size, d.lot_size);
            if let Some(b) = BANDS_BP.iter().position(|&u| bp < u as f64) {
                bands[b] += 2.0 * lots as f64 * lot * (mid as f64) * tick;
            }
        }
        let mut lower = 0;
        BANDS_BP.iter().enumerate().map(|(k, &u)| { let v = bands[k] / (2.0 * (u - lower) as f64); lower = u; v }).collect()
    };
    let depth_error: Vec<f64> = depth.iter().zip(&generated_depth).map(|(r, g)| if r[1] > 0 { (g - r[1] as f64) / r[1] as f64 } else { 0.0 }).collect();

    let mut report = json!({
        "sources": args.captures.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "symbol": args.symbol,
        "span_s": (book.last_ns - book.first_ns) as f64 / 1e9,
        "book_updates": book.updates,
        "returns": {
            "step_ms": args.step_ms,
            "n": book.returns_bp.len(),
            "std_bp": sigma,
            "excess_kurtosis": excess_kurtosis(&book.returns_bp),
            "zero_share": book.returns_bp.iter().filter(|r| **r == 0.0).count() as f64 / book.returns_bp.len() as f64,
            "ks_vs_normal": { "d": ks_normal, "p": ks_p_value(ks_normal, book.returns_bp.len() as f64) },
            "generator_std_bp": generated_sigma,
            "ks_vs_generator": { "d": ks_generated, "p": ks_p_value(ks_generated, n_eff), "generated_n": generated.len() },
        },
        "jumps_observed_not_applied": {
            "threshold_bp": 5.0 * sigma,
            "per_10k_steps": jumps.len() as f64 * 1e4 / book.returns_bp.len() as f64,
            "mean_abs_bp": if jumps.is_empty() { 0.0 } else { jumps.iter().map(|j| j.abs()).sum::<f64>() / jumps.len() as f64 },
            "why": "calm captures: the generator's crash-phase flash jumps (1.5–3 %, one step in 150) stay a stated assumption",
        },
        "half_spread_bp": { "median": half_spread_bp, "p90": quantile(&half_spreads, 0.9) },
        "level_gap_bp_median": quantile(&gaps, 0.5),
        "depth": {
            "bands_bp": BANDS_BP,
            "real_quote_per_bp": depth.iter().map(|d| d[1]).collect::<Vec<_>>(),
            "generator_quote_per_bp": generated_depth,
            "relative_error": depth_error,
            "samples": book.band_samples,
        },
        "resilience": {
            "samples": refill.len(),
            "censored": book.refill_censored,
            "median_ms": quantile(&refill, 0.5),
            "p25_ms": quantile(&refill, 0.25),
            "p75_ms": quantile(&refill, 0.75),
        },
    });
    if !args.liquidations.is_empty() {
        let (rows, skipped, first_error) = read_liquidations(&args.liquidations)?;
        anyhow::ensure!(rows.len() >= 10, "--liquidations: {} usable rows ({skipped} skipped{}); at least 10 are needed", rows.len(), first_error.map_or(String::new(), |e| format!(", first: {e}")));
        let logs: Vec<f64> = rows.iter().map(|r| r.notional.ln()).collect();
        let (mu, s) = mean_std(&logs);
        let ks = ks_one_sample(&logs, |x| normal_cdf((x - mu) / s.max(1e-12)));
        let (t0, t1) = rows.iter().fold((i64::MAX, i64::MIN), |(a, b), r| (a.min(r.time_ms), b.max(r.time_ms)));
        let hours = ((t1 - t0) as f64 / 3.6e6).max(1e-9);
        let mut notionals: Vec<f64> = rows.iter().map(|r| r.notional).collect();
        notionals.sort_by(f64::total_cmp);
        report["liquidations"] = json!({
            "sources": args.liquidations.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "rows": rows.len(),
            "skipped": skipped,
            "per_hour": rows.len() as f64 / hours,
            "span_hours": hours,
            "long_share": rows.iter().filter(|r| r.sell).count() as f64 / rows.len() as f64,
            "notional_median": quantile(&notionals, 0.5),
            "notional_p99": quantile(&notionals, 0.99),
            "lognormal": { "mu": mu, "sigma": s, "ks_d": ks, "ks_p": ks_p_value(ks, rows.len() as f64) },
            "applied": "no: the generator has no liquidation flow of its own (the engine liquidates the account book)",
        });
        if skipped > 0 {
            report["liquidations"]["first_skipped"] = json!(first_error);
        }
    }
    let table = toml::Table::try_from(&report).map_err(|e| anyhow::anyhow!("the report as TOML: {e}"))?;
    let file = ParamsFile { generator: fit.clone(), report: table };
    let text = format!("# gavel calibrate: a market fit for `gavel gen crash --params` (docs/SIMULATION.md, Calibration)\n{}", toml::to_string(&file)?);
    ParamsFile::parse(&text, "the written params").map_err(|e| anyhow::anyhow!("{e}"))?;
    gavel_feeds::atomic_file::write_atomic(&args.out, &text).map_err(|e| anyhow::anyhow!("{}: {e}", args.out.display()))?;
    if let Some(path) = &args.json {
        gavel_feeds::atomic_file::write_atomic(path, serde_json::to_string_pretty(&json!({ "generator": fit, "report": report }))?).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    print_summary(&args, &fit, &report);
    Ok(())
}

fn print_summary(args: &Args, fit: &MarketFit, r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    println!("gavel calibrate: {} over {:.0} s of {} file(s) ({} book updates)", args.symbol, f(&r["span_s"]), args.captures.len(), r["book_updates"]);
    let ret = &r["returns"];
    println!(
        "  returns ({} ms, n {}): std {:.3} bp, excess kurtosis {:.1}, {:.0} % zero; KS vs normal D {:.3}; vs the fitted generator D {:.3} (p {:.2e}), its std {:.3} bp",
        args.step_ms, ret["n"], f(&ret["std_bp"]), f(&ret["excess_kurtosis"]), 100.0 * f(&ret["zero_share"]), f(&ret["ks_vs_normal"]["d"]), f(&ret["ks_vs_generator"]["d"]), f(&ret["ks_vs_generator"]["p"]), f(&ret["generator_std_bp"])
    );
    println!("  fit: noise half-width {:.3} bp/step, half-spread {:.3} bp, level grid {:.3} bp, refill half-life {}", fit.noise_bp_e3 as f64 / 1e3, fit.half_spread_bp_e3 as f64 / 1e3, fit.level_grid_bp_e3 as f64 / 1e3, fit.resilience_half_life_ms.map_or("not measured".to_string(), |m| format!("{m} ms")));
    let d = &r["depth"];
    println!("  depth, quote per bp by band (bp upper bound: real / generator):");
    for (k, b) in BANDS_BP.iter().enumerate() {
        println!("    < {b:>2} bp: {:>14.0} / {:>14.0}", f(&d["real_quote_per_bp"][k]), f(&d["generator_quote_per_bp"][k]));
    }
    let res = &r["resilience"];
    println!("  resilience: {} depletions refilled halfway in a median {:.0} ms, {} not within 60 s", res["samples"], f(&res["median_ms"]), res["censored"]);
    if let Some(l) = r.get("liquidations") {
        println!(
            "  liquidations: {} rows ({} skipped), {:.1}/hour, {:.0} % longs, notional median {:.0}, lognormal μ {:.2} σ {:.2} (KS D {:.3}, p {:.2e}); reported, not applied",
            l["rows"], l["skipped"], f(&l["per_hour"]), 100.0 * f(&l["long_share"]), f(&l["notional_median"]), f(&l["lognormal"]["mu"]), f(&l["lognormal"]["sigma"]), f(&l["lognormal"]["ks_d"]), f(&l["lognormal"]["ks_p"])
        );
    }
    println!("  wrote {}", args.out.display());
}
