use std::sync::Arc;

use super::*;
use crate::object::Object;
use crate::testutil::{Pem, cert, tls_secret};

fn secret(crt: &str, key: &str) -> Secret {
    let Object::Secret(s) = tls_secret("cert", crt, key) else {
        unreachable!()
    };
    Arc::unwrap_or_clone(s)
}

fn check(crt: &str, key: &str) -> Result<TlsSecret, SecretError> {
    validate(&secret(crt, key), &NamespacedName::new("default", "cert"))
}

fn with_params(
    alg: &'static rcgen::SignatureAlgorithm,
    configure: impl FnOnce(&mut rcgen::CertificateParams),
) -> Pem {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["a.com".to_string()]).unwrap();
    configure(&mut params);
    let crt = params.self_signed(&key).unwrap();
    Pem {
        crt: crt.pem(),
        key: key.serialize_pem(),
    }
}

#[test]
fn valid_ecdsa_and_rsa_secrets() {
    let pem = cert(&["a.com"]);
    let secret = check(&pem.crt, &pem.key).unwrap();
    assert_eq!(
        secret.name,
        format!("default/cert/{}", short_sha1(pem.crt.as_bytes()))
    );
    assert_eq!(secret.source, NamespacedName::new("default", "cert"));
    assert_eq!(secret.certificate_chain, pem.crt.as_bytes());
    assert_eq!(secret.private_key, pem.key.as_bytes());
    let p384 = with_params(&rcgen::PKCS_ECDSA_P384_SHA384, |_| {});
    assert!(check(&p384.crt, &p384.key).is_ok());
    let rsa = check(
        include_str!("testdata/rsa2048.crt"),
        include_str!("testdata/rsa2048.key"),
    );
    assert!(rsa.is_ok(), "{rsa:?}");
    // A chain: leaf then an extra certificate is fine.
    let other = cert(&["b.com"]);
    assert!(check(&format!("{}{}", pem.crt, other.crt), &pem.key).is_ok());
}

#[test]
fn opaque_secrets_with_tls_keys_are_accepted_other_types_are_not() {
    let pem = cert(&["a.com"]);
    let mut s = secret(&pem.crt, &pem.key);
    s.type_ = Some("Opaque".into());
    assert!(validate(&s, &NamespacedName::new("default", "cert")).is_ok());
    s.type_ = Some("kubernetes.io/dockerconfigjson".into());
    assert_eq!(
        validate(&s, &NamespacedName::new("default", "cert")),
        Err(SecretError::WrongType(
            "kubernetes.io/dockerconfigjson".into()
        ))
    );
}

#[test]
fn refuses_secrets_envoy_would_refuse() {
    let pem = cert(&["a.com"]);
    let other = cert(&["a.com"]);
    assert_eq!(
        check("garbage", &pem.key).unwrap_err(),
        SecretError::NoCertificate
    );
    let truncated = &pem.crt[..pem.crt.len() - 30];
    assert!(matches!(
        check(truncated, &pem.key),
        Err(SecretError::Pem("tls.crt", _))
    ));
    assert_eq!(
        check(&pem.crt, "").unwrap_err(),
        SecretError::MissingData("tls.key")
    );
    assert_eq!(
        check(&pem.crt, "not a key").unwrap_err(),
        SecretError::NoPrivateKey
    );
    assert_eq!(
        check(&pem.crt, &other.key).unwrap_err(),
        SecretError::KeyMismatch
    );
    assert_eq!(
        check(&pem.crt, &format!("{}{}", pem.key, pem.key)).unwrap_err(),
        SecretError::MultipleKeys
    );
    assert_eq!(
        check(
            include_str!("testdata/rsa2048.crt"),
            include_str!("testdata/encrypted.key")
        )
        .unwrap_err(),
        SecretError::EncryptedKey
    );
    let bad_der = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert_eq!(
        check(bad_der, &pem.key).unwrap_err(),
        SecretError::BadCertificate(1)
    );
    assert_eq!(
        check(&format!("{}{bad_der}", pem.crt), &pem.key).unwrap_err(),
        SecretError::BadCertificate(2)
    );
}

#[test]
fn refuses_certificates_without_names() {
    let nameless = with_params(&rcgen::PKCS_ECDSA_P256_SHA256, |p| {
        p.subject_alt_names.clear();
        p.distinguished_name = rcgen::DistinguishedName::new();
    });
    assert_eq!(
        check(&nameless.crt, &nameless.key).unwrap_err(),
        SecretError::NoName
    );
    assert_eq!(
        SecretError::NoName.to_string(),
        "certificate has no common name or subject alt name"
    );
}

#[test]
fn refuses_keys_boringssl_or_sesame_cannot_serve() {
    let err = check(
        include_str!("testdata/rsa1024.crt"),
        include_str!("testdata/rsa1024.key"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SecretError::UnsupportedKey(
            "RSA keys must have at least 2048 bits, this one has 1024".into()
        )
    );
    let ed = with_params(&rcgen::PKCS_ED25519, |_| {});
    assert!(matches!(
        check(&ed.crt, &ed.key),
        Err(SecretError::UnsupportedKey(_))
    ));
    assert!(matches!(
        check(
            include_str!("testdata/p521.crt"),
            include_str!("testdata/p521.key")
        ),
        Err(SecretError::UnsupportedKey(_))
    ));
}

#[test]
fn rsa_bits_counts_significant_bits() {
    assert_eq!(rsa_bits(&[0x00, 0x80, 0x00]), 16);
    assert_eq!(rsa_bits(&[0x01, 0x00]), 9);
    assert_eq!(rsa_bits(&[]), 0);
}

/// A CA certificate (allowed to sign CRLs) and its issuer, to sign revocation lists.
fn ca() -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), rcgen::Issuer::new(params, key))
}

/// A PEM CRL signed by `issuer`, revoking serial 42.
fn crl(issuer: &rcgen::Issuer<'_, rcgen::KeyPair>) -> String {
    let params = rcgen::CertificateRevocationListParams {
        this_update: rcgen::date_time_ymd(2024, 1, 1),
        next_update: rcgen::date_time_ymd(2124, 1, 1),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![rcgen::RevokedCertParams {
            serial_number: rcgen::SerialNumber::from(42u64),
            revocation_time: rcgen::date_time_ymd(2024, 1, 1),
            reason_code: Some(rcgen::RevocationReason::KeyCompromise),
            invalidity_date: None,
        }],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    params.signed_by(issuer).unwrap().pem().unwrap()
}

/// An `Opaque` Secret `default/ca` holding `data`.
fn opaque(data: &[(&str, &str)]) -> Secret {
    let data = data
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                k8s_openapi::ByteString(v.as_bytes().to_vec()),
            )
        })
        .collect();
    Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("ca".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(data),
        ..Default::default()
    }
}

const BAD_DER_CERT: &str = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

#[test]
fn ca_bundles_of_valid_certificates_are_returned_as_given() {
    let (one, _) = ca();
    let (two, _) = ca();
    assert_eq!(
        validate_ca(&opaque(&[("ca.crt", &one)])).unwrap(),
        one.as_bytes()
    );
    let bundle = format!("# two roots\n{one}\n{two}");
    assert_eq!(
        validate_ca(&opaque(&[("ca.crt", &bundle)])).unwrap(),
        bundle.as_bytes()
    );
    // A kubernetes.io/tls Secret may carry the bundle too, and CRLF line ends are fine.
    let pem = cert(&["a.com"]);
    let mut s = secret(&pem.crt, &pem.key);
    s.data.get_or_insert_default().insert(
        "ca.crt".into(),
        k8s_openapi::ByteString(one.replace('\n', "\r\n").into()),
    );
    assert!(validate_ca(&s).is_ok());
}

#[test]
fn ca_bundles_envoy_would_refuse_are_refused() {
    let (one, _) = ca();
    let ca_of = |pem: &str| validate_ca(&opaque(&[("ca.crt", pem)]));
    assert_eq!(
        validate_ca(&opaque(&[("tls.crt", &one)])),
        Err(SecretError::MissingData("ca.crt"))
    );
    assert_eq!(ca_of(""), Err(SecretError::MissingData("ca.crt")));
    assert_eq!(ca_of("no pem here"), Err(SecretError::NoCaCertificate));
    assert!(matches!(
        ca_of(&one[..one.len() - 30]),
        Err(SecretError::Pem("ca.crt", _))
    ));
    assert!(matches!(
        ca_of("-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n"),
        Err(SecretError::Pem("ca.crt", _))
    ));
    assert_eq!(ca_of(BAD_DER_CERT), Err(SecretError::BadCaCertificate(1)));
    assert_eq!(
        ca_of(&format!("{one}{BAD_DER_CERT}")),
        Err(SecretError::BadCaCertificate(2))
    );
    let key = cert(&["a.com"]).key;
    assert_eq!(
        ca_of(&format!("{one}{key}")),
        Err(SecretError::UnexpectedPemBlock {
            key: "ca.crt",
            label: "PRIVATE KEY".into(),
            expected: "CERTIFICATE",
        })
    );
    let unknown = "-----BEGIN SOMETHING-----\nAAAA\n-----END SOMETHING-----\n";
    assert_eq!(
        ca_of(&format!("{one}{unknown}")).unwrap_err().to_string(),
        "ca.crt holds a PEM block of type \"SOMETHING\", expected \"CERTIFICATE\""
    );
    let mut s = opaque(&[("ca.crt", &one)]);
    s.type_ = Some("kubernetes.io/basic-auth".into());
    assert_eq!(
        validate_ca(&s),
        Err(SecretError::WrongType("kubernetes.io/basic-auth".into()))
    );
}

#[test]
fn revocation_lists_are_checked() {
    let (_, issuer) = ca();
    let (ca_pem, other) = ca();
    let list = crl(&issuer);
    let two = format!("{list}{}", crl(&other));
    let crl_of = |pem: &str| validate_crl(&opaque(&[("crl.pem", pem)]));
    assert_eq!(crl_of(&list).unwrap(), list.as_bytes());
    assert_eq!(crl_of(&two).unwrap(), two.as_bytes());
    assert_eq!(
        validate_crl(&opaque(&[("ca.crt", &list)])),
        Err(SecretError::MissingData("crl.pem"))
    );
    assert_eq!(crl_of("nothing"), Err(SecretError::NoCrl));
    assert_eq!(
        crl_of(&ca_pem),
        Err(SecretError::UnexpectedPemBlock {
            key: "crl.pem",
            label: "CERTIFICATE".into(),
            expected: "X509 CRL",
        })
    );
    let bad = "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";
    assert_eq!(crl_of(bad), Err(SecretError::BadCrl(1)));
    assert_eq!(crl_of(&format!("{list}{bad}")), Err(SecretError::BadCrl(2)));
    assert!(matches!(
        crl_of(&list[..list.len() - 20]),
        Err(SecretError::Pem("crl.pem", _))
    ));
}

#[test]
fn ca_and_crl_lookups_are_cached_and_recorded_as_references() {
    let (ca_pem, issuer) = ca();
    let list = crl(&issuer);
    let snapshot = crate::testutil::snapshot_of([Object::Secret(Arc::new(opaque(&[
        ("ca.crt", &ca_pem),
        ("crl.pem", &list),
    ])))]);
    let mut dag = Dag::default();
    let mut secrets = Secrets::default();
    assert_eq!(
        secrets.ca(&snapshot, "default", "ca", &mut dag).as_deref(),
        Ok(ca_pem.as_bytes())
    );
    assert_eq!(
        secrets.crl(&snapshot, "default", "ca", &mut dag).as_deref(),
        Ok(list.as_bytes())
    );
    // The same Secret as a TLS certificate: a verdict of its own.
    assert_eq!(
        secrets
            .get(&snapshot, "default", "ca", &mut dag)
            .as_ref()
            .err(),
        Some(&SecretError::MissingData("tls.crt"))
    );
    assert_eq!(
        secrets.ca(&snapshot, "default", "missing", &mut dag),
        &Err(SecretError::NotFound)
    );
    assert_eq!(
        secrets.crl(&snapshot, "other", "missing", &mut dag),
        &Err(SecretError::NotFound)
    );
    let secret_key =
        |ns: &str, name: &str| ObjectKey::new(Kind::Secret, NamespacedName::new(ns, name));
    assert_eq!(
        dag.references,
        [
            secret_key("default", "ca"),
            secret_key("default", "missing"),
            secret_key("other", "missing"),
        ]
        .into_iter()
        .collect()
    );
    // Cached: a second lookup neither re-checks nor needs the snapshot to still hold it.
    let empty = Snapshot::default();
    assert!(secrets.ca(&empty, "default", "ca", &mut dag).is_ok());
    assert!(secrets.crl(&empty, "default", "ca", &mut dag).is_ok());
}
