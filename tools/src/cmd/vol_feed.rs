//! `gavel options vol-feed`: a venue's option tickers turned into the at-the-money
//! implied vol and sent to a running `gavel serve` as `ImpliedVol` messages (template
//! 62) by an admin session, where the engine's margin calls read them. The tickers come
//! live from Deribit's WebSocket API (`--live SERIES,…`) or from a Deribit recording
//! replayed in real time (`--replay FILE [--speed X]`). The vol is the one
//! `gavel options implied-vol` writes for a scenario: of each series' latest mark vol,
//! the series nearest the money with enough days to expiry (`gavel_sim::implied_vol::AtmVol`).

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::builder::RangedU64ValueParser;
use gavel_feeds::net::{LiveLoop, NetConfig, Url};
use gavel_feeds::net::tls::client_config_webpki;
use gavel_feeds::net::venue::{deribit_ticker_spec, Overrides};
use gavel_feeds::venues::deribit::{parse_ticker, OptionTicker};
use gavel_feeds::wire::Venue;
use gavel_gateway::client::Client;
use gavel_gateway::protocol::{role, Heartbeat, ImpliedVol, Message};
use gavel_sim::implied_vol::AtmVol;

/// Arguments of `gavel options vol-feed`.
#[derive(clap::Args, Debug)]
pub struct VolFeedArgs {
    /// The venue and its keys (an admin key is used).
    #[command(flatten)]
    pub venue: crate::venue_access::VenueAccess,
    /// The admin key to log on with (default: the first admin key of the file).
    #[arg(long)]
    pub key_id: Option<u64>,
    /// The venue's instrument id the vol is for (its place in the instruments file, from 0;
    /// the demo's BTCUSDT is 0).
    #[arg(long, default_value_t = 0)]
    pub instrument_id: u32,
    /// Options currency whose series are read (`BTC`, `ETH`).
    #[arg(long)]
    pub currency: String,
    /// A Deribit recording (cryptofeed format) to replay in real time.
    #[arg(long, conflicts_with = "live", required_unless_present = "live")]
    pub replay: Option<PathBuf>,
    /// Replay speed: 1 = real time, 10 = ten times faster (0.001..=1000).
    #[arg(long, default_value = "1", requires = "replay")]
    pub speed: String,
    /// Option series to subscribe to on Deribit, comma separated (`BTC-27DEC24-60000-C,…`).
    #[arg(long, value_delimiter = ',')]
    pub live: Vec<String>,
    /// Replace Deribit's WebSocket URL (a local test server).
    #[arg(long, requires = "live")]
    pub live_url_override: Option<String>,
    /// Series with fewer days than this to expiry are not used.
    #[arg(long, default_value_t = 7, value_parser = RangedU64ValueParser::<u64>::new().range(0..=3_650))]
    pub min_expiry_days: u64,
    /// Least venue time between two quotes sent, ms.
    #[arg(long, default_value_t = 1_000, value_parser = RangedU64ValueParser::<u64>::new().range(1..=86_400_000))]
    pub every_ms: u64,
    /// Stop after this many seconds (default: at the end of the replay; live: until killed).
    #[arg(long, value_parser = RangedU64ValueParser::<u64>::new().range(1..=31_536_000))]
    pub duration: Option<u64>,
}

/// What the feed did.
#[derive(Debug, Default)]
struct FeedCounts {
    tickers: u64,
    skipped: u64,
    sent: u64,
    refused: u64,
}

/// The admin session and the at-the-money vol it forwards.
struct Feeder {
    client: Client,
    instrument: u32,
    currency: String,
    atm: AtmVol,
    every_ms: u64,
    last: Option<(u64, i64)>,
    latest_ms: u64,
    last_heartbeat: Instant,
    counts: FeedCounts,
}

impl Feeder {
    /// Takes one ticker; sends a quote when the at-the-money vol changed and `every_ms` of
    /// venue time passed since the last one sent (the first at once).
    fn on_ticker(&mut self, t: &OptionTicker<'_>) -> anyhow::Result<()> {
        if t.name.currency != self.currency.as_bytes() {
            return Ok(());
        }
        self.counts.tickers += 1;
        // Series stamp their own tickers: the feed's time never goes back.
        let now = t.timestamp_ms.max(self.latest_ms);
        self.latest_ms = now;
        let series = String::from_utf8_lossy(t.instrument);
        let Some(vol_e6) = self.atm.update(&series, t.name.expiry_ms, t.name.strike, t.underlying_price, t.mark_iv, now) else { return Ok(()) };
        if self.last.is_some_and(|(at, v)| v == vol_e6 || now < at.saturating_add(self.every_ms)) {
            return Ok(());
        }
        self.client.send(&Message::ImpliedVol(ImpliedVol { instrument: self.instrument, vol_e6 })).context("sending a quote")?;
        self.last = Some((now, vol_e6));
        self.counts.sent += 1;
        self.read_replies(Duration::ZERO)
    }

    /// Keeps the session alive and counts what the venue refused, waiting up to `wait`.
    fn read_replies(&mut self, wait: Duration) -> anyhow::Result<()> {
        if self.last_heartbeat.elapsed() >= Duration::from_secs(1) {
            self.client.send(&Message::Heartbeat(Heartbeat { time_ns: 0 })).context("sending a heartbeat")?;
            self.last_heartbeat = Instant::now();
        }
        let deadline = Instant::now() + wait;
        loop {
            match self.client.recv(deadline.saturating_duration_since(Instant::now())).context("reading the venue's replies")? {
                Some(Message::SessionReject(r)) => {
                    self.counts.refused += 1;
                    eprintln!("gavel options vol-feed: the venue refused a message (template {}, reason {})", r.ref_template, r.reason);
                }
                Some(Message::Logout(l)) => return Err(anyhow!("the venue logged the session out (reason {})", l.reason)),
                Some(_) => {}
                None => return Ok(()),
            }
        }
    }
}

/// Runs `gavel options vol-feed`.
pub fn run(args: VolFeedArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.currency.is_empty() && args.currency.bytes().all(|b| b.is_ascii_uppercase()), "--currency {:?}: upper-case letters, e.g. BTC", args.currency);
    let (keys_path, keys) = args.venue.key_table()?;
    let key = match args.key_id {
        Some(id) => keys.get(id).ok_or_else(|| anyhow!("--key-id {id}: not in {}", keys_path.display()))?,
        None => keys.keys().find(|k| k.role == role::ADMIN).ok_or_else(|| anyhow!("{}: no admin key", keys_path.display()))?,
    };
    anyhow::ensure!(key.role == role::ADMIN, "--key-id {}: not an admin key (only an admin may send implied vols)", key.id);
    let client = Client::connect_logon(args.venue.addr, key.id, &key.secret).with_context(|| format!("--addr {}: logon with key {}", args.venue.addr, key.id))?;
    let mut feeder = Feeder {
        client,
        instrument: args.instrument_id,
        currency: args.currency.clone(),
        atm: AtmVol::new(args.min_expiry_days * 86_400_000),
        every_ms: args.every_ms,
        last: None,
        latest_ms: 0,
        last_heartbeat: Instant::now(),
        counts: FeedCounts::default(),
    };
    let deadline = args.duration.map(|s| Instant::now() + Duration::from_secs(s));
    let source = match (&args.replay, args.live.is_empty()) {
        (Some(path), _) => {
            let speed = crate::serve::feed::parse_speed(&args.speed).map_err(|e| anyhow!("--speed: {e}"))?;
            replay(&mut feeder, path, speed, deadline)?;
            format!("replay of {}", path.display())
        }
        (None, false) => {
            let ws_url = match &args.live_url_override {
                Some(t) => Some(Url::parse(t).with_context(|| format!("--live-url-override {t:?} is not a URL"))?),
                None => None,
            };
            live(&mut feeder, &args.live, ws_url, deadline)?;
            format!("live deribit {}", args.live.join(","))
        }
        (None, true) => return Err(anyhow!("give --replay FILE or --live SERIES,…")),
    };
    // Refusals of the last quotes arrive after them.
    feeder.read_replies(Duration::from_millis(300))?;
    let c = &feeder.counts;
    println!(
        "gavel options vol-feed: {source}: {} {} tickers, {} quotes sent to instrument {} at {}, {} refused; skipped {} tickers",
        c.tickers, args.currency, c.sent, args.instrument_id, args.venue.addr, c.refused, c.skipped
    );
    if c.tickers == 0 {
        return Err(anyhow!("{source}: no {} options ticker", args.currency));
    }
    Ok(())
}

/// Replays the recording's tickers at `speed_per_mille` of the pace they were received,
/// until the end of the recording or the deadline.
fn replay(feeder: &mut Feeder, path: &std::path::Path, speed_per_mille: u64, deadline: Option<Instant>) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut first_ns: Option<i64> = None;
    let (bad_tickers, _) = super::options::for_each_ticker_until(path, "vol-feed", |_, receive_ns, ticker| {
        let first = *first_ns.get_or_insert(receive_ns);
        let due = Duration::from_nanos((receive_ns.saturating_sub(first).max(0) as u64).saturating_mul(1000) / speed_per_mille);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            if deadline.is_some_and(|d| Instant::now() + wait >= d) {
                return Ok(ControlFlow::Break(()));
            }
            feeder.read_replies(wait)?;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(ControlFlow::Break(()));
        }
        feeder.on_ticker(ticker).map(|()| ControlFlow::Continue(()))
    })?;
    feeder.counts.skipped += bad_tickers;
    Ok(())
}

/// Subscribes to the series' tickers on Deribit and forwards them until the deadline.
fn live(feeder: &mut Feeder, series: &[String], ws_url: Option<Url>, deadline: Option<Instant>) -> anyhow::Result<()> {
    let spec = deribit_ticker_spec(series, &Overrides { ws_url, rest_base: None }).map_err(|e| anyhow!("--live: {e}"))?;
    let tls = client_config_webpki().map_err(|e| anyhow!("{e}"))?;
    let config = NetConfig { tls: Some(tls), max_poll_wait: Duration::from_millis(50), ..NetConfig::default() };
    let mut net = LiveLoop::new(vec![spec], config).map_err(|e| anyhow!("{e}"))?;
    let mut failure: Option<anyhow::Error> = None;
    let mut sink = |_receive_ns: i64, _venue: Venue, _channel: &[u8], message: &[u8]| -> std::io::Result<()> {
        let outcome = match parse_ticker(message) {
            Ok(Some(t)) => feeder.on_ticker(&t),
            Ok(None) => feeder.read_replies(Duration::ZERO),
            Err(e) => {
                eprintln!("gavel options vol-feed: live deribit: field `{}`: {e} (skipped)", e.field());
                feeder.counts.skipped += 1;
                Ok(())
            }
        };
        outcome.map_err(|e| {
            let io = std::io::Error::other(e.to_string());
            failure = Some(e);
            io
        })
    };
    let result = net.run(&mut sink, deadline, &mut |_| false);
    if let Some(e) = failure {
        return Err(e);
    }
    result.map(|_| ()).map_err(|e| anyhow!("live deribit: {e}"))
}
