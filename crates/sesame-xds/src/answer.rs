//! Discovery responses as they go on the wire, and the decoder of the requests.
//!
//! A generated `DiscoveryResponse` or `DeltaDiscoveryResponse` would own a copy of every
//! resource it carries: at 10 000 hosts, ~7 MB for a first delta answer, then as much again
//! encoded, per stream. An [`Answer`] keeps the store's resources shared, and its
//! [`GrpcMessage`] encodes them piece by piece as the connection sends them. The bytes are those
//! prost writes for the generated message.

use std::marker::PhantomData;
use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryResponse, DiscoveryResponse};
use prost::Message;
use prost::bytes::{BufMut, Bytes};
use sesame_envoy::{append_message, message_field_len};
use tonic::Status;
use tonic::codec::{DecodeBuf, Decoder};

use crate::store::Resource;
use crate::version::Digest;

/// `DiscoveryResponse.version_info` and `DeltaDiscoveryResponse.system_version_info`.
const RESPONSE_VERSION: u32 = 1;
/// `DiscoveryResponse.resources` (each an `Any`) and `DeltaDiscoveryResponse.resources` (each a
/// `Resource`).
const RESPONSE_RESOURCES: u32 = 2;
/// `Resource.version`.
const RESOURCE_VERSION: u32 = 1;
/// `Resource.resource`, an `Any`.
const RESOURCE_BODY: u32 = 2;
/// `Resource.name`.
const RESOURCE_NAME: u32 = 3;
/// `Resource.aliases`.
const RESOURCE_ALIASES: u32 = 4;
/// `Any.type_url`.
const ANY_TYPE_URL: u32 = 1;
/// `Any.value`.
const ANY_VALUE: u32 = 2;

/// A discovery response written part by part: the version, each resource in turn, then every
/// other field (the fields in number order, as prost writes them).
pub trait Answer: Send + 'static {
    /// The generated message the answer's bytes decode as.
    type Message: Message + Default;

    /// The size of the encoded response.
    fn encoded_len(&self) -> usize;

    /// How many parts [`write_part`](Self::write_part) writes.
    fn parts(&self) -> usize;

    /// Writes part `part` of the response; `false` past the last one.
    fn write_part(&self, part: usize, out: &mut impl BufMut) -> bool;

    /// Writes the whole response.
    ///
    /// # Panics
    ///
    /// When `out` has no room for [`encoded_len`](Self::encoded_len) more bytes (a `Vec` grows
    /// as needed).
    fn encode(&self, out: &mut impl BufMut) {
        assert!(
            out.remaining_mut() >= self.encoded_len(),
            "no room for the answer"
        );
        let mut part = 0;
        while self.write_part(part, out) {
            part += 1;
        }
    }

    /// The response as its receiver decodes it.
    fn to_message(&self) -> Self::Message {
        let mut bytes = Vec::with_capacity(self.encoded_len());
        self.encode(&mut bytes);
        Self::Message::decode(bytes.as_slice()).expect("an answer decodes as its message")
    }

    /// The response as one gRPC message (not compressed, its length, its bytes) in pieces of
    /// about [`CHUNK`] bytes, each encoded when taken: only what the connection is sending is
    /// ever encoded, never the whole answer at once.
    fn grpc_message(self) -> GrpcMessage<Self>
    where
        Self: Sized,
    {
        GrpcMessage {
            answer: self,
            next: None,
        }
    }
}

/// A delta response: the resources it carries stay shared with the store until written.
#[derive(Debug)]
pub struct DeltaAnswer {
    /// The type's version (`system_version_info`).
    version: String,
    /// Resources sent, by name.
    upserts: Vec<(String, Arc<Resource>)>,
    /// Names answered as an alias without a resource (VHDS on demand).
    unresolved: Vec<String>,
    /// Every other field: type URL, removals, nonce, control plane.
    rest: DeltaDiscoveryResponse,
}

impl DeltaAnswer {
    /// A response of `version` carrying `upserts` and `unresolved`; `rest` holds the other fields
    /// (its own version and resources are ignored).
    pub(crate) fn new(
        version: String,
        upserts: Vec<(String, Arc<Resource>)>,
        unresolved: Vec<String>,
        mut rest: DeltaDiscoveryResponse,
    ) -> Self {
        rest.system_version_info.clear();
        rest.resources.clear();
        DeltaAnswer {
            version,
            upserts,
            unresolved,
            rest,
        }
    }
}

impl Answer for DeltaAnswer {
    type Message = DeltaDiscoveryResponse;

    fn encoded_len(&self) -> usize {
        let upserts: usize = self
            .upserts
            .iter()
            .map(|(name, r)| message_field_len(upsert_len(name, r)))
            .sum();
        let unresolved: usize = self
            .unresolved
            .iter()
            .map(|name| message_field_len(alias_len(name)))
            .sum();
        string_len(&self.version) + upserts + unresolved + self.rest.encoded_len()
    }

    fn parts(&self) -> usize {
        1 + self.upserts.len() + self.unresolved.len() + 1
    }

    fn write_part(&self, part: usize, out: &mut impl BufMut) -> bool {
        let Some(part) = part.checked_sub(1) else {
            put_string(out, RESPONSE_VERSION, &self.version);
            return true;
        };
        if let Some((name, r)) = self.upserts.get(part) {
            let mut version = [0; VERSION_LEN];
            hex::encode_to_slice(r.digest(), &mut version).expect("twice the digest's size");
            put_header(out, RESPONSE_RESOURCES, upsert_len(name, r));
            put_bytes(out, RESOURCE_VERSION, &version);
            put_header(out, RESOURCE_BODY, any_len(r));
            put_any(out, r);
            put_string(out, RESOURCE_NAME, name);
            return true;
        }
        let part = part - self.upserts.len();
        if let Some(name) = self.unresolved.get(part) {
            put_header(out, RESPONSE_RESOURCES, alias_len(name));
            put_string(out, RESOURCE_NAME, name);
            put_string(out, RESOURCE_ALIASES, name);
            return true;
        }
        if part == self.unresolved.len() {
            self.rest
                .encode(out)
                .expect("the caller has room for the answer");
            return true;
        }
        false
    }
}

/// A state-of-the-world response: every resource of the type, shared with the store until
/// written.
#[derive(Debug)]
pub struct SotwAnswer {
    /// The version of the resources (`version_info`).
    version: String,
    /// The resources, in order.
    resources: Vec<Arc<Resource>>,
    /// Every other field: type URL, nonce, control plane.
    rest: DiscoveryResponse,
}

impl SotwAnswer {
    /// A response of `version` carrying `resources`; `rest` holds the other fields (its own
    /// version and resources are ignored).
    pub(crate) fn new(
        version: String,
        resources: Vec<Arc<Resource>>,
        mut rest: DiscoveryResponse,
    ) -> Self {
        rest.version_info.clear();
        rest.resources.clear();
        SotwAnswer {
            version,
            resources,
            rest,
        }
    }
}

impl Answer for SotwAnswer {
    type Message = DiscoveryResponse;

    fn encoded_len(&self) -> usize {
        let resources: usize = self
            .resources
            .iter()
            .map(|r| message_field_len(any_len(r)))
            .sum();
        string_len(&self.version) + resources + self.rest.encoded_len()
    }

    fn parts(&self) -> usize {
        1 + self.resources.len() + 1
    }

    fn write_part(&self, part: usize, out: &mut impl BufMut) -> bool {
        let Some(part) = part.checked_sub(1) else {
            put_string(out, RESPONSE_VERSION, &self.version);
            return true;
        };
        if let Some(r) = self.resources.get(part) {
            put_header(out, RESPONSE_RESOURCES, any_len(r));
            put_any(out, r);
            return true;
        }
        if part == self.resources.len() {
            self.rest
                .encode(out)
                .expect("the caller has room for the answer");
            return true;
        }
        false
    }
}

/// The size a piece of a [`GrpcMessage`] reaches before it is handed over (a part is never
/// split: one larger than this makes a larger piece).
pub const CHUNK: usize = 64 << 10;

/// An [`Answer`] as one gRPC message, in pieces encoded as they are taken.
#[derive(Debug)]
pub struct GrpcMessage<A> {
    answer: A,
    /// The next part to write; `None` before the message's prefix.
    next: Option<usize>,
}

impl<A: Answer> Iterator for GrpcMessage<A> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.next.is_some_and(|part| part >= self.answer.parts()) {
            return None;
        }
        let mut out = Vec::with_capacity(CHUNK);
        let mut part = match self.next {
            Some(part) => part,
            None => {
                let len = self.answer.encoded_len();
                out.put_u8(0);
                out.put_u32(u32::try_from(len).expect("an answer below 4 GiB"));
                0
            }
        };
        while out.len() < CHUNK && self.answer.write_part(part, &mut out) {
            part += 1;
        }
        self.next = Some(part);
        Some(Bytes::from(out))
    }
}

/// The size of a resource's version: its digest in hex (as `Resource::version` writes it).
const VERSION_LEN: usize = 2 * std::mem::size_of::<Digest>();

/// The encoded size of the delta `Resource` sending `r` as `name`.
fn upsert_len(name: &str, r: &Resource) -> usize {
    message_field_len(VERSION_LEN) + message_field_len(any_len(r)) + string_len(name)
}

/// The encoded size of the `Any` holding `r`.
fn any_len(r: &Resource) -> usize {
    string_len(r.type_url()) + bytes_len(r.value())
}

/// Writes the fields of the `Any` holding `r`.
fn put_any(out: &mut impl BufMut, r: &Resource) {
    put_string(out, ANY_TYPE_URL, r.type_url());
    put_bytes(out, ANY_VALUE, r.value());
}

/// The encoded size of the delta `Resource` naming `name` as its own alias, without a body.
fn alias_len(name: &str) -> usize {
    2 * string_len(name)
}

/// The size of a string field (none when empty, as proto3 leaves it out).
fn string_len(s: &str) -> usize {
    bytes_len(s.as_bytes())
}

/// The size of a bytes field (none when empty).
fn bytes_len(b: &[u8]) -> usize {
    if b.is_empty() {
        0
    } else {
        message_field_len(b.len())
    }
}

/// Writes a string field, unless empty.
fn put_string(out: &mut impl BufMut, field: u32, s: &str) {
    put_bytes(out, field, s.as_bytes());
}

/// Writes a bytes field, unless empty.
fn put_bytes(out: &mut impl BufMut, field: u32, b: &[u8]) {
    if !b.is_empty() {
        append_message(out, field, b);
    }
}

/// Writes the key and length of a message field of `len` bytes; its fields follow.
fn put_header(out: &mut impl BufMut, field: u32, len: usize) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// Reads a stream's requests (with prost).
#[derive(Debug)]
pub(crate) struct RequestDecoder<T>(PhantomData<fn() -> T>);

impl<T> Default for RequestDecoder<T> {
    fn default() -> Self {
        RequestDecoder(PhantomData)
    }
}

impl<T: Message + Default> Decoder for RequestDecoder<T> {
    type Item = T;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<T>, Status> {
        T::decode(src)
            .map(Some)
            .map_err(|err| Status::internal(err.to_string()))
    }
}

#[cfg(test)]
#[path = "answer/tests.rs"]
mod tests;
