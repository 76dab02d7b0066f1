//! One document, decoded while it is read. A `List` (`kind: List` or `FooList`) has its items
//! decoded one at a time as the parser reaches them, so a file holding thousands of objects
//! never holds them all as raw JSON values at once: only the decoded objects stay.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use sesame_dag::object::Object;

use crate::decode::{DecodeError, TypeInfo, decode_object};

/// One object of a document: where it stands and what decoding it gave.
#[derive(Debug)]
pub(super) struct Entry {
    /// Its index in the document's top list, if the document is a list.
    pub item: Option<usize>,
    /// The object, `None` for a kind Sesame does not read, or why it does not decode.
    pub decoded: Result<Option<Object>, DecodeError>,
    /// What the object says it is, kept only when it was skipped.
    pub skipped: Option<TypeInfo>,
}

/// The objects of one document, in order.
#[derive(Debug, Default)]
pub(super) struct Document {
    /// Empty for an empty (`null`) document.
    pub entries: Vec<Entry>,
}

impl Document {
    /// A document holding one raw value: an object, or a list already read whole.
    fn from_value(value: Value) -> Self {
        let mut entries = Vec::new();
        flatten(value, None, &mut entries);
        Document { entries }
    }
}

/// Decodes one raw object.
fn entry(item: Option<usize>, value: Value) -> Entry {
    let info = TypeInfo::of(&value);
    let decoded = decode_object(value);
    let skipped = matches!(decoded, Ok(None)).then_some(info);
    Entry {
        item,
        decoded,
        skipped,
    }
}

/// Expands (nested) lists into their items, tagging each with its index in the top list.
fn flatten(value: Value, item: Option<usize>, out: &mut Vec<Entry>) {
    match value {
        Value::Object(mut map) if is_list(&map) => {
            if let Some(Value::Array(items)) = map.remove("items") {
                for (i, v) in items.into_iter().enumerate() {
                    flatten(v, item.or(Some(i)), out);
                }
            }
        }
        Value::Null => {}
        other => out.push(entry(item, other)),
    }
}

/// Whether `kind` names a list kind.
fn is_list_kind(kind: Option<&Value>) -> bool {
    kind.and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
}

fn is_list(map: &Map<String, Value>) -> bool {
    is_list_kind(map.get("kind")) && map.get("items").is_some_and(Value::is_array)
}

/// The visitor methods of every scalar (and of null), each wrapping the value read with `$wrap`.
macro_rules! visit_scalars {
    ($out:ty, $wrap:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<$out, E> {
            Ok($wrap(Value::Null))
        }

        fn visit_none<E: de::Error>(self) -> Result<$out, E> {
            Ok($wrap(Value::Null))
        }

        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<$out, D::Error> {
            deserializer.deserialize_any(self)
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<$out, E> {
            Ok($wrap(Value::Bool(v)))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<$out, E> {
            Ok($wrap(Value::from(v)))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<$out, E> {
            Ok($wrap(Value::from(v)))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<$out, E> {
            Ok($wrap(Value::from(v)))
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<$out, E> {
            Ok($wrap(Value::from(v)))
        }
    };
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

/// Reads a document: a mapping field by field (items streamed), anything else as a value.
struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object or list")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut fields = Map::new();
        let mut items = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" && items.is_none() {
                items = Some(map.next_value_seed(ItemsSeed)?);
            } else {
                let value = map.next_value::<Value>()?;
                fields.insert(key, value);
            }
        }
        let streamed_list =
            matches!(items, Some(Items::Decoded(_))) && is_list_kind(fields.get("kind"));
        match items {
            Some(Items::Decoded(entries)) if streamed_list => Ok(Document { entries }),
            // Not a list after all: the object is read without its `items` field, which no
            // kind Sesame decodes has.
            Some(Items::Decoded(_)) | None => Ok(Document::from_value(Value::Object(fields))),
            Some(Items::Raw(value)) => {
                fields.insert("items".to_string(), value);
                Ok(Document::from_value(Value::Object(fields)))
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
        Ok(Document::from_value(value))
    }

    visit_scalars!(Document, Document::from_value);
}

/// The `items` field of a mapping: decoded element by element when it is a sequence.
enum Items {
    /// The elements, decoded (lists nested in them expanded).
    Decoded(Vec<Entry>),
    /// Not a sequence: kept as read.
    Raw(Value),
}

struct ItemsSeed;

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Items;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Items, D::Error> {
        deserializer.deserialize_any(ItemsVisitor)
    }
}

struct ItemsVisitor;

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Items;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Items, A::Error> {
        let mut entries = Vec::new();
        let mut i = 0;
        while let Some(value) = seq.next_element::<Value>()? {
            flatten(value, Some(i), &mut entries);
            i += 1;
        }
        Ok(Items::Decoded(entries))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Items, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(Items::Raw(value))
    }

    visit_scalars!(Items, Items::Raw);
}
