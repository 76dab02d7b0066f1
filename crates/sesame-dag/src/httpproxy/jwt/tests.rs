use super::*;

fn uri(raw: &str) -> Result<JwksUri, Reason> {
    JwksUri::parse(raw).map_err(|(reason, _)| reason)
}

#[test]
fn jwks_uris_take_the_schemes_port_unless_they_name_one() {
    let u = uri("https://Keys.Example.com/.well-known/jwks.json?x=1").unwrap();
    assert_eq!(
        (u.tls, u.host.as_str(), u.port),
        (true, "keys.example.com", 443)
    );
    let u = uri("http://127.0.0.1:8081/jwks").unwrap();
    assert_eq!((u.tls, u.host.as_str(), u.port), (false, "127.0.0.1", 8081));
    let u = uri("http://[::1]:9/k").unwrap();
    assert_eq!((u.host.as_str(), u.port), ("::1", 9));
    assert_eq!(uri("http://keys.example.com").unwrap().port, 80);
    assert_eq!(uri("HTTPS://k.example.com/%2Fa").unwrap().port, 443);
}

#[test]
fn bad_jwks_uris_are_refused_with_contours_reasons() {
    use Reason::{RemoteJWKSSchemeInvalid as Scheme, RemoteJWKSURIInvalid as Invalid};
    for (raw, want) in [
        ("ftp://k.example.com/jwks", Scheme),
        ("file:///etc/passwd", Scheme),
        ("k.example.com/jwks", Invalid),
        ("", Invalid),
        ("https://", Invalid),
        ("https://user:pw@k.example.com/", Invalid),
        ("https://k.example.com/a#frag", Invalid),
        ("https://k.example.com/a b", Invalid),
        ("https://k.example.com/a\r\nX: y", Invalid),
        ("https://k.example.com/%zz", Invalid),
        ("https://k.example.com:0/", Invalid),
        ("https://k.example.com:65536/", Invalid),
        ("https://k.example.com:+80/", Invalid),
        ("https://k.example.com:/", Invalid),
        ("https://-k.example.com/", Invalid),
        ("https://k_1.example.com/", Invalid),
        ("https://[::1/", Invalid),
        ("https://[::1]x/", Invalid),
        ("https://*.example.com/", Invalid),
    ] {
        assert_eq!(uri(raw), Err(want), "{raw:?}");
    }
    let long = format!("https://k.example.com/{}", "a".repeat(MAX_URI_LEN));
    assert_eq!(uri(&long), Err(Invalid));
}

#[test]
fn a_route_gets_the_provider_it_requires_none_or_the_default() {
    let root = RootJwt {
        names: ["a".to_string(), "b".to_string()].into(),
        default: Some("a".to_string()),
    };
    let policy = |require: Option<&str>, disabled| JwtVerificationPolicy {
        require: require.map(str::to_string),
        disabled,
    };
    assert_eq!(route_provider(&root, None), Ok(Some("a".to_string())));
    let b = policy(Some("b"), false);
    assert_eq!(route_provider(&root, Some(&b)), Ok(Some("b".to_string())));
    let off = policy(None, true);
    assert_eq!(route_provider(&root, Some(&off)), Ok(None));
    let both = policy(Some("b"), true);
    assert_eq!(
        route_provider(&root, Some(&both)).map_err(|e| e.0),
        Err(Reason::InvalidJWTVerificationPolicy)
    );
    let missing = policy(Some("c"), false);
    assert_eq!(
        route_provider(&root, Some(&missing)).map_err(|e| e.0),
        Err(Reason::JWTProviderNotDefined)
    );
    assert_eq!(route_provider(&RootJwt::default(), None), Ok(None));
}
