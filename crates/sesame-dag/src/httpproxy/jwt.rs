//! JWT verification of an HTTPProxy: the providers of a root's virtual host
//! (`virtualhost.jwtProviders`), each with a cluster of its own for its JWKS host, and the
//! provider a route requires (`jwtVerificationPolicy`). Every value is checked here, with
//! Contour's reasons, so Envoy never sees one it would refuse.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use sesame_api::httpproxy::{JwtProvider as ApiProvider, JwtVerificationPolicy, VirtualHost};

use crate::build::Builder;
use crate::dag::{
    CircuitBreakers, Cluster, DnsLookupFamily, ExternalName, JwtProvider, LbPolicy, RemoteJwks,
    UpstreamProtocol, UpstreamValidation,
};
use crate::object::NamespacedName;
use crate::service::short_sha1;
use crate::status::{ObjectStatus, ProblemKind, Reason};

use super::header;

/// How long Envoy waits for a JWKS when `remoteJWKS.timeout` is not set (Contour's default).
const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest `remoteJWKS.uri` accepted.
const MAX_URI_LEN: usize = 2048;

/// The longest provider name, issuer or audience accepted.
const MAX_VALUE_LEN: usize = 1024;

/// The providers of a root, validated, with the cluster of each JWKS; nothing is in the DAG
/// until the root's TLS is known to be served ([`Builder::install_jwt`]).
#[derive(Debug, Default)]
pub(crate) struct JwtHost {
    /// The providers, in name order, each with its JWKS cluster.
    providers: Vec<(JwtProvider, Cluster)>,
    /// What the routes below the root see.
    pub routes: RootJwt,
}

/// The JWT providers the routes of a root may name.
#[derive(Clone, Debug, Default)]
pub(crate) struct RootJwt {
    /// The names of the providers.
    names: BTreeSet<String>,
    /// The provider of the routes that name none (`default: true`).
    default: Option<String>,
}

/// A problem with a JWT setting: its reason and a message naming the field.
type Problem = (Reason, String);

impl<'a> Builder<'a> {
    /// Checks the JWT providers of a root's virtual host. `None`, with the error in `status`,
    /// when one is invalid: the host is then not served at all, as in Contour.
    pub(crate) fn jwt_host(
        &mut self,
        namespace: &'a str,
        vhost: &'a VirtualHost,
        status: &mut ObjectStatus,
    ) -> Option<JwtHost> {
        if vhost.jwt_providers.is_empty() {
            return Some(JwtHost::default());
        }
        let tls = vhost.tls.as_ref();
        let terminates = tls.is_some_and(|t| {
            !t.passthrough && t.secret_name.as_deref().is_some_and(|s| !s.is_empty())
        });
        if !terminates {
            status.error(
                ProblemKind::JWTVerificationError,
                Reason::JWTVerificationNotPermitted,
                "Spec.VirtualHost.JWTProviders can only be defined for root HTTPProxies that terminate TLS",
            );
            return None;
        }
        if tls.is_some_and(|t| t.enable_fallback_certificate) {
            // Clients without SNI would reach the host through the fallback chain, which has
            // no JWT filter (GHSA-g3xr-5w5j-w4q4).
            status.error(
                ProblemKind::TLSError,
                Reason::TLSIncompatibleFeatures,
                "Spec.VirtualHost.TLS: enableFallbackCertificate cannot be combined with JWTProviders",
            );
            return None;
        }
        match self.jwt_providers(namespace, &vhost.jwt_providers) {
            Ok(host) => Some(host),
            Err((reason, message)) => {
                status.error(ProblemKind::JWTVerificationError, reason, message);
                None
            }
        }
    }

    fn jwt_providers(
        &mut self,
        namespace: &'a str,
        providers: &'a [ApiProvider],
    ) -> Result<JwtHost, Problem> {
        let mut host = JwtHost::default();
        for (i, p) in providers.iter().enumerate() {
            let field = format!("Spec.VirtualHost.JWTProviders[{i}]");
            let name = p.name.as_deref().unwrap_or_default();
            text(name)
                .map_err(|why| (Reason::ProviderNameNotValid, format!("{field}.name {why}")))?;
            if !host.routes.names.insert(name.to_string()) {
                return Err((
                    Reason::DuplicateProviderName,
                    format!("Spec.VirtualHost.JWTProviders is invalid: duplicate name {name:?}"),
                ));
            }
            if p.default {
                if host.routes.default.is_some() {
                    return Err((
                        Reason::MultipleDefaultProvidersSpecified,
                        "Spec.VirtualHost.JWTProviders is invalid: at most one provider can be set as the default".to_string(),
                    ));
                }
                host.routes.default = Some(name.to_string());
            }
            let field = format!("{field} ({name:?})");
            let provider = self.jwt_provider(namespace, &field, name, p)?;
            host.providers.push(provider);
        }
        host.providers.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(host)
    }

    fn jwt_provider(
        &mut self,
        namespace: &'a str,
        field: &str,
        name: &str,
        p: &'a ApiProvider,
    ) -> Result<(JwtProvider, Cluster), Problem> {
        let invalid = |what: &str, why: String| {
            (Reason::JWTProviderNotValid, format!("{field}.{what} {why}"))
        };
        let issuer = match p.issuer.as_deref().filter(|i| !i.is_empty()) {
            Some(issuer) => Some(text(issuer).map_err(|why| invalid("issuer", why))?),
            None => None,
        };
        let mut audiences = Vec::with_capacity(p.audiences.len());
        for audience in &p.audiences {
            audiences.push(text(audience).map_err(|why| invalid("audiences", why))?);
        }
        let Some(remote) = p
            .remote_jwks
            .as_ref()
            .filter(|r| r.uri.as_deref().is_some_and(|u| !u.is_empty()))
        else {
            return Err((
                Reason::JWKSSourceMissing,
                format!("{field}: remoteJWKS.uri must be set"),
            ));
        };
        let raw = remote.uri.as_deref().unwrap_or_default();
        let uri = JwksUri::parse(raw).map_err(|(reason, why)| {
            (
                reason,
                format!("{field}.remoteJWKS.uri {}: {why}", shown(raw)),
            )
        })?;
        let duration = |value: &Option<String>, reason: Reason, what: &str| match value
            .as_deref()
            .filter(|v| !v.is_empty())
        {
            None => Ok(None),
            Some(v) => sesame_api::duration::parse_duration(v)
                .map(Some)
                .map_err(|e| (reason, format!("{field}.remoteJWKS.{what} {v:?}: {e}"))),
        };
        let timeout = duration(&remote.timeout, Reason::RemoteJWKSTimeoutInvalid, "timeout")?
            .unwrap_or(DEFAULT_JWKS_TIMEOUT);
        let cache_duration = duration(
            &remote.cache_duration,
            Reason::RemoteJWKSCacheDurationInvalid,
            "cacheDuration",
        )?;
        let family = match remote.dns_lookup_family.as_deref() {
            None | Some("") => self.config.upstream.dns_lookup_family,
            Some("auto") => DnsLookupFamily::Auto,
            Some("v4") => DnsLookupFamily::V4,
            Some("v6") => DnsLookupFamily::V6,
            Some("all") => DnsLookupFamily::All,
            Some(other) => {
                return Err((
                    Reason::RemoteJWKSDNSLookupFamilyInvalid,
                    format!(
                        "{field}.remoteJWKS.dnsLookupFamily has an invalid value {}, must be auto, all, v4 or v6",
                        shown(other)
                    ),
                ));
            }
        };
        let validation = match &remote.validation {
            None => None,
            Some(_) if !uri.tls => {
                return Err((
                    Reason::RemoteJWKSUpstreamValidationInvalid,
                    format!(
                        "{field}.remoteJWKS.validation must not be specified when the URI scheme is http"
                    ),
                ));
            }
            Some(v) => Some(self.jwks_validation(namespace, field, v)?),
        };
        let cluster = self.jwks_cluster(&uri, validation, family);
        let provider = JwtProvider {
            name: name.to_string(),
            issuer,
            audiences,
            remote_jwks: RemoteJwks {
                uri: raw.to_string(),
                cluster: cluster.name.clone(),
                timeout,
                cache_duration,
            },
            forward_jwt: p.forward_jwt,
        };
        Ok((provider, cluster))
    }

    /// The CA bundle and names a JWKS server's certificate is verified against.
    fn jwks_validation(
        &mut self,
        namespace: &'a str,
        field: &str,
        v: &'a sesame_api::httpproxy::UpstreamValidation,
    ) -> Result<UpstreamValidation, Problem> {
        let invalid = |why: String| {
            (
                Reason::RemoteJWKSUpstreamValidationInvalid,
                format!("{field}.remoteJWKS.validation is invalid: {why}"),
            )
        };
        let ca = v.ca_secret.as_deref().unwrap_or_default();
        if ca.is_empty() {
            return Err(invalid("caSecret must name a Secret".to_string()));
        }
        let ca_pem = self
            .ca_bundle(namespace, ca)
            .map_err(|(reason, message)| match reason {
                Reason::DelegationNotPermitted => (
                    Reason::RemoteJWKSCACertificateNotDelegated,
                    format!("{field}.remoteJWKS.validation.caSecret {message}"),
                ),
                _ => invalid(format!("caSecret {message}")),
            })?;
        let mut subject_names: Vec<String> = Vec::new();
        for subject in v.subject_name.iter().chain(v.subject_names.iter()) {
            if subject.is_empty() {
                continue;
            }
            header::value(subject).map_err(|e| invalid(format!("subject name: {e}")))?;
            if !subject_names.contains(subject) {
                subject_names.push(subject.clone());
            }
        }
        Ok(UpstreamValidation {
            ca_pem,
            subject_names,
            subject_uris: Vec::new(),
        })
    }

    /// The cluster a JWKS is fetched through: Envoy resolves the URI's host itself, at the
    /// URI's port, over TLS for `https`. Its name says what it reaches,
    /// `dnsname/<scheme>/<host>:<port>`, followed by a hash of its settings when it verifies the
    /// server or asks DNS for other families than the configured ones, so that one name is
    /// always one cluster, whichever HTTPProxies share it.
    fn jwks_cluster(
        &self,
        uri: &JwksUri,
        validation: Option<UpstreamValidation>,
        family: DnsLookupFamily,
    ) -> Cluster {
        let scheme = if uri.tls { "https" } else { "http" };
        let shown_host = match uri.host.parse::<Ipv6Addr>() {
            Ok(_) => format!("[{}]", uri.host),
            Err(_) => uri.host.clone(),
        };
        let mut name = format!("dnsname/{scheme}/{shown_host}:{}", uri.port);
        if validation.is_some() || family != self.config.upstream.dns_lookup_family {
            let mut settings = format!("family={family:?}");
            if let Some(v) = &validation {
                let _ = write!(
                    settings,
                    "|ca={}|names={}",
                    short_sha1(&v.ca_pem),
                    v.subject_names.join(",")
                );
            }
            let _ = write!(name, "/{}", short_sha1(settings.as_bytes()));
        }
        let is_ip = uri.host.parse::<IpAddr>().is_ok();
        Cluster {
            name: name.clone(),
            service: NamespacedName::new("dnsname", uri.host.as_str()),
            port: i32::from(uri.port),
            port_name: String::new(),
            eds_name: name,
            protocol: if uri.tls {
                UpstreamProtocol::Tls
            } else {
                UpstreamProtocol::Http1
            },
            circuit_breakers: CircuitBreakers::default(),
            lb_policy: LbPolicy::RoundRobin,
            health_check: None,
            slow_start: None,
            upstream_validation: validation.map(Box::new),
            idle_connection_timeout: None,
            connect_timeout: self.config.upstream.connect_timeout,
            external_name: Some(Box::new(ExternalName {
                host: uri.host.clone(),
                dns_lookup_family: family,
            })),
            // A TLS server name is a DNS name, never an address.
            sni: (uri.tls && !is_ip).then(|| uri.host.clone()),
            client_certificate: None,
            targets: Vec::new(),
            response_timeout: None,
        }
    }

    /// Puts the JWT providers of a root served with TLS on `host`, and their clusters, into the
    /// build; returns what its routes may require.
    pub(crate) fn install_jwt(&mut self, host: &str, jwt: JwtHost) -> RootJwt {
        let Some(tls) = self.tls.get_mut(host) else {
            return RootJwt::default();
        };
        for (provider, cluster) in jwt.providers {
            tls.jwt_providers.push(provider);
            self.dag
                .clusters
                .entry(cluster.name.clone())
                .or_insert(cluster);
        }
        jwt.routes
    }
}

/// The provider that must verify a route's requests: the one it requires, none when it
/// disables verification, else the root's default. An error when the policy is contradictory
/// or names a provider the root does not define.
pub(crate) fn route_provider(
    root: &RootJwt,
    policy: Option<&JwtVerificationPolicy>,
) -> Result<Option<String>, Problem> {
    let require = policy
        .and_then(|p| p.require.as_deref())
        .filter(|r| !r.is_empty());
    let disabled = policy.is_some_and(|p| p.disabled);
    match (require, disabled) {
        (Some(_), true) => Err((
            Reason::InvalidJWTVerificationPolicy,
            "jwtVerificationPolicy cannot specify both require and disabled".to_string(),
        )),
        (Some(name), false) if root.names.contains(name) => Ok(Some(name.to_string())),
        (Some(name), false) => Err((
            Reason::JWTProviderNotDefined,
            format!(
                "jwtVerificationPolicy references an undefined JWT provider {}",
                shown(name)
            ),
        )),
        (None, true) => Ok(None),
        (None, false) => Ok(root.default.clone()),
    }
}

/// Checks a provider name, issuer or audience: not empty, not too long, no control characters
/// (Envoy compares them byte for byte; a newline in one is never what was meant).
fn text(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("must be set".to_string());
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(format!("is longer than {MAX_VALUE_LEN} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{} contains a control character", shown(value)));
    }
    Ok(value.to_string())
}

/// A value in a message: quoted, and shortened when long.
fn shown(value: &str) -> String {
    const MAX: usize = 100;
    if value.len() <= MAX {
        return format!("{value:?}");
    }
    let mut end = MAX;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &value[..end])
}

/// An absolute `http://` or `https://` URI without user information or fragment, whose host is
/// a DNS name or an IP address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JwksUri {
    /// `https`.
    pub tls: bool,
    /// The host, lower case, an IPv6 address without its brackets.
    pub host: String,
    /// The port, or the scheme's.
    pub port: u16,
}

impl JwksUri {
    /// Parses and checks a JWKS URI.
    pub(crate) fn parse(raw: &str) -> Result<JwksUri, (Reason, String)> {
        let bad = |why: &str| (Reason::RemoteJWKSURIInvalid, why.to_string());
        if raw.len() > MAX_URI_LEN {
            return Err(bad(&format!("is longer than {MAX_URI_LEN} bytes")));
        }
        let Some((scheme, rest)) = raw.split_once("://") else {
            return Err(bad("is not an absolute URI (scheme://host/path)"));
        };
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            other => {
                return Err((
                    Reason::RemoteJWKSSchemeInvalid,
                    format!("has invalid scheme {}, must be http or https", shown(other)),
                ));
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if tail.contains('#') {
            return Err(bad("must not have a fragment (#)"));
        }
        if let Some(c) = tail.chars().find(|c| !uri_char(*c)) {
            return Err(bad(&format!(
                "has a character not allowed in a URI path or query: {c:?}"
            )));
        }
        if !percent_escapes_ok(tail) {
            return Err(bad("has a % not followed by two hex digits"));
        }
        if authority.contains('@') {
            return Err(bad("must not carry user information (user@)"));
        }
        let (host, port) = split_port(authority).map_err(|why| bad(&why))?;
        let port = match port {
            Some(p) => p,
            None if tls => 443,
            None => 80,
        };
        Ok(JwksUri {
            tls,
            host: host_name(host).map_err(|why| bad(&why))?,
            port,
        })
    }
}

/// Splits `host[:port]` (the host maybe a bracketed IPv6 address).
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("has an unclosed [ in its host".to_string());
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("has an invalid IPv6 address {}", shown(v6)));
        }
        match after {
            "" => (v6, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (v6, Some(p)),
                None => return Err("has text after its IPv6 address".to_string()),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            let valid = !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
            match p.parse::<u16>() {
                Ok(n) if valid && n > 0 => Some(n),
                _ => return Err(format!("has an invalid port {}", shown(p))),
            }
        }
    };
    Ok((host, port))
}

/// The host of a URI, checked: an IP address, or a DNS name of letters, digits and `-`
/// (labels of 1 to 63, at most 253 in all), lower-cased.
fn host_name(host: &str) -> Result<String, String> {
    if host.is_empty() {
        return Err("has no host".to_string());
    }
    if host.parse::<IpAddr>().is_ok() {
        return Ok(host.to_ascii_lowercase());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let valid = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !valid {
        return Err(format!(
            "has a host that is not a DNS name or an IP address: {}",
            shown(host)
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// Whether `c` may appear in the path or query of a URI (RFC 3986 `pchar`, `/` and `?`).
fn uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?%".contains(c)
}

/// Whether every `%` is followed by two hex digits.
fn percent_escapes_ok(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || (bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests;
