use super::*;

#[test]
fn plain_cluster_name_matches_contour() {
    let svc = NamespacedName::new("default", "kuard");
    assert_eq!(
        cluster_name(&svc, 80, UpstreamProtocol::Http1),
        "default/kuard/80/da39a3ee5e"
    );
    let h2 = cluster_name(&svc, 80, UpstreamProtocol::H2);
    let h2c = cluster_name(&svc, 80, UpstreamProtocol::H2c);
    let tls = cluster_name(&svc, 80, UpstreamProtocol::Tls);
    assert_eq!(h2, format!("default/kuard/80/{}", short_sha1(b"h2")));
    assert!(h2 != h2c && h2c != tls && tls != h2);
}
