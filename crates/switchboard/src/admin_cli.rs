//! `switchboard user|tenant|apikey`: what an operator needs before the API can be used (the
//! first super admin) and the same actions for scripts.

use crate::api::clean_text;
use crate::auth::{SCOPES, tokens};
use crate::config::Config;
use anyhow::{Context as _, bail};
use clap::Subcommand;
use std::io::BufRead as _;
use std::process::ExitCode;
use switchboard_core::{Clock, TenantId};
use switchboard_store::{NewApiKey, NewAudit, NewUser, Role, Store as _};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a person. The password is read from standard input (one line).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// super_admin, admin, agent or viewer.
        #[arg(long)]
        role: String,
        /// The tenant of an admin, agent or viewer.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List people (of a tenant, or all).
    List {
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Add a tenant with its bot definition folder; a running server loads it at its next start.
    Create {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        bot: std::path::PathBuf,
    },
    List,
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; it is printed once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// read, agent or admin (repeat).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
    },
}

pub async fn user(config: &Config, command: UserCommand) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_store(config, Clock::System)?;
    match command {
        UserCommand::Create {
            email,
            name,
            role,
            tenant,
        } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?;
            let tenant = tenant
                .map(|t| TenantId::parse(&t).with_context(|| format!("tenant {t:?}")))
                .transpose()?;
            if (role == Role::SuperAdmin) != tenant.is_none() {
                bail!("a super admin has no --tenant; every other role needs one");
            }
            let email = email.trim().to_lowercase();
            if !crate::api::valid_email(&email) {
                bail!("{email:?} is not an email address");
            }
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\n', '\r']);
            tokens::check_password_policy(password, &email).map_err(anyhow::Error::msg)?;
            let user = store
                .create_user(NewUser {
                    id: uuid::Uuid::now_v7().to_string(),
                    tenant: tenant.clone(),
                    email,
                    name: clean_text(&name),
                    role,
                    password_hash: tokens::hash_password(password)?,
                })
                .await?;
            store
                .add_audit(NewAudit {
                    tenant,
                    actor: "cli".into(),
                    action: "user.create".into(),
                    target: format!("user:{}", user.id),
                    old_value: None,
                    new_value: Some(serde_json::json!({ "email": user.email, "role": user.role })),
                })
                .await?;
            println!("{}", user.id);
        }
        UserCommand::List { tenant } => {
            let tenant = tenant.map(|t| TenantId::parse(&t)).transpose()?;
            for u in store.users(tenant.as_ref()).await? {
                println!("{}", serde_json::to_string(&u)?);
            }
        }
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}

pub async fn tenant(config: &Config, command: TenantCommand) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_store(config, Clock::System)?;
    match command {
        TenantCommand::Create { id, name, bot } => {
            let tenants = crate::tenants::Tenants::new(Some(config.store.data_dir.join("models")));
            if store.tenant(&TenantId::parse(&id)?).await?.is_some() {
                bail!("tenant {id} exists");
            }
            tenants.install_dir(&store, &id, &clean_text(&name), &bot).await?;
            println!("{id}");
        }
        TenantCommand::List => {
            for t in store.list_tenants().await? {
                println!("{}\t{}", t.id, t.name);
            }
        }
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}

pub async fn api_key(config: &Config, command: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_store(config, Clock::System)?;
    let ApiKeyCommand::Create { tenant, name, scopes } = command;
    if scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        bail!("scopes are {SCOPES:?}");
    }
    let t = TenantId::parse(&tenant).with_context(|| format!("tenant {tenant:?}"))?;
    let (key, prefix) = tokens::new_api_key();
    let record = store
        .create_api_key(
            &t,
            NewApiKey {
                id: uuid::Uuid::now_v7().to_string(),
                name: clean_text(&name),
                prefix,
                hash: tokens::sha256_hex(&key),
                scopes,
            },
        )
        .await?;
    store
        .add_audit(NewAudit {
            tenant: Some(t),
            actor: "cli".into(),
            action: "api_key.create".into(),
            target: format!("api_key:{}", record.id),
            old_value: None,
            new_value: Some(serde_json::json!({ "name": record.name, "scopes": record.scopes })),
        })
        .await?;
    println!("{key}");
    store.close();
    Ok(ExitCode::SUCCESS)
}
