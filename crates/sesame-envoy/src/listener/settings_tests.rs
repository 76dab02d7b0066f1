//! Golden tests for the listener settings of the configuration file: timeouts, trusted hops,
//! access logs, cipher suites and the read-only admin listener, each reaching its proto field
//! on every ingress filter chain and on nothing else.

use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::listener::v3 as listener_v3;
use envoy_types::pb::envoy::extensions::access_loggers::file::v3 as file_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3 as tcp_proxy_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::google::protobuf::Duration as ProtoDuration;
use hcm_v3::http_connection_manager::RouteSpecifier;
use pretty_assertions::assert_eq;
use sesame_dag::dag::{TcpProxy, Timeout, WeightedCluster};

use super::*;
use crate::accesslog::{AccessLog, AccessLogFormat};
use crate::testutil::{decode, sample_dag, seconds, secure_vhost};
use crate::{DEFAULT_CIPHER_SUITES, HttpTimeouts};

/// `foo.com` (plain), `secure.com` (TLS, with the fallback certificate), `tcp.com` (TLS
/// terminated, then TCP) and `pass.com` (passthrough): every kind of ingress filter chain.
fn every_chain_dag() -> Dag {
    let mut dag = sample_dag();
    let proxy = || TcpProxy {
        clusters: vec![WeightedCluster::new("default/db/5432/da39a3ee5e", 1)],
    };
    let mut tcp = secure_vhost("tcp.com", Vec::new());
    tcp.tcp_proxy = Some(proxy());
    dag.https.insert("tcp.com".into(), tcp);
    dag.passthrough.insert("pass.com".into(), proxy());
    if let Some(v) = dag.https.get_mut("secure.com") {
        v.fallback_certificate = true;
    }
    dag.fallback_secret = Some("default/fallback/12345".into());
    dag
}

/// The listeners of [`every_chain_dag`] with `settings`.
fn translated(settings: ListenerSettings) -> BTreeMap<String, Any> {
    let config = TranslateConfig {
        listener: settings,
        ..TranslateConfig::default()
    };
    listeners(&every_chain_dag(), &config)
}

fn filters(all: &BTreeMap<String, Any>, name: &str) -> Vec<listener_v3::Filter> {
    let listener: listener_v3::Listener = decode(&all[name]);
    listener
        .filter_chains
        .into_iter()
        .flat_map(|chain| chain.filters)
        .collect()
}

fn typed<T: prost::Message + prost::Name + Default>(filter: &listener_v3::Filter) -> T {
    match &filter.config_type {
        Some(listener_v3::filter::ConfigType::TypedConfig(any)) => decode(any),
        other => panic!("expected a typed config, got {other:?}"),
    }
}

/// The HTTP connection managers of listener `name`, in chain order.
fn connection_managers(
    all: &BTreeMap<String, Any>,
    name: &str,
) -> Vec<hcm_v3::HttpConnectionManager> {
    filters(all, name)
        .iter()
        .filter(|f| f.name == HCM_FILTER)
        .map(typed)
        .collect()
}

/// Every HTTP connection manager of `ingress_http` and `ingress_https`: `foo.com`'s,
/// `secure.com`'s and the fallback chain's.
fn ingress_connection_managers(all: &BTreeMap<String, Any>) -> Vec<hcm_v3::HttpConnectionManager> {
    let mut out = connection_managers(all, HTTP_LISTENER);
    out.extend(connection_managers(all, HTTPS_LISTENER));
    assert_eq!(out.len(), 3, "foo.com, secure.com, fallback");
    out
}

fn stats_connection_manager(all: &BTreeMap<String, Any>) -> hcm_v3::HttpConnectionManager {
    let mut hcms = connection_managers(all, STATS_LISTENER);
    assert_eq!(hcms.len(), 1);
    hcms.remove(0)
}

/// The TCP proxies of `ingress_https`: `pass.com`'s and `tcp.com`'s.
fn tcp_proxies(all: &BTreeMap<String, Any>) -> Vec<tcp_proxy_v3::TcpProxy> {
    let out: Vec<tcp_proxy_v3::TcpProxy> = filters(all, HTTPS_LISTENER)
        .iter()
        .filter(|f| f.name == TCP_PROXY_FILTER)
        .map(typed)
        .collect();
    assert_eq!(out.len(), 2, "pass.com, tcp.com");
    out
}

fn file_logs(logs: &[accesslog_v3::AccessLog]) -> Vec<file_v3::FileAccessLog> {
    logs.iter()
        .map(|log| match &log.config_type {
            Some(accesslog_v3::access_log::ConfigType::TypedConfig(any)) => decode(any),
            other => panic!("access log without typed config: {other:?}"),
        })
        .collect()
}

fn millis(ms: u64) -> Option<ProtoDuration> {
    Some(proto::duration(Duration::from_millis(ms)))
}

#[test]
fn timeouts_reach_every_ingress_connection_manager_and_not_the_stats_listener() {
    let after = |ms| Some(Timeout::After(Duration::from_millis(ms)));
    let all = translated(ListenerSettings {
        timeouts: HttpTimeouts {
            request_timeout: after(30_000),
            connection_idle_timeout: Some(Timeout::Infinite),
            stream_idle_timeout: after(90_000),
            max_connection_duration: after(3_600_000),
            delayed_close_timeout: after(500),
            connection_shutdown_grace_period: Some(Timeout::Infinite),
        },
        ..ListenerSettings::default()
    });
    for h in ingress_connection_managers(&all) {
        assert_eq!(h.request_timeout, Some(seconds(30)));
        assert_eq!(h.stream_idle_timeout, Some(seconds(90)));
        assert_eq!(h.delayed_close_timeout, millis(500));
        assert_eq!(h.drain_timeout, Some(seconds(0)), "infinity is 0s");
        assert_eq!(
            h.common_http_protocol_options,
            Some(core_v3::HttpProtocolOptions {
                idle_timeout: Some(seconds(0)),
                max_connection_duration: Some(seconds(3600)),
                ..Default::default()
            })
        );
    }
    let stats = stats_connection_manager(&all);
    assert_eq!(
        (
            stats.request_timeout,
            stats.stream_idle_timeout,
            stats.delayed_close_timeout,
            stats.drain_timeout,
            stats.common_http_protocol_options,
        ),
        (None, None, None, None, None)
    );
}

#[test]
fn unset_timeouts_are_left_to_envoy_but_for_a_60s_connection_idle_timeout() {
    let all = translated(ListenerSettings::default());
    for h in ingress_connection_managers(&all) {
        assert_eq!(
            (
                h.request_timeout,
                h.stream_idle_timeout,
                h.delayed_close_timeout,
                h.drain_timeout,
            ),
            (None, None, None, None)
        );
        assert_eq!(
            h.common_http_protocol_options,
            Some(core_v3::HttpProtocolOptions {
                idle_timeout: Some(seconds(60)),
                ..Default::default()
            })
        );
    }
    let mut settings = ListenerSettings::default();
    settings.timeouts.connection_idle_timeout = None;
    for h in ingress_connection_managers(&translated(settings)) {
        assert_eq!(h.common_http_protocol_options, None);
    }
}

#[test]
fn trusted_hops_reach_every_ingress_connection_manager() {
    let default = translated(ListenerSettings::default());
    for h in ingress_connection_managers(&default) {
        assert_eq!(h.xff_num_trusted_hops, 0);
    }
    let all = translated(ListenerSettings {
        num_trusted_hops: 2,
        ..ListenerSettings::default()
    });
    for h in ingress_connection_managers(&all) {
        assert_eq!(h.xff_num_trusted_hops, 2);
        assert_eq!(h.use_remote_address.map(|b| b.value), Some(true));
    }
    assert_eq!(stats_connection_manager(&all).xff_num_trusted_hops, 0);
}

#[test]
fn access_logs_go_to_each_listeners_file_in_the_chosen_format() {
    let fields: BTreeMap<String, String> =
        [("method", "%REQ(:METHOD)%"), ("code", "%RESPONSE_CODE%")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let format = AccessLogFormat::Json(fields);
    let all = translated(ListenerSettings {
        access_log: AccessLog {
            format: format.clone(),
            http_path: "/logs/http.log".into(),
            https_path: "/logs/https.log".into(),
        },
        ..ListenerSettings::default()
    });
    let want = |path: &str| {
        let log = crate::accesslog::file_access_log(path, &format);
        file_logs(&[log])
    };
    let http = connection_managers(&all, HTTP_LISTENER);
    assert_eq!(file_logs(&http[0].access_log), want("/logs/http.log"));
    let https = connection_managers(&all, HTTPS_LISTENER);
    let proxies = tcp_proxies(&all);
    let https_logs = https
        .iter()
        .map(|h| &h.access_log)
        .chain(proxies.iter().map(|p| &p.access_log));
    for logs in https_logs {
        assert_eq!(file_logs(logs), want("/logs/https.log"));
    }
    assert!(stats_connection_manager(&all).access_log.is_empty());
}

#[test]
fn envoy_format_logs_to_stdout_by_default() {
    let all = translated(ListenerSettings::default());
    let want = vec![file_v3::FileAccessLog {
        path: "/dev/stdout".into(),
        access_log_format: None,
    }];
    for h in ingress_connection_managers(&all) {
        assert_eq!(file_logs(&h.access_log), want);
    }
    for p in tcp_proxies(&all) {
        assert_eq!(file_logs(&p.access_log), want);
    }
}

/// The TLS parameters of every chain of `ingress_https` that terminates TLS: `secure.com`'s,
/// `tcp.com`'s and the fallback chain's (`pass.com`'s has none).
fn tls_params(all: &BTreeMap<String, Any>) -> Vec<tls_v3::TlsParameters> {
    let listener: listener_v3::Listener = decode(&all[HTTPS_LISTENER]);
    let params: Vec<tls_v3::TlsParameters> = listener
        .filter_chains
        .iter()
        .filter_map(|chain| chain.transport_socket.as_ref())
        .map(|socket| match &socket.config_type {
            Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) => {
                let tls: tls_v3::DownstreamTlsContext = decode(any);
                tls.common_tls_context
                    .and_then(|c| c.tls_params)
                    .expect("tls params")
            }
            other => panic!("no tls config: {other:?}"),
        })
        .collect();
    assert_eq!(params.len(), 3, "secure.com, tcp.com, fallback");
    params
}

#[test]
fn cipher_suites_reach_every_tls_context() {
    for params in tls_params(&translated(ListenerSettings::default())) {
        assert_eq!(
            params.cipher_suites,
            DEFAULT_CIPHER_SUITES.map(String::from)
        );
        assert_eq!(
            params.cipher_suites[0],
            "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"
        );
    }
    let chosen = vec!["AES256-SHA".to_string(), "ECDHE-RSA-AES128-SHA".to_string()];
    let all = translated(ListenerSettings {
        cipher_suites: chosen.clone(),
        ..ListenerSettings::default()
    });
    for params in tls_params(&all) {
        assert_eq!(params.cipher_suites, chosen);
        // The TLS versions still come from the DAG.
        use tls_v3::tls_parameters::TlsProtocol;
        assert_eq!(
            params.tls_minimum_protocol_version,
            TlsProtocol::TlSv12 as i32
        );
    }
    let envoys_own = translated(ListenerSettings {
        cipher_suites: Vec::new(),
        ..ListenerSettings::default()
    });
    for params in tls_params(&envoys_own) {
        assert!(params.cipher_suites.is_empty());
    }
}

#[test]
fn no_admin_listener_unless_a_port_is_set() {
    let all = translated(ListenerSettings::default());
    assert!(!all.contains_key("envoy-admin"), "{:?}", all.keys());
    let all = translated(ListenerSettings {
        admin_port: Some(9101),
        ..ListenerSettings::default()
    });
    assert_eq!(
        all.keys().collect::<Vec<_>>(),
        vec![
            "envoy-admin",
            "ingress_http",
            "ingress_https",
            "stats-health"
        ]
    );
}

#[test]
fn admin_listener_routes_get_on_the_read_only_admin_paths_to_the_admin_cluster() {
    let all = translated(ListenerSettings {
        admin_port: Some(9101),
        num_trusted_hops: 3,
        ..ListenerSettings::default()
    });
    let listener: listener_v3::Listener = decode(&all["envoy-admin"]);
    assert_eq!(listener.name, "envoy-admin");
    assert_eq!(
        listener.address,
        Some(proto::socket_address("127.0.0.1".into(), 9101))
    );
    let hcms = connection_managers(&all, "envoy-admin");
    assert_eq!(hcms.len(), 1);
    let h = &hcms[0];
    assert_eq!(h.stat_prefix, "envoy-admin");
    assert!(h.access_log.is_empty());
    assert_eq!(h.xff_num_trusted_hops, 0, "no ingress settings");
    assert_eq!(h.common_http_protocol_options, None);
    let Some(RouteSpecifier::RouteConfig(rc)) = &h.route_specifier else {
        panic!("admin routes must be inline")
    };
    assert_eq!(rc.name, "envoy-admin");
    assert_eq!(rc.virtual_hosts.len(), 1);
    let routes = &rc.virtual_hosts[0].routes;
    let paths: Vec<String> = routes
        .iter()
        .map(
            |r| match r.r#match.as_ref().and_then(|m| m.path_specifier.as_ref()) {
                Some(route_v3::route_match::PathSpecifier::Path(p)) => p.clone(),
                other => panic!("not an exact path: {other:?}"),
            },
        )
        .collect();
    assert_eq!(
        paths.join(" "),
        "/certs /clusters /listeners /config_dump /memory /ready /runtime /server_info /stats /stats/prometheus /stats/recentlookups",
        "Contour's read-only admin pages"
    );
    // Each route as the stats listener's: GET only, to the admin cluster.
    let stats = stats_connection_manager(&all);
    let Some(RouteSpecifier::RouteConfig(stats_rc)) = &stats.route_specifier else {
        panic!("stats routes must be inline")
    };
    let ready = |routes: &[route_v3::Route]| {
        routes
            .iter()
            .find(|r| {
                r.r#match.as_ref().and_then(|m| m.path_specifier.clone())
                    == Some(route_v3::route_match::PathSpecifier::Path("/ready".into()))
            })
            .cloned()
            .expect("a /ready route")
    };
    assert_eq!(ready(routes), ready(&stats_rc.virtual_hosts[0].routes));
    for route in routes {
        let m = route.r#match.as_ref().expect("match");
        assert_eq!(m.headers.len(), 1);
        assert_eq!(m.headers[0].name, ":method");
        assert_eq!(
            route.action,
            Some(route_v3::route::Action::Route(route_v3::RouteAction {
                cluster_specifier: Some(route_v3::route_action::ClusterSpecifier::Cluster(
                    "envoy-admin".into()
                )),
                ..Default::default()
            }))
        );
    }
}
