use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::route::v3 as route_v3;
use pretty_assertions::assert_eq;
use prost::Message;

use super::*;

fn vhost(name: &str) -> route_v3::VirtualHost {
    route_v3::VirtualHost {
        name: name.to_string(),
        domains: vec![name.to_string()],
        ..Default::default()
    }
}

#[test]
fn the_http_table_is_split_into_a_vhds_table_and_its_virtual_hosts() {
    let full = route_v3::RouteConfiguration {
        name: "ingress_http".to_string(),
        virtual_hosts: vec![vhost("a.com"), vhost("*")],
        request_headers_to_remove: vec!["x-internal".to_string()],
        ..Default::default()
    };
    let https = route_v3::RouteConfiguration {
        name: "https/b.com".to_string(),
        virtual_hosts: vec![vhost("b.com")],
        ..Default::default()
    };
    let routes = BTreeMap::from([
        ("ingress_http".to_string(), proto::any(&full)),
        ("https/b.com".to_string(), proto::any(&https)),
    ]);
    let split = delta_routes(&routes);

    assert_eq!(
        split.route_configurations.keys().collect::<Vec<_>>(),
        ["ingress_http"]
    );
    let small = route_v3::RouteConfiguration::decode(
        split.route_configurations["ingress_http"].value.as_slice(),
    )
    .expect("route configuration");
    assert_eq!(
        small,
        route_v3::RouteConfiguration {
            virtual_hosts: Vec::new(),
            vhds: Some(route_v3::Vhds {
                config_source: Some(proto::ads_config_source()),
            }),
            ..full.clone()
        }
    );
    assert_eq!(
        split.virtual_hosts.keys().collect::<Vec<_>>(),
        ["ingress_http/*", "ingress_http/a.com"]
    );
    let a =
        route_v3::VirtualHost::decode(split.virtual_hosts["ingress_http/a.com"].value.as_slice())
            .expect("virtual host");
    assert_eq!(
        a,
        route_v3::VirtualHost {
            name: "ingress_http/a.com".to_string(),
            ..vhost("a.com")
        }
    );
    assert_eq!(
        split.virtual_hosts["ingress_http/a.com"].type_url,
        crate::ResourceType::VirtualHost.type_url()
    );
}

#[test]
fn without_an_http_table_there_is_nothing_to_split() {
    assert_eq!(delta_routes(&BTreeMap::new()), DeltaRoutes::default());
}
