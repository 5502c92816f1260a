//! `switchboard user|tenant|apikey`: what an operator needs before the API can be used (the
//! first super admin) and the same actions for scripts.

use crate::config::Config;
use crate::ingress::api::clean_text;
use crate::ingress::auth::{SCOPES, tokens};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use std::io::BufRead as _;
use std::process::ExitCode;
use switchboard_core::{Clock, TenantId};
use switchboard_store::{NewApiKey, NewAudit, NewUser, Role};

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
    /// Every record of the tenant as JSON Lines (credentials left out), on standard output.
    Export {
        #[arg(long)]
        id: String,
    },
    /// Delete every record of the tenant, in one transaction. A running server keeps serving
    /// its loaded bot until restarted; delete through the API to stop it at once.
    Delete {
        #[arg(long)]
        id: String,
        /// Confirms: nothing of the tenant can be recovered afterwards.
        #[arg(long)]
        yes: bool,
    },
    /// Set a tenant secret, sealed under the master key: `chat_identity` signs the web chat's
    /// vouched-for users, others are named `secret:NAME` in bot definitions. The value is read
    /// from standard input (kept out of the shell history), or made with --generate and printed
    /// once. Applies at once, also on a running server.
    Secret {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with = "delete")]
        generate: bool,
        #[arg(long)]
        delete: bool,
    },
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
    let store = crate::app::open_store(config, Clock::System).await?;
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
            if !crate::ingress::api::valid_email(&email) {
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
    let store = crate::app::open_store(config, Clock::System).await?;
    match command {
        TenantCommand::Create { id, name, bot } => {
            let tenants = crate::engine::tenants::Tenants::new(Some(config.store.data_dir.join("models")));
            if store.tenant(&TenantId::parse(&id)?).await?.is_some() {
                bail!("tenant {id} exists");
            }
            tenants
                .install_dir(store.as_ref(), &id, &clean_text(&name), &bot)
                .await?;
            println!("{id}");
        }
        TenantCommand::List => {
            for t in store.list_tenants().await? {
                println!("{}\t{}", t.id, t.name);
            }
        }
        TenantCommand::Export { id } => {
            let t = TenantId::parse(&id).with_context(|| format!("tenant {id:?}"))?;
            if store.tenant(&t).await?.is_none() {
                bail!("no tenant {id}");
            }
            export(store.clone(), t).await?;
            store.close();
            return Ok(ExitCode::SUCCESS);
        }
        TenantCommand::Delete { id, yes } => {
            let t = TenantId::parse(&id).with_context(|| format!("tenant {id:?}"))?;
            if !yes {
                bail!("deleting every record of {id} cannot be undone: add --yes");
            }
            let counts = store.tenant_row_counts(&t).await?;
            if !store.delete_tenant(&t).await? {
                bail!("no tenant {id}");
            }
            let rows: serde_json::Map<String, serde_json::Value> =
                counts.into_iter().map(|(k, n)| (k, n.into())).collect();
            store
                .add_audit(NewAudit {
                    tenant: None,
                    actor: "cli".into(),
                    action: "tenant.delete".into(),
                    target: format!("tenant:{t}"),
                    old_value: Some(serde_json::Value::Object(rows)),
                    new_value: None,
                })
                .await?;
            println!("deleted {id}");
        }
        TenantCommand::Secret {
            id,
            name,
            generate,
            delete,
        } => {
            let t = TenantId::parse(&id).with_context(|| format!("tenant {id:?}"))?;
            crate::ingress::api::secrets::check_name(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let action = if delete {
                if !store.set_tenant_secret(&t, &name, None).await? {
                    bail!("tenant {id} has no secret {name}");
                }
                "secret.delete"
            } else {
                let value = if generate {
                    hex::encode(rand::random::<[u8; 32]>())
                } else {
                    let mut v = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut v).context("reading the secret")?;
                    let v = v.trim_end_matches(['\r', '\n']).to_owned();
                    if v.chars().count() < 8 {
                        bail!("the secret on standard input must have at least 8 characters");
                    }
                    v
                };
                let sealer = crate::secrets::Sealer::load(&config.store.data_dir)?;
                store
                    .set_tenant_secret(&t, &name, Some(sealer.seal(value.as_bytes())?))
                    .await?;
                if generate {
                    println!("{value}");
                }
                "secret.set"
            };
            store
                .add_audit(NewAudit {
                    tenant: Some(t),
                    actor: "cli".into(),
                    action: action.into(),
                    target: format!("secret:{name}"),
                    old_value: None,
                    new_value: None,
                })
                .await?;
        }
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}

pub async fn api_key(config: &Config, command: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_store(config, Clock::System).await?;
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

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every sealed secret under a new master key: the one in
    /// SWITCHBOARD_NEW_MASTER_KEY, or (for a file-based key) a new one generated into the key
    /// file. Stop the servers first; they hold the old key until restarted.
    Rotate,
}

pub async fn secrets(config: &Config, command: SecretsCommand) -> anyhow::Result<ExitCode> {
    let SecretsCommand::Rotate = command;
    use crate::secrets::{KEY_FILE, MASTER_KEY_ENV, NEW_MASTER_KEY_ENV, Sealer, decode_key, write_key_file};
    let data_dir = &config.store.data_dir;
    let key_file = data_dir.join(KEY_FILE);
    let from_env = std::env::var_os(MASTER_KEY_ENV).is_some();
    if !from_env && !key_file.exists() {
        bail!(
            "no master key in {MASTER_KEY_ENV} or {}: nothing is sealed yet",
            key_file.display()
        );
    }
    let old = Sealer::load(data_dir)?;
    // `resumed`: the new key of an interrupted rotation, which may already seal some values.
    let (new_key, pending, resumed) = match std::env::var(NEW_MASTER_KEY_ENV) {
        Ok(b64) => (decode_key(&b64, NEW_MASTER_KEY_ENV)?, None, None),
        Err(_) if from_env => {
            bail!("{MASTER_KEY_ENV} is set: give the new key in {NEW_MASTER_KEY_ENV} (32 random bytes, base64)")
        }
        Err(_) => {
            let pending = data_dir.join(format!("{KEY_FILE}.new"));
            if pending.exists() {
                // A rotation stopped between its commit and the key's move (every value is
                // sealed under this key) or before its commit (none is): either way, finishing
                // it with the same key is right, and deleting the file could lose every secret.
                let text =
                    std::fs::read_to_string(&pending).with_context(|| format!("reading {}", pending.display()))?;
                let key = decode_key(&text, &pending.display().to_string())?;
                println!("finishing the rotation interrupted with {}", pending.display());
                (key, Some(pending), Some(Sealer::from_key(&key)?))
            } else {
                // Written beside the old key before anything is re-encrypted, so that a crash
                // after the commit still leaves the key the secrets now need.
                let key: [u8; 32] = rand::random();
                write_key_file(&pending, &key).with_context(|| format!("writing {}", pending.display()))?;
                (key, Some(pending), None)
            }
        }
    };
    let new = Sealer::from_key(&new_key)?;
    // A key file from an interrupted rotation stays whatever happens: it may be the only key
    // that opens the secrets.
    let written_now = pending.as_ref().filter(|_| resumed.is_none()).cloned();
    let store = crate::app::open_store(config, Clock::System).await?;
    let reseal = Box::new(move |sealed: &[u8]| {
        let plain = match (old.open(sealed), &resumed) {
            (Ok(plain), _) => plain,
            (Err(_), Some(already)) => already.open(sealed).map_err(|e| format!("{e:#}"))?,
            (Err(e), None) => return Err(format!("{e:#}")),
        };
        new.seal(&plain).map_err(|e| format!("{e:#}"))
    });
    let result = store.reseal_secrets(reseal).await;
    let count = match result {
        Ok(n) => n,
        Err(e) => {
            if let Some(p) = &written_now {
                let _ = std::fs::remove_file(p);
            }
            return Err(anyhow::Error::from(e).context("re-encrypting the secrets; nothing was changed"));
        }
    };
    println!("re-encrypted {count} secret(s) under the new master key");
    match pending {
        Some(p) => {
            std::fs::rename(&p, &key_file)
                .with_context(|| format!("moving {} to {}; do it by hand", p.display(), key_file.display()))?;
            println!(
                "the new key is in {}; restart every server using it",
                key_file.display()
            );
        }
        None => println!(
            "next: set {MASTER_KEY_ENV} to the value of {NEW_MASTER_KEY_ENV} on every instance, unset \
             {NEW_MASTER_KEY_ENV} and restart; the old key no longer opens anything"
        ),
    }
    println!("access tokens signed under the old key stop working: people sign in again (or refresh)");
    // After the key's move: the rotation is complete whether or not its record is written.
    store
        .add_audit(NewAudit {
            tenant: None,
            actor: "cli".into(),
            action: "secrets.rotate".into(),
            target: "master_key".into(),
            old_value: None,
            new_value: Some(serde_json::json!({ "secrets": count })),
        })
        .await?;
    store.close();
    Ok(ExitCode::SUCCESS)
}

/// Every record of a tenant, as JSON Lines on standard output.
async fn export(store: std::sync::Arc<dyn switchboard_store::Store>, tenant: TenantId) -> anyhow::Result<()> {
    use futures_util::StreamExt as _;
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut lines = std::pin::pin!(crate::tenant_data::export(store, tenant.clone()));
    while let Some(chunk) = lines.next().await {
        out.write_all(&chunk.with_context(|| format!("exporting tenant {tenant}"))?)
            .context("writing the export")?;
    }
    out.flush().context("writing the export")?;
    Ok(())
}
