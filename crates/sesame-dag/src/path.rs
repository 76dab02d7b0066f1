//! Ingress paths: the `pathType` rules of the Kubernetes spec and Contour's regex detection.

use thiserror::Error;

use crate::dag::PathMatch;
use crate::regex::{self, RegexError};

/// The characters that make an `ImplementationSpecific` path a regular expression (Contour's rule).
const REGEX_CHARS: &[char] = &['^', '+', '*', '[', ']', '%'];

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum PathError {
    /// The `pathType` is not one Kubernetes defines.
    #[error("path type {0:?} is not supported (use Prefix, Exact or ImplementationSpecific)")]
    UnknownType(String),
    /// The path does not start with `/`.
    #[error("path {0:?} must start with '/'")]
    NotAbsolute(String),
    /// The path has a character a request path cannot have.
    #[error("path {0:?} must not contain control characters, whitespace, '?' or '#'")]
    BadCharacter(String),
    /// The path has a sequence Kubernetes forbids for Prefix and Exact paths.
    #[error("path {path:?} must not contain {sequence:?}")]
    BadSequence {
        /// The path.
        path: String,
        /// The forbidden sequence.
        sequence: &'static str,
    },
    /// The path is a regular expression RE2 would refuse.
    #[error("path {path:?}: {error}")]
    Regex {
        /// The path.
        path: String,
        /// What is wrong with it.
        error: RegexError,
    },
}

/// The Kubernetes `pathType`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PathType {
    Prefix,
    Exact,
    ImplementationSpecific,
}

/// Turns an Ingress path and its `pathType` into a path match, validating it.
pub(crate) fn parse(path: Option<&str>, path_type: Option<&str>) -> Result<PathMatch, PathError> {
    let kind = match path_type {
        Some("Prefix") => PathType::Prefix,
        Some("Exact") => PathType::Exact,
        Some("ImplementationSpecific") | None => PathType::ImplementationSpecific,
        Some(other) => return Err(PathError::UnknownType(other.to_string())),
    };
    let path = match path {
        None | Some("") => "/",
        Some(p) => p,
    };
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute(path.to_string()));
    }
    let is_regex = kind == PathType::ImplementationSpecific && path.contains(REGEX_CHARS);
    let bad_char =
        |c: char| c.is_control() || c.is_whitespace() || c == '#' || (c == '?' && !is_regex);
    if path.contains(bad_char) {
        return Err(PathError::BadCharacter(path.to_string()));
    }
    if is_regex {
        regex::validate(path).map_err(|error| PathError::Regex {
            path: path.to_string(),
            error,
        })?;
        return Ok(PathMatch::Regex(path.to_string()));
    }
    check_sequences(path)?;
    Ok(match kind {
        PathType::Exact => PathMatch::Exact(path.to_string()),
        PathType::ImplementationSpecific => PathMatch::Prefix(path.to_string()),
        PathType::Prefix => match path.trim_end_matches('/') {
            "" => PathMatch::Prefix("/".to_string()),
            trimmed => PathMatch::SegmentPrefix(trimmed.to_string()),
        },
    })
}

/// The Kubernetes rule for Prefix and Exact paths: no `//`, `/./`, `/../`, `%2f`, and no
/// trailing `/..` or `/.`.
fn check_sequences(path: &str) -> Result<(), PathError> {
    let bad = |sequence: &'static str| PathError::BadSequence {
        path: path.to_string(),
        sequence,
    };
    for sequence in ["//", "/./", "/../", "%2f", "%2F"] {
        if path.contains(sequence) {
            return Err(bad(sequence));
        }
    }
    for suffix in ["/..", "/."] {
        if path.ends_with(suffix) {
            return Err(bad(suffix));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
