//! `cookieRewritePolicies` of routes and services: every value checked, so that a rewritten
//! `Set-Cookie` header is always well formed whatever the policy says.

use std::collections::BTreeMap;

use sesame_api::httpproxy::CookieRewritePolicy;

use crate::dag::{CookieRewrite, SameSite};

/// The longest cookie name or path accepted (Contour's CRD limit).
const MAX_LEN: usize = 4096;

/// Checks the policies of one route or service (`field` names them in messages) and returns
/// them in cookie name order, or a message naming the first problem: a cookie named twice, a
/// policy that rewrites nothing, or a value outside what Contour's CRD allows.
pub(crate) fn cookie_rewrites(
    field: &str,
    policies: &[CookieRewritePolicy],
) -> Result<Vec<CookieRewrite>, String> {
    let mut out: BTreeMap<String, CookieRewrite> = BTreeMap::new();
    for (i, p) in policies.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let name = p.name.as_deref().unwrap_or_default();
        cookie_name(name).map_err(|why| format!("{at}.name {why}"))?;
        let path = match &p.path_rewrite {
            None => None,
            Some(rewrite) => {
                let value = rewrite.value.as_deref().unwrap_or_default();
                path_value(value).map_err(|why| format!("{at}.pathRewrite.value {why}"))?;
                Some(value.to_string())
            }
        };
        let domain = match &p.domain_rewrite {
            None => None,
            Some(rewrite) => {
                let value = rewrite.value.as_deref().unwrap_or_default();
                domain_value(value).map_err(|why| format!("{at}.domainRewrite.value {why}"))?;
                Some(value.to_string())
            }
        };
        let same_site = match p.same_site.as_deref() {
            None => None,
            Some("Strict") => Some(SameSite::Strict),
            Some("Lax") => Some(SameSite::Lax),
            Some("None") => Some(SameSite::None),
            Some(other) => {
                return Err(format!(
                    "{at}.sameSite {:?} is not one of Strict, Lax or None",
                    shorten(other)
                ));
            }
        };
        let rewrite = CookieRewrite {
            name: name.to_string(),
            path,
            domain,
            secure: p.secure,
            same_site,
        };
        if rewrite.path.is_none()
            && rewrite.domain.is_none()
            && rewrite.secure.is_none()
            && rewrite.same_site.is_none()
        {
            return Err(format!("{at}: no attributes rewritten for cookie {name:?}"));
        }
        if out.insert(name.to_string(), rewrite).is_some() {
            return Err(format!(
                "{at}: duplicate cookie rewrite rule for cookie {name:?}"
            ));
        }
    }
    Ok(out.into_values().collect())
}

/// A cookie name: an HTTP token (RFC 6265's `cookie-name`), visible ASCII without separators.
fn cookie_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must be set".to_string());
    }
    if name.len() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} bytes"));
    }
    let separator = |c: char| "()<>@,;:\\\"/[]?={} \t".contains(c);
    match name
        .chars()
        .find(|c| !c.is_ascii_graphic() || separator(*c))
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "{:?} is not a cookie name: {c:?} is not allowed (letters, digits and !#$%&'*+-.^_`|~ only)",
            shorten(name)
        )),
    }
}

/// A `Path` value: RFC 6265's `path-value`, visible ASCII or space without `;`.
fn path_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("must be set".to_string());
    }
    if value.len() > MAX_LEN {
        return Err(format!("is longer than {MAX_LEN} bytes"));
    }
    match value
        .chars()
        .find(|c| !(*c == ' ' || c.is_ascii_graphic()) || *c == ';')
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "{:?} has {c:?}, which a cookie path cannot hold",
            shorten(value)
        )),
    }
}

/// A `Domain` value: a lower-case DNS name (Contour's CRD pattern).
fn domain_value(value: &str) -> Result<(), String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !value.is_empty() && value.len() <= 253 && value.split('.').all(label_ok) {
        return Ok(());
    }
    Err(format!("{:?} is not a lower-case DNS name", shorten(value)))
}

/// A value in a message, shortened when long.
fn shorten(value: &str) -> &str {
    let mut end = value.len().min(100);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sesame_api::httpproxy::{CookieDomainRewrite, CookiePathRewrite};

    fn policy(name: &str) -> CookieRewritePolicy {
        CookieRewritePolicy {
            name: Some(name.to_string()),
            secure: Some(true),
            ..Default::default()
        }
    }

    #[test]
    fn valid_policies_come_out_in_name_order() {
        let mut b = policy("b");
        b.path_rewrite = Some(CookiePathRewrite {
            value: Some("/app path".into()),
        });
        b.domain_rewrite = Some(CookieDomainRewrite {
            value: Some("a.example.com".into()),
        });
        b.same_site = Some("Lax".into());
        let out = cookie_rewrites("cookieRewritePolicies", &[b, policy("__Host-a")]).unwrap();
        assert_eq!(out[0].name, "__Host-a");
        assert_eq!(out[1].path.as_deref(), Some("/app path"));
        assert_eq!(out[1].same_site, Some(SameSite::Lax));
    }

    #[test]
    fn bad_names_values_duplicates_and_empty_policies_are_refused() {
        let with = |f: &dyn Fn(&mut CookieRewritePolicy)| {
            let mut p = policy("c");
            f(&mut p);
            cookie_rewrites("f", &[p])
        };
        for name in ["", "a b", "a;b", "a=b", "a\r\nb", "é", "a\"", "a,b"] {
            assert!(cookie_rewrites("f", &[policy(name)]).is_err(), "{name:?}");
        }
        for path in ["", "/a;b", "/a\nb", "/\u{7f}", "/é"] {
            let r = with(&|p| {
                p.path_rewrite = Some(CookiePathRewrite {
                    value: Some(path.into()),
                })
            });
            assert!(r.is_err(), "{path:?}");
        }
        for domain in [
            "", "A.com", "a..com", "-a.com", "a.com;x", "a_b.com", "a.com.",
        ] {
            let r = with(&|p| {
                p.domain_rewrite = Some(CookieDomainRewrite {
                    value: Some(domain.into()),
                })
            });
            assert!(r.is_err(), "{domain:?}");
        }
        for same_site in ["strict", "", "None; Secure"] {
            assert!(with(&|p| p.same_site = Some(same_site.into())).is_err());
        }
        assert!(with(&|p| p.secure = None).is_err(), "nothing rewritten");
        assert!(cookie_rewrites("f", &[policy("c"), policy("c")]).is_err());
    }
}
