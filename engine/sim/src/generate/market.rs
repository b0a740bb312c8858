//! Synthetic crash markets: a price path that falls hard while liquidity dries
//! up, written as real venue messages (Binance USD-M, Bybit v5, Binance spot JSON) into
//! gavel capture files, so a generated scenario runs through exactly the same
//! parsers, book sync and engine as a real recording.
//!
//! The path is integer ticks throughout (no transcendental floats), so a seed
//! gives byte-identical captures on every machine.
//!
//! Phases over the run: calm (first 30 %), crash (next 30 %: the mid falls by
//! `drop_per_mille` with wider noise and rare flash-crash gaps of 1.5–3 %
//! that revert within about a second), aftermath (last 40 %: a partial
//! rebound of a quarter of the drop). Book depth per level scales with
//! `max(10 %, 100 % − 3 × drawdown)` and the spread widens with the drawdown:
//! the deeper the fall, the thinner the book (a liquidity drought).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use gavel_feeds::capture::CaptureWriter;
use gavel_feeds::decimal::{Decimal, Grid};
use gavel_feeds::rng::SplitMix64;
use gavel_feeds::wire::Venue;

/// Parameters of a crash market.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashSpec {
    /// Generator seed.
    pub seed: u64,
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// Starting mid price in ticks.
    pub start_price_ticks: i64,
    /// Tick size (e.g. `0.1`); sets how prices are printed.
    pub tick_size: Decimal,
    /// Lot size (e.g. `0.001`); sets how quantities are printed.
    pub lot_size: Decimal,
    /// Total fall during the crash phase, per mille of the start price.
    pub drop_per_mille: i64,
    /// Run length in seconds of event time.
    pub duration_s: i64,
    /// Time between book updates, ms.
    pub step_ms: i64,
    /// Levels per side kept in each venue book.
    pub levels: usize,
    /// Event time of the first message, ns since the Unix epoch.
    pub start_ns: i64,
    /// Calm-market parameters fitted on real captures (`None`: the built-in assumptions).
    pub fit: Option<super::fit::MarketFit>,
}

impl Default for CrashSpec {
    fn default() -> Self {
        CrashSpec {
            seed: 1,
            symbol: "BTCUSDT".into(),
            start_price_ticks: 600_000, // 60,000.0 at tick 0.1
            tick_size: Decimal { mantissa: 1, scale: 1 },
            lot_size: Decimal { mantissa: 1, scale: 3 },
            drop_per_mille: 150,
            duration_s: 300,
            step_ms: 100,
            levels: 50,
            start_ns: 1_735_689_600_000_000_000, // 2025-01-01T00:00:00Z
            fit: None,
        }
    }
}

/// Which message dialect a synthetic venue speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Binance USD-M futures combined stream + REST depth snapshot.
    BinanceUsdm,
    /// Bybit v5 public linear stream.
    BybitV5,
    /// Binance spot combined stream + REST depth snapshot (no mark price stream).
    BinanceSpot,
    /// Binance COIN-M futures: the USD-M messages for the inverse `BTCUSD_PERP`, with
    /// quantities in contracts of 100 USD (each level's lots × price, rounded, at least one).
    BinanceCoinm,
}

impl Dialect {
    /// The venue byte written into capture records.
    pub fn venue(self) -> Venue {
        match self {
            Dialect::BinanceUsdm => Venue::BinanceUsdm,
            Dialect::BybitV5 => Venue::Bybit,
            Dialect::BinanceSpot => Venue::BinanceSpot,
            Dialect::BinanceCoinm => Venue::BinanceCoinm,
        }
    }

    /// The symbol this dialect's venue lists the crash market under.
    pub fn symbol(self, spec: &CrashSpec) -> String {
        match self {
            Dialect::BinanceCoinm => COINM_SYMBOL.to_string(),
            _ => spec.symbol.clone(),
        }
    }

    /// File name of this dialect's capture in a scenario folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Dialect::BinanceUsdm => "binance-usdm.cap",
            Dialect::BybitV5 => "bybit.cap",
            Dialect::BinanceSpot => "binance-spot.cap",
            Dialect::BinanceCoinm => "binance-coinm.cap",
        }
    }
}

/// Binance COIN-M's symbol of the BTCUSD perpetual ([`Dialect::BinanceCoinm`]).
pub const COINM_SYMBOL: &str = "BTCUSD_PERP";

/// USD value of one COIN-M contract.
const COINM_CONTRACT_USD: i128 = 100;

/// One point of the generated mid-price path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathPoint {
    /// Event time, ns.
    pub time_ns: i64,
    /// Mid price, ticks.
    pub mid_ticks: i64,
    /// Depth scale in per mille of calm depth.
    pub depth_per_mille: i64,
}

/// The mid-price path of a crash, one point per step.
pub fn crash_path(spec: &CrashSpec) -> Vec<PathPoint> {
    let mut rng = SplitMix64::new(spec.seed ^ 0x5eed_c4a5);
    let steps = (spec.duration_s * 1000 / spec.step_ms.max(1)).max(10);
    let calm_end = steps * 3 / 10;
    let crash_end = steps * 6 / 10;
    let start = spec.start_price_ticks;
    let total_drop = start * spec.drop_per_mille / 1000;
    let rebound = total_drop / 4;
    let calm_noise = match &spec.fit {
        // The fitted half-width is the calm phase's, which doubles this base.
        Some(fit) => (i128::from(start) * i128::from(fit.noise_bp_e3) / 20_000_000).max(1) as i64,
        None => (start / 60_000).max(1), // ~0.17 bp per step
    };
    let mut mid = start;
    let mut low = start;
    let mut out = Vec::with_capacity(steps as usize);
    for step in 0..steps {
        let target = if step < calm_end {
            start
        } else if step < crash_end {
            start - total_drop * (step - calm_end + 1) / (crash_end - calm_end)
        } else {
            start - total_drop + rebound * (step - crash_end + 1) / (steps - crash_end)
        };
        let noise = if (calm_end..crash_end).contains(&step) { calm_noise * 6 } else { calm_noise * 2 };
        // Mean-revert a fifth of the way to the target each step, plus noise.
        mid += (target - mid) / 5 + rng.range_i64(-noise, noise);
        // Flash crashes: during the crash, about one step in 150 gaps down by
        // 1.5 %–3 % at once (the book has no time to follow), then reverts.
        if (calm_end..crash_end).contains(&step) && rng.below(150) == 0 {
            mid -= start * rng.range_i64(15, 30) / 1000;
        }
        mid = mid.max(start / 10);
        low = low.min(mid);
        let drawdown_per_mille = (start - low) * 1000 / start;
        let depth_per_mille = (1000 - 3 * drawdown_per_mille).max(100);
        out.push(PathPoint { time_ns: spec.start_ns + step * spec.step_ms * 1_000_000, mid_ticks: mid, depth_per_mille });
    }
    out
}

/// Writes one capture per dialect into `dir` and returns their paths.
pub fn write_crash_captures(spec: &CrashSpec, dir: &Path, dialects: &[Dialect]) -> io::Result<Vec<PathBuf>> {
    let path = crash_path(spec);
    let mut written = Vec::new();
    for (venue_index, &dialect) in dialects.iter().enumerate() {
        let file = dir.join(dialect.file_name());
        write_venue_capture(spec, dialect, venue_index as u64, &path, &file)?;
        written.push(file);
    }
    Ok(written)
}

/// Writes one synthetic venue's capture of `path` to `file`: the venue speaks
/// `dialect`; `venue_index` sets its basis, calm depth and random stream (as
/// in [`write_crash_captures`]). `spec` gives the seed, symbol, grids and levels.
pub fn write_venue_capture(spec: &CrashSpec, dialect: Dialect, venue_index: u64, path: &[PathPoint], file: &Path) -> io::Result<()> {
    let mut writer = CaptureWriter::create_atomic(file)?;
    let mut venue = SyntheticVenue::new(spec, dialect, venue_index)?;
    venue.write_all(path, &mut writer)?;
    writer.commit()
}

struct SyntheticVenue<'a> {
    spec: &'a CrashSpec,
    dialect: Dialect,
    rng: SplitMix64,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    update_id: u64,
    trade_id: u64,
    /// Per-venue basis in ticks, so the two venues disagree slightly.
    basis_ticks: i64,
    base_qty_lots: i64,
    /// Price and quantity grids, for printing values as the venue does.
    price: Grid,
    qty: Grid,
    /// True until the first diff after the snapshot, which must bracket the
    /// snapshot's update id (Binance: `U <= lastUpdateId <= u`).
    first_diff: bool,
    /// The symbol printed in messages ([`Dialect::symbol`]).
    symbol: String,
    json: String,
}

impl<'a> SyntheticVenue<'a> {
    fn new(spec: &'a CrashSpec, dialect: Dialect, venue_index: u64) -> io::Result<Self> {
        let grid = |step: Decimal| {
            Grid::from_decimal(step)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("decimal step {:?}: {e}", step.to_string())))
        };
        Ok(SyntheticVenue {
            price: grid(spec.tick_size)?,
            qty: grid(spec.lot_size)?,
            spec,
            dialect,
            rng: SplitMix64::new(spec.seed.wrapping_mul(31).wrapping_add(venue_index + 1)),
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            update_id: 1_000_000 * (venue_index + 1),
            trade_id: 0,
            basis_ticks: venue_index as i64 * 3 - 1,
            base_qty_lots: if venue_index == 0 { 120 } else { 80 },
            first_diff: true,
            symbol: dialect.symbol(spec),
            json: String::with_capacity(8192),
        })
    }

    fn desired_book(&mut self, point: &PathPoint) -> (BTreeMap<i64, i64>, BTreeMap<i64, i64>) {
        let mid = point.mid_ticks + self.basis_ticks;
        let mut bids = BTreeMap::new();
        let mut asks = BTreeMap::new();
        // Levels sit on a fixed grid (as on a venue), so a move of the mid only
        // adds and removes levels at the edges instead of re-pricing the ladder.
        let fit = self.spec.fit.as_ref();
        let grid = match fit {
            Some(f) => (i128::from(self.spec.start_price_ticks) * i128::from(f.level_grid_bp_e3) / 10_000_000).max(1) as i64,
            None => (self.spec.start_price_ticks / 120_000).max(1) * 5,
        };
        // The spread widens as depth dries up: up to three grid steps each side.
        let calm_half_spread = fit.map_or(1, |f| (i128::from(mid) * i128::from(f.half_spread_bp_e3) / 10_000_000).max(1) as i64);
        let half_spread = calm_half_spread + (1000 - point.depth_per_mille) * grid / 300;
        let top_bid = (mid - half_spread).div_euclid(grid) * grid;
        let top_ask = (mid + half_spread + grid - 1).div_euclid(grid) * grid;
        for i in 0..self.spec.levels as i64 {
            let base = match fit {
                Some(f) => {
                    let distance_bp_e3 = i128::from(half_spread + i * grid) * 10_000_000 / i128::from(mid.max(1));
                    let density = f.density_at(i64::try_from(distance_bp_e3).unwrap_or(i64::MAX));
                    super::fit::level_lots(density, grid, mid, self.spec.tick_size, self.spec.lot_size) * point.depth_per_mille / 1000
                }
                None => self.base_qty_lots * (4 + i) / 4 * point.depth_per_mille / 1000,
            };
            // A resting level usually keeps its quantity from one step to the next;
            // about one in five is refreshed (and so follows the drought's depth scale).
            let (bid_price, ask_price) = (top_bid - i * grid, top_ask + i * grid);
            let bid_qty = match self.bids.get(&bid_price) {
                Some(&qty) if self.rng.below(100) < 80 => qty,
                _ => (base * self.rng.range_i64(70, 130) / 100).max(1),
            };
            let ask_qty = match self.asks.get(&ask_price) {
                Some(&qty) if self.rng.below(100) < 80 => qty,
                _ => (base * self.rng.range_i64(70, 130) / 100).max(1),
            };
            bids.insert(bid_price, bid_qty);
            asks.insert(ask_price, ask_qty);
        }
        (bids, asks)
    }

    fn write_all<W: io::Write>(&mut self, path: &[PathPoint], out: &mut CaptureWriter<W>) -> io::Result<()> {
        let Some(first) = path.first() else { return Ok(()) };
        let (bids, asks) = self.desired_book(first);
        self.bids = bids;
        self.asks = asks;
        self.write_snapshot(first.time_ns, out)?;
        for (step, point) in path.iter().enumerate().skip(1) {
            let (bids, asks) = self.desired_book(point);
            let bid_changes = diff_levels(&self.bids, &bids);
            let ask_changes = diff_levels(&self.asks, &asks);
            self.bids = bids;
            self.asks = asks;
            let t = point.time_ns + self.rng.range_i64(0, 2_000_000);
            self.write_diff(t, &bid_changes, &ask_changes, out)?;
            let trades = self.rng.below(4);
            for k in 0..trades {
                self.write_trade(t + 1_000 * (k as i64 + 1), point, out)?;
            }
            if step as i64 % (1000 / self.spec.step_ms.max(1)).max(1) == 0 {
                self.write_mark(t + 5_000, point, out)?;
            }
        }
        Ok(())
    }

    fn push_levels(&mut self, levels: &[(i64, i64)]) {
        self.json.push('[');
        for (i, &(price, qty)) in levels.iter().enumerate() {
            if i > 0 {
                self.json.push(',');
            }
            self.json.push_str("[\"");
            self.price.format(price, self.price.decimals(), &mut self.json);
            self.json.push_str("\",\"");
            self.push_qty(qty, price);
            self.json.push_str("\"]");
        }
        self.json.push(']');
    }

    /// Prints `qty` lots at `price` as the venue does: in lots, or for COIN-M in whole
    /// contracts (0 stays 0: a removed level).
    fn push_qty(&mut self, qty: i64, price: i64) {
        if self.dialect != Dialect::BinanceCoinm {
            self.qty.format(qty, self.qty.decimals(), &mut self.json);
            return;
        }
        // USD × 10^(tick + lot places) = lots × lot step × price × tick step.
        let places = u32::from(self.price.decimals()) + u32::from(self.qty.decimals());
        let scale = gavel_feeds::decimal::pow10(places).unwrap_or(i128::MAX);
        let usd_scaled = i128::from(qty) * i128::from(self.qty.step()) * i128::from(price) * i128::from(self.price.step());
        let per_contract = COINM_CONTRACT_USD.saturating_mul(scale);
        let contracts = if qty == 0 { 0 } else { ((usd_scaled + per_contract / 2) / per_contract).max(1) };
        let _ = write!(self.json, "{contracts}");
    }

    fn write_snapshot<W: io::Write>(&mut self, t: i64, out: &mut CaptureWriter<W>) -> io::Result<()> {
        let bids: Vec<(i64, i64)> = self.bids.iter().rev().map(|(&p, &q)| (p, q)).collect();
        let asks: Vec<(i64, i64)> = self.asks.iter().map(|(&p, &q)| (p, q)).collect();
        let ms = t / 1_000_000;
        self.json.clear();
        let (channel, venue) = match self.dialect {
            Dialect::BinanceUsdm | Dialect::BinanceCoinm => {
                let _ = write!(self.json, "{{\"lastUpdateId\":{},\"E\":{ms},\"T\":{ms},\"bids\":", self.update_id);
                self.push_levels(&bids);
                self.json.push_str(",\"asks\":");
                self.push_levels(&asks);
                self.json.push('}');
                ("rest/depth".to_string(), self.dialect.venue())
            }
            Dialect::BinanceSpot => {
                let _ = write!(self.json, "{{\"lastUpdateId\":{},\"bids\":", self.update_id);
                self.push_levels(&bids);
                self.json.push_str(",\"asks\":");
                self.push_levels(&asks);
                self.json.push('}');
                ("rest/depth".to_string(), Venue::BinanceSpot)
            }
            Dialect::BybitV5 => {
                let topic = format!("orderbook.50.{}", self.spec.symbol);
                let _ = write!(
                    self.json,
                    "{{\"topic\":\"{topic}\",\"type\":\"snapshot\",\"ts\":{ms},\"data\":{{\"s\":\"{}\",\"b\":",
                    self.spec.symbol
                );
                self.push_levels(&bids);
                self.json.push_str(",\"a\":");
                self.push_levels(&asks);
                let _ = write!(self.json, ",\"u\":{},\"seq\":{}}},\"cts\":{ms}}}", self.update_id, self.update_id * 10);
                (topic, Venue::Bybit)
            }
        };
        out.append(t, venue, channel.as_bytes(), self.json.as_bytes())
    }

    fn write_diff<W: io::Write>(
        &mut self,
        t: i64,
        bid_changes: &[(i64, i64)],
        ask_changes: &[(i64, i64)],
        out: &mut CaptureWriter<W>,
    ) -> io::Result<()> {
        let ms = t / 1_000_000;
        // The first Binance diff after the snapshot starts at the snapshot's own id,
        // as on the venue, where the snapshot lands inside an update's range.
        // (Spot's rule, `U <= lastUpdateId + 1 <= u`, holds for the same ids.)
        let bracket = self.first_diff && matches!(self.dialect, Dialect::BinanceUsdm | Dialect::BinanceSpot | Dialect::BinanceCoinm);
        self.first_diff = false;
        let previous = if bracket { self.update_id - 1 } else { self.update_id };
        let changes = (bid_changes.len() + ask_changes.len()).max(2) as u64;
        let first = previous + 1;
        self.update_id = previous + changes;
        self.json.clear();
        let symbol = self.symbol.clone();
        let channel = match self.dialect {
            Dialect::BinanceUsdm | Dialect::BinanceCoinm => {
                let stream = format!("{}@depth@0ms", symbol.to_lowercase());
                let _ = write!(
                    self.json,
                    "{{\"stream\":\"{stream}\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{ms},\"T\":{ms},\"s\":\"{symbol}\",\"U\":{first},\"u\":{},\"pu\":{previous},\"b\":",
                    self.update_id
                );
                self.push_levels(bid_changes);
                self.json.push_str(",\"a\":");
                self.push_levels(ask_changes);
                self.json.push_str("}}");
                stream
            }
            Dialect::BinanceSpot => {
                // Spot diffs chain by `U == previous u + 1` and carry no `T` or `pu`.
                let stream = format!("{}@depth@100ms", symbol.to_lowercase());
                let _ = write!(
                    self.json,
                    "{{\"stream\":\"{stream}\",\"data\":{{\"e\":\"depthUpdate\",\"E\":{ms},\"s\":\"{symbol}\",\"U\":{first},\"u\":{},\"b\":",
                    self.update_id
                );
                self.push_levels(bid_changes);
                self.json.push_str(",\"a\":");
                self.push_levels(ask_changes);
                self.json.push_str("}}");
                stream
            }
            Dialect::BybitV5 => {
                let topic = format!("orderbook.50.{symbol}");
                // Bybit's delta `u` increases by exactly one per message.
                self.update_id = previous + 1;
                let _ = write!(
                    self.json,
                    "{{\"topic\":\"{topic}\",\"type\":\"delta\",\"ts\":{ms},\"data\":{{\"s\":\"{symbol}\",\"b\":"
                );
                self.push_levels(bid_changes);
                self.json.push_str(",\"a\":");
                self.push_levels(ask_changes);
                let _ = write!(self.json, ",\"u\":{},\"seq\":{}}},\"cts\":{ms}}}", self.update_id, self.update_id * 10);
                topic
            }
        };
        out.append(t, self.dialect.venue(), channel.as_bytes(), self.json.as_bytes())
    }

    fn write_trade<W: io::Write>(&mut self, t: i64, point: &PathPoint, out: &mut CaptureWriter<W>) -> io::Result<()> {
        let ms = t / 1_000_000;
        // Sellers dominate while the price is falling.
        let seller = self.rng.below(1000) < (500 + (1000 - point.depth_per_mille) / 2) as u64;
        let price = if seller {
            self.bids.keys().next_back().copied().unwrap_or(point.mid_ticks)
        } else {
            self.asks.keys().next().copied().unwrap_or(point.mid_ticks)
        };
        let qty = 1 + self.rng.below(200) as i64;
        self.trade_id += 1;
        self.json.clear();
        let symbol = self.symbol.clone();
        let channel = match self.dialect {
            Dialect::BinanceUsdm | Dialect::BinanceSpot | Dialect::BinanceCoinm => {
                let stream = format!("{}@trade", symbol.to_lowercase());
                let _ = write!(
                    self.json,
                    "{{\"stream\":\"{stream}\",\"data\":{{\"e\":\"trade\",\"E\":{ms},\"T\":{ms},\"s\":\"{symbol}\",\"t\":{},\"p\":\"",
                    self.trade_id
                );
                self.price.format(price, self.price.decimals(), &mut self.json);
                self.json.push_str("\",\"q\":\"");
                self.push_qty(qty, price);
                // `m`: the buyer is the maker, i.e. the aggressor sold.
                let _ = write!(self.json, "\",\"X\":\"MARKET\",\"m\":{seller}}}}}");
                stream
            }
            Dialect::BybitV5 => {
                let topic = format!("publicTrade.{symbol}");
                let side = if seller { "Sell" } else { "Buy" };
                let _ = write!(
                    self.json,
                    "{{\"topic\":\"{topic}\",\"type\":\"snapshot\",\"ts\":{ms},\"data\":[{{\"T\":{ms},\"s\":\"{symbol}\",\"S\":\"{side}\",\"v\":\""
                );
                self.qty.format(qty, self.qty.decimals(), &mut self.json);
                self.json.push_str("\",\"p\":\"");
                self.price.format(price, self.price.decimals(), &mut self.json);
                let _ = write!(self.json, "\",\"i\":\"{}\",\"BT\":false}}]}}", self.trade_id);
                topic
            }
        };
        out.append(t, self.dialect.venue(), channel.as_bytes(), self.json.as_bytes())
    }

    fn write_mark<W: io::Write>(&mut self, t: i64, point: &PathPoint, out: &mut CaptureWriter<W>) -> io::Result<()> {
        if self.dialect == Dialect::BinanceSpot {
            return Ok(()); // spot has no mark price
        }
        let ms = t / 1_000_000;
        let mark = point.mid_ticks + self.basis_ticks;
        self.json.clear();
        let symbol = self.symbol.clone();
        let channel = match self.dialect {
            Dialect::BinanceUsdm | Dialect::BinanceSpot | Dialect::BinanceCoinm => {
                let stream = format!("{}@markPrice@1s", symbol.to_lowercase());
                let _ = write!(
                    self.json,
                    "{{\"stream\":\"{stream}\",\"data\":{{\"e\":\"markPriceUpdate\",\"E\":{ms},\"s\":\"{symbol}\",\"p\":\""
                );
                self.price.format(mark, self.price.decimals(), &mut self.json);
                self.json.push_str("\",\"i\":\"");
                self.price.format(point.mid_ticks, self.price.decimals(), &mut self.json);
                let _ = write!(self.json, "\",\"P\":\"");
                self.price.format(mark, self.price.decimals(), &mut self.json);
                let _ = write!(self.json, "\",\"r\":\"0.00010000\",\"T\":{}}}}}", ms + 3_600_000);
                stream
            }
            Dialect::BybitV5 => {
                let topic = format!("tickers.{symbol}");
                let _ = write!(
                    self.json,
                    "{{\"topic\":\"{topic}\",\"type\":\"delta\",\"data\":{{\"symbol\":\"{symbol}\",\"markPrice\":\""
                );
                self.price.format(mark, self.price.decimals(), &mut self.json);
                self.json.push_str("\",\"indexPrice\":\"");
                self.price.format(point.mid_ticks, self.price.decimals(), &mut self.json);
                let _ = write!(self.json, "\",\"fundingRate\":\"0.0001\"}},\"cs\":{},\"ts\":{ms}}}", self.update_id);
                topic
            }
        };
        out.append(t, self.dialect.venue(), channel.as_bytes(), self.json.as_bytes())
    }
}

/// Levels whose quantity changed between two books: new quantity, or 0 where a level went away.
fn diff_levels(old: &BTreeMap<i64, i64>, new: &BTreeMap<i64, i64>) -> Vec<(i64, i64)> {
    let mut changes = Vec::new();
    for (&price, &qty) in old {
        if !new.contains_key(&price) {
            changes.push((price, 0));
        } else if new[&price] != qty {
            changes.push((price, new[&price]));
        }
    }
    for (&price, &qty) in new {
        if !old.contains_key(&price) {
            changes.push((price, qty));
        }
    }
    changes.sort_unstable();
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use gavel_feeds::capture::CaptureFile;

    #[test]
    fn the_path_crashes_by_the_requested_drop_and_thins_the_book() {
        let spec = CrashSpec { duration_s: 120, ..CrashSpec::default() };
        let path = crash_path(&spec);
        assert_eq!(path.len(), 1200);
        let start = spec.start_price_ticks;
        let low = path.iter().map(|p| p.mid_ticks).min().unwrap();
        let fall_per_mille = (start - low) * 1000 / start;
        assert!((130..=190).contains(&fall_per_mille), "fell {fall_per_mille}‰");
        assert_eq!(path[0].depth_per_mille, 1000);
        let thinnest = path.iter().map(|p| p.depth_per_mille).min().unwrap();
        assert!(thinnest <= 600, "depth only fell to {thinnest}‰");
        assert!(path.windows(2).all(|w| w[1].time_ns - w[0].time_ns == 100_000_000));
        assert_eq!(crash_path(&spec), path);
    }

    #[test]
    fn captures_are_deterministic_and_sequence_continuous() {
        let spec = CrashSpec { duration_s: 20, ..CrashSpec::default() };
        let dir_a = std::env::temp_dir().join(format!("gavel-crash-a-{}", std::process::id()));
        let dir_b = std::env::temp_dir().join(format!("gavel-crash-b-{}", std::process::id()));
        for dir in [&dir_a, &dir_b] {
            std::fs::create_dir_all(dir).unwrap();
            write_crash_captures(&spec, dir, &[Dialect::BinanceUsdm, Dialect::BybitV5]).unwrap();
        }
        for name in ["binance-usdm.cap", "bybit.cap"] {
            let a = std::fs::read(dir_a.join(name)).unwrap();
            let b = std::fs::read(dir_b.join(name)).unwrap();
            assert_eq!(a, b, "{name} differs between two runs with the same seed");
        }
        // Binance diffs: the first brackets the snapshot's lastUpdateId (U <= L <= u),
        // then each chains on the previous (pu == previous u).
        let file = CaptureFile::open(&dir_a.join("binance-usdm.cap")).unwrap();
        let mut last_u: Option<u64> = None;
        let mut snapshot_id: Option<u64> = None;
        let mut diffs = 0;
        let mut last_t = i64::MIN;
        for record in file.records() {
            let record = record.unwrap();
            assert!(record.receive_ns >= last_t, "records out of time order");
            last_t = record.receive_ns;
            let text = std::str::from_utf8(record.message).unwrap();
            let field = |key: &str| -> u64 {
                let start = text.find(key).unwrap() + key.len();
                text[start..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().unwrap()
            };
            if record.channel == b"rest/depth" {
                snapshot_id = Some(field("\"lastUpdateId\":"));
            } else if text.contains("depthUpdate") {
                if diffs == 0 {
                    let l = snapshot_id.unwrap();
                    assert!(field("\"U\":") <= l && l <= field("\"u\":"));
                } else {
                    assert_eq!(Some(field("\"pu\":")), last_u);
                }
                last_u = Some(field("\"u\":"));
                diffs += 1;
            }
        }
        assert_eq!(diffs, 199);
        std::fs::remove_dir_all(&dir_a).unwrap();
        std::fs::remove_dir_all(&dir_b).unwrap();
    }
}
