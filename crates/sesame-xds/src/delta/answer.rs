//! A delta response as it goes on the wire, and the decoder of the requests.
//!
//! A `DeltaDiscoveryResponse` would own a copy of each resource's name, version, type URL and
//! bytes: at 10 000 hosts, ~7 MB for a first answer, then as much again encoded. A
//! [`DeltaAnswer`] keeps the store's resources shared, and its [`GrpcMessage`] encodes them
//! piece by piece as the connection sends them.

use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use prost::Message;
use prost::bytes::{BufMut, Bytes};
use sesame_envoy::{append_message, message_field_len};
use tonic::Status;
use tonic::codec::{DecodeBuf, Decoder};

use crate::store::Resource;
use crate::version::Digest;

/// `DeltaDiscoveryResponse.system_version_info`.
const RESPONSE_VERSION: u32 = 1;
/// `DeltaDiscoveryResponse.resources`.
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

/// One delta response: the resources it carries stay shared with the store until written.
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

    /// The response as its receiver decodes it.
    pub fn to_message(&self) -> DeltaDiscoveryResponse {
        let mut bytes = Vec::with_capacity(self.encoded_len());
        self.encode(&mut bytes);
        DeltaDiscoveryResponse::decode(bytes.as_slice())
            .expect("a delta answer decodes as a DeltaDiscoveryResponse")
    }

    /// The size of the encoded response.
    pub fn encoded_len(&self) -> usize {
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

    /// The response as one gRPC message (not compressed, its length, its bytes) in pieces of
    /// about [`CHUNK`] bytes, each encoded when taken: only what the connection is sending is
    /// ever encoded, never the whole answer at once.
    pub fn grpc_message(self) -> GrpcMessage {
        GrpcMessage {
            answer: self,
            next: None,
        }
    }

    /// Writes the whole response, its fields in number order (as prost would).
    ///
    /// # Panics
    ///
    /// When `out` has no room for [`encoded_len`](Self::encoded_len) more bytes (a `Vec` grows
    /// as needed).
    pub fn encode(&self, out: &mut impl BufMut) {
        assert!(
            out.remaining_mut() >= self.encoded_len(),
            "no room for a delta answer"
        );
        let mut part = 0;
        while self.write_part(part, out) {
            part += 1;
        }
    }

    /// How many parts [`write_part`](Self::write_part) writes.
    fn parts(&self) -> usize {
        1 + self.upserts.len() + self.unresolved.len() + 1
    }

    /// Writes part `part` of the response, if there is one: 0 is the version, then each
    /// resource in turn, then every other field.
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
            put_string(out, ANY_TYPE_URL, r.type_url());
            put_bytes(out, ANY_VALUE, r.value());
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

/// The size a piece of a [`GrpcMessage`] reaches before it is handed over (a part is never
/// split: one larger than this makes a larger piece).
pub const CHUNK: usize = 64 << 10;

/// A [`DeltaAnswer`] as one gRPC message, in pieces encoded as they are taken.
#[derive(Debug)]
pub struct GrpcMessage {
    answer: DeltaAnswer,
    /// The next part to write; `None` before the message's prefix.
    next: Option<usize>,
}

impl Iterator for GrpcMessage {
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
                out.put_u32(u32::try_from(len).expect("a delta answer below 4 GiB"));
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

/// The encoded size of the `Resource` sending `r` as `name`.
fn upsert_len(name: &str, r: &Resource) -> usize {
    message_field_len(VERSION_LEN) + message_field_len(any_len(r)) + string_len(name)
}

/// The encoded size of the `Any` holding `r`.
fn any_len(r: &Resource) -> usize {
    string_len(r.type_url()) + bytes_len(r.value())
}

/// The encoded size of the `Resource` naming `name` as its own alias, without a body.
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

/// Reads a delta stream's `DeltaDiscoveryRequest`s (with prost).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RequestDecoder;

impl Decoder for RequestDecoder {
    type Item = DeltaDiscoveryRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DeltaDiscoveryRequest>, Status> {
        DeltaDiscoveryRequest::decode(src)
            .map(Some)
            .map_err(|err| Status::internal(err.to_string()))
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
