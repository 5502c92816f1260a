//! `switchboard chat`: talk to a bot in the terminal, through the same pipeline as every
//! channel, with what the bot understood shown on request. Reads lines from standard input, so
//! it also runs scripted (`switchboard chat < script.txt`).

use crate::config::{Config, TenantConfig};
use crate::local::{Local, ScratchDir, show};
use anyhow::Context as _;
use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use switchboard_core::{Clock, Content, TenantId};

#[derive(clap::Args)]
pub struct Args {
    /// The tenant to talk to (a configured one, or the name for --bot).
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// A bot definition folder to talk to instead of the configured bot.
    #[arg(long)]
    bot: Option<PathBuf>,
    /// Your user id in the conversation.
    #[arg(long, default_value = "you")]
    user: String,
    /// Show the language, intent, confidence, handler, routing reason and entities of each turn.
    #[arg(long)]
    debug: bool,
}

/// Points `config` at the bot to use: `--bot` replaces the configured tenants.
pub fn use_bot(config: &mut Config, tenant: &str, bot: Option<PathBuf>) {
    if let Some(dir) = bot {
        config.demo.enabled = false;
        config.tenants = vec![TenantConfig {
            id: tenant.to_owned(),
            name: tenant.to_owned(),
            bot_dir: dir,
        }];
    }
}

pub async fn run(mut config: Config, args: Args, keep_data: bool) -> anyhow::Result<ExitCode> {
    let scratch = if keep_data {
        None
    } else {
        let dir = ScratchDir::new("chat")?;
        config.store.data_dir = dir.0.clone();
        // The scratch directory holds the database too, whatever store the config names.
        config.store.url.clear();
        Some(dir)
    };
    use_bot(&mut config, &args.tenant, args.bot);
    config.bots.reload_interval_ms = 0;
    let tenant = TenantId::parse(&args.tenant)?;
    let local = Local::start(config, Clock::System).await?;
    anyhow::ensure!(
        local.app.tenants.get(&tenant).is_some(),
        "tenant {tenant} has no bot here (configured: {:?})",
        local.app.tenants.ids()
    );
    let result = converse(&local, &tenant, &args.user, args.debug).await;
    local.stop().await;
    drop(scratch);
    result
}

async fn converse(local: &Local, tenant: &TenantId, user: &str, debug: bool) -> anyhow::Result<ExitCode> {
    let stdin = std::io::stdin();
    let interactive = std::io::IsTerminal::is_terminal(&stdin);
    if interactive {
        println!("Talking to {tenant}. Type a message; a number picks a button; /quit ends.");
    }
    let mut buttons: Vec<switchboard_core::Button> = Vec::new();
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line.context("reading standard input")?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if text == "/quit" {
            break;
        }
        let content = match text.parse::<usize>().ok().and_then(|n| buttons.get(n.wrapping_sub(1))) {
            Some(b) => Content::Postback {
                payload: b.payload.clone(),
                title: Some(b.title.clone()),
            },
            None => Content::text(text),
        };
        let turn = local.say(tenant, user, content).await?;
        if debug && let Some(p) = &turn.inbound.processed {
            println!(
                "  · {} | intent {} {:.2} | handler {} | {}",
                p.language,
                p.intent.as_deref().unwrap_or("-"),
                p.confidence,
                p.handler,
                p.route_reason
            );
            for e in &p.entities {
                println!("  · entity {} {:?} = {}", e.entity, e.raw, e.value);
            }
        }
        buttons.clear();
        for reply in &turn.replies {
            println!("bot: {}", show(&reply.content));
            buttons.extend(crate::local::choices(&reply.content));
        }
        if turn.replies.is_empty() {
            println!("bot: (no reply; mode {:?})", turn.mode);
        }
    }
    Ok(ExitCode::SUCCESS)
}
