//! `gavel serve`: run the engine as a live venue that clients and liquidators
//! connect to over TCP (see docs/SERVE.md and docs/PROTOCOL.md).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gavel_engine::engine::EngineConfig;
use gavel_engine::risk::instrument::InstrumentSet;
use gavel_engine::risk::{loader, RiskBook};
use gavel_feeds::wire::Venue;
use gavel_gateway::auth::{role_name, KeyTable};
use gavel_gateway::protocol::role;
use gavel_gateway::GatewayConfig;
use serde::Deserialize;

use crate::serve::durability::DurabilityConfig;
use crate::serve::snapshots::SnapshotConfig;
use crate::serve::recovery::{self, Origin};
use crate::serve::{self, demo, feed, ServeSetup};

/// Arguments of `gavel serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Venue configuration (TOML: listen, instruments, accounts, keys, policy, limits, data dir, cores, mark source).
    #[arg(long, conflicts_with = "demo", required_unless_present = "demo")]
    pub config: Option<PathBuf>,
    /// Run the built-in demo venue (no files needed): keys are written to the data dir and printed.
    #[arg(long)]
    pub demo: bool,
    /// Listen address (overrides the config's).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Data directory (keys of the demo, latency dumps, the input journal `journal/`; reused to recover).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Mark source: `replay:FILE[,speed=X]` (a gavel capture replayed in real time × X) or
    /// `live:VENUE:SYMBOL[,SYMBOL…]` (binance-usdm, binance-spot or bybit over WebSocket/TLS).
    #[arg(long)]
    pub mark_from: Option<String>,
    /// Live feed: use this WebSocket URL instead of the venue's (a local test server).
    #[arg(long)]
    pub live_url_override: Option<String>,
    /// Live feed: use this scheme://host:port for REST snapshots instead of the venue's (a local test server).
    #[arg(long)]
    pub live_rest_override: Option<String>,
    /// Speed of the mark replay, × real time (0.001 to 1000; demo default 5).
    #[arg(long)]
    pub speed: Option<String>,
    /// Liquidation policy: a built-in name, a venue rule name, or a policy/rules TOML (demo default: auction).
    #[arg(long)]
    pub policy: Option<String>,
    /// Core of the engine thread.
    #[arg(long)]
    pub engine_core: Option<usize>,
    /// Core of the gateway thread.
    #[arg(long)]
    pub gateway_core: Option<usize>,
    /// Never sleep in the engine and gateway loops (lowest latency; each burns a core).
    #[arg(long)]
    pub busy_poll: bool,
    /// Stop by itself after this many seconds (1 to 86,400).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub duration: Option<u64>,
    /// What an acknowledgement waits for: `fsync` (group commit; survives a host crash) or `write`
    /// (the page cache; survives kill -9 of gavel, not of the host). Default fsync.
    #[arg(long)]
    pub durability: Option<String>,
    /// Journal group commit: fsync at most this many µs after the first unsynced input (1 to 1,000,000; default 200).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub sync_interval_us: Option<u64>,
    /// Journal group commit: fsync once this many inputs are pending (1 to 1,000,000; default 512).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub sync_records: Option<u64>,
    /// Take a snapshot of the engine this often, ms (0: none; 100 to 86,400,000; default 60,000).
    #[arg(long)]
    pub snapshot_interval_ms: Option<u64>,
}

impl Args {
    /// Arguments that rebuild a venue from a config file (recovery; no snapshot engine).
    pub fn for_config(config: PathBuf, policy: Option<String>) -> Self {
        Args { config: Some(config), demo: false, listen: None, data_dir: None, mark_from: None, live_url_override: None, live_rest_override: None, speed: None, policy, engine_core: None, gateway_core: None, busy_poll: false, duration: None, durability: None, sync_interval_us: None, sync_records: None, snapshot_interval_ms: Some(0) }
    }
}

/// The venue configuration file.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ServeConfig {
    listen: Option<SocketAddr>,
    instruments: PathBuf,
    accounts: PathBuf,
    positions: Option<PathBuf>,
    keys: PathBuf,
    policy: Option<String>,
    /// Insurance fund at the start, in quote currency (decimal text).
    fund: Option<String>,
    /// The backstop vault's account name.
    backstop_account: Option<String>,
    data_dir: Option<PathBuf>,
    engine_core: Option<usize>,
    gateway_core: Option<usize>,
    mark_from: Option<String>,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    durability: Durability,
}

/// `[durability]`: journal group commit and segment size.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Durability {
    mode: Option<String>,
    sync_interval_us: Option<u64>,
    sync_records: Option<u64>,
    segment_bytes: Option<u64>,
    snapshot_interval_ms: Option<u64>,
    snapshot_keep: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct Limits {
    rate_per_s: Option<u64>,
    burst: Option<u64>,
    max_open_orders: Option<usize>,
    max_protocol_errors: Option<u32>,
    output_limit_bytes: Option<usize>,
    max_sessions: Option<usize>,
    socket_send_buffer_bytes: Option<usize>,
    idle_timeout_ms: Option<i64>,
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "gavel-serve-data";

fn bounded<T: PartialOrd + std::fmt::Display + Copy>(source: &str, field: &str, v: Option<T>, lo: T, hi: T, default: T) -> anyhow::Result<T> {
    let v = v.unwrap_or(default);
    anyhow::ensure!(v >= lo && v <= hi, "{source}: field `limits.{field}`: {v} is outside {lo}..={hi}");
    Ok(v)
}

fn relative(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

/// Runs `gavel serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let listen = args.listen.unwrap_or_else(|| DEFAULT_LISTEN.parse().unwrap_or_else(|_| unreachable!("valid address")));
    // One venue per data dir: the demo writes its keys there, so it locks before it builds; a
    // config venue's setup only reads the data dir, and locks once it knows which one it is.
    let (setup, _lock) = if args.demo {
        let lock = serve::data_dir_lock::DataDirLock::acquire(&demo_data_dir(&args))?;
        (demo_setup(&args, listen)?, lock)
    } else {
        let setup = config_setup(&args)?;
        let lock = serve::data_dir_lock::DataDirLock::acquire(&setup.data_dir)?;
        (setup, lock)
    };
    serve::run(setup)
}

fn demo_data_dir(args: &Args) -> PathBuf {
    args.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

fn durability(source: &str, args: &Args, file: &Durability) -> anyhow::Result<DurabilityConfig> {
    let d = DurabilityConfig::default();
    let check = |field: &str, v: Option<u64>, lo: u64, hi: u64, default: u64| -> anyhow::Result<u64> {
        let v = v.unwrap_or(default);
        anyhow::ensure!((lo..=hi).contains(&v), "{source}: field `durability.{field}`: {v} is outside {lo}..={hi}");
        Ok(v)
    };
    let mode_text = args.durability.clone().or(file.mode.clone()).unwrap_or_else(|| "fsync".into());
    let mode = serve::durability::DurabilityMode::parse(&mode_text).ok_or_else(|| anyhow::anyhow!("{source}: field `durability.mode` (--durability): {mode_text:?} is not fsync or write"))?;
    let segment_bytes = check("segment_bytes", file.segment_bytes, 4096, 1 << 40, d.segment_bytes)?;
    let mapped_max = gavel_feeds::input_journal_mapped::MAX_MAPPED_SEGMENT_BYTES;
    anyhow::ensure!(
        mode != serve::durability::DurabilityMode::Write || segment_bytes <= mapped_max,
        "{source}: field `durability.segment_bytes`: {segment_bytes} is more than the {mapped_max} bytes a `write`-mode segment reserves"
    );
    Ok(DurabilityConfig {
        mode,
        sync_interval: Duration::from_micros(check("sync_interval_us", args.sync_interval_us.or(file.sync_interval_us), 1, 1_000_000, d.sync_interval.as_micros() as u64)?),
        sync_records: check("sync_records", args.sync_records.or(file.sync_records), 1, 1_000_000, d.sync_records)?,
        segment_bytes,
        fail_after: serve::durability::fail_after_from_env()?,
    })
}

fn snapshot_config(source: &str, args: &Args, file: &Durability) -> anyhow::Result<SnapshotConfig> {
    let d = SnapshotConfig::default();
    let default_ms = d.interval.map_or(0, |i| i.as_millis() as u64);
    let ms = args.snapshot_interval_ms.or(file.snapshot_interval_ms).unwrap_or(default_ms);
    anyhow::ensure!(ms == 0 || (100..=86_400_000).contains(&ms), "{source}: field `durability.snapshot_interval_ms` (--snapshot-interval-ms): {ms} is neither 0 (off) nor within 100..=86400000");
    let keep = file.snapshot_keep.unwrap_or(d.keep as u64);
    anyhow::ensure!((2..=100).contains(&keep), "{source}: field `durability.snapshot_keep`: {keep} is outside 2..=100");
    Ok(SnapshotConfig { interval: (ms > 0).then(|| Duration::from_millis(ms)), keep: keep as usize })
}

/// The snapshot thread's engine: the origin's engine built again (`None` when snapshots are off).
fn follower(data_dir: &Path, origin: &Origin, snapshots: &SnapshotConfig) -> anyhow::Result<Option<gavel_engine::engine::Engine>> {
    match snapshots.interval {
        Some(_) => crate::cmd::recover::engine_for_origin(data_dir, origin).map(Some),
        None => Ok(None),
    }
}

/// The demo's engine alone (recovery): no capture, no key file.
pub fn demo_engine(policy: &str, mirror: Option<&str>) -> anyhow::Result<(gavel_engine::engine::Engine, Origin)> {
    let origin = Origin::Demo { policy: policy.to_string(), policy_hash: recovery::policy_hash(policy)?, mirror: mirror.map(str::to_string) };
    let mut venue = demo::venue(crate::policy_file::resolve_policy(policy)?)?;
    if let Some(name) = mirror {
        venue.config.venues = vec![mirror_venue(name)?];
    }
    Ok((serve::engine_from(venue.book, venue.fund, venue.config, venue.policy)?, origin))
}

/// A config venue's engine alone (recovery), with the origin it has now.
pub fn config_engine(config: PathBuf, policy: Option<String>) -> anyhow::Result<(gavel_engine::engine::Engine, Origin)> {
    let setup = config_setup(&Args::for_config(config, policy))?;
    Ok((setup.engine, setup.origin))
}

fn demo_setup(args: &Args, listen: SocketAddr) -> anyhow::Result<ServeSetup> {
    // Created by the data dir's lock, taken before this.
    let data_dir = demo_data_dir(args);
    let policy_name = args.policy.clone().unwrap_or_else(|| "auction".to_string());
    let policy = crate::policy_file::resolve_policy(&policy_name)?;
    let venue = demo::build(&data_dir, policy, 5_000)?;
    let mut mark = match &args.mark_from {
        Some(m) => mark_source(args, m)?,
        None => feed::MarkSource::Replay(venue.mark.clone().ok_or_else(|| anyhow::anyhow!("the demo capture was not written"))?),
    };
    if let (Some(r), Some(s)) = (mark.replay_mut(), &args.speed) {
        r.speed_per_mille = feed::parse_speed(s).map_err(anyhow::Error::msg)?;
    }
    let mut venue = venue;
    let mirrored = mark.venue().map_err(anyhow::Error::msg)?;
    venue.config.venues = vec![mirrored];
    // The mirrored venue decides what the engine does with feed events: recovery must rebuild it.
    let mirror = (mirrored != gavel_feeds::wire::Venue::BinanceUsdm).then(|| mirrored.name().to_string());
    let origin = Origin::Demo { policy: policy_name.clone(), policy_hash: recovery::policy_hash(&policy_name)?, mirror };
    let keys_path = data_dir.join("keys.toml");
    write_keys(&keys_path, &venue.keys)?;
    println!("gavel serve --demo: API keys written to {} (id, role, account):", keys_path.display());
    for k in venue.keys.keys() {
        println!("  key {:>3}  {:<11} account {:>3}  secret {}", k.id, role_name(k.role), k.account, gavel_gateway::auth::to_hex(&k.secret));
    }
    let engine = serve::engine_from(venue.book, venue.fund, venue.config, venue.policy)?;
    let snapshots = snapshot_config("--demo", args, &Durability::default())?;
    let follower = follower(&data_dir, &origin, &snapshots)?;
    Ok(ServeSetup {
        engine,
        keys: venue.keys,
        gateway: GatewayConfig { busy_poll: args.busy_poll, ..GatewayConfig::new(listen, 1) },
        seed_orders: venue.seed_orders,
        mark: Some(mark),
        data_dir,
        engine_core: args.engine_core,
        gateway_core: args.gateway_core,
        duration: args.duration.map(Duration::from_secs),
        busy_poll: args.busy_poll,
        durability: durability("--demo", args, &Durability::default())?,
        follower,
        snapshots,
        origin,
    })
}

/// The venue of a wire venue name (as `Venue::name` spells it).
fn mirror_venue(name: &str) -> anyhow::Result<gavel_feeds::wire::Venue> {
    (0..=u8::MAX)
        .filter_map(gavel_feeds::wire::Venue::from_u8)
        .find(|v| v.name() == name)
        .ok_or_else(|| anyhow::anyhow!("journal/origin.json: field `mirror`: unknown venue {name:?}"))
}

/// `--mark-from` with the live URL overrides applied.
fn mark_source(args: &Args, text: &str) -> anyhow::Result<feed::MarkSource> {
    let mut source = feed::parse_mark_source(text).map_err(anyhow::Error::msg)?;
    let url = |flag: &str, t: &Option<String>| -> anyhow::Result<Option<gavel_feeds::net::Url>> {
        t.as_deref().map(|t| gavel_feeds::net::Url::parse(t).map_err(|e| anyhow::anyhow!("{flag} {t:?}: {e}"))).transpose()
    };
    let ws = url("--live-url-override", &args.live_url_override)?;
    let rest = url("--live-rest-override", &args.live_rest_override)?;
    match &mut source {
        feed::MarkSource::Live(l) => {
            l.overrides.ws_url = ws;
            l.overrides.rest_base = rest;
        }
        feed::MarkSource::Replay(_) => anyhow::ensure!(ws.is_none() && rest.is_none(), "--live-url-override and --live-rest-override need --mark-from live:…"),
    }
    Ok(source)
}

/// Keys are secrets: written with mode 0600 through a temp file and a rename.
fn write_keys(path: &Path, keys: &KeyTable) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = gavel_feeds::atomic_file::temp_path_for(path);
    std::fs::write(&tmp, keys.to_toml())?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn config_setup(args: &Args) -> anyhow::Result<ServeSetup> {
    let path = args.config.as_ref().ok_or_else(|| anyhow::anyhow!("--config FILE or --demo"))?;
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
    let cfg: ServeConfig = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(0, |s| 1 + text[..s.start.min(text.len())].matches('\n').count());
        anyhow::anyhow!("{source}: line {line}: {}", e.message())
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let set = InstrumentSet::load(&relative(base, &cfg.instruments)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let instruments = u32::try_from(set.len())?;
    let mut book = RiskBook::new(set);
    let accounts_path = relative(base, &cfg.accounts);
    let text = loader::read_file(&accounts_path).map_err(|e| anyhow::anyhow!("{e}"))?;
    loader::load_accounts(&mut book, &text, &accounts_path.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(p) = &cfg.positions {
        let p = relative(base, p);
        let text = loader::read_file(&p).map_err(|e| anyhow::anyhow!("{e}"))?;
        loader::load_positions(&mut book, &text, &p.display().to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let keys_path = relative(base, &cfg.keys);
    let keys_text = std::fs::read_to_string(&keys_path).map_err(|e| anyhow::anyhow!("{}: {e}", keys_path.display()))?;
    let keys = KeyTable::parse(&keys_path.display().to_string(), &keys_text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let account_count = book.accounts().len() as u64;
    for k in keys.keys() {
        anyhow::ensure!(k.account < account_count, "{}: key {}: account {} does not exist ({} accounts)", keys_path.display(), k.id, k.account, account_count);
    }
    let policy_name = args.policy.as_deref().or(cfg.policy.as_deref()).unwrap_or("auction");
    let policy = crate::policy_file::resolve_policy(policy_name)?;
    let mut files = vec![path.clone(), relative(base, &cfg.instruments), accounts_path.clone(), keys_path.clone()];
    files.extend(cfg.positions.as_ref().map(|p| relative(base, p)));
    if Path::new(policy_name).is_file() {
        files.push(PathBuf::from(policy_name));
    }
    let files = files.into_iter().map(|f| recovery::file_hash(&f).map(|h| (std::fs::canonicalize(&f).unwrap_or(f), h))).collect::<anyhow::Result<Vec<_>>>()?;
    let origin = Origin::Config { config: std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()), policy: args.policy.clone(), files };
    let fund = match &cfg.fund {
        Some(t) => gavel_feeds::decimal::Decimal::parse(t)
            .ok()
            .and_then(|d| d.in_units_of(gavel_engine::risk::instrument::quote_unit()))
            .filter(|v| (0..=gavel_engine::risk::instrument::MAX_MONEY).contains(v))
            .ok_or_else(|| anyhow::anyhow!("{source}: field `fund`: {t:?} is not an amount within 0..=max money with at most 6 decimals"))?,
        None => 0,
    };
    let mark_text = args.mark_from.clone().or(cfg.mark_from.clone());
    let mut mark = match mark_text {
        Some(m) => Some(mark_source(args, &m)?),
        None => None,
    };
    if let (Some(r), Some(s)) = (mark.as_mut().and_then(feed::MarkSource::replay_mut), &args.speed) {
        r.speed_per_mille = feed::parse_speed(s).map_err(anyhow::Error::msg)?;
    }
    let venue = match &mark {
        Some(m) => m.venue().map_err(anyhow::Error::msg)?,
        None => Venue::BinanceUsdm,
    };
    let mut config = EngineConfig::for_venues(vec![venue]);
    config.session_outputs = true;
    if let Some(name) = &cfg.backstop_account {
        config.backstop_account = Some(book.account_id(name).ok_or_else(|| anyhow::anyhow!("{source}: field `backstop_account`: no account named {name:?}"))?);
    }
    config.liquidators = keys
        .keys()
        .filter(|k| k.role == role::LIQUIDATOR)
        .map(|k| (k.id as u32, gavel_engine::risk::account::account_from_wire(k.account).unwrap_or(0)))
        .collect();
    config.max_liquidations = (book.accounts().len() + 16).min(1 << 20);
    let l = &cfg.limits;
    let listen = args.listen.or(cfg.listen).unwrap_or_else(|| DEFAULT_LISTEN.parse().unwrap_or_else(|_| unreachable!("valid address")));
    let defaults = GatewayConfig::new(listen, instruments);
    let gateway = GatewayConfig {
        rate_per_s: bounded(&source, "rate_per_s", l.rate_per_s, 1, 100_000_000, defaults.rate_per_s)?,
        burst: bounded(&source, "burst", l.burst, 1, 100_000_000, defaults.burst)?,
        max_open_orders: bounded(&source, "max_open_orders", l.max_open_orders, 1, 1_000_000, defaults.max_open_orders)?,
        max_protocol_errors: bounded(&source, "max_protocol_errors", l.max_protocol_errors, 1, 1_000_000, defaults.max_protocol_errors)?,
        output_limit: bounded(&source, "output_limit_bytes", l.output_limit_bytes, 4096, 1 << 30, defaults.output_limit)?,
        max_sessions: bounded(&source, "max_sessions", l.max_sessions, 1, 100_000, defaults.max_sessions)?,
        idle_timeout_ns: match l.idle_timeout_ms {
            Some(ms) => Some(bounded(&source, "idle_timeout_ms", Some(ms), 100, 3_600_000, ms)? * 1_000_000),
            None => None,
        },
        socket_send_buffer: match l.socket_send_buffer_bytes {
            Some(b) => Some(bounded(&source, "socket_send_buffer_bytes", Some(b), 1024, 1 << 28, b)?),
            None => None,
        },
        busy_poll: args.busy_poll,
        ..defaults
    };
    let engine = serve::engine_from(book, fund, config, policy)?;
    let data_dir = args.data_dir.clone().or(cfg.data_dir.map(|d| relative(base, &d))).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let snapshots = snapshot_config(&source, args, &cfg.durability)?;
    Ok(ServeSetup {
        engine,
        keys,
        gateway,
        seed_orders: Vec::new(),
        mark,
        follower: follower(&data_dir, &origin, &snapshots)?,
        data_dir,
        engine_core: args.engine_core.or(cfg.engine_core),
        gateway_core: args.gateway_core.or(cfg.gateway_core),
        duration: args.duration.map(Duration::from_secs),
        busy_poll: args.busy_poll,
        durability: durability(&source, args, &cfg.durability)?,
        snapshots,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_venue_name_maps_back_and_recovery_rebuilds_the_mirrored_venue() {
        for v in (0..=u8::MAX).filter_map(gavel_feeds::wire::Venue::from_u8) {
            assert_eq!(mirror_venue(v.name()).unwrap(), v);
        }
        assert!(mirror_venue("kraken").unwrap_err().to_string().contains("kraken"));
        let (engine, origin) = demo_engine("auction", Some(gavel_feeds::wire::Venue::Bybit.name())).unwrap();
        assert_eq!(engine.config().venues, vec![gavel_feeds::wire::Venue::Bybit]);
        assert!(matches!(origin, Origin::Demo { mirror: Some(ref m), .. } if m == gavel_feeds::wire::Venue::Bybit.name()));
        let (engine, _) = demo_engine("auction", None).unwrap();
        assert_eq!(engine.config().venues, vec![gavel_feeds::wire::Venue::BinanceUsdm]);
    }

    #[test]
    fn snapshot_settings_are_bounded_and_zero_turns_them_off() {
        let args = |ms: Option<u64>| Args { snapshot_interval_ms: ms, ..Args::for_config(PathBuf::from("v.toml"), None) };
        let file = |ms: Option<u64>, keep: Option<u64>| Durability { snapshot_interval_ms: ms, snapshot_keep: keep, ..Durability::default() };
        let d = snapshot_config("v.toml", &args(None), &file(None, None)).unwrap();
        assert_eq!(d, SnapshotConfig::default());
        assert_eq!(snapshot_config("v.toml", &args(None), &file(Some(2500), Some(5))).unwrap(), SnapshotConfig { interval: Some(Duration::from_millis(2500)), keep: 5 });
        assert_eq!(snapshot_config("v.toml", &args(Some(0)), &file(Some(2500), None)).unwrap().interval, None, "the flag overrides the file; 0 is off");
        for (ms, keep, field) in [(Some(99), None, "snapshot_interval_ms"), (Some(86_400_001), None, "snapshot_interval_ms"), (None, Some(1), "snapshot_keep"), (None, Some(101), "snapshot_keep")] {
            let err = snapshot_config("v.toml", &args(None), &file(ms, keep)).unwrap_err().to_string();
            assert!(err.contains("v.toml") && err.contains(field), "{err}");
        }
    }

    #[test]
    fn a_write_mode_segment_is_at_most_what_a_mapping_reserves() {
        let args = |mode: &str| Args { durability: Some(mode.into()), ..Args::for_config(PathBuf::from("v.toml"), None) };
        let file = |bytes: u64| Durability { segment_bytes: Some(bytes), ..Durability::default() };
        let max = gavel_feeds::input_journal_mapped::MAX_MAPPED_SEGMENT_BYTES;
        assert_eq!(durability("v.toml", &args("write"), &file(max)).unwrap().segment_bytes, max);
        let err = durability("v.toml", &args("write"), &file(max + 1)).unwrap_err().to_string();
        assert!(err.contains("v.toml") && err.contains("durability.segment_bytes") && err.contains(&max.to_string()), "{err}");
        assert_eq!(durability("v.toml", &args("fsync"), &file(max + 1)).unwrap().segment_bytes, max + 1, "fsync mode appends: no reservation");
    }
}
