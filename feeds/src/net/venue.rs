//! What to connect to per venue: WebSocket URL, subscription frames, REST
//! snapshot URLs and the keep-alive style. Only addresses and subscription
//! text live here; parsing the messages is the parsers' job.

use url::Url;

use super::{ConnectionSpec, NetError, PingStyle, SnapshotSpec};
use crate::wire::Venue;

/// A venue `gavel capture` can record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveVenue {
    /// Binance USD-M futures (combined stream; REST depth snapshot per symbol).
    BinanceUsdm,
    /// Binance spot (combined stream; REST depth snapshot per symbol).
    BinanceSpot,
    /// Bybit v5 linear perpetuals (subscribe frames; the venue sends book snapshots itself).
    Bybit,
}

impl LiveVenue {
    /// Parses the command-line name (`binance-usdm`, `binance-spot`, `bybit`).
    pub fn parse(name: &str) -> Result<LiveVenue, NetError> {
        match name {
            "binance-usdm" => Ok(LiveVenue::BinanceUsdm),
            "binance-spot" => Ok(LiveVenue::BinanceSpot),
            "bybit" => Ok(LiveVenue::Bybit),
            other => {
                Err(NetError::Config(format!("unknown venue {other:?} (expected binance-usdm, binance-spot or bybit)")))
            }
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            LiveVenue::BinanceUsdm => "binance-usdm",
            LiveVenue::BinanceSpot => "binance-spot",
            LiveVenue::Bybit => "bybit",
        }
    }

    /// The wire venue recorded in the capture.
    pub fn venue(self) -> Venue {
        match self {
            LiveVenue::BinanceUsdm => Venue::BinanceUsdm,
            LiveVenue::BinanceSpot => Venue::BinanceSpot,
            LiveVenue::Bybit => Venue::Bybit,
        }
    }
}

/// Overrides that point a venue spec at a local (test) server.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Replaces the whole WebSocket URL (`ws://` or `wss://`).
    pub ws_url: Option<Url>,
    /// Replaces scheme, host and port of every REST snapshot URL; path and query are kept.
    pub rest_base: Option<Url>,
}

/// The channel of a venue's WebSocket frames in a capture: `ws/<venue name>`.
pub fn stream_channel(venue: LiveVenue) -> String {
    format!("ws/{}", venue.name())
}

/// Builds the connection for `venue` and upper-case `symbols` (e.g. `BTCUSDT`).
pub fn connection_spec(
    venue: LiveVenue,
    symbols: &[String],
    overrides: &Overrides,
) -> Result<ConnectionSpec, NetError> {
    if symbols.is_empty() {
        return Err(NetError::Config("no symbols given".into()));
    }
    for symbol in symbols {
        if symbol.is_empty() || !symbol.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(NetError::Config(format!("bad symbol {symbol:?}: letters, digits, '-' and '_' only")));
        }
    }
    let upper: Vec<String> = symbols.iter().map(|s| s.to_ascii_uppercase()).collect();
    let lower: Vec<String> = symbols.iter().map(|s| s.to_ascii_lowercase()).collect();
    let (ws, subscribe, rest, ping) = match venue {
        LiveVenue::BinanceUsdm => {
            let streams: Vec<String> = lower
                .iter()
                .flat_map(|s| {
                    ["depth@0ms", "bookTicker", "trade", "markPrice@1s", "forceOrder"].map(|k| format!("{s}@{k}"))
                })
                .collect();
            let ws = format!("wss://fstream.binance.com/stream?streams={}", streams.join("/"));
            let rest: Vec<(String, String)> = upper
                .iter()
                .map(|s| (s.clone(), format!("https://fapi.binance.com/fapi/v1/depth?symbol={s}&limit=1000")))
                .collect();
            (ws, Vec::new(), rest, PingStyle::Frame)
        }
        LiveVenue::BinanceSpot => {
            let streams: Vec<String> =
                lower.iter().flat_map(|s| ["depth@100ms", "bookTicker", "trade"].map(|k| format!("{s}@{k}"))).collect();
            let ws = format!("wss://stream.binance.com:9443/stream?streams={}", streams.join("/"));
            let rest: Vec<(String, String)> = upper
                .iter()
                .map(|s| (s.clone(), format!("https://api.binance.com/api/v3/depth?symbol={s}&limit=1000")))
                .collect();
            (ws, Vec::new(), rest, PingStyle::Frame)
        }
        LiveVenue::Bybit => {
            let topics: Vec<String> = upper
                .iter()
                .flat_map(|s| {
                    ["orderbook.200", "publicTrade", "tickers", "allLiquidation"].map(|t| format!("\"{t}.{s}\""))
                })
                .collect();
            // Bybit accepts at most 10 topics per subscribe request.
            let subscribe = topics
                .chunks(10)
                .map(|chunk| format!("{{\"op\":\"subscribe\",\"args\":[{}]}}", chunk.join(",")))
                .collect();
            let ws = "wss://stream.bybit.com/v5/public/linear".to_string();
            (ws, subscribe, Vec::new(), PingStyle::Text("{\"op\":\"ping\"}".into()))
        }
    };
    let mut url = Url::parse(&ws).map_err(|e| NetError::Config(format!("venue URL {ws}: {e}")))?;
    if let Some(over) = &overrides.ws_url {
        url = over.clone();
    }
    let mut snapshots = Vec::new();
    for (symbol, rest_url) in rest {
        let mut rest_url = Url::parse(&rest_url).map_err(|e| NetError::Config(format!("REST URL {rest_url}: {e}")))?;
        if let Some(base) = &overrides.rest_base {
            rest_url = rebase(&rest_url, base)?;
        }
        snapshots.push(SnapshotSpec { url: rest_url, channel: super::snapshot_channel(&symbol) });
    }
    ConnectionSpec::new(stream_channel(venue), venue.venue(), url, subscribe, snapshots, ping)
}

/// Most option series one Deribit ticker connection subscribes to.
pub const MAX_DERIBIT_SERIES: usize = 200;

/// The channel of Deribit ticker frames: `ws/deribit`.
pub const DERIBIT_CHANNEL: &str = "ws/deribit";

/// A connection to Deribit's public WebSocket API that subscribes to the `ticker`
/// channel (100 ms) of each option series in `series` (`BTC-27DEC24-60000-C`), for the
/// options' mark implied volatility. Deribit needs no snapshot; WebSocket pings keep the
/// connection open. `overrides.ws_url` points it at a local test server.
pub fn deribit_ticker_spec(series: &[String], overrides: &Overrides) -> Result<ConnectionSpec, NetError> {
    if series.is_empty() || series.len() > MAX_DERIBIT_SERIES {
        return Err(NetError::Config(format!("{} option series given: between 1 and {MAX_DERIBIT_SERIES}", series.len())));
    }
    for name in series {
        crate::options::parse_option_name(name.as_bytes())
            .map_err(|e| NetError::Config(format!("option series {name:?}: {e}")))?;
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
            return Err(NetError::Config(format!("option series {name:?}: letters, digits, '-' and '.' only")));
        }
    }
    let channels: Vec<String> = series.iter().map(|name| format!("\"ticker.{name}.100ms\"")).collect();
    let subscribe = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"public/subscribe\",\"params\":{{\"channels\":[{}]}}}}",
        channels.join(",")
    );
    let url = match &overrides.ws_url {
        Some(over) => over.clone(),
        None => Url::parse("wss://www.deribit.com/ws/api/v2").map_err(|e| NetError::Config(e.to_string()))?,
    };
    ConnectionSpec::new(DERIBIT_CHANNEL.to_string(), Venue::Deribit, url, vec![subscribe], Vec::new(), PingStyle::Frame)
}

/// `url` with the scheme, host and port of `base`.
fn rebase(url: &Url, base: &Url) -> Result<Url, NetError> {
    let host = base.host_str().ok_or_else(|| NetError::Config(format!("REST override {base} has no host")))?;
    let port = base.port().map(|p| format!(":{p}")).unwrap_or_default();
    let mut text = format!("{}://{host}{port}{}", base.scheme(), url.path());
    if let Some(query) = url.query() {
        text.push('?');
        text.push_str(query);
    }
    Url::parse(&text).map_err(|e| NetError::Config(format!("REST override {base}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn binance_usdm_uses_a_combined_stream_and_one_snapshot_per_symbol() {
        let spec =
            connection_spec(LiveVenue::BinanceUsdm, &syms(&["BTCUSDT", "ethusdt"]), &Overrides::default()).unwrap();
        assert!(spec.url.as_str().starts_with(
            "wss://fstream.binance.com/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade/"
        ));
        assert!(spec.url.as_str().contains("/ethusdt@depth@0ms/"));
        assert!(spec.subscribe.is_empty());
        assert_eq!(spec.snapshots.len(), 2);
        assert_eq!(spec.snapshots[1].url.as_str(), "https://fapi.binance.com/fapi/v1/depth?symbol=ETHUSDT&limit=1000");
        assert_eq!(spec.snapshots[1].channel, "rest/depth/ETHUSDT");
        assert_eq!(spec.channel, "ws/binance-usdm");
    }

    #[test]
    fn bybit_subscribes_in_chunks_of_ten_topics() {
        let spec = connection_spec(LiveVenue::Bybit, &syms(&["BTCUSDT", "ETHUSDT", "SOLUSDT"]), &Overrides::default())
            .unwrap();
        assert_eq!(spec.subscribe.len(), 2);
        assert!(spec.subscribe[0].starts_with("{\"op\":\"subscribe\",\"args\":[\"orderbook.200.BTCUSDT\","));
        assert_eq!(spec.subscribe[0].matches("USDT\"").count(), 10);
        assert_eq!(spec.subscribe[1].matches("USDT\"").count(), 2);
        assert!(spec.snapshots.is_empty());
        assert_eq!(spec.ping, PingStyle::Text("{\"op\":\"ping\"}".into()));
    }

    #[test]
    fn overrides_replace_the_ws_url_and_the_rest_origin_only() {
        let overrides = Overrides {
            ws_url: Some(Url::parse("ws://127.0.0.1:9001/stream").unwrap()),
            rest_base: Some(Url::parse("http://127.0.0.1:9002").unwrap()),
        };
        let spec = connection_spec(LiveVenue::BinanceSpot, &syms(&["BTCUSDT"]), &overrides).unwrap();
        assert_eq!(spec.url.as_str(), "ws://127.0.0.1:9001/stream");
        assert_eq!(spec.snapshots[0].url.as_str(), "http://127.0.0.1:9002/api/v3/depth?symbol=BTCUSDT&limit=1000");
    }

    #[test]
    fn deribit_subscribes_to_each_series_ticker_in_one_request() {
        let spec = deribit_ticker_spec(&syms(&["BTC-27DEC24-60000-C", "BTC-27DEC24-70000-P"]), &Overrides::default()).unwrap();
        assert_eq!(spec.url.as_str(), "wss://www.deribit.com/ws/api/v2");
        assert_eq!(
            spec.subscribe,
            vec![r#"{"jsonrpc":"2.0","id":1,"method":"public/subscribe","params":{"channels":["ticker.BTC-27DEC24-60000-C.100ms","ticker.BTC-27DEC24-70000-P.100ms"]}}"#.to_string()]
        );
        assert!(spec.snapshots.is_empty());
        assert_eq!((spec.channel.as_str(), spec.venue), (DERIBIT_CHANNEL, Venue::Deribit));
        let over = Overrides { ws_url: Some(Url::parse("ws://127.0.0.1:9001/ws").unwrap()), rest_base: None };
        assert_eq!(deribit_ticker_spec(&syms(&["ETH-1JAN25-3000-C"]), &over).unwrap().url.as_str(), "ws://127.0.0.1:9001/ws");
        for bad in [&[][..], &["BTCUSDT"][..], &["BTC-27DEC24-60000-X"][..], &["BTC-27DEC24-6\"0000-C"][..]] {
            assert!(deribit_ticker_spec(&syms(bad), &Overrides::default()).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_DERIBIT_SERIES).map(|k| format!("BTC-27DEC24-{}-C", 1000 + k)).collect();
        assert!(deribit_ticker_spec(&many, &Overrides::default()).is_err());
    }

    #[test]
    fn bad_names_and_symbols_are_rejected() {
        assert!(LiveVenue::parse("kraken").is_err());
        assert_eq!(LiveVenue::parse("bybit").unwrap().name(), "bybit");
        assert!(connection_spec(LiveVenue::Bybit, &syms(&["BTC\"USDT"]), &Overrides::default()).is_err());
        assert!(connection_spec(LiveVenue::Bybit, &[], &Overrides::default()).is_err());
    }
}
