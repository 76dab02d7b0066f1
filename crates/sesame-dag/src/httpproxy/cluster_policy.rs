//! The policies of an HTTPProxy that shape a service's cluster rather than its route: the timing
//! of health checks (HTTP for routes, TCP for TCP proxies) and slow start, each checked so Envoy
//! never refuses it.

use std::time::Duration;

use sesame_api::duration::parse_duration;
use sesame_api::httpproxy::{SlowStartPolicy, TcpHealthCheckPolicy};

use crate::dag::{HealthCheck, HealthChecker, LbPolicy, SlowStart};

/// The longest health check interval or timeout accepted, in seconds (a day).
const MAX_HEALTH_CHECK_SECONDS: i64 = 86_400;

/// The largest health check threshold accepted.
const MAX_HEALTH_CHECK_COUNT: i64 = 1000;

/// The longest slow start window accepted (a day): Envoy takes any proto duration, but a ramp
/// longer than this is a typo, not a plan.
const MAX_SLOW_START_WINDOW: Duration = Duration::from_secs(86_400);

/// The largest aggression accepted: Envoy raises the time factor to `1 / aggression`, so past
/// this the ramp is a step anyway.
const MAX_AGGRESSION: f64 = 1000.0;

/// The timing fields of a `healthCheckPolicy`, HTTP or TCP.
pub(super) struct HealthCheckTiming {
    /// `intervalSeconds`.
    pub interval_seconds: Option<i64>,
    /// `timeoutSeconds`.
    pub timeout_seconds: Option<i64>,
    /// `unhealthyThresholdCount`.
    pub unhealthy_threshold_count: Option<i64>,
    /// `healthyThresholdCount`.
    pub healthy_threshold_count: Option<i64>,
}

impl HealthCheckTiming {
    /// Sets the check's timing from these fields: absent or `0` keeps Contour's default, and a
    /// value out of range is an error naming the `healthCheckPolicy` field.
    pub(super) fn apply(&self, hc: &mut HealthCheck) -> Result<(), String> {
        let seconds = |field: &str, value: Option<i64>, default: Duration| match value {
            None | Some(0) => Ok(default),
            Some(s @ 1..=MAX_HEALTH_CHECK_SECONDS) => Ok(Duration::from_secs(s as u64)),
            Some(s) => Err(format!(
                "healthCheckPolicy.{field} {s} is not from 1 to {MAX_HEALTH_CHECK_SECONDS}"
            )),
        };
        let count = |field: &str, value: Option<i64>, default: u32| match value {
            None | Some(0) => Ok(default),
            Some(n @ 1..=MAX_HEALTH_CHECK_COUNT) => Ok(n as u32),
            Some(n) => Err(format!(
                "healthCheckPolicy.{field} {n} is not from 1 to {MAX_HEALTH_CHECK_COUNT}"
            )),
        };
        hc.interval = seconds("intervalSeconds", self.interval_seconds, hc.interval)?;
        hc.timeout = seconds("timeoutSeconds", self.timeout_seconds, hc.timeout)?;
        hc.unhealthy_threshold = count(
            "unhealthyThresholdCount",
            self.unhealthy_threshold_count,
            hc.unhealthy_threshold,
        )?;
        hc.healthy_threshold = count(
            "healthyThresholdCount",
            self.healthy_threshold_count,
            hc.healthy_threshold,
        )?;
        Ok(())
    }
}

/// The TCP health check of a `tcpproxy`: a connection Envoy must be able to open, with the
/// same timing fields and defaults as an HTTP check.
pub(super) fn tcp_health_check(p: &TcpHealthCheckPolicy) -> Result<HealthCheck, String> {
    let mut hc = HealthCheck::new(HealthChecker::Tcp);
    HealthCheckTiming {
        interval_seconds: p.interval_seconds,
        timeout_seconds: p.timeout_seconds,
        unhealthy_threshold_count: p.unhealthy_threshold_count,
        healthy_threshold_count: p.healthy_threshold_count,
    }
    .apply(&mut hc)?;
    Ok(hc)
}

/// The slow start of a service, as Contour: `window` is a Go duration and required,
/// `aggression` a decimal (default `1.0`) and `minWeightPercent` 0–100 (default 10); only round
/// robin and least request balance with it. The error reads after the service's name.
pub(super) fn slow_start(p: &SlowStartPolicy, lb_policy: LbPolicy) -> Result<SlowStart, String> {
    if !matches!(lb_policy, LbPolicy::RoundRobin | LbPolicy::LeastRequest) {
        return Err(
            "slow start is only supported with RoundRobin or WeightedLeastRequest load balancer strategy"
                .to_string(),
        );
    }
    let window = match p.window.as_deref().unwrap_or_default() {
        "" => return Err("slowStartPolicy.window is required".to_string()),
        w => {
            parse_duration(w).map_err(|e| format!("slowStartPolicy.window {:?}: {e}", shown(w)))?
        }
    };
    if window > MAX_SLOW_START_WINDOW {
        return Err(format!(
            "slowStartPolicy.window {:?} is longer than 24h",
            shown(p.window.as_deref().unwrap_or_default())
        ));
    }
    let aggression = match p.aggression.as_deref().unwrap_or_default() {
        "" => 1.0,
        a => parse_aggression(a).ok_or_else(|| {
            format!(
                "slowStartPolicy.aggression {:?} is not a decimal number greater than 0 and at most {MAX_AGGRESSION}",
                shown(a)
            )
        })?,
    };
    let min_weight_percent = match p.min_weight_percent {
        None => 10,
        Some(n @ 0..=100) => n as u32,
        Some(n) => {
            return Err(format!(
                "slowStartPolicy.minWeightPercent {n} is not from 0 to 100"
            ));
        }
    };
    Ok(SlowStart {
        window,
        aggression,
        min_weight_percent,
    })
}

/// An aggression as Contour's CRD pattern has it (`^([0-9]+([.][0-9]+)?|[.][0-9]+)$`: digits
/// with an optional fraction, no sign or exponent), greater than zero and not absurdly large.
fn parse_aggression(text: &str) -> Option<f64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let shaped = match fraction {
        None => digits(whole),
        Some(f) => digits(f) && (whole.is_empty() || digits(whole)),
    };
    if !shaped || text.len() > 32 {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (value > 0.0 && value <= MAX_AGGRESSION).then_some(value)
}

/// A user's value cut short for a message.
fn shown(value: &str) -> String {
    value.chars().take(64).collect()
}
