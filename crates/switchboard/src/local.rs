//! Switchboard in-process, without HTTP: the same `App`, store, queue and pipeline, driven by
//! the terminal tools (`switchboard chat`, `switchboard test conversations`).

use crate::app::App;
use crate::config::Config;
use anyhow::{Context as _, anyhow};
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::{Button, Channel, Clock, Content, Message, MessageId, Mode, TenantId};
use switchboard_store::{NewInbound, Priority};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub struct Local {
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    workers: JoinSet<()>,
}

/// One turn as the bot author sees it.
pub struct Exchange {
    /// The stored inbound message, with what the pipeline understood (`processed`).
    pub inbound: Message,
    pub replies: Vec<Message>,
    /// The conversation's mode after the turn.
    pub mode: Mode,
}

impl Local {
    pub async fn start(config: Config, clock: Clock) -> anyhow::Result<Local> {
        let app = App::build(config, clock).await?;
        let (stop, stopped) = watch::channel(false);
        let workers = crate::jobs::start_background(&app, stopped);
        Ok(Local { app, stop, workers })
    }

    /// Sends `content` as `user` and waits for the bot's turn to finish.
    pub async fn say(&self, tenant: &TenantId, user: &str, content: Content) -> anyhow::Result<Exchange> {
        let app = &self.app;
        let id = MessageId::generate();
        let outcome = app.hub.wait_for(&id);
        let accepted = app
            .store
            .accept_inbound(
                tenant,
                NewInbound {
                    id: id.clone(),
                    channel: Channel::Api,
                    external_id: None,
                    user: user.to_owned(),
                    content,
                    metadata: serde_json::Value::Null,
                    priority: Priority::Interactive,
                },
            )
            .await
            .with_context(|| format!("sending to tenant {tenant}"))?;
        let timeout = Duration::from_millis(app.config.queue.turn_timeout_ms + 5000);
        let replies = tokio::time::timeout(timeout, outcome)
            .await
            .map_err(|_| anyhow!("the bot did not answer within {timeout:?}"))?
            .map_err(|_| anyhow!("the turn was dropped"))?
            .map_err(|e| anyhow!("the turn failed: {e}"))?;
        let inbound = app
            .store
            .message(tenant, &accepted.message)
            .await?
            .context("the message is gone")?;
        let mode = app
            .store
            .conversation(tenant, &accepted.conversation)
            .await?
            .map(|c| c.context.mode)
            .unwrap_or_default();
        Ok(Exchange {
            inbound,
            replies: replies.as_ref().clone(),
            mode,
        })
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while self.workers.join_next().await.is_some() {}
        crate::app::flush_store(self.app.store.as_ref()).await;
        self.app.store.close();
    }
}

/// A data directory of our own, removed when dropped: the terminal tools never touch (or wait
/// for the lock of) a running server's data.
pub struct ScratchDir(pub std::path::PathBuf);

impl ScratchDir {
    pub fn new(purpose: &str) -> anyhow::Result<ScratchDir> {
        let dir = std::env::temp_dir().join(format!("switchboard-{purpose}-{}", MessageId::generate()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Text of a reply as a terminal shows it: buttons (and card buttons, list items) as a
/// numbered list, pictures as their link.
pub fn show(content: &Content) -> String {
    let mut out = match content {
        Content::Text { text, .. } => text.clone(),
        Content::Postback { payload, title } => title.clone().unwrap_or_else(|| payload.clone()),
        Content::Image { url, caption } => match caption {
            Some(c) => format!("{c}\n  [image] {url}"),
            None => format!("[image] {url}"),
        },
        Content::Cards { cards } => cards
            .iter()
            .map(|c| {
                let mut line = format!("[card] {}", c.title);
                if let Some(s) = &c.subtitle {
                    line.push_str(&format!(" – {s}"));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Content::List { text, .. } => text.clone(),
    };
    for (i, b) in choices(content).iter().enumerate() {
        out.push_str(&format!("\n  [{}] {}", i + 1, b.title));
    }
    out
}

/// What a person can press in a reply, in order: buttons, card buttons, list items.
pub fn choices(content: &Content) -> Vec<Button> {
    match content {
        Content::Text { buttons, .. } => buttons.clone(),
        Content::Cards { cards } => cards.iter().flat_map(|c| c.buttons.iter().cloned()).collect(),
        Content::List { items, .. } => items
            .iter()
            .map(|i| Button {
                title: i.title.clone(),
                payload: i.payload.clone(),
            })
            .collect(),
        Content::Postback { .. } | Content::Image { .. } => Vec::new(),
    }
}
