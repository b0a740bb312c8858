//! A leveraged account book built around the prices of real recordings
//! (`gavel gen accounts`).
//!
//! 1. Every capture is replayed through the venue parser and book sync
//!    ([`gavel_feeds::replay::TopReplay`], [`super::ranges`]); per symbol the mirrored mid price (best bid + best ask,
//!    halved and rounded down to the tick) gives the first mid, the lowest and
//!    the highest mid.
//! 2. `instruments.toml` gets one linear instrument per symbol with the tick
//!    and lot sizes of the venue ([`gavel_feeds::replay::resolve_spec`]) and a small-cap bracket
//!    schedule ([`SMALL_CAP_BRACKETS`]).
//! 3. Each account gets a position in one symbol. About `target` per mille
//!    of them are given a liquidation price inside the observed range, the
//!    others one outside it; collateral is solved from the target price with
//!    the risk engine's maintenance function, so the trigger lands on it.
//! 4. The written files are loaded back with the risk loaders and every
//!    position's trigger is computed by [`position_trigger`]; the count of
//!    positions the observed path crosses is printed (and tested).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context};
use gavel_engine::risk::account::MarginMode;
use gavel_engine::risk::decimal::div_ceil;
use gavel_engine::risk::instrument::{quote_unit, Instrument, InstrumentSet, RATE_SCALE};
use gavel_engine::risk::margin::position_trigger;
use gavel_engine::risk::Trigger;
use gavel_engine::risk::{loader, RiskBook};
use gavel_feeds::rng::SplitMix64;
use std::path::PathBuf;

use super::accounts::{format_units, write_book_files, BookRow, LEVERAGE_BUCKETS};
use super::ranges::recorded_ranges;
pub use super::ranges::PriceRange;
use crate::scenario::ScenarioManifest;

/// Parameters of an account book around recorded prices (`gavel gen accounts`).
#[derive(Debug, Clone)]
pub struct AccountsSpec {
    /// Recording(s) to take the prices from: gavel capture, hftbacktest or cryptofeed lines (.gz ok).
    pub captures: Vec<PathBuf>,
    /// File(s) of REST depth snapshots in a recording format (e.g. cryptofeed `BINANCE_FUTURES.http.0.0`).
    pub snapshot: Vec<PathBuf>,
    /// Binance exchangeInfo (raw JSON or a cryptofeed REST line) for tick and lot sizes.
    pub venue_info: Option<PathBuf>,
    /// Venue of the text recordings (default: detected from URLs and messages).
    pub venue: Option<String>,
    /// Folder to write the scenario into (created if missing).
    pub out: PathBuf,
    /// Generator seed; the same seed and inputs give byte-identical files.
    pub seed: u64,
    /// Number of accounts (≥ 1), spread evenly over the symbols found.
    pub accounts: usize,
    /// Share of accounts whose liquidation price lies inside the observed price range, percent.
    pub target_liquidated_pct: f64,
    /// Share of accounts that are long, percent.
    pub long_pct: u64,
}

/// One generated account: one position in one instrument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedAccount {
    /// Account name.
    pub name: String,
    /// Instrument symbol.
    pub symbol: String,
    /// Collateral, quote units (10^-6).
    pub collateral: i128,
    /// Isolated or cross margin.
    pub isolated: bool,
    /// Signed size, lots.
    pub size_lots: i64,
    /// Entry price, ticks.
    pub entry_ticks: i64,
    /// The liquidation price aimed at, ticks.
    pub target_liq_ticks: i64,
    /// Whether the target lies inside the observed range.
    pub aimed_inside: bool,
}

/// The verified outcome for one symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolCheck {
    /// Instrument symbol.
    pub symbol: String,
    /// Accounts holding it.
    pub accounts: usize,
    /// Accounts aimed inside the range.
    pub aimed_inside: usize,
    /// Accounts whose trigger the observed [min, max] crosses.
    pub liquidatable_in_range: usize,
    /// Accounts already liquidatable at the first mid.
    pub liquidatable_at_start: usize,
    /// Highest leverage (entry notional ÷ collateral), rounded down.
    pub max_leverage: i128,
}

/// Maintenance brackets written for every symbol: `(cap, rate, cum, max leverage)`.
///
/// Shape of Binance USDⓈ-M's leverage & margin tables for small-cap
/// perpetuals (50× top tier, 1 % first maintenance rate, caps 5k/25k/100k/
/// 250k/1M/5M USDT), as published for many altcoins in 2021–2022; it is a
/// representative schedule, not the exact table of each symbol on the day of
/// the recording. The amounts satisfy the continuity rule of
/// `docs/INSTRUMENTS.md`.
pub const SMALL_CAP_BRACKETS: [(&str, &str, &str, u32); 7] = [
    ("5000", "0.01", "0", 50),
    ("25000", "0.025", "75", 20),
    ("100000", "0.05", "700", 10),
    ("250000", "0.1", "5700", 5),
    ("1000000", "0.125", "11950", 4),
    ("5000000", "0.25", "136950", 2),
    ("inf", "0.5", "1386950", 1),
];
/// Writes the scenario folder and returns the observed ranges and the verification, per symbol.
pub fn write_accounts_scenario(args: &AccountsSpec) -> anyhow::Result<(Vec<PriceRange>, Vec<SymbolCheck>)> {
    anyhow::ensure!(
        (0.0..=100.0).contains(&args.target_liquidated_pct),
        "--target-liquidated-pct must be between 0 and 100, got {}",
        args.target_liquidated_pct
    );
    anyhow::ensure!(
        args.long_pct <= 100,
        "--long-pct must be at most 100, got {}",
        args.long_pct
    );
    anyhow::ensure!(args.accounts > 0, "--accounts must be at least 1");
    let ranges = recorded_ranges(
        &args.captures,
        &args.snapshot,
        args.venue_info.as_deref(),
        args.venue.as_deref(),
    )?;
    anyhow::ensure!(
        !ranges.is_empty(),
        "no linear-perpetual symbol with a synced book found in the captures"
    );
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let instruments_text = instruments_toml(&ranges);
    let instruments = InstrumentSet::parse(&instruments_text, "instruments.toml")
        .map_err(|e| anyhow!("{e} (tick × lot × 10^6 must be whole: pass --venue-info for the venue's real grids)"))?;
    gavel_feeds::atomic_file::write_atomic(args.out.join("instruments.toml"), &instruments_text).context("writing instruments.toml")?;
    let plan = plan_accounts(&ranges, &instruments, args)?;
    write_plan(&plan, &instruments, &args.out)?;
    let mut captures = Vec::new();
    for c in &args.captures {
        captures.push(absolute(c)?);
    }
    let mut snapshots = Vec::new();
    for s in &args.snapshot {
        snapshots.push(absolute(s)?);
    }
    let manifest = ScenarioManifest {
        name: format!("accounts-seed-{}", args.seed),
        instruments: "instruments.toml".into(),
        accounts: "accounts.csv".into(),
        positions: "positions.csv".into(),
        captures,
        snapshots,
        venue_info: args.venue_info.as_deref().map(absolute).transpose()?,
        orders: None,
        implied_vol: None,
        world: None,
        calibration: None,
    };
    gavel_feeds::atomic_file::write_atomic(args.out.join("scenario.toml"), toml::to_string(&manifest)?).context("writing scenario.toml")?;
    let mut checks = verify_book(
        &args.out.join("instruments.toml"),
        &args.out.join("accounts.csv"),
        &args.out.join("positions.csv"),
        &ranges,
    )?;
    for c in &mut checks {
        c.aimed_inside = plan.iter().filter(|a| a.symbol == c.symbol && a.aimed_inside).count();
    }
    Ok((ranges, checks))
}

fn absolute(path: &Path) -> anyhow::Result<String> {
    let abs = std::fs::canonicalize(path).with_context(|| format!("resolving {}", path.display()))?;
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("{} is not UTF-8", abs.display()))
}

// ---------------------------------------------------------------- instruments

/// `instruments.toml` for the observed symbols.
pub fn instruments_toml(ranges: &[PriceRange]) -> String {
    let mut out = String::from(
        "# Generated by `gavel gen accounts`; format: docs/INSTRUMENTS.md.\n\
         # Tick and lot sizes: the venue's (exchangeInfo when given, else the recording's decimals).\n\
         # Brackets: the shape of Binance USD-M leverage & margin tables for small-cap perpetuals\n\
         # (50x top tier, 1 % first maintenance rate; as published for many altcoins in 2021-2022).\n\
         # A representative schedule, not the exact table of each symbol on the recording's date.\n",
    );
    for r in ranges {
        let venues: Vec<String> = r.venues.iter().map(|v| format!("\"{v}\" = \"{}\"", r.symbol)).collect();
        let _ = write!(
            out,
            "\n[[instrument]]\nsymbol = \"{}\"\nkind = \"linear\"\ntick_size = \"{}\"\nlot_size = \"{}\"\nmin_size = \"{}\"\nvenues = {{ {} }}\nbrackets = [\n",
            r.symbol,
            r.tick_size,
            r.lot_size,
            r.lot_size,
            venues.join(", ")
        );
        for (cap, rate, cum, lev) in SMALL_CAP_BRACKETS {
            let _ = writeln!(
                out,
                "  {{ notional_cap = \"{cap}\", maintenance_rate = \"{rate}\", maintenance_amount = \"{cum}\", max_leverage = {lev} }},"
            );
        }
        out.push_str("]\n");
    }
    out
}

// ---------------------------------------------------------------- the book

/// Draws the accounts: account `i` trades symbol `i mod symbols`.
pub fn plan_accounts(
    ranges: &[PriceRange],
    instruments: &InstrumentSet,
    args: &AccountsSpec,
) -> anyhow::Result<Vec<PlannedAccount>> {
    let mut rng = SplitMix64::new(args.seed ^ 0x9e4a_cc07);
    // Symbols whose price never left the first mid by two ticks cannot hold an
    // account liquidated inside the range: the others take their share.
    let roomy = |r: &PriceRange| r.first_mid - r.min_mid >= 2 || r.max_mid - r.first_mid >= 2;
    let in_roomy = (0..args.accounts).filter(|i| roomy(&ranges[i % ranges.len()])).count();
    let wanted = args.target_liquidated_pct / 100.0 * args.accounts as f64;
    let target_per_mille = if in_roomy == 0 {
        0
    } else {
        ((wanted / in_roomy as f64 * 1000.0).round() as u64).min(1000)
    };
    if in_roomy < args.accounts {
        for r in ranges.iter().filter(|r| !roomy(r)) {
            eprintln!(
                "gen accounts: {}: the mid stayed within a tick of its first value; its accounts all liquidate outside the range, the other symbols take their share",
                r.symbol
            );
        }
    }
    let mut out = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let r = &ranges[i % ranges.len()];
        let id = instruments
            .id(&r.symbol)
            .ok_or_else(|| anyhow!("{} missing from instruments", r.symbol))?;
        let ins = instruments.get(id);
        out.push(plan_one(&mut rng, i, r, ins, target_per_mille, args.long_pct * 10));
    }
    Ok(out)
}

/// One account; see the module docs and docs/SIMULATION.md for the rules.
fn plan_one(
    rng: &mut SplitMix64,
    index: usize,
    r: &PriceRange,
    ins: &Instrument,
    target_per_mille: u64,
    long_per_mille: u64,
) -> PlannedAccount {
    let (first, lo, hi) = (r.first_mid, r.min_mid, r.max_mid);
    let inside = rng.below(1000) < target_per_mille;
    let mut long = rng.below(1000) < long_per_mille;
    let isolated = rng.below(1000) < 200;
    // Notional log-uniform over 200 … 20,000 quote: 200 × 10^(k/1000), k < 2000.
    let k = rng.below(2000) as i64;
    let mut notional_quote: i128 = 200;
    for _ in 0..k / 1000 {
        notional_quote *= 10;
    }
    notional_quote = notional_quote * (1000 + (k % 1000) as i128 * 9) / 1000;
    let spread = (first / 2000).max(1); // entries within ±0.05 % of the first mid
    let entry0 = (first + rng.range_i64(-spread, spread)).max(1);
    let unit = i128::from(entry0) * ins.quote_per_tick_lot;
    let lots = ((notional_quote * 1_000_000) / unit).max(i128::from(ins.min_size_lots.max(1))) as i64;
    let lever_draw = rng.below(1000);
    let lever_pick = rng.below(1_000_000);
    let shift_pick = rng.below(1_000_000);
    let liq_pick = rng.below(1_000_000);
    let gap = (first / 1000).max(1); // out-of-range targets keep 0.1 % away from the range
    let can_long = first - lo >= 2;
    let can_short = hi - first >= 2;
    let inside = inside && (can_long || can_short);
    if inside && !(if long { can_long } else { can_short }) {
        long = !long;
    }
    let size = if long { lots } else { -lots };
    let m = ins.quote_per_tick_lot;
    let q = i128::from(lots);
    let maintenance_at = |price: i64| ins.maintenance(ins.notional(size, price));
    // Collateral that puts the root of `equity = maintenance` at `liq` for an entry at `entry`.
    let collateral_for = |entry: i64, liq: i64| -> i128 {
        let upnl_at_liq = if long {
            q * m * i128::from(liq - entry)
        } else {
            q * m * i128::from(entry - liq)
        };
        maintenance_at(liq) - upnl_at_liq
    };
    let max_lev_at = |entry: i64| i128::from(ins.bracket_for(ins.notional(size, entry)).max_leverage);
    let pick =
        |low: i64, high: i64, draw: u64| low + ((i128::from(high - low + 1) * i128::from(draw)) / 1_000_000) as i64;

    let (entry, liq, collateral) = if inside {
        let liq = if long {
            pick(lo + 1, first - 1, liq_pick)
        } else {
            pick(first + 1, hi - 1, liq_pick)
        };
        let mut entry = entry0;
        let mut collateral = collateral_for(entry, liq);
        let mut lmax = max_lev_at(entry);
        let ok_side = if long { entry > liq } else { entry < liq };
        // Too much leverage for the bracket: the position was opened earlier, further
        // away, at a leverage between half the bracket's maximum and the maximum. The
        // new entry may move the notional into a lower-leverage bracket: retry there.
        let mut tries = 0;
        while tries < 4 && (!ok_side || collateral <= 0 || ins.notional(size, entry) > collateral * lmax) {
            tries += 1;
            let low = (lmax + 1) / 2;
            let lev = (low + i128::from(shift_pick % (1 + (lmax - low) as u64))).max(2);
            let mm = maintenance_at(liq);
            let liq_value = q * m * i128::from(liq);
            entry = if long {
                div_ceil(lev * (liq_value - mm), q * m * (lev - 1))
            } else {
                (lev * (mm + liq_value)) / (q * m * (lev + 1))
            } as i64;
            collateral = collateral_for(entry, liq);
            if ins.notional(size, entry) <= collateral * max_lev_at(entry) {
                break;
            }
            lmax = max_lev_at(entry);
        }
        (entry, liq, collateral)
    } else {
        let lmax = max_lev_at(entry0) as u32;
        let (_, low, high) = LEVERAGE_BUCKETS
            .iter()
            .copied()
            .find(|b| lever_draw < b.0)
            .unwrap_or(LEVERAGE_BUCKETS[4]);
        let lev = (low + (lever_pick % u64::from(high - low + 1)) as u32).min(lmax).max(1);
        let notional = ins.notional(size, entry0);
        let mut collateral = div_ceil(notional, i128::from(lev));
        let trigger = gavel_engine::risk::margin::trigger(ins, size, notional, RATE_SCALE * collateral);
        let crossed = trigger.is_some_and(|t| t.crossed(lo) || t.crossed(hi));
        let mut liq = trigger.and_then(Trigger::price).unwrap_or(0);
        if crossed {
            liq = if long { (lo - gap).max(1) } else { hi + gap };
            collateral = collateral.max(collateral_for(entry0, liq));
        }
        (entry0, liq, collateral)
    };
    PlannedAccount {
        name: format!("acct{:06}", index + 1),
        symbol: r.symbol.clone(),
        collateral: collateral.max(1),
        isolated,
        size_lots: size,
        entry_ticks: entry.max(1),
        target_liq_ticks: liq,
        aimed_inside: inside,
    }
}

/// Writes `accounts.csv` and `positions.csv` (collateral with six decimals, the risk engine's money unit).
pub fn write_plan(plan: &[PlannedAccount], instruments: &InstrumentSet, dir: &Path) -> anyhow::Result<()> {
    let mut rows = Vec::with_capacity(plan.len());
    for a in plan {
        let id = instruments.id(&a.symbol).ok_or_else(|| anyhow!("unknown {}", a.symbol))?;
        let ins = instruments.get(id);
        rows.push(BookRow {
            name: &a.name,
            collateral: format_units(i64::try_from(a.collateral)?, quote_unit()),
            isolated: a.isolated,
            symbol: &a.symbol,
            size: format_units(a.size_lots, ins.lot_size),
            entry_price: format_units(a.entry_ticks, ins.tick_size),
        });
    }
    write_book_files(rows, dir)
}

// ---------------------------------------------------------------- verification

/// Loads the written files with the risk loaders and counts, per symbol, the
/// positions whose trigger ([`position_trigger`]) the observed range crosses.
pub fn verify_book(
    instruments_path: &Path,
    accounts: &Path,
    positions: &Path,
    ranges: &[PriceRange],
) -> anyhow::Result<Vec<SymbolCheck>> {
    let instruments = InstrumentSet::load(instruments_path).map_err(|e| anyhow!("{e}"))?;
    let mut book = RiskBook::new(instruments);
    let name = accounts.display().to_string();
    loader::load_accounts(
        &mut book,
        &loader::read_file(accounts).map_err(|e| anyhow!("{e}"))?,
        &name,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let name = positions.display().to_string();
    loader::load_positions(
        &mut book,
        &loader::read_file(positions).map_err(|e| anyhow!("{e}"))?,
        &name,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut checks = Vec::new();
    for r in ranges {
        let id = book
            .instruments()
            .id(&r.symbol)
            .ok_or_else(|| anyhow!("{} not in instruments", r.symbol))?;
        // The range's prices are ticks of the venue grid, which is the instrument's.
        let (first, lo, hi) = (r.first_mid, r.min_mid, r.max_mid);
        let mut check = SymbolCheck {
            symbol: r.symbol.clone(),
            accounts: 0,
            aimed_inside: 0,
            liquidatable_in_range: 0,
            liquidatable_at_start: 0,
            max_leverage: 0,
        };
        for account in book.accounts() {
            for (index, p) in account.positions.iter().enumerate() {
                if p.instrument != id || p.size == 0 {
                    continue;
                }
                check.accounts += 1;
                let collateral = match account.mode {
                    MarginMode::Isolated => p.isolated_margin,
                    MarginMode::Cross => account.wallet,
                };
                if collateral > 0 {
                    check.max_leverage = check.max_leverage.max(p.entry_notional.abs() / collateral);
                }
                let Some(t) = position_trigger(book.instruments(), book.marks(), account, index) else {
                    continue;
                };
                if t.crossed(lo) || t.crossed(hi) {
                    check.liquidatable_in_range += 1;
                }
                if t.crossed(first) {
                    check.liquidatable_at_start += 1;
                }
            }
        }
        checks.push(check);
    }
    Ok(checks)
}

#[cfg(test)]
mod tests;
