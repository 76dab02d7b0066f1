//! RouteConfigurations (RDS): `ingress_http` for the plain-HTTP virtual hosts and
//! `https/<hostname>` for each secure virtual host.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use sesame_dag::Dag;
use sesame_dag::dag::{
    Forward, HeaderMatch, HeaderValueMatch, PathMatch, RetryPolicy, Route, RouteAction, Timeout,
    VirtualHost,
};
use sha1::{Digest, Sha1};

use crate::proto::{self, u32_value};

/// The name of the RouteConfiguration of the plain-HTTP listener.
pub const HTTP_ROUTE_CONFIG: &str = "ingress_http";

/// Virtual host names longer than this are shortened (Contour's limit).
const MAX_VIRTUAL_HOST_NAME: usize = 60;

/// The name of the RouteConfiguration of one secure virtual host: `https/<hostname>`.
pub fn https_route_config_name(hostname: &str) -> String {
    format!("https/{hostname}")
}

/// Every RouteConfiguration of the DAG, encoded, by name. `ingress_http` is always present,
/// even when it has no virtual hosts.
pub fn route_configurations(dag: &Dag) -> BTreeMap<String, Any> {
    let mut out = BTreeMap::new();
    let http = encoded_route_configuration(HTTP_ROUTE_CONFIG.to_string(), dag.http.values());
    out.insert(HTTP_ROUTE_CONFIG.to_string(), http);
    for (hostname, secure) in &dag.https {
        let name = https_route_config_name(hostname);
        let rc = encoded_route_configuration(name.clone(), std::iter::once(&secure.virtual_host));
        out.insert(name, rc);
    }
    out
}

/// The field number of `RouteConfiguration.virtual_hosts`.
const VIRTUAL_HOSTS_FIELD: u32 = 2;

/// [`route_configuration`], encoded one virtual host at a time: the same message once decoded,
/// without ever holding every virtual host's proto in memory at once (at 10 000 hosts that
/// intermediate is tens of megabytes, and encoding it whole re-walks it for lengths).
pub fn encoded_route_configuration<'a>(
    name: String,
    virtual_hosts: impl IntoIterator<Item = &'a VirtualHost>,
) -> Any {
    let mut value = route_configuration(name, std::iter::empty()).encode_to_vec();
    for vhost in virtual_hosts {
        prost::encoding::message::encode(VIRTUAL_HOSTS_FIELD, &virtual_host(vhost), &mut value);
    }
    Any {
        type_url: <route_v3::RouteConfiguration as prost::Name>::type_url(),
        value,
    }
}

/// A RouteConfiguration holding these virtual hosts. The port of the `Host` header is ignored
/// when matching domains, so `Host: foo.com:8080` matches `foo.com`.
pub fn route_configuration<'a>(
    name: String,
    virtual_hosts: impl IntoIterator<Item = &'a VirtualHost>,
) -> route_v3::RouteConfiguration {
    route_v3::RouteConfiguration {
        name,
        virtual_hosts: virtual_hosts.into_iter().map(virtual_host).collect(),
        ignore_port_in_host_matching: true,
        ..Default::default()
    }
}

/// An Envoy virtual host: named after the hostname (shortened when long), matching exactly it.
pub fn virtual_host(vhost: &VirtualHost) -> route_v3::VirtualHost {
    route_v3::VirtualHost {
        name: virtual_host_name(&vhost.hostname),
        domains: vec![vhost.hostname.clone()],
        routes: vhost.routes.iter().map(route).collect(),
        ..Default::default()
    }
}

/// The name of a virtual host: the hostname, or when it is longer than 60 characters, its first
/// 53 characters, `-` and the first 6 hex digits of its SHA-1 (60 characters in all).
pub fn virtual_host_name(hostname: &str) -> String {
    if hostname.len() <= MAX_VIRTUAL_HOST_NAME {
        return hostname.to_string();
    }
    let hash = hex::encode(Sha1::digest(hostname.as_bytes()));
    let mut keep = MAX_VIRTUAL_HOST_NAME - 7;
    while !hostname.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}-{}", &hostname[..keep], &hash[..6])
}

/// An Envoy route: the match and the action.
pub fn route(route: &Route) -> route_v3::Route {
    route_v3::Route {
        r#match: Some(route_match(&route.path, &route.headers)),
        action: Some(action(&route.action)),
        ..Default::default()
    }
}

/// The match of a route: its path and headers.
pub fn route_match(path: &PathMatch, headers: &[HeaderMatch]) -> route_v3::RouteMatch {
    use route_v3::route_match::PathSpecifier;
    let path_specifier = match path {
        PathMatch::Prefix(p) => PathSpecifier::Prefix(p.clone()),
        PathMatch::SegmentPrefix(p) => PathSpecifier::PathSeparatedPrefix(p.clone()),
        PathMatch::Exact(p) => PathSpecifier::Path(p.clone()),
        PathMatch::Regex(r) => PathSpecifier::SafeRegex(regex_matcher(r)),
    };
    route_v3::RouteMatch {
        path_specifier: Some(path_specifier),
        headers: headers.iter().map(header_matcher).collect(),
        ..Default::default()
    }
}

/// A header matcher.
pub fn header_matcher(header: &HeaderMatch) -> route_v3::HeaderMatcher {
    use matcher_v3::string_matcher::MatchPattern;
    use route_v3::header_matcher::HeaderMatchSpecifier;
    let string_match = |pattern| {
        HeaderMatchSpecifier::StringMatch(matcher_v3::StringMatcher {
            match_pattern: Some(pattern),
            ignore_case: false,
        })
    };
    let specifier = match &header.value {
        HeaderValueMatch::Present => HeaderMatchSpecifier::PresentMatch(true),
        HeaderValueMatch::Exact(v) => string_match(MatchPattern::Exact(v.clone())),
        HeaderValueMatch::Contains(v) => string_match(MatchPattern::Contains(v.clone())),
        HeaderValueMatch::Regex(r) => string_match(MatchPattern::SafeRegex(regex_matcher(r))),
    };
    route_v3::HeaderMatcher {
        name: header.name.clone(),
        invert_match: header.invert,
        header_match_specifier: Some(specifier),
        ..Default::default()
    }
}

/// A regex matcher with Envoy's default engine (RE2).
fn regex_matcher(regex: &str) -> matcher_v3::RegexMatcher {
    matcher_v3::RegexMatcher {
        regex: regex.to_string(),
        engine_type: None,
    }
}

/// The action of a route.
pub fn action(action: &RouteAction) -> route_v3::route::Action {
    use route_v3::route::Action;
    match action {
        RouteAction::Forward(forward) if forward.clusters.is_empty() => {
            Action::DirectResponse(no_upstream())
        }
        RouteAction::Forward(forward) => Action::Route(route_action(forward)),
        RouteAction::HttpsRedirect => Action::Redirect(route_v3::RedirectAction {
            scheme_rewrite_specifier: Some(
                route_v3::redirect_action::SchemeRewriteSpecifier::HttpsRedirect(true),
            ),
            ..Default::default()
        }),
        RouteAction::DirectResponse { status, body } => {
            Action::DirectResponse(route_v3::DirectResponseAction {
                status: u32::from(*status),
                body: body.as_ref().map(|b| core_v3::DataSource {
                    specifier: Some(core_v3::data_source::Specifier::InlineString(b.clone())),
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
    }
}

/// What a forward with no cluster answers: `503`, as Contour does for a route without a valid
/// upstream. (The DAG should not produce one; this keeps Envoy's config valid if it does.)
fn no_upstream() -> route_v3::DirectResponseAction {
    route_v3::DirectResponseAction {
        status: 503,
        ..Default::default()
    }
}

/// Proxying to one cluster, or splitting between several by weight.
pub fn route_action(forward: &Forward) -> route_v3::RouteAction {
    use route_v3::route_action::ClusterSpecifier;
    let cluster_specifier = match forward.clusters.as_slice() {
        [one] => ClusterSpecifier::Cluster(one.name.clone()),
        many => ClusterSpecifier::WeightedClusters(weighted_clusters(many)),
    };
    route_v3::RouteAction {
        cluster_specifier: Some(cluster_specifier),
        timeout: forward.timeout.map(timeout),
        retry_policy: forward.retry.as_ref().map(retry_policy),
        upgrade_configs: if forward.websocket {
            vec![route_v3::route_action::UpgradeConfig {
                upgrade_type: "websocket".to_string(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Weighted clusters with the weights as given; when every weight is 0 each cluster gets 1
/// (an even split, as Contour does), since Envoy rejects a total weight of 0.
fn weighted_clusters(clusters: &[sesame_dag::dag::WeightedCluster]) -> route_v3::WeightedCluster {
    let all_zero = clusters.iter().all(|c| c.weight == 0);
    route_v3::WeightedCluster {
        clusters: clusters
            .iter()
            .map(|c| route_v3::weighted_cluster::ClusterWeight {
                name: c.name.clone(),
                weight: u32_value(if all_zero { 1 } else { c.weight }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// A timeout: infinite is `0s`, which Envoy reads as "no timeout".
fn timeout(t: Timeout) -> envoy_types::pb::google::protobuf::Duration {
    match t {
        Timeout::Infinite => envoy_types::pb::google::protobuf::Duration {
            seconds: 0,
            nanos: 0,
        },
        Timeout::After(d) => proto::duration(d),
    }
}

/// A retry policy: conditions joined by commas.
pub fn retry_policy(retry: &RetryPolicy) -> route_v3::RetryPolicy {
    route_v3::RetryPolicy {
        retry_on: retry.retry_on.join(","),
        num_retries: u32_value(retry.num_retries),
        per_try_timeout: retry.per_try_timeout.map(timeout),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
