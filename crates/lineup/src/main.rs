//! The Lineup binary: `lineup serve | demo | migrate | admin ... | sim`.
//!
//! It owns process concerns only: configuration, logging, opening the store, composing the API
//! and shutting down gracefully. Rules live in `lineup-domain`, HTTP in `lineup-api`.

mod admin;
mod config;
mod demo;
mod serve;
mod sim;
mod storage;
mod workers;

use clap::{Parser, Subcommand};

use config::{CliOverrides, Config};

#[derive(Parser)]
#[command(name = "lineup", version, about = "Call-centre and walk-in queues on top of 3CX")]
struct Cli {
    /// TOML configuration file (values there are overridden by LINEUP_* variables and flags).
    #[arg(long, global = true, env = "LINEUP_CONFIG")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    overrides: CliOverrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server and the ingestion workers (unless --no-workers).
    Serve,
    /// Run only the ingestion workers (with /healthz, /readyz and /metrics on --listen).
    Worker {
        /// Which workers to run.
        #[arg(long, value_enum, default_value = "all")]
        role: workers::WorkerRole,
    },
    /// Run a self-contained demo: SQLite, seeded queues, live traffic, the API.
    Demo,
    /// Apply database migrations and exit.
    Migrate,
    /// Operator set-up: tenants, users, API keys, secret keys.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Run the 3CX simulator alone: seeded call-centre traffic behind an XAPI (listens on 127.0.0.1:5080).
    Sim(sim::SimArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let demo = matches!(cli.command, Command::Demo);
    let listen_flag = cli.overrides.listen;
    let config = Config::load(cli.config.as_deref(), cli.overrides, demo)?;
    config::init_tracing(&config);
    match cli.command {
        Command::Serve => serve::run(config, None).await,
        Command::Worker { role } => workers::run_alone(config, role).await,
        Command::Demo => demo::run(config).await,
        Command::Migrate => {
            let store = storage::open(&config.database_url).await?;
            store.migrate().await?;
            tracing::info!(database = %storage::redact(&config.database_url), "migrations applied");
            Ok(())
        }
        Command::Admin { command: command @ admin::AdminCommand::GenerateSecretKey { .. } } => {
            admin::run_offline(command)
        }
        Command::Admin { command } => admin::run(serve::open_migrated(&config).await?, command).await,
        Command::Sim(args) => sim::run(args, listen_flag).await,
    }
}
