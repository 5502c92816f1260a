//! The command line: `serve`, `config`, `dead-letters`, `connector`, `loadtest`, `chat`, `test`,
//! `nlu`, `kb`, `forms`, `assessment`, `feedback`, `user`, `tenant`, `apikey`, `handoff`, `consent`
//! and `migrate`.

use crate::app;
use crate::config::{Config, DEFAULT_TOML, LogFormat};
use anyhow::Context as _;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard_core::clock::rfc3339;
use switchboard_core::{Clock, TenantId};

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
    /// The database, e.g. sqlite://./data/switchboard.db (overrides `store.url`).
    #[arg(long = "store", global = true, value_name = "URL")]
    store: Option<String>,
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
    /// Manage a tenant's bot accounts on the platforms (secrets are stored encrypted).
    Connector {
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// Drive a running server over HTTP and report throughput and latency.
    Loadtest(crate::loadtest::Args),
    /// Add, list and search a tenant's knowledge documents; benchmark retrieval.
    Kb {
        #[command(subcommand)]
        command: crate::engine::knowledge::cli::KbCommand,
    },
    /// Talk to a bot in the terminal, through the same pipeline as every channel.
    Chat(crate::chat_cli::Args),
    /// Read completed forms.
    Forms {
        #[command(subcommand)]
        command: crate::engine::forms::cli::FormsCommand,
    },
    /// Run a bot's scripted conversation tests.
    Test {
        #[command(subcommand)]
        command: crate::convtest::TestCommand,
    },
    /// People who manage Switchboard (`user create` makes the first super admin).
    User {
        #[command(subcommand)]
        command: crate::admin_cli::UserCommand,
    },
    /// Tenants and their bots.
    Tenant {
        #[command(subcommand)]
        command: crate::admin_cli::TenantCommand,
    },
    /// The master key that seals integration secrets: `secrets rotate`.
    Secrets {
        #[command(subcommand)]
        command: crate::admin_cli::SecretsCommand,
    },
    /// API keys of a tenant.
    Apikey {
        #[command(subcommand)]
        command: crate::admin_cli::ApiKeyCommand,
    },
    /// Conversations handed to a person: list, take, reply as an agent, hand back.
    Handoff {
        #[command(subcommand)]
        command: crate::handoff::HandoffCommand,
    },
    /// The consent ledger: who agreed, refused, stopped or started, and when.
    Consent {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Results of finished assessments (questionnaires).
    Assessment {
        #[command(subcommand)]
        command: crate::engine::assessment::cli::AssessmentCommand,
    },
    /// Satisfaction scores, thumbs and comments.
    Feedback {
        #[command(subcommand)]
        command: crate::engine::assessment::cli::FeedbackCommand,
    },
    /// Evaluate, train and try the intent classifier.
    Nlu {
        #[command(subcommand)]
        command: crate::nlu_cli::NluCommand,
    },
    /// Copy a whole installation from SQLite into PostgreSQL; safe to run again.
    Migrate {
        /// The SQLite database to copy, e.g. sqlite://./data/switchboard.db.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The PostgreSQL database to copy into, e.g. postgres://switchboard@db/switchboard.
        /// Better given in the environment when it holds a password.
        #[arg(long, value_name = "URL", env = "SWITCHBOARD_MIGRATE_TO", hide_env_values = true)]
        to: String,
    },
}

#[derive(Subcommand)]
enum ConnectorCommand {
    /// Add a connector, or replace the one with the same id. Its webhook URL is
    /// `<public base URL>/v1/webhooks/<tenant>/<id>`.
    Add {
        #[arg(long)]
        tenant: String,
        /// Lowercase letters, digits and dashes; part of the webhook URL.
        #[arg(long)]
        id: String,
        /// telegram, whatsapp, messenger, slack, discord, teams, twilio or signal.
        #[arg(long)]
        channel: String,
        /// The bot's identity on the platform (bot id, phone number id, page id, team id,
        /// application id, app id, AccountSid, account number).
        #[arg(long)]
        account_id: String,
        /// A secret as name=value (repeat); `connector secrets <channel>` lists the names.
        #[arg(long = "secret", value_parser = key_value)]
        secrets: Vec<(String, String)>,
        /// A setting as name=value (repeat), e.g. api_base=https://api.telegram.org.
        #[arg(long = "setting", value_parser = key_value)]
        settings: Vec<(String, String)>,
    },
    /// List a tenant's connectors (secret names only, never values).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Remove a connector.
    Remove {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: String,
    },
    /// The secrets a channel's connector needs.
    Secrets { channel: String },
}

fn key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("{s:?} is not name=value"))?;
    Ok((k.trim().to_owned(), v.to_owned()))
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
    crate::runtime::tls::init();
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
    let keep_data = cli.data_dir.is_some() || cli.store.is_some();
    if let Some(dir) = cli.data_dir {
        config.store.data_dir = dir;
    }
    if let Some(url) = cli.store {
        config.store.url = url;
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
            // Keys and tokens are secrets: say whether one is set, never what it is.
            if !config.metrics.token.is_empty() {
                config.metrics.token = "(set)".into();
            }
            if !config.llm.api_key.is_empty() {
                config.llm.api_key = "(set)".into();
            }
            config.store.url = crate::store_url::redact(&config.store.url);
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
        Command::Connector { command } => runtime.block_on(connector(&config, command)),
        Command::Nlu { command } => crate::nlu_cli::run(&config, command),
        Command::Chat(args) => runtime.block_on(crate::chat_cli::run(config, args, keep_data)),
        Command::Test { command } => runtime.block_on(crate::convtest::run(config, command)),
        Command::Kb { command } => crate::engine::knowledge::cli::run(&config, command),
        Command::User { command } => runtime.block_on(crate::admin_cli::user(&config, command)),
        Command::Tenant { command } => runtime.block_on(crate::admin_cli::tenant(&config, command)),
        Command::Apikey { command } => runtime.block_on(crate::admin_cli::api_key(&config, command)),
        Command::Secrets { command } => runtime.block_on(crate::admin_cli::secrets(&config, command)),
        Command::Handoff { command } => runtime.block_on(crate::handoff::run(&config, command)),
        Command::Consent { tenant, limit } => runtime.block_on(consent_ledger(&config, &tenant, limit)),
        Command::Forms { command } => runtime.block_on(crate::engine::forms::cli::run(&config, command)),
        Command::Assessment { command } => {
            runtime.block_on(crate::engine::assessment::cli::assessment(&config, command))
        }
        Command::Feedback { command } => runtime.block_on(crate::engine::assessment::cli::feedback(&config, command)),
        Command::Migrate { from, to } => runtime.block_on(crate::migrate_cli::run(&config, &from, &to)),
    }
}

/// One JSON object per ledger entry, newest first.
async fn consent_ledger(config: &Config, tenant: &str, limit: u32) -> anyhow::Result<ExitCode> {
    let store = app::open_store(config, Clock::System).await?;
    let t = TenantId::parse(tenant).with_context(|| format!("tenant {tenant:?}"))?;
    for entry in store.consent_ledger(&t, None, limit).await? {
        println!("{}", serde_json::to_string(&entry)?);
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let store = config.store_url()?;
    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!(
        "Switchboard listening on http://{}/ (data in {}, store {})",
        listener.local_addr()?,
        config.store.data_dir.display(),
        store
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
    let store = app::open_store(config, Clock::System).await?;
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

fn channel_arg(name: &str) -> anyhow::Result<switchboard_core::Channel> {
    switchboard_core::Channel::parse(name).ok_or_else(|| anyhow::anyhow!("unknown channel {name:?}"))
}

async fn connector(config: &Config, command: ConnectorCommand) -> anyhow::Result<ExitCode> {
    use crate::connectors;
    if let ConnectorCommand::Secrets { channel } = &command {
        println!("{}", connectors::required_secrets(channel_arg(channel)?).join("\n"));
        return Ok(ExitCode::SUCCESS);
    }
    let store = app::open_store(config, Clock::System).await?;
    let sealer = crate::secrets::Sealer::load(&config.store.data_dir)?;
    let result = match command {
        ConnectorCommand::Add {
            tenant,
            id,
            channel,
            account_id,
            secrets,
            settings,
        } => {
            let tenant = TenantId::parse(&tenant)?;
            if store.tenant(&tenant).await?.is_none() {
                anyhow::bail!("no tenant {tenant}: start the server once with it configured");
            }
            let new = connectors::NewConnector {
                tenant: tenant.clone(),
                id: id.clone(),
                channel: channel_arg(&channel)?,
                account_id,
                secrets: secrets.into_iter().collect(),
                settings: settings.into_iter().collect(),
            };
            connectors::save(store.as_ref(), &sealer, new).await?;
            println!("connector {id} saved; webhook path: /v1/webhooks/{tenant}/{id}");
            ExitCode::SUCCESS
        }
        ConnectorCommand::List { tenant } => {
            let tenant = TenantId::parse(&tenant)?;
            for c in store.connectors(&tenant).await? {
                let names = match connectors::load(store.as_ref(), &sealer, &tenant, &c.id).await {
                    Ok(Some(loaded)) => loaded.secrets.keys().cloned().collect::<Vec<_>>().join(","),
                    Ok(None) => String::new(),
                    Err(e) => format!("(cannot open: {e})"),
                };
                println!(
                    "{}\t{}\t{}\t{}\tsecrets: {names}",
                    c.id,
                    c.channel.as_str(),
                    c.account_id,
                    if c.enabled { "enabled" } else { "disabled" }
                );
            }
            ExitCode::SUCCESS
        }
        ConnectorCommand::Remove { tenant, id } => {
            let tenant = TenantId::parse(&tenant)?;
            if store.delete_connector(&tenant, &id).await? {
                println!("connector {id} removed");
                ExitCode::SUCCESS
            } else {
                eprintln!("no connector {id} for tenant {tenant}");
                ExitCode::FAILURE
            }
        }
        ConnectorCommand::Secrets { .. } => ExitCode::SUCCESS,
    };
    store.close();
    Ok(result)
}
