//! Real Envoy accepts JWT verification as Sesame translates it: the `jwt_authn` filter with
//! providers whose JWKS come through plain and TLS DNS clusters (one verifying the server), and
//! routes that name a requirement.

use pretty_assertions::assert_eq;
use sesame_dag::dag::{Cluster, DnsLookupFamily, ExternalName, JwtProvider, RemoteJwks};

use super::*;

/// A JWKS cluster as the build makes it: Envoy resolves `host` and connects at `port`.
fn jwks_cluster(name: &str, host: &str, port: i32, tls: Option<UpstreamValidation>) -> Cluster {
    let mut c = cluster("unused", UpstreamProtocol::Http1);
    c.name = name.into();
    c.service = sesame_dag::NamespacedName::new("dnsname", host);
    c.port = port;
    c.port_name = String::new();
    c.eds_name = name.into();
    c.external_name = Some(Box::new(ExternalName {
        host: host.into(),
        dns_lookup_family: DnsLookupFamily::V4,
    }));
    if let Some(validation) = tls {
        c.protocol = UpstreamProtocol::Tls;
        c.sni = Some(host.into());
        c.upstream_validation = Some(Box::new(validation));
    }
    c
}

fn provider(name: &str, uri: &str, cluster: &str, issuer: Option<&str>) -> JwtProvider {
    JwtProvider {
        name: name.into(),
        issuer: issuer.map(str::to_string),
        audiences: vec!["api".into(), "web".into()],
        remote_jwks: RemoteJwks {
            uri: uri.into(),
            cluster: cluster.into(),
            timeout: Duration::from_secs(1),
            cache_duration: Some(Duration::from_secs(300)),
        },
        forward_jwt: name == "plain",
    }
}

#[test]
fn envoy_accepts_jwt_providers_and_route_requirements() {
    let mut dag = every_feature_dag();
    let ca = match rcgen::generate_simple_self_signed(vec!["keys.example.com".into()]) {
        Ok(k) => k.cert.pem().into_bytes(),
        Err(e) => panic!("rcgen: {e}"),
    };
    let plain = jwks_cluster("dnsname/http/127.0.0.1:8081", "127.0.0.1", 8081, None);
    let tls = jwks_cluster(
        "dnsname/https/keys.example.com:443/abcdef0123",
        "keys.example.com",
        443,
        Some(UpstreamValidation {
            ca_pem: ca,
            subject_names: vec!["keys.example.com".into()],
            subject_uris: Vec::new(),
        }),
    );
    let secure = dag
        .https
        .get_mut("secure-proxy.com")
        .expect("secure-proxy.com");
    secure.jwt_providers = vec![
        provider("plain", "http://127.0.0.1:8081/jwks", &plain.name, None),
        provider(
            "verified",
            "https://keys.example.com/.well-known/jwks.json?v=1",
            &tls.name,
            Some("https://issuer.example.com"),
        ),
    ];
    for (i, route) in secure.virtual_host.routes.iter_mut().enumerate() {
        route.jwt_provider = match i % 3 {
            0 => Some("plain".into()),
            1 => Some("verified".into()),
            _ => None,
        };
    }
    dag.clusters.insert(plain.name.clone(), plain);
    dag.clusters.insert(tls.name.clone(), tls);
    let resources = translate(&dag, &TranslateConfig::default());
    let jwks: cluster_v3::Cluster =
        decode(&resources.clusters["dnsname/https/keys.example.com:443/abcdef0123"]);
    assert_eq!(
        jwks.cluster_discovery_type,
        Some(cluster_v3::cluster::ClusterDiscoveryType::Type(
            cluster_v3::cluster::DiscoveryType::StrictDns as i32
        ))
    );
    assert!(jwks.transport_socket.is_some());
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));

    // The check reaches the filter's configuration: a provider without a cluster to fetch its
    // JWKS through is refused (Sesame never emits one).
    let secure = dag
        .https
        .get_mut("secure-proxy.com")
        .expect("secure-proxy.com");
    secure.jwt_providers[0].remote_jwks.cluster = String::new();
    let resources = translate(&dag, &TranslateConfig::default());
    let Err(refusal) = envoy_verdict(&envoy, dir.path(), &resources) else {
        panic!("envoy accepted a JWKS without a cluster")
    };
    assert!(refusal.contains("Cluster"), "{refusal}");
}
