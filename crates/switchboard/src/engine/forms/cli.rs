//! `switchboard forms submissions`: completed forms and what became of them, read from the same
//! database a running server uses.

use crate::config::Config;
use anyhow::Context as _;
use std::process::ExitCode;
use switchboard_core::TenantId;
use switchboard_core::clock::rfc3339;

#[derive(clap::Subcommand)]
pub enum FormsCommand {
    /// A tenant's completed forms, newest first: values, status (stored, pending, sent, failed),
    /// attempts and the last error.
    Submissions {
        #[arg(long)]
        tenant: String,
        /// Only this form.
        #[arg(long)]
        form: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(config: &Config, command: FormsCommand) -> anyhow::Result<ExitCode> {
    let FormsCommand::Submissions {
        tenant,
        form,
        limit,
        json,
    } = command;
    let tenant = TenantId::parse(&tenant)?;
    let store = crate::app::open_store(config, switchboard_core::Clock::System).await?;
    let rows = store
        .form_submissions(&tenant, form.as_deref(), limit)
        .await
        .with_context(|| format!("reading the form submissions of tenant {tenant}"))?;
    for s in &rows {
        if json {
            println!("{}", serde_json::to_string(s)?);
        } else {
            println!(
                "{:>6}  {}  {:<12} {:<8} attempts {:<2} user {}  {}{}",
                s.id,
                rfc3339(s.created_at),
                s.form,
                s.status.as_str(),
                s.attempts,
                s.user,
                s.values,
                s.last_error
                    .as_deref()
                    .map(|e| format!("  (last error: {e})"))
                    .unwrap_or_default(),
            );
        }
    }
    if rows.is_empty() && !json {
        eprintln!("no submissions");
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}
