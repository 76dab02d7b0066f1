use std::time::Duration;

use super::duration::parse_duration;
use super::*;

fn annotations(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn go_durations() {
    let d = |s| parse_duration(s).unwrap();
    assert_eq!(d("1s"), Duration::from_secs(1));
    assert_eq!(d("500ms"), Duration::from_millis(500));
    assert_eq!(d("1m30s"), Duration::from_secs(90));
    assert_eq!(d("2h45m"), Duration::from_secs(2 * 3600 + 45 * 60));
    assert_eq!(d("1.5s"), Duration::from_millis(1500));
    assert_eq!(d(".5s"), Duration::from_millis(500));
    assert_eq!(d("10us"), Duration::from_micros(10));
    assert_eq!(d("0"), Duration::ZERO);
    assert_eq!(d("87600h"), Duration::from_secs(87600 * 3600));
    assert_eq!(
        parse_duration("-1s"),
        Err(duration::DurationError::Negative)
    );
    assert_eq!(parse_duration(""), Err(duration::DurationError::Empty));
    assert_eq!(
        parse_duration("1e9"),
        Err(duration::DurationError::UnknownUnit("e".into()))
    );
    assert_eq!(
        parse_duration("10"),
        Err(duration::DurationError::Malformed)
    );
    assert_eq!(
        parse_duration("999999999h"),
        Err(duration::DurationError::TooLong)
    );
    assert_eq!(
        parse_duration("87601h"),
        Err(duration::DurationError::TooLong)
    );
    assert_eq!(
        parse_duration(&format!("{}s", "9".repeat(400))),
        Err(duration::DurationError::TooLong)
    );
    assert_eq!(
        parse_duration("1s;rm"),
        Err(duration::DurationError::UnknownUnit("s;rm".into()))
    );
    assert_eq!(parse_timeout("infinity"), Ok(Timeout::Infinite));
    assert_eq!(parse_timeout("infinite"), Ok(Timeout::Infinite));
    assert_eq!(
        parse_timeout("2s"),
        Ok(Timeout::After(Duration::from_secs(2)))
    );
}

#[test]
fn ingress_class_precedence() {
    let m = annotations(&[(SESAME_CLASS, "a"), (KUBERNETES_CLASS, "b")]);
    assert_eq!(ingress_class(m.as_ref(), Some("c")), Some("a"));
    let m = annotations(&[(KUBERNETES_CLASS, "b")]);
    assert_eq!(ingress_class(m.as_ref(), Some("c")), Some("b"));
    assert_eq!(ingress_class(None, Some("c")), Some("c"));
    assert_eq!(ingress_class(None, None), None);
}

#[test]
fn good_ingress_annotations() {
    let mut w = Warnings::new();
    let a = IngressAnnotations::parse(
        annotations(&[
            (FORCE_SSL_REDIRECT, "true"),
            (ALLOW_HTTP, "false"),
            (RESPONSE_TIMEOUT, "1m30s"),
            (RETRY_ON, "5xx, gateway-error,5xx"),
            (NUM_RETRIES, "-1"),
            (PER_TRY_TIMEOUT, "500ms"),
            (WEBSOCKET_ROUTES, "/ws , /chat"),
            (TLS_MIN, "1.3"),
            (TLS_MAX, "1.3"),
        ])
        .as_ref(),
        &mut w,
    );
    assert!(w.ignored.is_empty(), "{:?}", w.ignored);
    assert_eq!(
        a,
        IngressAnnotations {
            force_ssl_redirect: true,
            allow_http: false,
            timeout: Some(Timeout::After(Duration::from_secs(90))),
            retry: Some(RetryPolicy {
                retry_on: vec!["5xx".into(), "gateway-error".into()],
                num_retries: 0,
                per_try_timeout: Some(Timeout::After(Duration::from_millis(500))),
                retriable_status_codes: Vec::new(),
            }),
            websocket_routes: vec!["/ws".into(), "/chat".into()],
            min_tls: Some(TlsVersion::V1_3),
            max_tls: Some(TlsVersion::V1_3),
        }
    );
}

#[test]
fn num_retries_rule() {
    assert_eq!(parse_num_retries("-1"), Ok(0));
    assert_eq!(parse_num_retries("0"), Ok(1));
    assert_eq!(parse_num_retries("1"), Ok(1));
    assert_eq!(parse_num_retries("7"), Ok(7));
    assert!(parse_num_retries("-2").is_err());
    assert!(parse_num_retries("4294967296").is_err());
    assert!(parse_num_retries("three").is_err());
}

#[test]
fn retries_need_retry_on() {
    let mut w = Warnings::new();
    let a = IngressAnnotations::parse(
        annotations(&[(NUM_RETRIES, "3"), (PER_TRY_TIMEOUT, "1s")]).as_ref(),
        &mut w,
    );
    assert_eq!(a.retry, None);
    let a = IngressAnnotations::parse(annotations(&[(RETRY_ON, "reset")]).as_ref(), &mut w);
    assert_eq!(
        a.retry,
        Some(RetryPolicy {
            retry_on: vec!["reset".into()],
            num_retries: 1,
            per_try_timeout: None,
            retriable_status_codes: Vec::new(),
        })
    );
    assert!(w.ignored.is_empty());
}

#[test]
fn bad_ingress_annotations_are_ignored_with_a_warning() {
    let mut w = Warnings::new();
    let hostile = format!("1s\n}}\n;\"${{}}{}", "x".repeat(300 * 1024));
    let a = IngressAnnotations::parse(
        annotations(&[
            (FORCE_SSL_REDIRECT, "yes"),
            (ALLOW_HTTP, "nope"),
            (RESPONSE_TIMEOUT, &hostile),
            (RETRY_ON, "5xx,sometimes"),
            (WEBSOCKET_ROUTES, "/ok,ws"),
            (TLS_MIN, "1.1"),
            (TLS_MAX, "banana"),
        ])
        .as_ref(),
        &mut w,
    );
    assert_eq!(a, IngressAnnotations::default());
    assert_eq!(w.ignored.len(), 7, "{:?}", w.ignored);
    let timeout = w
        .ignored
        .iter()
        .find(|i| i.message.contains(RESPONSE_TIMEOUT))
        .unwrap();
    assert!(timeout.message.len() < 400, "{}", timeout.message);
    assert!(!timeout.message.contains('\n'), "{}", timeout.message);
    assert!(w.ignored[0].message.starts_with(
        "annotation ingress.kubernetes.io/force-ssl-redirect has invalid value \"yes\""
    ));
}

#[test]
fn service_annotations() {
    let mut w = Warnings::new();
    let service = annotations(&[
        (UPSTREAM_H2, "443,grpc"),
        (UPSTREAM_H2C, "8080"),
        (UPSTREAM_TLS, "8443"),
        (MAX_CONNECTIONS, "100"),
        (MAX_PENDING_REQUESTS, "-1"),
        (MAX_REQUESTS, "4294967295"),
        (MAX_RETRIES, "4294967296"),
    ]);
    let a = ServiceAnnotations::parse(service.as_ref(), &mut w);
    assert_eq!(w.ignored.len(), 2, "{:?}", w.ignored);
    assert_eq!(
        a.circuit_breakers,
        CircuitBreakers {
            max_connections: Some(100),
            max_pending_requests: None,
            max_requests: Some(u32::MAX),
            max_retries: None
        }
    );
    let port = |name: Option<&str>, port: i32, app: Option<&str>| ServicePort {
        name: name.map(String::from),
        port,
        app_protocol: app.map(String::from),
        ..ServicePort::default()
    };
    assert_eq!(
        a.protocol(&port(Some("grpc"), 9000, None)),
        UpstreamProtocol::H2
    );
    assert_eq!(a.protocol(&port(None, 443, None)), UpstreamProtocol::H2);
    assert_eq!(a.protocol(&port(None, 8080, None)), UpstreamProtocol::H2c);
    assert_eq!(a.protocol(&port(None, 8443, None)), UpstreamProtocol::Tls);
    assert_eq!(a.protocol(&port(None, 80, None)), UpstreamProtocol::Http1);
    assert_eq!(
        a.protocol(&port(None, 8080, Some("http"))),
        UpstreamProtocol::Http1
    );
    assert_eq!(
        a.protocol(&port(None, 80, Some("kubernetes.io/h2c"))),
        UpstreamProtocol::H2c
    );
    assert_eq!(
        a.protocol(&port(None, 80, Some("https"))),
        UpstreamProtocol::Tls
    );
    assert_eq!(
        a.protocol(&port(None, 443, Some("custom"))),
        UpstreamProtocol::H2
    );
}

#[test]
fn websocket_paths() {
    assert_eq!(
        parse_paths(" /a, /b/ "),
        Ok(vec!["/a".to_string(), "/b/".to_string()])
    );
    assert_eq!(
        parse_paths("/a,b"),
        Err(AnnotationError::NotPath("b".into()))
    );
    assert_eq!(
        parse_paths("/a b"),
        Err(AnnotationError::NotPath("/a b".into()))
    );
    assert_eq!(parse_paths(","), Err(AnnotationError::EmptyList));
    // A huge hostile list is one warning, not one per entry.
    let mut w = Warnings::new();
    let hostile = "x,".repeat(100_000);
    let a = IngressAnnotations::parse(
        annotations(&[(WEBSOCKET_ROUTES, &hostile)]).as_ref(),
        &mut w,
    );
    assert!(a.websocket_routes.is_empty());
    assert_eq!(w.ignored.len(), 1);
}

#[test]
fn bad_port_lists() {
    assert!(parse_port_list("80,http").is_ok());
    assert!(parse_port_list("").is_err());
    assert!(parse_port_list("80;rm -rf").is_err());
    assert!(parse_port_list("0").is_err());
    assert!(parse_port_list("HTTP").is_err());
}
