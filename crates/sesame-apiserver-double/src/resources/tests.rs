use super::*;

#[test]
fn every_kind_round_trips_through_its_type_and_path() {
    for r in Resource::ALL {
        let d = r.descriptor();
        assert_eq!(Resource::from_type(&r.api_version(), d.kind), Some(r));
        assert_eq!(Resource::from_path(d.group, d.version, d.plural), Some(r));
    }
}

#[test]
fn api_versions_and_messages_use_the_group() {
    assert_eq!(Resource::Service.api_version(), "v1");
    assert_eq!(Resource::Ingress.api_version(), "networking.k8s.io/v1");
    assert_eq!(
        Resource::Ingress.qualified_plural(),
        "ingresses.networking.k8s.io"
    );
    assert_eq!(Resource::from_type("v1", "Pod"), None);
    assert_eq!(Resource::from_path("", "v1", "pods"), None);
}

#[test]
fn gateway_api_kinds_are_served_with_a_status_subresource() {
    assert_eq!(
        Resource::from_path("gateway.networking.k8s.io", "v1", "httproutes"),
        Some(Resource::HttpRoute)
    );
    let class = Resource::GatewayClass.descriptor();
    assert!(!class.namespaced && class.status_subresource);
    for r in Resource::GATEWAY_API {
        assert!(Resource::ALL.contains(&r), "{r:?}");
    }
}
