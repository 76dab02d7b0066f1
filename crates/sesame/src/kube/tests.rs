//! Which value wins: defaults < config file < environment < flags.

use clap::Parser;

use super::*;

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    kube: KubeArgs,
}

fn plan(flags: &[&str], file: &str, env: &Environment) -> KubePlan {
    let args = Flags::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))
        .expect("flags parse")
        .kube;
    let config = Config::from_yaml(file).expect("config loads");
    args.plan(&config, env).expect("plan")
}

const FILE: &str = "kubeconfig: /from/file\nenvoy-service-name: file-envoy\nenvoy-service-namespace: file-ns\ningress-status-address: 192.0.2.1\nleaderelection:\n  configmap-name: file-lease\n  configmap-namespace: file-lease-ns\n  lease-duration: 20s\n";

#[test]
fn defaults_without_file_environment_or_flags() {
    let p = plan(&[], "", &Environment::default());
    assert_eq!(p.connection.kubeconfig, None);
    assert_eq!(
        p.envoy_service,
        NamespacedName::new("projectsesame", "envoy")
    );
    let e = p.election.expect("election on by default");
    assert_eq!(
        (e.lease_name.as_str(), e.namespace.as_str()),
        ("leader-elect", "projectsesame")
    );
    assert_eq!(e.lease_duration, Duration::from_secs(15));
    assert!(p.status_addresses.is_empty());
    assert!(
        !p.watch.gateway,
        "no gateway section: Gateway API is not watched"
    );
    assert_eq!(p.watch.crd_recheck, Duration::from_secs(60));
}

#[test]
fn a_gateway_section_watches_gateway_api() {
    let file = "gateway:\n  controllerName: projectsesame.io/gateway-controller\n";
    let p = plan(
        &["--gateway-crd-recheck", "2s"],
        file,
        &Environment::default(),
    );
    assert!(p.watch.gateway);
    assert_eq!(p.watch.crd_recheck, Duration::from_secs(2));
}

#[test]
fn the_file_overrides_defaults() {
    let p = plan(&[], FILE, &Environment::default());
    assert_eq!(p.connection.kubeconfig, Some(PathBuf::from("/from/file")));
    assert_eq!(
        p.envoy_service,
        NamespacedName::new("file-ns", "file-envoy")
    );
    let e = p.election.expect("election");
    assert_eq!(
        (e.lease_name.as_str(), e.namespace.as_str()),
        ("file-lease", "file-lease-ns")
    );
    assert_eq!(e.lease_duration, Duration::from_secs(20));
    assert_eq!(p.status_addresses, ["192.0.2.1"]);
}

#[test]
fn the_environment_overrides_the_file_and_sesame_namespace_is_a_default() {
    let env = Environment {
        namespace: Some("env-ns".into()),
        kubeconfig: true,
    };
    // KUBECONFIG beats the file's kubeconfig: kube reads it itself.
    let p = plan(&[], FILE, &env);
    assert_eq!(p.connection.kubeconfig, None);
    // SESAME_NAMESPACE is where Sesame runs: the default of namespace settings the file leaves
    // unset, not an override of those it sets.
    assert_eq!(&*p.envoy_service.namespace, "file-ns");
    let p = plan(&[], "", &env);
    assert_eq!(&*p.envoy_service.namespace, "env-ns");
    assert_eq!(p.election.expect("election").namespace, "env-ns");
}

#[test]
fn flags_override_the_environment_and_the_file() {
    let env = Environment {
        namespace: Some("env-ns".into()),
        kubeconfig: true,
    };
    let p = plan(
        &[
            "--kubeconfig",
            "/from/flag",
            "--envoy-service-name",
            "flag-envoy",
            "--envoy-service-namespace",
            "flag-ns",
            "--ingress-status-address",
            "198.51.100.7",
            "--leader-election-resource-name",
            "flag-lease",
            "--leader-election-resource-namespace",
            "flag-lease-ns",
            "--leader-election-lease-duration",
            "30s",
        ],
        FILE,
        &env,
    );
    assert_eq!(p.connection.kubeconfig, Some(PathBuf::from("/from/flag")));
    assert_eq!(
        p.envoy_service,
        NamespacedName::new("flag-ns", "flag-envoy")
    );
    let e = p.election.expect("election");
    assert_eq!(
        (e.lease_name.as_str(), e.namespace.as_str()),
        ("flag-lease", "flag-lease-ns")
    );
    assert_eq!(e.lease_duration, Duration::from_secs(30));
    assert_eq!(p.status_addresses, ["198.51.100.7"]);
}
