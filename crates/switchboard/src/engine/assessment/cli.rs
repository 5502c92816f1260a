//! `switchboard assessment results` and `switchboard feedback list|days`: what people answered,
//! read from the same database as a running server (like `dead-letters`), until the management
//! API serves it.

use crate::config::Config;
use anyhow::Context as _;
use clap::Subcommand;
use std::process::ExitCode;
use switchboard_core::clock::rfc3339;
use switchboard_core::{Clock, TenantId};

#[derive(Subcommand)]
pub enum AssessmentCommand {
    /// Finished assessments, newest first: user, assessment, score, band, answers.
    Results {
        #[arg(long)]
        tenant: String,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum FeedbackCommand {
    /// Feedback, newest first: kind (csat, thumbs), score, comment.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Per UTC day: CSAT answers and their average, thumbs up and down.
    Days {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 30)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
}

pub async fn assessment(config: &Config, command: AssessmentCommand) -> anyhow::Result<ExitCode> {
    let AssessmentCommand::Results {
        tenant,
        user,
        limit,
        json,
    } = command;
    let tenant = TenantId::parse(&tenant)?;
    let store = crate::app::open_store(config, Clock::System).await?;
    let rows = store
        .assessment_results(&tenant, user.as_deref(), limit)
        .await
        .with_context(|| format!("reading the assessment results of tenant {tenant}"))?;
    store.close();
    for r in &rows {
        if json {
            println!("{}", serde_json::to_string(r)?);
        } else {
            println!(
                "{}\t{}\t{}\tscore {}\t{}\t{}",
                rfc3339(r.created_at),
                r.user,
                r.assessment,
                crate::engine::assessment::number(r.score),
                r.band.as_deref().unwrap_or("-"),
                r.answers
            );
        }
    }
    if rows.is_empty() && !json {
        println!("no results");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn feedback(config: &Config, command: FeedbackCommand) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_store(config, Clock::System).await?;
    match command {
        FeedbackCommand::List { tenant, limit, json } => {
            let tenant = TenantId::parse(&tenant)?;
            let rows = store
                .feedback(&tenant, limit)
                .await
                .with_context(|| format!("reading the feedback of tenant {tenant}"))?;
            for f in &rows {
                if json {
                    println!("{}", serde_json::to_string(f)?);
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        rfc3339(f.created_at),
                        f.user,
                        f.kind.as_str(),
                        f.score,
                        f.comment.as_deref().unwrap_or("")
                    );
                }
            }
        }
        FeedbackCommand::Days { tenant, days, json } => {
            let tenant = TenantId::parse(&tenant)?;
            let rows = store
                .feedback_per_day(&tenant, days)
                .await
                .with_context(|| format!("reading the feedback of tenant {tenant}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!(
                    "{:<10} {:>5} {:>8} {:>9} {:>11}",
                    "day", "csat", "average", "thumbs up", "thumbs down"
                );
                for d in &rows {
                    let avg = d.csat_average.map_or("-".to_owned(), |a| format!("{a:.2}"));
                    println!(
                        "{:<10} {:>5} {:>8} {:>9} {:>11}",
                        d.day, d.csat_count, avg, d.thumbs_up, d.thumbs_down
                    );
                }
            }
        }
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}
