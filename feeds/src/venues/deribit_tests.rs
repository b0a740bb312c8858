use super::*;
use proptest::prelude::*;

/// A ticker as Deribit sends it (fields and layout of the 2021 recording; values made up).
fn frame(data: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","method":"subscription","params":{{"channel":"ticker.ETH-30JUL21-2800-C.raw","data":{data}}}}}"#)
}

const DATA: &str = r#"{"underlying_price":2003.5,"underlying_index":"ETH-30JUL21","timestamp":1626993723632,"stats":{"volume":869.0,"low":0.0015},"state":"open","mark_price":0.00197,"mark_iv":120.5,"interest_rate":0.0,"instrument_name":"ETH-30JUL21-2800-C","index_price":2006.25,"greeks":{"vega":0.2,"theta":-1.6,"rho":0.01,"gamma":0.0002,"delta":0.03125},"best_bid_price":0.0015,"best_bid_amount":4714.0,"best_ask_price":0.0025,"best_ask_amount":873.0}"#;

#[test]
fn a_ticker_parses_every_field() {
    let text = frame(DATA);
    let t = parse_ticker(text.as_bytes()).unwrap().expect("a ticker");
    assert_eq!(t.instrument, b"ETH-30JUL21-2800-C");
    assert_eq!(t.name.strike, 2800.0);
    assert_eq!(t.timestamp_ms, 1_626_993_723_632);
    assert_eq!((t.underlying_price, t.index_price, t.mark_price, t.mark_iv), (2003.5, 2006.25, 0.00197, 120.5));
    assert_eq!((t.best_bid_price, t.best_ask_price), (0.0015, 0.0025));
    assert_eq!(t.greeks, Greeks { delta: 0.03125, gamma: 0.0002, vega: 0.2, theta: -1.6 });
}

#[test]
fn other_frames_are_not_tickers() {
    let sub_result = r#"{"jsonrpc":"2.0","id":0,"result":["ticker.ETH-30JUL21-2800-C.raw"],"usIn":1}"#;
    assert_eq!(parse_ticker(sub_result.as_bytes()), Ok(None));
    let book = r#"{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.ETH-30JUL21-2800-C.raw","data":{"bids":[]}}}"#;
    assert_eq!(parse_ticker(book.as_bytes()), Ok(None));
}

#[test]
fn bad_values_name_their_field() {
    let cases = [
        ("\"mark_iv\":120.5", "\"mark_iv\":0", "mark_iv"),
        ("\"mark_iv\":120.5", "\"mark_iv\":1e400", "mark_iv"),
        ("\"underlying_price\":2003.5", "\"underlying_price\":-1", "underlying_price"),
        ("\"mark_price\":0.00197", "\"mark_price\":-0.1", "mark_price"),
        ("\"timestamp\":1626993723632", "\"timestamp\":1627632000000", "timestamp"),
        ("ETH-30JUL21-2800-C\",\"index", "ETH-30JUL21-0-C\",\"index", "instrument_name"),
        ("\"delta\":0.03125", "\"delta\":\"x\"", "greeks.delta"),
        ("\"delta\":0.03125", "\"dlta\":0.03125", "greeks.delta"),
        ("\"interest_rate\":0.0", "\"interest_rate\":5", "interest_rate"),
        ("\"best_ask_price\":0.0025", "\"best_ask_price\":-1", "best_ask_price"),
    ];
    for (from, to, field) in cases {
        assert!(DATA.contains(from), "{from}");
        let text = frame(&DATA.replace(from, to));
        let e = parse_ticker(text.as_bytes()).expect_err(to);
        assert_eq!(e.field(), field, "{to}: {e}");
    }
    let no_greeks = frame(&DATA.replace("\"greeks\"", "\"greeks_\""));
    assert_eq!(parse_ticker(no_greeks.as_bytes()).unwrap_err(), ParseError::MissingField("greeks"));
    // Best prices may be null (an empty side).
    let null_bid = frame(&DATA.replace("\"best_bid_price\":0.0015", "\"best_bid_price\":null"));
    assert_eq!(parse_ticker(null_bid.as_bytes()).unwrap().unwrap().best_bid_price, 0.0);
    let whole = frame(DATA);
    assert!(parse_ticker(&whole.as_bytes()[..100]).is_err());
}

proptest! {
    #[test]
    fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_ticker(&bytes);
    }

    #[test]
    fn mutated_tickers_never_panic(cut in 0usize..600, byte in any::<u8>()) {
        let mut text = frame(DATA).into_bytes();
        let at = cut % text.len();
        text[at] = byte;
        let _ = parse_ticker(&text);
    }
}
