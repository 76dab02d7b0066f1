//! Timeouts that may be `infinity`, on top of `sesame_api::duration`'s Go-style durations.

pub(crate) use sesame_api::duration::{DurationError, parse_duration};

use crate::dag::Timeout;

/// A timeout: `infinity` or `infinite` switch it off, anything else is a duration.
pub(crate) fn parse_timeout(value: &str) -> Result<Timeout, DurationError> {
    match value.trim() {
        "infinity" | "infinite" => Ok(Timeout::Infinite),
        other => parse_duration(other).map(Timeout::After),
    }
}
