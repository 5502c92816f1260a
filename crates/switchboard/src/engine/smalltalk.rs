//! Small talk worded by the language model, for the intents the bot allows it for. The intent's
//! rendered response guides the model and stays the answer whenever the model cannot be used
//! (not configured, failing, breaker open).

use crate::app::App;
use crate::engine::handlers::Turn;
use crate::engine::knowledge::{ask_model, llm_result};
use crate::engine::llm::{ChatMessage, Skip};
use switchboard_core::{Content, Message};

/// Rewords the first reply when the bot allows the model for this intent; otherwise, or when
/// the model fails, the replies stay as rendered.
pub async fn reword(app: &App, turn: &Turn<'_>, inbound: &Message, replies: &mut [Content]) {
    let spec = &turn.bot.spec.small_talk;
    let allowed = spec.llm && turn.missing.is_empty() && turn.intent.is_some_and(|i| spec.intents.contains(&i.name));
    let Some(Content::Text { text, .. }) = replies.first_mut().filter(|_| allowed) else {
        return;
    };
    let tenant = &turn.bot.id;
    match app.llm.check(tenant, app.clock.now_ms()) {
        Ok(()) => {}
        Err(Skip::BreakerOpen) => return llm_result(tenant, "breaker_open"),
        Err(Skip::Disabled) => return,
    }
    let messages = prompt(&turn.bot.spec.name, &spec.persona, turn.language, turn.text, text);
    match ask_model(app, tenant, inbound, &messages).await {
        Ok(worded) if !worded.trim().is_empty() => {
            app.llm.record(tenant, app.clock.now_ms(), true);
            llm_result(tenant, "ok");
            *text = worded.trim().to_owned();
        }
        Ok(_) => llm_result(tenant, "empty"),
        Err(e) => {
            tracing::warn!(tenant = %tenant, error = format!("{e:#}"), "language model failed; small talk answered from the bot definition");
            app.llm.record(tenant, app.clock.now_ms(), false);
            llm_result(tenant, "error");
        }
    }
}

fn prompt(bot_name: &str, persona: &str, language: &str, said: &str, suggested: &str) -> Vec<ChatMessage> {
    let mut system = format!(
        "You are {bot_name}, a chat assistant. Reply to the person's small talk in one or two friendly sentences, \
         in the language with ISO code {language}. Never state facts, prices or promises. \
         A suitable reply would be: \"{suggested}\""
    );
    if !persona.trim().is_empty() {
        system.push_str(&format!("\nAbout you: {}", persona.trim()));
    }
    vec![
        ChatMessage {
            role: "system",
            content: system,
        },
        ChatMessage {
            role: "user",
            content: said.to_owned(),
        },
    ]
}
