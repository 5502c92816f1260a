//! The agent's side of a handoff: the conversations waiting for a person, taking one, replying
//! through the conversation's own channel, and handing it back to the bot. The store keeps who
//! owns a conversation; the pipeline stays silent while a person does.

use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use std::process::ExitCode;
use switchboard_core::{Channel, Content, Conversation, ConversationId, Direction, Message, TenantId};
use switchboard_store::Store;

/// An agent's message to the person, sent like a bot reply through the conversation's channel.
/// Refused when the conversation is not handed over (the bot would talk over the agent) or the
/// person opted out.
pub async fn reply(
    store: &dyn Store,
    tenant: &TenantId,
    conversation: &ConversationId,
    agent: &str,
    text: &str,
) -> anyhow::Result<Message> {
    let text = text.trim();
    if text.is_empty() {
        bail!("the reply is empty");
    }
    let conv = store
        .conversation(tenant, conversation)
        .await?
        .ok_or_else(|| anyhow!("no conversation {conversation}"))?;
    if conv.handoff.is_none() {
        bail!("conversation {conversation} is not handed to a person; take it over first");
    }
    let latest = store.latest_consent(tenant, conv.channel, &conv.user).await?;
    if latest.is_some_and(|c| c.decision.silences()) {
        bail!("the person opted out of messages");
    }
    if conv.handoff.as_ref().and_then(|h| h.agent.as_deref()) != Some(agent) {
        store.take_handoff(tenant, conversation, agent).await?;
    }
    let anchor = last_inbound(store, &conv).await?;
    let metadata = serde_json::json!({ "agent": agent, "anchor": anchor });
    let deliver = !matches!(conv.channel, Channel::Webchat | Channel::Api);
    let message = store
        .add_proactive(tenant, conversation, Content::text(text), metadata, deliver)
        .await
        .context("storing the agent's reply")?;
    Ok(message)
}

/// The newest inbound message: its platform event says where to send.
async fn last_inbound(store: &dyn Store, conv: &Conversation) -> anyhow::Result<Option<String>> {
    let recent = store
        .messages_after(&conv.tenant, &conv.id, (conv.last_seq - 50).max(0), 50)
        .await?;
    Ok(recent
        .iter()
        .rev()
        .find(|m| m.direction == Direction::Inbound)
        .map(|m| m.id.to_string()))
}

#[derive(Subcommand)]
pub enum HandoffCommand {
    /// Conversations handed to a person, the longest waiting first.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Take a conversation as an agent.
    Take {
        #[arg(long)]
        tenant: String,
        conversation: String,
        #[arg(long)]
        agent: String,
    },
    /// Reply to the person as an agent (taking the conversation if needed). A running server
    /// sends it within `queue.poll_interval_ms`.
    Reply {
        #[arg(long)]
        tenant: String,
        conversation: String,
        #[arg(long)]
        agent: String,
        text: String,
    },
    /// Hand the conversation back to the bot.
    Release {
        #[arg(long)]
        tenant: String,
        conversation: String,
    },
}

pub async fn run(config: &crate::config::Config, command: HandoffCommand) -> anyhow::Result<ExitCode> {
    let store = crate::app::open_store(config, switchboard_core::Clock::System).await?;
    let ids = |tenant: &str, conv: Option<&str>| -> anyhow::Result<(TenantId, Option<ConversationId>)> {
        let t = TenantId::parse(tenant).with_context(|| format!("tenant {tenant:?}"))?;
        let c = conv
            .map(|c| ConversationId::parse(c).with_context(|| format!("conversation {c:?}")))
            .transpose()?;
        Ok((t, c))
    };
    let conv = |c: Option<ConversationId>| c.ok_or_else(|| anyhow!("a conversation id is required"));
    match command {
        HandoffCommand::List { tenant, limit, json } => {
            let (t, _) = ids(&tenant, None)?;
            for c in store.handoffs(&t, limit).await? {
                let Some(h) = &c.handoff else { continue };
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"conversation": c.id, "channel": c.channel, "user": c.user, "handoff": h})
                    );
                } else {
                    println!(
                        "{}  {:<9} {:<8} {:<12} {}  {}",
                        c.id,
                        c.channel.as_str(),
                        format!("{:?}", h.status).to_lowercase(),
                        h.agent.as_deref().unwrap_or("-"),
                        switchboard_core::clock::rfc3339(h.since),
                        h.reason
                    );
                }
            }
        }
        HandoffCommand::Take {
            tenant,
            conversation,
            agent,
        } => {
            let (t, c) = ids(&tenant, Some(&conversation))?;
            store.take_handoff(&t, &conv(c)?, &agent).await?;
            println!("{conversation} is now {agent}'s");
        }
        HandoffCommand::Reply {
            tenant,
            conversation,
            agent,
            text,
        } => {
            let (t, c) = ids(&tenant, Some(&conversation))?;
            let m = reply(store.as_ref(), &t, &conv(c)?, &agent, &text).await?;
            println!("{}", m.id);
        }
        HandoffCommand::Release { tenant, conversation } => {
            let (t, c) = ids(&tenant, Some(&conversation))?;
            if !store.release_handoff(&t, &conv(c)?).await? {
                bail!("conversation {conversation} is not handed to a person");
            }
            println!("{conversation} is the bot's again");
        }
    }
    store.close();
    Ok(ExitCode::SUCCESS)
}
