//! Errors for bad input: every one names the source, the place and the field.

use std::fmt;

/// Where in a source a bad value was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// 1-based line number in a text file.
    Line(u64),
    /// Byte offset in a binary file.
    Offset(u64),
    /// 0-based record index in a stream of records.
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Offset(n) => write!(f, "offset {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// A value in an input that gavel refuses, with enough context to find it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError {
    /// File name or stream name.
    pub source: String,
    /// Where in the source.
    pub location: Location,
    /// The field that was bad (column name, JSON key, struct field).
    pub field: String,
    /// What was wrong with it.
    pub message: String,
}

impl InputError {
    /// Builds an error from its parts.
    pub fn new(
        source: impl Into<String>,
        location: Location,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        InputError {
            source: source.into(),
            location,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: field `{}`: {}", self.source, self.location, self.field, self.message)
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_source_place_and_field() {
        let err = InputError::new("accounts.csv", Location::Line(7), "collateral", "not a decimal: \"abc\"");
        assert_eq!(err.to_string(), "accounts.csv: line 7: field `collateral`: not a decimal: \"abc\"");
    }
}
