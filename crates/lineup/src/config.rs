//! Configuration: defaults, then a TOML file, then `LINEUP_*` environment variables and flags.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use lineup_api::{ApiConfig, Rate, RateLimits};
use lineup_security::{SecretBox, SecretKey};
use serde::Deserialize;
#[cfg(test)]
use uuid::Uuid;

/// Flags that override the file; each also reads its `LINEUP_*` variable.
#[derive(clap::Args, Default)]
pub struct CliOverrides {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    #[arg(long, global = true, env = "LINEUP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long, global = true, env = "LINEUP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// `text` or `json` logs.
    #[arg(long, global = true, env = "LINEUP_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Keys that encrypt stored third-party secrets, `<id>:<base64 of 32 bytes>`, comma-separated;
    /// the first seals, all open (see `lineup admin generate-secret-key`).
    #[arg(long, global = true, env = "LINEUP_SECRET_KEYS", value_delimiter = ',', hide_env_values = true)]
    pub secret_keys: Option<Vec<String>>,
    /// Turn every rate limit off (benchmarks, load tests).
    #[arg(long, global = true, env = "LINEUP_NO_RATE_LIMITS")]
    pub no_rate_limits: bool,
    /// `lineup serve` without the ingestion workers (API only; run `lineup worker` elsewhere).
    #[arg(long, global = true, env = "LINEUP_NO_WORKERS")]
    pub no_workers: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The file's shape: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    max_connections: Option<u32>,
    sse_keepalive_secs: Option<u64>,
    sse_poll_millis: Option<u64>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    stream_ticket_ttl_secs: Option<u64>,
    body_limit_bytes: Option<usize>,
    cors_allowed_origins: Option<Vec<String>>,
    trust_forwarded_for: Option<bool>,
    hsts: Option<bool>,
    secret_keys: Option<Vec<String>>,
    #[serde(default)]
    rate_limits: FileRateLimits,
    #[serde(default)]
    workers: FileWorkers,
    #[serde(default)]
    live: FileLive,
}

/// `[live]`: the live channels (SSE and WebSocket).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileLive {
    /// Most messages per second one channel sends (changes in between are coalesced).
    max_rate_per_second: Option<u32>,
    /// Deltas kept per channel for clients that resume.
    history: Option<usize>,
    /// Deltas buffered per subscriber before it falls behind (and resyncs with a snapshot).
    subscriber_buffer: Option<usize>,
    /// Live subscriptions one user or API key may hold at once.
    max_subscriptions_per_user: Option<usize>,
    /// Service level threshold of the live "today" figures, in seconds.
    service_level_threshold_secs: Option<u64>,
    /// Seconds an agent shows as wrapping up after a call.
    wrap_up_secs: Option<u64>,
    /// Longest wait between two reads of the outbox when no change is announced, in ms.
    poll_millis: Option<u64>,
}

impl FileLive {
    fn merge(self, d: lineup_api::live::LiveSettings) -> anyhow::Result<lineup_api::live::LiveSettings> {
        let rate = self.max_rate_per_second.unwrap_or(d.hub.max_rate_per_second);
        if rate == 0 {
            bail!("live.max_rate_per_second must be at least 1");
        }
        let hub = lineup_live::LiveConfig {
            max_rate_per_second: rate,
            history: self.history.unwrap_or(d.hub.history),
            subscriber_buffer: self.subscriber_buffer.unwrap_or(d.hub.subscriber_buffer).max(1),
            service_level_threshold: self
                .service_level_threshold_secs
                .map(Duration::from_secs)
                .unwrap_or(d.hub.service_level_threshold),
            wrap_up: self.wrap_up_secs.map(Duration::from_secs).unwrap_or(d.hub.wrap_up),
        };
        Ok(lineup_api::live::LiveSettings {
            hub,
            max_subscriptions_per_user: self.max_subscriptions_per_user.unwrap_or(d.max_subscriptions_per_user),
            poll_every: self.poll_millis.map(Duration::from_millis).unwrap_or(d.poll_every),
            ..d
        })
    }
}

/// `[workers]`: the ingestion workers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileWorkers {
    /// Whether `lineup serve` runs them (default true).
    enabled: Option<bool>,
    /// This node's name in connection leases (default: host, pid and a random suffix).
    node_id: Option<String>,
    /// Cron schedule (seconds first, UTC) of the `CallHistoryView` reconciler.
    history_schedule: Option<String>,
    /// Cron schedule of the `ReportCallLogData` reconciler.
    call_log_schedule: Option<String>,
    /// Seconds a PBX connection lease lives without renewal (fail-over time).
    lease_ttl_secs: Option<u64>,
    /// Minutes each history read overlaps the previous one.
    history_overlap_minutes: Option<i64>,
    /// Attempts of an inbox message before it is dead-lettered.
    inbox_max_attempts: Option<u32>,
    /// Analytics: the service-level answer threshold tallies count with, in seconds.
    service_level_secs: Option<u32>,
    /// Analytics: abandoned calls that waited less than this many seconds are short abandons.
    short_abandon_secs: Option<u32>,
}

/// `[rate_limits]`: a rate of 0 turns that limit off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
struct FileRateLimits {
    per_ip_per_second: Option<f64>,
    per_ip_burst: Option<u32>,
    per_principal_per_second: Option<f64>,
    per_principal_burst: Option<u32>,
    login_per_username_per_minute: Option<u32>,
    login_per_ip_per_minute: Option<u32>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    pub max_connections: u32,
    /// The HTTP API's settings (streams, tokens, limits, CORS, headers).
    pub api: ApiConfig,
    /// Secret keys as given (`<id>:<base64>`), primary first; checked by `load`.
    pub secret_keys: Vec<String>,
    /// Whether `lineup serve` runs the ingestion workers.
    pub run_workers: bool,
    /// The workers' settings.
    pub workers: lineup_workers::SupervisorConfig,
}

impl Config {
    /// Merges defaults, the optional file and the overrides. The demo defaults to its own SQLite file.
    pub fn load(file: Option<&Path>, cli: CliOverrides, demo: bool) -> anyhow::Result<Config> {
        let file: FileConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let default_db = if demo { "sqlite://lineup-demo.db" } else { "sqlite://lineup.db" };
        let defaults = ApiConfig::default();
        let secs = |v: Option<u64>, d: Duration| v.map(Duration::from_secs).unwrap_or(d);
        let mut cors = Vec::new();
        for origin in file.cors_allowed_origins.unwrap_or_default() {
            match axum::http::HeaderValue::from_str(&origin) {
                Ok(v) if origin.starts_with("http://") || origin.starts_with("https://") => cors.push(v),
                _ => bail!("cors_allowed_origins: '{origin}' is not an origin like https://example.com"),
            }
        }
        let rate_limits =
            if cli.no_rate_limits { RateLimits::off() } else { file.rate_limits.merge(defaults.rate_limits) };
        let api = ApiConfig {
            sse_keepalive: secs(file.sse_keepalive_secs, defaults.sse_keepalive),
            sse_poll_interval: file.sse_poll_millis.map(Duration::from_millis).unwrap_or(defaults.sse_poll_interval),
            access_token_ttl: secs(file.access_token_ttl_secs, defaults.access_token_ttl),
            refresh_token_ttl: secs(file.refresh_token_ttl_secs, defaults.refresh_token_ttl),
            stream_ticket_ttl: secs(file.stream_ticket_ttl_secs, defaults.stream_ticket_ttl),
            rate_limits,
            body_limit_bytes: file.body_limit_bytes.unwrap_or(defaults.body_limit_bytes),
            cors_allowed_origins: cors,
            trust_forwarded_for: file.trust_forwarded_for.unwrap_or(defaults.trust_forwarded_for),
            hsts: file.hsts.unwrap_or(defaults.hsts),
            live: file.live.merge(defaults.live.clone())?,
        };
        let config = Config {
            database_url: cli.database_url.or(file.database_url).unwrap_or_else(|| default_db.to_string()),
            listen: cli.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            log_format: cli.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            max_connections: file.max_connections.unwrap_or(16),
            api,
            secret_keys: cli.secret_keys.or(file.secret_keys).unwrap_or_default(),
            run_workers: !cli.no_workers && file.workers.enabled.unwrap_or(true),
            workers: file.workers.into_supervisor()?,
        };
        config.secret_box()?;
        Ok(config)
    }

    /// The box that seals stored third-party secrets, or `None` when no key is configured.
    pub fn secret_box(&self) -> anyhow::Result<Option<SecretBox>> {
        let mut keys = self
            .secret_keys
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| SecretKey::parse(k).context("secret_keys"))
            .collect::<anyhow::Result<Vec<_>>>()?
            .into_iter();
        Ok(keys.next().map(|primary| SecretBox::new(primary, keys.collect())))
    }
}

impl FileWorkers {
    fn into_supervisor(self) -> anyhow::Result<lineup_workers::SupervisorConfig> {
        let mut c = lineup_workers::SupervisorConfig::default();
        if let Some(node) = self.node_id {
            c.node_id = node;
        }
        for (value, slot, name) in [
            (self.history_schedule, &mut c.reconciler.history_schedule, "workers.history_schedule"),
            (self.call_log_schedule, &mut c.reconciler.call_log_schedule, "workers.call_log_schedule"),
        ] {
            if let Some(schedule) = value {
                tokio_cron_scheduler::Job::new_async(schedule.as_str(), |_, _| Box::pin(async {}))
                    .map_err(|e| anyhow::anyhow!("{name}: '{schedule}' is not a cron schedule: {e}"))?;
                *slot = schedule;
            }
        }
        if let Some(ttl) = self.lease_ttl_secs {
            if !(3..=300).contains(&ttl) {
                bail!("workers.lease_ttl_secs: {ttl} is outside 3..=300");
            }
            c.lease_ttl = Duration::from_secs(ttl);
        }
        if let Some(minutes) = self.history_overlap_minutes {
            if !(0..=24 * 60).contains(&minutes) {
                bail!("workers.history_overlap_minutes: {minutes} is outside 0..=1440");
            }
            c.reconciler.overlap = chrono::TimeDelta::minutes(minutes);
        }
        if let Some(attempts) = self.inbox_max_attempts {
            if attempts == 0 {
                bail!("workers.inbox_max_attempts: must be at least 1");
            }
            c.processor.retry.max_attempts = attempts;
        }
        for (value, slot, name) in [
            (self.service_level_secs, &mut c.analytics.rules.service_level_secs, "workers.service_level_secs"),
            (self.short_abandon_secs, &mut c.analytics.rules.short_abandon_secs, "workers.short_abandon_secs"),
        ] {
            if let Some(secs) = value {
                if secs > 3600 {
                    bail!("{name}: {secs} is outside 0..=3600");
                }
                *slot = secs;
            }
        }
        Ok(c)
    }
}

impl FileRateLimits {
    /// The file's limits over `defaults`; a rate of 0 turns a limit off.
    fn merge(self, defaults: RateLimits) -> RateLimits {
        fn rate(per_second: Option<f64>, burst: Option<u32>, default: Option<Rate>) -> Option<Rate> {
            let d = default.unwrap_or(Rate { per_second: 0.0, burst: 0 });
            let r = Rate { per_second: per_second.unwrap_or(d.per_second), burst: burst.unwrap_or(d.burst) };
            (r.per_second > 0.0 && r.burst > 0).then_some(r)
        }
        let per_minute = |n: Option<u32>, default: Option<Rate>| match n {
            Some(0) => None,
            Some(n) => Some(Rate::per_minute(n, n.clamp(1, 10))),
            None => default,
        };
        RateLimits {
            per_ip: rate(self.per_ip_per_second, self.per_ip_burst, defaults.per_ip),
            per_principal: rate(self.per_principal_per_second, self.per_principal_burst, defaults.per_principal),
            login_per_username: per_minute(self.login_per_username_per_minute, defaults.login_per_username),
            login_per_ip: per_minute(self.login_per_ip_per_minute, defaults.login_per_ip),
        }
    }
}

/// Starts structured logging; `RUST_LOG` filters (default `info`).
pub fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let dir = std::env::temp_dir().join(format!("lineup-config-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lineup.toml");
        std::fs::write(&path, "database_url = \"sqlite://file.db\"\nlisten = \"0.0.0.0:9000\"\nmax_connections = 4\n")
            .unwrap();
        let from_file = Config::load(Some(&path), CliOverrides::default(), false).unwrap();
        assert_eq!(from_file.database_url, "sqlite://file.db");
        assert_eq!(from_file.listen.port(), 9000);
        assert_eq!(from_file.max_connections, 4);
        let cli = CliOverrides { database_url: Some("postgres://x/y".into()), ..Default::default() };
        assert_eq!(Config::load(Some(&path), cli, false).unwrap().database_url, "postgres://x/y");
        let defaults = Config::load(None, CliOverrides::default(), true).unwrap();
        assert_eq!(defaults.database_url, "sqlite://lineup-demo.db");
        assert_eq!(defaults.api, ApiConfig::default());
    }

    #[test]
    fn security_settings_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("lineup-config-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lineup.toml");
        let key = SecretKey::generate("k1");
        std::fs::write(
            &path,
            format!(
                "access_token_ttl_secs = 60\ncors_allowed_origins = [\"https://wall.example.com\"]\nsecret_keys = [\"{key}\"]\n\
                 [rate_limits]\nper_ip_per_second = 0\nlogin_per_username_per_minute = 3\n"
            ),
        )
        .unwrap();
        let c = Config::load(Some(&path), CliOverrides::default(), false).unwrap();
        assert_eq!(c.api.access_token_ttl, Duration::from_secs(60));
        assert_eq!(c.api.cors_allowed_origins.len(), 1);
        assert_eq!(c.api.rate_limits.per_ip, None);
        assert_eq!(c.api.rate_limits.login_per_username, Some(Rate::per_minute(3, 3)));
        assert_eq!(c.api.rate_limits.per_principal, RateLimits::default().per_principal);
        assert_eq!(c.secret_box().unwrap().unwrap().seal("x", "c").split('.').nth(1), Some("k1"));

        std::fs::write(&path, "cors_allowed_origins = [\"*\"]\n").unwrap();
        assert!(Config::load(Some(&path), CliOverrides::default(), false).is_err());
        std::fs::write(&path, "secret_keys = [\"k1:tooshort\"]\n").unwrap();
        assert!(Config::load(Some(&path), CliOverrides::default(), false).is_err());
        let off = CliOverrides { no_rate_limits: true, ..Default::default() };
        assert_eq!(Config::load(None, off, false).unwrap().api.rate_limits, RateLimits::off());
    }

    #[test]
    fn the_example_deployment_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/lineup.example.toml");
        let c = Config::load(Some(&path), CliOverrides::default(), false).unwrap();
        assert_eq!(c.api.rate_limits, RateLimits::default(), "the example spells out the defaults");
        assert_eq!(c.api.live, lineup_api::live::LiveSettings::default(), "the example spells out the defaults");
        assert!(c.api.hsts && c.api.trust_forwarded_for);
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let dir = std::env::temp_dir().join(format!("lineup-config-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "databse_url = \"typo\"\n").unwrap();
        assert!(Config::load(Some(&path), CliOverrides::default(), false).is_err());
    }
}
