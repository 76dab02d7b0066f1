//! JWT verification: Envoy's `jwt_authn` filter in the filter chain of each secure virtual host
//! that has JWT providers, and the per-route configuration that names the provider a route
//! requires.
//!
//! As in Contour, each provider has a requirement of the same name in the filter's
//! `requirement_map`, and a route names it with `requirement_name` in its
//! `typed_per_filter_config`; routes that name none verify nothing. The provider's values
//! (issuer, audiences, JWKS URI) travel as the typed fields of the filter's configuration.

use std::collections::HashMap;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::filters::http::jwt_authn::v3 as jwt_v3;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3 as hcm_v3;
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};
use sesame_dag::dag::JwtProvider;

use crate::http_filter::{RBAC_FILTER, ROUTER_FILTER};
use crate::proto;

/// The JWT authentication filter.
pub const JWT_AUTHN_FILTER: &str = "envoy.filters.http.jwt_authn";

/// The `jwt_authn` filter verifying tokens against `providers`; `None` when there are none.
pub fn jwt_authn_filter(providers: &[JwtProvider]) -> Option<hcm_v3::HttpFilter> {
    if providers.is_empty() {
        return None;
    }
    Some(hcm_v3::HttpFilter {
        name: JWT_AUTHN_FILTER.to_string(),
        config_type: Some(hcm_v3::http_filter::ConfigType::TypedConfig(Any {
            type_url: jwt_v3::JwtAuthentication::type_url(),
            value: jwt_authentication(providers),
        })),
        ..Default::default()
    })
}

/// Puts the `jwt_authn` filter into an ingress filter chain where Contour has it: after the RBAC
/// filter (IP filters refuse first), else before the router.
pub fn insert_filter(filters: &mut Vec<hcm_v3::HttpFilter>, filter: hcm_v3::HttpFilter) {
    let at = match filters.iter().position(|f| f.name == RBAC_FILTER) {
        Some(rbac) => rbac + 1,
        None => filters
            .iter()
            .position(|f| f.name == ROUTER_FILTER)
            .unwrap_or(filters.len()),
    };
    filters.insert(at, filter);
}

/// The encoded `JwtAuthentication` of `providers`: one provider and one requirement (requiring
/// that provider) per name. Encoded entry by entry in the providers' (name) order: prost
/// encodes a map in `HashMap` order, which changes from one run to the next, and a map field
/// is a run of entries, so the concatenation is the same message, always in the same bytes.
fn jwt_authentication(providers: &[JwtProvider]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in providers {
        let one = jwt_v3::JwtAuthentication {
            providers: HashMap::from([(p.name.clone(), provider(p))]),
            ..Default::default()
        };
        out.extend(one.encode_to_vec());
    }
    for p in providers {
        let requirement = jwt_v3::JwtRequirement {
            requires_type: Some(jwt_v3::jwt_requirement::RequiresType::ProviderName(
                p.name.clone(),
            )),
        };
        let one = jwt_v3::JwtAuthentication {
            requirement_map: HashMap::from([(p.name.clone(), requirement)]),
            ..Default::default()
        };
        out.extend(one.encode_to_vec());
    }
    out
}

/// One provider: its issuer and audiences (checked only when set), whether the token is
/// forwarded upstream, and its JWKS fetched through its cluster.
pub fn provider(p: &JwtProvider) -> jwt_v3::JwtProvider {
    let remote = &p.remote_jwks;
    jwt_v3::JwtProvider {
        issuer: p.issuer.clone().unwrap_or_default(),
        audiences: p.audiences.clone(),
        forward: p.forward_jwt,
        jwks_source_specifier: Some(jwt_v3::jwt_provider::JwksSourceSpecifier::RemoteJwks(
            jwt_v3::RemoteJwks {
                http_uri: Some(core_v3::HttpUri {
                    uri: remote.uri.clone(),
                    timeout: Some(proto::duration(remote.timeout)),
                    http_upstream_type: Some(core_v3::http_uri::HttpUpstreamType::Cluster(
                        remote.cluster.clone(),
                    )),
                }),
                cache_duration: remote.cache_duration.map(proto::duration),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The `typed_per_filter_config` entry of a route that requires `provider`.
pub fn route_filter_config(provider: &str) -> (String, Any) {
    let config = jwt_v3::PerRouteConfig {
        requirement_specifier: Some(
            jwt_v3::per_route_config::RequirementSpecifier::RequirementName(provider.to_string()),
        ),
    };
    (JWT_AUTHN_FILTER.to_string(), proto::any(&config))
}

#[cfg(test)]
mod tests;
