//! HTTPProxy match conditions: one block per route or include, validated, then joined down the
//! include tree into the path, header and query parameter matches of a route.

use std::collections::HashSet;

use sesame_api::httpproxy::{HeaderMatchCondition, MatchCondition, QueryParameterMatchCondition};
use thiserror::Error;

use super::header;
use crate::dag::{HeaderMatch, HeaderValueMatch, PathMatch, QueryParamMatch, QueryValueMatch};
use crate::regex::{self, RegexError};
use crate::status::Reason;
use crate::vhost::RouteKey;

/// Why a block of conditions was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum ConditionError {
    /// A path condition is malformed, or a block has more than one.
    #[error("{0}")]
    Path(String),
    /// A header condition is malformed or contradicts another.
    #[error("{0}")]
    Header(String),
    /// A query parameter condition is malformed or contradicts another.
    #[error("{0}")]
    Query(String),
    /// An include has a condition includes may not have.
    #[error("{0}")]
    Include(String),
}

impl ConditionError {
    /// The status reason.
    pub(crate) fn reason(&self) -> Reason {
        match self {
            ConditionError::Path(_) => Reason::PathMatchConditionsNotValid,
            ConditionError::Header(_) => Reason::HeaderMatchConditionsNotValid,
            ConditionError::Query(_) => Reason::QueryParameterMatchConditionsNotValid,
            ConditionError::Include(_) => Reason::IncludeMatchConditionsNotValid,
        }
    }
}

/// The path condition of a block.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PathCondition {
    Prefix(String),
    Exact(String),
    Regex(String),
}

/// One validated block of conditions (a route's or an include's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Block {
    path: Option<PathCondition>,
    headers: Vec<HeaderMatch>,
    query_params: Vec<QueryParamMatch>,
    /// Settings that were ignored, for the status.
    pub ignored: Vec<String>,
}

/// The conditions accumulated from the root down to an HTTPProxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Matches {
    /// The concatenated include prefixes (empty at the root).
    prefix: String,
    headers: Vec<HeaderMatch>,
    query_params: Vec<QueryParamMatch>,
}

/// Parses the conditions of a route.
pub(crate) fn route_block(conditions: &[MatchCondition]) -> Result<Block, ConditionError> {
    block(conditions)
}

/// Parses the conditions of an include: prefixes, headers and query parameters only.
pub(crate) fn include_block(conditions: &[MatchCondition]) -> Result<Block, ConditionError> {
    let block = block(conditions)?;
    match &block.path {
        Some(PathCondition::Exact(_)) => Err(ConditionError::Include(
            "exact conditions are not allowed in includes".to_string(),
        )),
        Some(PathCondition::Regex(_)) => Err(ConditionError::Include(
            "regex conditions are not allowed in includes".to_string(),
        )),
        _ => Ok(block),
    }
}

impl Matches {
    /// The conditions below an include: this prefix followed by the include's, and the header
    /// and query parameter matches of both.
    pub(crate) fn join(&self, block: &Block) -> Result<Matches, ConditionError> {
        let mut prefix = self.prefix.clone();
        if let Some(PathCondition::Prefix(p)) = &block.path {
            prefix.push_str(p);
        }
        let joined = Matches {
            prefix,
            headers: concat(&self.headers, &block.headers),
            query_params: concat(&self.query_params, &block.query_params),
        };
        joined.check()?;
        Ok(joined)
    }

    /// The match of a route with this block under these conditions. The route's own path
    /// condition decides the kind: an exact path, a regex (the included prefix becomes its
    /// literal start), or a prefix.
    pub(crate) fn route(&self, block: &Block) -> Result<RouteKey, ConditionError> {
        let path = match &block.path {
            Some(PathCondition::Exact(e)) => PathMatch::Exact(collapse(&self.prefix, e)),
            Some(PathCondition::Regex(r)) => {
                let prefix = collapse(&self.prefix, "");
                let literal = prefix.strip_suffix('/').unwrap_or(&prefix);
                let pattern = format!("{}{r}", regex_syntax::escape(literal));
                regex::validate(&pattern).map_err(|e| regex_error("regex", &pattern, e))?;
                PathMatch::Regex(pattern)
            }
            Some(PathCondition::Prefix(p)) => PathMatch::Prefix(collapse(&self.prefix, p)),
            None => PathMatch::Prefix(collapse(&self.prefix, "")),
        };
        let joined = Matches {
            prefix: String::new(),
            headers: concat(&self.headers, &block.headers),
            query_params: concat(&self.query_params, &block.query_params),
        };
        joined.check()?;
        Ok(RouteKey {
            path,
            headers: joined.headers,
            query_params: joined.query_params,
        })
    }

    /// The match of everything below these conditions (a missing include's answer).
    pub(crate) fn prefix_route(&self) -> RouteKey {
        RouteKey {
            path: PathMatch::Prefix(collapse(&self.prefix, "")),
            headers: self.headers.clone(),
            query_params: self.query_params.clone(),
        }
    }

    /// Refuses duplicate and contradictory header and query parameter matches (Contour's rules,
    /// plus plain duplicates).
    fn check(&self) -> Result<(), ConditionError> {
        let mut seen: HashSet<&HeaderMatch> = HashSet::new();
        let mut exact: HashSet<&str> = HashSet::new();
        for m in &self.headers {
            if !seen.insert(m) {
                return Err(ConditionError::Header(format!(
                    "duplicate header condition on {:?}",
                    m.name
                )));
            }
            if matches!(m.value, HeaderValueMatch::Exact(_)) && !m.invert && !exact.insert(&m.name)
            {
                return Err(ConditionError::Header(format!(
                    "cannot specify duplicate header 'exact match' conditions for {:?} in the same route",
                    m.name
                )));
            }
        }
        for m in &self.headers {
            let opposite = HeaderMatch {
                invert: !m.invert,
                ..m.clone()
            };
            if seen.contains(&opposite) {
                let what = match m.value {
                    HeaderValueMatch::Present => "'present' and 'notpresent'",
                    HeaderValueMatch::Exact(_) => "'exact' and 'notexact'",
                    HeaderValueMatch::Contains(_) => "'contains' and 'notcontains'",
                    _ => "inverted",
                };
                return Err(ConditionError::Header(format!(
                    "cannot specify contradictory {what} conditions for the same route and header {:?}",
                    m.name
                )));
            }
        }
        let mut seen: HashSet<&QueryParamMatch> = HashSet::new();
        let mut exact: HashSet<&str> = HashSet::new();
        for m in &self.query_params {
            if !seen.insert(m) {
                return Err(ConditionError::Query(format!(
                    "duplicate query parameter condition on {:?}",
                    m.name
                )));
            }
            if matches!(m.value, QueryValueMatch::Exact(_)) && !exact.insert(&m.name) {
                return Err(ConditionError::Query(format!(
                    "cannot specify duplicate query parameter 'exact match' conditions for {:?} in the same route",
                    m.name
                )));
            }
        }
        Ok(())
    }
}

fn concat<T: Clone>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// `prefix` followed by `path`, runs of `/` collapsed to one; `/` when both are empty.
fn collapse(prefix: &str, path: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + path.len() + 1);
    for c in prefix.chars().chain(path.chars()) {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

fn block(conditions: &[MatchCondition]) -> Result<Block, ConditionError> {
    let mut block = Block::default();
    for condition in conditions {
        for (kind, value) in [
            ("prefix", &condition.prefix),
            ("exact", &condition.exact),
            ("regex", &condition.regex),
        ] {
            let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
                continue;
            };
            if block.path.is_some() {
                return Err(ConditionError::Path(
                    "more than one prefix, exact or regex is not allowed in a condition block"
                        .to_string(),
                ));
            }
            block.path = Some(path_condition(kind, value)?);
        }
        if let Some(h) = &condition.header {
            let (m, ignored) = header_condition(h)?;
            block.headers.push(m);
            block.ignored.extend(ignored);
        }
        if let Some(q) = &condition.query_parameter {
            block.query_params.push(query_condition(q)?);
        }
    }
    Ok(block)
}

fn path_condition(kind: &'static str, value: &str) -> Result<PathCondition, ConditionError> {
    if !value.starts_with('/') {
        return Err(ConditionError::Path(format!(
            "{kind} conditions must start with /, {value:?} was supplied"
        )));
    }
    let is_regex = kind == "regex";
    let bad_char =
        |c: char| c.is_control() || c.is_whitespace() || c == '#' || (c == '?' && !is_regex);
    if value.contains(bad_char) {
        return Err(ConditionError::Path(format!(
            "{kind} condition {value:?} must not contain control characters, whitespace, '?' or '#'"
        )));
    }
    if is_regex {
        regex::validate(value).map_err(|e| regex_error(kind, value, e))?;
        return Ok(PathCondition::Regex(value.to_string()));
    }
    let lower = value.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err(ConditionError::Path(format!(
            "{kind} condition {value:?} must not contain an encoded slash (%2f or %5c)"
        )));
    }
    if value
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err(ConditionError::Path(format!(
            "{kind} condition {value:?} must not contain the path segments '.' or '..'"
        )));
    }
    Ok(match kind {
        "exact" => PathCondition::Exact(value.to_string()),
        _ => PathCondition::Prefix(value.to_string()),
    })
}

fn regex_error(kind: &str, value: &str, e: RegexError) -> ConditionError {
    let shown: String = value.chars().take(64).collect();
    ConditionError::Path(format!("{kind} condition {shown:?}: {e}"))
}

pub(crate) fn header_condition(
    h: &HeaderMatchCondition,
) -> Result<(HeaderMatch, Option<String>), ConditionError> {
    let raw_name = h.name.as_deref().unwrap_or_default();
    let name = header::name(raw_name)
        .map_err(|e| ConditionError::Header(format!("header condition: {e}")))?;
    let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
    let mut ops: Vec<(HeaderValueMatch, bool)> = Vec::new();
    if h.present {
        ops.push((HeaderValueMatch::Present, false));
    }
    if h.not_present {
        ops.push((HeaderValueMatch::Present, true));
    }
    if let Some(v) = set(&h.contains) {
        ops.push((HeaderValueMatch::Contains(v), false));
    }
    if let Some(v) = set(&h.not_contains) {
        ops.push((HeaderValueMatch::Contains(v), true));
    }
    if let Some(v) = set(&h.exact) {
        ops.push((HeaderValueMatch::Exact(v), false));
    }
    if let Some(v) = set(&h.not_exact) {
        ops.push((HeaderValueMatch::Exact(v), true));
    }
    if let Some(v) = set(&h.regex) {
        ops.push((HeaderValueMatch::Regex(v), false));
    }
    if ops.len() != 1 {
        return Err(ConditionError::Header(format!(
            "header condition on {name:?} must set exactly one of present, notpresent, contains, notcontains, exact, notexact or regex"
        )));
    }
    let (value, invert) = ops.remove(0);
    match &value {
        HeaderValueMatch::Regex(r) => {
            regex::validate(r).map_err(|e| {
                ConditionError::Header(format!("header condition on {name:?}: {e}"))
            })?;
        }
        HeaderValueMatch::Exact(v) | HeaderValueMatch::Contains(v) => {
            header::value(v).map_err(|e| {
                ConditionError::Header(format!("header condition on {name:?}: {e}"))
            })?;
        }
        _ => {}
    }
    let ignore_case = h.ignore_case
        && matches!(
            value,
            HeaderValueMatch::Exact(_) | HeaderValueMatch::Contains(_)
        );
    let ignored = h.treat_missing_as_empty.then(|| {
        format!(
            "header condition on {name:?}: treatMissingAsEmpty is not supported yet and was ignored"
        )
    });
    Ok((
        HeaderMatch {
            name,
            value,
            invert,
            ignore_case,
        },
        ignored,
    ))
}

fn query_condition(q: &QueryParameterMatchCondition) -> Result<QueryParamMatch, ConditionError> {
    let name = q.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        return Err(ConditionError::Query(
            "query parameter condition must name a parameter".to_string(),
        ));
    }
    header::value(name)
        .map_err(|e| ConditionError::Query(format!("query parameter name {name:?}: {e}")))?;
    let set = |v: &Option<String>| v.as_deref().filter(|v| !v.is_empty()).map(str::to_string);
    let mut ops: Vec<QueryValueMatch> = Vec::new();
    if let Some(v) = set(&q.exact) {
        ops.push(QueryValueMatch::Exact(v));
    }
    if let Some(v) = set(&q.prefix) {
        ops.push(QueryValueMatch::Prefix(v));
    }
    if let Some(v) = set(&q.suffix) {
        ops.push(QueryValueMatch::Suffix(v));
    }
    if let Some(v) = set(&q.regex) {
        ops.push(QueryValueMatch::Regex(v));
    }
    if let Some(v) = set(&q.contains) {
        ops.push(QueryValueMatch::Contains(v));
    }
    if q.present {
        ops.push(QueryValueMatch::Present);
    }
    if ops.len() != 1 {
        return Err(ConditionError::Query(format!(
            "query parameter condition on {name:?} must set exactly one of exact, prefix, suffix, regex, contains or present"
        )));
    }
    let value = ops.remove(0);
    match &value {
        QueryValueMatch::Regex(r) => regex::validate(r).map_err(|e| {
            ConditionError::Query(format!("query parameter condition on {name:?}: {e}"))
        })?,
        QueryValueMatch::Present => {}
        QueryValueMatch::Exact(v)
        | QueryValueMatch::Prefix(v)
        | QueryValueMatch::Suffix(v)
        | QueryValueMatch::Contains(v) => header::value(v).map_err(|e| {
            ConditionError::Query(format!("query parameter condition on {name:?}: {e}"))
        })?,
    }
    let ignore_case =
        q.ignore_case && !matches!(value, QueryValueMatch::Present | QueryValueMatch::Regex(_));
    Ok(QueryParamMatch {
        name: name.to_string(),
        value,
        ignore_case,
    })
}
