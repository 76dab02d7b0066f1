use super::*;

fn certs() -> Certificates {
    let pair = |s: &str| Pair {
        cert: format!("{s} cert"),
        key: format!("{s} key"),
    };
    Certificates {
        ca: "ca".to_string(),
        sesame: pair("sesame"),
        envoy: pair("envoy"),
    }
}

fn summary(secrets: &[Secret]) -> Vec<(String, String, Vec<String>)> {
    secrets
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().unwrap_or_default(),
                s.type_.clone().unwrap_or_default(),
                s.data.iter().flat_map(|d| d.keys().cloned()).collect(),
            )
        })
        .collect()
}

#[test]
fn legacy_has_three_secrets_with_suffix() {
    let got = secrets(&certs(), SecretsFormat::Legacy, "ns", "-x");
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary(&got),
        vec![
            ("cacert-x".into(), "Opaque".into(), keys(&["cacert.pem"])),
            (
                "envoycert-x".into(),
                "kubernetes.io/tls".into(),
                keys(&["tls.crt", "tls.key"])
            ),
            (
                "sesamecert-x".into(),
                "kubernetes.io/tls".into(),
                keys(&["tls.crt", "tls.key"])
            ),
        ]
    );
    assert!(
        got.iter()
            .all(|s| s.metadata.namespace.as_deref() == Some("ns"))
    );
}

#[test]
fn compact_puts_the_ca_in_each_tls_secret() {
    let got = secrets(&certs(), SecretsFormat::Compact, "ns", "");
    let names: Vec<_> = summary(&got).into_iter().map(|s| (s.0, s.2)).collect();
    let tls = vec!["ca.crt".to_string(), "tls.crt".into(), "tls.key".into()];
    assert_eq!(
        names,
        vec![
            ("envoycert".into(), tls.clone()),
            ("sesamecert".into(), tls)
        ]
    );
    let ca = got[1].data.as_ref().and_then(|d| d.get("ca.crt"));
    assert_eq!(ca.map(|b| b.0.as_slice()), Some(&b"ca"[..]));
}
