//! A minimal, allocation-free JSON scanner for the known venue message shapes.
//!
//! Venue parsers walk a message once with a [`Scanner`]: object keys come out
//! as raw byte slices, values are read as the type the shape expects (string
//! bytes, unsigned integer, boolean) or skipped. Strings are returned raw,
//! without unescaping: every field a parser reads (numbers as text, symbols,
//! enum words) is plain ASCII, and a backslash in one of them is refused by
//! the parser that reads it. Nothing is allocated and nothing panics on any
//! input; every malformed byte is a [`ScanError`] with its offset.

use std::fmt;

/// Maximum nesting of arrays and objects accepted by [`Scanner::skip_value`].
pub const MAX_DEPTH: usize = 64;

/// What went wrong while scanning, and at which byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset of the offending input.
    pub offset: usize,
    /// What the scanner expected there.
    pub expected: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed JSON at byte {}: expected {}",
            self.offset, self.expected
        )
    }
}

impl std::error::Error for ScanError {}

/// A cursor over one JSON text.
#[derive(Clone, Debug)]
pub struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `buf`.
    #[inline]
    pub fn new(buf: &'a [u8]) -> Self {
        Scanner { buf, pos: 0 }
    }

    /// Current byte offset.
    #[inline]
    pub fn offset(&self) -> usize {
        self.pos
    }

    #[inline]
    fn err(&self, expected: &'static str) -> ScanError {
        ScanError {
            offset: self.pos,
            expected,
        }
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), ScanError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    /// Consumes `{`.
    #[inline]
    pub fn begin_object(&mut self) -> Result<(), ScanError> {
        self.expect(b'{', "'{'")
    }

    /// Consumes `[`.
    #[inline]
    pub fn begin_array(&mut self) -> Result<(), ScanError> {
        self.expect(b'[', "'['")
    }

    /// Inside an object: the next key (its `:` consumed), or `None` at the
    /// closing `}` (consumed). `first` tracks whether a comma is due.
    #[inline]
    pub fn next_key(&mut self, first: &mut bool) -> Result<Option<&'a [u8]>, ScanError> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                return Ok(None);
            }
            Some(b',') if !*first => self.pos += 1,
            Some(_) if *first => {}
            _ => return Err(self.err("',' or '}'")),
        }
        *first = false;
        let key = self.string()?;
        self.expect(b':', "':'")?;
        Ok(Some(key))
    }

    /// Inside an array: `true` when another element follows (its leading
    /// comma consumed), `false` at the closing `]` (consumed).
    #[inline]
    pub fn next_element(&mut self, first: &mut bool) -> Result<bool, ScanError> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            Some(b',') if !*first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if *first => {
                *first = false;
                Ok(true)
            }
            _ => Err(self.err("',' or ']'")),
        }
    }

    /// A string's raw bytes between the quotes (escapes left as written).
    #[inline]
    pub fn string(&mut self) -> Result<&'a [u8], ScanError> {
        self.expect(b'"', "'\"'")?;
        let start = self.pos;
        // Eight bytes at a time while no quote, backslash or control byte is among them.
        while let Some(chunk) = self.buf.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("8-byte slice"));
            if has_special_byte(word) {
                break;
            }
            self.pos += 8;
        }
        loop {
            match self.buf.get(self.pos) {
                None => return Err(self.err("closing '\"'")),
                Some(b'"') => {
                    let s = &self.buf[start..self.pos];
                    self.pos += 1;
                    return Ok(s);
                }
                Some(b'\\') => self.pos += 2,
                Some(&b) if b < 0x20 => return Err(self.err("no control character in a string")),
                Some(_) => self.pos += 1,
            }
        }
    }

    /// Fast path for a compact `["text","text"]` pair (no whitespace, no
    /// escapes), as Binance writes price levels. Returns `None` without moving
    /// when the input has any other form; the caller then takes the general path.
    #[inline]
    pub fn compact_pair(&mut self) -> Option<(&'a [u8], &'a [u8])> {
        let buf = self.buf;
        let mut i = self.pos;
        if buf.get(i..i + 2)? != b"[\"" {
            return None;
        }
        i += 2;
        let first_start = i;
        i = plain_string_end(buf, i)?;
        let first = &buf[first_start..i];
        if buf.get(i..i + 3)? != b"\",\"" {
            return None;
        }
        i += 3;
        let second_start = i;
        i = plain_string_end(buf, i)?;
        let second = &buf[second_start..i];
        if buf.get(i..i + 2)? != b"\"]" {
            return None;
        }
        self.pos = i + 2;
        Some((first, second))
    }

    /// An unsigned JSON integer (no sign, fraction or exponent), at most `u64::MAX`.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, ScanError> {
        self.skip_ws();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(&b) = self.buf.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            value = match value
                .checked_mul(10)
                .and_then(|v| v.checked_add((b - b'0') as u64))
            {
                Some(v) => v,
                None => return Err(self.err("an integer that fits 64 bits")),
            };
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.err("an unsigned integer"));
        }
        if matches!(self.buf.get(self.pos), Some(b'.' | b'e' | b'E')) {
            return Err(self.err("an integer without fraction or exponent"));
        }
        Ok(value)
    }

    /// `true` or `false`.
    #[inline]
    pub fn bool(&mut self) -> Result<bool, ScanError> {
        self.skip_ws();
        let rest = &self.buf[self.pos.min(self.buf.len())..];
        if rest.starts_with(b"true") {
            self.pos += 4;
            Ok(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Ok(false)
        } else {
            Err(self.err("true or false"))
        }
    }

    /// A number written either bare (`28145.1`) or as a string (`"28145.1"`): its text.
    #[inline]
    pub fn number_text(&mut self) -> Result<&'a [u8], ScanError> {
        if self.peek() == Some(b'"') {
            return self.string();
        }
        let start = self.pos;
        while let Some(&b) = self.buf.get(self.pos) {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == start {
            return Err(self.err("a number"));
        }
        Ok(&self.buf[start..self.pos])
    }

    /// Skips one value of any type, checking its structure.
    pub fn skip_value(&mut self) -> Result<(), ScanError> {
        // Most skipped values are plain strings.
        if self.peek() == Some(b'"') {
            return self.string().map(|_| ());
        }
        let mut depth = 0usize;
        // Stack of open containers as bits: 1 = object, 0 = array.
        let mut kinds: u64 = 0;
        loop {
            // Position: a value is expected (or a closing bracket when `first`).
            match self.peek() {
                Some(b'{') => {
                    if depth == MAX_DEPTH {
                        return Err(self.err("nesting within 64 levels"));
                    }
                    self.pos += 1;
                    kinds = (kinds << 1) | 1;
                    depth += 1;
                    if self.peek() == Some(b'}') {
                        // handled by the close logic below
                    } else {
                        let _ = self.string()?;
                        self.expect(b':', "':'")?;
                        continue;
                    }
                }
                Some(b'[') => {
                    if depth == MAX_DEPTH {
                        return Err(self.err("nesting within 64 levels"));
                    }
                    self.pos += 1;
                    kinds <<= 1;
                    depth += 1;
                    if self.peek() != Some(b']') {
                        continue;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't' | b'f') => {
                    self.bool()?;
                }
                Some(b'n') => {
                    if self.buf[self.pos..].starts_with(b"null") {
                        self.pos += 4;
                    } else {
                        return Err(self.err("null"));
                    }
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number_text()?;
                }
                _ => return Err(self.err("a JSON value")),
            }
            // After a value (or an empty container just opened): close or continue.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = kinds & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.string()?;
                            self.expect(b':', "':'")?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {
                        self.pos += 1;
                        depth -= 1;
                        kinds >>= 1;
                    }
                    Some(b']') if !in_object => {
                        self.pos += 1;
                        depth -= 1;
                        kinds >>= 1;
                    }
                    _ => return Err(self.err("',' or a closing bracket")),
                }
            }
        }
    }

    /// Skips one value and returns its bytes.
    #[inline]
    pub fn value_span(&mut self) -> Result<&'a [u8], ScanError> {
        self.skip_ws();
        let start = self.pos;
        self.skip_value()?;
        Ok(&self.buf[start..self.pos])
    }

    /// Checks that only whitespace remains.
    #[inline]
    pub fn end(&mut self) -> Result<(), ScanError> {
        if self.peek().is_none() {
            Ok(())
        } else {
            Err(self.err("end of input"))
        }
    }
}

/// Index of the closing quote of a string body starting at `i`, or `None` if
/// a backslash or control byte comes first (or the input ends).
#[inline]
fn plain_string_end(buf: &[u8], mut i: usize) -> Option<usize> {
    while let Some(chunk) = buf.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        if has_special_byte(word) {
            break;
        }
        i += 8;
    }
    loop {
        match *buf.get(i)? {
            b'"' => return Some(i),
            b'\\' => return None,
            b if b < 0x20 => return None,
            _ => i += 1,
        }
    }
}

/// True when any byte of `word` is `"`, `\\` or below 0x20 (SWAR test).
#[inline]
fn has_special_byte(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = zero_byte(word ^ (ONES * b'"' as u64));
    let backslash = zero_byte(word ^ (ONES * b'\\' as u64));
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit (bytes ≥ 0x80 excluded by `!word`).
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (quote | backslash | control) != 0
}

/// Reads a JSON array of `[price, qty, …]` pairs (strings or bare numbers),
/// calling `level(price_text, qty_text)` for each; extra elements after the
/// first two are skipped (OKX sends four).
#[inline]
pub fn for_each_level<'a, E>(
    span: &'a [u8],
    mut level: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<ScanError>,
{
    let mut s = Scanner::new(span);
    s.begin_array()?;
    let mut first = true;
    while s.next_element(&mut first)? {
        s.begin_array()?;
        let mut inner_first = true;
        if !s.next_element(&mut inner_first)? {
            return Err(s.err("a [price, qty] pair").into());
        }
        let price = s.number_text()?;
        if !s.next_element(&mut inner_first)? {
            return Err(s.err("a [price, qty] pair").into());
        }
        let qty = s.number_text()?;
        while s.next_element(&mut inner_first)? {
            s.skip_value()?;
        }
        level(price, qty)?;
    }
    Ok(())
}

/// Appends the unescaped contents of a JSON string body (without quotes) to
/// `out`. Used by recording readers whose records embed a frame as a string.
pub fn unescape_into(raw: &[u8], out: &mut Vec<u8>) -> Result<(), ScanError> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            // Copy a run of plain bytes at once.
            let run_end = raw[i..]
                .iter()
                .position(|&c| c == b'\\')
                .map_or(raw.len(), |p| i + p);
            out.extend_from_slice(&raw[i..run_end]);
            i = run_end;
            continue;
        }
        let esc = *raw.get(i + 1).ok_or(ScanError {
            offset: i,
            expected: "an escape character",
        })?;
        i += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hex = raw.get(i..i + 4).ok_or(ScanError {
                    offset: i,
                    expected: "4 hex digits",
                })?;
                let mut code: u32 = 0;
                for &h in hex {
                    let d = (h as char).to_digit(16).ok_or(ScanError {
                        offset: i,
                        expected: "4 hex digits",
                    })?;
                    code = code * 16 + d;
                }
                i += 4;
                // Surrogate pairs are rare in venue frames; a lone surrogate becomes U+FFFD.
                let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                let mut tmp = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
            }
            _ => {
                return Err(ScanError {
                    offset: i - 1,
                    expected: "a valid escape",
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn walks_keys_and_values() {
        let text = br#" {"a": "x\"y", "n": 123 , "arr":[[1,{"k":[]}],{}], "b":true,"z":null}"#;
        let mut s = Scanner::new(text);
        s.begin_object().unwrap();
        let mut first = true;
        let mut seen = Vec::new();
        while let Some(key) = s.next_key(&mut first).unwrap() {
            match key {
                b"a" => assert_eq!(s.string().unwrap(), br#"x\"y"#),
                b"n" => assert_eq!(s.u64().unwrap(), 123),
                b"b" => assert!(s.bool().unwrap()),
                _ => {
                    let span = s.value_span().unwrap();
                    assert!(
                        span == br#"[[1,{"k":[]}],{}]"# || span == b"null",
                        "{span:?}"
                    );
                }
            }
            seen.push(key.to_vec());
        }
        s.end().unwrap();
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn reports_offsets_of_bad_input() {
        let mut s = Scanner::new(br#"{"a" 1}"#);
        s.begin_object().unwrap();
        let err = s.next_key(&mut true).unwrap_err();
        assert_eq!(err.offset, 5);
        assert!(Scanner::new(b"[1,2").skip_value().is_err());
        assert!(Scanner::new(b"[1,]").skip_value().is_err());
        assert!(Scanner::new(b"{\"a\":1,}").skip_value().is_err());
        assert!(Scanner::new(b"18446744073709551616").u64().is_err());
        assert!(Scanner::new(b"1.5").u64().is_err());
    }

    #[test]
    fn levels_and_unescape() {
        let mut got = Vec::new();
        for_each_level::<ScanError>(br#"[["1.5","2"], [3, 4, "0", "9"]]"#, |p, q| {
            got.push((p.to_vec(), q.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            got,
            vec![
                (b"1.5".to_vec(), b"2".to_vec()),
                (b"3".to_vec(), b"4".to_vec())
            ]
        );
        let mut out = Vec::new();
        unescape_into(br#"{\"a\":\"\u0041\\n\"}"#, &mut out).unwrap();
        assert_eq!(out, br#"{"a":"A\n"}"#);
    }

    #[test]
    fn compact_pairs_take_the_fast_path_only_when_plain() {
        let mut s = Scanner::new(br#"["1.5","2"],"#);
        assert_eq!(s.compact_pair(), Some((&b"1.5"[..], &b"2"[..])));
        assert_eq!(s.offset(), 11);
        for other in [
            &br#"[ "1.5","2"]"#[..],
            br#"["1\"5","2"]"#,
            br#"["1.5","2","x"]"#,
            br#"["1.5""#,
            br#"[1,2]"#,
        ] {
            let mut s = Scanner::new(other);
            assert_eq!(s.compact_pair(), None, "{:?}", std::str::from_utf8(other));
            assert_eq!(s.offset(), 0);
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = vec![b'['; 10_000];
        assert!(Scanner::new(&deep).skip_value().is_err());
    }

    proptest! {
        #[test]
        fn swar_special_byte_test_matches_the_naive_one(bytes in any::<[u8; 8]>()) {
            let naive = bytes.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20);
            prop_assert_eq!(has_special_byte(u64::from_le_bytes(bytes)), naive);
        }

        #[test]
        fn no_byte_string_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Scanner::new(&bytes).skip_value();
            let _ = for_each_level::<ScanError>(&bytes, |_, _| Ok(()));
            let _ = unescape_into(&bytes, &mut Vec::new());
        }

        #[test]
        fn skip_accepts_what_serde_json_writes(v in proptest::collection::vec((any::<u32>(), "[a-z\"\\\\]{0,6}"), 0..8)) {
            let json = format!("{:?}", v).replace('(', "[").replace(')', "]");
            // Debug output of tuples of (u32, String) is valid JSON once parentheses become brackets.
            let mut s = Scanner::new(json.as_bytes());
            prop_assert!(s.skip_value().is_ok(), "{}", json);
            prop_assert!(s.end().is_ok());
        }
    }
}
