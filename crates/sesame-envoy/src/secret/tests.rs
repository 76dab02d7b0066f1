use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use pretty_assertions::assert_eq;

use super::*;
use crate::testutil::{decode, sample_dag};

#[test]
fn tls_certificate_inline() {
    let dag = sample_dag();
    let encoded = secrets(&dag);
    assert_eq!(
        encoded.keys().collect::<Vec<_>>(),
        vec!["default/secure.com-tls/abcde"]
    );
    let got: tls_v3::Secret = decode(&encoded["default/secure.com-tls/abcde"]);
    let inline = |b: &[u8]| {
        Some(core_v3::DataSource {
            specifier: Some(core_v3::data_source::Specifier::InlineBytes(b.to_vec())),
            ..Default::default()
        })
    };
    assert_eq!(
        got,
        tls_v3::Secret {
            name: "default/secure.com-tls/abcde".into(),
            r#type: Some(tls_v3::secret::Type::TlsCertificate(
                tls_v3::TlsCertificate {
                    certificate_chain: inline(b"-----BEGIN CERTIFICATE-----\n"),
                    private_key: inline(b"-----BEGIN PRIVATE KEY-----\n"),
                    ..Default::default()
                }
            )),
        }
    );
}
