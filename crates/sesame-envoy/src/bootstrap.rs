//! The Envoy bootstrap written by `sesame bootstrap`: how Envoy reaches Sesame over ADS, its
//! admin interface, and the static `envoy-admin` cluster the stats listener routes to.
//!
//! The bootstrap is JSON with proto field names, written by hand: envoy-types cannot turn its
//! messages into proto-JSON.

use std::net::IpAddr;

use serde_json::{Value, json};
pub use sesame_dag::dag::DnsLookupFamily;

use crate::cluster::HTTP_PROTOCOL_OPTIONS;
use crate::listener::ADMIN_CLUSTER;

/// The name of the static cluster that reaches Sesame's xDS server.
pub const XDS_CLUSTER: &str = "sesame";

/// What `sesame bootstrap` is told about the installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootstrapConfig {
    /// The address of Sesame's xDS server: an IP, or a DNS name (`--xds-address`, 127.0.0.1).
    pub xds_address: String,
    /// The port of Sesame's xDS server (`--xds-port`, 8001).
    pub xds_port: u16,
    /// Where Envoy's admin interface listens (`--admin-address`/`--admin-port`, 127.0.0.1:9001).
    pub admin: AdminAddress,
    /// How Envoy resolves `xds_address` when it is a name (`--dns-lookup-family`, auto).
    pub dns_lookup_family: DnsLookupFamily,
    /// Sesame's namespace, used in stat names (`--namespace`, `projectsesame`).
    pub namespace: String,
    /// Mutual TLS to Sesame's xDS server; `None` connects in plain text (`--insecure` Sesame).
    pub xds_tls: Option<XdsTls>,
    /// The xDS protocol flavour Envoy speaks over ADS (`--xds-mode`, state of the world).
    pub xds_mode: XdsMode,
}

/// The xDS protocol flavour of Envoy's ADS stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdsMode {
    /// State of the world (`GRPC`): every response carries the full set of a type.
    #[default]
    Sotw,
    /// Incremental (`DELTA_GRPC`): responses carry only changed and removed resources.
    Delta,
}

impl XdsMode {
    /// The `api_type` of `ads_config` for this mode.
    pub fn api_type(self) -> &'static str {
        match self {
            XdsMode::Sotw => "GRPC",
            XdsMode::Delta => "DELTA_GRPC",
        }
    }
}

/// An `--xds-mode` value other than `sotw` or `delta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownXdsMode(String);

impl std::fmt::Display for UnknownXdsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown xds mode {:?}: expected sotw or delta", self.0)
    }
}

impl std::error::Error for UnknownXdsMode {}

impl std::str::FromStr for XdsMode {
    type Err = UnknownXdsMode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sotw" => Ok(XdsMode::Sotw),
            "delta" => Ok(XdsMode::Delta),
            other => Err(UnknownXdsMode(other.to_string())),
        }
    }
}

impl Default for BootstrapConfig {
    /// Contour's defaults, with Sesame's names.
    fn default() -> Self {
        BootstrapConfig {
            xds_address: "127.0.0.1".to_string(),
            xds_port: 8001,
            admin: AdminAddress::default(),
            dns_lookup_family: DnsLookupFamily::default(),
            namespace: "projectsesame".to_string(),
            xds_tls: None,
            xds_mode: XdsMode::Sotw,
        }
    }
}

/// The certificate Envoy presents to Sesame's xDS server and the CA it checks Sesame's with
/// (`--envoy-cafile`, `--envoy-cert-file`, `--envoy-key-file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XdsTls {
    /// The CA bundle Sesame's server certificate must chain to.
    pub ca_file: String,
    /// Envoy's client certificate chain (PEM).
    pub cert_file: String,
    /// Envoy's client key (PEM).
    pub key_file: String,
    /// Where the certificates reach Envoy from.
    pub delivery: CertificateDelivery,
}

/// How Envoy is told about its xDS certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertificateDelivery {
    /// File names inline in the bootstrap: read once at start-up, never rotated.
    Inline,
    /// SDS resource files under this directory (`--resources-dir`), which name the certificate
    /// files and the directory Envoy watches for kubelet's `..data` swap: a rotated certificate
    /// or CA is picked up without restarting Envoy. Write them with [`sds_files`].
    Sds {
        /// The resources directory; the files go to its `sds/` subdirectory.
        resources_dir: String,
    },
}

/// The DNS SAN Sesame's xDS server certificate must carry (`sesame certgen` puts it there).
pub const XDS_SERVER_SAN: &str = "sesame";
/// The SDS secret holding Envoy's client certificate for xDS.
pub const XDS_CERTIFICATE_SECRET: &str = "sesame_xds_tls_certificate";
/// The SDS secret holding the CA that Sesame's certificate must chain to.
pub const XDS_VALIDATION_SECRET: &str = "sesame_xds_tls_validation_context";
/// The SDS file of [`XDS_CERTIFICATE_SECRET`], relative to the resources directory.
pub const XDS_CERTIFICATE_FILE: &str = "sds/xds-tls-certificate.json";
/// The SDS file of [`XDS_VALIDATION_SECRET`], relative to the resources directory.
pub const XDS_VALIDATION_FILE: &str = "sds/xds-validation-context.json";

const SECRET_TYPE: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

impl XdsTls {
    /// Envoy's client certificate: the key pair, read together, and the directory whose
    /// symlink swap (kubelet's `..data`) triggers a re-read.
    fn tls_certificate(&self) -> Value {
        json!({
            "certificate_chain": { "filename": self.cert_file },
            "private_key": { "filename": self.key_file },
            "watched_directory": { "path": parent_dir(&self.cert_file) },
        })
    }

    /// The check of Sesame's certificate: the CA, and the DNS SAN `sesame`.
    fn validation_context(&self) -> Value {
        json!({
            "trusted_ca": { "filename": self.ca_file },
            "match_typed_subject_alt_names": [{
                "san_type": "DNS",
                "matcher": { "exact": XDS_SERVER_SAN },
            }],
            "watched_directory": { "path": parent_dir(&self.ca_file) },
        })
    }

    /// The `UpstreamTlsContext` of the xDS cluster.
    fn upstream_tls_context(&self) -> Value {
        let mut common = json!({
            "tls_params": { "tls_maximum_protocol_version": "TLSv1_3" },
        });
        match &self.delivery {
            CertificateDelivery::Inline => {
                common["tls_certificates"] = json!([self.tls_certificate()]);
                common["validation_context"] = self.validation_context();
            }
            CertificateDelivery::Sds { resources_dir } => {
                let source = |file: &str| {
                    json!({
                        "path_config_source": { "path": sds_path(resources_dir, file) },
                        "resource_api_version": "V3",
                    })
                };
                common["tls_certificate_sds_secret_configs"] = json!([{
                    "name": XDS_CERTIFICATE_SECRET,
                    "sds_config": source(XDS_CERTIFICATE_FILE),
                }]);
                common["validation_context_sds_secret_config"] = json!({
                    "name": XDS_VALIDATION_SECRET,
                    "sds_config": source(XDS_VALIDATION_FILE),
                });
            }
        }
        json!({
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                "common_tls_context": common,
            },
        })
    }
}

/// The SDS resource files to write under the resources directory, as (path relative to it,
/// content): each a `DiscoveryResponse` holding one secret. Empty without SDS delivery.
pub fn sds_files(config: &BootstrapConfig) -> Vec<(&'static str, Value)> {
    let Some(tls) = &config.xds_tls else {
        return Vec::new();
    };
    if tls.delivery == CertificateDelivery::Inline {
        return Vec::new();
    }
    let response = |secret: Value| json!({ "resources": [secret] });
    vec![
        (
            XDS_CERTIFICATE_FILE,
            response(json!({
                "@type": SECRET_TYPE,
                "name": XDS_CERTIFICATE_SECRET,
                "tls_certificate": tls.tls_certificate(),
            })),
        ),
        (
            XDS_VALIDATION_FILE,
            response(json!({
                "@type": SECRET_TYPE,
                "name": XDS_VALIDATION_SECRET,
                "validation_context": tls.validation_context(),
            })),
        ),
    ]
}

/// `dir/file`, without doubling a trailing slash.
fn sds_path(dir: &str, file: &str) -> String {
    format!("{}/{file}", dir.trim_end_matches('/'))
}

/// The directory holding a file (`.` for a bare name), the one Envoy watches for a swap.
fn parent_dir(file: &str) -> String {
    match std::path::Path::new(file).parent() {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => ".".to_string(),
    }
}

/// Where Envoy's admin interface listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminAddress {
    /// A TCP address; keep it on loopback.
    Tcp {
        /// The IP address (`localhost` is written as `127.0.0.1`: Envoy wants an IP here).
        address: String,
        /// The port.
        port: u16,
    },
    /// A Unix domain socket at this path.
    Unix(String),
}

impl Default for AdminAddress {
    /// 127.0.0.1:9001, Contour's admin port.
    fn default() -> Self {
        AdminAddress::Tcp {
            address: "127.0.0.1".to_string(),
            port: 9001,
        }
    }
}

/// Envoy's name for a DNS lookup family, as the bootstrap JSON spells it.
fn dns_lookup_family_name(family: DnsLookupFamily) -> &'static str {
    match family {
        DnsLookupFamily::Auto => "AUTO",
        DnsLookupFamily::V4 => "V4_ONLY",
        DnsLookupFamily::V6 => "V6_ONLY",
        DnsLookupFamily::All => "ALL",
    }
}

/// The Envoy bootstrap: listeners and clusters over ADS from Sesame (state of the world or
/// delta), the admin interface, the `envoy-admin` cluster, the runtime, the regex engine and
/// deferred cluster statistics. No `node`: Envoy gets it from `--service-cluster` and
/// `--service-node`.
pub fn bootstrap(config: &BootstrapConfig) -> Value {
    let ads = json!({ "ads": {}, "resource_api_version": "V3" });
    json!({
        "dynamic_resources": {
            "ads_config": {
                "api_type": config.xds_mode.api_type(),
                "transport_api_version": "V3",
                "grpc_services": [{ "envoy_grpc": { "cluster_name": XDS_CLUSTER } }],
            },
            "lds_config": ads,
            "cds_config": ads,
        },
        "static_resources": {
            "clusters": [xds_cluster(config), admin_cluster(&config.admin)],
        },
        "admin": {
            "access_log": [{
                "name": "envoy.access_loggers.file",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                    "path": "/dev/null",
                },
            }],
            "address": admin_address(&config.admin),
        },
        "layered_runtime": {
            "layers": [
                {
                    "name": "static",
                    "static_layer": {
                        "re2.max_program_size.error_level": 1_048_576,
                        "re2.max_program_size.warn_level": 1000,
                    },
                },
                { "name": "admin", "admin_layer": {} },
            ],
        },
        "default_regex_engine": {
            "name": "envoy.regex_engines.google_re2",
            "typed_config": { "@type": "type.googleapis.com/envoy.extensions.regex_engines.v3.GoogleRE2" },
        },
        // A cluster's traffic statistics are created when it first carries traffic, not when
        // it is added: with 10 000 clusters, Envoy comes up in ~4.5 s instead of ~7.5 s.
        "deferred_stat_options": { "enable_deferred_creation_stats": true },
    })
}

/// The static cluster to Sesame's xDS server: HTTP/2, high circuit breakers, TCP keepalive,
/// and mutual TLS when configured.
fn xds_cluster(config: &BootstrapConfig) -> Value {
    let is_ip = config.xds_address.parse::<IpAddr>().is_ok();
    let thresholds = |priority: &str| {
        json!({
            "priority": priority,
            "max_connections": 100_000,
            "max_pending_requests": 100_000,
            "max_requests": 60_000_000,
            "max_retries": 50,
            "track_remaining": true,
        })
    };
    let mut cluster = json!({
        "name": XDS_CLUSTER,
        "alt_stat_name": format!("{}_{}_{}", config.namespace, XDS_CLUSTER, config.xds_port),
        "type": if is_ip { "STATIC" } else { "STRICT_DNS" },
        "connect_timeout": "5s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": load_assignment(
            XDS_CLUSTER,
            json!({ "socket_address": { "address": config.xds_address, "port_value": config.xds_port } }),
        ),
        "typed_extension_protocol_options": {
            HTTP_PROTOCOL_OPTIONS: {
                "@type": format!("type.googleapis.com/{HTTP_PROTOCOL_OPTIONS}"),
                "explicit_http_config": { "http2_protocol_options": {} },
            },
        },
        "circuit_breakers": { "thresholds": [thresholds("HIGH"), thresholds("DEFAULT")] },
        "upstream_connection_options": {
            "tcp_keepalive": { "keepalive_probes": 3, "keepalive_time": 30, "keepalive_interval": 5 },
        },
        "dns_lookup_family": dns_lookup_family_name(config.dns_lookup_family),
    });
    if let Some(tls) = &config.xds_tls {
        cluster["transport_socket"] = tls.upstream_tls_context();
    }
    cluster
}

/// The static cluster to Envoy's own admin interface, which the stats listener routes to.
fn admin_cluster(admin: &AdminAddress) -> Value {
    json!({
        "name": ADMIN_CLUSTER,
        "alt_stat_name": ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "0.250s",
        "load_assignment": load_assignment(ADMIN_CLUSTER, admin_address(admin)),
    })
}

/// The admin address as an Envoy `Address`.
fn admin_address(admin: &AdminAddress) -> Value {
    match admin {
        AdminAddress::Tcp { address, port } => {
            // Envoy's admin and STATIC clusters take IP literals only.
            let address = if address == "localhost" {
                "127.0.0.1"
            } else {
                address.as_str()
            };
            json!({ "socket_address": { "address": address, "port_value": port } })
        }
        AdminAddress::Unix(path) => json!({ "pipe": { "path": path } }),
    }
}

/// A ClusterLoadAssignment with one endpoint.
fn load_assignment(cluster: &str, address: Value) -> Value {
    json!({
        "cluster_name": cluster,
        "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": address } }] }],
    })
}

#[cfg(test)]
pub(crate) mod tests;
