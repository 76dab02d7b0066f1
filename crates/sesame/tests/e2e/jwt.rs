//! JWT verification through a real Envoy: providers whose keys Envoy fetches from JWKS servers
//! on 127.0.0.1 (over HTTP, and over HTTPS verified with a CA Secret), tokens signed here
//! (ES256), the provider each route requires, and hostile providers and policies that must
//! become status conditions, never NACKs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::harness::{Cluster, Pki, Reply, backend, borrowed, ca_secret, services};
use crate::httpproxy::{has_error, key, proxy, refused_then_canary};

/// An ES256 signing key with its key id.
struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    fn new(kid: &str) -> Signer {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("generate key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("load key");
        Signer {
            key,
            kid: kid.to_string(),
            rng,
        }
    }

    /// The public key as a JWK: the uncompressed point is 0x04, then x and y.
    fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]),
        })
    }

    /// A compact JWS of `claims`.
    fn token(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let signature = self.key.sign(&self.rng, input.as_bytes()).expect("sign");
        format!("{input}.{}", B64.encode(signature.as_ref()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Claims from `iss` for `aud`, valid for an hour (or expired an hour ago).
fn claims(iss: &str, aud: &str, expired: bool) -> Value {
    let exp = if expired { now() - 3600 } else { now() + 3600 };
    json!({"iss": iss, "aud": aud, "sub": "user-1", "iat": now() - 10, "exp": exp})
}

/// A JWKS server on 127.0.0.1 answering every request with `{"keys": [...]}` of `signers`,
/// over TLS with `identity` (cert PEM, key PEM) if given. It counts the requests it answers.
struct JwksServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn jwks_server(signers: &[&Signer], identity: Option<(&str, &str)>) -> JwksServer {
    let body = json!({"keys": signers.iter().map(|s| s.jwk()).collect::<Vec<_>>()}).to_string();
    let acceptor = identity.map(|(cert, key)| {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("jwks cert");
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("jwks key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("jwks identity");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind jwks");
    let addr = listener.local_addr().expect("jwks addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (body, counter, acceptor) = (body.clone(), counter.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    None => answer(stream, &body, &counter).await,
                    Some(acceptor) => {
                        if let Ok(tls) = acceptor.accept(stream).await {
                            answer(tls, &body, &counter).await;
                        }
                    }
                }
            });
        }
    });
    JwksServer { addr, hits, task }
}

/// Reads one request head and answers it with `body` as JSON, closing the connection.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, body: &str, hits: &AtomicUsize) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 64 * 1024 || stream.read(&mut byte).await.unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_verified_against_the_provider_each_route_requires() {
    let a = backend("a").await;
    let main_key = Signer::new("main-1");
    let partner_key = Signer::new("partner-1");
    let pki = Pki::new();
    let (jwks_cert, jwks_key) = pki.leaf(&["127.0.0.1"]);
    let main_jwks = jwks_server(&[&main_key], None).await;
    let partner_jwks = jwks_server(&[&partner_key], Some((&jwks_cert, &jwks_key))).await;
    let spec = format!(
        "{{virtualhost: {{fqdn: jwt.test, tls: {{secretName: cert}}, jwtProviders: [\
         {{name: main, default: true, issuer: 'https://issuer.test', audiences: [sesame], \
           remoteJWKS: {{uri: 'http://{}/jwks.json', timeout: 2s}}}}, \
         {{name: partner, issuer: 'https://partner.test', forwardJWT: true, \
           remoteJWKS: {{uri: 'https://{}/keys', validation: {{caSecret: jwks-ca}}}}}}, \
         {{name: strict, issuer: 'https://partner.test', \
           remoteJWKS: {{uri: 'https://{}/keys', \
             validation: {{caSecret: jwks-ca, subjectName: keys.partner.test}}}}}}]}}, \
         routes: [\
         {{conditions: [{{prefix: /strict}}], jwtVerificationPolicy: {{require: strict}}, \
           services: [{{name: svc-a, port: 80}}]}}, \
         {{conditions: [{{prefix: /open}}], jwtVerificationPolicy: {{disabled: true}}, \
           services: [{{name: svc-a, port: 80}}]}}, \
         {{conditions: [{{prefix: /partner}}], jwtVerificationPolicy: {{require: partner}}, \
           services: [{{name: svc-a, port: 80}}]}}, \
         {{conditions: [{{prefix: /insecure}}], permitInsecure: true, \
           services: [{{name: svc-a, port: 80}}]}}, \
         {{services: [{{name: svc-a, port: 80}}]}}]}}",
        main_jwks.addr, partner_jwks.addr, partner_jwks.addr
    );
    let cluster = Cluster::start(&[
        ("svc.yaml", &services(&[("svc-a", &a)])),
        ("secret.json", &pki.secret("cert", &["jwt.test"])),
        (
            "ca.json",
            &ca_secret("default", "jwks-ca", pki.ca_pem.as_bytes()),
        ),
        ("proxy.yaml", &proxy("default", "jwt", &spec)),
    ])
    .await;
    let ca = pki.ca_pem.as_bytes();
    let get = |path: &'static str, token: Option<String>| {
        let cluster = &cluster;
        async move {
            let auth = token.map(|t| bearer(&t));
            let headers: Vec<(&str, &str)> =
                auth.iter().map(|v| ("authorization", v.as_str())).collect();
            cluster.https_with("jwt.test", path, ca, &headers).await
        }
    };
    // Served: the disabled route answers without a token...
    cluster
        .eventually_reply("open route served", || get("/open", None), |r| r.from("a"))
        .await;
    // ...the default provider's routes do not.
    let reply = get("/", None).await;
    assert_eq!(reply.status, 401, "no token: {reply:?}");
    let valid = main_key.token(&claims("https://issuer.test", "sesame", false));
    let reply = get("/page", Some(valid.clone())).await;
    assert!(reply.from("a"), "valid token: {reply:?}");
    assert!(main_jwks.hits.load(Ordering::SeqCst) > 0);
    // Not forwarded by default: Envoy removes the verified token.
    assert!(reply.echoed_header("authorization").is_empty(), "{reply:?}");
    let refusals: [(&str, String, u16); 5] = [
        (
            "expired",
            main_key.token(&claims("https://issuer.test", "sesame", true)),
            401,
        ),
        (
            "wrong issuer",
            main_key.token(&claims("https://other.test", "sesame", false)),
            401,
        ),
        (
            "wrong audience",
            main_key.token(&claims("https://issuer.test", "someone-else", false)),
            403,
        ),
        (
            "another provider's key",
            partner_key.token(&claims("https://issuer.test", "sesame", false)),
            401,
        ),
        ("garbage", "not.a.token".to_string(), 401),
    ];
    for (what, token, status) in refusals {
        let reply = get("/page", Some(token)).await;
        assert_eq!(reply.status, status, "{what}: {reply:?}");
        assert_ne!(reply.backend.as_deref(), Some("a"), "{what}: {reply:?}");
    }
    // `require: partner` picks the partner's provider: its keys (fetched over HTTPS, the
    // server verified against the CA Secret) and issuer; the main token does not pass.
    let partner = partner_key.token(&claims("https://partner.test", "anyone", false));
    let reply = cluster
        .eventually_reply(
            "partner token accepted",
            || get("/partner/x", Some(partner.clone())),
            |r| r.status != 0,
        )
        .await;
    assert!(reply.from("a"), "partner token: {reply:?}");
    assert!(partner_jwks.hits.load(Ordering::SeqCst) > 0);
    // forwardJWT keeps the token on the request upstream.
    assert_eq!(
        reply.echoed_header("authorization"),
        [bearer(&partner).as_str()],
        "{reply:?}"
    );
    let reply = get("/partner/x", Some(valid.clone())).await;
    assert_eq!(
        reply.status, 401,
        "main token on the partner route: {reply:?}"
    );
    // The same keys from the same server, but the provider wants a certificate for another
    // name: Envoy cannot fetch them, so even the partner's token is refused.
    let reply = get("/strict", Some(partner.clone())).await;
    assert_eq!(reply.status, 401, "unverifiable JWKS server: {reply:?}");
    // Plain HTTP never reaches a verified route, not even a permitInsecure one.
    for path in ["/", "/insecure"] {
        let reply = cluster.http("jwt.test", path).await;
        assert_eq!(reply.status, 301, "{path} over http: {reply:?}");
    }
    let reply = get("/insecure", None).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    let status = cluster
        .eventually_status(key("default", "jwt"), "jwt status", |_| true)
        .await;
    assert_eq!(status["current"], "valid", "{status}");
    cluster.assert_no_update_rejected().await;
}

/// A root HTTPProxy for `<name>.jwt-hostile.test`, with TLS unless `tls` is false, the JWT
/// `providers` and one route with `route_extra` fields.
fn hostile(name: &str, tls: bool, providers: Value, route_extra: Value) -> String {
    let mut vhost = json!({"fqdn": format!("{name}.jwt-hostile.test"), "jwtProviders": providers});
    if tls {
        vhost["tls"] = json!({"secretName": "cert"});
    }
    let mut route = json!({"services": [{"name": "svc-a", "port": 80}]});
    if let (Some(route), Some(extra)) = (route.as_object_mut(), route_extra.as_object()) {
        route.extend(extra.clone());
    }
    json!({
        "apiVersion": "projectsesame.io/v1", "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"virtualhost": vhost, "routes": [route]},
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_jwt_providers_become_invalid_status_and_never_reach_envoy() {
    let a = backend("a").await;
    let pki = Pki::new();
    let remote = |uri: &str| json!({"uri": uri});
    let ok = |name: &str| json!({"name": name, "remoteJWKS": remote("http://127.0.0.1:9/jwks")});
    let cases: Vec<(&str, bool, Value, Value, &str)> = vec![
        (
            "ftp-uri",
            true,
            json!([{"name": "p", "remoteJWKS": remote("ftp://127.0.0.1/jwks")}]),
            json!({}),
            "RemoteJWKSSchemeInvalid",
        ),
        (
            "crlf-uri",
            true,
            json!([{"name": "p", "remoteJWKS": remote("http://127.0.0.1/a\r\nx: y")}]),
            json!({}),
            "RemoteJWKSURIInvalid",
        ),
        (
            "userinfo-uri",
            true,
            json!([{"name": "p", "remoteJWKS": remote("http://admin@127.0.0.1:9001/")}]),
            json!({}),
            "RemoteJWKSURIInvalid",
        ),
        (
            "duplicate",
            true,
            json!([ok("p"), ok("p")]),
            json!({}),
            "DuplicateProviderName",
        ),
        (
            "two-defaults",
            true,
            json!([
                {"name": "p", "default": true, "remoteJWKS": remote("http://127.0.0.1:9/a")},
                {"name": "q", "default": true, "remoteJWKS": remote("http://127.0.0.1:9/b")},
            ]),
            json!({}),
            "MultipleDefaultProvidersSpecified",
        ),
        (
            "no-tls",
            false,
            json!([ok("p")]),
            json!({}),
            "JWTVerificationNotPermitted",
        ),
        (
            "bad-timeout",
            true,
            json!([{"name": "p", "remoteJWKS": {"uri": "http://127.0.0.1:9/", "timeout": "soon"}}]),
            json!({}),
            "RemoteJWKSTimeoutInvalid",
        ),
        (
            "undefined",
            true,
            json!([ok("p")]),
            json!({"jwtVerificationPolicy": {"require": "nope"}}),
            "JWTProviderNotDefined",
        ),
        (
            "contradictory",
            true,
            json!([ok("p")]),
            json!({"jwtVerificationPolicy": {"require": "p", "disabled": true}}),
            "InvalidJWTVerificationPolicy",
        ),
    ];
    let hosts: Vec<String> = cases
        .iter()
        .map(|(name, ..)| format!("{name}.jwt-hostile.test"))
        .collect();
    let cert = pki.secret(
        "cert",
        &hosts.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut files = vec![
        ("svc.yaml".to_string(), services(&[("svc-a", &a)])),
        ("cert.json".to_string(), cert),
    ];
    for (name, tls, providers, route, _) in &cases {
        files.push((
            format!("{name}.json"),
            hostile(name, *tls, providers.clone(), route.clone()),
        ));
    }
    let cluster = Cluster::start(&borrowed(&files)).await;
    let refused: Vec<(&str, &str)> = cases
        .iter()
        .map(|(name, _, _, _, reason)| (*name, *reason))
        .collect();
    refused_then_canary(&cluster, &refused).await;
    cluster.assert_no_update_rejected().await;
    let ca = pki.ca_pem.as_bytes();
    // A host with an invalid provider is not served at all; an invalid route policy answers
    // 403, never the route unverified.
    let reply: Reply = cluster.https("duplicate.jwt-hostile.test", "/", ca).await;
    assert_ne!(reply.backend.as_deref(), Some("a"), "{reply:?}");
    for name in ["undefined", "contradictory"] {
        let host = format!("{name}.jwt-hostile.test");
        let reply = cluster
            .eventually_reply(
                "invalid route policy answers 403",
                || cluster.https(&host, "/", ca),
                |r| r.status == 403,
            )
            .await;
        assert_ne!(reply.backend.as_deref(), Some("a"), "{reply:?}");
    }
    let status = cluster
        .eventually_status(key("default", "no-tls"), "no-tls", |s| {
            has_error(s, "JWTVerificationNotPermitted")
        })
        .await;
    assert_eq!(status["current"], "invalid", "{status}");
    let reply = cluster.http("no-tls.jwt-hostile.test", "/").await;
    assert_eq!(reply.status, 404, "not served in clear: {reply:?}");
}
