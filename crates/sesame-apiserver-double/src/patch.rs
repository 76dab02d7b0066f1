//! Patch bodies: JSON merge patch (RFC 7386, also used for strategic-merge and apply patches)
//! and JSON patch (RFC 6902).

use serde_json::{Map, Value};

#[cfg(test)]
mod tests;

/// The patch flavours, from the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`, treated as a merge patch.
    StrategicMerge,
    /// `application/apply-patch+yaml` (JSON in practice), treated as a merge patch that may
    /// create the object.
    Apply,
    /// `application/json-patch+json`.
    Json,
}

impl PatchKind {
    /// The flavour for a `Content-Type` header value (parameters ignored).
    pub fn from_content_type(content_type: &str) -> Option<PatchKind> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => {
                Some(PatchKind::Apply)
            }
            "application/json-patch+json" => Some(PatchKind::Json),
            _ => None,
        }
    }
}

/// Applies `patch` of the given flavour to `target`; the error says why the patch is invalid.
pub fn apply(kind: PatchKind, target: &mut Value, patch: &Value) -> Result<(), String> {
    match kind {
        PatchKind::Merge | PatchKind::StrategicMerge | PatchKind::Apply => {
            if !patch.is_object() {
                return Err("a merge patch must be a JSON object".into());
            }
            merge(target, patch);
            Ok(())
        }
        PatchKind::Json => json_patch(target, patch),
    }
}

/// RFC 7386 JSON merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Splits a JSON pointer into unescaped tokens.
fn tokens(pointer: &str) -> Result<Vec<String>, String> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {pointer:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// The container holding the pointer's last token, and that token.
fn parent<'a>(target: &'a mut Value, pointer: &str) -> Result<(&'a mut Value, String), String> {
    let mut tokens = tokens(pointer)?;
    let last = tokens
        .pop()
        .ok_or_else(|| "cannot operate on the whole document".to_owned())?;
    let mut node = target;
    for token in &tokens {
        node = match node {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("path {pointer:?} does not exist"))?;
    }
    Ok((node, last))
}

fn add(target: &mut Value, pointer: &str, value: Value) -> Result<(), String> {
    if pointer.is_empty() {
        *target = value;
        return Ok(());
    }
    let (container, last) = parent(target, pointer)?;
    match container {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) if last == "-" => items.push(value),
        Value::Array(items) => match last.parse::<usize>() {
            Ok(i) if i <= items.len() => items.insert(i, value),
            _ => return Err(format!("index out of range at {pointer:?}")),
        },
        _ => return Err(format!("path {pointer:?} does not exist")),
    }
    Ok(())
}

fn remove(target: &mut Value, pointer: &str) -> Result<Value, String> {
    let (container, last) = parent(target, pointer)?;
    let removed = match container {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => last
            .parse::<usize>()
            .ok()
            .filter(|i| *i < items.len())
            .map(|i| items.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| format!("path {pointer:?} does not exist"))
}

fn get(target: &Value, pointer: &str) -> Result<Value, String> {
    target
        .pointer(pointer)
        .cloned()
        .ok_or_else(|| format!("path {pointer:?} does not exist"))
}

/// RFC 6902 JSON patch: `add`, `remove`, `replace`, `move`, `copy` and `test`.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or_else(|| "a JSON patch must be an array".to_owned())?;
    for op in ops {
        let field = |name: &str| op.get(name).and_then(Value::as_str);
        let path = field("path").ok_or_else(|| "operation without a path".to_owned())?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| "operation without a value".to_owned())
        };
        let from = || field("from").ok_or_else(|| "operation without from".to_owned());
        match field("op").unwrap_or_default() {
            "add" => add(target, path, value()?)?,
            "remove" => {
                remove(target, path)?;
            }
            "replace" => {
                remove(target, path)?;
                add(target, path, value()?)?;
            }
            "move" => {
                let moved = remove(target, from()?)?;
                add(target, path, moved)?;
            }
            "copy" => {
                let copied = get(target, from()?)?;
                add(target, path, copied)?;
            }
            "test" => {
                if get(target, path)? != value()? {
                    return Err(format!("test operation for path {path:?} failed"));
                }
            }
            other => return Err(format!("unsupported JSON patch operation {other:?}")),
        }
    }
    Ok(())
}
