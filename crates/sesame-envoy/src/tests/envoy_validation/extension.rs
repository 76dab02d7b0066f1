//! Real Envoy accepts external authorization as translated: the ext_authz filter on one
//! secure host's chain, per-route settings, and an ExtensionService cluster over weighted
//! localities, beside every other feature.

use pretty_assertions::assert_eq;

use super::*;

#[test]
fn envoy_accepts_external_authorization() {
    let mut dag = every_feature_dag();
    let authorized = crate::ext_authz::tests::authorized_dag();
    dag.clusters.extend(authorized.clusters);
    for (host, mut vhost) in authorized.https {
        // Reuse a real certificate: Envoy loads it.
        vhost.secret = dag.https["secure.com"].secret.clone();
        dag.https.insert(host, vhost);
    }
    let resources = translate(&dag, &TranslateConfig::default());
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

/// Global rate limits: the filter in every ingress chain (beside ext_authz on an authorized
/// host), descriptors of every kind on a virtual host and a route, and a route ignoring its
/// host's, with the rate limit service's cluster present.
#[test]
fn envoy_accepts_global_rate_limits() {
    let mut dag = every_feature_dag();
    let authorized = crate::ext_authz::tests::authorized_dag();
    dag.clusters.extend(authorized.clusters);
    for (host, mut vhost) in authorized.https {
        vhost.secret = dag.https["secure.com"].secret.clone();
        vhost.virtual_host.global_rate_limit =
            Some(Box::new(crate::global_rate_limit::tests::every_descriptor()));
        dag.https.insert(host, vhost);
    }
    let limited = crate::global_rate_limit::tests::rate_limited_dag();
    dag.clusters.extend(limited.clusters);
    dag.http.extend(limited.http);
    let mut rls = dag.clusters["extension/auth/authz"].clone();
    rls.name = "extension/projectsesame/ratelimit".into();
    rls.eds_name = rls.name.clone();
    dag.clusters.insert(rls.name.clone(), rls);
    let config = crate::global_rate_limit::tests::rate_limit_config();
    let resources = translate(&dag, &config);
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}

/// What Envoy does with an ext_authz filter whose cluster does not exist: it **accepts** it
/// (the gRPC client is made lazily; a route to a missing cluster, by contrast, is refused), so
/// every check would fail at run time. Envoy is no safety net here: the DAG must never name an
/// extension cluster it does not hold (authorization needs a valid ExtensionService, whose
/// cluster the same build adds). If this starts failing, Envoy began checking.
#[test]
fn envoy_accepts_ext_authz_on_an_unknown_cluster() {
    let Some(envoy) = envoy_binary() else { return };
    let mut dag = every_feature_dag();
    let authorized = crate::ext_authz::tests::authorized_dag();
    dag.clusters.extend(
        authorized
            .clusters
            .into_iter()
            .filter(|(name, _)| !name.starts_with("extension/")),
    );
    for (host, mut vhost) in authorized.https {
        vhost.secret = dag.https["secure.com"].secret.clone();
        dag.https.insert(host, vhost);
    }
    let resources = translate(&dag, &TranslateConfig::default());
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(envoy_verdict(&envoy, dir.path(), &resources), Ok(()));
}
