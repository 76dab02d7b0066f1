//! Label and field selectors as the API server parses them from `labelSelector` and
//! `fieldSelector`, and the [`Filter`] a list or watch applies to each object.

use serde_json::Value;

use crate::meta;
use crate::resources::Resource;

#[cfg(test)]
mod tests;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LabelRequirement {
    /// `k=v` or `k==v`.
    Equals(String, String),
    /// `k!=v` (also true when the label is absent).
    NotEquals(String, String),
    /// `k in (a,b)`.
    In(String, Vec<String>),
    /// `k notin (a,b)` (also true when the label is absent).
    NotIn(String, Vec<String>),
    /// `k`.
    Exists(String),
    /// `!k`.
    DoesNotExist(String),
}

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<LabelRequirement>);

/// Splits at commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_set(key: &str, rest: &str) -> Result<(String, Vec<String>), String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: values for {key:?} need parentheses")
        })?;
    let values = inner.split(',').map(|v| v.trim().to_owned()).collect();
    Ok((key.to_owned(), values))
}

fn parse_label_requirement(s: &str) -> Result<LabelRequirement, String> {
    let s = s.trim();
    if let Some(key) = s.strip_prefix('!') {
        return Ok(LabelRequirement::DoesNotExist(key.trim().to_owned()));
    }
    if let Some((k, v)) = s.split_once("!=") {
        return Ok(LabelRequirement::NotEquals(
            k.trim().to_owned(),
            v.trim().to_owned(),
        ));
    }
    if let Some((k, v)) = s.split_once("==").or_else(|| s.split_once('=')) {
        return Ok(LabelRequirement::Equals(
            k.trim().to_owned(),
            v.trim().to_owned(),
        ));
    }
    if s.contains('(') {
        let mut words = s.splitn(2, char::is_whitespace);
        let key = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default().trim_start();
        if let Some(set) = rest.strip_prefix("notin") {
            let (k, v) = parse_set(key, set)?;
            return Ok(LabelRequirement::NotIn(k, v));
        }
        if let Some(set) = rest.strip_prefix("in") {
            let (k, v) = parse_set(key, set)?;
            return Ok(LabelRequirement::In(k, v));
        }
        return Err(format!("unable to parse requirement: {s:?}"));
    }
    if s.is_empty() || s.contains(char::is_whitespace) {
        return Err(format!("unable to parse requirement: {s:?}"));
    }
    Ok(LabelRequirement::Exists(s.to_owned()))
}

impl LabelSelector {
    /// Parses a `labelSelector` query value; the empty string selects everything.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        if s.trim().is_empty() {
            return Ok(LabelSelector::default());
        }
        split_top_level(s)
            .into_iter()
            .map(parse_label_requirement)
            .collect::<Result<_, _>>()
            .map(LabelSelector)
    }

    /// Whether the object's `metadata.labels` satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|req| match req {
            LabelRequirement::Equals(k, v) => label(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => label(k) != Some(v.as_str()),
            LabelRequirement::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelRequirement::NotIn(k, vs) => !label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelRequirement::Exists(k) => label(k).is_some(),
            LabelRequirement::DoesNotExist(k) => label(k).is_none(),
        })
    }
}

/// A field a field selector may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `metadata.name`.
    Name,
    /// `metadata.namespace`.
    Namespace,
    /// `type` (Secrets only).
    SecretType,
}

impl Field {
    fn parse(resource: Resource, s: &str) -> Result<Field, String> {
        match s {
            "metadata.name" => Ok(Field::Name),
            "metadata.namespace" => Ok(Field::Namespace),
            "type" if resource == Resource::Secret => Ok(Field::SecretType),
            _ => Err(format!("field label not supported: {s}")),
        }
    }

    fn value(self, object: &Value) -> &str {
        let found = match self {
            Field::Name => object.pointer("/metadata/name"),
            Field::Namespace => object.pointer("/metadata/namespace"),
            Field::SecretType => object.get("type"),
        };
        found.and_then(Value::as_str).unwrap_or_default()
    }
}

/// A parsed `fieldSelector`: every `field=value` / `field!=value` must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(Field, bool, String)>);

impl FieldSelector {
    /// Parses a `fieldSelector` for `resource`; an unsupported field is an error (400).
    pub fn parse(resource: Resource, s: &str) -> Result<FieldSelector, String> {
        if s.trim().is_empty() {
            return Ok(FieldSelector::default());
        }
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: {part:?}; can't understand it"));
            };
            reqs.push((
                Field::parse(resource, field.trim())?,
                equal,
                value.trim().to_owned(),
            ));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object satisfies every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        self.0
            .iter()
            .all(|(field, equal, value)| (field.value(object) == value) == *equal)
    }
}

/// What a list or watch selects: one kind, optionally one namespace, and selectors.
#[derive(Debug, Clone)]
pub struct Filter {
    /// The kind.
    pub resource: Resource,
    /// The namespace from the path, if any.
    pub namespace: Option<String>,
    /// The `labelSelector`.
    pub labels: LabelSelector,
    /// The `fieldSelector`.
    pub fields: FieldSelector,
}

impl Filter {
    /// Every object of `resource` in `namespace` (or all namespaces).
    pub fn all(resource: Resource, namespace: Option<String>) -> Filter {
        Filter {
            resource,
            namespace,
            labels: LabelSelector::default(),
            fields: FieldSelector::default(),
        }
    }

    /// Whether an object of this filter's kind passes the namespace and selectors.
    pub fn matches(&self, object: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| meta::namespace(object) == ns)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}
