//! Just enough HTTP/1.1 for a REST depth snapshot: one `GET` with
//! `Connection: close`, and an incremental response parser that understands
//! `Content-Length`, `Transfer-Encoding: chunked` and read-to-end-of-file bodies.

use url::Url;

/// Largest response accepted (headers and body), a guard against a runaway peer.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// The request bytes for `GET url` (path and query of `url`, `Host` from it).
pub fn get_request(url: &Url) -> Vec<u8> {
    let mut target = url.path().to_string();
    if let Some(query) = url.query() {
        target.push('?');
        target.push_str(query);
    }
    let host = url.host_str().unwrap_or("");
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: gavel/{}\r\nAccept: application/json\r\n\
         Accept-Encoding: identity\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// A complete HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// Status code, e.g. 200.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

/// Parses `bytes` received so far. `Ok(None)`: incomplete, read more (`eof` says
/// the peer has closed, which completes a body without a length). Errors name
/// what is wrong with the response.
pub fn parse_response(bytes: &[u8], eof: bool) -> Result<Option<Response>, String> {
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(format!("response larger than {MAX_RESPONSE_BYTES} bytes"));
    }
    let Some(head_len) = find(bytes, b"\r\n\r\n").map(|i| i + 4) else {
        return if eof { Err("connection closed before the response headers ended".into()) } else { Ok(None) };
    };
    let head = std::str::from_utf8(&bytes[..head_len - 4]).map_err(|_| "response headers are not UTF-8".to_string())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x status line: {status_line:?}"));
    }
    let status: u16 =
        parts.next().and_then(|code| code.parse().ok()).ok_or_else(|| format!("bad status code in {status_line:?}"))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {line:?}"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length {value:?}"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().split(',').any(|v| v.trim() == "chunked");
        }
    }
    let rest = &bytes[head_len..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err("connection closed inside a chunked body".into()),
            None => return Ok(None),
        }
    } else if let Some(len) = content_length {
        if rest.len() < len {
            if eof {
                return Err(format!("connection closed after {} of {len} body bytes", rest.len()));
            }
            return Ok(None);
        }
        rest[..len].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, body }))
}

/// Decodes a chunked body; `Ok(None)` while the final zero-length chunk is missing.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(rest, b"\r\n") else { return Ok(None) };
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "chunk size is not text".to_string())?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers (if any) end with an empty line; the body is complete either way
            // once the terminating chunk is seen, as the peer closes the connection.
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_path_query_and_host() {
        let url = Url::parse("https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000").unwrap();
        let text = String::from_utf8(get_request(&url)).unwrap();
        assert!(text.starts_with("GET /fapi/v1/depth?symbol=BTCUSDT&limit=1000 HTTP/1.1\r\nHost: fapi.binance.com\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
        let local = Url::parse("http://127.0.0.1:8123/x").unwrap();
        assert!(String::from_utf8(get_request(&local)).unwrap().contains("Host: 127.0.0.1:8123\r\n"));
    }

    #[test]
    fn content_length_bodies_complete_exactly() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\ncontent-length: 5\r\n\r\nhello";
        for cut in 0..full.len() {
            assert_eq!(parse_response(&full[..cut], false), Ok(None), "cut at {cut}");
        }
        assert_eq!(parse_response(full, false), Ok(Some(Response { status: 200, body: b"hello".to_vec() })));
        assert!(parse_response(&full[..full.len() - 1], true).unwrap_err().contains("4 of 5"));
    }

    #[test]
    fn chunked_and_close_delimited_bodies() {
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\na;x=1\r\n0123456789\r\n0\r\n\r\n";
        let body = parse_response(chunked, false).unwrap().unwrap().body;
        assert_eq!(body, b"abc0123456789");
        assert_eq!(parse_response(&chunked[..chunked.len() - 8], false), Ok(None));
        let until_eof = b"HTTP/1.0 429 Too Many Requests\r\n\r\n{\"code\":-1003}";
        assert_eq!(parse_response(until_eof, false), Ok(None));
        let resp = parse_response(until_eof, true).unwrap().unwrap();
        assert_eq!((resp.status, resp.body.as_slice()), (429, &b"{\"code\":-1003}"[..]));
    }

    #[test]
    fn malformed_responses_are_named() {
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n", false).unwrap_err().contains("status line"));
        assert!(parse_response(b"HTTP/1.1 abc OK\r\n\r\n", false).unwrap_err().contains("status code"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false)
            .unwrap_err()
            .contains("Content-Length"));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false)
            .unwrap_err()
            .contains("chunk size"));
        assert!(parse_response(b"HTTP/1.1 200", true).unwrap_err().contains("before the response headers"));
    }
}
