//! Deribit options `ticker` frames (JSON-RPC `subscription` notifications on
//! channel `ticker.{instrument}.{interval}`): the venue's mark price (in the
//! base coin), mark implied volatility, its Greeks and the underlying price.
//! These are analytics inputs, so numbers are read as `f64`, each checked to
//! be finite and in range; nothing is allocated.
//!
//! Other frames (subscription results, `book`, `trades`, heartbeats) are not
//! tickers: [`parse_ticker`] returns `Ok(None)` for them.

use super::ParseError;
use crate::json_scan::Scanner;
use crate::options::{parse_option_name, Greeks, OptionName};

/// Highest implied volatility accepted from the venue, in percent.
pub const MAX_IV_PERCENT: f64 = 1_000.0;

/// One ticker for an option series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptionTicker<'a> {
    /// Venue instrument name (`BTC-24SEP21-8000-P`).
    pub instrument: &'a [u8],
    /// The name's parts.
    pub name: OptionName<'a>,
    /// Venue time, Unix ms; before the expiry.
    pub timestamp_ms: u64,
    /// Price of the underlying the option is priced on (the future or synthetic forward), > 0.
    pub underlying_price: f64,
    /// Index price, when sent (0 otherwise).
    pub index_price: f64,
    /// Mark price, in the base coin per contract, ≥ 0.
    pub mark_price: f64,
    /// Mark implied volatility, percent, in (0, [`MAX_IV_PERCENT`]].
    pub mark_iv: f64,
    /// Rate the venue prices with (a fraction; 0 when not sent).
    pub interest_rate: f64,
    /// Best bid and ask in the base coin (0 when the side is empty or not sent).
    pub best_bid_price: f64,
    /// See `best_bid_price`.
    pub best_ask_price: f64,
    /// The venue's Greeks (delta, gamma, vega per vol point and theta per day, in the quote currency).
    pub greeks: Greeks,
}

fn bad(field: &'static str, reason: &'static str) -> ParseError {
    ParseError::BadField { field, reason }
}

/// A finite number (JSON number or numeric string); `null` reads as `None`.
fn number(s: &mut Scanner<'_>, field: &'static str) -> Result<Option<f64>, ParseError> {
    if s.peek() == Some(b'n') {
        s.skip_value()?;
        return Ok(None);
    }
    let text = s.number_text()?;
    let value = std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or(bad(field, "not a number"))?;
    if value.is_finite() {
        Ok(Some(value))
    } else {
        Err(bad(field, "not a finite number"))
    }
}

/// Parses one frame; `Ok(None)` when it is not an options ticker notification.
pub fn parse_ticker(frame: &[u8]) -> Result<Option<OptionTicker<'_>>, ParseError> {
    let mut s = Scanner::new(frame);
    s.begin_object()?;
    let (mut first, mut is_subscription, mut is_ticker, mut data) = (true, false, false, None);
    while let Some(key) = s.next_key(&mut first)? {
        match key {
            b"method" => is_subscription = s.string()? == b"subscription",
            b"params" => {
                s.begin_object()?;
                let mut first_param = true;
                while let Some(key) = s.next_key(&mut first_param)? {
                    match key {
                        b"channel" => is_ticker = s.string()?.starts_with(b"ticker."),
                        b"data" => data = Some(s.value_span()?),
                        _ => s.skip_value()?,
                    }
                }
            }
            _ => s.skip_value()?,
        }
    }
    s.end()?;
    match data {
        Some(data) if is_subscription && is_ticker => parse_ticker_data(data).map(Some),
        _ => Ok(None),
    }
}

fn parse_ticker_data(data: &[u8]) -> Result<OptionTicker<'_>, ParseError> {
    let mut s = Scanner::new(data);
    s.begin_object()?;
    let mut first = true;
    let (mut instrument, mut timestamp, mut underlying, mut index, mut mark, mut iv) = (None, None, None, None, None, None);
    let (mut rate, mut bid, mut ask, mut greeks) = (None, None, None, None);
    while let Some(key) = s.next_key(&mut first)? {
        match key {
            b"instrument_name" => instrument = Some(s.string()?),
            b"timestamp" => timestamp = Some(s.u64()?),
            b"underlying_price" => underlying = number(&mut s, "underlying_price")?,
            b"index_price" => index = number(&mut s, "index_price")?,
            b"mark_price" => mark = number(&mut s, "mark_price")?,
            b"mark_iv" => iv = number(&mut s, "mark_iv")?,
            b"interest_rate" => rate = number(&mut s, "interest_rate")?,
            b"best_bid_price" => bid = number(&mut s, "best_bid_price")?,
            b"best_ask_price" => ask = number(&mut s, "best_ask_price")?,
            b"greeks" => greeks = Some(parse_greeks(&mut s)?),
            _ => s.skip_value()?,
        }
    }
    s.end()?;
    let instrument = instrument.ok_or(ParseError::MissingField("instrument_name"))?;
    let name = parse_option_name(instrument).map_err(|e| bad("instrument_name", e.0))?;
    let timestamp_ms = timestamp.ok_or(ParseError::MissingField("timestamp"))?;
    if timestamp_ms >= name.expiry_ms {
        return Err(bad("timestamp", "at or after the series' expiry"));
    }
    let underlying_price = underlying.ok_or(ParseError::MissingField("underlying_price"))?;
    if underlying_price <= 0.0 {
        return Err(bad("underlying_price", "must be > 0"));
    }
    let mark_price = mark.ok_or(ParseError::MissingField("mark_price"))?;
    if mark_price < 0.0 {
        return Err(bad("mark_price", "must be ≥ 0"));
    }
    let mark_iv = iv.ok_or(ParseError::MissingField("mark_iv"))?;
    if !(mark_iv > 0.0 && mark_iv <= MAX_IV_PERCENT) {
        return Err(bad("mark_iv", "must be in (0, 1000] percent"));
    }
    let interest_rate = rate.unwrap_or(0.0);
    if !(-1.0..=1.0).contains(&interest_rate) {
        return Err(bad("interest_rate", "must be in [-1, 1]"));
    }
    let non_negative = |v: Option<f64>, field| match v {
        Some(p) if p < 0.0 => Err(bad(field, "must be ≥ 0")),
        v => Ok(v.unwrap_or(0.0)),
    };
    Ok(OptionTicker {
        instrument,
        name,
        timestamp_ms,
        underlying_price,
        index_price: non_negative(index, "index_price")?,
        mark_price,
        mark_iv,
        interest_rate,
        best_bid_price: non_negative(bid, "best_bid_price")?,
        best_ask_price: non_negative(ask, "best_ask_price")?,
        greeks: greeks.ok_or(ParseError::MissingField("greeks"))?,
    })
}

fn parse_greeks(s: &mut Scanner<'_>) -> Result<Greeks, ParseError> {
    s.begin_object()?;
    let mut first = true;
    let (mut delta, mut gamma, mut vega, mut theta) = (None, None, None, None);
    while let Some(key) = s.next_key(&mut first)? {
        match key {
            b"delta" => delta = number(s, "greeks.delta")?,
            b"gamma" => gamma = number(s, "greeks.gamma")?,
            b"vega" => vega = number(s, "greeks.vega")?,
            b"theta" => theta = number(s, "greeks.theta")?,
            _ => s.skip_value()?,
        }
    }
    Ok(Greeks {
        delta: delta.ok_or(ParseError::MissingField("greeks.delta"))?,
        gamma: gamma.ok_or(ParseError::MissingField("greeks.gamma"))?,
        vega: vega.ok_or(ParseError::MissingField("greeks.vega"))?,
        theta: theta.ok_or(ParseError::MissingField("greeks.theta"))?,
    })
}

#[cfg(test)]
#[path = "deribit_tests.rs"]
mod tests;
