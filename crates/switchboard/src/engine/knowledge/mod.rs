//! Knowledge QnA: each tenant's documents (Markdown, text, HTML) cut into passages and indexed
//! for full-text search; the answer is the best passage, or, with a language model configured,
//! an answer written from the passages found and citing them.
//!
//! A tenant's documents are the files in `<bot folder>/knowledge/` (kept with the bot
//! definition) and in `<data_dir>/knowledge/<tenant>/docs/` (added with `switchboard kb add`,
//! which works for every tenant, also the built-in demo). The index lives in
//! `<data_dir>/knowledge/<tenant>/index-<hash>/`, named by a hash of the documents and the bot's
//! languages, and is rebuilt when they change.

pub mod cli;
pub mod docs;
pub mod index;

use crate::app::App;
use crate::config::Config;
use crate::engine::handlers::{self, Turn};
use crate::engine::llm::{ChatMessage, Skip};
use crate::engine::tenants::Tenants;
use crate::runtime::frames::ServerFrame;
use crate::runtime::metrics;
use anyhow::Context as _;
pub use index::{KnowledgeBase, Passage};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;
use switchboard_core::{Content, ConversationContext, HandlerKind, Message, TenantId};

/// The folder of knowledge documents inside a bot folder.
pub const FOLDER: &str = "knowledge";

/// The demo bot's documents, built in with its definition for runs outside the repository.
pub const DEMO_DOCS: &[(&str, &str)] = &[
    (
        "aparcamiento.es.md",
        include_str!("../../../../../examples/demo-bot/knowledge/aparcamiento.es.md"),
    ),
    (
        "food-and-allergies.md",
        include_str!("../../../../../examples/demo-bot/knowledge/food-and-allergies.md"),
    ),
    (
        "parking-and-access.md",
        include_str!("../../../../../examples/demo-bot/knowledge/parking-and-access.md"),
    ),
    (
        "payments-and-groups.md",
        include_str!("../../../../../examples/demo-bot/knowledge/payments-and-groups.md"),
    ),
];

/// Where a tenant's knowledge lives under the data directory.
pub fn tenant_dir(data_dir: &Path, tenant: &str) -> PathBuf {
    data_dir.join(FOLDER).join(tenant)
}

/// Documents added with `switchboard kb add`.
pub fn added_docs_dir(data_dir: &Path, tenant: &str) -> PathBuf {
    tenant_dir(data_dir, tenant).join("docs")
}

/// Where a tenant's documents come from, in order; a later file of the same name wins.
#[derive(Clone, Debug)]
pub struct Sources {
    pub builtin: &'static [(&'static str, &'static str)],
    pub dirs: Vec<PathBuf>,
}

impl Sources {
    /// Every document's file name and bytes, sorted by name. A folder that does not exist has
    /// no documents; one that cannot be read is an error.
    pub fn files(&self) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
        let mut files: BTreeMap<String, Vec<u8>> = self
            .builtin
            .iter()
            .map(|(n, t)| ((*n).to_owned(), t.as_bytes().to_vec()))
            .collect();
        for dir in &self.dirs {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
            };
            for entry in entries {
                let path = entry.with_context(|| format!("reading {}", dir.display()))?.path();
                if !path.is_file() || !docs::is_document(&path) {
                    continue;
                }
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                files.insert(name, bytes);
            }
        }
        Ok(files.into_iter().collect())
    }
}

/// The document sources of every tenant the configuration names: the demo (its folder, or the
/// built-in copy when the folder is absent, as for its definition) and each `[[tenants]]` entry.
pub fn sources(config: &Config) -> Vec<(String, Sources)> {
    let data = &config.store.data_dir;
    let mut all = Vec::new();
    if config.demo.enabled {
        let dir = &config.demo.bot_dir;
        let t = &config.demo.tenant;
        let sources = if dir.join(switchboard_core::BotSpec::FILE_NAME).exists() {
            Sources {
                builtin: &[],
                dirs: vec![dir.join(FOLDER), added_docs_dir(data, t)],
            }
        } else {
            Sources {
                builtin: DEMO_DOCS,
                dirs: vec![added_docs_dir(data, t)],
            }
        };
        all.push((t.clone(), sources));
    }
    for t in &config.tenants {
        all.push((
            t.id.clone(),
            Sources {
                builtin: &[],
                dirs: vec![t.bot_dir.join(FOLDER), added_docs_dir(data, &t.id)],
            },
        ));
    }
    all
}

/// The loaded knowledge bases of this instance's tenants.
pub struct Knowledge {
    data_dir: PathBuf,
    sources: Vec<(TenantId, Sources)>,
    bases: RwLock<HashMap<TenantId, Arc<KnowledgeBase>>>,
    /// The hash of contents that failed to index, per tenant, so the failure is logged once.
    failed: RwLock<HashMap<TenantId, String>>,
}

impl Knowledge {
    pub fn new(config: &Config) -> Knowledge {
        Knowledge {
            data_dir: config.store.data_dir.clone(),
            sources: sources(config)
                .into_iter()
                .filter_map(|(t, s)| Some((TenantId::parse(&t).ok()?, s)))
                .collect(),
            bases: RwLock::default(),
            failed: RwLock::default(),
        }
    }

    pub fn get(&self, tenant: &TenantId) -> Option<Arc<KnowledgeBase>> {
        self.bases.read().ok()?.get(tenant).cloned()
    }

    /// Indexes the documents of every tenant whose documents (or bot languages) changed since
    /// the last call; on first call, opens or builds every index. Indexing runs off the async
    /// threads, and a tenant whose documents fail to index keeps its previous index.
    pub async fn refresh(&self, tenants: &Tenants) {
        for (tenant, sources) in &self.sources {
            let Some(bot) = tenants.get(tenant) else {
                continue;
            };
            let (languages, default) = (bot.spec.languages.clone(), bot.spec.default_language.clone());
            let (sources, langs, def) = (sources.clone(), languages.clone(), default.clone());
            let read = tokio::task::spawn_blocking(move || {
                let files = sources.files()?;
                let hash = index::content_hash(&files, &langs, &def);
                anyhow::Ok((files, hash))
            })
            .await;
            let (files, hash) = match read {
                Ok(Ok(read)) => read,
                Ok(Err(e)) => {
                    tracing::warn!(tenant = %tenant, error = format!("{e:#}"), "cannot read the knowledge documents");
                    continue;
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = %e, "reading the knowledge documents panicked");
                    continue;
                }
            };
            if files.is_empty() {
                if let Ok(mut bases) = self.bases.write() {
                    bases.remove(tenant);
                }
                continue;
            }
            let current = self.get(tenant).is_some_and(|b| b.hash == hash);
            let known_bad = self.failed.read().is_ok_and(|f| f.get(tenant) == Some(&hash));
            if current || known_bad {
                continue;
            }
            let root = tenant_dir(&self.data_dir, tenant.as_str());
            let started = Instant::now();
            let built =
                tokio::task::spawn_blocking(move || KnowledgeBase::open_or_build(&root, &files, &languages, &default))
                    .await
                    .map_err(anyhow::Error::from)
                    .and_then(|r| r);
            match built {
                Ok(kb) => {
                    tracing::info!(tenant = %tenant, documents = kb.documents.len(), passages = kb.passages,
                        ms = started.elapsed().as_millis() as u64, "knowledge base ready");
                    if let Ok(mut bases) = self.bases.write() {
                        bases.insert(tenant.clone(), Arc::new(kb));
                    }
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = format!("{e:#}"), "the knowledge documents cannot be indexed; keeping the previous index");
                    if let Ok(mut f) = self.failed.write() {
                        f.insert(tenant.clone(), hash);
                    }
                }
            }
        }
    }

    /// The best passages for `text` in `language`; a search that fails is logged and finds nothing.
    pub fn search(&self, tenant: &TenantId, text: &str, language: &str, limit: usize) -> Vec<Passage> {
        let Some(kb) = self.get(tenant) else {
            return Vec::new();
        };
        kb.search(text, language, limit).unwrap_or_else(|e| {
            tracing::warn!(tenant = %tenant, error = format!("{e:#}"), "knowledge search failed");
            Vec::new()
        })
    }
}

/// Where a passage comes from, as shown under an answer.
fn source_label(p: &Passage) -> String {
    match &p.heading {
        Some(h) if *h != p.title => format!("{} › {h}", p.title),
        _ => p.title.clone(),
    }
}

/// The extractive answer: the passage itself, then where it comes from. Plain text, so it
/// reads the same in the web chat, an SMS and a voice call.
pub fn extractive(p: &Passage) -> String {
    format!("{}\n\n— {}", p.text, source_label(p))
}

/// The knowledge handler. `passages` are those the routing found (best first); an intent routed
/// here by its `handler = "knowledge"` searches now. With no passage at the bot's
/// `knowledge.min_score`, the fallback answers.
pub async fn answer(
    app: &App,
    turn: &Turn<'_>,
    inbound: &Message,
    mut passages: Vec<Passage>,
    ctx: &mut ConversationContext,
) -> anyhow::Result<Vec<Content>> {
    let spec = &turn.bot.spec.knowledge;
    let tenant = &turn.bot.id;
    if passages.is_empty() {
        passages = app
            .knowledge
            .search(tenant, turn.text, turn.language, spec.max_passages);
    }
    passages.retain(|p| p.score >= spec.min_score);
    let Some(best) = passages.first() else {
        return handlers::run(HandlerKind::Fallback, turn, ctx);
    };
    ctx.fallback_streak = 0;
    let now = app.clock.now_ms();
    let text = match app.llm.check(tenant, now) {
        Ok(()) => match generate(app, turn, inbound, &passages).await {
            Ok(text) => {
                app.llm.record(tenant, app.clock.now_ms(), true);
                llm_result(tenant, "ok");
                text
            }
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = format!("{e:#}"), "language model failed; answering with the best passage");
                app.llm.record(tenant, app.clock.now_ms(), false);
                llm_result(tenant, "error");
                extractive(best)
            }
        },
        Err(Skip::BreakerOpen) => {
            llm_result(tenant, "breaker_open");
            extractive(best)
        }
        Err(Skip::Disabled) => extractive(best),
    };
    Ok(vec![Content::text(text)])
}

pub fn llm_result(tenant: &TenantId, result: &'static str) {
    ::metrics::counter!(metrics::LLM_REQUESTS, "tenant" => tenant.to_string(), "result" => result).increment(1);
}

/// One call to the language model for a turn: its tokens stream to the person's open web chats
/// as they come, and the tokens it used are counted for the tenant.
pub async fn ask_model(
    app: &App,
    tenant: &TenantId,
    inbound: &Message,
    messages: &[ChatMessage],
) -> anyhow::Result<String> {
    let (text, usage) = app
        .llm
        .complete(&app.http, messages, |delta| {
            app.hub.publish(
                inbound.channel,
                tenant,
                &inbound.user,
                ServerFrame::Stream {
                    in_reply_to: inbound.id.clone(),
                    delta: delta.to_owned(),
                },
            );
        })
        .await?;
    if let Some(u) = usage {
        let t = tenant.to_string();
        ::metrics::counter!(metrics::LLM_TOKENS, "tenant" => t.clone(), "kind" => "prompt").increment(u.prompt_tokens);
        ::metrics::counter!(metrics::LLM_TOKENS, "tenant" => t, "kind" => "completion").increment(u.completion_tokens);
        // Usage is bookkeeping: failing to record it must not cost the user the answer.
        if let Err(e) = app
            .store
            .add_llm_usage(tenant, app.clock.now_ms(), u.prompt_tokens, u.completion_tokens)
            .await
        {
            tracing::warn!(tenant = %tenant, error = %e, "cannot record the language model's token usage");
        }
    }
    Ok(text)
}

/// The prompt: the passages, numbered, and the question. Nothing else of the conversation goes
/// to the model, so it can only answer from what the tenant's documents say.
pub fn prompt(bot_name: &str, language: &str, question: &str, passages: &[Passage]) -> Vec<ChatMessage> {
    let mut system = format!(
        "You answer questions for {bot_name}. Use only the numbered passages below, never anything else you know. \
         Cite each passage you use by its number in brackets, like [1]. If the passages do not contain the answer, \
         say that you do not know. Be brief. Answer in the language of the question (ISO code {language}).\n\nPassages:"
    );
    for (i, p) in passages.iter().enumerate() {
        system.push_str(&format!("\n\n[{}] {}\n{}", i + 1, source_label(p), p.text));
    }
    vec![
        ChatMessage {
            role: "system",
            content: system,
        },
        ChatMessage {
            role: "user",
            content: question.to_owned(),
        },
    ]
}

/// Asks the model, streaming its tokens to the user's open web chats, and returns the answer
/// with the passages it cited listed under it.
async fn generate(app: &App, turn: &Turn<'_>, inbound: &Message, passages: &[Passage]) -> anyhow::Result<String> {
    let messages = prompt(&turn.bot.spec.name, turn.language, turn.text, passages);
    let text = ask_model(app, &turn.bot.id, inbound, &messages).await?;
    let cited: Vec<String> = passages
        .iter()
        .enumerate()
        .filter(|(i, _)| text.contains(&format!("[{}]", i + 1)))
        .map(|(i, p)| format!("[{}] {}", i + 1, source_label(p)))
        .collect();
    let mut answer = text.trim().to_owned();
    if !cited.is_empty() {
        answer.push_str(&format!("\n\n{}", cited.join("\n")));
    }
    Ok(answer)
}
