//! `sesame certgen` as a user runs it: PEM files that chain to the CA with the right names,
//! lifetimes and key modes; Secret manifests in both layouts; Secrets created in an API server
//! (kept, or replaced with `--overwrite`); and a refusal without an output flag.
#![allow(missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

use k8s_openapi::api::core::v1::Secret;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sesame_apiserver_double::ApiServer;
use x509_parser::prelude::*;

fn sesame(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sesame"))
        .arg("certgen")
        .args(args)
        .env_remove("SESAME_NAMESPACE")
        .output()
        .expect("run sesame")
}

fn ok(out: Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "sesame certgen failed: {text}");
    text
}

fn der(dir: &Path, file: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(dir.join(file)).expect(file)
}

#[test]
fn pem_leaves_chain_to_the_ca_with_names_lifetime_and_matching_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("out");
    let out_str = out.to_str().expect("utf-8");
    ok(sesame(&[
        out_str,
        "--pem",
        "--namespace",
        "other",
        "--certificate-lifetime",
        "7",
    ]));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "cacert.pem",
            "envoycert.pem",
            "envoykey.pem",
            "sesamecert.pem",
            "sesamekey.pem"
        ]
    );
    let ca_der = der(&out, "cacert.pem");
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("ca parses");
    assert!(ca.is_ca());
    for (name, usage_server) in [("sesame", true), ("envoy", false)] {
        let cert_der = der(&out, &format!("{name}cert.pem"));
        let (_, cert) = X509Certificate::from_der(&cert_der).expect("leaf parses");
        cert.verify_signature(Some(ca.public_key()))
            .unwrap_or_else(|e| panic!("{name} not signed by the CA: {e}"));
        assert_eq!(cert.issuer(), ca.subject());
        let sans: Vec<String> = cert
            .subject_alternative_name()
            .expect("san ext")
            .expect("has sans")
            .value
            .general_names
            .iter()
            .map(|n| match n {
                GeneralName::DNSName(d) => d.to_string(),
                other => panic!("unexpected SAN {other:?}"),
            })
            .collect();
        assert_eq!(
            sans,
            [
                name.to_string(),
                format!("{name}.other"),
                format!("{name}.other.svc"),
                format!("{name}.other.svc.cluster.local"),
            ]
        );
        let validity = cert.validity();
        let secs = validity.not_after.timestamp() - validity.not_before.timestamp();
        assert_eq!(secs, 7 * 24 * 3600, "{name} lifetime");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        assert!((validity.not_before.timestamp() - now).abs() < 600);
        let eku = cert
            .extended_key_usage()
            .expect("eku")
            .expect("has eku")
            .value;
        assert_eq!(
            (eku.server_auth, eku.client_auth),
            (usage_server, !usage_server)
        );

        let key_path = out.join(format!("{name}key.pem"));
        let key = PrivateKeyDer::from_pem_file(&key_path).expect("key parses");
        let signer = rustls::crypto::ring::sign::any_supported_type(&key).expect("signer");
        rustls::sign::CertifiedKey::new(vec![cert_der.clone()], signer)
            .keys_match()
            .unwrap_or_else(|e| panic!("{name} key does not match: {e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key_path)
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}key.pem mode");
        }
    }
    // A second run refuses to clobber the files unless told to.
    let again = sesame(&[out_str, "--pem"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("--overwrite"));
    ok(sesame(&[out_str, "--pem", "--overwrite"]));
}

fn read_secrets(dir: &Path) -> Vec<Secret> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            assert_eq!(p.extension().and_then(|e| e.to_str()), Some("yaml"));
            let text = std::fs::read_to_string(p).expect("read");
            let secret: Secret = serde_saphyr::from_str(&text).expect("secret parses");
            let stem = p.file_stem().and_then(|s| s.to_str()).expect("stem");
            assert_eq!(secret.metadata.name.as_deref(), Some(stem));
            secret
        })
        .collect()
}

fn shape(secrets: &[Secret]) -> Vec<(String, String, Vec<String>)> {
    secrets
        .iter()
        .map(|s| {
            (
                s.metadata.name.clone().expect("name"),
                s.type_.clone().expect("type"),
                s.data.iter().flat_map(|d| d.keys().cloned()).collect(),
            )
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn yaml_compact_and_legacy_secrets() {
    let tls = "kubernetes.io/tls".to_string();
    let dir = tempfile::tempdir().expect("dir");
    let compact = dir.path().join("compact");
    ok(sesame(&[
        compact.to_str().expect("utf-8"),
        "--yaml",
        "--secrets-format",
        "compact",
        "--secrets-name-suffix",
        "-x",
    ]));
    let secrets = read_secrets(&compact);
    let keys = strings(&["ca.crt", "tls.crt", "tls.key"]);
    assert_eq!(
        shape(&secrets),
        [
            ("envoycert-x".to_string(), tls.clone(), keys.clone()),
            ("sesamecert-x".to_string(), tls.clone(), keys),
        ]
    );
    for s in &secrets {
        assert_eq!(s.metadata.namespace.as_deref(), Some("projectsesame"));
        let labels = s.metadata.labels.as_ref().expect("labels");
        assert_eq!(
            labels.get("app").map(String::as_str),
            Some("sesame-certgen")
        );
        let data = s.data.as_ref().expect("data");
        let cert = CertificateDer::from_pem_slice(&data["tls.crt"].0).expect("pem cert");
        assert!(X509Certificate::from_der(&cert).is_ok());
        assert!(PrivateKeyDer::from_pem_slice(&data["tls.key"].0).is_ok());
    }

    let legacy = dir.path().join("legacy");
    ok(sesame(&[legacy.to_str().expect("utf-8"), "--yaml"]));
    let keys = strings(&["tls.crt", "tls.key"]);
    assert_eq!(
        shape(&read_secrets(&legacy)),
        [
            (
                "cacert".to_string(),
                "Opaque".to_string(),
                strings(&["cacert.pem"])
            ),
            ("envoycert".to_string(), tls.clone(), keys.clone()),
            ("sesamecert".to_string(), tls, keys),
        ]
    );
}

fn data_of(server: &ApiServer, name: &str) -> serde_json::Value {
    server
        .get("v1", "Secret", Some("projectsesame"), name)
        .unwrap_or_else(|| panic!("secret {name} missing"))["data"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn kube_creates_keeps_then_overwrites_secrets() {
    let server = ApiServer::start().await.expect("apiserver");
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let kubeconfig = kubeconfig.to_str().expect("utf-8").to_string();
    let run = move |extra: &'static [&'static str]| {
        let kubeconfig = kubeconfig.clone();
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["--kube", "--kubeconfig", kubeconfig.as_str()];
            args.extend_from_slice(extra);
            sesame(&args)
        })
    };
    let names = ["cacert", "envoycert", "sesamecert"];

    ok(run(&[]).await.expect("join"));
    let first: Vec<_> = names.iter().map(|n| data_of(&server, n)).collect();
    assert!(first[2]["tls.crt"].is_string() && first[2]["tls.key"].is_string());
    let secret = server
        .get("v1", "Secret", Some("projectsesame"), "sesamecert")
        .expect("secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["labels"]["app"], "sesame-certgen");

    let text = ok(run(&[]).await.expect("join"));
    assert!(text.contains("left unchanged"), "{text}");
    let second: Vec<_> = names.iter().map(|n| data_of(&server, n)).collect();
    assert_eq!(first, second, "secrets changed without --overwrite");

    let text = ok(run(&["--overwrite"]).await.expect("join"));
    assert!(text.contains("replaced"), "{text}");
    for (i, n) in names.iter().enumerate() {
        assert_ne!(data_of(&server, n), first[i], "{n} not replaced");
    }
}

#[test]
fn no_output_flag_names_the_choices() {
    let out = sesame(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for flag in ["--pem", "--yaml", "--kube"] {
        assert!(err.contains(flag), "{flag} not named: {err}");
    }
}

#[test]
fn bad_values_name_the_flag() {
    for (flag, value) in [
        ("--certificate-lifetime", "0"),
        ("--certificate-lifetime", "year"),
        ("--secrets-format", "tiny"),
    ] {
        let out = sesame(&["--pem", flag, value]);
        assert!(!out.status.success(), "{flag} {value} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
    }
}
