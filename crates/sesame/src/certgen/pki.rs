//! The certificates themselves: a CA and the `sesame` and `envoy` leaves it signs. Pure apart
//! from the random keys; the clock is passed in.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use time::{Duration, OffsetDateTime};

/// A certificate and its private key, both PEM.
#[derive(Clone, Debug)]
pub struct Pair {
    /// The certificate, PEM.
    pub cert: String,
    /// The PKCS#8 private key, PEM.
    pub key: String,
}

/// Everything `sesame certgen` generates.
#[derive(Clone, Debug)]
pub struct Certificates {
    /// The CA certificate, PEM (its key is thrown away once the leaves are signed).
    pub ca: String,
    /// The xDS server's certificate: extended key usage ServerAuth.
    pub sesame: Pair,
    /// Envoy's client certificate: extended key usage ClientAuth.
    pub envoy: Pair,
}

/// Generates a fresh CA and signs the two leaves with it, valid from `now` for `days` days.
pub fn generate(
    namespace: &str,
    days: u32,
    now: OffsetDateTime,
) -> Result<Certificates, rcgen::Error> {
    let not_after = now + Duration::days(i64::from(days));
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = name("Sesame CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now;
    ca.not_after = not_after;
    let ca_pem = ca.self_signed(&ca_key)?.pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |cn: &str, usage: ExtendedKeyUsagePurpose| -> Result<Pair, rcgen::Error> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::new(dns_names(cn, namespace))?;
        params.distinguished_name = name(cn);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    };
    Ok(Certificates {
        sesame: leaf("sesame", ExtendedKeyUsagePurpose::ServerAuth)?,
        envoy: leaf("envoy", ExtendedKeyUsagePurpose::ClientAuth)?,
        ca: ca_pem,
    })
}

/// The DNS names of a Service `name` in `namespace`, short to fully qualified.
pub fn dns_names(name: &str, namespace: &str) -> Vec<String> {
    vec![
        name.to_string(),
        format!("{name}.{namespace}"),
        format!("{name}.{namespace}.svc"),
        format!("{name}.{namespace}.svc.cluster.local"),
    ]
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "Project Sesame");
    dn
}
