//! Channels without buttons (SMS, Signal) show options as numbered lines; a person answers
//! "2". The options of the bot's last reply are remembered in the context so that a bare number
//! is read as the option's payload, as a button press would be.

use serde_json::Value;
use switchboard_core::{Channel, Content, ConversationContext};

/// The context variable holding the payloads of the last numbered options.
const OFFERED: &str = "offered";

/// Whether the channel shows options as numbered text.
fn numbers_options(channel: Channel) -> bool {
    matches!(channel, Channel::Twilio | Channel::Signal)
}

/// The payload a bare number ("2", " 2. ") picks from the options last offered.
pub fn choice(ctx: &ConversationContext, text: &str) -> Option<String> {
    let n: usize = text.trim().trim_end_matches(['.', ')']).parse().ok()?;
    let offered = ctx.variables.get(OFFERED)?.as_array()?;
    offered.get(n.checked_sub(1)?)?.as_str().map(str::to_owned)
}

/// Remembers the options of the last reply that offers them as numbers (buttons, a list, or
/// the buttons of a single card); forgets them otherwise.
pub fn remember(ctx: &mut ConversationContext, channel: Channel, replies: &[Content]) {
    ctx.variables.remove(OFFERED);
    if !numbers_options(channel) {
        return;
    }
    let payloads: Vec<String> = match replies.last() {
        Some(Content::Text { buttons, .. }) => buttons.iter().map(|b| b.payload.clone()).collect(),
        Some(Content::List { items, .. }) => items.iter().map(|i| i.payload.clone()).collect(),
        Some(Content::Cards { cards }) if cards.len() == 1 => {
            cards[0].buttons.iter().map(|b| b.payload.clone()).collect()
        }
        _ => Vec::new(),
    };
    if !payloads.is_empty() {
        ctx.variables.insert(
            OFFERED.to_owned(),
            Value::Array(payloads.into_iter().map(Value::String).collect()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::Button;

    #[test]
    fn a_bare_number_picks_the_last_offered_option_on_sms() {
        let mut ctx = ConversationContext::default();
        let offer = Content::Text {
            text: "Pick".into(),
            buttons: vec![
                Button {
                    title: "Yes".into(),
                    payload: "YES".into(),
                },
                Button {
                    title: "No".into(),
                    payload: "NO".into(),
                },
            ],
        };
        remember(&mut ctx, Channel::Twilio, std::slice::from_ref(&offer));
        assert_eq!(choice(&ctx, " 2 ").as_deref(), Some("NO"));
        assert_eq!(choice(&ctx, "1.").as_deref(), Some("YES"));
        assert_eq!(choice(&ctx, "3"), None);
        assert_eq!(choice(&ctx, "0"), None);
        assert_eq!(choice(&ctx, "2 people"), None);
        // Channels with real buttons send the payload itself.
        remember(&mut ctx, Channel::Telegram, &[offer]);
        assert_eq!(choice(&ctx, "1"), None);
        // A reply without options forgets the old ones.
        remember(&mut ctx, Channel::Signal, &[Content::text("ok")]);
        assert_eq!(choice(&ctx, "1"), None);
    }
}
