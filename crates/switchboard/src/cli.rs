//! The command line: `serve`, `config`, `dead-letters` and `loadtest`.

use crate::app;
use crate::config::{Config, DEFAULT_TOML, LogFormat};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard_core::clock::rfc3339;
use switchboard_core::{Clock, TenantId};
use switchboard_store::Store;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Multi-tenant, multi-channel conversational AI platform"
)]
struct Cli {
    /// Configuration file (TOML); see `switchboard config default`.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides `store.data_dir`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on (overrides `server.listen`).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Show configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Inspect and replay turns that failed for good.
    #[command(name = "dead-letters")]
    DeadLetters {
        #[command(subcommand)]
        command: DeadLetterCommand,
    },
    /// Drive a running server over HTTP and report throughput and latency.
    Loadtest(crate::loadtest::Args),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the documented default configuration.
    Default,
    /// Print the effective configuration (defaults, file, environment, flags).
    Show,
}

#[derive(Subcommand)]
enum DeadLetterCommand {
    /// List dead letters not yet replayed.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back in the queue. A running server picks them up within
    /// `queue.poll_interval_ms`; otherwise the next `serve` does.
    Replay {
        /// Dead letter ids (see `list`).
        ids: Vec<i64>,
        /// Replay every dead letter (of `--tenant` if given).
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Config {
        command: ConfigCommand::Default,
    } = cli.command
    {
        print!("{DEFAULT_TOML}");
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.store.data_dir = dir;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        Command::Config {
            command: ConfigCommand::Default,
        } => unreachable!("handled above"),
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print!("{}", toml::to_string(&config).context("rendering the configuration")?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { listen } => {
            if let Some(addr) = listen {
                config.server.listen = addr;
            }
            init_logging(&config);
            runtime.block_on(serve(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DeadLetters { command } => runtime.block_on(dead_letters(&config, command)),
        Command::Loadtest(args) => runtime.block_on(crate::loadtest::run(args)),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!(
        "Switchboard listening on http://{}/ (data in {})",
        listener.local_addr()?,
        config.store.data_dir.display()
    );
    app::run(config, listener, shutdown_signal()).await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn dead_letters(config: &Config, command: DeadLetterCommand) -> anyhow::Result<ExitCode> {
    let store = app::open_store(config, Clock::System)?;
    let tenant_filter = |t: &Option<String>| -> anyhow::Result<Option<TenantId>> {
        t.as_deref()
            .map(|t| TenantId::parse(t).map_err(anyhow::Error::from))
            .transpose()
    };
    let result = match command {
        DeadLetterCommand::List { tenant, limit, json } => {
            let tenant = tenant_filter(&tenant)?;
            let list = store.dead_letters(tenant.as_ref(), limit).await?;
            if json {
                for dl in &list {
                    println!("{}", serde_json::to_string(dl)?);
                }
            } else if list.is_empty() {
                println!("no dead letters");
            } else {
                println!(
                    "{:<6} {:<16} {:<36} {:>8}  {:<24}  error",
                    "id", "tenant", "message", "attempts", "failed at"
                );
                for dl in &list {
                    println!(
                        "{:<6} {:<16} {:<36} {:>8}  {:<24}  {}",
                        dl.id,
                        dl.tenant,
                        dl.message,
                        dl.attempts,
                        rfc3339(dl.failed_at),
                        dl.last_error.lines().next().unwrap_or("")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        DeadLetterCommand::Replay { ids, all, tenant } => {
            let tenant = tenant_filter(&tenant)?;
            if ids.is_empty() && !all {
                anyhow::bail!("name the dead letters to replay, or pass --all");
            }
            let pending = store.dead_letters(tenant.as_ref(), u32::MAX).await?;
            let mut failed = false;
            let chosen: Vec<_> = if all { pending.iter().collect() } else { Vec::new() };
            let mut todo: Vec<(i64, Option<&switchboard_store::DeadLetter>)> =
                chosen.into_iter().map(|d| (d.id, Some(d))).collect();
            for id in ids {
                todo.push((id, pending.iter().find(|d| d.id == id)));
            }
            for (id, dl) in todo {
                let Some(dl) = dl else {
                    eprintln!("dead letter {id}: not found (or already replayed)");
                    failed = true;
                    continue;
                };
                let job = store.replay_dead_letter(&dl.tenant, id).await?;
                println!("replayed dead letter {id} (message {}) as job {}", dl.message, job.id);
            }
            if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
    };
    store.close();
    Ok(result)
}
