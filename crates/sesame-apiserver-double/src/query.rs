//! Query-string parameters the double understands (others are ignored).

use std::time::Duration;

#[cfg(test)]
mod tests;

/// The parameters of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `watch=true|1`.
    pub watch: bool,
    /// `resourceVersion`, empty if absent.
    pub resource_version: String,
    /// `limit` (0 or absent: no limit).
    pub limit: Option<usize>,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `labelSelector`, empty if absent.
    pub label_selector: String,
    /// `fieldSelector`, empty if absent.
    pub field_selector: String,
    /// `allowWatchBookmarks=true`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

/// Decodes `%XX` escapes and `+` (a space in form encoding); a malformed escape is kept as is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |i: usize| bytes.get(i).and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn truthy(value: &str) -> bool {
    matches!(value, "true" | "1")
}

impl Query {
    /// Parses a raw query string; the error is a message for a 400 answer.
    pub fn parse(raw: &str) -> Result<Query, String> {
        let mut query = Query::default();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match percent_decode(key).as_str() {
                "watch" => query.watch = truthy(&value),
                "resourceVersion" => query.resource_version = value,
                "limit" => {
                    let limit: usize = value
                        .parse()
                        .map_err(|_| format!("invalid limit {value:?}"))?;
                    query.limit = (limit > 0).then_some(limit);
                }
                "continue" => query.continue_token = Some(value).filter(|v| !v.is_empty()),
                "labelSelector" => query.label_selector = value,
                "fieldSelector" => query.field_selector = value,
                "allowWatchBookmarks" => query.bookmarks = truthy(&value),
                "timeoutSeconds" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| format!("invalid timeoutSeconds {value:?}"))?;
                    query.timeout = Some(Duration::from_secs(secs));
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// The `resourceVersion` to watch from: `None` for absent or `"0"` (start now).
    pub fn watch_from(&self) -> Result<Option<u64>, String> {
        match self.resource_version.as_str() {
            "" | "0" => Ok(None),
            rv => rv
                .parse()
                .map(Some)
                .map_err(|_| format!("invalid resource version {rv:?}")),
        }
    }
}
