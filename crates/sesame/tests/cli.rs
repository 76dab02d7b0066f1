//! The command line as a user meets it: bad flags and config files fail at start, naming what
//! is wrong; `bootstrap` and `version` print what they should.
#![allow(missing_docs)]

use std::process::{Command, Output};

fn sesame(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(args)
        // The defaults under test, whatever the environment running the tests says.
        .env_remove("SESAME_XDS_MODE")
        .output()
        .expect("run sesame")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_flag_value_names_the_flag() {
    let dir = tempfile::tempdir().expect("dir");
    let dir = dir.path().to_str().expect("utf-8 path");
    for (flag, value) in [
        ("--xds-port", "eighty"),
        ("--xds-address", "not-an-ip"),
        ("--holdoff-delay", "soon"),
    ] {
        let out = sesame(&["serve", "--insecure", "--manifests", dir, flag, value]);
        assert!(!out.status.success(), "{flag} {value} was accepted");
        assert!(stderr(&out).contains(flag), "{flag}: {}", stderr(&out));
    }
}

/// Runs `sesame serve` with a config file holding `text`; returns its standard error, after
/// checking that it refused to start.
fn serve_with_config(text: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("sesame.yaml");
    std::fs::write(&config, text).expect("write");
    let manifests = dir.path().to_str().expect("utf-8 path");
    let config = config.to_str().expect("utf-8 path");
    let out = sesame(&[
        "serve",
        "--insecure",
        "--manifests",
        manifests,
        "-c",
        config,
    ]);
    assert!(!out.status.success(), "started with config {text:?}");
    stderr(&out)
}

#[test]
fn config_file_with_unknown_key_or_bad_value_stops_start_up() {
    let err = serve_with_config("incluster: false\nnotAKey: 1\n");
    assert!(err.contains("notAKey"), "{err}");
    let err = serve_with_config("tls:\n  minimum-protocol-version: \"0.9\"\n");
    assert!(
        err.contains("tls.minimum-protocol-version") && err.contains("0.9"),
        "{err}"
    );
}

#[test]
fn seed_release_sample_config_loads_as_written() {
    // The sample asks for in-cluster access, which this machine lacks: start-up gets past the
    // file (warning about TLS 1.1, which it honours) and stops at the API server instead.
    let err = serve_with_config(
        "incluster: true\nkubeconfig: /root/.kube/config\ndisablePermitInsecure: false\ntls:\n  minimumProtocolVersion: \"1.1\"\nleaderelection:\n  configmap-name: leader-elect\n  configmap-namespace: projectsesame\n",
    );
    assert!(err.contains("TLS 1.1 is obsolete"), "{err}");
    assert!(!err.contains("config file"), "the file was refused: {err}");
    assert!(err.contains("in-cluster configuration"), "{err}");
}

#[test]
fn bad_listener_settings_stop_start_up_naming_key_and_value() {
    for (text, key, value) in [
        (
            "timeouts:\n  request-timeout: soon\n",
            "timeouts.request-timeout",
            "soon",
        ),
        ("accesslog-format: xml\n", "accesslog-format", "xml"),
        ("json-fields: [method, nope]\n", "json-fields", "nope"),
        (
            "network:\n  admin-port: 70000\n",
            "network.admin-port",
            "70000",
        ),
        (
            "tls:\n  cipher-suites: [RC4-MD5]\n",
            "tls.cipher-suites",
            "RC4-MD5",
        ),
    ] {
        let err = serve_with_config(text);
        assert!(err.contains(key) && err.contains(value), "{text:?}: {err}");
    }
    let dir = tempfile::tempdir().expect("dir");
    let dir = dir.path().to_str().expect("utf-8 path");
    let out = sesame(&[
        "serve",
        "--insecure",
        "--manifests",
        dir,
        "--accesslog-format",
        "xml",
    ]);
    assert!(!out.status.success(), "--accesslog-format xml was accepted");
    let err = stderr(&out);
    assert!(
        err.contains("--accesslog-format") && err.contains("xml"),
        "{err}"
    );
}

#[test]
fn serve_needs_all_three_tls_files_or_insecure() {
    let dir = tempfile::tempdir().expect("dir");
    let manifests = dir.path().to_str().expect("path");
    let out = sesame(&["serve", "--manifests", manifests]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("--insecure") && err.contains("--sesame-cafile"),
        "{err}"
    );

    let out = sesame(&[
        "serve",
        "--manifests",
        manifests,
        "--sesame-cafile",
        "ca.pem",
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("all three or none"),
        "{}",
        stderr(&out)
    );

    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("path");
    let out = sesame(&[
        "serve",
        "--manifests",
        manifests,
        "--sesame-cafile",
        missing,
        "--sesame-cert-file",
        missing,
        "--sesame-key-file",
        missing,
    ]);
    assert!(!out.status.success(), "unreadable TLS files were accepted");
    assert!(stderr(&out).contains("missing.pem"), "{}", stderr(&out));
}

#[test]
fn bootstrap_to_stdout_points_envoy_at_sesame() {
    let out = sesame(&[
        "bootstrap",
        "-",
        "--xds-address",
        "10.1.2.3",
        "--xds-port",
        "9999",
        "--admin-port",
        "9101",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bootstrap is JSON");
    // Delta xDS unless asked otherwise.
    assert_eq!(
        json["dynamic_resources"]["ads_config"]["api_type"],
        "DELTA_GRPC"
    );
    let text = json.to_string();
    assert!(
        text.contains("10.1.2.3") && text.contains("9999") && text.contains("9101"),
        "{text}"
    );
}

#[test]
fn bootstrap_xds_mode_picks_delta_or_state_of_the_world() {
    let out = sesame(&["bootstrap", "-", "--xds-mode", "delta"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bootstrap is JSON");
    let dynamic = &json["dynamic_resources"];
    assert_eq!(dynamic["ads_config"]["api_type"], "DELTA_GRPC");
    let ads = serde_json::json!({ "ads": {}, "resource_api_version": "V3" });
    assert_eq!(dynamic["cds_config"], ads);
    assert_eq!(dynamic["lds_config"], ads);
    let out = sesame(&["bootstrap", "-", "--xds-mode", "sotw"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bootstrap is JSON");
    assert_eq!(json["dynamic_resources"]["ads_config"]["api_type"], "GRPC");
    let out = Command::new(env!("CARGO_BIN_EXE_sesame"))
        .args(["bootstrap", "-"])
        .env("SESAME_XDS_MODE", "sotw")
        .output()
        .expect("run sesame");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bootstrap is JSON");
    assert_eq!(json["dynamic_resources"]["ads_config"]["api_type"], "GRPC");
    let out = sesame(&["bootstrap", "-", "--xds-mode", "incremental"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--xds-mode"), "{}", stderr(&out));
}

#[test]
fn bootstrap_rejects_an_unknown_dns_family() {
    let out = sesame(&["bootstrap", "-", "--dns-lookup-family", "v5"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--dns-lookup-family"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bootstrap_mtls_flags_go_together_and_write_watched_sds_files() {
    let dir = tempfile::tempdir().expect("dir");
    let certs = dir.path().join("certs");
    let certs_arg = certs.to_str().expect("utf-8");
    let made = sesame(&["certgen", certs_arg, "--pem"]);
    assert!(made.status.success(), "{}", stderr(&made));
    let file = |name: &str| certs.join(name).display().to_string();
    let (ca, cert, key) = (
        file("cacert.pem"),
        file("envoycert.pem"),
        file("envoykey.pem"),
    );

    // Two of the three, an empty key file, an xDS version other than v3: each refused,
    // naming what is wrong.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").expect("empty file");
    let empty = empty.display().to_string();
    let two_of_three = [
        "bootstrap",
        "-",
        "--envoy-cafile",
        &ca,
        "--envoy-cert-file",
        &cert,
    ];
    let empty_key = [&two_of_three[..], &["--envoy-key-file", &empty]].concat();
    let cases: [(&[&str], &[&str]); 3] = [
        (&two_of_three, &["--envoy-key-file"]),
        (&empty_key, &["--envoy-key-file", "empty.pem"]),
        (
            &["bootstrap", "-", "--xds-resource-version", "v2"],
            &["--xds-resource-version"],
        ),
    ];
    for (args, needles) in cases {
        let out = sesame(args);
        assert!(!out.status.success(), "{args:?} was accepted");
        let err = stderr(&out);
        assert!(needles.iter().all(|n| err.contains(n)), "{args:?}: {err}");
    }

    // All three and a resources dir: the bootstrap names the SDS files, which are written and
    // name the certificate files.
    let resources = dir.path().join("resources");
    let out = sesame(&[
        "bootstrap",
        "-",
        "--xds-resource-version",
        "v3",
        "--envoy-cafile",
        &ca,
        "--envoy-cert-file",
        &cert,
        "--envoy-key-file",
        &key,
        "--resources-dir",
        resources.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bootstrap is JSON");
    let common = &json["static_resources"]["clusters"][0]["transport_socket"]["typed_config"]["common_tls_context"];
    let sds_path =
        common["tls_certificate_sds_secret_configs"][0]["sds_config"]["path_config_source"]["path"]
            .as_str()
            .expect("SDS path");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sds_path).expect("SDS file written"))
            .expect("SDS file is JSON");
    let secret = &written["resources"][0]["tls_certificate"];
    assert_eq!(secret["certificate_chain"]["filename"], cert.as_str());
    assert_eq!(secret["private_key"]["filename"], key.as_str());
    assert!(resources.join("sds/xds-validation-context.json").exists());
}

#[test]
fn version_prints_the_version() {
    let out = sesame(&["version"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn upstream_config_keys_with_bad_values_stop_start_up() {
    let err = serve_with_config("cluster:\n  dns-lookup-family: ipv6\n");
    assert!(
        err.contains("cluster.dns-lookup-family") && err.contains("ipv6"),
        "{err}"
    );
    let err = serve_with_config("policy:\n  request-headers:\n    set: {\"X Bad\": v}\n");
    assert!(
        err.contains("policy.request-headers.set") && err.contains("X Bad"),
        "{err}"
    );
    let err = serve_with_config("timeouts:\n  connect-timeout: never\n");
    assert!(
        err.contains("timeouts.connect-timeout") && err.contains("never"),
        "{err}"
    );
}

#[test]
fn the_client_certificate_namespace_must_be_watched() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("sesame.yaml");
    std::fs::write(
        &config,
        "tls:\n  envoy-client-certificate: {name: envoy-client, namespace: certs}\n",
    )
    .expect("write");
    let out = sesame(&[
        "serve",
        "--insecure",
        "--kubeconfig",
        dir.path()
            .join("no-kubeconfig")
            .to_str()
            .expect("utf-8 path"),
        "--watch-namespaces",
        "apps",
        "-c",
        config.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.status.success(), "started without watching certs");
    let err = stderr(&out);
    assert!(
        err.contains("tls.envoy-client-certificate") && err.contains("\"certs\""),
        "{err}"
    );
}
