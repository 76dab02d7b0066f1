use std::time::Duration;

use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{Dag, PathMatch, RemoteJwks};

use super::*;
use crate::testutil::{decode, forward_route, sample_dag, secure_vhost};
use crate::{TranslateConfig, translate};

pub(crate) fn provider_named(name: &str, cluster: &str) -> JwtProvider {
    JwtProvider {
        name: name.to_string(),
        issuer: Some(format!("https://{name}.issuer")),
        audiences: vec!["api".into()],
        remote_jwks: RemoteJwks {
            uri: format!("http://127.0.0.1:9/{name}/jwks"),
            cluster: cluster.to_string(),
            timeout: Duration::from_millis(1500),
            cache_duration: Some(Duration::from_secs(60)),
        },
        forward_jwt: name == "b",
    }
}

/// `sample_dag` with providers `a` and `b` on `secure.com`, whose `/` route requires `b`.
fn jwt_dag() -> Dag {
    let mut dag = sample_dag();
    let secure = dag.https.get_mut("secure.com").expect("secure.com");
    secure.jwt_providers = vec![
        provider_named("a", "dnsname/http/127.0.0.1:9"),
        provider_named("b", "dnsname/http/127.0.0.1:9"),
    ];
    for route in &mut secure.virtual_host.routes {
        route.jwt_provider = Some("b".into());
    }
    dag
}

fn secure_filters(dag: &Dag) -> Vec<hcm_v3::HttpFilter> {
    let resources = translate(dag, &TranslateConfig::default());
    let https: listener_v3::Listener = decode(&resources.listeners["ingress_https"]);
    let chain = &https.filter_chains[0];
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) =
        chain.filters[0].config_type.as_ref()
    else {
        panic!("no connection manager")
    };
    decode::<hcm_v3::HttpConnectionManager>(any).http_filters
}

#[test]
fn the_filter_holds_every_provider_and_a_requirement_per_provider() {
    let filters = secure_filters(&jwt_dag());
    let names: Vec<_> = filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "envoy.filters.http.cors",
            "envoy.filters.http.local_ratelimit",
            "envoy.filters.http.lua",
            "envoy.filters.http.rbac",
            JWT_AUTHN_FILTER,
            "envoy.filters.http.router"
        ]
    );
    let Some(hcm_v3::http_filter::ConfigType::TypedConfig(any)) = filters[4].config_type.as_ref()
    else {
        panic!("no config")
    };
    let config: jwt_v3::JwtAuthentication = decode(any);
    assert_eq!(config.providers.len(), 2);
    let b = &config.providers["b"];
    assert_eq!(b.issuer, "https://b.issuer");
    assert_eq!(b.audiences, ["api"]);
    assert!(b.forward && !config.providers["a"].forward);
    let Some(jwt_v3::jwt_provider::JwksSourceSpecifier::RemoteJwks(remote)) =
        &b.jwks_source_specifier
    else {
        panic!("no remote JWKS")
    };
    let uri = remote.http_uri.as_ref().expect("http_uri");
    assert_eq!(uri.uri, "http://127.0.0.1:9/b/jwks");
    assert_eq!(
        uri.http_upstream_type,
        Some(core_v3::http_uri::HttpUpstreamType::Cluster(
            "dnsname/http/127.0.0.1:9".into()
        ))
    );
    assert_eq!(
        uri.timeout.map(|t| (t.seconds, t.nanos)),
        Some((1, 500_000_000))
    );
    assert_eq!(remote.cache_duration.map(|d| d.seconds), Some(60));
    assert_eq!(
        config.requirement_map["a"].requires_type,
        Some(jwt_v3::jwt_requirement::RequiresType::ProviderName(
            "a".into()
        ))
    );
}

#[test]
fn the_filter_is_encoded_in_the_same_bytes_every_time() {
    let providers: Vec<_> = (0..8)
        .map(|i| provider_named(&format!("p{i}"), "c"))
        .collect();
    let first = jwt_authentication(&providers);
    for _ in 0..20 {
        assert_eq!(jwt_authentication(&providers), first);
    }
    let decoded = jwt_v3::JwtAuthentication::decode(first.as_slice()).expect("decodes");
    assert_eq!(decoded.providers.len(), 8);
    assert_eq!(decoded.requirement_map.len(), 8);
}

#[test]
fn hosts_without_providers_have_no_filter_and_routes_name_their_requirement() {
    let mut dag = jwt_dag();
    let mut plain = secure_vhost(
        "other.com",
        vec![forward_route(
            PathMatch::Prefix("/".into()),
            "default/svc/80/da39a3ee5e",
        )],
    );
    plain.secret = dag.https["secure.com"].secret.clone();
    dag.https.insert("other.com".into(), plain);
    let resources = translate(&dag, &TranslateConfig::default());
    let https: listener_v3::Listener = decode(&resources.listeners["ingress_https"]);
    let other = https
        .filter_chains
        .iter()
        .find(|c| {
            c.filter_chain_match
                .as_ref()
                .is_some_and(|m| m.server_names == ["other.com"])
        })
        .expect("other.com chain");
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) =
        other.filters[0].config_type.as_ref()
    else {
        panic!("no connection manager")
    };
    let hcm: hcm_v3::HttpConnectionManager = decode(any);
    assert!(!hcm.http_filters.iter().any(|f| f.name == JWT_AUTHN_FILTER));

    let rc: route_v3::RouteConfiguration = decode(&resources.routes["https/secure.com"]);
    let route = &rc.virtual_hosts[0].routes[0];
    let per_route: jwt_v3::PerRouteConfig =
        decode(&route.typed_per_filter_config[JWT_AUTHN_FILTER]);
    assert_eq!(
        per_route.requirement_specifier,
        Some(jwt_v3::per_route_config::RequirementSpecifier::RequirementName("b".into()))
    );
    let rc: route_v3::RouteConfiguration = decode(&resources.routes["https/other.com"]);
    assert!(
        rc.virtual_hosts[0].routes[0]
            .typed_per_filter_config
            .is_empty()
    );
}

/// A route that requires a provider and has an IP filter carries two per-filter configs: the
/// route configuration and the VHDS virtual host still come out in the same bytes every time.
#[test]
fn a_route_with_several_filter_configs_translates_in_the_same_bytes() {
    let mut dag = jwt_dag();
    let secure = dag.https.get_mut("secure.com").expect("secure.com");
    let deny = Some(Box::new(sesame_dag::dag::IpFilter {
        action: sesame_dag::dag::IpFilterAction::Deny,
        rules: vec![sesame_dag::dag::IpFilterRule {
            source: sesame_dag::dag::IpSource::Peer,
            address: "10.0.0.0".parse().expect("address"),
            prefix_len: 8,
        }],
    }));
    secure.virtual_host.routes[0].ip_filter = deny.clone();
    let plain = dag.http.values_mut().next().expect("a plain host");
    plain.routes[0].ip_filter = deny;
    plain.routes[0].jwt_provider = Some("b".into());
    let first = translate(&dag, &TranslateConfig::default());
    let rc: route_v3::RouteConfiguration = decode(&first.routes["https/secure.com"]);
    assert_eq!(
        rc.virtual_hosts[0].routes[0].typed_per_filter_config.len(),
        2
    );
    for _ in 0..30 {
        let again = translate(&dag, &TranslateConfig::default());
        assert_eq!(again.routes, first.routes);
        assert_eq!(again.virtual_hosts, first.virtual_hosts);
    }
}
