//! `gavel options`: gavel's Black-76 Greeks against a venue recording
//! (`check`), the stress margin and liquidation plan of an options portfolio
//! (`margin`), the close-first / hedge-first / Greeks-choice comparison on
//! a generated crash (`crash`), a scenario's `implied_vol.csv` from a venue
//! recording (`implied-vol`), and the same vol sent live to a venue (`vol-feed`, in
//! `vol_feed.rs`). See docs/INSTRUMENTS.md, POLICIES.md and SIMULATION.md.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::builder::RangedU64ValueParser;
use gavel_engine::options::close_or_hedge::{choose, HedgeExit, Plan};
use gavel_engine::options::portfolio::{MarketState, OptionsBook};
use gavel_engine::options::RiskArrays;
use gavel_engine::options::venue_check::{VenueComparison, TOLERANCE};
use gavel_engine::risk::instrument::{format_money, QUOTE_DECIMALS};
use gavel_feeds::recording::{RecordKind, RecordingReader};
use gavel_feeds::venues::deribit::{parse_ticker, OptionTicker};
use gavel_sim::generate::market::CrashSpec;
use gavel_sim::implied_vol::{push_row as push_implied_vol_row, AtmVol, HEADER as IMPLIED_VOL_HEADER};
use gavel_sim::options_crash::{generate_accounts, run as run_crash, OptionsCrashSpec, Strategy, StrategyOutcome};

use crate::study_stats::{ci95, mean};
use serde_json::json;

/// The portfolio `margin` and `crash` use when none is given.
const EXAMPLE_PORTFOLIO: &str = include_str!("../../../docs/examples/options.toml");

/// `gavel options …`.
#[derive(clap::Subcommand, Debug)]
pub enum OptionsCommand {
    /// Compare gavel's Black-76 premium and Greeks with a Deribit recording's own (cryptofeed format).
    Check(CheckArgs),
    /// Stress margin, Greeks and the liquidation plan of each account in a portfolio file.
    Margin(MarginArgs),
    /// Close-options-first vs hedge-delta-first vs gavel's choice, on a generated crash.
    Crash(CrashArgs),
    /// A scenario's `implied_vol.csv` from a Deribit recording: the at-the-money mark vol of one currency.
    ImpliedVol(ImpliedVolArgs),
    /// The at-the-money vol from Deribit's tickers (live, or a recording in real time) to a running `gavel serve`.
    VolFeed(super::vol_feed::VolFeedArgs),
}

/// Arguments of `gavel options implied-vol`.
#[derive(clap::Args, Debug)]
pub struct ImpliedVolArgs {
    /// Deribit WebSocket recording with `ticker` channels (cryptofeed format).
    pub recording: PathBuf,
    /// Options currency whose series are read (`BTC`, `ETH`).
    #[arg(long)]
    pub currency: String,
    /// Scenario instrument the quotes are for (the `instrument` column, e.g. BTCUSDT).
    #[arg(long)]
    pub instrument: String,
    /// Series with fewer days than this to expiry are not used (their vol is dominated by the last days).
    #[arg(long, default_value_t = 7, value_parser = RangedU64ValueParser::<u64>::new().range(0..=3_650))]
    pub min_expiry_days: u64,
    /// Least time between two rows, ms.
    #[arg(long, default_value_t = 1_000, value_parser = RangedU64ValueParser::<u64>::new().range(1..=86_400_000))]
    pub every_ms: u64,
    /// Output file (written to a temporary file and renamed).
    #[arg(long, default_value = "implied_vol.csv")]
    pub out: PathBuf,
}

/// Arguments of `gavel options check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Deribit WebSocket recording with `ticker` channels (e.g. $GAVEL_DATA/cryptofeed/DERIBIT.ws.1.0).
    pub recording: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `gavel options margin`.
#[derive(clap::Args, Debug)]
pub struct MarginArgs {
    /// Options portfolio TOML (default: the built-in docs/examples/options.toml).
    #[arg(long)]
    pub portfolio: Option<PathBuf>,
    /// Wait of the hedge-first plan, seconds.
    #[arg(long, default_value_t = 120, value_parser = RangedU64ValueParser::<u64>::new().range(1..=86_400))]
    pub wait_s: u64,
    /// Option spreads as a multiple of calm (a stressed market for the plan choice), 1-100.
    #[arg(long, default_value_t = 1.0, value_parser = |t: &str| ranged_f64(t, 1.0, 100.0))]
    pub spread_scale: f64,
    /// Perp book depth as a share of calm, 0.01-1.
    #[arg(long, default_value_t = 1.0, value_parser = |t: &str| ranged_f64(t, 0.01, 1.0))]
    pub depth_scale: f64,
    /// Observed change of the option spreads, % per minute (negative: narrowing), -99 to 1000.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = |t: &str| ranged_f64(t, -99.0, 1000.0))]
    pub spread_trend_pct_per_min: f64,
    /// Observed change of the implied vols, % per minute (negative: falling), -99 to 1000.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = |t: &str| ranged_f64(t, -99.0, 1000.0))]
    pub vol_trend_pct_per_min: f64,
    /// Expected half-life of the spreads' excess over calm (a calibrated depth refill), seconds,
    /// 0.1-86,400; the hedge-first plan then holds until spreads are within 1.5 × calm.
    #[arg(long, value_parser = |t: &str| ranged_f64(t, 0.1, 86_400.0))]
    pub spread_refill_half_life_s: Option<f64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A growth of `pct` % per minute as a log rate per second.
fn per_second(pct_per_min: f64) -> f64 {
    (pct_per_min / 100.0).ln_1p() / 60.0
}

/// A finite number in `[low, high]` (NaN and infinities refused).
fn ranged_f64(text: &str, low: f64, high: f64) -> Result<f64, String> {
    let v: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
    if v.is_finite() && (low..=high).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{text} is not a number in [{low}, {high}]"))
    }
}

/// Arguments of `gavel options crash`.
#[derive(clap::Args, Debug)]
pub struct CrashArgs {
    /// Options portfolio TOML whose underlyings and series are used (default: the built-in example).
    #[arg(long)]
    pub portfolio: Option<PathBuf>,
    /// Accounts generated on the series.
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=20_000))]
    pub accounts: usize,
    /// Seed of the crash path and the accounts (the first, with `--seeds`).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Crashes to run (seeds `seed`, `seed + 1`, …); above 1, means with 95 % intervals and paired differences.
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<u64>::new().range(1..=1_000))]
    pub seeds: u64,
    /// Fall of the crash, percent of the start price.
    #[arg(long, default_value_t = 25, value_parser = RangedU64ValueParser::<u64>::new().range(0..=80))]
    pub drop_pct: u64,
    /// Implied vol multiplier rise per unit of fall, in tenths (40: a 20 % fall lifts vols × 1.8).
    #[arg(long, default_value_t = 40, value_parser = RangedU64ValueParser::<u64>::new().range(0..=200))]
    pub vol_beta_tenths: u64,
    /// Longest wait of a hedged account before it closes its options, seconds.
    #[arg(long, default_value_t = 120, value_parser = RangedU64ValueParser::<u64>::new().range(1..=3_600))]
    pub wait_s: u64,
    /// Thinned depth (and the spreads it widens) refills with this half-life of event time, ms, while
    /// the fall makes no new low (6,900: the refill fitted on a real capture); absent, depth stays
    /// thinned by the deepest drawdown so far.
    #[arg(long, value_parser = RangedU64ValueParser::<u64>::new().range(1..=3_600_000))]
    pub depth_refill_half_life_ms: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `gavel options …`.
pub fn run(cmd: OptionsCommand) -> anyhow::Result<()> {
    match cmd {
        OptionsCommand::Check(a) => check(a),
        OptionsCommand::Margin(a) => margin(a),
        OptionsCommand::Crash(a) => crash(a),
        OptionsCommand::ImpliedVol(a) => implied_vol(a),
        OptionsCommand::VolFeed(a) => super::vol_feed::run(a),
    }
}

fn load_portfolio(path: &Option<PathBuf>) -> anyhow::Result<OptionsBook> {
    Ok(match path {
        Some(p) => OptionsBook::load(p)?,
        None => OptionsBook::parse(EXAMPLE_PORTFOLIO, "docs/examples/options.toml (built in)")?,
    })
}

/// Worst relative excess per quantity over one series' tickers.
#[derive(Default, serde::Serialize)]
struct SeriesCheck {
    tickers: u64,
    worst_excess: BTreeMap<&'static str, f64>,
    outside: u64,
}

/// Calls `each` with every options ticker of a Deribit recording, its line and its receive
/// time (ns); bad lines and bad tickers are reported on stderr (`gavel options <command>: …`)
/// and skipped. Returns the skipped tickers and lines.
pub(crate) fn for_each_ticker(recording: &std::path::Path, command: &str, mut each: impl FnMut(u64, i64, &OptionTicker<'_>) -> anyhow::Result<()>) -> anyhow::Result<(u64, u64)> {
    for_each_ticker_until(recording, command, |line, receive_ns, t| each(line, receive_ns, t).map(|()| ControlFlow::Continue(())))
}

/// [`for_each_ticker`], stopping early (with the counts so far) when `each` breaks.
pub(crate) fn for_each_ticker_until(
    recording: &std::path::Path,
    command: &str,
    mut each: impl FnMut(u64, i64, &OptionTicker<'_>) -> anyhow::Result<ControlFlow<()>>,
) -> anyhow::Result<(u64, u64)> {
    let mut reader = RecordingReader::open(recording)?;
    let source = recording.display().to_string();
    let (mut skipped, mut bad_lines) = (0u64, 0u64);
    loop {
        let rec = match reader.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(gavel_feeds::recording::RecordError::Bad(e)) => {
                eprintln!("gavel options {command}: skipped: {e}");
                bad_lines += 1;
                continue;
            }
            Err(e) => return Err(anyhow!("{}", e.input_error())),
        };
        if rec.kind != RecordKind::Received {
            continue;
        }
        let line = rec.line;
        match parse_ticker(rec.payload) {
            Ok(Some(t)) => {
                if each(line, rec.receive_ns, &t)?.is_break() {
                    break;
                }
            }
            Ok(None) => continue,
            Err(e) => {
                eprintln!("gavel options {command}: {source}: line {line}: field `{}`: {e} (skipped)", e.field());
                skipped += 1;
            }
        }
    }
    Ok((skipped, bad_lines))
}

fn check(args: CheckArgs) -> anyhow::Result<()> {
    let source = args.recording.display().to_string();
    let mut by_series: BTreeMap<String, SeriesCheck> = BTreeMap::new();
    let (skipped, bad_lines) = for_each_ticker(&args.recording, "check", |line, _, ticker| {
        let cmp = VenueComparison::of(ticker).map_err(|e| anyhow!("{source}: line {line}: field `{}`: {e}", e.field()))?;
        let entry = by_series.entry(String::from_utf8_lossy(ticker.instrument).into_owned()).or_default();
        entry.tickers += 1;
        for (name, ours, venue, allowance) in cmp.quantities() {
            let w = entry.worst_excess.entry(name).or_insert(0.0);
            *w = w.max(allowance.relative_excess(ours, venue));
            if !allowance.admits(ours, venue) {
                entry.outside += 1;
                eprintln!("gavel options check: {source}: line {line}: {name}: gavel {ours} vs venue {venue} (outside the tolerance)");
            }
        }
        Ok(())
    })?;
    let outside: u64 = by_series.values().map(|s| s.outside).sum();
    let tickers: u64 = by_series.values().map(|s| s.tickers).sum();
    if args.json {
        let doc = json!({
            "tickers": tickers, "series": by_series, "outside_tolerance": outside, "skipped_tickers": skipped, "skipped_lines": bad_lines,
            "tolerance": {"greeks_absolute": TOLERANCE.0.absolute, "greeks_relative": TOLERANCE.0.relative,
                          "premium_absolute": TOLERANCE.1.absolute, "premium_relative": TOLERANCE.1.relative},
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{:<24} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}   (worst excess beyond the absolute allowance, % of the venue's value)", "series", "tickers", "delta", "gamma", "vega", "theta", "premium");
        for (name, s) in &by_series {
            let w = |q: &str| s.worst_excess.get(q).copied().unwrap_or(0.0) * 100.0;
            println!("{name:<24} {:>7} {:>8.3}% {:>8.3}% {:>8.3}% {:>8.3}% {:>8.3}%", s.tickers, w("delta"), w("gamma"), w("vega"), w("theta"), w("premium"));
        }
        println!(
            "{tickers} tickers on {} series; tolerance: Greeks {} + {} % of the venue's value, premium {} + {} %; outside: {outside}; skipped: {skipped}",
            by_series.len(),
            TOLERANCE.0.absolute,
            TOLERANCE.0.relative * 100.0,
            TOLERANCE.1.absolute,
            TOLERANCE.1.relative * 100.0
        );
    }
    if tickers == 0 {
        return Err(anyhow!("{source}: no options ticker in the recording"));
    }
    if outside > 0 {
        return Err(anyhow!("{outside} values outside the documented tolerance"));
    }
    Ok(())
}

/// Writes `implied_vol.csv` rows: offsets from the currency's first ticker, a row when the
/// at-the-money vol changes and `every_ms` has passed since the last row (the first at 0).
fn implied_vol(args: ImpliedVolArgs) -> anyhow::Result<()> {
    if args.instrument.is_empty() || args.instrument.contains([',', '\n', '\r', '"']) {
        return Err(anyhow!("--instrument {:?}: not a CSV field (empty, or a comma, quote or line break)", args.instrument));
    }
    let source = args.recording.display().to_string();
    let mut atm = AtmVol::new(args.min_expiry_days * 86_400_000);
    let mut csv = format!("{IMPLIED_VOL_HEADER}\n");
    let (mut tickers, mut rows, mut late, mut latest_ms) = (0u64, 0u64, 0u64, 0u64);
    let (mut first_ms, mut last): (Option<u64>, Option<(u64, i64)>) = (None, None);
    let (skipped, bad_lines) = for_each_ticker(&args.recording, "implied-vol", |line, _, t| {
        if t.name.currency != args.currency.as_bytes() {
            return Ok(());
        }
        tickers += 1;
        // Each series stamps its own tickers: a row's time never goes back (an earlier stamp
        // than one already seen counts at the latest time seen, and is counted).
        let first = *first_ms.get_or_insert(t.timestamp_ms);
        let now = t.timestamp_ms.max(latest_ms);
        if now > t.timestamp_ms {
            late += 1;
        }
        latest_ms = now;
        let offset_ms = now.saturating_sub(first);
        if offset_ms > 1_000_000_000 {
            return Err(anyhow!("{source}: line {line}: field `timestamp`: {offset_ms} ms after the first ticker (at most 10^9)"));
        }
        let series = String::from_utf8_lossy(t.instrument);
        let Some(vol) = atm.update(&series, t.name.expiry_ms, t.name.strike, t.underlying_price, t.mark_iv, now) else { return Ok(()) };
        let due = last.is_none_or(|(at, v)| v != vol && offset_ms >= at + args.every_ms);
        if due {
            push_implied_vol_row(&mut csv, offset_ms as i64, &args.instrument, vol);
            last = Some((offset_ms, vol));
            rows += 1;
        }
        Ok(())
    })?;
    if tickers == 0 {
        return Err(anyhow!("{source}: no {} options ticker in the recording", args.currency));
    }
    if rows == 0 {
        return Err(anyhow!("{source}: no {} series with at least {} days to expiry", args.currency, args.min_expiry_days));
    }
    gavel_feeds::atomic_file::write_atomic(&args.out, &csv).with_context(|| format!("--out {}", args.out.display()))?;
    eprintln!("gavel options implied-vol: {tickers} {} tickers, {rows} rows to {}; {late} stamped before an earlier ticker (taken at the latest time); skipped {skipped} tickers, {bad_lines} lines", args.currency, args.out.display());
    Ok(())
}

fn money(units: i128) -> String {
    format_money(units, QUOTE_DECIMALS)
}

fn margin(args: MarginArgs) -> anyhow::Result<()> {
    let book = load_portfolio(&args.portfolio)?;
    let mut market = MarketState::at_valuation(&book);
    market.spread_scale.iter_mut().for_each(|x| *x = args.spread_scale);
    market.depth_scale.iter_mut().for_each(|x| *x = args.depth_scale);
    market.spread_trend_per_s.iter_mut().for_each(|x| *x = per_second(args.spread_trend_pct_per_min));
    market.vol_trend_per_s.iter_mut().for_each(|x| *x = per_second(args.vol_trend_pct_per_min));
    market.spread_refill_half_life_s.iter_mut().for_each(|x| *x = args.spread_refill_half_life_s.unwrap_or(0.0));
    let wait_ms = args.wait_s * 1000;
    let mut rows = Vec::with_capacity(book.accounts.len());
    let arrays = RiskArrays::new(&book, &market);
    for a in &book.accounts {
        let risk = arrays.assess(&book, a, &market).with_context(|| format!("account {}", a.id))?;
        let plans = choose(&book, a, &market, &risk, HedgeExit { wait_ms, calm_exit: HedgeExit::DEFAULT_CALM_EXIT }).with_context(|| format!("account {}", a.id))?;
        rows.push((a, risk, plans));
    }
    if args.json {
        let accounts: Vec<_> = rows
            .iter()
            .map(|(a, r, p)| {
                json!({
                    "account": a.id, "equity": money(r.equity), "margin": money(r.margin), "liquidatable": r.liquidatable(),
                    "exposures": r.exposures.iter().map(|e| json!({"underlying": book.underlyings[e.underlying].symbol, "greeks": e.greeks,
                        "option_value": e.option_value, "stress_loss": e.stress_loss, "worst_move": e.worst_move, "worst_vol_scale": e.worst_vol_scale})).collect::<Vec<_>>(),
                    "plans": p,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&json!({"valuation_ms": book.valuation_ms, "stress": {"range": book.stress.range, "steps": book.stress.steps, "vol_shift": book.stress.vol_shift}, "accounts": accounts}))?);
        return Ok(());
    }
    println!(
        "{:<20} {:>14} {:>14} {:>5} {:<5} {:>10} {:>10} {:>10} {:>10} {:>9} {:<12} {:>12} {:>12}",
        "account", "equity", "stress_margin", "liq", "under", "delta", "gamma", "vega", "theta", "worst", "plan", "close_first", "hedge_first"
    );
    for (a, r, plans) in &rows {
        for (i, (e, p)) in r.exposures.iter().zip(plans).enumerate() {
            let (id, eq, mm, liq) = if i == 0 { (a.id.as_str(), money(r.equity), money(r.margin), if r.liquidatable() { "yes" } else { "no" }) } else { ("", String::new(), String::new(), "") };
            let plan = match p.plan {
                Plan::CloseOptions => "close",
                Plan::HedgeDeltaFirst => "hedge-first",
            };
            let g = e.greeks;
            println!(
                "{id:<20} {eq:>14} {mm:>14} {liq:>5} {:<5} {:>10.3} {:>10.6} {:>10.1} {:>10.1} {:>+5.0}%×{:<3.1} {plan:<12} {:>12.2} {:>12.2}",
                book.underlyings[e.underlying].symbol,
                g.delta,
                g.gamma,
                g.vega,
                g.theta,
                e.worst_move * 100.0,
                e.worst_vol_scale,
                p.close_first,
                p.hedge_first
            );
        }
    }
    Ok(())
}

/// Column names of one crash's outcome table.
const OUTCOME_HEADER: [&str; 7] = ["strategy", "liquidated", "hedged_first", "liquidation_cost", "perp_volume", "loss_to_others", "equity_kept"];

/// One row of text per strategy, in [`OUTCOME_HEADER`] order.
fn strategy_rows(strategies: &[(&str, Strategy)], results: &[StrategyOutcome]) -> Vec<Vec<String>> {
    strategies
        .iter()
        .zip(results)
        .map(|((name, _), o)| {
            vec![
                name.to_string(),
                o.liquidated.to_string(),
                o.hedged_first.to_string(),
                money(o.liquidation_cost),
                format!("{:.3}", o.perp_volume),
                money(o.loss_to_others),
                money(o.equity_kept),
            ]
        })
        .collect()
}

/// The rows as an aligned text table with its header.
fn outcome_table(rows: &[Vec<String>]) -> String {
    let widths = [12, 10, 12, 18, 14, 18, 18];
    let mut out = String::new();
    for row in std::iter::once(OUTCOME_HEADER.iter().map(|s| s.to_string()).collect::<Vec<_>>()).chain(rows.iter().cloned()) {
        for (i, cell) in row.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("{cell:<w$}", w = widths[0]));
            } else {
                out.push_str(&format!(" {cell:>w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// Option accounts the demo adds to its crash.
pub const DEMO_OPTION_ACCOUNTS: usize = 200;

/// The demo's options section: [`DEMO_OPTION_ACCOUNTS`] option accounts on the
/// built-in portfolio's series, through the same crash path as the demo's perps
/// (the generator's path for `seed` and `drop_per_mille`), under the three strategies.
/// Returns the printed table and the report's.
pub fn demo_section(seed: u64, drop_per_mille: i64) -> anyhow::Result<(String, crate::report::ExtraTable)> {
    let book = load_portfolio(&None)?;
    let spec = OptionsCrashSpec {
        crash: CrashSpec { seed, drop_per_mille, ..CrashSpec::default() },
        accounts: DEMO_OPTION_ACCOUNTS,
        ..OptionsCrashSpec::default()
    };
    let accounts = generate_accounts(&book, spec.accounts, seed).context("generating option accounts")?;
    let strategies = [("close-first", Strategy::CloseOptions), ("hedge-first", Strategy::HedgeDeltaFirst), ("greeks", Strategy::Greeks)];
    let mut results = Vec::with_capacity(strategies.len());
    for (name, s) in strategies {
        results.push(run_crash(&book, &accounts, &spec, s).with_context(|| format!("options strategy {name}"))?);
    }
    let rows = strategy_rows(&strategies, &results);
    let note = format!(
        "{DEMO_OPTION_ACCOUNTS} option accounts on the series of docs/examples/options.toml, the same crash path; vols × (1 + {} × fall); money in USD (docs/POLICIES.md)",
        spec.vol_beta
    );
    let text = format!("options on the same crash: {note}\n{}", outcome_table(&rows));
    let table = crate::report::ExtraTable {
        id: "options-crash".into(),
        title: "Options on the same crash: close first, hedge delta first, or the Greeks choice".into(),
        note,
        header: OUTCOME_HEADER.iter().map(|s| s.to_string()).collect(),
        rows,
    };
    Ok((text, table))
}

/// A study metric: name, reader (quote currency), lower is better.
type Metric = (&'static str, fn(&StrategyOutcome) -> f64, bool);

fn crash(args: CrashArgs) -> anyhow::Result<()> {
    let book = load_portfolio(&args.portfolio)?;
    if book.series.is_empty() {
        return Err(anyhow!("--portfolio: the file has no [[series]] to write the generated accounts' options on"));
    }
    let mut strategies = vec![("close-first", Strategy::CloseOptions), ("hedge-first", Strategy::HedgeDeltaFirst), ("greeks", Strategy::Greeks)];
    if args.depth_refill_half_life_ms.is_some() {
        strategies.push(("greeks-refill", Strategy::GreeksWithRefill));
    }
    let mut runs: Vec<Vec<StrategyOutcome>> = Vec::with_capacity(args.seeds as usize);
    for k in 0..args.seeds {
        let seed = args.seed.wrapping_add(k);
        let spec = OptionsCrashSpec {
            crash: CrashSpec { seed, drop_per_mille: args.drop_pct as i64 * 10, ..CrashSpec::default() },
            accounts: args.accounts,
            vol_beta: args.vol_beta_tenths as f64 / 10.0,
            wait_ms: args.wait_s * 1000,
            depth_refill_half_life_ms: args.depth_refill_half_life_ms,
            ..OptionsCrashSpec::default()
        };
        let accounts = generate_accounts(&book, spec.accounts, seed).context("generating option accounts")?;
        let mut row = Vec::with_capacity(strategies.len());
        for &(name, s) in &strategies {
            row.push(run_crash(&book, &accounts, &spec, s).with_context(|| format!("seed {seed}, strategy {name}"))?);
        }
        runs.push(row);
    }
    let refill = match args.depth_refill_half_life_ms {
        Some(h) => format!("depth refills with half-life {h} ms between new lows"),
        None => "depth stays thinned by the deepest drawdown".to_string(),
    };
    let header = format!(
        "options crash: {} accounts, {} seed(s) from {}, fall {} %, vols × (1 + {} × fall), wait ≤ {} s, {refill}",
        args.accounts,
        args.seeds,
        args.seed,
        args.drop_pct,
        args.vol_beta_tenths as f64 / 10.0,
        args.wait_s
    );
    if args.seeds == 1 {
        let results = &runs[0];
        if args.json {
            let doc: Vec<_> = strategies.iter().zip(results).map(|((n, _), o)| json!({"strategy": n, "outcome": o})).collect();
            println!("{}", serde_json::to_string_pretty(&json!({"accounts": args.accounts, "seed": args.seed, "drop_pct": args.drop_pct, "depth_refill_half_life_ms": args.depth_refill_half_life_ms, "strategies": doc}))?);
            return Ok(());
        }
        println!("{header}");
        print!("{}", outcome_table(&strategy_rows(&strategies, results)));
        return Ok(());
    }
    // Several crashes: per strategy mean and 95 % interval; paired differences against close-first.
    let metrics: [Metric; 3] = [
        ("liquidation_cost", |o| o.liquidation_cost as f64 / 1e6, true),
        ("loss_to_others", |o| o.loss_to_others as f64 / 1e6, true),
        ("equity_kept", |o| o.equity_kept as f64 / 1e6, false),
    ];
    let mut summary = serde_json::Map::new();
    for (i, (name, _)) in strategies.iter().enumerate() {
        let mut m = serde_json::Map::new();
        for (metric, get, lower_is_better) in metrics {
            let xs: Vec<f64> = runs.iter().map(|r| get(&r[i])).collect();
            let mut entry = json!({"mean": mean(&xs), "ci95": ci95(&xs)});
            if i > 0 {
                let diffs: Vec<f64> = runs.iter().map(|r| get(&r[i]) - get(&r[0])).collect();
                let wins = diffs.iter().map(|&d| if d == 0.0 { 0.5 } else if (d < 0.0) == lower_is_better { 1.0 } else { 0.0 }).sum::<f64>();
                entry["vs_close_first"] = json!({"mean": mean(&diffs), "ci95": ci95(&diffs), "win_rate": wins / diffs.len() as f64});
            }
            m.insert(metric.to_string(), entry);
        }
        let hedged: Vec<f64> = runs.iter().map(|r| r[i].hedged_first as f64).collect();
        let liquidated: Vec<f64> = runs.iter().map(|r| r[i].liquidated as f64).collect();
        m.insert("hedged_first".into(), json!({"mean": mean(&hedged), "of_liquidated": mean(&liquidated)}));
        summary.insert(name.to_string(), serde_json::Value::Object(m));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"accounts": args.accounts, "first_seed": args.seed, "seeds": args.seeds, "drop_pct": args.drop_pct, "depth_refill_half_life_ms": args.depth_refill_half_life_ms, "strategies": summary}))?);
        return Ok(());
    }
    println!("{header}");
    println!("mean [95 % interval] over the crashes, quote currency; Δ = paired difference against close-first (win rate)");
    for (name, _) in &strategies {
        println!("{name}:");
        for (metric, _, _) in metrics {
            let e = &summary[*name][metric];
            let ci = |v: &serde_json::Value| format!("{:.0} [{:.0}, {:.0}]", v["mean"].as_f64().unwrap_or(0.0), v["ci95"][0].as_f64().unwrap_or(0.0), v["ci95"][1].as_f64().unwrap_or(0.0));
            let delta = e.get("vs_close_first").map(|d| format!("   Δ {} ({:.0} %)", ci(d), d["win_rate"].as_f64().unwrap_or(0.0) * 100.0)).unwrap_or_default();
            println!("  {metric:<17} {}{delta}", ci(e));
        }
        let h = &summary[*name]["hedged_first"];
        println!("  {:<17} {:.1} of {:.1} liquidated accounts (mean per crash)", "hedged_first", h["mean"].as_f64().unwrap_or(0.0), h["of_liquidated"].as_f64().unwrap_or(0.0));
    }
    Ok(())
}
