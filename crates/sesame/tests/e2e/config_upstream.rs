//! The upstream side of the configuration file through a real Envoy: ExternalName Services
//! (refused by default, refused when they name the local host, proxied to otherwise), the
//! global header policies, and the client certificate Envoy presents to TLS upstreams.

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};

use crate::harness::{
    Backend, Cluster, Pki, backend, backend_on, services, tls_backend_verifying, tls_secret,
};
use crate::httpproxy::{has_error, key, proxy};

/// A Service of type ExternalName pointing at `target`, with one port `port` named `http`.
fn external_service(name: &str, target: &str, port: u16) -> String {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"type": "ExternalName", "externalName": target,
                 "ports": [{"name": "http", "port": port}]}
    })
    .to_string()
}

/// An HTTPProxy `name` for `<name>.test` whose one route goes to port `port` of `service`.
fn proxy_to(name: &str, service: &str, port: u16) -> String {
    proxy(
        "default",
        name,
        &format!(
            "{{virtualhost: {{fqdn: {name}.test}}, routes: [{{services: [{{name: {service}, port: {port}}}]}}]}}"
        ),
    )
}

/// A non-loopback address of this machine a backend can listen on, and the name an
/// ExternalName Service reaches it by: the host name when it resolves there, else the address
/// itself (an ExternalName may be an IP address). `None` when the machine has no such address.
fn non_loopback_target() -> Option<(IpAddr, String)> {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let hostname = hostname.trim();
    if !hostname.is_empty()
        && let Ok(addrs) = (hostname, 0).to_socket_addrs()
        && let Some(ip) = addrs
            .map(|a| a.ip())
            .find(|ip| ip.is_ipv4() && !ip.is_loopback())
    {
        return Some((ip, hostname.to_string()));
    }
    // The source address of the default route (connecting a UDP socket sends nothing).
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("198.51.100.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then(|| (ip, ip.to_string()))
}

/// Starts Sesame with the config file `config`, then Envoy.
async fn start_configured(files: &[(&str, &str)], config: &str) -> (Cluster, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("config dir");
    let path = dir.path().join("sesame.yaml");
    std::fs::write(&path, config).expect("write config");
    let path = path.to_str().expect("utf-8 path").to_string();
    let cluster = Cluster::start_with(files, &["--config-path", &path]).await;
    (cluster, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_name_services_are_refused_by_default() {
    // Sesame without a config file: the Service would reach this backend if it were followed.
    let target = backend("never").await;
    let port = target.addr.port();
    let cluster = Cluster::start(&[
        ("ext.json", &external_service("svc-ext", "127.0.0.1", port)),
        ("proxy.yaml", &proxy_to("ext", "svc-ext", port)),
    ])
    .await;
    let status = cluster
        .eventually_status(key("default", "ext"), "ExternalName refused", |s| {
            has_error(s, "ServiceUnresolvedReference")
        })
        .await;
    assert!(
        status.to_string().contains("enableExternalNameService"),
        "{status}"
    );
    let reply = cluster.http("ext.test", "/").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(target.requests().is_empty());
}

/// The objects of [`the_config_files_upstream_settings_reach_envoy`]: the echo backend behind
/// an HTTPProxy and an Ingress, an ExternalName Service naming `localhost`, and a TLS Service
/// on `mtls` (port 80 speaks TLS).
fn upstream_objects(echo: &Backend, mtls: &Backend) -> Vec<(&'static str, String)> {
    let mut tls_service: serde_json::Value =
        serde_json::from_str(&services(&[("svc-mtls", mtls)])).expect("service json");
    tls_service["items"][0]["metadata"]["annotations"] =
        serde_json::json!({"projectsesame.io/upstream-protocol.tls": "80"});
    let ingress = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ing\n  namespace: default\nspec:\n  rules:\n  - host: ing.test\n    http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: svc-echo, port: {number: 80}}}}\n";
    let headers = proxy(
        "default",
        "headers",
        "{virtualhost: {fqdn: headers.test}, routes: [\
         {conditions: [{prefix: /own}], requestHeadersPolicy: {set: [{name: X-Env, value: route}]}, \
          services: [{name: svc-echo, port: 80}]}, \
         {services: [{name: svc-echo, port: 80}]}]}",
    );
    vec![
        ("echo.json", services(&[("svc-echo", echo)])),
        ("mtls.json", tls_service.to_string()),
        ("ingress.yaml", ingress.to_string()),
        ("headers.yaml", headers),
        (
            "local.json",
            external_service("svc-local", "localhost", echo.addr.port()),
        ),
        (
            "local.yaml",
            proxy_to("local", "svc-local", echo.addr.port()),
        ),
        ("mtls.yaml", proxy_to("mtls", "svc-mtls", 80)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_files_upstream_settings_reach_envoy() {
    let echo = backend("echo").await;
    // The TLS backend accepts only a client certificate from `client_pki`, which Envoy gets
    // from the Secret the config file names.
    let (server_pki, client_pki) = (Pki::new(), Pki::new());
    let (cert, key_pem) = server_pki.leaf(&["mtls.test"]);
    let mtls = tls_backend_verifying("mtls", &cert, &key_pem, Some(&client_pki.ca_pem)).await;
    let (client_cert, client_key) = client_pki.leaf(&["envoy.test"]);
    let mut files = upstream_objects(&echo, &mtls);
    files.push((
        "client.json",
        tls_secret(
            "envoy-client",
            client_cert.as_bytes(),
            client_key.as_bytes(),
        ),
    ));
    // An ExternalName Service that names another address of this machine, when it has one.
    let external = match non_loopback_target() {
        Some((ip, name)) => {
            let b = backend_on("external", ip).await;
            let port = b.addr.port();
            files.push(("ext.json", external_service("svc-ext", &name, port)));
            files.push(("ext.yaml", proxy_to("ext", "svc-ext", port)));
            Some(b)
        }
        None => {
            eprintln!("no non-loopback address: the proxied ExternalName case is not run");
            None
        }
    };
    let config = "enableExternalNameService: true\n\
        cluster:\n  dns-lookup-family: v4\n\
        timeouts:\n  connect-timeout: 3s\n\
        policy:\n  request-headers:\n    set: {X-Env: prod, X-Team: platform}\n    remove: [X-Debug]\n  \
        response-headers:\n    set: {X-Served-By: sesame}\n\
        tls:\n  envoy-client-certificate: {name: envoy-client, namespace: default}\n";
    let borrowed: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (cluster, _config_dir) = start_configured(&borrowed, config).await;

    // Global headers on an HTTPProxy route: set and removed on the request, set on the reply.
    let sent = [("x-debug", "1"), ("x-env", "client")];
    let reply = cluster
        .eventually_reply(
            "global headers on an HTTPProxy route",
            || cluster.http_with("headers.test", "/", &sent),
            |r| r.from("echo"),
        )
        .await;
    assert_eq!(reply.echoed_header("x-env"), ["prod"], "{reply:?}");
    assert_eq!(reply.echoed_header("x-team"), ["platform"], "{reply:?}");
    assert!(reply.echoed_header("x-debug").is_empty(), "{reply:?}");
    assert_eq!(reply.header("x-served-by"), ["sesame"], "{reply:?}");
    // The route's own policy wins for the header it sets; the others still apply.
    let reply = cluster.http_with("headers.test", "/own", &sent).await;
    assert!(reply.from("echo"), "{reply:?}");
    assert_eq!(reply.echoed_header("x-env"), ["route"], "{reply:?}");
    assert_eq!(reply.echoed_header("x-team"), ["platform"], "{reply:?}");
    // Ingress routes are left alone: applyToIngress is off.
    let reply = cluster
        .eventually_reply(
            "Ingress served",
            || cluster.http_with("ing.test", "/", &sent),
            |r| r.from("echo"),
        )
        .await;
    assert_eq!(reply.echoed_header("x-debug"), ["1"], "{reply:?}");
    assert_eq!(reply.echoed_header("x-env"), ["client"], "{reply:?}");
    assert!(reply.header("x-served-by").is_empty(), "{reply:?}");

    // Envoy presents the configured client certificate to the TLS upstream.
    let reply = cluster
        .eventually_reply(
            "the TLS upstream accepts Envoy's client certificate",
            || cluster.http("mtls.test", "/secure"),
            |r| r.from("mtls"),
        )
        .await;
    assert_eq!(reply.body, "mtls /secure\nclient: envoy.test\n");

    // An ExternalName naming the local host is refused even though enabled: status and 503.
    let status = cluster
        .eventually_status(key("default", "local"), "localhost refused", |s| {
            has_error(s, "ServiceUnresolvedReference")
        })
        .await;
    assert!(
        status
            .to_string()
            .contains("points at the Envoy host itself"),
        "{status}"
    );
    let reply = cluster.http("local.test", "/local-only").await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert!(
        !echo.requests().iter().any(|r| r == "/local-only"),
        "the backend on 127.0.0.1 was reached through localhost"
    );

    // An ExternalName naming another host is proxied to, resolved by Envoy.
    if let Some(external) = &external {
        let reply = cluster
            .eventually_reply(
                "an ExternalName Service is proxied to",
                || cluster.http("ext.test", "/far?x=1"),
                |r| r.from("external"),
            )
            .await;
        assert_eq!(reply.echoed_path(), Some("/far?x=1"));
        assert_eq!(reply.echoed_header("x-env"), ["prod"], "{reply:?}");
        assert_eq!(external.requests(), ["/far?x=1"]);
    }
}
