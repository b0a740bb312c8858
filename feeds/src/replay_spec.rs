//! The instrument spec of a replay (`gavel replay`, `gen accounts`): tick and
//! lot grids from venue metadata, else from the decimals of the first depth
//! snapshot in the recordings, and the places the venue prints values with.

use std::path::{Path, PathBuf};

use crate::decimal::{fraction_places, Grid};
use crate::recording::{contains, url_query_param, RecordError, RecordingReader};
use crate::venues::InstrumentSpec;

/// Builds an instrument spec: grids from `venue_info` (Binance `exchangeInfo`:
/// `PRICE_FILTER.tickSize`, `LOT_SIZE.stepSize`) when given, else inferred from
/// the decimal places of the first depth snapshot found in `sources`; print
/// places from that snapshot when one is found.
pub fn resolve_spec(
    symbol: &str,
    id: u32,
    venue_info: Option<&Path>,
    sources: &[PathBuf],
    url_filter: Option<&str>,
) -> Result<InstrumentSpec, String> {
    let from_snapshot = first_snapshot_places(symbol, sources, url_filter)?;
    let mut spec = match venue_info {
        Some(path) => {
            let (tick, step) = binance_filters(path, symbol)?;
            let price = Grid::from_step(&tick)
                .map_err(|e| format!("{}: tickSize {tick:?}: {e}", path.display()))?;
            let qty = Grid::from_step(&step)
                .map_err(|e| format!("{}: stepSize {step:?}: {e}", path.display()))?;
            let mut spec = InstrumentSpec::new(symbol, id, price, qty);
            spec.price_places = fraction_places(tick.as_bytes()).unwrap_or(price.decimals());
            spec.qty_places = fraction_places(step.as_bytes()).unwrap_or(qty.decimals());
            spec
        }
        None => {
            let (pp, qp, _) = from_snapshot.ok_or_else(|| {
                format!("no depth snapshot for {symbol} in the inputs and no --venue-info: cannot tell the price grid")
            })?;
            let price = Grid::with_decimals(pp).map_err(|e| e.to_string())?;
            let qty = Grid::with_decimals(qp).map_err(|e| e.to_string())?;
            InstrumentSpec::new(symbol, id, price, qty)
        }
    };
    if let Some((pp, qp, fixed)) = from_snapshot {
        spec.price_places = pp.max(spec.price.decimals());
        spec.qty_places = qp.max(spec.qty.decimals());
        spec.print_shortest = !fixed;
    }
    Ok(spec)
}

/// Largest decimal places of prices and quantities in the first depth
/// snapshot of `symbol` (Binance REST `lastUpdateId` shape or a Bybit
/// `orderbook.*` snapshot).
fn first_snapshot_places(
    symbol: &str,
    sources: &[PathBuf],
    url_filter: Option<&str>,
) -> Result<Option<(u8, u8, bool)>, String> {
    for path in sources {
        let mut reader = RecordingReader::open(path).map_err(|e| e.to_string())?;
        loop {
            let rec = match reader.next_record() {
                Ok(Some(rec)) => rec,
                Ok(None) => break,
                Err(RecordError::Bad(_)) => continue,
                Err(RecordError::Fatal(e)) => return Err(e.to_string()),
            };
            let binance = contains(rec.payload, b"lastUpdateId");
            let bybit = !binance
                && contains(rec.payload, b"\"orderbook.")
                && contains(rec.payload, b"\"snapshot\"");
            let okx = !binance
                && !bybit
                && contains(rec.payload, b"\"books")
                && contains(rec.payload, b"\"snapshot\"");
            if !binance
                && contains(rec.payload, b"\"orderBookL2_")
                && contains(rec.payload, b"\"snapshot\"")
            {
                if let Some(found) = bybit_v2_snapshot_places(rec.payload, symbol) {
                    return Ok(Some(found));
                }
                continue;
            }
            let coinbase_at = !binance
                && contains(rec.payload, b"\"l2_data\"")
                && contains(rec.payload, b"\"snapshot\"");
            let coinbase_pro = !binance
                && contains(rec.payload, b"\"type\":\"snapshot\"")
                && contains(rec.payload, b"\"product_id\"");
            if coinbase_at || coinbase_pro {
                if let Some(found) = coinbase_snapshot_places(rec.payload, symbol) {
                    return Ok(Some(found));
                }
                continue;
            }
            // Coinbase level-3 REST book: `{"sequence":…,"bids":[[price,size,order_id],…],…}`.
            let coinbase_l3 = !binance
                && contains(rec.payload, b"\"sequence\"")
                && contains(rec.payload, b"\"bids\"")
                && !contains(rec.payload, b"\"type\"");
            if !(binance || bybit || okx || coinbase_l3) {
                continue;
            }
            if let Some(filter) = url_filter {
                if !rec.url.is_empty() && !contains(rec.url, filter.as_bytes()) {
                    continue;
                }
            }
            if let Some(h) = url_query_param(rec.url, b"symbol") {
                if !h.eq_ignore_ascii_case(symbol.as_bytes()) {
                    continue;
                }
            }
            let value: serde_json::Value = match serde_json::from_slice(rec.payload) {
                Ok(v) => v,
                Err(_) => continue,
            };
            let (book, sym, sides) = if binance || coinbase_l3 {
                (&value, value.get("symbol"), ["bids", "asks"])
            } else if okx {
                let Some(data) = value.get("data").and_then(|d| d.get(0)) else {
                    continue;
                };
                (
                    data,
                    value.get("arg").and_then(|a| a.get("instId")),
                    ["bids", "asks"],
                )
            } else {
                let Some(data) = value.get("data") else {
                    continue;
                };
                (data, data.get("s"), ["b", "a"])
            };
            if let Some(s) = sym.and_then(|s| s.as_str()) {
                if !s.eq_ignore_ascii_case(symbol) {
                    continue;
                }
            }
            let (mut pp, mut qp) = (0u8, 0u8);
            // Fixed printing: every price has the same places, and so has every quantity.
            let (mut price_set, mut qty_set) = (None, None);
            let mut fixed = true;
            for side in sides {
                for level in book
                    .get(side)
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
                {
                    let text = |i: usize| {
                        level
                            .get(i)
                            .and_then(|v| v.as_str())
                            .and_then(|t| fraction_places(t.as_bytes()))
                    };
                    let (p, q) = (text(0).unwrap_or(0), text(1).unwrap_or(0));
                    fixed &= *price_set.get_or_insert(p) == p && *qty_set.get_or_insert(q) == q;
                    pp = pp.max(p);
                    qp = qp.max(q);
                }
            }
            return Ok(Some((pp, qp, fixed)));
        }
    }
    Ok(None)
}

/// Places in a Coinbase snapshot frame (Advanced Trade `l2_data` or Exchange
/// `snapshot`) for `symbol`, with whether the printing is fixed.
fn coinbase_snapshot_places(payload: &[u8], symbol: &str) -> Option<(u8, u8, bool)> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    if let Some(events) = value.get("events").and_then(|e| e.as_array()) {
        for event in events {
            let product = event.get("product_id").and_then(|p| p.as_str());
            if event.get("type").and_then(|t| t.as_str()) != Some("snapshot")
                || !product.is_some_and(|p| p.eq_ignore_ascii_case(symbol))
            {
                continue;
            }
            for u in event
                .get("updates")
                .and_then(|u| u.as_array())
                .into_iter()
                .flatten()
            {
                if let (Some(p), Some(q)) = (
                    u.get("price_level").and_then(|v| v.as_str()),
                    u.get("new_quantity").and_then(|v| v.as_str()),
                ) {
                    pairs.push((p, q));
                }
            }
        }
    } else if value
        .get("product_id")
        .and_then(|p| p.as_str())
        .is_some_and(|p| p.eq_ignore_ascii_case(symbol))
    {
        for side in ["bids", "asks"] {
            for level in value
                .get(side)
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                if let (Some(p), Some(q)) = (
                    level.get(0).and_then(|v| v.as_str()),
                    level.get(1).and_then(|v| v.as_str()),
                ) {
                    pairs.push((p, q));
                }
            }
        }
    }
    let first = pairs.first()?;
    let places = |t: &str| fraction_places(t.as_bytes()).unwrap_or(0);
    let (p0, q0) = (places(first.0), places(first.1));
    let fixed = pairs
        .iter()
        .all(|(p, q)| places(p) == p0 && places(q) == q0);
    let pp = pairs.iter().map(|(p, _)| places(p)).max()?;
    let qp = pairs.iter().map(|(_, q)| places(q)).max()?;
    Some((pp, qp, fixed))
}

/// Places in a Bybit v2 `orderBookL2_*` snapshot of `symbol`, with whether
/// the printing is fixed. v2 sizes are JSON floats, so their places are those
/// of the numbers as written (pass the `symbols` metadata for the real lot grid).
fn bybit_v2_snapshot_places(payload: &[u8], symbol: &str) -> Option<(u8, u8, bool)> {
    let value: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let topic = value.get("topic")?.as_str()?;
    let (_, topic_symbol) = topic.split_once('.')?;
    if !topic_symbol.eq_ignore_ascii_case(symbol) {
        return None;
    }
    let data = value.get("data")?;
    let levels = data.get("order_book").unwrap_or(data).as_array()?;
    let mut pairs = Vec::new();
    for level in levels {
        let price = match level.get("price")? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let size = match level.get("size")? {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        pairs.push((price, size));
    }
    let places = |t: &str| fraction_places(t.as_bytes()).unwrap_or(0);
    let first = pairs.first()?;
    let (p0, q0) = (places(&first.0), places(&first.1));
    let fixed = pairs.iter().all(|(p, q)| places(p) == p0 && places(q) == q0);
    let pp = pairs.iter().map(|(p, _)| places(p)).max()?;
    let qp = pairs.iter().map(|(_, q)| places(q)).max()?;
    Some((pp, qp, fixed))
}

/// `(tick, step)` of `symbol` in a Binance `exchangeInfo` file (raw JSON or a
/// recording), or in a Bybit v2 `symbols` response (`result[].name`,
/// `price_filter.tick_size`, `lot_size_filter.qty_step`).
pub fn binance_filters(path: &Path, symbol: &str) -> Result<(String, String), String> {
    let text = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json_start = if text.first() == Some(&b'{') {
        0
    } else {
        // cryptofeed REST line: `<url> -> <ts>: {json}`
        text.windows(3)
            .position(|w| w == b": {")
            .map(|p| p + 2)
            .ok_or_else(|| format!("{}: no JSON found", path.display()))?
    };
    let end = text[json_start..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| json_start + p);
    let info: serde_json::Value = serde_json::from_slice(&text[json_start..end])
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(result) = info.get("result").and_then(|r| r.as_array()) {
        let entry = result
            .iter()
            .find(|s| {
                s.get("name")
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| v.eq_ignore_ascii_case(symbol))
            })
            .ok_or_else(|| format!("{}: symbol {symbol} not listed", path.display()))?;
        let field = |group: &str, key: &str| match entry.get(group).and_then(|g| g.get(key)) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
            _ => Err(format!("{}: {symbol} has no {group}.{key}", path.display())),
        };
        return Ok((
            field("price_filter", "tick_size")?,
            field("lot_size_filter", "qty_step")?,
        ));
    }
    let symbols = info
        .get("symbols")
        .and_then(|s| s.as_array())
        .ok_or_else(|| format!("{}: no `symbols`", path.display()))?;
    let entry = symbols
        .iter()
        .find(|s| {
            s.get("symbol")
                .and_then(|v| v.as_str())
                .is_some_and(|v| v.eq_ignore_ascii_case(symbol))
        })
        .ok_or_else(|| format!("{}: symbol {symbol} not listed", path.display()))?;
    let filters = entry
        .get("filters")
        .and_then(|f| f.as_array())
        .ok_or_else(|| format!("{}: {symbol} has no filters", path.display()))?;
    let field = |kind: &str, key: &str| {
        filters
            .iter()
            .find(|f| f.get("filterType").and_then(|v| v.as_str()) == Some(kind))
            .and_then(|f| f.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| format!("{}: {symbol} has no {kind}.{key}", path.display()))
    };
    Ok((
        field("PRICE_FILTER", "tickSize")?,
        field("LOT_SIZE", "stepSize")?,
    ))
}
