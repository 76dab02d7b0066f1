use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::ControlPlane;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryResponse, DiscoveryResponse, Resource as WireResource,
};
use envoy_types::pb::google::protobuf::Any;
use pretty_assertions::assert_eq;
use prost::Message;
use sesame_envoy::ResourceType::*;

use super::{Answer, CHUNK, DeltaAnswer, SotwAnswer};
use crate::store::Resource;
use crate::testing::any;

/// The fields a delta response carries besides its version and resources.
fn rest() -> DeltaDiscoveryResponse {
    DeltaDiscoveryResponse {
        type_url: Cluster.type_url().to_string(),
        removed_resources: vec!["gone".to_string()],
        nonce: "7".to_string(),
        control_plane: Some(ControlPlane {
            identifier: "sesame".to_string(),
        }),
        ..Default::default()
    }
}

/// What the generated message of the same response holds.
fn message(
    version: &str,
    upserts: &[(&str, &Arc<Resource>)],
    unresolved: &[&str],
) -> DeltaDiscoveryResponse {
    let resources = upserts
        .iter()
        .map(|(name, r)| WireResource {
            name: name.to_string(),
            version: r.version(),
            resource: Some(r.to_any()),
            ..Default::default()
        })
        .chain(unresolved.iter().map(|name| WireResource {
            name: name.to_string(),
            aliases: vec![name.to_string()],
            ..Default::default()
        }))
        .collect();
    DeltaDiscoveryResponse {
        system_version_info: version.to_string(),
        resources,
        ..rest()
    }
}

#[test]
fn an_answer_is_the_bytes_prost_writes_for_the_same_response() {
    let a = Arc::new(Resource::new(Cluster, any(Cluster, "a", "x")));
    // An empty message: its `Any` has a type URL and no value field.
    let empty = Arc::new(Resource::new(
        Cluster,
        Any {
            type_url: Cluster.type_url().to_string(),
            value: Vec::new(),
        },
    ));
    let answer = DeltaAnswer::new(
        "v1".to_string(),
        vec![
            ("a".to_string(), a.clone()),
            ("e".to_string(), empty.clone()),
        ],
        vec!["rc/missing.example.com".to_string()],
        rest(),
    );
    let expected = message(
        "v1",
        &[("a", &a), ("e", &empty)],
        &["rc/missing.example.com"],
    );

    let mut bytes = Vec::new();
    answer.encode(&mut bytes);
    assert_eq!(bytes, expected.encode_to_vec());
    assert_eq!(answer.encoded_len(), bytes.len());
    assert_eq!(answer.to_message(), expected);
}

#[test]
fn an_answer_without_resources_or_version_is_its_other_fields() {
    let answer = DeltaAnswer::new(String::new(), Vec::new(), Vec::new(), rest());
    assert_eq!(answer.to_message(), rest());
    assert_eq!(answer.encoded_len(), rest().encoded_len());
}

#[test]
#[should_panic(expected = "no room for the answer")]
fn an_answer_is_not_written_into_a_buffer_too_small() {
    let a = Arc::new(Resource::new(Cluster, any(Cluster, "a", "x")));
    let answer = DeltaAnswer::new(
        "v1".to_string(),
        vec![("a".to_string(), a)],
        Vec::new(),
        rest(),
    );
    let mut small = [0u8; 8];
    answer.encode(&mut small.as_mut_slice());
}

#[test]
fn a_grpc_message_is_the_answer_behind_its_length_in_pieces_of_about_a_chunk() {
    // ~250 kB of resources: several pieces.
    let upserts: Vec<_> = (0..2000)
        .map(|i| {
            let name = format!("cluster-{i}");
            let r = Arc::new(Resource::new(Cluster, any(Cluster, &name, "x")));
            (name, r)
        })
        .collect();
    let answer = DeltaAnswer::new("v1".to_string(), upserts, Vec::new(), rest());
    let encoded = answer.to_message().encode_to_vec();

    let pieces: Vec<_> = answer.grpc_message().collect();
    assert!(pieces.len() > 2, "{} pieces", pieces.len());
    let (last, full) = pieces.split_last().unwrap();
    for piece in full {
        // Whole parts only: a piece ends at the first part past the chunk size.
        assert!(
            piece.len() >= CHUNK && piece.len() < CHUNK + 200,
            "{}",
            piece.len()
        );
    }
    assert!(last.len() <= CHUNK + 200);
    let message = pieces.concat();
    assert_eq!(message[0], 0, "not compressed");
    assert_eq!(message[1..5], (encoded.len() as u32).to_be_bytes());
    assert_eq!(message[5..], encoded);
}

#[test]
fn a_grpc_message_of_an_empty_answer_is_one_piece() {
    let answer = DeltaAnswer::new(String::new(), Vec::new(), Vec::new(), rest());
    let encoded = rest().encode_to_vec();
    let pieces: Vec<_> = answer.grpc_message().collect();
    assert_eq!(pieces.len(), 1);
    assert_eq!(pieces[0][1..5], (encoded.len() as u32).to_be_bytes());
    assert_eq!(pieces[0][5..], encoded);
}

#[test]
fn a_resource_larger_than_a_chunk_goes_whole_in_one_piece() {
    let big = "x".repeat(3 * CHUNK);
    let upserts = vec![
        (
            "a".to_string(),
            Arc::new(Resource::new(Cluster, any(Cluster, "a", "x"))),
        ),
        (
            "big".to_string(),
            Arc::new(Resource::new(Cluster, any(Cluster, "big", &big))),
        ),
        (
            "c".to_string(),
            Arc::new(Resource::new(Cluster, any(Cluster, "c", "x"))),
        ),
    ];
    let answer = DeltaAnswer::new("v1".to_string(), upserts, Vec::new(), rest());
    let encoded = answer.to_message().encode_to_vec();

    let pieces: Vec<_> = answer.grpc_message().collect();
    // The first piece fills past the chunk size with the big resource, the rest follow.
    assert_eq!(pieces.len(), 2);
    assert!(pieces[0].len() > 3 * CHUNK);
    assert_eq!(pieces.concat()[5..], encoded);
}

#[test]
fn a_sotw_answer_is_the_bytes_prost_writes_for_the_same_response() {
    let a = Arc::new(Resource::new(Cluster, any(Cluster, "a", "x")));
    let b = Arc::new(Resource::new(Cluster, any(Cluster, "b", "y")));
    let rest = DiscoveryResponse {
        type_url: Cluster.type_url().to_string(),
        nonce: "3".to_string(),
        control_plane: Some(ControlPlane {
            identifier: "sesame".to_string(),
        }),
        ..Default::default()
    };
    let answer = SotwAnswer::new("v2".to_string(), vec![a.clone(), b.clone()], rest.clone());
    let expected = DiscoveryResponse {
        version_info: "v2".to_string(),
        resources: vec![a.to_any(), b.to_any()],
        ..rest
    };

    let mut bytes = Vec::new();
    answer.encode(&mut bytes);
    assert_eq!(bytes, expected.encode_to_vec());
    assert_eq!(answer.encoded_len(), bytes.len());
    let pieces: Vec<_> = answer.grpc_message().collect();
    assert_eq!(pieces.concat()[5..], bytes);
}
