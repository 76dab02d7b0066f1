use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse;
use envoy_types::pb::google::protobuf::{Any, Duration};
use prost::Message;
use prost_reflect::prost_types::FileDescriptorSet;

use super::*;

/// envoy-types' own descriptor set, found through `cargo metadata`.
fn envoy_types_descriptors() -> Vec<u8> {
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let rustc = String::from_utf8_lossy(&rustc.stdout).into_owned();
    let host = rustc
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host triple");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    // Only the host's packages: those of other platforms were never downloaded.
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(output.status.success(), "cargo metadata: {output:?}");
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).expect("metadata");
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "envoy-types")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("envoy-types in the dependency graph");
    let path = std::path::Path::new(manifest)
        .with_file_name("src")
        .join("generated")
        .join("types.bin");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The set without source comments, which only documentation would need.
fn stripped(set: &[u8]) -> Vec<u8> {
    let mut set = FileDescriptorSet::decode(set).expect("descriptor set");
    for file in &mut set.file {
        file.source_code_info = None;
    }
    set.encode_to_vec()
}

#[test]
fn the_descriptors_are_those_of_the_envoy_types_in_use() {
    let fresh = stripped(&envoy_types_descriptors());
    if std::env::var_os("SESAME_UPDATE_DESCRIPTORS").is_some() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli/envoy-descriptors.bin");
        std::fs::write(&path, &fresh).expect("write descriptors");
        return;
    }
    assert!(
        fresh == DESCRIPTORS,
        "src/cli/envoy-descriptors.bin differs from envoy-types' descriptors: run \
         SESAME_UPDATE_DESCRIPTORS=1 cargo test -p sesame descriptors"
    );
}

#[test]
fn a_response_prints_its_resources_with_their_type_and_fields() {
    let cluster = Cluster {
        name: "default/web/80/da39a3ee5e".to_string(),
        connect_timeout: Some(Duration {
            seconds: 2,
            nanos: 500_000_000,
        }),
        ..Cluster::default()
    };
    let response = DiscoveryResponse {
        version_info: "v1".to_string(),
        type_url: Cluster::type_url(),
        nonce: "n1".to_string(),
        resources: vec![Any {
            type_url: Cluster::type_url(),
            value: cluster.encode_to_vec(),
        }],
        ..DiscoveryResponse::default()
    };
    let json = state_of_the_world(&response).expect("json");
    assert_eq!(json["versionInfo"], "v1");
    let resource = &json["resources"][0];
    assert_eq!(
        resource["@type"],
        "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    );
    assert_eq!(resource["name"], "default/web/80/da39a3ee5e");
    assert_eq!(resource["connectTimeout"], "2.500s");
}

#[test]
fn an_unknown_type_is_an_error_not_a_guess() {
    let response = DiscoveryResponse {
        resources: vec![Any {
            type_url: "type.googleapis.com/example.NotEnvoy".to_string(),
            value: vec![1, 2, 3],
        }],
        ..DiscoveryResponse::default()
    };
    assert!(state_of_the_world(&response).is_err());
}
