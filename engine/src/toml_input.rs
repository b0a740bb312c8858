//! TOML input files whose every refusal names the file, the line and the
//! field ([`InputError`]): reading, deserializing with the parser's own error
//! placed on its line, errors at a value's span, and lookups of names that
//! refer to another table.

use std::collections::HashMap;

use gavel_feeds::{InputError, Location};

use crate::risk::decimal::Decimal;
use serde::de::DeserializeOwned;
use toml::Spanned;

/// One TOML text and the name errors give it.
#[derive(Clone, Copy, Debug)]
pub struct TomlInput<'a> {
    text: &'a str,
    source: &'a str,
}

impl<'a> TomlInput<'a> {
    /// `text`, named `source` in errors.
    pub fn new(text: &'a str, source: &'a str) -> Self {
        TomlInput { text, source }
    }

    /// Reads `path` and hands its text and its name for errors to `parse`.
    pub fn load<T>(path: &std::path::Path, parse: impl FnOnce(&str, &str) -> Result<T, InputError>) -> Result<T, InputError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&name, Location::Line(0), "(file)", format!("cannot read: {e}")))?;
        parse(&text, &name)
    }

    fn line_of(&self, offset: usize) -> u64 {
        1 + self.text[..offset.min(self.text.len())].matches('\n').count() as u64
    }

    /// Deserializes the text; a syntax or shape error names its line and field `(toml)`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, InputError> {
        toml::from_str(self.text).map_err(|e| {
            let line = e.span().map_or(0, |s| self.line_of(s.start));
            InputError::new(self.source, Location::Line(line), "(toml)", e.message().to_string())
        })
    }

    /// An error about the value at `s`.
    pub fn at<T>(&self, s: &Spanned<T>, field: &str, msg: impl Into<String>) -> InputError {
        InputError::new(self.source, Location::Line(self.line_of(s.span().start)), field, msg)
    }

    /// The index of the `[[table]]` entry the name at `s` refers to.
    pub fn lookup(&self, index: &HashMap<String, usize>, s: &Spanned<String>, field: &str, table: &str) -> Result<usize, InputError> {
        let name = s.get_ref().trim();
        index.get(name).copied().ok_or_else(|| self.at(s, field, format!("no [[{table}]] named {name:?}")))
    }

    /// A decimal string in `[low, high]` (`low_open`: excluding `low`; `high_open`: excluding `high`), as `f64`.
    pub fn number(&self, s: &Spanned<String>, field: &str, low: f64, low_open: bool, high: f64, high_open: bool) -> Result<f64, InputError> {
        let d = Decimal::parse(s.get_ref().trim()).map_err(|e| self.at(s, field, e.to_string()))?;
        let v = d.mantissa as f64 / 10f64.powi(d.scale as i32);
        let above = if low_open { v > low } else { v >= low };
        let below = if high_open { v < high } else { v <= high };
        if above && below {
            Ok(v)
        } else {
            let (l, h) = (if low_open { "(" } else { "[" }, if high_open { ")" } else { "]" });
            Err(self.at(s, field, format!("{} is outside {l}{low}, {high}{h}", s.get_ref().trim())))
        }
    }

    /// A decimal string in whole units of `unit`, exactly, inside `range`; `what` describes the accepted values in the error.
    pub fn units(&self, s: &Spanned<String>, field: &str, unit: Decimal, range: std::ops::RangeInclusive<i128>, what: &str) -> Result<i128, InputError> {
        let text = s.get_ref().trim();
        let d = Decimal::parse(text).map_err(|e| self.at(s, field, e.to_string()))?;
        d.in_units_of(unit).filter(|v| range.contains(v)).ok_or_else(|| self.at(s, field, format!("{text:?} is not {what}")))
    }

    /// A name that is non-empty, at most `max_len` bytes and not yet in `seen`; it is recorded there as entry `index`.
    pub fn unique_name(&self, s: &Spanned<String>, field: &str, max_len: usize, seen: &mut HashMap<String, usize>, index: usize) -> Result<String, InputError> {
        let name = s.get_ref().trim().to_string();
        if name.is_empty() || name.len() > max_len || seen.insert(name.clone(), index).is_some() {
            return Err(self.at(s, field, format!("empty, longer than {max_len} bytes or duplicate name {name:?}")));
        }
        Ok(name)
    }
}
