//! External authorization: Envoy's ext_authz HTTP filter in the filter chain of each secure
//! virtual host that has authorization, calling its ExtensionService's cluster over gRPC, and
//! the per-route settings (`ExtAuthzPerRoute`) that disable it or add context extensions.
//!
//! As in Contour, a check that fails (server down, timeout, error) answers 403 unless the host
//! fails open, the route cache is cleared after a check (the server may change headers), and
//! the client's certificate is sent along.

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::filters::http::ext_authz::v3 as ext_authz_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::envoy::r#type::v3 as type_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::dag::{Authorization, RouteAuthorization, Timeout};

use crate::proto;

/// The external authorization filter.
pub const EXT_AUTHZ_FILTER: &str = "envoy.filters.http.ext_authz";

/// A gRPC service on `cluster`, through Envoy's own gRPC client, called with `:authority`
/// `authority` and the call's `timeout` (`None` keeps the filter's default; infinite is
/// Envoy's zero, no timeout).
pub fn grpc_service(
    cluster: &str,
    authority: &str,
    timeout: Option<Timeout>,
) -> core_v3::GrpcService {
    core_v3::GrpcService {
        timeout: timeout.map(proto::timeout),
        target_specifier: Some(core_v3::grpc_service::TargetSpecifier::EnvoyGrpc(
            core_v3::grpc_service::EnvoyGrpc {
                cluster_name: cluster.to_string(),
                authority: authority.to_string(),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The ext_authz filter of a secure virtual host with authorization.
pub fn ext_authz_filter(auth: &Authorization) -> hcm_v3::HttpFilter {
    let config = ext_authz_v3::ExtAuthz {
        services: Some(ext_authz_v3::ext_authz::Services::GrpcService(
            grpc_service(&auth.cluster, &auth.authority, auth.timeout),
        )),
        transport_api_version: core_v3::ApiVersion::V3 as i32,
        failure_mode_allow: auth.fail_open,
        clear_route_cache: true,
        status_on_error: Some(type_v3::HttpStatus {
            code: type_v3::StatusCode::Forbidden as i32,
        }),
        include_peer_certificate: true,
        with_request_body: auth
            .with_request_body
            .map(|body| ext_authz_v3::BufferSettings {
                max_request_bytes: body.max_request_bytes,
                allow_partial_message: body.allow_partial_message,
                pack_as_bytes: body.pack_as_bytes,
            }),
        ..Default::default()
    };
    hcm_v3::HttpFilter {
        name: EXT_AUTHZ_FILTER.to_string(),
        config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(proto::any(
            &config,
        ))),
        ..Default::default()
    }
}

/// The per-route ext_authz settings of a route: checks disabled, or context extensions.
pub fn ext_authz_per_route(auth: &RouteAuthorization) -> Any {
    use ext_authz_v3::ext_authz_per_route::Override;
    let setting = match auth {
        RouteAuthorization::Disabled => Override::Disabled(true),
        RouteAuthorization::Context(context) => {
            Override::CheckSettings(ext_authz_v3::CheckSettings {
                context_extensions: context
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                ..Default::default()
            })
        }
    };
    proto::any(&ext_authz_v3::ExtAuthzPerRoute {
        r#override: Some(setting),
    })
}

#[cfg(test)]
pub(crate) mod tests;
