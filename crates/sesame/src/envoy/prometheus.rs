//! A minimal reader of Envoy's Prometheus text output: just enough to sum one gauge over the
//! HTTP connection managers that serve user traffic.

/// The gauge that counts open downstream connections of each HTTP connection manager.
pub const DOWNSTREAM_CX_ACTIVE: &str = "envoy_http_downstream_cx_active";

/// The label naming an HTTP connection manager by its stat prefix.
pub const HCM_PREFIX_LABEL: &str = "envoy_http_conn_manager_prefix";

/// The `/stats/prometheus` filter that keeps only the gauge above (Contour's filter).
pub const DOWNSTREAM_CX_ACTIVE_FILTER: &str = r"^http\..*\.downstream_cx_active$";

/// The HTTP connection managers whose connections do not hold up a drain: Envoy's own admin
/// interface (`admin`), Sesame's stats and readiness listener (`stats`, the stat prefix
/// given in `sesame_envoy::listener::stats_listener`) and its read-only admin listener
/// (`envoy-admin`).
pub const EXCLUDED_PREFIXES: [&str; 3] = ["admin", "stats", sesame_envoy::listener::ADMIN_LISTENER];

/// The sum of `metric` over every sample whose `label` is not one of `excluded`.
///
/// Comment lines, other metrics and lines that do not parse are skipped; a sample without
/// `label` counts. Values are gauges, so fractions and negatives are clamped to whole,
/// non-negative numbers.
pub fn sum_excluding(text: &str, metric: &str, label: &str, excluded: &[&str]) -> u64 {
    text.lines()
        .filter_map(|line| sample(line.trim()))
        .filter(|s| s.name == metric)
        .filter(|s| {
            label_value(s.labels, label).is_none_or(|value| !excluded.contains(&value.as_str()))
        })
        .map(|s| s.value.max(0.0) as u64)
        .sum()
}

/// The open downstream connections of the ingress listeners, from `/stats/prometheus` text.
pub fn open_connections(text: &str) -> u64 {
    sum_excluding(
        text,
        DOWNSTREAM_CX_ACTIVE,
        HCM_PREFIX_LABEL,
        &EXCLUDED_PREFIXES,
    )
}

/// One sample line: `name{labels} value [timestamp]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: &'a str,
    value: f64,
}

/// Splits a sample line, or `None` for comments, blank lines and malformed lines.
fn sample(line: &str) -> Option<Sample<'_>> {
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (name, labels, rest) = match line.find(['{', ' ', '\t']) {
        Some(i) if line[i..].starts_with('{') => {
            let close = closing_brace(line, i)?;
            (&line[..i], &line[i + 1..close], &line[close + 1..])
        }
        Some(i) => (&line[..i], "", &line[i..]),
        None => return None,
    };
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The index of the `}` closing the label set that opens at `open`, skipping quoted values.
fn closing_brace(line: &str, open: usize) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line[open + 1..].char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(open + 1 + i),
            _ => {}
        }
    }
    None
}

/// The unescaped value of `wanted` in a label set such as `a="x",b="y"`.
fn label_value(labels: &str, wanted: &str) -> Option<String> {
    let mut rest = labels.trim_start_matches([',', ' ']);
    while !rest.is_empty() {
        let (name, after) = rest.split_once('=')?;
        let after = after.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        if name.trim() == wanted {
            return Some(value);
        }
        rest = after[end + 1..].trim_start_matches([',', ' ']);
    }
    None
}

#[cfg(test)]
mod tests;
