//! Configuration: defaults, then a TOML file, then `LINEUP_*` environment variables and flags.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use uuid::Uuid;

/// The tenant a single-office install (and the demo) works in until accounts exist.
pub const DEFAULT_TENANT: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);

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
    tenant_id: Option<Uuid>,
    max_connections: Option<u32>,
    sse_keepalive_secs: Option<u64>,
    sse_poll_millis: Option<u64>,
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    pub tenant_id: Uuid,
    pub max_connections: u32,
    pub sse_keepalive_secs: u64,
    pub sse_poll_millis: u64,
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
        Ok(Config {
            database_url: cli.database_url.or(file.database_url).unwrap_or_else(|| default_db.to_string()),
            listen: cli.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            log_format: cli.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            tenant_id: file.tenant_id.unwrap_or(DEFAULT_TENANT),
            max_connections: file.max_connections.unwrap_or(16),
            sse_keepalive_secs: file.sse_keepalive_secs.unwrap_or(15),
            sse_poll_millis: file.sse_poll_millis.unwrap_or(1000),
        })
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
        assert_eq!(defaults.tenant_id, DEFAULT_TENANT);
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
