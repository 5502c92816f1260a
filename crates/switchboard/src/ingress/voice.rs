//! Twilio voice: a call is a conversation held in TwiML. An incoming call is answered with a
//! speech `<Gather>`; each utterance is a turn through the pipeline, and the reply is spoken
//! (`<Say>`) in the answer to that same webhook, followed by the next `<Gather>`. The caller
//! hanging up ends the loop. Nothing is sent through the REST API for a call.

use crate::app::App;
use crate::connectors::Connector;
use crate::ingress::http::ApiError;
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use switchboard_channels::{EventKind, InboundEvent};
use switchboard_core::{Content, MessageId, TenantId};
use switchboard_store::{NewInbound, Priority};

const DEFAULT_GREETING: &str = "Hello! How can I help you?";

/// Whether a Twilio webhook is about a call (rather than a message).
pub fn is_call(form: &[(String, String)]) -> bool {
    let has = |k: &str| form.iter().any(|(name, v)| name == k && !v.is_empty());
    has("CallSid") && !has("MessageSid") && !has("SmsSid")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn twiml(say: &[String], gather_url: Option<&str>) -> Response {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    let says: String = say
        .iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!("<Say>{}</Say>", escape(s)))
        .collect();
    match gather_url {
        Some(url) => {
            xml.push_str(&format!(
                "<Gather input=\"speech dtmf\" action=\"{}\" method=\"POST\" speechTimeout=\"auto\">{says}</Gather>",
                escape(url)
            ));
        }
        None => xml.push_str(&says),
    }
    xml.push_str("</Response>");
    ([(axum::http::header::CONTENT_TYPE, "text/xml")], xml).into_response()
}

/// Answers one voice webhook. `url` is the webhook's own public URL (the next `<Gather>` posts
/// there again).
pub async fn answer(
    app: &App,
    tenant: &TenantId,
    connector: &Connector,
    event: Option<InboundEvent>,
    url: &str,
) -> Result<Response, ApiError> {
    // Called once the request is verified, like the other channels' intake.
    if crate::tenant_data::suspended(app.store.as_ref(), tenant).await? {
        return Err(crate::tenant_data::suspended_error(tenant));
    }
    let Some(event) = event else {
        return Ok(twiml(&[], None));
    };
    if event.kind == EventKind::Membership {
        // The caller hung up: the call's conversation ends; the next call starts a new one.
        crate::runtime::events::end_conversation(app, tenant, &connector.record, &event.conversation_id).await?;
        return Ok(twiml(&[], None));
    }
    let Some(text) = event.text.clone().filter(|t| !t.trim().is_empty()) else {
        let greeting = connector
            .setting("voice_greeting")
            .unwrap_or(DEFAULT_GREETING)
            .to_owned();
        let said = if event.event_id.ends_with(":noinput") {
            "Are you still there?".to_owned()
        } else {
            greeting
        };
        return Ok(twiml(&[said], Some(url)));
    };
    let id = MessageId::generate();
    let outcome = app.hub.wait_for(&id);
    let mut metadata = serde_json::to_value(&event).unwrap_or_default();
    if let Some(obj) = metadata.as_object_mut() {
        // Spoken in the webhook's answer, never sent as a text message.
        obj.insert("voice".into(), true.into());
    }
    let inbound = NewInbound {
        id: id.clone(),
        channel: connector.record.channel,
        user: format!("{}:{}", connector.record.id, event.conversation_id),
        external_id: Some(format!("{}:{}", connector.record.id, event.event_id)),
        metadata,
        content: Content::text(text),
        priority: Priority::Interactive,
    };
    let accepted = match app.store.accept_inbound(tenant, inbound).await {
        Ok(a) => a,
        // Answered, not failed: Twilio would retry; the caller hears why and the call ends.
        Err(switchboard_store::StoreError::QuotaExceeded(quota)) => {
            app.hub.forget(&id);
            tracing::warn!(%tenant, connector = %connector.record.id, quota,
                "voice message dropped: the tenant's monthly message quota is used up");
            crate::runtime::metrics::message(tenant.as_str(), connector.record.channel.as_str(), "in", "over_quota");
            return Ok(twiml(
                &["Sorry, this line cannot take more messages this month.".to_owned()],
                None,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let wait = Duration::from_millis(app.config.chat.reply_wait_ms.max(1000));
    let replies = if accepted.duplicate {
        app.hub.forget(&id);
        app.store.replies_to(tenant, &accepted.message).await?
    } else {
        match tokio::time::timeout(wait, outcome).await {
            Ok(Ok(Ok(replies))) => replies.as_ref().clone(),
            _ => {
                app.hub.forget(&id);
                return Ok(twiml(
                    &["Sorry, I need a moment. Could you say that again?".to_owned()],
                    Some(url),
                ));
            }
        }
    };
    let said: Vec<String> = replies
        .iter()
        .map(|m| spoken(&m.content))
        .filter(|s| !s.is_empty())
        .collect();
    Ok(twiml(&said, Some(url)))
}

/// What a call can say of a reply: its text, and of rich replies the words only (a caption,
/// card titles, a list's text and its items, numbered so the caller can say one), never a link.
fn spoken(content: &Content) -> String {
    match content {
        Content::Image { caption, .. } => caption.clone().unwrap_or_default(),
        Content::Cards { cards } => cards.iter().map(|c| c.title.as_str()).collect::<Vec<_>>().join(". "),
        Content::List { text, items, .. } => {
            let items: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(n, i)| format!("{}: {}", n + 1, i.title))
                .collect();
            format!("{text} {}.", items.join(", "))
        }
        Content::Text { .. } | Content::Postback { .. } => content.understood_text().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_replies_are_spoken_as_words_never_links() {
        use switchboard_core::{Card, ListItem};
        let image = Content::Image {
            url: "https://example.com/a.png".into(),
            caption: None,
        };
        assert_eq!(spoken(&image), "");
        let card = |t: &str| Card {
            title: t.into(),
            subtitle: None,
            image_url: Some("https://example.com/a.png".into()),
            buttons: Vec::new(),
        };
        let cards = Content::Cards {
            cards: vec![card("Tea"), card("Cake")],
        };
        assert_eq!(spoken(&cards), "Tea. Cake");
        let item = |t: &str| ListItem {
            title: t.into(),
            description: None,
            payload: t.to_lowercase(),
        };
        let list = Content::List {
            text: "Pick one.".into(),
            button: "Options".into(),
            items: vec![item("Hours"), item("Address")],
        };
        assert_eq!(spoken(&list), "Pick one. 1: Hours, 2: Address.");
    }

    #[test]
    fn calls_and_messages_are_told_apart_and_text_is_escaped() {
        let f = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        assert!(is_call(&f(&[("CallSid", "CA1"), ("From", "+1")])));
        assert!(!is_call(&f(&[("CallSid", "CA1"), ("MessageSid", "SM1")])));
        assert!(!is_call(&f(&[("MessageSid", "SM1")])));
        assert_eq!(escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
    }
}
