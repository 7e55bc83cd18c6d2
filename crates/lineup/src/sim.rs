//! `lineup sim`: runs the 3CX simulator alone (the XAPI, its token endpoint and the `/sim/`
//! admin API) until SIGINT/SIGTERM, printing the base URL and the credentials to use.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use lineup_pbx_sim::model::SimConfig;
use lineup_pbx_sim::server::{self, SimServerConfig, TimeMode};

/// Where `lineup sim` listens unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5080";

/// The simulator's options (`--listen` is the global flag).
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// The seed of the simulated traffic: the same seed, start and scenario give the same calls.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated seconds per wall-clock second (60: an hour a minute); 0 stops the clock, which
    /// then moves only by `POST /sim/advance?seconds=..`.
    #[arg(long, default_value_t = 60.0)]
    time_scale: f64,
    /// The XAPI client id the token endpoint accepts.
    #[arg(long, default_value = SimServerConfig::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// The client secret it accepts.
    #[arg(long, default_value = SimServerConfig::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// A scenario file (JSON, or TOML when it ends in `.toml`) with queues, agents and traffic;
    /// the built-in five-queue call centre by default.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// The simulated start instant (RFC 3339); the current minute by default.
    #[arg(long)]
    start: Option<DateTime<Utc>>,
    /// Simulated seconds between a call's end and its appearance in the history and reports.
    #[arg(long, default_value_t = 30)]
    history_lag_secs: u32,
    /// Lifetime of an access token, wall-clock seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime_secs: u64,
}

/// Reads a scenario: TOML when the file name ends in `.toml`, JSON otherwise.
fn load_scenario(path: &Path) -> anyhow::Result<SimConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) {
        let config: SimConfig = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        config.validate().with_context(|| format!("checking {}", path.display()))?;
        config
    } else {
        SimConfig::from_json(&text).with_context(|| format!("reading {}", path.display()))?
    };
    Ok(config)
}

/// Runs the simulator until a shutdown signal.
pub async fn run(args: SimArgs, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => load_scenario(path)?,
        None => SimConfig::default(),
    };
    let now = Utc::now();
    let start = args.start.unwrap_or_else(|| now.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(now));
    let time = if args.time_scale > 0.0 { TimeMode::Scaled { factor: args.time_scale } } else { TimeMode::Manual };
    let config = SimServerConfig {
        listen: listen.unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("a valid address")),
        scenario,
        seed: args.seed,
        start,
        time,
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone(),
        token_lifetime: Duration::from_secs(args.token_lifetime_secs.max(1)),
        history_lag: TimeDelta::seconds(i64::from(args.history_lag_secs)),
        ..SimServerConfig::default()
    };
    let running = server::start(config).await.context("starting the simulator")?;
    let base = running.base_url();
    let clock = match time {
        TimeMode::Scaled { factor } => format!("{factor}x real time"),
        TimeMode::Manual => "stopped (POST /sim/advance?seconds=..)".to_string(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "3CX simulator listening on {base}")?;
    writeln!(out, "  XAPI:          {base}/xapi/v1")?;
    writeln!(out, "  token:         POST {base}/connect/token")?;
    writeln!(out, "  client id:     {}", args.client_id)?;
    writeln!(out, "  client secret: {}", args.client_secret)?;
    writeln!(out, "  seed {}, simulated start {start}, clock {clock}", args.seed)?;
    writeln!(out, "  admin:         {base}/sim/status, /sim/truth, /sim/faults, /sim/advance")?;
    out.flush()?;
    drop(out);
    crate::serve::shutdown_signal().await;
    running.stop().await.context("stopping the simulator")?;
    tracing::info!("simulator stopped");
    Ok(())
}
