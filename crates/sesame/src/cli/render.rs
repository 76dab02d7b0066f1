//! xDS responses as the protobuf JSON mapping. Envoy's resources travel as `Any`s, so printing
//! them needs the descriptors of every Envoy message: `envoy-descriptors.bin` is the file
//! descriptor set envoy-types generated its Rust types from, without source comments (a test
//! keeps it equal to the one of the envoy-types in `Cargo.lock`).

use std::sync::LazyLock;

use anyhow::Context;
use envoy_types::pb::envoy::service::discovery::v3::{DeltaDiscoveryResponse, DiscoveryResponse};
use prost::{Message, Name};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// The descriptors of every message envoy-types knows.
pub(crate) static DESCRIPTORS: &[u8] = include_bytes!("envoy-descriptors.bin");

static POOL: LazyLock<Result<DescriptorPool, prost_reflect::DescriptorError>> =
    LazyLock::new(|| DescriptorPool::decode(DESCRIPTORS));

/// A state-of-the-world response as JSON.
pub fn state_of_the_world(response: &DiscoveryResponse) -> anyhow::Result<serde_json::Value> {
    to_json(response)
}

/// A delta response as JSON.
pub fn delta(response: &DeltaDiscoveryResponse) -> anyhow::Result<serde_json::Value> {
    to_json(response)
}

/// Any message of envoy-types as the protobuf JSON mapping, `Any`s expanded with `@type`.
pub fn to_json<M: Message + Name>(message: &M) -> anyhow::Result<serde_json::Value> {
    let pool = POOL.as_ref().context("Envoy's message descriptors")?;
    let name = M::full_name();
    let descriptor = pool
        .get_message_by_name(&name)
        .with_context(|| format!("no descriptor for {name}"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .with_context(|| format!("decoding {name}"))?;
    let options = SerializeOptions::new().skip_default_fields(true);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .with_context(|| format!("{name} as JSON"))
}

#[cfg(test)]
mod tests;
