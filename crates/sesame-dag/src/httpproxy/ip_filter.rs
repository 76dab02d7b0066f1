//! The IP filters of a virtual host or a route (`ipAllowPolicy` / `ipDenyPolicy`), checked so
//! only parsed addresses and prefix lengths reach the DAG, as in Contour's `toIPFilterRules`.

use std::net::IpAddr;

use sesame_api::httpproxy::IpFilterPolicy;

use crate::dag::{IpFilter, IpFilterAction, IpFilterRule, IpSource};
use crate::status::Reason;

/// Why an IP filter was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct IpFilterProblem {
    /// The typed reason.
    pub reason: Reason,
    /// What is wrong, naming the field.
    pub message: String,
}

/// The IP filter of `allow` and `deny` (the policies at `<field>.ipAllowPolicy` /
/// `<field>.ipDenyPolicy`), or `None` when both are empty. Setting both is an error, as is any
/// rule with an unknown source or an unparsable `cidr`.
pub(super) fn ip_filter(
    field: &str,
    allow: &[IpFilterPolicy],
    deny: &[IpFilterPolicy],
) -> Result<Option<IpFilter>, IpFilterProblem> {
    let (action, policies, name) = match (allow.is_empty(), deny.is_empty()) {
        (true, true) => return Ok(None),
        (false, false) => {
            return Err(IpFilterProblem {
                reason: Reason::IncompatibleIPAddressFilters,
                message: format!("{field}: cannot specify both ipAllowPolicy and ipDenyPolicy"),
            });
        }
        (false, true) => (IpFilterAction::Allow, allow, "ipAllowPolicy"),
        (true, false) => (IpFilterAction::Deny, deny, "ipDenyPolicy"),
    };
    let rules = policies
        .iter()
        .enumerate()
        .map(|(i, p)| rule(p).map_err(|(reason, m)| problem(reason, field, name, i, m)))
        .collect::<Result<_, _>>()?;
    Ok(Some(IpFilter { action, rules }))
}

fn problem(reason: Reason, field: &str, name: &str, i: usize, message: String) -> IpFilterProblem {
    let field = if field.is_empty() {
        format!("{name}[{i}]")
    } else {
        format!("{field}.{name}[{i}]")
    };
    IpFilterProblem {
        reason,
        message: format!("{field}: {message}"),
    }
}

/// One validated rule.
fn rule(p: &IpFilterPolicy) -> Result<IpFilterRule, (Reason, String)> {
    let source = match p.source.as_deref() {
        Some("Peer") => IpSource::Peer,
        Some("Remote") => IpSource::Remote,
        other => {
            let other: String = other.unwrap_or_default().chars().take(64).collect();
            return Err((
                Reason::IPFilterPolicyNotValid,
                format!("source {other:?} is not Peer or Remote"),
            ));
        }
    };
    let Some(cidr) = p.cidr.as_deref().filter(|c| !c.is_empty()) else {
        return Err((Reason::InvalidCIDR, "cidr is required".to_string()));
    };
    let (address, prefix_len) = parse_cidr(cidr).ok_or_else(|| {
        let shown: String = cidr.chars().take(64).collect();
        (
            Reason::InvalidCIDR,
            format!("cidr {shown:?} is not an IPv4 or IPv6 address or CIDR range"),
        )
    })?;
    Ok(IpFilterRule {
        source,
        address,
        prefix_len,
    })
}

/// An address or `address/prefix-length`, as its network address and prefix length (see
/// [`sesame_api::cidr::Cidr::parse`]).
pub(crate) fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    sesame_api::cidr::Cidr::parse(text).map(|c| (c.address, c.prefix_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges_parse_to_their_network() {
        let ok = |t: &str| parse_cidr(t).map(|(a, n)| format!("{a}/{n}"));
        assert_eq!(ok("127.0.0.1").as_deref(), Some("127.0.0.1/32"));
        assert_eq!(ok("10.1.2.3/8").as_deref(), Some("10.0.0.0/8"));
        assert_eq!(ok("0.0.0.0/0").as_deref(), Some("0.0.0.0/0"));
        assert_eq!(ok("::1").as_deref(), Some("::1/128"));
        assert_eq!(ok("2001:db8::1/32").as_deref(), Some("2001:db8::/32"));
        assert_eq!(ok("::/0").as_deref(), Some("::/0"));
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "not-an-ip",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
            "10.0.0.0/0008",
            "010.0.0.1",
            "10.0.0",
            "fe80::1%eth0",
            " 10.0.0.1",
            "10.0.0.1\n",
            "",
        ] {
            assert_eq!(parse_cidr(bad), None, "{bad:?}");
        }
    }

    fn policy(source: &str, cidr: &str) -> IpFilterPolicy {
        IpFilterPolicy {
            source: Some(source.to_string()),
            cidr: Some(cidr.to_string()),
        }
    }

    #[test]
    fn allow_and_deny_lists_become_filters_and_bad_rules_are_refused() {
        let allow = [policy("Peer", "10.0.0.0/8"), policy("Remote", "::1")];
        let got = ip_filter("f", &allow, &[]).unwrap().unwrap();
        assert_eq!(got.action, IpFilterAction::Allow);
        assert_eq!(got.rules[0].source, IpSource::Peer);
        assert_eq!(got.rules[1].source, IpSource::Remote);
        assert_eq!(got.rules[1].prefix_len, 128);
        let got = ip_filter("f", &[], &allow[..1]).unwrap().unwrap();
        assert_eq!(got.action, IpFilterAction::Deny);
        assert_eq!(ip_filter("f", &[], &[]), Ok(None));

        let reason = |allow: &[IpFilterPolicy], deny: &[IpFilterPolicy]| {
            ip_filter("f", allow, deny).unwrap_err().reason
        };
        assert_eq!(reason(&allow, &allow), Reason::IncompatibleIPAddressFilters);
        assert_eq!(
            reason(&[policy("Sideways", "10.0.0.0/8")], &[]),
            Reason::IPFilterPolicyNotValid
        );
        let no_source = IpFilterPolicy {
            source: None,
            cidr: Some("10.0.0.0/8".into()),
        };
        assert_eq!(reason(&[], &[no_source]), Reason::IPFilterPolicyNotValid);
        assert_eq!(
            reason(&[policy("Peer", "10.0.0.0/33")], &[]),
            Reason::InvalidCIDR
        );
        let no_cidr = IpFilterPolicy {
            source: Some("Peer".into()),
            cidr: None,
        };
        assert_eq!(reason(&[no_cidr], &[]), Reason::InvalidCIDR);
        let e = ip_filter(
            "f",
            &[],
            &[policy("Peer", "10.0.0.0/8"), policy("Peer", "x")],
        );
        assert_eq!(
            e.unwrap_err().message,
            "f.ipDenyPolicy[1]: cidr \"x\" is not an IPv4 or IPv6 address or CIDR range"
        );
    }
}
