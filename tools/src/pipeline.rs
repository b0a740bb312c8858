//! The replay pipeline for one policy: one feed thread per capture parses and
//! syncs venue messages into its own shared-memory ring; the engine thread,
//! pinned, merges the rings by receive time and hands each event to the
//! simulated world, which drives the [`gavel_engine::engine::Engine`] through
//! its input events; every engine output goes through a journal ring to a
//! writer thread.
//!
//! Data flows one way: capture → feed handler → ring → world → engine → ring → journal.

use std::path::{Path, PathBuf};

use anyhow::Context;
use gavel_engine::engine::EnginePolicy;
use gavel_engine::engine_loop::{pin_current_thread, EngineLoop, EventHandler, Mode, PinOutcome};
use gavel_engine::latency::StageHistogram;
use gavel_engine::ring_source::RingSource;
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{loader, RiskBook};
use gavel_feeds::journal::{fingerprint, JournalWriter, HASH_START};
use gavel_feeds::wire::Event;
use gavel_sim::{Outcome, Series, World, WorldConfig};
use gavel_feeds::capture_feed::{capture_venues, replay_capture, FeedStats};
use gavel_feeds::clock::Clock;
use gavel_feeds::decimal::Grid;
use gavel_feeds::replay::venue_by_name;
use gavel_feeds::ring::{default_ring_path, Consumer, ConsumerConfig, EventProducer, ProducerConfig, WaitStrategy};
use gavel_feeds::venues::{InstrumentSpec, Instruments};
use gavel_feeds::wire::Venue;

/// Everything a replay reads.
#[derive(Clone, Debug)]
pub struct ReplayInputs {
    /// Instruments config (risk TOML).
    pub instruments: PathBuf,
    /// Accounts CSV.
    pub accounts: PathBuf,
    /// Positions CSV.
    pub positions: PathBuf,
    /// Client order flow (`orders.csv`), optional.
    pub orders: Option<PathBuf>,
    /// Implied-vol quotes (`implied_vol.csv`), optional.
    pub implied_vol: Option<PathBuf>,
    /// gavel capture files, one feed thread and ring each.
    pub captures: Vec<PathBuf>,
    /// Insurance fund at the start, quote units.
    pub fund_seed: i128,
    /// Feed simulated impact back into the mark.
    pub impact_feedback: bool,
    /// Core to pin the engine thread to.
    pub engine_core: usize,
    /// Pace the feed at the recorded speed × this factor (`None`: as fast as possible).
    pub speed: Option<f64>,
    /// Event time the feed threads have published up to (the slowest of them), for progress display.
    pub progress: Option<std::sync::Arc<Progress>>,
    /// The files the user named, in `captures` order (a converted recording's original path).
    pub sources: Vec<PathBuf>,
    /// The scenario's `[world]` settings (defaults without a scenario).
    pub world: gavel_sim::scenario::WorldSettings,
    /// Pre-emptive reduction on margin calls set on every policy run, per mille (0: the
    /// policy's own setting).
    pub preempt_per_mille: u32,
    /// Converted captures, removed when the last copy of the inputs is dropped
    /// (held only for that `Drop`).
    #[allow(dead_code)]
    pub temporary: std::sync::Arc<TempFiles>,
}

/// Files removed on drop.
#[derive(Debug, Default)]
pub struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Shared progress of the feed threads, in event time.
#[derive(Debug, Default)]
pub struct Progress {
    published_ns: Vec<std::sync::atomic::AtomicI64>,
}

impl Progress {
    /// Progress slots for `feeds` feed threads.
    pub fn new(feeds: usize) -> Self {
        Progress { published_ns: (0..feeds).map(|_| std::sync::atomic::AtomicI64::new(i64::MIN)).collect() }
    }

    /// The event time every feed has reached (the slowest feed's), if all have started.
    pub fn reached_ns(&self) -> Option<i64> {
        let slowest = self.published_ns.iter().map(|a| a.load(std::sync::atomic::Ordering::Relaxed)).min()?;
        (slowest != i64::MIN).then_some(slowest)
    }

    fn publish(&self, feed: usize, receive_ns: i64) {
        if let Some(slot) = self.published_ns.get(feed) {
            slot.store(receive_ns, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// What one policy's replay produced.
pub struct PolicyRun {
    /// Outcome metrics.
    pub outcome: Outcome,
    /// Series for the report.
    pub series: Series,
    /// Journal records (engine outputs) and their fingerprint.
    pub journal_records: u64,
    /// FNV-1a fingerprint of the journal records (equal runs, equal fingerprints).
    pub journal_hash: u64,
    /// Feed handler counters per capture and venue.
    pub feed_stats: Vec<(PathBuf, Venue, FeedStats)>,
    /// Latency stages in pipeline order.
    pub stages: Vec<StageHistogram>,
    /// Whether the engine thread was pinned.
    pub pin: PinOutcome,
    /// Events the engine loop handled.
    pub events: u64,
    /// The asset the run's money is counted in: the book's settlement asset (a coin such as
    /// "BTC" for inverse contracts), empty for the quote currency of linear ones.
    pub settlement_asset: String,
}

/// Loads the account book: instruments, accounts, positions.
pub fn load_book(inputs: &ReplayInputs) -> anyhow::Result<RiskBook> {
    let set = InstrumentSet::load(&inputs.instruments)?;
    let mut book = RiskBook::new(set);
    let accounts = loader::read_file(&inputs.accounts)?;
    loader::load_accounts(&mut book, &accounts, &inputs.accounts.display().to_string())?;
    let positions = loader::read_file(&inputs.positions)?;
    loader::load_positions(&mut book, &positions, &inputs.positions.display().to_string())?;
    Ok(book)
}

/// Hands every event the loop merges to the world as a captured event.
struct WorldHandler(World);

impl EventHandler for WorldHandler {
    fn on_book_level(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
    fn on_snapshot(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
    fn on_book_top(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
    fn on_trade(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
    fn on_mark_price(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
    fn on_liquidation_print(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
    fn on_gap(&mut self, event: &Event) {
        self.0.on_capture(event);
    }
}

/// The feed-side instrument table of `venue`: each risk instrument under that
/// venue's symbol (its `venues` entry, else gavel's symbol), ids = risk ids.
fn feed_instruments(set: &InstrumentSet, venue: Venue) -> anyhow::Result<Instruments> {
    let mut specs = Vec::with_capacity(set.len());
    for id in 0..set.len() {
        let ins = set.get(id as u16);
        let symbol = ins
            .venue_symbols
            .iter()
            .find(|(name, _)| venue_by_name(name) == Some(venue) || (name == "binance" && venue == Venue::BinanceUsdm))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| ins.symbol.clone());
        let price = Grid::from_decimal(ins.tick_size)
            .map_err(|e| anyhow::anyhow!("instrument {}: tick size {}: {e}", ins.symbol, ins.tick_size))?;
        let qty = Grid::from_decimal(ins.lot_size)
            .map_err(|e| anyhow::anyhow!("instrument {}: lot size {}: {e}", ins.symbol, ins.lot_size))?;
        specs.push(InstrumentSpec::new(&symbol, id as u32, price, qty));
    }
    Ok(Instruments::new(specs))
}

/// Runs one policy through the whole pipeline; the journal goes to `journal` if given.
pub fn run_policy(inputs: &ReplayInputs, policy: &EnginePolicy, clock: Clock, journal: Option<&Path>) -> anyhow::Result<PolicyRun> {
    let book = load_book(inputs)?;
    // The engine refuses a book of two assets; this only names the one for display.
    let settlement_asset = book.settlement_asset().ok().flatten().unwrap_or_default().to_string();
    let mut venues: Vec<Venue> = Vec::new();
    for capture in &inputs.captures {
        for venue in capture_venues(capture)? {
            if !venues.contains(&venue) {
                venues.push(venue);
            }
        }
    }
    anyhow::ensure!(!venues.is_empty(), "the captures hold no venue records");
    let mut tables = Vec::with_capacity(venues.len());
    for &venue in &venues {
        tables.push((venue, feed_instruments(book.instruments(), venue)?));
    }
    let mut world_config = WorldConfig { impact_feedback: inputs.impact_feedback, ..WorldConfig::default() };
    inputs.world.apply(&mut world_config);
    let world_settings = inputs.world.clone();
    let mut orders = match &inputs.orders {
        Some(path) => {
            let text = loader::read_file(path)?;
            gavel_sim::orders::parse_orders(&text, &path.display().to_string(), &book)?
        }
        None => Vec::new(),
    };
    if let Some(path) = &inputs.implied_vol {
        let text = loader::read_file(path)?;
        orders.extend(gavel_sim::implied_vol::parse_implied_vols(&text, &path.display().to_string(), book.instruments())?);
    }

    // Runs of one process (a study's parallel tasks) each get their own rings.
    static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tag = format!("{run}-{}", policy.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    let wait = WaitStrategy::SpinThenYield;
    let mut feeds = Vec::new();
    let mut sources = Vec::new();
    let mut ring_paths = Vec::new();
    for (i, capture) in inputs.captures.iter().enumerate() {
        let ring = default_ring_path(&format!("gavel-replay-{}-{tag}-{i}", std::process::id()));
        // A replay is throughput, not latency: a feed that is ahead of the engine sleeps
        // instead of spinning on the engine's core (the machine may have only two).
        let feed_wait = WaitStrategy::Sleep(std::time::Duration::from_micros(100));
        let mut producer = EventProducer::create(&ring, ProducerConfig::new(1 << 16).wait(feed_wait), clock)
            .with_context(|| format!("creating ring {}", ring.display()))?;
        let consumer = Consumer::open(&ring, ConsumerConfig::default().wait(wait))
            .with_context(|| format!("opening ring {}", ring.display()))?;
        sources.push(RingSource::new(consumer));
        ring_paths.push(ring);
        let capture = capture.clone();
        let tables = tables.clone();
        let speed = inputs.speed.filter(|s| *s > 0.0);
        let progress = inputs.progress.clone();
        feeds.push(std::thread::spawn(move || -> anyhow::Result<(Vec<(Venue, FeedStats)>, StageHistogram)> {
            let mut feed_to_ring = StageHistogram::new("feed_receive_to_ring");
            let mut failure: Option<anyhow::Error> = None;
            let lookup = |venue: Venue| tables.iter().find(|t| t.0 == venue).map(|t| t.1.clone()).unwrap_or_default();
            let wall_start = std::time::Instant::now();
            let mut first_ns: Option<i64> = None;
            let result = replay_capture(&capture, lookup, 100, &clock, &mut |event, started| {
                // Pacing sleeps on the feed thread only (never on the engine's).
                if let Some(speed) = speed {
                    let first = *first_ns.get_or_insert(event.receive_ns);
                    let due = std::time::Duration::from_secs_f64((event.receive_ns - first).max(0) as f64 / 1e9 / speed);
                    let elapsed = wall_start.elapsed();
                    if due > elapsed + std::time::Duration::from_millis(1) {
                        std::thread::sleep(due - elapsed);
                    }
                }
                if let Some(progress) = &progress {
                    progress.publish(i, event.receive_ns);
                }
                if failure.is_none() {
                    if let Err(err) = producer.push(event) {
                        failure = Some(err.into());
                    }
                    feed_to_ring.record_ns(clock.ns_since(started));
                }
            });
            if let Some(err) = failure {
                return Err(err.context(format!("publishing {}", capture.display())));
            }
            match result {
                Ok(stats) => Ok((stats, feed_to_ring)),
                Err((err, _)) => Err(anyhow::Error::new(err).context(format!("reading {}", capture.display()))),
            }
        }));
    }
    // The journal: engine outputs → ring → writer thread.
    let journal_ring = default_ring_path(&format!("gavel-journal-{}-{tag}", std::process::id()));
    let mut journal_producer = EventProducer::create(&journal_ring, ProducerConfig::new(1 << 16).wait(wait), clock)
        .with_context(|| format!("creating ring {}", journal_ring.display()))?;
    let writer_wait = WaitStrategy::Sleep(std::time::Duration::from_micros(200));
    let mut journal_consumer = Consumer::<Event>::open(&journal_ring, ConsumerConfig::default().wait(writer_wait))
        .with_context(|| format!("opening ring {}", journal_ring.display()))?;
    ring_paths.push(journal_ring);
    let journal_path = journal.map(Path::to_path_buf);
    let writer = std::thread::Builder::new()
        .name("gavel-journal".into())
        .spawn(move || -> anyhow::Result<(u64, u64)> {
            let mut file = match &journal_path {
                Some(path) => Some(JournalWriter::create(path).with_context(|| format!("creating journal {}", path.display()))?),
                None => None,
            };
            let (mut records, mut hash) = (0u64, HASH_START);
            loop {
                match journal_consumer.pop() {
                    Ok(event) => {
                        records += 1;
                        hash = fingerprint(hash, &event);
                        if let Some(f) = file.as_mut() {
                            f.append(&event).context("writing the journal")?;
                        }
                    }
                    Err(gavel_feeds::ring::RingError::Closed { .. }) => break,
                    Err(err) => return Err(anyhow::Error::new(err).context("reading the journal ring")),
                }
            }
            if let Some(f) = file {
                let (n, h) = f.finish().context("finishing the journal")?;
                debug_assert_eq!((n, h), (records, hash));
            }
            Ok((records, hash))
        })
        .context("spawning the journal writer")?;
    let core = inputs.engine_core;
    let mut policy = policy.clone();
    if inputs.preempt_per_mille > 0 {
        policy.preempt_per_mille = inputs.preempt_per_mille;
    }
    let fund_seed = inputs.fund_seed;
    let journal_failed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let journal_flag = journal_failed.clone();
    let engine = std::thread::Builder::new()
        .name("gavel-engine".into())
        .spawn(move || -> Result<_, String> {
            let pin = pin_current_thread(core);
            let sink = Box::new(move |event: &Event| {
                if journal_producer.push(*event).is_err() {
                    journal_flag.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            let name = policy.name.clone();
            let mut world = World::new(book, fund_seed, venues, policy, world_config, |c| world_settings.apply_engine(c), sink, clock)?;
            world.add_inputs(orders);
            let mut handler = WorldHandler(world);
            let mut engine = EngineLoop::new(sources, Mode::Replay, clock);
            let stop = engine.run(&mut handler, u64::MAX, || false);
            let (outcome, series, _) = handler.0.finish(&name);
            Ok((pin, stop, outcome, series, engine.latency().clone(), engine.stats().total))
        })
        .context("spawning the engine thread")?;
    let mut feed_stats = Vec::new();
    let mut feed_to_ring = StageHistogram::new("feed_receive_to_ring");
    let mut feed_error = None;
    for (handle, capture) in feeds.into_iter().zip(&inputs.captures) {
        match handle.join() {
            Ok(Ok((stats, hist))) => {
                feed_to_ring.merge(&hist);
                feed_stats.extend(stats.into_iter().map(|(v, s)| (capture.clone(), v, s)));
            }
            Ok(Err(err)) => feed_error = Some(err),
            Err(_) => feed_error = Some(anyhow::anyhow!("a feed thread panicked")),
        }
    }
    let engine_result = engine.join().map_err(|_| anyhow::anyhow!("the engine thread panicked"))?;
    let journal_result = writer.join().map_err(|_| anyhow::anyhow!("the journal writer panicked"))?;
    for path in &ring_paths {
        let _ = std::fs::remove_file(path);
    }
    if let Some(err) = feed_error {
        return Err(err);
    }
    let (pin, stop, outcome, series, loop_latency, events) = engine_result.map_err(|e| anyhow::anyhow!("building the engine: {e}"))?;
    stop.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (journal_records, journal_hash) = journal_result?;
    anyhow::ensure!(!journal_failed.load(std::sync::atomic::Ordering::Relaxed), "the journal ring refused a record");
    let ring_to_engine = rename(loop_latency.publish_to_receive.clone(), "ring_to_engine");
    let mut stages = vec![feed_to_ring, ring_to_engine];
    stages.extend(outcome.latency.iter().cloned());
    Ok(PolicyRun { outcome, series, journal_records, journal_hash, feed_stats, stages, pin, events, settlement_asset })
}

fn rename(stage: StageHistogram, name: &'static str) -> StageHistogram {
    let mut renamed = StageHistogram::new(name);
    renamed.merge(&stage);
    renamed
}

/// Resolves `--scenario DIR` or the individual file flags into replay inputs.
pub fn resolve_inputs(
    scenario: Option<&Path>,
    instruments: Option<&Path>,
    accounts: Option<&Path>,
    positions: Option<&Path>,
    captures: &[PathBuf],
) -> anyhow::Result<(String, ReplayInputs)> {
    let (name, instruments, accounts, positions, captures, snapshots, scenario_orders, implied_vol, world) = match scenario {
        Some(dir) => {
            let s = gavel_sim::scenario::Scenario::load(dir)?;
            (s.name, s.instruments, s.accounts, s.positions, s.captures, s.snapshots, s.orders, s.implied_vol, s.world)
        }
        None => {
            let need = |p: Option<&Path>, flag: &str| {
                p.map(Path::to_path_buf).ok_or_else(|| anyhow::anyhow!("{flag} is required without --scenario"))
            };
            anyhow::ensure!(!captures.is_empty(), "--capture is required without --scenario");
            (
                "replay".to_string(),
                need(instruments, "--instruments")?,
                need(accounts, "--accounts")?,
                need(positions, "--positions")?,
                captures.to_vec(),
                Vec::new(),
                None,
                None,
                Default::default(),
            )
        }
    };
    // Recordings in other formats are converted once into gavel captures
    // (with the scenario's snapshot files merged in by receive time).
    let mut converted = Vec::with_capacity(captures.len());
    let mut temporary = TempFiles::default();
    for (i, capture) in captures.iter().enumerate() {
        if crate::recording_capture::is_gavel_capture(capture) {
            converted.push(capture.clone());
            continue;
        }
        let out = std::env::temp_dir().join(format!("gavel-converted-{}-{i}.cap", std::process::id()));
        temporary.0.push(out.clone());
        crate::recording_capture::convert(capture, &snapshots, &out)
            .with_context(|| format!("converting {} into a gavel capture", capture.display()))?;
        converted.push(out);
    }
    let sources = captures;
    let captures = converted;
    Ok((
        name,
        ReplayInputs {
            instruments,
            accounts,
            positions,
            orders: scenario_orders,
            implied_vol,
            captures,
            fund_seed: world.insurance_fund.map_or(0, |f| i128::from(f) * gavel_engine::risk::instrument::QUOTE_SCALE),
            impact_feedback: true,
            engine_core: 1,
            speed: None,
            progress: None,
            sources,
            world,
            preempt_per_mille: 0,
            temporary: std::sync::Arc::new(temporary),
        },
    ))
}

/// The input flags shared by `gavel compare` and `gavel replay`.
#[derive(clap::Args, Debug, Clone)]
pub struct InputArgs {
    /// Scenario folder (holds scenario.toml); replaces the individual file flags.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Instruments config (risk TOML).
    #[arg(long)]
    pub instruments: Option<PathBuf>,
    /// Accounts CSV.
    #[arg(long)]
    pub accounts: Option<PathBuf>,
    /// Positions CSV.
    #[arg(long)]
    pub positions: Option<PathBuf>,
    /// Client order flow into the own book (`orders.csv`); replaces the scenario's.
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Capture file: gavel capture or a recording (repeat for several venues).
    #[arg(long = "capture", id = "capture_files")]
    pub captures: Vec<PathBuf>,
    /// Insurance fund at the start, in quote currency (decimal; default: the scenario's `world.insurance_fund`, else 0).
    #[arg(long)]
    pub fund: Option<String>,
    /// Turn off the feedback of simulated impact into the mark (exogenous losses only).
    #[arg(long)]
    pub no_feedback: bool,
    /// Clients answer margin calls: `SHARE,REDUCE,DELAY_MS` — SHARE % of the called accounts
    /// send, DELAY_MS after the call, a reduce-only market order for REDUCE % of the position
    /// (replaces the scenario's `world.call_response`).
    #[arg(long, value_name = "SHARE,REDUCE,DELAY_MS")]
    pub call_response: Option<String>,
    /// The engine acts on its margin calls: every policy run closes this percentage of a
    /// called position pre-emptively (own book and routes, no penalty, never past the
    /// liquidation price; docs/POLICIES.md). Not for venue rule sets.
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub preempt_pct: Option<u32>,
    /// Core to pin the engine thread to.
    #[arg(long, default_value_t = 1)]
    pub core: usize,
}

impl InputArgs {
    /// Resolves the flags (plus `more_captures`) into replay inputs and the scenario's name.
    pub fn resolve(&self, more_captures: &[PathBuf]) -> anyhow::Result<(String, ReplayInputs)> {
        let mut captures = self.captures.clone();
        captures.extend(more_captures.iter().cloned());
        let (name, mut inputs) = resolve_inputs(
            self.scenario.as_deref(),
            self.instruments.as_deref(),
            self.accounts.as_deref(),
            self.positions.as_deref(),
            &captures,
        )?;
        if self.orders.is_some() {
            inputs.orders = self.orders.clone();
        }
        if let Some(fund) = &self.fund {
            inputs.fund_seed = parse_quote(fund)?;
        }
        inputs.impact_feedback = !self.no_feedback;
        inputs.engine_core = self.core;
        inputs.preempt_per_mille = self.preempt_pct.map_or(0, |p| p * 10);
        if let Some(text) = &self.call_response {
            let bad = || anyhow::anyhow!("--call-response {text:?}: expected SHARE,REDUCE,DELAY_MS (share 0..=100 %, reduce 1..=100 %, delay 0..=600000 ms)");
            let parts: Vec<u32> = text.split(',').map(|p| p.trim().parse().map_err(|_| bad())).collect::<anyhow::Result<_>>()?;
            let [share, reduce, delay] = parts[..] else { return Err(bad()) };
            inputs.world.call_response = Some([share, reduce, delay]);
            inputs.world.validate().map_err(|_| bad())?;
        }
        Ok((name, inputs))
    }
}

/// Parses a quote-currency decimal (e.g. `250000.5`) into quote units.
pub fn parse_quote(text: &str) -> anyhow::Result<i128> {
    use gavel_engine::risk::instrument::QUOTE_DECIMALS;
    let d = gavel_feeds::decimal::Decimal::parse(text).map_err(|e| anyhow::anyhow!("--fund {text:?}: {e}"))?;
    // At most 10^12 in quote currency: every amount the journal records fits its 64-bit word.
    const MAX_FUND_UNITS: i128 = 1_000_000_000_000 * gavel_engine::risk::instrument::QUOTE_SCALE;
    d.in_units_of(gavel_engine::risk::instrument::quote_unit())
        .filter(|v| (0..=MAX_FUND_UNITS).contains(v))
        .ok_or_else(|| anyhow::anyhow!("--fund {text:?} must be between 0 and 1000000000000 with at most {QUOTE_DECIMALS} decimals"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fund_is_range_checked() {
        assert_eq!(super::parse_quote("2.5").unwrap(), 2_500_000);
        assert!(super::parse_quote("1000000000000").is_ok());
        for bad in ["-1", "1000000000000.000001", "1e40", "nan", "0.0000001"] {
            let err = super::parse_quote(bad).unwrap_err().to_string();
            assert!(err.contains("--fund"), "{bad}: {err}");
        }
    }
}
