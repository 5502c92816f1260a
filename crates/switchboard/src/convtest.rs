//! Conversation tests: scripted multi-turn conversations with the replies, intents, entities and
//! modes a bot must produce, run through the real pipeline by `switchboard test conversations`.
//!
//! ```toml
//! now = "2026-11-20T10:00:00+01:00"   # optional: relative dates are read from this moment
//!
//! [[conversation]]
//! name = "books a table"
//! [[conversation.turn]]
//! user = "book a table for 4"
//! intent = "book_table"
//! reply_contains = "what time"
//! [[conversation.turn]]
//! user = "at 7pm"
//! entities = { datetime = "2026-11-20T19:00:00+01:00", number = 4 }
//! ```

use crate::config::Config;
use crate::local::{Exchange, Local, ScratchDir, show};
use anyhow::{Context as _, anyhow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use switchboard_core::{Clock, Content, TenantId};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    #[serde(default)]
    pub now: Option<String>,
    #[serde(rename = "conversation")]
    pub conversations: Vec<Conversation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversation {
    pub name: String,
    #[serde(rename = "turn")]
    pub turns: Vec<Turn>,
}

/// One user message and what must come of it; every expectation is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Turn {
    /// What the user types...
    #[serde(default)]
    pub user: Option<String>,
    /// ...or the payload of the button they press.
    #[serde(default)]
    pub button: Option<String>,
    /// One of the replies is exactly this.
    #[serde(default)]
    pub reply: Option<String>,
    /// One of the replies contains this (case-insensitive).
    #[serde(default)]
    pub reply_contains: Option<String>,
    /// How many replies.
    #[serde(default)]
    pub replies: Option<usize>,
    /// The chosen intent; "none" when no intent was chosen.
    #[serde(default)]
    pub intent: Option<String>,
    #[serde(default)]
    pub handler: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// The conversation's mode after the turn (normal, handoff, ...).
    #[serde(default)]
    pub mode: Option<String>,
    /// Entities found, by name: the normalised value (for dates and times, the `value` string).
    #[serde(default)]
    pub entities: toml::Table,
    /// Required entities reported missing.
    #[serde(default)]
    pub missing: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub file: String,
    pub conversation: String,
    pub passed: bool,
    pub failures: Vec<String>,
}

/// Test files: `path` itself, or the `*.toml` files in it, sorted.
pub fn files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("reading {}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no *.toml conversation tests in {}", path.display());
    Ok(files)
}

pub fn parse(src: &str) -> anyhow::Result<Suite> {
    let suite: Suite = toml::from_str(src)?;
    for c in &suite.conversations {
        for (i, t) in c.turns.iter().enumerate() {
            anyhow::ensure!(
                t.user.is_some() != t.button.is_some(),
                "conversation {:?}, turn {}: give exactly one of `user` and `button`",
                c.name,
                i + 1
            );
        }
    }
    Ok(suite)
}

/// Runs every conversation of one file against a fresh instance (its own data directory, and
/// its own clock when the file sets `now`).
pub async fn run_file(config: &Config, tenant: &TenantId, path: &Path) -> anyhow::Result<Vec<Outcome>> {
    let src = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let suite = parse(&src).with_context(|| format!("in {}", path.display()))?;
    let clock = match &suite.now {
        Some(now) => {
            let at: jiff::Timestamp = now
                .parse()
                .with_context(|| format!("{}: `now` must be RFC 3339, got {now:?}", path.display()))?;
            Clock::manual(at.as_millisecond())
        }
        None => Clock::System,
    };
    let scratch = ScratchDir::new("test")?;
    let mut config = config.clone();
    config.store.data_dir = scratch.0.clone();
    // A fresh instance per file: never the configured store.
    config.store.url.clear();
    config.bots.reload_interval_ms = 0;
    let local = Local::start(config, clock).await?;
    let file = path.display().to_string();
    let mut outcomes = Vec::new();
    for (n, conversation) in suite.conversations.iter().enumerate() {
        let user = format!("test-{n}");
        let mut failures = Vec::new();
        for (i, turn) in conversation.turns.iter().enumerate() {
            let content = match (&turn.user, &turn.button) {
                (Some(text), _) => Content::text(text),
                (None, Some(payload)) => Content::Postback {
                    payload: payload.clone(),
                    title: None,
                },
                (None, None) => return Err(anyhow!("turn without `user` or `button`")),
            };
            match local.say(tenant, &user, content).await {
                Ok(exchange) => failures.extend(
                    check(turn, &exchange)
                        .into_iter()
                        .map(|f| format!("turn {}: {f}", i + 1)),
                ),
                Err(e) => failures.push(format!("turn {}: {e:#}", i + 1)),
            }
            if !failures.is_empty() {
                // Later turns depend on this one: their failures would only be noise.
                break;
            }
        }
        outcomes.push(Outcome {
            file: file.clone(),
            conversation: conversation.name.clone(),
            passed: failures.is_empty(),
            failures,
        });
    }
    local.stop().await;
    Ok(outcomes)
}

/// What differs between the expectations of `turn` and what happened.
pub fn check(turn: &Turn, got: &Exchange) -> Vec<String> {
    let mut failures = Vec::new();
    let replies: Vec<String> = got.replies.iter().map(|m| show(&m.content)).collect();
    let texts: Vec<&str> = got
        .replies
        .iter()
        .map(|m| match &m.content {
            Content::Text { text, .. } => text.as_str(),
            Content::Postback { payload, .. } => payload.as_str(),
            rich => rich.understood_text(),
        })
        .collect();
    if let Some(want) = &turn.reply
        && !texts.contains(&want.as_str())
    {
        failures.push(format!("expected the reply {want:?}, got {replies:?}"));
    }
    if let Some(want) = &turn.reply_contains {
        let want_lower = want.to_lowercase();
        if !replies.iter().any(|r| r.to_lowercase().contains(&want_lower)) {
            failures.push(format!("expected a reply containing {want:?}, got {replies:?}"));
        }
    }
    if let Some(n) = turn.replies
        && n != replies.len()
    {
        failures.push(format!("expected {n} replies, got {}: {replies:?}", replies.len()));
    }
    let processed = got.inbound.processed.as_ref();
    let intent = processed
        .and_then(|p| p.intent.clone())
        .unwrap_or_else(|| "none".into());
    if let Some(want) = &turn.intent
        && *want != intent
    {
        let confidence = processed.map_or(0.0, |p| p.confidence);
        let reason = processed.map_or("", |p| p.route_reason.as_str());
        failures.push(format!(
            "expected intent {want}, got {intent} ({confidence:.2}; {reason})"
        ));
    }
    let field = |f: fn(&switchboard_core::Processed) -> &str| processed.map_or("", f).to_owned();
    if let Some(want) = &turn.handler {
        let got = field(|p| &p.handler);
        if *want != got {
            failures.push(format!("expected handler {want}, got {got}"));
        }
    }
    if let Some(want) = &turn.language {
        let got = field(|p| &p.language);
        if *want != got {
            failures.push(format!("expected language {want}, got {got}"));
        }
    }
    if let Some(want) = &turn.mode {
        let got = serde_json::to_value(got.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        if *want != got {
            failures.push(format!("expected mode {want}, got {got}"));
        }
    }
    let entities = processed.map(|p| p.entities.as_slice()).unwrap_or_default();
    for (name, want) in &turn.entities {
        let want = serde_json::to_value(want).unwrap_or(Value::Null);
        let found: Vec<&Value> = entities
            .iter()
            .filter(|e| e.entity == *name)
            .map(|e| &e.value)
            .collect();
        if !found.iter().any(|v| same_value(&want, v)) {
            let found = serde_json::to_string(&found).unwrap_or_default();
            failures.push(format!("expected entity {name} = {want}, found {found}"));
        }
    }
    if let Some(want) = &turn.missing {
        let got = processed.map(|p| p.missing_entities.clone()).unwrap_or_default();
        if *want != got {
            failures.push(format!("expected missing entities {want:?}, got {got:?}"));
        }
    }
    failures
}

/// `want` as a test writes it against the stored value: numbers compare as numbers, and a
/// string matches a date's `value`.
fn same_value(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(s), Value::Object(o)) => o.get("value").and_then(Value::as_str) == Some(s.as_str()),
        _ => want == got,
    }
}

/// The bot folder a test path belongs to: the nearest parent (up to two levels) holding a
/// bot definition, so `switchboard test conversations bots/acme/tests` needs no `--bot`.
pub fn bot_of(path: &Path) -> Option<PathBuf> {
    let start = if path.is_dir() { path } else { path.parent()? };
    start
        .ancestors()
        .skip(1)
        .take(2)
        .find(|dir| dir.join(switchboard_core::BotSpec::FILE_NAME).is_file())
        .map(Path::to_owned)
}

#[derive(clap::Subcommand)]
pub enum TestCommand {
    /// Run scripted conversations (TOML files) through the real pipeline and check the replies,
    /// intents, entities and modes. Exits non-zero when one fails.
    Conversations {
        /// A test file, or a folder of them (e.g. examples/demo-bot/tests).
        path: PathBuf,
        /// The bot folder; by default the one the tests live in.
        #[arg(long)]
        bot: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(mut config: Config, command: TestCommand) -> anyhow::Result<std::process::ExitCode> {
    let TestCommand::Conversations { path, bot, json } = command;
    let bot = bot.or_else(|| bot_of(&path));
    let tenant = match &bot {
        Some(_) => "test",
        None => config.demo.tenant.as_str(),
    }
    .to_owned();
    crate::chat_cli::use_bot(&mut config, &tenant, bot);
    let tenant = TenantId::parse(&tenant)?;
    let mut outcomes = Vec::new();
    for file in files(&path)? {
        outcomes.extend(run_file(&config, &tenant, &file).await?);
    }
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    if json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        let mut last = "";
        for o in &outcomes {
            if o.file != last {
                println!("{}", o.file);
                last = &o.file;
            }
            println!("  {} {}", if o.passed { "ok  " } else { "FAIL" }, o.conversation);
            for f in &o.failures {
                println!("       {f}");
            }
        }
        println!("{} passed, {failed} failed", outcomes.len() - failed);
    }
    Ok(if failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
