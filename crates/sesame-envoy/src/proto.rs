//! Small builders shared by the translators: config sources, durations, wrappers, addresses.

use std::net::SocketAddr;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::google::protobuf::{Any, BoolValue, Duration, UInt32Value};
use prost::{Message, Name};
use sesame_dag::dag::Timeout;

/// Encodes a message into an `Any` with its type URL.
pub(crate) fn any<T: Message + Name>(message: &T) -> Any {
    Any {
        type_url: T::type_url(),
        value: message.encode_to_vec(),
    }
}

/// `{ads: {}, resource_api_version: V3}`: fetch the resource over the ADS stream.
pub fn ads_config_source() -> core_v3::ConfigSource {
    core_v3::ConfigSource {
        resource_api_version: core_v3::ApiVersion::V3 as i32,
        config_source_specifier: Some(core_v3::config_source::ConfigSourceSpecifier::Ads(
            core_v3::AggregatedConfigSource {},
        )),
        ..Default::default()
    }
}

/// A protobuf duration. Durations too long for protobuf saturate at its maximum.
pub(crate) fn duration(d: std::time::Duration) -> Duration {
    // protobuf's limit: 315,576,000,000 seconds (10,000 years).
    const MAX_SECONDS: u64 = 315_576_000_000;
    if d.as_secs() > MAX_SECONDS {
        return Duration {
            seconds: MAX_SECONDS as i64,
            nanos: 0,
        };
    }
    Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// A timeout: infinite is `0s`, which Envoy reads as "no timeout".
pub(crate) fn timeout(t: Timeout) -> Duration {
    match t {
        Timeout::Infinite => Duration {
            seconds: 0,
            nanos: 0,
        },
        Timeout::After(d) => duration(d),
    }
}

/// Appends to an encoded message a length-delimited field `field` holding `bytes` (an encoded
/// message, a string or bytes): a parser merges it as if it had been encoded with the rest.
pub fn append_message(out: &mut impl prost::bytes::BufMut, field: u32, bytes: &[u8]) {
    use prost::encoding::{WireType, encode_key, encode_varint};
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.put_slice(bytes);
}

/// How many bytes [`append_message`] adds for `len` bytes in a field numbered below 16.
pub fn message_field_len(len: usize) -> usize {
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// A data source holding `text` inline.
pub(crate) fn inline_string(text: &str) -> core_v3::DataSource {
    core_v3::DataSource {
        specifier: Some(core_v3::data_source::Specifier::InlineString(
            text.to_string(),
        )),
        ..Default::default()
    }
}

/// A `BoolValue` wrapper.
pub(crate) fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

/// A `UInt32Value` wrapper.
pub(crate) fn u32_value(value: u32) -> Option<UInt32Value> {
    Some(UInt32Value { value })
}

/// A TCP socket address.
pub(crate) fn socket_address(ip: String, port: u32) -> core_v3::Address {
    core_v3::Address {
        address: Some(core_v3::address::Address::SocketAddress(
            core_v3::SocketAddress {
                address: ip,
                port_specifier: Some(core_v3::socket_address::PortSpecifier::PortValue(port)),
                ..Default::default()
            },
        )),
    }
}

/// The TCP socket address of a listener.
pub(crate) fn listener_address(addr: SocketAddr) -> core_v3::Address {
    socket_address(addr.ip().to_string(), u32::from(addr.port()))
}

/// The name of Envoy's TLS transport socket.
pub(crate) const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";

/// A TLS transport socket carrying `context` (an upstream or downstream TLS context).
pub(crate) fn tls_transport_socket<T: Message + Name>(context: &T) -> core_v3::TransportSocket {
    core_v3::TransportSocket {
        name: TLS_TRANSPORT_SOCKET.to_string(),
        config_type: Some(core_v3::transport_socket::ConfigType::TypedConfig(any(
            context,
        ))),
    }
}
