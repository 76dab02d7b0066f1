//! Secrets (SDS): the TLS certificates the secure virtual hosts serve.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3 as core_v3;
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3 as tls_v3;
use envoy_types::pb::google::protobuf::Any;
use sesame_dag::Dag;
use sesame_dag::dag::TlsSecret;

use crate::proto;

/// Every secret of the DAG, encoded, by SDS name.
pub fn secrets(dag: &Dag) -> BTreeMap<String, Any> {
    dag.secrets
        .iter()
        .map(|(name, s)| (name.clone(), proto::any(&secret(s))))
        .collect()
}

/// A TLS certificate secret with the chain and key inline.
pub fn secret(s: &TlsSecret) -> tls_v3::Secret {
    let inline = |bytes: &[u8]| core_v3::DataSource {
        specifier: Some(core_v3::data_source::Specifier::InlineBytes(bytes.to_vec())),
        ..Default::default()
    };
    tls_v3::Secret {
        name: s.name.clone(),
        r#type: Some(tls_v3::secret::Type::TlsCertificate(
            tls_v3::TlsCertificate {
                certificate_chain: Some(inline(&s.certificate_chain)),
                private_key: Some(inline(&s.private_key)),
                ..Default::default()
            },
        )),
    }
}

#[cfg(test)]
mod tests;
