//! Timeouts that may be `infinity`, on top of `sesame_api::duration`'s Go-style durations.

pub(crate) use sesame_api::duration::DurationError;
#[cfg(test)]
pub(crate) use sesame_api::duration::parse_duration;

use crate::dag::Timeout;

/// A timeout: `infinity` or `infinite` switch it off, anything else is a duration.
pub(crate) fn parse_timeout(value: &str) -> Result<Timeout, DurationError> {
    Timeout::parse(value)
}
