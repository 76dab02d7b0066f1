//! Config validation, and the election run against an API-server double.

use std::time::Duration;

use super::*;

mod election;
mod proxy;

fn config() -> LeaderElectionConfig {
    LeaderElectionConfig::new("sesame", "sesame-0")
}

fn config_error(config: &LeaderElectionConfig) -> String {
    match config.validate() {
        Err(Error::Config(message)) => message,
        other => format!("unexpected: {other:?}"),
    }
}

#[test]
fn defaults_are_client_gos() {
    let config = config();
    assert_eq!(config.lease_name, "leader-elect");
    assert_eq!(config.lease_duration, Duration::from_secs(15));
    assert_eq!(config.renew_deadline, Duration::from_secs(10));
    assert_eq!(config.retry_period, Duration::from_secs(2));
    assert!(config.validate().is_ok());
}

#[test]
fn lease_duration_must_exceed_renew_deadline() {
    let mut config = config();
    config.lease_duration = config.renew_deadline;
    assert_eq!(
        config_error(&config),
        "leaseDuration must be greater than renewDeadline"
    );
}

#[test]
fn renew_deadline_must_exceed_jittered_retry_period() {
    let mut config = config();
    config.retry_period = Duration::from_millis(8_400);
    assert_eq!(
        config_error(&config),
        "renewDeadline must be greater than retryPeriod*JitterFactor(1.2)"
    );
    // 10s / 1.2 = 8.333s.
    config.retry_period = Duration::from_millis(8_334);
    assert!(config.validate().is_err());
    config.retry_period = Duration::from_millis(8_333);
    assert!(config.validate().is_ok());
    config.retry_period = Duration::ZERO;
    assert_eq!(
        config_error(&config),
        "retryPeriod must be greater than zero"
    );
}

#[test]
fn names_must_be_set() {
    let mut empty_identity = config();
    empty_identity.identity.clear();
    assert_eq!(config_error(&empty_identity), "identity must not be empty");
    let mut empty_name = config();
    empty_name.lease_name.clear();
    assert_eq!(config_error(&empty_name), "lease name must not be empty");
    let mut empty_namespace = config();
    empty_namespace.namespace.clear();
    assert_eq!(
        config_error(&empty_namespace),
        "lease namespace must not be empty"
    );
}

#[tokio::test]
async fn jittered_wait_stays_within_twenty_percent() {
    let url = "http://127.0.0.1:9".parse().expect("url");
    let client = kube::Client::try_from(kube::Config::new(url)).expect("client");
    let (tx, _rx) = watch::channel(false);
    let mut election = Election::new(client, config(), tx);
    let waits: Vec<Duration> = (0..200).map(|_| election.wait()).collect();
    let period = Duration::from_secs(2);
    assert!(
        waits
            .iter()
            .all(|w| *w >= period && *w <= period.mul_f64(1.2))
    );
    assert!(waits.iter().any(|w| *w != waits[0]), "waits are jittered");
}
