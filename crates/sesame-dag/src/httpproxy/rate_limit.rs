//! The rate limit policies of a virtual host or a route: the local limit, checked so Envoy never
//! refuses it (the global one is checked by [`crate::global_rate_limit`]).

use std::time::Duration;

use sesame_api::httpproxy::{LocalRateLimitPolicy, RateLimitPolicy};

use super::header::{self, Direction};
use crate::dag::{LocalRateLimit, RATE_LIMIT_STATUS_CODES};

/// The local rate limit of `policy` (the policy at `field`, for messages), or `None` when it
/// sets none.
pub(super) fn local_limit(
    field: &str,
    policy: Option<&RateLimitPolicy>,
) -> Result<Option<LocalRateLimit>, String> {
    let Some(policy) = policy else {
        return Ok(None);
    };
    policy
        .local
        .as_ref()
        .map(|local| local_rate_limit(&format!("{field}.local"), local))
        .transpose()
}

/// A validated local rate limit: `requests` per `unit` plus `burst`.
fn local_rate_limit(field: &str, p: &LocalRateLimitPolicy) -> Result<LocalRateLimit, String> {
    let requests = match p.requests {
        Some(n @ 1..=0xffff_ffff) => n as u32,
        other => {
            return Err(format!(
                "{field}.requests {} is not from 1 to 4294967295",
                shown(other)
            ));
        }
    };
    let fill_interval = match p.unit.as_deref().unwrap_or_default() {
        "second" => Duration::from_secs(1),
        "minute" => Duration::from_secs(60),
        "hour" => Duration::from_secs(3600),
        other => {
            let other: String = other.chars().take(64).collect();
            return Err(format!(
                "{field}.unit {other:?} is not second, minute or hour"
            ));
        }
    };
    let max_tokens = match p.burst {
        None => Some(requests),
        Some(burst @ 0..=0xffff_ffff) => requests.checked_add(burst as u32),
        Some(_) => None,
    };
    let Some(max_tokens) = max_tokens else {
        return Err(format!(
            "{field}.burst {} must be from 0 to 4294967295 minus requests",
            shown(p.burst)
        ));
    };
    let status = match p.response_status_code {
        None | Some(0) => None,
        Some(code) => match u16::try_from(code) {
            Ok(code) if RATE_LIMIT_STATUS_CODES.contains(&code) => Some(code),
            _ => {
                return Err(format!(
                    "{field}.responseStatusCode {code} is not a 4xx or 5xx status Envoy knows"
                ));
            }
        },
    };
    let (response_headers, _) = header::set_headers(
        &format!("{field}.responseHeadersToAdd"),
        &p.response_headers_to_add,
        Direction::Response,
        None,
    )?;
    Ok(LocalRateLimit {
        max_tokens,
        tokens_per_fill: requests,
        fill_interval,
        status,
        response_headers,
    })
}

/// An optional number, for a message.
fn shown(value: Option<i64>) -> String {
    value.map_or("(none)".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use sesame_api::httpproxy::HeaderValue;

    use super::*;

    fn local(requests: i64, unit: &str) -> LocalRateLimitPolicy {
        LocalRateLimitPolicy {
            requests: Some(requests),
            unit: Some(unit.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_bucket_holds_requests_plus_burst_refilled_each_unit() {
        let mut p = local(5, "minute");
        p.burst = Some(3);
        p.response_status_code = Some(503);
        p.response_headers_to_add = vec![HeaderValue {
            name: Some("X-Limited".into()),
            value: Some("yes".into()),
        }];
        let limit = local_rate_limit("rateLimitPolicy.local", &p).unwrap();
        assert_eq!(limit.max_tokens, 8);
        assert_eq!(limit.tokens_per_fill, 5);
        assert_eq!(limit.fill_interval, Duration::from_secs(60));
        assert_eq!(limit.status, Some(503));
        assert_eq!(
            limit.response_headers.set,
            vec![("x-limited".to_string(), "yes".into())]
        );
    }

    #[test]
    fn values_envoy_would_refuse_are_errors_naming_the_field() {
        let with = |f: &dyn Fn(&mut LocalRateLimitPolicy)| {
            let mut p = local(1, "second");
            f(&mut p);
            local_rate_limit("rateLimitPolicy.local", &p).unwrap_err()
        };
        let header = |name: &str, value: &str| HeaderValue {
            name: Some(name.into()),
            value: Some(value.into()),
        };
        for (err, needle) in [
            (with(&|p| p.requests = Some(0)), "requests 0"),
            (with(&|p| p.requests = None), "requests (none)"),
            (with(&|p| p.requests = Some(1 << 32)), "requests 4294967296"),
            (
                with(&|p| p.unit = Some("fortnight".into())),
                "unit \"fortnight\"",
            ),
            (with(&|p| p.burst = Some(-1)), "burst -1"),
            (with(&|p| p.burst = Some(0xffff_ffff)), "burst 4294967295"),
            (
                with(&|p| p.response_status_code = Some(399)),
                "responseStatusCode 399",
            ),
            (
                with(&|p| p.response_status_code = Some(499)),
                "responseStatusCode 499",
            ),
            (
                with(&|p| p.response_headers_to_add = vec![header("x a", "v")]),
                "responseHeadersToAdd",
            ),
            (
                with(&|p| p.response_headers_to_add = vec![header("x-a", "v\r\nx-b: 1")]),
                "responseHeadersToAdd \"x-a\"",
            ),
            (
                with(&|p| p.response_headers_to_add = vec![header("x-a", "1"), header("X-A", "2")]),
                "duplicate header",
            ),
            (
                with(&|p| p.response_headers_to_add = vec![header("Host", "a")]),
                "Host",
            ),
        ] {
            assert!(err.contains("rateLimitPolicy.local."), "{err}");
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
