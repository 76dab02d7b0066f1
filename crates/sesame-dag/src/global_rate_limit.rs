//! Global rate limit policies (`rateLimitPolicy.global` of HTTPProxy virtual hosts and routes,
//! and the config file's `rateLimitService.defaultGlobalRateLimitPolicy`), checked into the
//! DAG's descriptors so that Envoy never sees one it would refuse.

use sesame_api::httpproxy::{GlobalRateLimitPolicy, RateLimitDescriptorEntry, RateLimitPolicy};

use crate::dag::{DescriptorEntry, GlobalRateLimit, RateLimitDescriptor, RouteGlobalRateLimit};
use crate::httpproxy::conditions::header_condition;

/// What a global policy asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobalPolicy {
    /// `disabled: true`: no descriptors, and no default either.
    Disabled,
    /// These descriptors (none when the policy lists none).
    Descriptors(GlobalRateLimit),
}

/// Checks a global rate limit policy (the one at `field`, for messages): every descriptor has
/// entries, every entry sets exactly one of `genericKey`, `requestHeader`,
/// `requestHeaderValueMatch` and `remoteAddress` (Contour's rule), with the values Envoy
/// requires (a non-empty value and key, a valid header name, at least one valid header match).
pub fn global_policy(field: &str, policy: &GlobalRateLimitPolicy) -> Result<GlobalPolicy, String> {
    if policy.disabled {
        return Ok(GlobalPolicy::Disabled);
    }
    let mut descriptors = Vec::new();
    for (i, descriptor) in policy.descriptors.iter().enumerate() {
        let field = format!("{field}.descriptors[{i}]");
        if descriptor.entries.is_empty() {
            return Err(format!("{field}.entries must have at least one entry"));
        }
        let entries = descriptor
            .entries
            .iter()
            .enumerate()
            .map(|(j, entry)| descriptor_entry(&format!("{field}.entries[{j}]"), entry))
            .collect::<Result<Vec<_>, _>>()?;
        descriptors.push(RateLimitDescriptor { entries });
    }
    Ok(GlobalPolicy::Descriptors(GlobalRateLimit { descriptors }))
}

/// The descriptors of a root's virtual host: its own `rateLimitPolicy.global` (none when it is
/// `disabled`), else the installation's default (config
/// `rateLimitService.defaultGlobalRateLimitPolicy`), as Contour.
pub(crate) fn host_global_limit(
    policy: Option<&RateLimitPolicy>,
    default: Option<&GlobalRateLimit>,
) -> Result<Option<GlobalRateLimit>, String> {
    let own = policy.and_then(|p| p.global.as_ref());
    let Some(own) = own else {
        return Ok(default.cloned());
    };
    Ok(
        match global_policy("Spec.VirtualHost.rateLimitPolicy.global", own)? {
            GlobalPolicy::Disabled => None,
            GlobalPolicy::Descriptors(limit) => Some(limit).filter(|l| !l.descriptors.is_empty()),
        },
    )
}

/// A route's own global rate limit setting: its descriptors, or `disabled` (its virtual host's
/// are then ignored); `None` when it sets neither.
pub(crate) fn route_global_limit(
    policy: Option<&RateLimitPolicy>,
) -> Result<Option<RouteGlobalRateLimit>, String> {
    let Some(own) = policy.and_then(|p| p.global.as_ref()) else {
        return Ok(None);
    };
    Ok(match global_policy("rateLimitPolicy.global", own)? {
        GlobalPolicy::Disabled => Some(RouteGlobalRateLimit::Disabled),
        GlobalPolicy::Descriptors(limit) if limit.descriptors.is_empty() => None,
        GlobalPolicy::Descriptors(limit) => Some(RouteGlobalRateLimit::Descriptors(limit)),
    })
}

fn descriptor_entry(
    field: &str,
    entry: &RateLimitDescriptorEntry,
) -> Result<DescriptorEntry, String> {
    let set = usize::from(entry.generic_key.is_some())
        + usize::from(entry.request_header.is_some())
        + usize::from(entry.request_header_value_match.is_some())
        + usize::from(entry.remote_address.is_some());
    if set != 1 {
        return Err(format!(
            "{field}: a rate limit descriptor entry must have exactly one field set"
        ));
    }
    let non_empty = |name: &str, value: &Option<String>| -> Result<String, String> {
        match value.as_deref() {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(format!("{field}.{name} must not be empty")),
        }
    };
    if let Some(g) = &entry.generic_key {
        let key = g.key.clone().filter(|k| !k.is_empty());
        return Ok(DescriptorEntry::GenericKey {
            key,
            value: non_empty("genericKey.value", &g.value)?,
        });
    }
    if let Some(h) = &entry.request_header {
        let raw = h.header_name.as_deref().unwrap_or_default();
        let header = sesame_api::header::name(raw)
            .map_err(|e| format!("{field}.requestHeader.headerName: {e}"))?;
        return Ok(DescriptorEntry::RequestHeader {
            header,
            key: non_empty("requestHeader.descriptorKey", &h.descriptor_key)?,
        });
    }
    if let Some(m) = &entry.request_header_value_match {
        if m.headers.is_empty() {
            return Err(format!(
                "{field}.requestHeaderValueMatch.headers must have at least one header condition"
            ));
        }
        let headers = m
            .headers
            .iter()
            .map(|h| {
                header_condition(h)
                    .map(|(matched, _)| matched)
                    .map_err(|e| format!("{field}.requestHeaderValueMatch: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(DescriptorEntry::HeaderValueMatch {
            headers,
            expect_match: m.expect_match.unwrap_or(true),
            value: non_empty("requestHeaderValueMatch.value", &m.value)?,
        });
    }
    Ok(DescriptorEntry::RemoteAddress)
}

#[cfg(test)]
mod tests {
    use sesame_api::httpproxy::GlobalRateLimitPolicy;

    use super::*;

    fn policy(yaml: &str) -> GlobalRateLimitPolicy {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn each_entry_kind_is_checked() {
        let ok = policy(
            "descriptors:\n- entries:\n  - genericKey: {value: v}\n  - requestHeader: {headerName: X-User, descriptorKey: user}\n  - requestHeaderValueMatch: {headers: [{name: x-a, present: true}], expectMatch: false, value: m}\n  - remoteAddress: {}\n",
        );
        let GlobalPolicy::Descriptors(limit) = global_policy("f", &ok).unwrap() else {
            panic!("disabled")
        };
        let entries = &limit.descriptors[0].entries;
        assert_eq!(
            entries[0],
            DescriptorEntry::GenericKey {
                key: None,
                value: "v".into()
            }
        );
        assert_eq!(
            entries[1],
            DescriptorEntry::RequestHeader {
                header: "x-user".into(),
                key: "user".into()
            }
        );
        assert!(matches!(
            &entries[2],
            DescriptorEntry::HeaderValueMatch { expect_match: false, value, .. } if value == "m"
        ));
        assert_eq!(entries[3], DescriptorEntry::RemoteAddress);
        assert_eq!(
            global_policy("f", &policy("disabled: true\n")).unwrap(),
            GlobalPolicy::Disabled
        );
        for (bad, needle) in [
            ("descriptors:\n- entries: []\n", "at least one entry"),
            ("descriptors:\n- entries:\n  - {}\n", "exactly one field"),
            (
                "descriptors:\n- entries:\n  - {genericKey: {value: v}, remoteAddress: {}}\n",
                "exactly one field",
            ),
            (
                "descriptors:\n- entries:\n  - genericKey: {key: k}\n",
                "genericKey.value",
            ),
            (
                "descriptors:\n- entries:\n  - requestHeader: {headerName: 'a b', descriptorKey: k}\n",
                "headerName",
            ),
            (
                "descriptors:\n- entries:\n  - requestHeader: {headerName: x-a}\n",
                "descriptorKey",
            ),
            (
                "descriptors:\n- entries:\n  - requestHeaderValueMatch: {value: v}\n",
                "at least one header",
            ),
            (
                "descriptors:\n- entries:\n  - requestHeaderValueMatch: {headers: [{name: x-a, regex: '(('}], value: v}\n",
                "requestHeaderValueMatch",
            ),
        ] {
            let e = global_policy("rateLimitPolicy.global", &policy(bad)).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
            assert!(
                e.starts_with("rateLimitPolicy.global.descriptors[0]"),
                "{e}"
            );
        }
    }
}
