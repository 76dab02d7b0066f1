//! RouteConfigurations (RDS): `ingress_http` for the plain-HTTP virtual hosts,
//! `https/<hostname>` for each secure virtual host that serves HTTP, and `ingress_fallbackcert`
//! for the hosts also served to TLS clients that send no SNI.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::config::route::v3 as route_v3;
use envoy_types::pb::envoy::r#type::matcher::v3 as matcher_v3;
use envoy_types::pb::envoy::r#type::v3 as type_v3;
use envoy_types::pb::google::protobuf::Any;
use prost::Message;
use sesame_dag::Dag;
use sesame_dag::dag::{
    CrossScheme, Forward, HashPolicy, HashPolicyKind, HeaderMatch, HeaderValue, HeaderValueMatch,
    HeaderValuePart, HeadersPolicy, InternalRedirect, Mirror, PathMatch, QueryParamMatch,
    QueryValueMatch, Redirect, RedirectPath, RetryPolicy, Route, RouteAction, RouteGlobalRateLimit,
    SecureVirtualHost, VirtualHost, WeightedCluster,
};
use sha1::{Digest, Sha1};

use crate::http_filter;
use crate::proto::{self, timeout, u32_value};

/// The name of the RouteConfiguration of the plain-HTTP listener.
pub const HTTP_ROUTE_CONFIG: &str = "ingress_http";

/// The name of the RouteConfiguration served to TLS clients that send no SNI (Contour's).
pub const FALLBACK_ROUTE_CONFIG: &str = "ingress_fallbackcert";

/// Virtual host names longer than this are shortened (Contour's limit).
const MAX_VIRTUAL_HOST_NAME: usize = 60;

/// The name of the RouteConfiguration of one secure virtual host: `https/<hostname>`.
pub fn https_route_config_name(hostname: &str) -> String {
    format!("https/{hostname}")
}

/// Every RouteConfiguration of the DAG, encoded, by name. `ingress_http` is always present,
/// even when it has no virtual hosts; a secure virtual host that proxies TCP has none;
/// `ingress_fallbackcert` is present when [`fallback_virtual_hosts`] is not empty.
pub fn route_configurations(dag: &Dag) -> BTreeMap<String, Any> {
    let mut out = secure_route_configurations(dag);
    let http = encoded_route_configuration(HTTP_ROUTE_CONFIG.to_string(), dag.http.values());
    out.insert(HTTP_ROUTE_CONFIG.to_string(), http);
    out.extend(crate::gateway::route_configurations(dag));
    out
}

/// The RouteConfigurations of the secure virtual hosts (`https/<hostname>`) and
/// `ingress_fallbackcert`, encoded, by name: every one but `ingress_http`.
pub fn secure_route_configurations(dag: &Dag) -> BTreeMap<String, Any> {
    let mut out = BTreeMap::new();
    for (hostname, secure) in &dag.https {
        if let Some(rc) = secure_route_configuration(secure) {
            out.insert(https_route_config_name(hostname), rc);
        }
    }
    if let Some(rc) = fallback_route_configuration(dag) {
        out.insert(FALLBACK_ROUTE_CONFIG.to_string(), rc);
    }
    out
}

/// The RouteConfiguration `https/<hostname>` of a secure virtual host, encoded; `None` when it
/// proxies TCP instead of serving HTTP routes.
pub fn secure_route_configuration(secure: &SecureVirtualHost) -> Option<Any> {
    if secure.tcp_proxy.is_some() {
        return None;
    }
    let name = https_route_config_name(&secure.virtual_host.hostname);
    Some(encoded_route_configuration(
        name,
        std::iter::once(&secure.virtual_host),
    ))
}

/// `ingress_fallbackcert`, encoded, when [`fallback_virtual_hosts`] is not empty.
pub fn fallback_route_configuration(dag: &Dag) -> Option<Any> {
    let fallback = fallback_virtual_hosts(dag);
    if fallback.is_empty() {
        return None;
    }
    let vhosts = fallback.iter().map(|secure| &secure.virtual_host);
    Some(encoded_route_configuration(
        FALLBACK_ROUTE_CONFIG.to_string(),
        vhosts,
    ))
}

/// The name of the Virtual Host Discovery (VHDS) resource of a plain-HTTP virtual host:
/// `ingress_http/<virtual host name>`. Envoy subscribes to the route configuration's name and
/// receives every resource named below it; it removes a VHDS virtual host by its own name, so
/// the virtual host carries this name too.
pub fn vhds_name(hostname: &str) -> String {
    format!("{HTTP_ROUTE_CONFIG}/{}", virtual_host_name(hostname))
}

/// The VHDS resources of `ingress_http`, one encoded `VirtualHost` per plain-HTTP virtual host,
/// by hostname (their resource names are [`vhds_name`]). Served to Envoys on incremental xDS
/// instead of the virtual hosts inline, so a change to one host sends only that host.
pub fn vhds_virtual_hosts(dag: &Dag) -> BTreeMap<String, Any> {
    dag.http
        .iter()
        .map(|(hostname, vhost)| (hostname.clone(), encoded_virtual_host(vhost)))
        .collect()
}

/// One plain-HTTP virtual host as a VHDS resource, named [`vhds_name`].
pub fn encoded_virtual_host(vhost: &VirtualHost) -> Any {
    let mut encoded = virtual_host(vhost);
    encoded.name = vhds_name(&vhost.hostname);
    Any {
        type_url: <route_v3::VirtualHost as prost::Name>::type_url(),
        value: crate::canonical::virtual_host(encoded),
    }
}

/// `ingress_http` with every virtual host inline (for state-of-the-world clients), put together
/// from already encoded VHDS resources ([`encoded_virtual_host`]), in the order given: each
/// keeps its encoded body and gets back its plain name (`ingress_http/` dropped). In hostname
/// order this is byte for byte [`encoded_route_configuration`] over the same hosts, without
/// encoding any virtual host again.
pub fn http_route_configuration_from_vhds<'a>(
    virtual_hosts: impl IntoIterator<Item = &'a [u8]>,
) -> Any {
    use prost::encoding::{WireType, decode_varint, encode_key, encode_varint, encoded_len_varint};
    let mut value =
        route_configuration(HTTP_ROUTE_CONFIG.to_string(), std::iter::empty()).encode_to_vec();
    let prefix = format!("{HTTP_ROUTE_CONFIG}/");
    for vhost in virtual_hosts {
        // `name` (field 1) is encoded first: split it from the rest of the message.
        let mut rest = vhost;
        let mut name = "";
        if rest.first() == Some(&VIRTUAL_HOST_NAME_KEY) {
            rest = &rest[1..];
            let len = decode_varint(&mut rest).unwrap_or_default() as usize;
            let (raw, tail) = rest.split_at(len.min(rest.len()));
            name = std::str::from_utf8(raw).unwrap_or_default();
            rest = tail;
        }
        let name = name.strip_prefix(&prefix).unwrap_or(name);
        let name_len = 1 + encoded_len_varint(name.len() as u64) + name.len();
        encode_key(VIRTUAL_HOSTS_FIELD, WireType::LengthDelimited, &mut value);
        encode_varint((name_len + rest.len()) as u64, &mut value);
        value.push(VIRTUAL_HOST_NAME_KEY);
        encode_varint(name.len() as u64, &mut value);
        value.extend_from_slice(name.as_bytes());
        value.extend_from_slice(rest);
    }
    Any {
        type_url: <route_v3::RouteConfiguration as prost::Name>::type_url(),
        value,
    }
}

/// The key byte of `VirtualHost.name`: field 1, length-delimited.
const VIRTUAL_HOST_NAME_KEY: u8 = (1 << 3) | 2;

/// The secure virtual hosts also served to TLS clients that send no SNI, with the certificate
/// [`Dag::fallback_secret`], in hostname order: those with `fallback_certificate` that serve
/// HTTP routes and do not verify client certificates (the fallback filter chain verifies none;
/// Contour rejects the combination). Empty when there is no fallback secret, and when a `*`
/// host (secure or passthrough) already takes every TLS client without SNI: its filter chain
/// and the fallback chain would have the same match, which Envoy rejects.
pub fn fallback_virtual_hosts(dag: &Dag) -> Vec<&SecureVirtualHost> {
    if dag.fallback_secret.is_none()
        || dag.https.contains_key("*")
        || dag.passthrough.contains_key("*")
    {
        return Vec::new();
    }
    dag.https
        .values()
        .filter(|secure| {
            secure.fallback_certificate
                && secure.tcp_proxy.is_none()
                && secure.client_validation.is_none()
        })
        .collect()
}

/// The field number of `RouteConfiguration.virtual_hosts`.
pub(crate) const VIRTUAL_HOSTS_FIELD: u32 = 2;

/// [`route_configuration`], encoded one virtual host at a time: the same message once decoded,
/// without ever holding every virtual host's proto in memory at once (at 10 000 hosts that
/// intermediate is tens of megabytes, and encoding it whole re-walks it for lengths).
pub fn encoded_route_configuration<'a>(
    name: String,
    virtual_hosts: impl IntoIterator<Item = &'a VirtualHost>,
) -> Any {
    let mut value = route_configuration(name, std::iter::empty()).encode_to_vec();
    for vhost in virtual_hosts {
        let bytes = crate::canonical::virtual_host(virtual_host(vhost));
        proto::append_message(&mut value, VIRTUAL_HOSTS_FIELD, &bytes);
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
/// Its CORS policy and local rate limit, if any, are set for the filters of the same names.
pub fn virtual_host(vhost: &VirtualHost) -> route_v3::VirtualHost {
    let name = virtual_host_name(&vhost.hostname);
    route_v3::VirtualHost {
        typed_per_filter_config: http_filter::virtual_host_filter_configs(
            &name,
            vhost.cors.as_deref(),
            vhost.rate_limit.as_deref(),
            vhost.ip_filter.as_deref(),
        ),
        routes: vhost.routes.iter().map(|r| vhost_route(r, &name)).collect(),
        rate_limits: vhost
            .global_rate_limit
            .as_deref()
            .map(crate::global_rate_limit::rate_limits)
            .unwrap_or_default(),
        domains: vec![vhost.hostname.clone()],
        name,
        ..Default::default()
    }
}

/// [`route`] in the virtual host named `vhost_name`, with its own local rate limit, counted
/// under the virtual host's stat prefix as in Contour, and its own IP filter.
fn vhost_route(r: &Route, vhost_name: &str) -> route_v3::Route {
    let mut out = route(r);
    let rate_limit = match &r.action {
        RouteAction::Forward(forward) => forward.policies().rate_limit.as_ref(),
        _ => None,
    };
    out.typed_per_filter_config =
        http_filter::route_filter_configs(vhost_name, rate_limit, r.ip_filter.as_deref());
    if let Some(auth) = &r.authorization {
        out.typed_per_filter_config.insert(
            crate::ext_authz::EXT_AUTHZ_FILTER.to_string(),
            crate::ext_authz::ext_authz_per_route(auth),
        );
    }
    if let RouteAction::Forward(forward) = &r.action {
        global_route_limits(&mut out, forward.policies().global_rate_limit.as_ref());
        if let Some(cors) = &forward.policies().cors {
            out.typed_per_filter_config.insert(
                http_filter::CORS_FILTER.to_string(),
                proto::any(&http_filter::cors_policy(cors)),
            );
        }
    }
    crate::cookie::add_route_configs(r, &mut out);
    if let Some(provider) = &r.jwt_provider {
        let (name, config) = crate::jwt::route_filter_config(provider);
        out.typed_per_filter_config.insert(name, config);
    }
    out
}

/// A route's own global rate limit: its descriptors on its action (replacing its virtual
/// host's, Envoy's default), or the virtual host's ignored.
fn global_route_limits(out: &mut route_v3::Route, limit: Option<&RouteGlobalRateLimit>) {
    match limit {
        None => {}
        Some(RouteGlobalRateLimit::Descriptors(limit)) => {
            if let Some(route_v3::route::Action::Route(action)) = &mut out.action {
                action.rate_limits = crate::global_rate_limit::rate_limits(limit);
            }
        }
        Some(RouteGlobalRateLimit::Disabled) => {
            out.typed_per_filter_config.insert(
                crate::global_rate_limit::RATE_LIMIT_FILTER.to_string(),
                crate::global_rate_limit::ignore_virtual_host_limits(),
            );
        }
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

/// An Envoy route: the match, the action, and the header policies of a forward that apply
/// whichever cluster serves the request.
pub fn route(route: &Route) -> route_v3::Route {
    let mut out = route_v3::Route {
        r#match: Some(route_match(
            &route.path,
            &route.headers,
            &route.query_params,
        )),
        action: Some(action(&route.action)),
        ..Default::default()
    };
    if let RouteAction::Forward(forward) = &route.action {
        let policies = forward.policies();
        out.request_headers_to_add = headers_to_add(&policies.request_headers);
        out.request_headers_to_add
            .extend(headers_to_append(&policies.request_headers_append));
        out.request_headers_to_remove = policies.request_headers.remove.clone();
        out.response_headers_to_add = headers_to_add(&policies.response_headers);
        out.response_headers_to_add
            .extend(headers_to_append(&policies.response_headers_append));
        out.response_headers_to_remove = policies.response_headers.remove.clone();
    }
    if let Some(route_v3::route::Action::Route(action)) = out.action.as_mut() {
        strip_prefix_to_root(&route.path, action);
    }
    if let (RouteAction::Forward(forward), Some(route_v3::route::Action::Route(action))) =
        (&route.action, out.action.as_mut())
    {
        replace_full_path(forward.policies().path_rewrite.as_deref(), action);
    }
    out
}

/// Rewriting a prefix to `/` strips it: Envoy's `prefix_rewrite` keeps what follows the matched
/// prefix, so `/app` → `/` would send `/app/x` as `//x`. As Contour does, the prefix and the
/// slashes after it are replaced by one `/` with a regex instead (`/app/x` → `/x`, `/app` → `/`).
fn strip_prefix_to_root(path: &PathMatch, action: &mut route_v3::RouteAction) {
    let (PathMatch::Prefix(prefix) | PathMatch::SegmentPrefix(prefix)) = path else {
        return;
    };
    if action.prefix_rewrite != "/" || prefix == "/" {
        return;
    }
    action.prefix_rewrite.clear();
    action.regex_rewrite = Some(matcher_v3::RegexMatchAndSubstitute {
        pattern: Some(regex_matcher(&format!(
            "^{}/*",
            regex_syntax::escape(prefix)
        ))),
        substitution: "/".to_string(),
    });
}

/// Replacing the whole path: a regex rewrite of all of it (Envoy leaves the query alone), the
/// replacement's backslashes escaped so that RE2 reads none as a group reference.
fn replace_full_path(path: Option<&str>, action: &mut route_v3::RouteAction) {
    let Some(path) = path else { return };
    action.prefix_rewrite.clear();
    action.regex_rewrite = Some(matcher_v3::RegexMatchAndSubstitute {
        pattern: Some(regex_matcher("^.*$")),
        substitution: path.replace('\\', "\\\\"),
    });
}

/// The match of a route: its path, headers and query parameters.
pub fn route_match(
    path: &PathMatch,
    headers: &[HeaderMatch],
    query_params: &[QueryParamMatch],
) -> route_v3::RouteMatch {
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
        query_parameters: query_params.iter().map(query_parameter_matcher).collect(),
        ..Default::default()
    }
}

/// A header matcher.
pub fn header_matcher(header: &HeaderMatch) -> route_v3::HeaderMatcher {
    use route_v3::header_matcher::HeaderMatchSpecifier;
    let string_match =
        |pattern| HeaderMatchSpecifier::StringMatch(string_matcher(pattern, header.ignore_case));
    use matcher_v3::string_matcher::MatchPattern;
    let specifier = match &header.value {
        HeaderValueMatch::Present => HeaderMatchSpecifier::PresentMatch(true),
        HeaderValueMatch::Exact(v) => string_match(MatchPattern::Exact(v.clone())),
        HeaderValueMatch::Contains(v) => string_match(MatchPattern::Contains(v.clone())),
        HeaderValueMatch::Regex(r) => string_match(MatchPattern::SafeRegex(regex_matcher(r))),
        HeaderValueMatch::Prefix(v) => string_match(MatchPattern::Prefix(v.clone())),
        HeaderValueMatch::Suffix(v) => string_match(MatchPattern::Suffix(v.clone())),
    };
    route_v3::HeaderMatcher {
        name: header.name.clone(),
        invert_match: header.invert,
        header_match_specifier: Some(specifier),
        ..Default::default()
    }
}

/// A query parameter matcher: presence, or a string match on the value.
pub fn query_parameter_matcher(param: &QueryParamMatch) -> route_v3::QueryParameterMatcher {
    use matcher_v3::string_matcher::MatchPattern;
    use route_v3::query_parameter_matcher::QueryParameterMatchSpecifier;
    let pattern = match &param.value {
        QueryValueMatch::Present => None,
        QueryValueMatch::Exact(v) => Some(MatchPattern::Exact(v.clone())),
        QueryValueMatch::Prefix(v) => Some(MatchPattern::Prefix(v.clone())),
        QueryValueMatch::Suffix(v) => Some(MatchPattern::Suffix(v.clone())),
        QueryValueMatch::Contains(v) => Some(MatchPattern::Contains(v.clone())),
        QueryValueMatch::Regex(r) => Some(MatchPattern::SafeRegex(regex_matcher(r))),
    };
    let specifier = match pattern {
        None => QueryParameterMatchSpecifier::PresentMatch(true),
        Some(pattern) => {
            QueryParameterMatchSpecifier::StringMatch(string_matcher(pattern, param.ignore_case))
        }
    };
    route_v3::QueryParameterMatcher {
        name: param.name.clone(),
        query_parameter_match_specifier: Some(specifier),
    }
}

/// A string matcher. `ignore_case` is dropped for a regex, where Envoy rejects it (a regex
/// says `(?i)` itself).
fn string_matcher(
    pattern: matcher_v3::string_matcher::MatchPattern,
    ignore_case: bool,
) -> matcher_v3::StringMatcher {
    use matcher_v3::string_matcher::MatchPattern;
    let ignore_case = ignore_case && !matches!(pattern, MatchPattern::SafeRegex(_));
    matcher_v3::StringMatcher {
        match_pattern: Some(pattern),
        ignore_case,
    }
}

/// A regex matcher with Envoy's default engine (RE2).
pub(crate) fn regex_matcher(regex: &str) -> matcher_v3::RegexMatcher {
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
        RouteAction::Redirect(redirect) => Action::Redirect(redirect_action(redirect)),
    }
}

/// A redirect: only the parts the DAG sets are rewritten.
pub fn redirect_action(redirect: &Redirect) -> route_v3::RedirectAction {
    use route_v3::redirect_action::{PathRewriteSpecifier, SchemeRewriteSpecifier};
    route_v3::RedirectAction {
        scheme_rewrite_specifier: redirect
            .scheme
            .clone()
            .map(SchemeRewriteSpecifier::SchemeRedirect),
        host_redirect: redirect.host.clone().unwrap_or_default(),
        port_redirect: redirect.port.unwrap_or_default(),
        path_rewrite_specifier: redirect.path.as_ref().map(|path| match path {
            RedirectPath::Full(p) => PathRewriteSpecifier::PathRedirect(p.clone()),
            RedirectPath::Prefix(p) => PathRewriteSpecifier::PrefixRewrite(p.clone()),
        }),
        response_code: redirect_response_code(redirect.status) as i32,
        strip_query: false,
    }
}

/// The Envoy enum for a redirect status; anything but 302, 303, 307 and 308 is 301 (the
/// DAG only holds those five).
fn redirect_response_code(status: u16) -> route_v3::redirect_action::RedirectResponseCode {
    use route_v3::redirect_action::RedirectResponseCode as Code;
    match status {
        302 => Code::Found,
        303 => Code::SeeOther,
        307 => Code::TemporaryRedirect,
        308 => Code::PermanentRedirect,
        _ => Code::MovedPermanently,
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

/// Proxying to one cluster, or splitting between several by weight. A single cluster with
/// policies of its own (headers, host rewrite) is sent as a one-entry weighted cluster, so
/// Envoy applies them exactly as it would in a split.
pub fn route_action(forward: &Forward) -> route_v3::RouteAction {
    use route_v3::route_action::{ClusterSpecifier, HostRewriteSpecifier};
    let cluster_specifier = match forward.clusters.as_slice() {
        [one] if !one.has_policies() => ClusterSpecifier::Cluster(one.name.clone()),
        many => ClusterSpecifier::WeightedClusters(weighted_clusters(many)),
    };
    route_v3::RouteAction {
        cluster_specifier: Some(cluster_specifier),
        timeout: forward.timeout.map(timeout),
        idle_timeout: forward.policies().idle_timeout.map(timeout),
        retry_policy: forward.retry.as_ref().map(retry_policy),
        upgrade_configs: if forward.websocket {
            vec![route_v3::route_action::UpgradeConfig {
                upgrade_type: "websocket".to_string(),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        prefix_rewrite: forward
            .policies()
            .prefix_rewrite
            .clone()
            .unwrap_or_default(),
        host_rewrite_specifier: forward
            .policies()
            .host_rewrite
            .clone()
            .map(HostRewriteSpecifier::HostRewriteLiteral),
        request_mirror_policies: forward
            .policies()
            .mirrors
            .iter()
            .map(mirror_policy)
            .collect(),
        hash_policy: forward
            .policies()
            .hash_policies
            .iter()
            .map(hash_policy)
            .collect(),
        internal_redirect_policy: forward
            .policies()
            .internal_redirect
            .as_ref()
            .map(internal_redirect_policy),
        ..Default::default()
    }
}

/// An internal redirect policy, with Contour's predicates: `safe_cross_scheme` for `SafeOnly`,
/// `previous_routes` to deny a redirect to a route already visited.
pub fn internal_redirect_policy(p: &InternalRedirect) -> route_v3::InternalRedirectPolicy {
    use envoy_types::pb::envoy::extensions::internal_redirect::{
        previous_routes::v3::PreviousRoutesConfig, safe_cross_scheme::v3::SafeCrossSchemeConfig,
    };
    let mut predicates = Vec::new();
    if p.cross_scheme == CrossScheme::SafeOnly {
        predicates.push(core_v3::TypedExtensionConfig {
            name: "envoy.internal_redirect_predicates.safe_cross_scheme".into(),
            typed_config: Some(proto::any(&SafeCrossSchemeConfig {})),
        });
    }
    if p.deny_repeated_route {
        predicates.push(core_v3::TypedExtensionConfig {
            name: "envoy.internal_redirect_predicates.previous_routes".into(),
            typed_config: Some(proto::any(&PreviousRoutesConfig {})),
        });
    }
    route_v3::InternalRedirectPolicy {
        max_internal_redirects: p.max_redirects.and_then(u32_value),
        redirect_response_codes: p.response_codes.iter().map(|c| u32::from(*c)).collect(),
        predicates,
        allow_cross_scheme_redirect: p.cross_scheme != CrossScheme::Never,
        ..Default::default()
    }
}

/// Weighted clusters with the weights as given; when every weight is 0 each cluster gets 1
/// (an even split, as Contour does), since Envoy rejects a total weight of 0. Each cluster
/// carries its own header policies and host rewrite.
fn weighted_clusters(clusters: &[WeightedCluster]) -> route_v3::WeightedCluster {
    use route_v3::weighted_cluster::cluster_weight::HostRewriteSpecifier;
    let all_zero = clusters.iter().all(|c| c.weight == 0);
    route_v3::WeightedCluster {
        clusters: clusters
            .iter()
            .map(|c| route_v3::weighted_cluster::ClusterWeight {
                name: c.name.clone(),
                weight: u32_value(if all_zero { 1 } else { c.weight }),
                request_headers_to_add: [
                    headers_to_add(&c.rewrites().request_headers),
                    headers_to_append(&c.rewrites().request_headers_append),
                ]
                .concat(),
                request_headers_to_remove: c.rewrites().request_headers.remove.clone(),
                response_headers_to_add: [
                    headers_to_add(&c.rewrites().response_headers),
                    headers_to_append(&c.rewrites().response_headers_append),
                ]
                .concat(),
                response_headers_to_remove: c.rewrites().response_headers.remove.clone(),
                host_rewrite_specifier: c
                    .rewrites()
                    .host_rewrite
                    .clone()
                    .map(HostRewriteSpecifier::HostRewriteLiteral),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// The headers a policy sets, each overwriting the header if present or adding it.
pub fn headers_to_add(policy: &HeadersPolicy) -> Vec<core_v3::HeaderValueOption> {
    use core_v3::header_value_option::HeaderAppendAction;
    header_options(&policy.set, HeaderAppendAction::OverwriteIfExistsOrAdd)
}

/// Headers added after any value already there (Gateway API `add`).
pub fn headers_to_append(headers: &[(String, HeaderValue)]) -> Vec<core_v3::HeaderValueOption> {
    use core_v3::header_value_option::HeaderAppendAction;
    header_options(headers, HeaderAppendAction::AppendIfExistsOrAdd)
}

/// Each header with its value as Envoy's substitution format, applied by `action`.
fn header_options(
    headers: &[(String, HeaderValue)],
    action: core_v3::header_value_option::HeaderAppendAction,
) -> Vec<core_v3::HeaderValueOption> {
    headers
        .iter()
        .map(|(key, value)| core_v3::HeaderValueOption {
            header: Some(core_v3::HeaderValue {
                key: key.clone(),
                value: header_format(value),
                ..Default::default()
            }),
            append_action: action as i32,
            ..Default::default()
        })
        .collect()
}

/// A header value as Envoy's substitution format: Envoy reads `%` as the start of a command, so
/// each `%` of literal text is doubled (`%%` is Envoy's literal percent sign), and only the
/// typed variables the DAG let through become commands.
pub fn header_format(value: &HeaderValue) -> String {
    let mut out = String::new();
    for part in &value.0 {
        match part {
            HeaderValuePart::Literal(text) => out.push_str(&text.replace('%', "%%")),
            HeaderValuePart::Envoy(variable) => {
                out.push('%');
                out.push_str(variable.name());
                out.push('%');
            }
            HeaderValuePart::RequestHeader(name) => {
                out.push_str("%REQ(");
                out.push_str(name);
                out.push_str(")%");
            }
        }
    }
    out
}

/// A mirror policy; the runtime fraction is left out at 100 %, where Envoy mirrors everything,
/// and otherwise has the coarsest of Envoy's denominators that holds it exactly.
pub fn mirror_policy(mirror: &Mirror) -> route_v3::route_action::RequestMirrorPolicy {
    use type_v3::fractional_percent::DenominatorType;
    let runtime_fraction = (mirror.per_million < 1_000_000).then(|| {
        let (numerator, denominator) = match mirror.per_million {
            n if n % 10_000 == 0 => (n / 10_000, DenominatorType::Hundred),
            n if n % 100 == 0 => (n / 100, DenominatorType::TenThousand),
            n => (n, DenominatorType::Million),
        };
        core_v3::RuntimeFractionalPercent {
            default_value: Some(type_v3::FractionalPercent {
                numerator,
                denominator: denominator as i32,
            }),
            runtime_key: String::new(),
        }
    });
    route_v3::route_action::RequestMirrorPolicy {
        cluster: mirror.cluster.clone(),
        runtime_fraction,
        ..Default::default()
    }
}

/// A hash policy: a header, a query parameter, the source IP or a cookie.
pub fn hash_policy(policy: &HashPolicy) -> route_v3::route_action::HashPolicy {
    use route_v3::route_action::hash_policy::{self as hp, PolicySpecifier};
    let specifier = match &policy.kind {
        HashPolicyKind::Header(name) => PolicySpecifier::Header(hp::Header {
            header_name: name.clone(),
            regex_rewrite: None,
        }),
        HashPolicyKind::QueryParameter(name) => {
            PolicySpecifier::QueryParameter(hp::QueryParameter { name: name.clone() })
        }
        HashPolicyKind::SourceIp => {
            PolicySpecifier::ConnectionProperties(hp::ConnectionProperties { source_ip: true })
        }
        HashPolicyKind::Cookie { name, ttl, path } => PolicySpecifier::Cookie(hp::Cookie {
            name: name.clone(),
            ttl: ttl.map(proto::duration),
            path: path.clone().unwrap_or_default(),
            attributes: Vec::new(),
        }),
    };
    route_v3::route_action::HashPolicy {
        terminal: policy.terminal,
        policy_specifier: Some(specifier),
    }
}

/// A retry policy: conditions joined by commas.
pub fn retry_policy(retry: &RetryPolicy) -> route_v3::RetryPolicy {
    route_v3::RetryPolicy {
        retry_on: retry.retry_on.join(","),
        num_retries: u32_value(retry.num_retries),
        per_try_timeout: retry.per_try_timeout.map(timeout),
        retriable_status_codes: retry.retriable_status_codes.clone(),
        ..Default::default()
    }
}

#[cfg(test)]
mod feature_tests;
#[cfg(test)]
mod tests;
