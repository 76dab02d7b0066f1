//! One manifest file's text → the objects it defines. Pure: no I/O, no logging.

use std::collections::BTreeMap;

use sesame_dag::object::{Object, ObjectKey};

use crate::decode::{DecodeError, TypeInfo};

mod document;

use document::{Document, Entry};

/// The syntax a file is read with, chosen by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.yaml` / `.yml`: one or more `---`-separated documents.
    Yaml,
    /// `.json`: one or more concatenated JSON values.
    Json,
}

/// What one file defines.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The objects, by key. When a file defines a key twice, the later definition wins.
    pub objects: BTreeMap<ObjectKey, Object>,
    /// Objects of kinds Sesame does not read, skipped.
    pub skipped: Vec<TypeInfo>,
    /// Keys defined more than once in the file.
    pub duplicates: Vec<ObjectKey>,
}

/// Why a file was rejected as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text is not valid YAML or JSON. The message already names the line and column.
    #[error("{message}")]
    Syntax {
        /// 1-based line of the error (0 when unknown).
        line: u64,
        /// 1-based column of the error (0 when unknown).
        column: u64,
        /// What the parser said.
        message: String,
    },
    /// A document parsed but is not an object Sesame can use.
    #[error("document at line {line}{}: {source}", item.map(|i| format!(", list item {i}")).unwrap_or_default())]
    Document {
        /// 1-based line where the document starts.
        line: u64,
        /// The index in the document's `items` when the document is a list.
        item: Option<usize>,
        /// Why the object did not decode.
        source: DecodeError,
    },
}

impl ParseError {
    /// The 1-based line the error points at (0 when unknown).
    pub fn line(&self) -> u64 {
        match self {
            ParseError::Syntax { line, .. } | ParseError::Document { line, .. } => *line,
        }
    }
}

/// Parses a whole file. Any syntax error, or any document of a known kind that does not
/// decode, rejects the whole file: a half-read file must not replace the objects it held.
pub fn parse(text: &str, format: Format) -> Result<Parsed, ParseError> {
    let documents = match format {
        Format::Yaml => yaml_documents(text)?,
        Format::Json => json_documents(text)?,
    };
    let mut parsed = Parsed::default();
    for (line, document) in documents {
        add_document(&mut parsed, line, document)?;
    }
    Ok(parsed)
}

/// Adds the objects of one document (an object, or a list of them).
fn add_document(parsed: &mut Parsed, line: u64, document: Document) -> Result<(), ParseError> {
    for Entry {
        item,
        decoded,
        skipped,
    } in document.entries
    {
        match decoded {
            Ok(Some(object)) => {
                let key = object.key();
                if parsed.objects.insert(key.clone(), object).is_some() {
                    parsed.duplicates.push(key);
                }
            }
            Ok(None) => parsed.skipped.extend(skipped),
            Err(source) => return Err(ParseError::Document { line, item, source }),
        }
    }
    Ok(())
}

/// The documents of a YAML stream with the line each starts on; empty documents are dropped.
fn yaml_documents(text: &str) -> Result<Vec<(u64, Document)>, ParseError> {
    // YAML 1.2 core booleans: `y`, `no`, `on` stay strings (the "Norway problem"); every
    // string field of a Kubernetes object would reject them as booleans anyway.
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        budget: yaml_budget(),
    };
    let documents: Vec<serde_saphyr::Spanned<Document>> =
        serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let location = e.location().unwrap_or(serde_saphyr::Location::UNKNOWN);
            ParseError::Syntax {
                line: location.line(),
                column: location.column(),
                message: e.without_snippet().to_string(),
            }
        })?;
    Ok(documents
        .into_iter()
        .filter(|d| !d.value.entries.is_empty())
        .map(|d| (d.referenced.line(), d.value))
        .collect())
}

/// serde-saphyr's default budget, with room for large generated manifest files. The files are
/// the operator's own configuration; the alias limits that stop "billion laughs" stay.
fn yaml_budget() -> Option<serde_saphyr::Budget> {
    serde_saphyr::budget! {
        max_documents: 1_000_000,
        max_nodes: 100_000_000,
        max_events: 200_000_000,
    }
}

/// The values of a JSON stream (usually one) with the line each starts on; `null`s are dropped.
fn json_documents(text: &str) -> Result<Vec<(u64, Document)>, ParseError> {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Document>();
    let mut documents = Vec::new();
    let (mut offset, mut line) = (0, 1);
    loop {
        let start = offset + leading_whitespace(&text[offset..]);
        let Some(next) = stream.next() else { break };
        let value = next.map_err(|e| ParseError::Syntax {
            line: e.line() as u64,
            column: e.column() as u64,
            message: e.to_string(),
        })?;
        line += text[offset..start].matches('\n').count() as u64;
        if !value.entries.is_empty() {
            documents.push((line, value));
        }
        let end = stream.byte_offset();
        line += text[start..end].matches('\n').count() as u64;
        offset = end;
    }
    Ok(documents)
}

fn leading_whitespace(text: &str) -> usize {
    text.len() - text.trim_start_matches([' ', '\t', '\n', '\r']).len()
}

#[cfg(test)]
mod tests;
