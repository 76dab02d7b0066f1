//! Helpers for the unit tests: fake resources whose bytes say their name and content.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::config::route::v3::VirtualHost;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::pb::google::rpc;
use prost::Message;
use sesame_envoy::ResourceType;

use crate::answer::Answer;

/// Answers as their client decodes them.
pub(crate) fn decoded<A: Answer>(answers: Vec<A>) -> Vec<A::Message> {
    answers.iter().map(Answer::to_message).collect()
}

/// A fake resource of `ty`: its bytes are `name=content` (a virtual host, whose name the
/// store checks, is a real one named `name` with the domain `content`).
pub(crate) fn any(ty: ResourceType, name: &str, content: &str) -> Any {
    let value = if ty == ResourceType::VirtualHost {
        let vh = VirtualHost {
            name: name.to_string(),
            domains: vec![content.to_string()],
            ..Default::default()
        };
        vh.encode_to_vec()
    } else {
        format!("{name}={content}").into_bytes()
    };
    Any {
        type_url: ty.type_url().to_string(),
        value,
    }
}

/// The `name=content` text of a fake resource made by [`any`].
pub(crate) fn text(any: &Any) -> String {
    if any.type_url == ResourceType::VirtualHost.type_url()
        && let Ok(vh) = VirtualHost::decode(any.value.as_slice())
    {
        return format!("{}={}", vh.name, vh.domains.join(","));
    }
    String::from_utf8_lossy(&any.value).into_owned()
}

/// A full set of fake resources of `ty`, from `(name, content)` pairs.
pub(crate) fn set(
    ty: ResourceType,
    items: &[(&str, &str)],
) -> (ResourceType, BTreeMap<String, Any>) {
    let map = items
        .iter()
        .map(|(n, c)| (n.to_string(), any(ty, n, c)))
        .collect();
    (ty, map)
}

/// The `name=content` strings of a response's resources, in order.
pub(crate) fn contents(resp: &DiscoveryResponse) -> Vec<String> {
    resp.resources.iter().map(text).collect()
}

/// The type of a response.
pub(crate) fn type_of(resp: &DiscoveryResponse) -> Option<ResourceType> {
    ResourceType::from_type_url(&resp.type_url)
}

/// A first request (no nonce) for `names` of `ty`, from node `envoy-1`.
pub(crate) fn subscribe(ty: ResourceType, names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: ty.type_url().to_string(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        node: Some(Node {
            id: "envoy-1".to_string(),
            cluster: "ingress".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The ACK of `resp`, keeping (or changing to) `names`.
pub(crate) fn ack(resp: &DiscoveryResponse, names: &[&str]) -> DiscoveryRequest {
    DiscoveryRequest {
        type_url: resp.type_url.clone(),
        version_info: resp.version_info.clone(),
        response_nonce: resp.nonce.clone(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        ..Default::default()
    }
}

/// The NACK of `resp`: Envoy keeps `version_in_use` and reports `message`.
pub(crate) fn nack(
    resp: &DiscoveryResponse,
    version_in_use: &str,
    names: &[&str],
    message: &str,
) -> DiscoveryRequest {
    DiscoveryRequest {
        version_info: version_in_use.to_string(),
        error_detail: Some(rpc::Status {
            code: 3,
            message: message.to_string(),
            details: Vec::new(),
        }),
        ..ack(resp, names)
    }
}

/// A first delta request of `ty` subscribing `names`, from node `envoy-1`.
pub(crate) fn delta_subscribe(ty: ResourceType, names: &[&str]) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: ty.type_url().to_string(),
        resource_names_subscribe: names.iter().map(|n| n.to_string()).collect(),
        node: Some(Node {
            id: "envoy-1".to_string(),
            cluster: "ingress".to_string(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The delta ACK of `resp`.
pub(crate) fn delta_ack(resp: &DeltaDiscoveryResponse) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        type_url: resp.type_url.clone(),
        response_nonce: resp.nonce.clone(),
        ..Default::default()
    }
}

/// The delta NACK of `resp`, reporting `message`.
pub(crate) fn delta_nack(resp: &DeltaDiscoveryResponse, message: &str) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        error_detail: Some(rpc::Status {
            code: 3,
            message: message.to_string(),
            details: Vec::new(),
        }),
        ..delta_ack(resp)
    }
}

/// The `name=content` strings of a delta response's resources, in order.
pub(crate) fn delta_contents(resp: &DeltaDiscoveryResponse) -> Vec<String> {
    resp.resources
        .iter()
        .filter_map(|r| r.resource.as_ref())
        .map(text)
        .collect()
}

/// The type of a delta response.
pub(crate) fn delta_type(resp: &DeltaDiscoveryResponse) -> Option<ResourceType> {
    ResourceType::from_type_url(&resp.type_url)
}

/// Log output captured by a test subscriber.
#[derive(Clone, Default)]
pub(crate) struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Runs `f` with warnings and errors captured into these logs.
    pub(crate) fn capture<T>(&self, f: impl FnOnce() -> T) -> T {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::with_default(subscriber, f)
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

/// A real EDS cluster `name` whose load assignment is `service`, with `timeout` seconds.
pub(crate) fn eds_cluster(name: &str, service: &str, timeout: i64) -> Any {
    use envoy_types::pb::envoy::config::cluster::v3::{Cluster as ClusterProto, cluster};
    let proto = ClusterProto {
        name: name.to_string(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster::EdsClusterConfig {
            service_name: service.to_string(),
            ..Default::default()
        }),
        connect_timeout: Some(envoy_types::pb::google::protobuf::Duration {
            seconds: timeout,
            nanos: 0,
        }),
        ..Default::default()
    };
    envoy_types::util::pack_any(proto)
}
