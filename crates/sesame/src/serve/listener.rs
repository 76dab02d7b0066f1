//! The ingress listener settings of `sesame serve`: the access log flags, and the
//! configuration file's `timeouts:`, access log, `network:` and `tls.cipher-suites` keys turned
//! into [`ListenerSettings`].

use anyhow::Context;
use clap::Args;
use sesame_api::Config;
use sesame_api::config::{AccessLogFormat as FileFormat, TimeoutParameters};
use sesame_dag::dag::Timeout;
use sesame_envoy::accesslog::{AccessLog, AccessLogFormat};
use sesame_envoy::global_rate_limit::RateLimitSettings;
use sesame_envoy::{HttpTimeouts, ListenerSettings};

/// Access log flags of `sesame serve`, with Contour's names and defaults.
#[derive(Debug, Args)]
pub struct AccessLogArgs {
    /// Access log format, `envoy` or `json` (overrides the config file's `accesslog-format`).
    #[arg(long, value_name = "envoy|json")]
    pub accesslog_format: Option<FileFormat>,
    /// The file Envoy writes the access log of its plain-HTTP listener to.
    #[arg(long, value_name = "PATH", default_value = "/dev/stdout")]
    pub envoy_http_access_log: String,
    /// The file Envoy writes the access log of its HTTPS listener to.
    #[arg(long, value_name = "PATH", default_value = "/dev/stdout")]
    pub envoy_https_access_log: String,
}

impl AccessLogArgs {
    /// The ingress listener settings: the configuration file's, the access log flags, and
    /// [`ListenerSettings::default`] for what neither sets.
    pub fn listener_settings(&self, config: &Config) -> anyhow::Result<ListenerSettings> {
        let defaults = ListenerSettings::default();
        let format = match self
            .accesslog_format
            .unwrap_or_else(|| config.access_log_format())
        {
            FileFormat::Envoy => AccessLogFormat::Envoy,
            FileFormat::Json => AccessLogFormat::Json(config.json_fields()),
        };
        Ok(ListenerSettings {
            timeouts: http_timeouts(&config.timeouts, defaults.timeouts)?,
            num_trusted_hops: config.network.num_trusted_hops(),
            access_log: AccessLog {
                format,
                http_path: self.envoy_http_access_log.clone(),
                https_path: self.envoy_https_access_log.clone(),
            },
            admin_port: config.network.admin_port(),
            cipher_suites: config.cipher_suites().unwrap_or(defaults.cipher_suites),
            rate_limit: rate_limit_settings(config),
        })
    }
}

/// How Envoy calls the config file's rate limit service, if one is named.
pub(crate) fn rate_limit_settings(config: &Config) -> Option<RateLimitSettings> {
    let rls = config.rate_limit_service.as_ref()?;
    // Checked by Config::validate.
    let (namespace, name) = rls.extension_service()?;
    Some(RateLimitSettings {
        fail_open: rls.fail_open,
        x_rate_limit_headers: rls.enable_x_rate_limit_headers,
        resource_exhausted: rls.enable_resource_exhausted_code,
        ..RateLimitSettings::new(namespace, name, &rls.domain)
    })
}

/// The file's timeouts, each over its default.
fn http_timeouts(file: &TimeoutParameters, defaults: HttpTimeouts) -> anyhow::Result<HttpTimeouts> {
    let timeout = |value: &Option<String>, default: Option<Timeout>| match value {
        None => Ok(default),
        Some(v) => Timeout::parse(v)
            .map(Some)
            .with_context(|| format!("config timeouts: {v:?}")),
    };
    Ok(HttpTimeouts {
        request_timeout: timeout(&file.request_timeout, defaults.request_timeout)?,
        connection_idle_timeout: timeout(
            &file.connection_idle_timeout,
            defaults.connection_idle_timeout,
        )?,
        stream_idle_timeout: timeout(&file.stream_idle_timeout, defaults.stream_idle_timeout)?,
        max_connection_duration: timeout(
            &file.max_connection_duration,
            defaults.max_connection_duration,
        )?,
        delayed_close_timeout: timeout(
            &file.delayed_close_timeout,
            defaults.delayed_close_timeout,
        )?,
        connection_shutdown_grace_period: timeout(
            &file.connection_shutdown_grace_period,
            defaults.connection_shutdown_grace_period,
        )?,
    })
}

#[cfg(test)]
mod tests;
