//! Helpers shared by the golden tests: small hand-made DAG parts and decoding.

use envoy_types::pb::google::protobuf::Any;
use k8s_openapi::api::discovery::v1::{
    Endpoint as SliceEndpoint, EndpointConditions, EndpointPort, EndpointSlice,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use prost::{Message, Name};
use sesame_dag::dag::{
    CircuitBreakers, Cluster, Forward, LbPolicy, PathMatch, Route, RouteAction, SecureVirtualHost,
    TlsSecret, TlsVersion, UpstreamProtocol, VirtualHost, WeightedCluster,
};
use sesame_dag::snapshot::SERVICE_NAME_LABEL;
use sesame_dag::{Dag, Kind, NamespacedName, ObjectKey};
use std::collections::BTreeMap;

/// Decodes an `Any`, checking its type URL first.
pub fn decode<T: Message + Name + Default>(any: &Any) -> T {
    assert_eq!(any.type_url, T::type_url(), "type url");
    match T::decode(any.value.as_slice()) {
        Ok(m) => m,
        Err(e) => panic!("cannot decode {}: {e}", T::full_name()),
    }
}

/// A route with no header match forwarding to one cluster.
pub fn forward_route(path: PathMatch, cluster: &str) -> Route {
    Route {
        path,
        headers: Vec::new(),
        query_params: Vec::new(),
        action: RouteAction::Forward(Forward {
            clusters: vec![WeightedCluster::new(cluster, 100)],
            ..Default::default()
        }),
        origin: ObjectKey::new(Kind::Ingress, NamespacedName::new("default", "ing")),
        ip_filter: None,
        authorization: None,
        jwt_provider: None,
    }
}

/// A virtual host.
pub fn vhost(hostname: &str, routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        hostname: hostname.to_string(),
        routes,
        ..Default::default()
    }
}

/// A secure virtual host with TLS 1.2 to 1.3 and the secret `default/<hostname>-tls/abcde`.
pub fn secure_vhost(hostname: &str, routes: Vec<Route>) -> SecureVirtualHost {
    SecureVirtualHost {
        virtual_host: vhost(hostname, routes),
        secret: format!("default/{hostname}-tls/abcde"),
        min_tls_version: TlsVersion::V1_2,
        max_tls_version: TlsVersion::V1_3,
        client_validation: None,
        fallback_certificate: false,
        tcp_proxy: None,
        authorization: None,
        jwt_providers: Vec::new(),
    }
}

/// A cluster for port 80 (named `http`) of `default/<service>`.
pub fn cluster(service: &str, protocol: UpstreamProtocol) -> Cluster {
    Cluster {
        name: format!("default/{service}/80/da39a3ee5e"),
        service: NamespacedName::new("default", service),
        port: 80,
        port_name: "http".to_string(),
        eds_name: format!("default/{service}/http"),
        protocol,
        circuit_breakers: CircuitBreakers::default(),
        lb_policy: LbPolicy::default(),
        health_check: None,
        slow_start: None,
        upstream_validation: None,
        idle_connection_timeout: None,
        connect_timeout: std::time::Duration::from_secs(2),
        external_name: None,
        sni: None,
        client_certificate: None,
        targets: Vec::new(),
        response_timeout: None,
    }
}

/// A TLS secret with placeholder PEM bytes.
pub fn tls_secret(name: &str) -> TlsSecret {
    TlsSecret {
        name: name.to_string(),
        source: NamespacedName::new("default", "tls"),
        certificate_chain: b"-----BEGIN CERTIFICATE-----\n".to_vec(),
        private_key: b"-----BEGIN PRIVATE KEY-----\n".to_vec(),
    }
}

/// A DAG with one plain vhost `foo.com` (`/` → `default/svc`), one secure vhost `secure.com`
/// and its secret, and the cluster.
pub fn sample_dag() -> Dag {
    let mut dag = Dag::default();
    let c = cluster("svc", UpstreamProtocol::Http1);
    dag.http.insert(
        "foo.com".to_string(),
        vhost(
            "foo.com",
            vec![forward_route(PathMatch::Prefix("/".into()), &c.name)],
        ),
    );
    let secure = secure_vhost(
        "secure.com",
        vec![forward_route(PathMatch::Prefix("/".into()), &c.name)],
    );
    dag.secrets
        .insert(secure.secret.clone(), tls_secret(&secure.secret));
    dag.https.insert("secure.com".to_string(), secure);
    dag.clusters.insert(c.name.clone(), c);
    dag
}

/// A protobuf duration of whole seconds.
pub fn seconds(s: i64) -> envoy_types::pb::google::protobuf::Duration {
    envoy_types::pb::google::protobuf::Duration {
        seconds: s,
        nanos: 0,
    }
}

/// An EndpointSlice of `default/<service>` with these addresses (and readiness) on port `http`.
pub fn slice(name: &str, service: &str, ips: &[(&str, bool)], port: i32) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some("default".to_string()),
            labels: Some(BTreeMap::from([(
                SERVICE_NAME_LABEL.to_string(),
                service.to_string(),
            )])),
            ..Default::default()
        },
        address_type: "IPv4".to_string(),
        endpoints: ips
            .iter()
            .map(|(ip, ready)| SliceEndpoint {
                addresses: vec![ip.to_string()],
                conditions: Some(EndpointConditions {
                    ready: Some(*ready),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ports: Some(vec![EndpointPort {
            name: Some("http".to_string()),
            port: Some(port),
            protocol: Some("TCP".to_string()),
            ..Default::default()
        }]),
    }
}

/// The ClusterLoadAssignments of the clusters of `services`, as the rebuild loop computes them
/// for an endpoint-only change (through [`crate::incremental::Translator`]'s index).
pub fn service_endpoints(
    dag: &Dag,
    snapshot: &sesame_dag::Snapshot,
    services: &std::collections::BTreeSet<NamespacedName>,
) -> BTreeMap<String, Any> {
    let mut translator = crate::incremental::Translator::new(crate::TranslateConfig::default());
    translator.full(dag, snapshot);
    translator.service_endpoints(snapshot, services)
}
