use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::extensions::filters::http::lua::v3 as lua_v3;
use pretty_assertions::assert_eq;
use sesame_dag::dag::PathMatch;

use super::*;
use crate::TranslateConfig;
use crate::testutil::{decode, forward_route, vhost};

fn dag(hosts: &[&str]) -> Dag {
    let mut dag = Dag::default();
    for host in hosts {
        let routes = vec![
            forward_route(PathMatch::Prefix("/a".into()), "c1"),
            forward_route(PathMatch::Exact("/b".into()), "c2"),
        ];
        dag.http.insert(host.to_string(), vhost(host, routes));
    }
    dag
}

fn decoded(any: &Any) -> route_v3::ScopedRouteConfiguration {
    decode(any)
}

/// The scope's key, its route configuration and the domains of each of its virtual hosts.
fn key_of(scope: &route_v3::ScopedRouteConfiguration) -> String {
    use route_v3::scoped_route_configuration::key::fragment::Type;
    let fragments = &scope.key.as_ref().expect("key").fragments;
    assert_eq!(fragments.len(), 1);
    match &fragments[0].r#type {
        Some(Type::StringKey(key)) => key.clone(),
        other => panic!("not a string key: {other:?}"),
    }
}

#[test]
fn each_exact_host_has_its_own_scope_and_the_others_share_the_fallback() {
    let long = format!("{}.example.com", "long".repeat(20));
    let dag = dag(&["a.example.com", "*.example.com", "*", long.as_str()]);
    let scopes = scopes(&dag);
    assert_eq!(
        scopes.keys().cloned().collect::<Vec<_>>(),
        [
            "ingress_http/*".to_string(),
            "ingress_http/a.example.com".to_string(),
            format!("ingress_http/{long}"),
        ]
    );
    for (name, any) in &scopes {
        let scope = decoded(any);
        assert_eq!(&scope.name, name);
        let rc = scope.route_configuration.as_ref().expect("inline routes");
        assert!(rc.name.is_empty());
        assert!(rc.ignore_port_in_host_matching);
        assert!(scope.route_configuration_name.is_empty());
        for vhost in &rc.virtual_hosts {
            assert_eq!(vhost.request_headers_to_remove, [SCOPE_HEADER]);
        }
    }
    // An exact host's key is its whole name, however long its virtual host's name is.
    let scope = decoded(&scopes[&format!("ingress_http/{long}")]);
    assert_eq!(key_of(&scope), long);
    let domains = |scope: &route_v3::ScopedRouteConfiguration| -> Vec<Vec<String>> {
        let rc = scope.route_configuration.as_ref().expect("inline routes");
        rc.virtual_hosts.iter().map(|v| v.domains.clone()).collect()
    };
    assert_eq!(domains(&scope), [[long.clone()]]);
    let fallback = decoded(&scopes["ingress_http/*"]);
    assert_eq!(key_of(&fallback), FALLBACK_KEY);
    assert_eq!(domains(&fallback), [["*"], ["*.example.com"]]);
    // Without wildcard or default hosts there is no fallback scope.
    let only_exact = super::scopes(&super::tests::dag(&["a.example.com"]));
    assert_eq!(
        only_exact.keys().collect::<Vec<_>>(),
        ["ingress_http/a.example.com"]
    );
}

#[test]
fn exact_routes_are_marked_and_end_with_a_404() {
    let dag = dag(&["a.example.com", "*.example.com"]);
    let exact = decoded(&exact_scope(&dag.http["a.example.com"]));
    let rc = exact.route_configuration.expect("inline routes");
    let plain = crate::route::virtual_host(&dag.http["a.example.com"]);
    let routes = &rc.virtual_hosts[0].routes;
    assert_eq!(routes.len(), plain.routes.len() + 1);
    for (route, plain) in routes.iter().zip(&plain.routes) {
        let mut unmarked = route.clone();
        unmarked.metadata = None;
        assert_eq!(&unmarked, plain, "the same route, marked");
    }
    for route in routes {
        assert_eq!(marks(route), Some("exact"), "{route:?}");
    }
    let last = routes.last().expect("a catch-all route");
    assert_eq!(
        last.r#match.as_ref().and_then(|m| m.path_specifier.clone()),
        Some(route_v3::route_match::PathSpecifier::Prefix("/".into()))
    );
    match &last.action {
        Some(route_v3::route::Action::DirectResponse(d)) => assert_eq!(d.status, 404),
        other => panic!("not a 404: {other:?}"),
    }
    // The fallback scope's routes are the plain ones: the script falls back on no mark.
    let fallback = decoded(&fallback_scope(&dag).expect("a wildcard host"));
    let rc = fallback.route_configuration.expect("inline routes");
    let mut plain = crate::route::virtual_host(&dag.http["*.example.com"]);
    plain.request_headers_to_remove = vec![SCOPE_HEADER.to_string()];
    assert_eq!(rc.virtual_hosts, [plain]);
}

/// The marks the script reads from a route's metadata.
fn marks(route: &route_v3::Route) -> Option<&str> {
    let metadata = route.metadata.as_ref()?;
    let fields = &metadata.filter_metadata.get(LUA_FILTER)?.fields;
    match &fields.get(MARKS_FIELD)?.kind {
        Some(Kind::StringValue(marks)) => Some(marks),
        _ => None,
    }
}

#[test]
fn websocket_routes_are_marked_and_redirecting_hosts_keep_the_key() {
    use sesame_dag::dag::{CrossScheme, InternalRedirect};
    let mut dag = dag(&["a.example.com", "*.example.com"]);
    for host in ["a.example.com", "*.example.com"] {
        let vhost = dag.http.get_mut(host).expect("host");
        if let RouteAction::Forward(forward) = &mut vhost.routes[0].action {
            forward.websocket = true;
        }
    }
    let exact = decoded(&exact_scope(&dag.http["a.example.com"]));
    let routes = &exact.route_configuration.expect("routes").virtual_hosts[0].routes;
    let got: Vec<_> = routes.iter().map(marks).collect();
    assert_eq!(got, [Some("exact websocket"), Some("exact"), Some("exact")]);
    let fallback = decoded(&fallback_scope(&dag).expect("a wildcard host"));
    let routes = &fallback.route_configuration.expect("routes").virtual_hosts[0].routes;
    let got: Vec<_> = routes.iter().map(marks).collect();
    assert_eq!(got, [Some("websocket"), None]);

    // A host with a route that follows redirects keeps the key header upstream.
    let vhost = dag.http.get_mut("a.example.com").expect("host");
    if let RouteAction::Forward(forward) = &mut vhost.routes[1].action {
        forward.policies_mut().internal_redirect = Some(InternalRedirect {
            max_redirects: None,
            response_codes: Vec::new(),
            cross_scheme: CrossScheme::Never,
            deny_repeated_route: false,
        });
    }
    let exact = decoded(&exact_scope(&dag.http["a.example.com"]));
    let rc = exact.route_configuration.expect("routes");
    assert!(rc.virtual_hosts[0].request_headers_to_remove.is_empty());
}

#[test]
fn scopes_encode_the_same_bytes_every_time() {
    let dag = dag(&["a.example.com", "*.example.com", "*"]);
    assert_eq!(scopes(&dag), scopes(&dag.clone()));
    // And decode to what prost encodes from the same message.
    for any in scopes(&dag).values() {
        let scope = decoded(any);
        let again = route_v3::ScopedRouteConfiguration::decode(scope.encode_to_vec().as_slice());
        assert_eq!(again.as_ref(), Ok(&scope));
    }
}

#[test]
fn the_scoped_listener_writes_the_key_first_and_routes_by_it() {
    let listeners = crate::listener::delta_listeners(&Dag::default(), &TranslateConfig::default());
    assert_eq!(listeners.keys().collect::<Vec<_>>(), ["ingress_http"]);
    let listener: listener_v3::Listener = decode(&listeners["ingress_http"]);
    let plain = crate::listener::http_listener(&TranslateConfig::default());
    assert_eq!(listener.address, plain.address);
    let Some(listener_v3::filter::ConfigType::TypedConfig(any)) =
        &listener.filter_chains[0].filters[0].config_type
    else {
        panic!("no connection manager")
    };
    let hcm: hcm_v3::HttpConnectionManager = decode(any);
    assert_eq!(hcm.stat_prefix, "ingress_http");
    assert_eq!(hcm.http_filters[0].name, LUA_FILTER);
    let Some(hcm_v3::http_filter::ConfigType::TypedConfig(lua)) = &hcm.http_filters[0].config_type
    else {
        panic!("no Lua config")
    };
    let lua: lua_v3::Lua = decode(lua);
    let script = match lua.default_source_code.and_then(|s| s.specifier) {
        Some(core_v3::data_source::Specifier::InlineString(script)) => script,
        other => panic!("no inline script: {other:?}"),
    };
    assert!(script.contains(SCOPE_HEADER) && script.contains(EXACT_MARK));
    assert_eq!(
        hcm.http_filters.last().map(|f| f.name.as_str()),
        Some("envoy.filters.http.router")
    );
    let Some(hcm_v3::http_connection_manager::RouteSpecifier::ScopedRoutes(scoped)) =
        hcm.route_specifier
    else {
        panic!("not scoped routes")
    };
    assert_eq!(scoped.name, HTTP_ROUTE_CONFIG);
    assert!(matches!(
        scoped.config_specifier,
        Some(hcm_v3::scoped_routes::ConfigSpecifier::ScopedRds(_))
    ));
}
