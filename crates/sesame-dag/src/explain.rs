//! Which route a request would take, and why: the virtual host its host (or SNI) picks, every
//! route of that host in the order Envoy tries them with the reason each does or does not
//! match, the first that matches, and where it sends the request, with the Kubernetes object
//! behind each part. A pure function of the DAG, for `sesame cli explain`.

use regex_automata::nfa::thompson::pikevm::PikeVM;
use serde::Serialize;

use crate::dag::{
    Dag, HeaderMatch, HeaderValueMatch, PathMatch, QueryParamMatch, QueryValueMatch, Route,
    RouteAction, TcpProxy, VirtualHost,
};
use crate::hostname;
use crate::object::ObjectKey;

/// A request to explain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The `Host` header (or the SNI name on HTTPS); a port is ignored.
    pub host: String,
    /// The path, with its query string if any.
    pub path: String,
    /// The method (`GET` when empty).
    pub method: String,
    /// Request headers, names in any case.
    pub headers: Vec<(String, String)>,
    /// Whether the request comes over TLS (the HTTPS listener).
    pub secure: bool,
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// The listener the request arrives on.
    pub listener: &'static str,
    /// The host as matched: lower case, without a port.
    pub host: String,
    /// The virtual host picked, if any, and why.
    pub virtual_host: Option<String>,
    /// Why this virtual host (or none).
    pub why: String,
    /// Every route considered, in order, up to and including the one that matched.
    pub routes: Vec<Considered>,
    /// What happens to the request.
    pub outcome: Outcome,
}

/// One route considered.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Considered {
    /// The route's match, as text.
    pub r#match: String,
    /// The object the route came from.
    pub origin: ObjectKey,
    /// Whether it matched.
    pub matched: bool,
    /// Why it did or did not.
    pub reason: String,
}

/// What happens to the request.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// No virtual host serves the host: Envoy answers 404.
    NoVirtualHost,
    /// The virtual host has no route that matches: Envoy answers 404.
    NoRoute,
    /// Proxied to these backends.
    Forward {
        /// The clusters with their weights.
        backends: Vec<Backend>,
    },
    /// Answered with a redirect to HTTPS.
    HttpsRedirect,
    /// Answered directly.
    DirectResponse {
        /// The status code.
        status: u16,
    },
    /// Answered with a redirect built from the request URL.
    Redirect {
        /// The status code.
        status: u16,
    },
    /// The TLS connection is proxied as TCP (terminated or passed through).
    TcpProxy {
        /// Whether Envoy terminates TLS first.
        terminated: bool,
        /// The clusters with their weights.
        backends: Vec<Backend>,
    },
}

/// One backend of a route.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    /// The Envoy cluster.
    pub cluster: String,
    /// The Service, `namespace/name`, when the cluster is in the DAG.
    pub service: Option<String>,
    /// The Service port.
    pub port: Option<i32>,
    /// The relative weight.
    pub weight: u32,
    /// The share of requests, in percent.
    pub percent: f64,
}

impl Request {
    /// A `GET` of `path` on `host`, without headers, over plain HTTP.
    pub fn get(host: &str, path: &str) -> Request {
        Request {
            host: host.to_string(),
            path: path.to_string(),
            method: "GET".to_string(),
            headers: Vec::new(),
            secure: false,
        }
    }
}

/// Explains where `request` goes with `dag`.
pub fn explain(dag: &Dag, request: &Request) -> Explanation {
    let host = host_of(&request.host);
    let listener = if request.secure {
        "ingress_https"
    } else {
        "ingress_http"
    };
    let mut explanation = Explanation {
        listener,
        host: host.clone(),
        virtual_host: None,
        why: String::new(),
        routes: Vec::new(),
        outcome: Outcome::NoVirtualHost,
    };
    if request.secure {
        if let Some((name, why)) = pick(&dag.passthrough, &host) {
            explanation.virtual_host = Some(name.to_string());
            explanation.why = format!("{why}; TLS is passed through");
            explanation.outcome = tcp(dag, &dag.passthrough[name], false);
            return explanation;
        }
        let Some((name, why)) = pick(&dag.https, &host) else {
            explanation.why = format!("no secure virtual host serves {host:?} (SNI)");
            return explanation;
        };
        explanation.virtual_host = Some(name.to_string());
        explanation.why = why;
        let secure = &dag.https[name];
        if let Some(proxy) = &secure.tcp_proxy {
            explanation.outcome = tcp(dag, proxy, true);
            return explanation;
        }
        routes(dag, &secure.virtual_host, request, &mut explanation);
    } else {
        let Some((name, why)) = pick(&dag.http, &host) else {
            explanation.why = format!("no virtual host serves {host:?}");
            return explanation;
        };
        explanation.virtual_host = Some(name.to_string());
        explanation.why = why;
        routes(dag, &dag.http[name], request, &mut explanation);
    }
    explanation
}

/// The host lower-cased, without a port.
fn host_of(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            name.to_string()
        }
        _ => host,
    }
}

/// The virtual host Envoy picks for `host`: an exact name, else the longest `*.suffix`
/// wildcard that matches, else `*`.
fn pick<'a, V>(
    hosts: &'a std::collections::BTreeMap<String, V>,
    host: &str,
) -> Option<(&'a str, String)> {
    if let Some((name, _)) = hosts.get_key_value(host) {
        return Some((name, format!("{name:?} is the host exactly")));
    }
    let wildcard = hosts
        .keys()
        .filter(|name| hostname::wildcard_covers(name, host))
        .max_by_key(|name| name.len());
    if let Some(name) = wildcard {
        return Some((
            name,
            format!("the wildcard {name:?} matches and no exact host does"),
        ));
    }
    let (name, _) = hosts.get_key_value("*")?;
    Some((
        name,
        "no host name matches; \"*\" serves any host".to_string(),
    ))
}

/// Tries the host's routes in order; the first that matches decides.
fn routes(dag: &Dag, host: &VirtualHost, request: &Request, explanation: &mut Explanation) {
    for route in &host.routes {
        let verdict = verdict(route, request);
        let matched = verdict.is_ok();
        explanation.routes.push(Considered {
            r#match: describe(route),
            origin: route.origin.clone(),
            matched,
            reason: verdict.unwrap_or_else(|why| why),
        });
        if matched {
            explanation.outcome = outcome(dag, &route.action);
            return;
        }
    }
    explanation.outcome = Outcome::NoRoute;
}

fn outcome(dag: &Dag, action: &RouteAction) -> Outcome {
    match action {
        RouteAction::Forward(forward) => Outcome::Forward {
            backends: backends(
                dag,
                forward.clusters.iter().map(|c| (c.name.as_str(), c.weight)),
            ),
        },
        RouteAction::HttpsRedirect => Outcome::HttpsRedirect,
        RouteAction::DirectResponse { status, .. } => Outcome::DirectResponse { status: *status },
        RouteAction::Redirect(redirect) => Outcome::Redirect {
            status: redirect.status,
        },
    }
}

fn tcp(dag: &Dag, proxy: &TcpProxy, terminated: bool) -> Outcome {
    Outcome::TcpProxy {
        terminated,
        backends: backends(
            dag,
            proxy.clusters.iter().map(|c| (c.name.as_str(), c.weight)),
        ),
    }
}

fn backends<'a>(dag: &Dag, clusters: impl Iterator<Item = (&'a str, u32)>) -> Vec<Backend> {
    let clusters: Vec<(&str, u32)> = clusters.collect();
    let total: u64 = clusters.iter().map(|(_, w)| u64::from(*w)).sum();
    clusters
        .iter()
        .map(|(name, weight)| {
            let cluster = dag.clusters.get(*name);
            Backend {
                cluster: (*name).to_string(),
                service: cluster.map(|c| c.service.to_string()),
                port: cluster.map(|c| c.port),
                weight: *weight,
                percent: if total == 0 {
                    100.0 / clusters.len() as f64
                } else {
                    f64::from(*weight) * 100.0 / total as f64
                },
            }
        })
        .collect()
}

/// The route's match conditions as text.
fn describe(route: &Route) -> String {
    let mut parts = vec![match &route.path {
        PathMatch::Prefix(p) => format!("prefix {p}"),
        PathMatch::SegmentPrefix(p) => format!("path prefix {p} (whole segments)"),
        PathMatch::Exact(p) => format!("exact path {p}"),
        PathMatch::Regex(r) => format!("path regex {r}"),
    }];
    parts.extend(route.headers.iter().map(|h| format!("header {}", h.name)));
    parts.extend(
        route
            .query_params
            .iter()
            .map(|q| format!("query parameter {}", q.name)),
    );
    parts.join(", ")
}

/// `Ok(why it matches)` or `Err(why not)`.
fn verdict(route: &Route, request: &Request) -> Result<String, String> {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let path_matches = match &route.path {
        // Envoy compares a plain prefix with the whole `:path`, query included.
        PathMatch::Prefix(p) => request.path.starts_with(p.as_str()),
        PathMatch::SegmentPrefix(p) => {
            path == p
                || path
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        }
        PathMatch::Exact(p) => path == p,
        PathMatch::Regex(r) => full_match(r, path),
    };
    if !path_matches {
        return Err(format!("the path {path:?} does not match"));
    }
    for header in &route.headers {
        if !header_matches(header, request) {
            return Err(format!("the header {} does not match", header.name));
        }
    }
    for param in &route.query_params {
        if !query_matches(param, query) {
            return Err(format!("the query parameter {} does not match", param.name));
        }
    }
    Ok("the path and every condition match; the first route that matches wins".to_string())
}

fn header_matches(header: &HeaderMatch, request: &Request) -> bool {
    // The pseudo-headers Envoy matches on come from the request line.
    let pseudo = match header.name.as_str() {
        ":authority" => Some(request.host.as_str()),
        ":path" => Some(request.path.as_str()),
        ":scheme" => Some(if request.secure { "https" } else { "http" }),
        ":method" => Some(request.method.as_str()),
        _ => None,
    };
    let value = pseudo.or_else(|| {
        request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&header.name))
            .map(|(_, v)| v.as_str())
    });
    let wanted = match &header.value {
        HeaderValueMatch::Present => Wanted::Present,
        HeaderValueMatch::Regex(r) => Wanted::Regex(r),
        HeaderValueMatch::Exact(s) => Wanted::Text(s, |v, s| v == s),
        HeaderValueMatch::Contains(s) => Wanted::Text(s, |v, s| v.contains(s)),
        HeaderValueMatch::Prefix(s) => Wanted::Text(s, |v, s| v.starts_with(s)),
        HeaderValueMatch::Suffix(s) => Wanted::Text(s, |v, s| v.ends_with(s)),
    };
    holds(value, wanted, header.ignore_case) != header.invert
}

fn query_matches(param: &QueryParamMatch, query: &str) -> bool {
    let value = query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(name, _)| *name == param.name)
        .map(|(_, v)| v);
    let wanted = match &param.value {
        QueryValueMatch::Present => Wanted::Present,
        QueryValueMatch::Regex(r) => Wanted::Regex(r),
        QueryValueMatch::Exact(s) => Wanted::Text(s, |v, s| v == s),
        QueryValueMatch::Contains(s) => Wanted::Text(s, |v, s| v.contains(s)),
        QueryValueMatch::Prefix(s) => Wanted::Text(s, |v, s| v.starts_with(s)),
        QueryValueMatch::Suffix(s) => Wanted::Text(s, |v, s| v.ends_with(s)),
    };
    holds(value, wanted, param.ignore_case)
}

/// What a header or query parameter condition asks of a value.
enum Wanted<'a> {
    /// Any value.
    Present,
    /// A value the RE2 expression matches whole (case as written).
    Regex(&'a str),
    /// A value that passes the test against this text.
    Text(&'a str, fn(&str, &str) -> bool),
}

/// Whether `value` (`None`: absent) meets `wanted`; `ignore_case` applies to text tests only.
fn holds(value: Option<&str>, wanted: Wanted<'_>, ignore_case: bool) -> bool {
    let Some(value) = value else {
        return false;
    };
    match wanted {
        Wanted::Present => true,
        Wanted::Regex(pattern) => full_match(pattern, value),
        Wanted::Text(text, test) if ignore_case => {
            test(&value.to_lowercase(), &text.to_lowercase())
        }
        Wanted::Text(text, test) => test(value, text),
    }
}

/// Whether the RE2 expression (validated by the build) matches all of `text`, as Envoy's
/// `safe_regex` does.
fn full_match(pattern: &str, text: &str) -> bool {
    PikeVM::new(&format!("^(?:{pattern})$")).is_ok_and(|vm| {
        let mut cache = vm.create_cache();
        vm.is_match(&mut cache, text)
    })
}

mod sources;

pub use sources::{Resource, Sources, sources};

#[cfg(test)]
mod tests;
