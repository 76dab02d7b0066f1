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
