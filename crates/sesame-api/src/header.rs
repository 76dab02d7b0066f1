//! HTTP header names and values as Envoy takes them: names are RFC 9110 tokens, values carry no
//! control characters (CR, LF and NUL above all). One check for the configuration file's header
//! policies and for the headers of HTTPProxies.

use thiserror::Error;

/// The longest header value accepted (Envoy's default limit on all request headers is 60 KiB).
pub const MAX_VALUE_LEN: usize = 16 * 1024;

/// Why a header name or value was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum HeaderError {
    /// No name.
    #[error("header name must not be empty")]
    EmptyName,
    /// A name with a character outside the token set.
    #[error("header name {0:?} must only contain letters, digits and !#$%&'*+-.^_`|~")]
    BadName(String),
    /// A value with a control character.
    #[error("value must not contain control characters (CR, LF, NUL, …)")]
    BadValue,
    /// A value longer than the limit.
    #[error("value is {0} bytes long, the limit is 16384")]
    TooLong(usize),
}

/// A valid header name, lower-cased. Pseudo-headers (`:path`) are not tokens, so they are
/// refused.
pub fn name(raw: &str) -> Result<String, HeaderError> {
    if raw.is_empty() {
        return Err(HeaderError::EmptyName);
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !raw.chars().all(token) {
        let shown: String = raw.chars().take(64).collect();
        return Err(HeaderError::BadName(shown.escape_debug().to_string()));
    }
    Ok(raw.to_ascii_lowercase())
}

/// Checks a header (or query parameter) value: no control characters but tab, bounded length.
pub fn value(raw: &str) -> Result<(), HeaderError> {
    if raw.len() > MAX_VALUE_LEN {
        return Err(HeaderError::TooLong(raw.len()));
    }
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(HeaderError::BadValue);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tokens_lower_cased() {
        assert_eq!(name("X-Foo").unwrap(), "x-foo");
        assert_eq!(name(""), Err(HeaderError::EmptyName));
        for bad in ["x foo", "x:foo", ":path", "x\r\nfoo", "x\0"] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_refuse_control_characters() {
        assert!(value("a b\tc").is_ok());
        for bad in ["a\rb", "a\nb", "a\0b", "\u{7f}"] {
            assert_eq!(value(bad), Err(HeaderError::BadValue), "{bad:?}");
        }
        assert_eq!(value(&"a".repeat(16385)), Err(HeaderError::TooLong(16385)));
    }
}
