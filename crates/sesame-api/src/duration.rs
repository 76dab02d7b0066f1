//! Go-style durations (`1s`, `500ms`, `1m30s`, `2h45m`), as Contour writes them in flags,
//! annotations and the configuration file.

use std::time::Duration;

use thiserror::Error;

/// The longest duration accepted: ten years, far below protobuf's `Duration` limit.
const MAX_NANOS: u128 = 10 * 365 * 24 * 3600 * NANOS_PER_SECOND;
const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Why a duration was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("expected a duration such as 30s, 500ms or 1m30s")]
    Empty,
    /// A leading `-`.
    #[error("a duration must not be negative")]
    Negative,
    /// A number without unit, or a malformed number.
    #[error(
        "expected a duration such as 30s, 500ms or 1m30s (a number followed by ns, us, ms, s, m or h)"
    )]
    Malformed,
    /// A unit Go does not know.
    #[error("unknown duration unit {0:?} (use ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    /// More than ten years.
    #[error("a duration must not exceed ten years")]
    TooLong,
}

/// Parses a duration as Go's `time.ParseDuration` does, refusing negative values and values
/// above ten years.
pub fn parse_duration(value: &str) -> Result<Duration, DurationError> {
    let value = value.trim();
    let s = value.strip_prefix('+').unwrap_or(value);
    if s.starts_with('-') {
        return Err(DurationError::Negative);
    }
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let (int, after) = split_digits(rest);
        let (frac, after) = match after.strip_prefix('.') {
            Some(after) => split_digits(after),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(DurationError::Malformed);
        }
        let unit_end = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3600 * NANOS_PER_SECOND,
            "" => return Err(DurationError::Malformed),
            other => return Err(DurationError::UnknownUnit(other.chars().take(20).collect())),
        };
        // Any integer part longer than this is over the limit whatever its unit.
        if int.len() > 24 {
            return Err(DurationError::TooLong);
        }
        let whole: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| DurationError::Malformed)?
        };
        total = whole
            .checked_mul(unit_nanos)
            .and_then(|n| total.checked_add(n))
            .ok_or(DurationError::TooLong)?;
        total += fraction_nanos(frac, unit_nanos);
        if total > MAX_NANOS {
            return Err(DurationError::TooLong);
        }
        rest = after;
    }
    let secs = u64::try_from(total / NANOS_PER_SECOND).map_err(|_| DurationError::TooLong)?;
    Ok(Duration::new(secs, (total % NANOS_PER_SECOND) as u32))
}

/// Whether a timeout value switches the timeout off: `infinity` or `infinite`, as Contour
/// writes it in annotations, HTTPProxy timeout policies and the configuration file.
pub fn is_infinite(value: &str) -> bool {
    matches!(value.trim(), "infinity" | "infinite")
}

fn split_digits(s: &str) -> (&str, &str) {
    s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()))
}

/// The nanoseconds of a decimal fraction of `unit_nanos`, truncated like Go.
fn fraction_nanos(frac: &str, unit_nanos: u128) -> u128 {
    let mut value: u128 = 0;
    let mut scale: u128 = 1;
    for b in frac.bytes().take(18) {
        value = value * 10 + u128::from(b - b'0');
        scale *= 10;
    }
    value * unit_nanos / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
