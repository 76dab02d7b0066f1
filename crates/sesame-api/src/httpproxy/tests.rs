use k8s_openapi::api::core::v1::LoadBalancerIngress;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::condition::SubCondition;

/// A root HTTPProxy in the style of Contour's documentation, touching most fields.
const FULL: &str = r#"
apiVersion: projectsesame.io/v1
kind: HTTPProxy
metadata:
  name: root
  namespace: default
spec:
  ingressClassName: sesame
  virtualhost:
    fqdn: www.example.com
    tls:
      secretName: www-tls
      minimumProtocolVersion: "1.2"
      maximumProtocolVersion: "1.3"
      clientValidation:
        caSecret: client-ca
        crlSecret: client-crl
        crlOnlyVerifyLeafCert: true
        optionalClientCertificate: true
        forwardClientCertificate:
          subject: true
          cert: true
          chain: true
          dns: true
          uri: true
    corsPolicy:
      allowCredentials: true
      allowOrigin: ["*"]
      allowMethods: [GET, POST]
      maxAge: 10m
    ipAllowPolicy:
    - source: Peer
      cidr: 10.0.0.0/8
  includes:
  - name: blog
    namespace: marketing
    conditions:
    - prefix: /blog
    - header:
        name: x-beta
        present: true
  routes:
  - conditions:
    - prefix: /
    - header:
        name: user-agent
        notcontains: curl
        ignoreCase: true
        treatMissingAsEmpty: true
    - queryParameter:
        name: debug
        exact: "1"
        ignoreCase: true
    services:
    - name: s1
      port: 80
      weight: 90
      protocol: h2c
      requestHeadersPolicy:
        set:
        - name: Host
          value: internal.example.com
        remove: [X-Debug]
    - name: s2
      port: 443
      weight: 10
      protocol: tls
      validation:
        caSecret: upstream-ca
        subjectName: s2.internal
        subjectNames: [s2.internal, s2.alt]
    - name: shadow
      port: 8080
      mirror: true
      weight: 5
    enableWebsockets: true
    permitInsecure: true
    timeoutPolicy:
      response: 1s
      idle: infinity
      idleConnection: 60s
    retryPolicy:
      count: 3
      perTryTimeout: 150ms
      retryOn: [5xx, gateway-error, retriable-status-codes]
      retriableStatusCodes: [502, 503]
    healthCheckPolicy:
      path: /healthz
      host: health.example.com
      intervalSeconds: 5
      timeoutSeconds: 2
      unhealthyThresholdCount: 3
      healthyThresholdCount: 5
    loadBalancerPolicy:
      strategy: RequestHash
      requestHashPolicies:
      - headerHashOptions:
          headerName: X-User
        terminal: true
      - queryParameterHashOptions:
          parameterName: session
      - hashSourceIP: true
    pathRewritePolicy:
      replacePrefix:
      - prefix: /
        replacement: /app
    responseHeadersPolicy:
      set:
      - name: X-Served-By
        value: "%HOSTNAME%"
  - conditions:
    - exact: /old
    requestRedirectPolicy:
      scheme: https
      hostname: new.example.com
      port: 8443
      statusCode: 301
      path: /new
  - conditions:
    - regex: /teapot/.*
    directResponsePolicy:
      statusCode: 418
      body: I'm a teapot
status:
  currentStatus: valid
  description: Valid HTTPProxy
  loadBalancer:
    ingress:
    - ip: 192.0.2.1
  conditions:
  - type: Valid
    status: "True"
    observedGeneration: 2
    lastTransitionTime: "2026-01-02T03:04:05Z"
    reason: Valid
    message: Valid HTTPProxy
    warnings:
    - type: RouteError
      status: "True"
      reason: SomeWarning
      message: a warning
"#;

fn full() -> HTTPProxy {
    serde_saphyr::from_str(FULL).unwrap()
}

#[test]
fn a_full_httpproxy_decodes_field_by_field() {
    let proxy = full();
    let spec = &proxy.spec;
    assert_eq!(spec.ingress_class_name.as_deref(), Some("sesame"));

    let vhost = spec.virtualhost.as_ref().unwrap();
    assert_eq!(vhost.fqdn.as_deref(), Some("www.example.com"));
    let tls = vhost.tls.as_ref().unwrap();
    assert_eq!(tls.secret_name.as_deref(), Some("www-tls"));
    assert_eq!(tls.minimum_protocol_version.as_deref(), Some("1.2"));
    assert_eq!(tls.maximum_protocol_version.as_deref(), Some("1.3"));
    assert!(!tls.passthrough && !tls.enable_fallback_certificate);
    let cv = tls.client_validation.as_ref().unwrap();
    assert_eq!(cv.ca_secret.as_deref(), Some("client-ca"));
    assert_eq!(cv.crl_secret.as_deref(), Some("client-crl"));
    assert!(cv.crl_only_verify_leaf_cert && cv.optional_client_certificate);
    assert!(!cv.skip_client_cert_validation);
    assert_eq!(
        cv.forward_client_certificate,
        Some(ClientCertificateDetails {
            subject: true,
            cert: true,
            chain: true,
            dns: true,
            uri: true,
        })
    );
    assert_eq!(
        vhost.cors_policy.as_ref().unwrap().allow_methods,
        ["GET", "POST"]
    );
    assert_eq!(vhost.ip_allow_policy[0].cidr.as_deref(), Some("10.0.0.0/8"));

    assert_eq!(
        spec.includes,
        [Include {
            name: Some("blog".into()),
            namespace: Some("marketing".into()),
            conditions: vec![
                MatchCondition {
                    prefix: Some("/blog".into()),
                    ..Default::default()
                },
                MatchCondition {
                    header: Some(HeaderMatchCondition {
                        name: Some("x-beta".into()),
                        present: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ],
        }]
    );

    let [first, redirect, direct] = spec.routes.as_slice() else {
        panic!("three routes expected: {:?}", spec.routes);
    };
    let header = first.conditions[1].header.as_ref().unwrap();
    assert_eq!(header.not_contains.as_deref(), Some("curl"));
    assert!(header.ignore_case && header.treat_missing_as_empty && !header.not_present);
    let query = first.conditions[2].query_parameter.as_ref().unwrap();
    assert_eq!(
        (query.name.as_deref(), query.exact.as_deref()),
        (Some("debug"), Some("1"))
    );
    assert!(query.ignore_case);

    let [s1, s2, shadow] = first.services.as_slice() else {
        panic!("three services expected");
    };
    assert_eq!(
        (s1.name.as_deref(), s1.port, s1.weight),
        (Some("s1"), Some(80), Some(90))
    );
    assert_eq!(s1.protocol.as_deref(), Some("h2c"));
    let set = &s1.request_headers_policy.as_ref().unwrap().set[0];
    assert_eq!(
        (set.name.as_deref(), set.value.as_deref()),
        (Some("Host"), Some("internal.example.com"))
    );
    assert_eq!(
        s1.request_headers_policy.as_ref().unwrap().remove,
        ["X-Debug"]
    );
    let validation = s2.validation.as_ref().unwrap();
    assert_eq!(validation.ca_secret.as_deref(), Some("upstream-ca"));
    assert_eq!(validation.subject_names, ["s2.internal", "s2.alt"]);
    assert!(shadow.mirror && !s1.mirror);

    assert!(first.enable_websockets && first.permit_insecure);
    let timeouts = first.timeout_policy.as_ref().unwrap();
    assert_eq!(timeouts.idle.as_deref(), Some("infinity"));
    assert_eq!(timeouts.idle_connection.as_deref(), Some("60s"));
    let retry = first.retry_policy.as_ref().unwrap();
    assert_eq!(retry.count, Some(3));
    assert_eq!(
        retry.retry_on,
        ["5xx", "gateway-error", "retriable-status-codes"]
    );
    assert_eq!(retry.retriable_status_codes, [502, 503]);
    let hc = first.health_check_policy.as_ref().unwrap();
    assert_eq!(
        (
            hc.path.as_deref(),
            hc.interval_seconds,
            hc.healthy_threshold_count
        ),
        (Some("/healthz"), Some(5), Some(5))
    );
    let lb = first.load_balancer_policy.as_ref().unwrap();
    assert_eq!(lb.strategy.as_deref(), Some("RequestHash"));
    assert!(lb.request_hash_policies[0].terminal);
    assert_eq!(
        lb.request_hash_policies[1]
            .query_parameter_hash_options
            .as_ref()
            .and_then(|o| o.parameter_name.as_deref()),
        Some("session")
    );
    assert!(lb.request_hash_policies[2].hash_source_ip);
    let rewrite = &first.path_rewrite_policy.as_ref().unwrap().replace_prefix[0];
    assert_eq!(rewrite.replacement.as_deref(), Some("/app"));

    assert_eq!(redirect.conditions[0].exact.as_deref(), Some("/old"));
    assert_eq!(
        redirect.request_redirect_policy,
        Some(HttpRequestRedirectPolicy {
            scheme: Some("https".into()),
            hostname: Some("new.example.com".into()),
            port: Some(8443),
            status_code: Some(301),
            path: Some("/new".into()),
            prefix: None,
        })
    );
    assert_eq!(direct.conditions[0].regex.as_deref(), Some("/teapot/.*"));
    assert_eq!(
        direct.direct_response_policy,
        Some(HttpDirectResponsePolicy {
            status_code: Some(418),
            body: Some("I'm a teapot".into()),
        })
    );

    let status = proxy.status.as_ref().unwrap();
    assert_eq!(status.current_status.as_deref(), Some("valid"));
    assert_eq!(
        status.load_balancer.as_ref().unwrap().ingress,
        Some(vec![LoadBalancerIngress {
            ip: Some("192.0.2.1".into()),
            ..Default::default()
        }])
    );
    let valid = &status.conditions[0];
    assert_eq!(
        (valid.type_.as_str(), valid.status.as_str()),
        ("Valid", "True")
    );
    assert_eq!(valid.observed_generation, Some(2));
    assert!(valid.last_transition_time.is_some());
    assert_eq!(
        valid.warnings,
        [SubCondition {
            type_: "RouteError".into(),
            status: "True".into(),
            reason: "SomeWarning".into(),
            message: "a warning".into(),
        }]
    );
}

#[test]
fn round_trips_through_json_and_yaml() {
    let proxy = full();
    let value = serde_json::to_value(&proxy).unwrap();
    assert_eq!(value["apiVersion"], "projectsesame.io/v1");
    assert_eq!(value["kind"], "HTTPProxy");
    // Go's spellings, not serde's camelCase guesses.
    assert_eq!(
        value["spec"]["routes"][0]["conditions"][1]["header"]["notcontains"],
        "curl"
    );
    assert_eq!(
        value["spec"]["routes"][0]["loadBalancerPolicy"]["requestHashPolicies"][2]["hashSourceIP"],
        true
    );
    let back: HTTPProxy = serde_json::from_value(value).unwrap();
    assert_eq!(back, proxy);

    let yaml = serde_saphyr::to_string(&proxy).unwrap();
    let back: HTTPProxy = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(back, proxy);
}

#[test]
fn unset_fields_are_left_out_when_serialized() {
    let proxy = HTTPProxy::new(
        "child",
        HTTPProxySpec {
            routes: vec![Route {
                services: vec![Service {
                    name: Some("s".into()),
                    port: Some(80),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        },
    );
    assert_eq!(
        serde_json::to_value(&proxy).unwrap(),
        json!({
            "apiVersion": "projectsesame.io/v1",
            "kind": "HTTPProxy",
            "metadata": {"name": "child"},
            "spec": {"routes": [{"services": [{"name": "s", "port": 80}]}]},
        })
    );
}

#[test]
fn partial_objects_decode() {
    let proxy: HTTPProxy = serde_json::from_value(json!({
        "apiVersion": "projectsesame.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": "p"},
        "spec": {"virtualhost": {}, "routes": [{"services": [{}]}], "tcpproxy": {}},
    }))
    .unwrap();
    assert_eq!(proxy.spec.virtualhost, Some(VirtualHost::default()));
    assert_eq!(proxy.spec.routes[0].services, [Service::default()]);
    assert_eq!(proxy.spec.tcpproxy, Some(TcpProxy::default()));
    assert_eq!(proxy.status, None);
}

#[test]
fn unknown_fields_are_ignored_as_the_api_server_prunes_them() {
    let proxy: HTTPProxy = serde_json::from_value(json!({
        "apiVersion": "projectsesame.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": "p"},
        "spec": {
            "futureField": 1,
            "virtualhost": {"fqdn": "a.example.com", "futureVhostField": [{"name": "x"}]},
            "routes": [{"futureRouteField": {"x": 1}, "services": [{"name": "s", "port": 80, "extra": true}]}],
        },
    }))
    .unwrap();
    assert_eq!(
        proxy.spec.virtualhost.unwrap().fqdn.as_deref(),
        Some("a.example.com")
    );
    assert_eq!(proxy.spec.routes[0].services[0].port, Some(80));
}

#[test]
fn tcpproxy_decodes_with_both_include_spellings() {
    let spec: HTTPProxySpec = serde_json::from_value(json!({
        "virtualhost": {"fqdn": "tcp.example.com", "tls": {"passthrough": true}},
        "tcpproxy": {
            "services": [{"name": "db", "port": 5432}],
            "loadBalancerPolicy": {"strategy": "Random"},
            "include": {"name": "a", "namespace": "ns"},
            "includes": {"name": "b"},
            "healthCheckPolicy": {"intervalSeconds": 10, "timeoutSeconds": 2, "unhealthyThresholdCount": 3, "healthyThresholdCount": 2},
        },
    }))
    .unwrap();
    assert!(spec.virtualhost.unwrap().tls.unwrap().passthrough);
    let tcp = spec.tcpproxy.unwrap();
    assert_eq!(tcp.services[0].port, Some(5432));
    assert_eq!(tcp.include.unwrap().namespace.as_deref(), Some("ns"));
    assert_eq!(tcp.includes.unwrap().name.as_deref(), Some("b"));
    assert_eq!(tcp.health_check_policy.unwrap().interval_seconds, Some(10));
    assert_eq!(
        tcp.load_balancer_policy.unwrap().strategy.as_deref(),
        Some("Random")
    );
}

#[test]
fn jwt_providers_decode_with_contours_names() {
    let vhost: VirtualHost = serde_json::from_value(json!({
        "fqdn": "jwt.example.com",
        "jwtProviders": [{
            "name": "p", "default": true, "issuer": "iss", "audiences": ["a", "b"],
            "forwardJWT": true,
            "remoteJWKS": {
                "uri": "https://keys.example.com/jwks.json", "timeout": "2s",
                "cacheDuration": "5m", "dnsLookupFamily": "v4",
                "validation": {"caSecret": "ca", "subjectName": "keys.example.com"},
            },
        }],
    }))
    .unwrap();
    let p = &vhost.jwt_providers[0];
    assert_eq!(p.name.as_deref(), Some("p"));
    assert!(p.default && p.forward_jwt);
    assert_eq!(p.audiences, ["a", "b"]);
    let remote = p.remote_jwks.as_ref().unwrap();
    assert_eq!(remote.cache_duration.as_deref(), Some("5m"));
    assert_eq!(remote.dns_lookup_family.as_deref(), Some("v4"));
    assert_eq!(
        remote.validation.as_ref().unwrap().ca_secret.as_deref(),
        Some("ca")
    );
    let back = serde_json::to_value(&vhost).unwrap();
    assert_eq!(back["jwtProviders"][0]["remoteJWKS"]["timeout"], "2s");
    assert_eq!(back["jwtProviders"][0]["forwardJWT"], true);
}
