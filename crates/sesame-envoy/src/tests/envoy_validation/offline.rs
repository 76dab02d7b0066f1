//! The translated resources as one static bootstrap Envoy can validate offline: RDS references
//! inlined, SRDS scopes listed in place, SDS secrets and the xDS cluster written in place, and Envoy's verdict on the file.

use super::*;

/// A listener with every RDS reference replaced by the route configuration it names.
fn inline_routes(
    mut listener: listener_v3::Listener,
    resources: &Resources,
) -> listener_v3::Listener {
    for chain in &mut listener.filter_chains {
        for filter in &mut chain.filters {
            let Some(listener_v3::filter::ConfigType::TypedConfig(any)) = &mut filter.config_type
            else {
                panic!("filter without typed config")
            };
            if filter.name != "envoy.filters.network.http_connection_manager" {
                continue;
            }
            let mut hcm: hcm_v3::HttpConnectionManager = decode(any);
            if let Some(RouteSpecifier::Rds(rds)) = &hcm.route_specifier {
                let rc: route_v3::RouteConfiguration =
                    decode(&resources.routes[&rds.route_config_name]);
                hcm.route_specifier = Some(RouteSpecifier::RouteConfig(rc));
            }
            // Scopes over SRDS: the scopes themselves, listed in place.
            if let Some(RouteSpecifier::ScopedRoutes(scoped)) = &mut hcm.route_specifier {
                use hcm_v3::scoped_routes::ConfigSpecifier;
                let list = hcm_v3::ScopedRouteConfigurationsList {
                    scoped_route_configurations: resources.scopes.values().map(decode).collect(),
                };
                scoped.config_specifier =
                    Some(ConfigSpecifier::ScopedRouteConfigurationsList(list));
            }
            any.value = hcm.encode_to_vec();
        }
    }
    listener
}

/// A listener whose TLS certificates are the bootstrap's static secrets instead of SDS over
/// ADS: with SDS, `--mode validate` never gets the certificate, so it builds no TLS context
/// and never loads the CA bundles and CRLs either.
fn static_secrets(mut listener: listener_v3::Listener) -> listener_v3::Listener {
    for chain in &mut listener.filter_chains {
        if let Some(socket) = &mut chain.transport_socket {
            static_tls_certificates(socket, |tls: &mut tls_v3::DownstreamTlsContext| {
                tls.common_tls_context.as_mut()
            });
        }
    }
    listener
}

/// A cluster whose client certificate is the bootstrap's static secret instead of SDS over
/// ADS, for the same reason as [`static_secrets`].
fn static_client_certificate(mut cluster: cluster_v3::Cluster) -> cluster_v3::Cluster {
    if let Some(socket) = &mut cluster.transport_socket {
        static_tls_certificates(socket, |tls: &mut tls_v3::UpstreamTlsContext| {
            tls.common_tls_context.as_mut()
        });
    }
    cluster
}

/// Makes the certificates of a transport socket's TLS context (a `T`, whose common context
/// `common` finds) the bootstrap's static secrets of the same names.
fn static_tls_certificates<T: Message + prost::Name + Default>(
    socket: &mut core_v3::TransportSocket,
    common: impl FnOnce(&mut T) -> Option<&mut tls_v3::CommonTlsContext>,
) {
    let Some(core_v3::transport_socket::ConfigType::TypedConfig(any)) = &mut socket.config_type
    else {
        panic!("transport socket without typed config")
    };
    let mut tls: T = decode(any);
    if let Some(common) = common(&mut tls) {
        for sds in &mut common.tls_certificate_sds_secret_configs {
            sds.sds_config = None;
        }
    }
    any.value = tls.encode_to_vec();
}

fn static_cluster(name: &str, port: u32, http2: bool) -> cluster_v3::Cluster {
    let mut c = cluster_v3::Cluster {
        name: name.into(),
        cluster_discovery_type: Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
            cluster_v3::cluster::DiscoveryType::Static as i32,
        )),
        connect_timeout: Some(envoy_types::pb::google::protobuf::Duration {
            seconds: 1,
            nanos: 0,
        }),
        load_assignment: Some(crate::endpoint::load_assignment(
            name,
            &[sesame_dag::endpoints::Endpoint {
                ip: "127.0.0.1".into(),
                port: port as u16,
            }],
        )),
        ..Default::default()
    };
    if http2 {
        c.typed_extension_protocol_options.insert(
            crate::cluster::HTTP_PROTOCOL_OPTIONS.into(),
            crate::proto::any(&crate::cluster::http2_options()),
        );
    }
    c
}

pub(super) fn static_bootstrap(resources: &Resources) -> bootstrap_v3::Bootstrap {
    let mut clusters: Vec<cluster_v3::Cluster> = resources
        .clusters
        .values()
        .map(|c| static_client_certificate(decode(c)))
        .collect();
    clusters.push(static_cluster("sesame", 8001, true));
    clusters.push(static_cluster("envoy-admin", 9001, false));
    bootstrap_v3::Bootstrap {
        static_resources: Some(bootstrap_v3::bootstrap::StaticResources {
            listeners: resources
                .listeners
                .values()
                .map(|a| static_secrets(inline_routes(decode(a), resources)))
                .collect(),
            clusters,
            secrets: resources
                .secrets
                .values()
                .map(decode::<tls_v3::Secret>)
                .collect(),
        }),
        dynamic_resources: Some(bootstrap_v3::bootstrap::DynamicResources {
            ads_config: Some(core_v3::ApiConfigSource {
                api_type: core_v3::api_config_source::ApiType::Grpc as i32,
                transport_api_version: core_v3::ApiVersion::V3 as i32,
                grpc_services: vec![core_v3::GrpcService {
                    target_specifier: Some(core_v3::grpc_service::TargetSpecifier::EnvoyGrpc(
                        core_v3::grpc_service::EnvoyGrpc {
                            cluster_name: "sesame".into(),
                            ..Default::default()
                        },
                    )),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Envoy's verdict on `resources`, written as a static bootstrap into `dir`: `Err` with
/// Envoy's output when it refuses them.
pub(super) fn envoy_verdict(
    envoy: &std::path::Path,
    dir: &std::path::Path,
    resources: &Resources,
) -> Result<(), String> {
    let path = dir.join("static.pb");
    std::fs::write(&path, static_bootstrap(resources).encode_to_vec()).expect("write bootstrap");
    std::panic::catch_unwind(|| envoy_validate(envoy, &path)).map_err(|refusal| {
        refusal
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    })
}
