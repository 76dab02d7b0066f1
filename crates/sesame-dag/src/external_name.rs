//! The targets of ExternalName Services, checked before Envoy resolves them: a Service author
//! must not be able to point Envoy at the host it runs on, where its admin interface listens
//! (Contour's CVE-2021-32783).
//!
//! The check is on the text alone: a DNS name is never resolved during a build, so a name that
//! resolves to a loopback address elsewhere is not caught (Contour's check is the same).

use std::net::IpAddr;

use thiserror::Error;

use crate::hostname;

/// Names of the local host: Contour's list, the names distributions give `127.0.0.1` and `::1`
/// in `/etc/hosts`, and (below) `localhost` and every name under it (RFC 6761).
const LOCAL_NAMES: &[&str] = &[
    "localhost.localdomain",
    "local.projectcontour.io",
    "localhost4",
    "localhost6",
    "localhost4.localdomain4",
    "localhost6.localdomain6",
    "ip6-localhost",
    "ip6-loopback",
];

/// Why an ExternalName target was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub(crate) enum TargetError {
    /// `spec.externalName` is empty.
    #[error("it has no spec.externalName")]
    Empty,
    /// Not a DNS name or an IP address.
    #[error("spec.externalName {raw:?} is not a DNS name or an IP address: {why}")]
    NotAHost {
        /// The value as written (shortened).
        raw: String,
        /// What is wrong with it.
        why: String,
    },
    /// A name or address of the Envoy host itself.
    #[error(
        "spec.externalName {0:?} points at the Envoy host itself (localhost, or a loopback, \
         link-local or unspecified address); this is refused"
    )]
    Local(String),
}

/// The host Envoy is to resolve for the external name `raw`: lower-cased, a trailing dot kept.
/// Refused when it is not a DNS name or IP address, or when it names the local host.
pub(crate) fn target(raw: &str) -> Result<String, TargetError> {
    if raw.is_empty() {
        return Err(TargetError::Empty);
    }
    let shown = || raw.chars().take(64).collect::<String>();
    let not_a_host = |why: String| TargetError::NotAHost { raw: shown(), why };
    let host = raw.to_ascii_lowercase();
    let name = host.strip_suffix('.').unwrap_or(&host);
    if let Ok(ip) = name.parse::<IpAddr>() {
        return if is_local(ip) {
            Err(TargetError::Local(shown()))
        } else {
            Ok(host)
        };
    }
    if name.starts_with('*') {
        return Err(not_a_host("a wildcard names no host".to_string()));
    }
    hostname::parse(name).map_err(|e| not_a_host(e.to_string()))?;
    // `127.1` or `2130706433` are not dotted quads, but some resolvers read them as addresses.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(not_a_host(
            "its last label is a number: write an IP address as a dotted quad".to_string(),
        ));
    }
    if name == "localhost" || name.ends_with(".localhost") || LOCAL_NAMES.contains(&name) {
        return Err(TargetError::Local(shown()));
    }
    Ok(host)
}

/// Whether an address is the local host's: loopback, unspecified, `0.0.0.0/8`, link-local,
/// or an IPv6 form of one of those IPv4 addresses.
fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.octets()[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4().is_some_and(|v4| is_local(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_of_other_hosts_are_kept() {
        for (raw, host) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.com.", "api.example.com."),
            (
                "my-svc.other-ns.svc.cluster.local",
                "my-svc.other-ns.svc.cluster.local",
            ),
            ("192.0.2.10", "192.0.2.10"),
            ("2001:db8::1", "2001:db8::1"),
            ("localhost-proxy.example.com", "localhost-proxy.example.com"),
        ] {
            assert_eq!(target(raw).as_deref(), Ok(host), "{raw}");
        }
    }

    #[test]
    fn the_local_host_is_refused() {
        for raw in [
            "localhost",
            "LOCALHOST.",
            "localhost.localdomain",
            "admin.localhost",
            "local.projectcontour.io",
            "ip6-localhost",
            "127.0.0.1",
            "127.1.2.3",
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "::1",
            "::",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.1.1",
        ] {
            assert!(
                matches!(target(raw), Err(TargetError::Local(_))),
                "{raw}: {:?}",
                target(raw)
            );
        }
    }

    #[test]
    fn what_is_not_a_host_is_refused() {
        assert_eq!(target(""), Err(TargetError::Empty));
        for raw in [
            "127.1",
            "2130706433",
            "0177.0.0.1",
            "*.example.com",
            "a b.com",
            "a..com",
            "[::1]",
            "fe80::1%eth0",
            "exa_mple.com",
            "bücher.de",
        ] {
            assert!(
                matches!(target(raw), Err(TargetError::NotAHost { .. })),
                "{raw}: {:?}",
                target(raw)
            );
        }
        let message = target("127.1").unwrap_err().to_string();
        assert!(message.contains("\"127.1\""), "{message}");
    }
}
