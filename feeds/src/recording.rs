//! Readers for third-party market-data recordings, auto-detected.
//!
//! | format | first line | record lines |
//! |---|---|---|
//! | hftbacktest | `<recv ts> {json}` | `<recv ts> {json}`; ts in ns (2024) or µs (2023), told apart by magnitude |
//! | cryptofeed | `<url> <-> <recv s>` | `<recv s>: {json}` received; `<url> -> <s>: {json}` REST; `<url> <- <s>: {json}` sent |
//! | cryptofeed v3 | `{"t":"header",…}` | JSON lines: `t` = `recv`/`http`/`send`/`connect`, `ts` seconds, `data` = frame as a JSON string |
//!
//! `.gz` files (gzip magic bytes, whatever the name) are decompressed on the fly.
//!
//! Bad-input policy: a record line that cannot be split into time and payload is
//! a [`RecordError::Bad`] naming file, line and field; the reader counts it and
//! the caller continues with the next line (skip-and-count). An unrecognisable
//! first line, an I/O error or a corrupt/truncated gzip stream is a
//! [`RecordError::Fatal`]: the file is abandoned (stop).

use crate::decimal::Grid;
use crate::input_error::{InputError, Location};
use crate::json_scan::{unescape_into, Scanner};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The recording layouts this module reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// hftbacktest collector: `<timestamp> <json>`.
    Hftbacktest,
    /// cryptofeed recorder (master): `<url> <-> <ts>` then `<ts>: <json>`.
    Cryptofeed,
    /// cryptofeed v3 recorder: JSON lines with `t`, `ts`, `data`.
    CryptofeedV3,
}

/// What a record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// A message received from the venue's stream.
    Received,
    /// A REST response (depth snapshot, instrument metadata).
    RestResponse,
    /// A message the recorder sent (subscriptions).
    Sent,
    /// A connection opened (no payload).
    Connect,
    /// A recording header (no market data).
    Header,
}

/// One record, borrowing the reader's buffers until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// 1-based line number in the (decompressed) file.
    pub line: u64,
    /// Local receive time, ns since the Unix epoch.
    pub receive_ns: i64,
    /// What the record is.
    pub kind: RecordKind,
    /// URL of the request or connection, when the format gives one (else empty);
    /// for cryptofeed v3 `recv` records, the address of the record's connection.
    pub url: &'a [u8],
    /// The message bytes (JSON as the venue sent it).
    pub payload: &'a [u8],
}

/// A record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// A bad line; skip it and continue (the reader has counted it).
    Bad(InputError),
    /// The file cannot be read further; stop.
    Fatal(InputError),
}

impl RecordError {
    /// The underlying error.
    pub fn input_error(&self) -> &InputError {
        match self {
            RecordError::Bad(e) | RecordError::Fatal(e) => e,
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Bad(e) => write!(f, "{e} (line skipped)"),
            RecordError::Fatal(e) => write!(f, "{e} (file abandoned)"),
        }
    }
}

impl std::error::Error for RecordError {}

/// Reads records one at a time from a recording.
pub struct RecordingReader {
    source: String,
    input: Box<dyn BufRead>,
    format: Format,
    line_buf: Vec<u8>,
    payload_buf: Vec<u8>,
    url_buf: Vec<u8>,
    pending_first: bool,
    /// cryptofeed v3: connection name → WebSocket address, from `connect` records.
    connections: Vec<(Vec<u8>, Vec<u8>)>,
    conn_buf: Vec<u8>,
    line: u64,
    finished: bool,
    /// Records returned.
    pub records: u64,
    /// Bad lines skipped.
    pub bad_lines: u64,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl RecordingReader {
    /// Opens a recording file, detecting gzip and the format.
    pub fn open(path: &Path) -> Result<Self, InputError> {
        let name = path.display().to_string();
        let file = File::open(path)
            .map_err(|e| InputError::new(&name, Location::Offset(0), "<file>", e.to_string()))?;
        Self::from_reader(name, file)
    }

    /// Wraps any byte source (gzip detected by its magic bytes).
    pub fn from_reader(
        source: impl Into<String>,
        reader: impl Read + 'static,
    ) -> Result<Self, InputError> {
        let source = source.into();
        let mut buffered = BufReader::with_capacity(1 << 16, reader);
        let head = buffered
            .fill_buf()
            .map_err(|e| InputError::new(&source, Location::Offset(0), "<file>", e.to_string()))?;
        let input: Box<dyn BufRead> = if head.starts_with(&GZIP_MAGIC) {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        let mut reader = RecordingReader {
            source,
            input,
            format: Format::Hftbacktest,
            line_buf: Vec::with_capacity(1 << 16),
            payload_buf: Vec::with_capacity(1 << 16),
            url_buf: Vec::new(),
            pending_first: false,
            connections: Vec::new(),
            conn_buf: Vec::new(),
            line: 0,
            finished: false,
            records: 0,
            bad_lines: 0,
        };
        reader.read_line().map_err(|e| match e {
            RecordError::Bad(e) | RecordError::Fatal(e) => e,
        })?;
        reader.format = detect(&reader.line_buf).ok_or_else(|| {
            InputError::new(
                &reader.source,
                Location::Line(1),
                "<header>",
                "not a known recording format (hftbacktest, cryptofeed, cryptofeed v3)",
            )
        })?;
        reader.pending_first = !reader.finished || !reader.line_buf.is_empty();
        Ok(reader)
    }

    /// The detected format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The file name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// v3: remembers a connection's address, or gives a record its connection's address.
    fn resolve_connection(&mut self, kind: RecordKind) {
        match kind {
            RecordKind::Connect => {
                if let Some(entry) = self
                    .connections
                    .iter_mut()
                    .find(|(c, _)| *c == self.conn_buf)
                {
                    entry.1.clone_from(&self.url_buf);
                } else {
                    self.connections
                        .push((self.conn_buf.clone(), self.url_buf.clone()));
                }
            }
            RecordKind::Received | RecordKind::Sent => {
                self.url_buf.clear();
                if let Some((_, addr)) = self.connections.iter().find(|(c, _)| *c == self.conn_buf)
                {
                    self.url_buf.extend_from_slice(addr);
                }
            }
            _ => {}
        }
    }

    /// Reads the next line into `line_buf` (without its newline). Sets
    /// `finished` at end of input; a last line without newline is an error.
    fn read_line(&mut self) -> Result<bool, RecordError> {
        self.line_buf.clear();
        if self.finished {
            return Ok(false);
        }
        let n = self
            .input
            .read_until(b'\n', &mut self.line_buf)
            .map_err(|e| {
                self.finished = true;
                RecordError::Fatal(InputError::new(
                    &self.source,
                    Location::Line(self.line + 1),
                    "<file>",
                    format!("read failed (corrupt or truncated file?): {e}"),
                ))
            })?;
        if n == 0 {
            self.finished = true;
            return Ok(false);
        }
        self.line += 1;
        if self.line_buf.last() == Some(&b'\n') {
            self.line_buf.pop();
            if self.line_buf.last() == Some(&b'\r') {
                self.line_buf.pop();
            }
        } else {
            // A final line cut short: the file ends mid-record.
            self.finished = true;
            self.bad_lines += 1;
            return Err(RecordError::Bad(InputError::new(
                &self.source,
                Location::Line(self.line),
                "<record>",
                "file ends mid-record (no newline after the last line)",
            )));
        }
        Ok(true)
    }

    /// The next record; `Ok(None)` at the end. After `Err(Bad)` call again to
    /// continue; after `Err(Fatal)` the reader returns `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        loop {
            if self.pending_first {
                self.pending_first = false;
            } else if !self.read_line()? {
                return Ok(None);
            }
            if self.line_buf.is_empty() {
                continue;
            }
            let parsed = match self.format {
                Format::Hftbacktest => split_hftbacktest(&self.line_buf),
                Format::Cryptofeed => split_cryptofeed(&self.line_buf, &mut self.url_buf),
                Format::CryptofeedV3 => {
                    self.payload_buf.clear();
                    self.conn_buf.clear();
                    let split = split_v3(
                        &self.line_buf,
                        &mut self.payload_buf,
                        &mut self.url_buf,
                        &mut self.conn_buf,
                    );
                    if let Ok(split) = &split {
                        self.resolve_connection(split.kind);
                    }
                    split
                }
            };
            match parsed {
                Ok(split) => {
                    self.records += 1;
                    let payload = match split.payload {
                        Payload::Line(start, end) => &self.line_buf[start..end],
                        Payload::Buffer => &self.payload_buf[..],
                    };
                    return Ok(Some(Record {
                        line: self.line,
                        receive_ns: split.receive_ns,
                        kind: split.kind,
                        url: &self.url_buf,
                        payload,
                    }));
                }
                Err((field, message)) => {
                    self.bad_lines += 1;
                    return Err(RecordError::Bad(InputError::new(
                        &self.source,
                        Location::Line(self.line),
                        field,
                        message,
                    )));
                }
            }
        }
    }
}

enum Payload {
    Line(usize, usize),
    Buffer,
}

struct Split {
    receive_ns: i64,
    kind: RecordKind,
    payload: Payload,
}

type SplitError = (&'static str, String);

fn detect(first: &[u8]) -> Option<Format> {
    if first.starts_with(b"{") {
        return if first.windows(4).any(|w| w == br#""t":"#) {
            Some(Format::CryptofeedV3)
        } else {
            None
        };
    }
    let digits = first.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits >= 9 && first.get(digits) == Some(&b' ') && first.get(digits + 1) == Some(&b'{') {
        return Some(Format::Hftbacktest);
    }
    let has = |needle: &[u8]| first.windows(needle.len()).any(|w| w == needle);
    if has(b" <-> ") || has(b" -> ") || (digits > 0 && has(b": {")) {
        return Some(Format::Cryptofeed);
    }
    None
}

/// Integer timestamp → ns, unit told by magnitude (s, ms, µs or ns since 1970).
fn integer_ts_to_ns(ts: u64) -> Option<i64> {
    let ns = if ts >= 100_000_000_000_000_000 {
        ts
    } else if ts >= 100_000_000_000_000 {
        ts.checked_mul(1_000)?
    } else if ts >= 100_000_000_000 {
        ts.checked_mul(1_000_000)?
    } else {
        ts.checked_mul(1_000_000_000)?
    };
    i64::try_from(ns).ok()
}

/// Decimal seconds (`1626992741.06217`) → ns, exactly (up to 9 places).
fn seconds_to_ns(text: &[u8]) -> Result<i64, SplitError> {
    let grid = Grid::with_decimals(9).expect("9 decimals");
    grid.parse(text).map_err(|e| {
        (
            "ts",
            format!("bad timestamp {:?}: {e}", String::from_utf8_lossy(text)),
        )
    })
}

fn split_hftbacktest(line: &[u8]) -> Result<Split, SplitError> {
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(("ts", "no space after the timestamp".to_string()))?;
    let ts_text = &line[..space];
    let mut s = Scanner::new(ts_text);
    let ts = s
        .u64()
        .ok()
        .filter(|_| s.end().is_ok())
        .ok_or(("ts", "timestamp is not an integer".to_string()))?;
    let receive_ns = integer_ts_to_ns(ts).ok_or(("ts", "timestamp out of range".to_string()))?;
    Ok(Split {
        receive_ns,
        kind: RecordKind::Received,
        payload: Payload::Line(space + 1, line.len()),
    })
}

fn split_cryptofeed(line: &[u8], url: &mut Vec<u8>) -> Result<Split, SplitError> {
    if line.first().is_some_and(u8::is_ascii_digit) {
        let colon = find(line, b": ").ok_or(("ts", "no ': ' after the timestamp".to_string()))?;
        let receive_ns = seconds_to_ns(&line[..colon])?;
        return Ok(Split {
            receive_ns,
            kind: RecordKind::Received,
            payload: Payload::Line(colon + 2, line.len()),
        });
    }
    let space = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(("url", "no space after the URL".to_string()))?;
    let rest = &line[space + 1..];
    let (kind, arrow_len) = if rest.starts_with(b"<-> ") {
        (RecordKind::Connect, 4)
    } else if rest.starts_with(b"-> ") {
        (RecordKind::RestResponse, 3)
    } else if rest.starts_with(b"<- ") {
        (RecordKind::Sent, 3)
    } else {
        return Err((
            "direction",
            "expected '<->', '->' or '<-' after the URL".to_string(),
        ));
    };
    url.clear();
    url.extend_from_slice(&line[..space]);
    let after = space + 1 + arrow_len;
    if kind == RecordKind::Connect {
        let receive_ns = seconds_to_ns(&line[after..])?;
        return Ok(Split {
            receive_ns,
            kind,
            payload: Payload::Line(line.len(), line.len()),
        });
    }
    let colon = find(&line[after..], b": ")
        .ok_or(("ts", "no ': ' after the timestamp".to_string()))?
        + after;
    let receive_ns = seconds_to_ns(&line[after..colon])?;
    Ok(Split {
        receive_ns,
        kind,
        payload: Payload::Line(colon + 2, line.len()),
    })
}

fn split_v3(
    line: &[u8],
    payload: &mut Vec<u8>,
    url: &mut Vec<u8>,
    conn: &mut Vec<u8>,
) -> Result<Split, SplitError> {
    let json_err = |e: crate::json_scan::ScanError| ("<json>", e.to_string());
    let mut s = Scanner::new(line);
    s.begin_object().map_err(json_err)?;
    let mut first = true;
    let (mut kind, mut ts, mut data) = (None, None, None);
    while let Some(key) = s.next_key(&mut first).map_err(json_err)? {
        match key {
            b"t" => {
                kind = Some(match s.string().map_err(json_err)? {
                    b"recv" => RecordKind::Received,
                    b"http" => RecordKind::RestResponse,
                    b"send" => RecordKind::Sent,
                    b"connect" => RecordKind::Connect,
                    b"header" => RecordKind::Header,
                    _ => return Err(("t", "unknown record type".to_string())),
                })
            }
            b"ts" => ts = Some(s.number_text().map_err(json_err)?),
            b"conn" => conn.extend_from_slice(s.string().map_err(json_err)?),
            b"url" | b"addr" => {
                let raw = s.string().map_err(json_err)?;
                url.clear();
                unescape_into(raw, url).map_err(json_err)?;
            }
            b"data" if s.peek() == Some(b'"') => data = Some(s.string().map_err(json_err)?),
            _ => s.skip_value().map_err(json_err)?,
        }
    }
    s.end().map_err(json_err)?;
    let kind = kind.ok_or(("t", "missing record type".to_string()))?;
    let receive_ns = match ts {
        Some(text) => seconds_to_ns(text)?,
        None if kind == RecordKind::Header => 0,
        None => return Err(("ts", "missing receive time".to_string())),
    };
    if let Some(raw) = data {
        unescape_into(raw, payload).map_err(|e| ("data", e.to_string()))?;
    }
    Ok(Split {
        receive_ns,
        kind,
        payload: Payload::Buffer,
    })
}

/// True when `needle` occurs in `haystack` (a byte search over raw records).
pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of `key` in a URL's query string (`…?symbol=BTCUSDT&limit=1000`).
pub fn url_query_param<'a>(url: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let query = &url[url.iter().position(|&b| b == b'?')? + 1..];
    query.split(|&b| b == b'&').find_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        (pair[..eq] == *key).then(|| &pair[eq + 1..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    proptest! {
        #[test]
        fn no_byte_string_panics_and_reading_terminates(
            head in prop_oneof![Just(&b"1723161255030314667 "[..]), Just(&b"wss://x <-> 1.5\n"[..]), Just(&b"{\"t\":\"recv\",\"ts\":1,\"data\":\""[..])],
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut text = head.to_vec();
            text.extend_from_slice(&bytes);
            if let Ok(mut r) = reader(&text) {
                let mut steps = 0;
                loop {
                    match r.next_record() {
                        Ok(Some(_)) | Err(RecordError::Bad(_)) => {}
                        Ok(None) | Err(RecordError::Fatal(_)) => break,
                    }
                    steps += 1;
                    prop_assert!(steps <= text.len() + 2, "reader does not terminate");
                }
            }
        }
    }

    fn reader(bytes: &[u8]) -> Result<RecordingReader, InputError> {
        RecordingReader::from_reader("test", Cursor::new(bytes.to_vec()))
    }

    #[test]
    fn hftbacktest_lines_with_ns_and_us_stamps() {
        let mut r = reader(b"1723161255030314667 {\"a\":1}\n1680652700423575 {\"b\":2}\n").unwrap();
        assert_eq!(r.format(), Format::Hftbacktest);
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(
            (rec.receive_ns, rec.payload, rec.line),
            (1_723_161_255_030_314_667, &b"{\"a\":1}"[..], 1)
        );
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.receive_ns, 1_680_652_700_423_575_000);
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn cryptofeed_lines_keep_the_url() {
        let text = b"wss://x/stream <-> 1626992740.179554\n1626992741.06217: {\"a\":1}\nhttps://f/depth?symbol=SUSHIUSDT&limit=1000 -> 1626992741.301402: {\"b\":2}\n";
        let mut r = reader(text).unwrap();
        assert_eq!(r.format(), Format::Cryptofeed);
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(
            (rec.kind, rec.url),
            (RecordKind::Connect, &b"wss://x/stream"[..])
        );
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(
            (rec.kind, rec.receive_ns, rec.payload),
            (
                RecordKind::Received,
                1_626_992_741_062_170_000,
                &b"{\"a\":1}"[..]
            )
        );
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(rec.kind, RecordKind::RestResponse);
        assert_eq!(url_query_param(rec.url, b"symbol"), Some(&b"SUSHIUSDT"[..]));
    }

    #[test]
    fn v3_lines_unescape_the_frame() {
        let text = b"{\"t\":\"header\",\"format\":2}\n{\"t\":\"recv\",\"conn\":\"c\",\"ts\":1786310819.526357,\"data\":\"{\\\"topic\\\":\\\"x\\\"}\"}\n";
        let mut r = reader(text).unwrap();
        assert_eq!(r.format(), Format::CryptofeedV3);
        assert_eq!(r.next_record().unwrap().unwrap().kind, RecordKind::Header);
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(
            (rec.payload, rec.receive_ns),
            (&br#"{"topic":"x"}"#[..], 1_786_310_819_526_357_000)
        );
    }

    #[test]
    fn bad_lines_are_counted_and_skipped_and_a_cut_file_is_reported() {
        let mut r = reader(
            b"1723161255030314667 {}\nxx {}\n1723161255030314668 {}\n1723161255030314669 {\"cut",
        )
        .unwrap();
        assert!(r.next_record().unwrap().is_some());
        let err = r.next_record().unwrap_err();
        assert!(
            matches!(&err, RecordError::Bad(e) if e.location == Location::Line(2) && e.field == "ts"),
            "{err}"
        );
        assert_eq!(r.next_record().unwrap().unwrap().line, 3);
        let err = r.next_record().unwrap_err();
        assert!(err.to_string().contains("mid-record"), "{err}");
        assert!(r.next_record().unwrap().is_none());
        assert_eq!(r.bad_lines, 2);
    }

    #[test]
    fn unknown_header_and_corrupt_gzip_stop() {
        assert!(reader(b"hello world\n").is_err());
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            for i in 0..2000u64 {
                writeln!(enc, "{} {{\"i\":{i}}}", 1_723_161_255_030_314_667u64 + i).unwrap();
            }
            enc.finish().unwrap();
        }
        gz.truncate(gz.len() / 2);
        let mut r = reader(&gz).unwrap();
        let mut fatal = false;
        for _ in 0..5000 {
            match r.next_record() {
                Ok(Some(_)) | Err(RecordError::Bad(_)) => {}
                Ok(None) => break,
                Err(RecordError::Fatal(_)) => fatal = true,
            }
        }
        assert!(fatal, "a truncated gzip stream must be reported as fatal");
    }
}
