//! Sesame's pure translation stage: [`Dag`] → Envoy v3 resources, endpoints → ClusterLoadAssignments,
//! and the Envoy bootstrap.
//!
//! Stage: after `sesame-dag::build`, before `sesame-xds`. Pure and synchronous: no tokio, no kube,
//! no tonic server code. Resources come out encoded as `Any`, in sorted maps, so the same DAG
//! always gives byte-identical output.

pub mod accesslog;
pub mod bootstrap;
pub mod canonical;
pub mod cluster;
pub mod cookie;
pub mod endpoint;
pub mod ext_authz;
pub mod gateway;
pub mod global_rate_limit;
pub mod http_filter;
pub mod incremental;
pub mod jwt;
pub mod listener;
pub mod resource;
pub mod route;
pub mod scope;
pub mod secret;

mod proto;
#[cfg(test)]
mod testutil;

pub use proto::{ads_config_source, append_message, message_field_len};
pub use resource::{ResourceType, Resources};

/// The endpoint translation under the name callers first used (`sesame_envoy::endpoints::endpoints`).
pub use endpoint as endpoints;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::Timeout;

use crate::accesslog::AccessLog;

/// Where Envoy listens, and other installation-wide settings of the translation.
#[derive(Clone, Debug, PartialEq)]
pub struct TranslateConfig {
    /// The plain-HTTP listener `ingress_http` (`--envoy-service-http-address`/`-port`, 0.0.0.0:8080).
    pub http_listener: SocketAddr,
    /// The HTTPS listener `ingress_https` (`--envoy-service-https-address`/`-port`, 0.0.0.0:8443).
    pub https_listener: SocketAddr,
    /// The `stats-health` listener (`--stats-address`/`--stats-port`, 0.0.0.0:8002).
    pub stats_listener: SocketAddr,
    /// How the ingress listeners behave: timeouts, trusted hops, access logs, TLS cipher
    /// suites, and the read-only admin listener.
    pub listener: ListenerSettings,
}

impl Default for TranslateConfig {
    /// Contour's listener addresses and [`ListenerSettings::default`].
    fn default() -> Self {
        TranslateConfig {
            http_listener: SocketAddr::from(([0, 0, 0, 0], 8080)),
            https_listener: SocketAddr::from(([0, 0, 0, 0], 8443)),
            stats_listener: SocketAddr::from(([0, 0, 0, 0], 8002)),
            listener: ListenerSettings::default(),
        }
    }
}

/// Settings of the ingress listeners, from the configuration file (`timeouts:`, `network:`,
/// `tls.cipher-suites`, access logs) and the access log flags. The `stats-health` and
/// `envoy-admin` listeners take none of them.
#[derive(Clone, Debug, PartialEq)]
pub struct ListenerSettings {
    /// Timeouts of every HTTP connection manager of `ingress_http` and `ingress_https`.
    pub timeouts: HttpTimeouts,
    /// How many proxies in front of Envoy append to `X-Forwarded-For` (`network.num-trusted-hops`, 0).
    pub num_trusted_hops: u32,
    /// Where and how requests are logged.
    pub access_log: AccessLog,
    /// The port of the read-only admin listener `envoy-admin` on 127.0.0.1
    /// (`network.admin-port`); `None`, the default, emits no such listener.
    pub admin_port: Option<u16>,
    /// The cipher suites of `ingress_https` up to TLS 1.2, in order of preference
    /// (`tls.cipher-suites`, [`DEFAULT_CIPHER_SUITES`]); empty leaves Envoy's own list.
    pub cipher_suites: Vec<String>,
    /// The global rate limit service (config `rateLimitService`): its filter is in every
    /// ingress connection manager when set.
    pub rate_limit: Option<global_rate_limit::RateLimitSettings>,
}

impl Default for ListenerSettings {
    /// Contour's: its timeouts, no trusted hop, Envoy-format logs on standard output, its
    /// cipher suites, and (unlike Contour) no admin listener: `sesame bootstrap` puts Envoy's
    /// admin interface itself on 127.0.0.1:9001.
    fn default() -> Self {
        ListenerSettings {
            timeouts: HttpTimeouts::default(),
            num_trusted_hops: 0,
            access_log: AccessLog::default(),
            admin_port: None,
            cipher_suites: DEFAULT_CIPHER_SUITES.map(String::from).to_vec(),
            rate_limit: None,
        }
    }
}

/// Contour's default cipher suites, in order of preference, with two equal-preference groups.
pub const DEFAULT_CIPHER_SUITES: [&str; 4] = [
    "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]",
    "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
];

/// Timeouts of the ingress HTTP connection managers (`timeouts:`): `None` leaves the field
/// out, so Envoy's default applies; [`Timeout::Infinite`] switches the timeout off.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpTimeouts {
    /// HCM `request_timeout`.
    pub request_timeout: Option<Timeout>,
    /// HCM `common_http_protocol_options.idle_timeout`.
    pub connection_idle_timeout: Option<Timeout>,
    /// HCM `stream_idle_timeout`.
    pub stream_idle_timeout: Option<Timeout>,
    /// HCM `common_http_protocol_options.max_connection_duration`.
    pub max_connection_duration: Option<Timeout>,
    /// HCM `delayed_close_timeout`.
    pub delayed_close_timeout: Option<Timeout>,
    /// HCM `drain_timeout`.
    pub connection_shutdown_grace_period: Option<Timeout>,
}

impl Default for HttpTimeouts {
    /// Contour's configuration-file defaults: Envoy's own, except a 60s connection idle
    /// timeout (Envoy's is an hour).
    fn default() -> Self {
        HttpTimeouts {
            request_timeout: None,
            connection_idle_timeout: Some(Timeout::After(Duration::from_secs(60))),
            stream_idle_timeout: None,
            max_connection_duration: None,
            delayed_close_timeout: None,
            connection_shutdown_grace_period: None,
        }
    }
}

/// Translates a DAG into listeners, route configurations, clusters and secrets.
/// Endpoints are not included: see [`endpoint::endpoints`].
pub fn translate(dag: &Dag, config: &TranslateConfig) -> Resources {
    translate_with(dag, config, true)
}

/// [`translate`]; with `inline_table` false, `ingress_http` is the empty table in place of
/// the one with every plain-HTTP host inline: the xDS store makes that one itself, from
/// [`Resources::virtual_hosts`], when a state-of-the-world client reads it.
pub(crate) fn translate_with(dag: &Dag, config: &TranslateConfig, inline_table: bool) -> Resources {
    let virtual_hosts: BTreeMap<String, Any> = route::vhds_virtual_hosts(dag)
        .into_iter()
        .map(|(hostname, any)| (route::vhds_name(&hostname), any))
        .collect();
    let mut routes = route::secure_route_configurations(dag);
    // In VHDS resource-name order, as the xDS store puts it together from the same hosts.
    let hosts = virtual_hosts.values().map(|v| &v.value[..]);
    let http = if inline_table {
        route::http_route_configuration_from_vhds(hosts)
    } else {
        route::http_route_configuration_from_vhds(std::iter::empty())
    };
    routes.insert(route::HTTP_ROUTE_CONFIG.to_string(), http);
    routes.extend(gateway::route_configurations(dag));
    Resources {
        listeners: listener::listeners(dag, config),
        routes,
        clusters: cluster::clusters(dag),
        secrets: secret::secrets(dag),
        virtual_hosts,
        scopes: scope::scopes(dag),
        delta_listeners: listener::delta_listeners(dag, config),
    }
}

#[cfg(test)]
mod tests;
