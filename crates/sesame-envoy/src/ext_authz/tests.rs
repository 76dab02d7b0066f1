use std::collections::BTreeMap;
use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3 as cluster_v3;
use envoy_types::pb::envoy::config::endpoint::v3 as endpoint_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::extensions::filters::http::ext_authz::v3 as ext_authz_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{
    Authorization, AuthorizationBody, EdsTarget, PathMatch, RouteAuthorization, Timeout,
    UpstreamProtocol,
};
use sesame_dag::{Dag, NamespacedName, Snapshot};

use super::*;
use crate::testutil::{cluster, decode, forward_route, secure_vhost};
use crate::{TranslateConfig, translate};

/// A DAG with an ExtensionService cluster over two Services and a secure host `auth.com` that
/// checks its requests with it: `/open` disabled, `/ctx` with context, `/` plain.
pub(crate) fn authorized_dag() -> Dag {
    let mut dag = Dag::default();
    let web = cluster("web", UpstreamProtocol::Http1);
    let mut ext = cluster("authz", UpstreamProtocol::H2c);
    ext.name = "extension/auth/authz".into();
    ext.eds_name = ext.name.clone();
    ext.targets = vec![
        EdsTarget {
            service: NamespacedName::new("auth", "a"),
            port_name: "grpc".into(),
            weight: Some(3),
        },
        EdsTarget {
            service: NamespacedName::new("auth", "b"),
            port_name: String::new(),
            weight: None,
        },
    ];
    let mut open = forward_route(PathMatch::Prefix("/open".into()), &web.name);
    open.authorization = Some(Box::new(RouteAuthorization::Disabled));
    let mut ctx = forward_route(PathMatch::Prefix("/ctx".into()), &web.name);
    ctx.authorization = Some(Box::new(RouteAuthorization::Context(BTreeMap::from([(
        "tier".to_string(),
        "gold".to_string(),
    )]))));
    let plain = forward_route(PathMatch::Prefix("/".into()), &web.name);
    let mut host = secure_vhost("auth.com", vec![open, ctx, plain]);
    host.authorization = Some(Box::new(Authorization {
        cluster: ext.name.clone(),
        authority: "a.auth".into(),
        timeout: Some(Timeout::After(Duration::from_millis(1500))),
        fail_open: true,
        with_request_body: Some(AuthorizationBody {
            max_request_bytes: 2048,
            allow_partial_message: true,
            pack_as_bytes: false,
        }),
    }));
    let other = secure_vhost(
        "other.com",
        vec![forward_route(PathMatch::Prefix("/".into()), &web.name)],
    );
    dag.https.insert("auth.com".into(), host);
    dag.https.insert("other.com".into(), other);
    dag.clusters.insert(web.name.clone(), web);
    dag.clusters.insert(ext.name.clone(), ext);
    dag
}

fn filter_names(chain: &listener_v3::FilterChain) -> Vec<String> {
    let hcm: envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager =
        match &chain.filters[0].config_type {
            Some(listener_v3::filter::ConfigType::TypedConfig(any)) => decode(any),
            other => panic!("no typed config: {other:?}"),
        };
    hcm.http_filters.iter().map(|f| f.name.clone()).collect()
}

#[test]
fn only_the_authorized_hosts_chain_has_the_filter_before_the_router() {
    let resources = translate(&authorized_dag(), &TranslateConfig::default());
    let https: listener_v3::Listener = decode(&resources.listeners["ingress_https"]);
    let by_host: BTreeMap<String, Vec<String>> = https
        .filter_chains
        .iter()
        .map(|c| {
            let host = c.filter_chain_match.as_ref().unwrap().server_names[0].clone();
            (host, filter_names(c))
        })
        .collect();
    let authorized = &by_host["auth.com"];
    assert_eq!(authorized[authorized.len() - 2], EXT_AUTHZ_FILTER);
    assert_eq!(
        authorized.last().unwrap(),
        crate::http_filter::ROUTER_FILTER
    );
    assert!(!by_host["other.com"].contains(&EXT_AUTHZ_FILTER.to_string()));
}

#[test]
fn the_filter_calls_the_extension_cluster_as_contour_configures_it() {
    let dag = authorized_dag();
    let auth = dag.https["auth.com"].authorization.as_deref().unwrap();
    let filter = ext_authz_filter(auth);
    let config: ext_authz_v3::ExtAuthz = match filter.config_type {
        Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) => decode(&any),
        other => panic!("{other:?}"),
    };
    let Some(ext_authz_v3::ext_authz::Services::GrpcService(grpc)) = &config.services else {
        panic!("not gRPC: {:?}", config.services)
    };
    assert_eq!(
        grpc.target_specifier,
        Some(core_v3::grpc_service::TargetSpecifier::EnvoyGrpc(
            core_v3::grpc_service::EnvoyGrpc {
                cluster_name: "extension/auth/authz".into(),
                authority: "a.auth".into(),
                ..Default::default()
            }
        ))
    );
    assert_eq!(
        grpc.timeout,
        Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 1,
            nanos: 500_000_000
        })
    );
    assert!(config.failure_mode_allow && config.clear_route_cache);
    assert!(config.include_peer_certificate);
    assert_eq!(config.transport_api_version, core_v3::ApiVersion::V3 as i32);
    assert_eq!(config.status_on_error.unwrap().code, 403);
    let body = config.with_request_body.unwrap();
    assert_eq!(body.max_request_bytes, 2048);
    assert!(body.allow_partial_message && !body.pack_as_bytes);
}

#[test]
fn routes_carry_their_per_route_settings() {
    let resources = translate(&authorized_dag(), &TranslateConfig::default());
    let config: route_v3::RouteConfiguration = decode(&resources.routes["https/auth.com"]);
    let per_route: Vec<Option<ext_authz_v3::ExtAuthzPerRoute>> = config.virtual_hosts[0]
        .routes
        .iter()
        .map(|r| r.typed_per_filter_config.get(EXT_AUTHZ_FILTER).map(decode))
        .collect();
    use ext_authz_v3::ext_authz_per_route::Override;
    assert_eq!(
        per_route[0].as_ref().unwrap().r#override,
        Some(Override::Disabled(true))
    );
    let Some(Override::CheckSettings(settings)) = &per_route[1].as_ref().unwrap().r#override else {
        panic!("{:?}", per_route[1])
    };
    assert_eq!(settings.context_extensions["tier"], "gold");
    assert_eq!(per_route[2], None);
}

#[test]
fn an_extension_cluster_balances_over_weighted_localities() {
    let dag = authorized_dag();
    let ext = &dag.clusters["extension/auth/authz"];
    let encoded = crate::cluster::cluster(ext);
    assert!(matches!(
        encoded.common_lb_config.and_then(|c| c.locality_config_specifier),
        Some(cluster_v3::cluster::common_lb_config::LocalityConfigSpecifier::LocalityWeightedLbConfig(_))
    ));
    let snapshot = snapshot_with_endpoints();
    let endpoints = crate::endpoint::endpoints(&dag, &snapshot);
    let cla: endpoint_v3::ClusterLoadAssignment = decode(&endpoints["extension/auth/authz"]);
    let localities: Vec<(String, Option<u32>, usize)> = cla
        .endpoints
        .iter()
        .map(|l| {
            (
                l.locality.as_ref().unwrap().sub_zone.clone(),
                l.load_balancing_weight.map(|w| w.value),
                l.lb_endpoints.len(),
            )
        })
        .collect();
    assert_eq!(
        localities,
        [
            ("auth/a".to_string(), Some(3), 1),
            ("auth/b".to_string(), None, 1)
        ]
    );
    // The incremental translator reads the same, and knows both Services feed it.
    let mut translator = crate::incremental::Translator::new(TranslateConfig::default());
    let (_, full) = translator.full(&dag, &snapshot);
    assert_eq!(
        full["extension/auth/authz"],
        endpoints["extension/auth/authz"]
    );
    let only_b = translator.service_endpoints(
        &snapshot,
        &[NamespacedName::new("auth", "b")].into_iter().collect(),
    );
    assert_eq!(only_b.keys().collect::<Vec<_>>(), ["extension/auth/authz"]);
}

/// EndpointSlices with one ready endpoint each for `auth/a` (port `grpc` 9000) and `auth/b`
/// (unnamed port 9001).
fn snapshot_with_endpoints() -> Snapshot {
    let slice = |service: &str, port: serde_json::Value, ip: &str| {
        let value = serde_json::json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": format!("{service}-1"), "namespace": "auth",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
            "ports": [port],
        });
        let slice: k8s_openapi::api::discovery::v1::EndpointSlice =
            serde_json::from_value(value).unwrap();
        sesame_dag::Object::EndpointSlice(std::sync::Arc::new(slice.into()))
    };
    let mut snapshot = Snapshot::new();
    for object in [
        slice(
            "a",
            serde_json::json!({"name": "grpc", "port": 9000}),
            "10.0.0.1",
        ),
        slice("b", serde_json::json!({"port": 9001}), "10.0.0.2"),
    ] {
        snapshot.apply(sesame_dag::Change::Apply(object));
    }
    snapshot
}
