//! TOML input files whose every refusal names the file, the line and the
//! field ([`InputError`]): reading, deserializing with the parser's own error
//! placed on its line, errors at a value's span, and lookups of names that
//! refer to another table.

use std::collections::HashMap;

use gavel_feeds::{InputError, Location};
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

    /// Reads `path`: its text and its name for errors.
    pub fn read(path: &std::path::Path) -> Result<(String, String), InputError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| InputError::new(&name, Location::Line(0), "(file)", format!("cannot read: {e}")))?;
        Ok((text, name))
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
}
