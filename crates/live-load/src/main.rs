//! `lineup-live-load`: the command line of the live-hub load generator (see the library).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use lineup_live_load::units::{parse_duration, parse_rate};
use lineup_live_load::{login, render, render_comparison, run_lineup, run_nchan, LineupRun, NchanRun, Pacing, Report};

#[derive(Parser)]
#[command(version, about = "Load generator for Lineup's live hub, and the same measurement against nchan")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Subscribe to Lineup's live hub with SSE and WebSocket clients and measure delivery.
    Run(RunArgs),
    /// Subscribe to nchan with SSE clients, publish deltas at a fixed rate and measure delivery.
    Nchan(NchanArgs),
    /// Print two JSON reports side by side with the ratios first / second.
    Compare { first: PathBuf, second: PathBuf },
}

/// Pacing options shared by both measurements.
#[derive(Args)]
struct PacingArgs {
    /// Length of the measurement window.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// New connections per second while ramping up.
    #[arg(long, default_value = "2000/s", value_parser = parse_rate)]
    ramp: f64,
    /// Quiet time after the last connection before memory is read and the window opens.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    settle: Duration,
    /// How long one connection may take to open.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// The server's pid: its RSS (with its children's) is read before, when idle and at the end.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

impl PacingArgs {
    fn pacing(&self, drain: Duration) -> Pacing {
        Pacing {
            ramp_per_sec: self.ramp,
            connect_timeout: self.connect_timeout,
            settle: self.settle,
            duration: self.duration,
            drain,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// Bearer tokens, comma-separated, used by the connections in turn (the hub limits
    /// subscriptions per user); otherwise --username and --password sign in.
    #[arg(long, env = "LINEUP_LIVE_TOKEN", hide_env_values = true, value_delimiter = ',')]
    token: Vec<String>,
    /// Signs in with this username (alias --email) and --password when no --token is given.
    #[arg(long, alias = "email")]
    username: Option<String>,
    #[arg(long, env = "LINEUP_LIVE_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The tenant to sign in to, when the account belongs to several.
    #[arg(long)]
    tenant: Option<String>,
    /// SSE subscribers.
    #[arg(long, default_value_t = 0)]
    sse: u64,
    /// WebSocket connections.
    #[arg(long, default_value_t = 0)]
    ws: u64,
    /// Channels, comma-separated: queue:<uuid>, overview, agent:<dn>; when none are given, the
    /// overview and every active queue of the tenant (listed with the first token).
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
    /// Channels each WebSocket connection subscribes to.
    #[arg(long, default_value_t = 1)]
    ws_channels_per_conn: u64,
    #[command(flatten)]
    pacing: PacingArgs,
}

#[derive(Args)]
struct NchanArgs {
    /// nginx's base URL (locations /pub/<channel> and /sub/<channel>).
    #[arg(long, default_value = "http://127.0.0.1:8090")]
    url: String,
    #[arg(long, default_value_t = 1000)]
    subscribers: u64,
    /// How many channels (bench-0, bench-1, ...) the subscribers are spread over.
    #[arg(long, default_value_t = 1)]
    channels: u64,
    /// Messages published per second to each channel.
    #[arg(long, default_value = "4/s", value_parser = parse_rate)]
    rate: f64,
    /// Match a Lineup run's JSON report: as many subscribers (subscriptions) over as many
    /// channels, each channel published at the rate each Lineup subscription received deltas, so
    /// nchan delivers as many messages per second as Lineup did. Overrides the three options above.
    #[arg(long)]
    like: Option<PathBuf>,
    /// Recording time after the window for deliveries still in flight.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    drain: Duration,
    #[command(flatten)]
    pacing: PacingArgs,
}

fn write_json(path: &Path, report: &Report) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
}

fn read_report(path: &Path) -> anyhow::Result<Report> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a report", path.display()))
}

/// Prints the report and writes its JSON; a run in which no connection opened is an error.
fn finish(report: &Report, json: Option<&Path>) -> anyhow::Result<()> {
    print!("{}", render(report));
    if let Some(path) = json {
        write_json(path, report)?;
    }
    if report.connections_opened == 0 {
        bail!("no connection opened (see the error samples)");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => {
            if args.sse + args.ws == 0 {
                bail!("nothing to measure: give --sse and/or --ws");
            }
            let tokens = match (args.token.is_empty(), args.username, args.password) {
                (false, _, _) => args.token,
                (true, Some(username), Some(password)) => {
                    vec![login(&args.base, &username, &password, args.tenant.as_deref()).await?]
                }
                _ => bail!("give --token, or --username and --password"),
            };
            let channels = match args.channels.is_empty() {
                true => lineup_live_load::lineup::discover_channels(&args.base, &tokens[0]).await?,
                false => args.channels,
            };
            let run = LineupRun {
                base: args.base,
                tokens,
                sse: args.sse,
                ws: args.ws,
                channels,
                ws_channels_per_connection: args.ws_channels_per_conn,
                pacing: args.pacing.pacing(Duration::ZERO),
                server_pid: args.pacing.server_pid,
            };
            finish(&run_lineup(&run).await?, args.pacing.json.as_deref())
        }
        Command::Nchan(args) => {
            let (subscribers, channels, rate) = match &args.like {
                None => (args.subscribers, args.channels, args.rate),
                Some(path) => {
                    let lineup = read_report(path)?;
                    let rate = lineup.rate_per_subscription();
                    if rate <= 0.0 || lineup.channels.is_empty() {
                        bail!("{} delivered no deltas: nothing to match", path.display());
                    }
                    (lineup.subscriptions(), lineup.channels.len() as u64, rate)
                }
            };
            let run = NchanRun {
                url: args.url,
                subscribers,
                channels,
                rate_per_channel: rate,
                pacing: args.pacing.pacing(args.drain),
                server_pid: args.pacing.server_pid,
            };
            finish(&run_nchan(&run).await?, args.pacing.json.as_deref())
        }
        Command::Compare { first, second } => {
            print!("{}", render_comparison(&read_report(&first)?, &read_report(&second)?));
            Ok(())
        }
    }
}
