//! Rich content: the parts of a reply beyond text and buttons (images, cards, lists), as the
//! channel-neutral message model carries them and as a bot definition declares them. Channels
//! render them into the richest form they support and degrade to text where they cannot.

use crate::message::{Button, Content};
use serde::{Deserialize, Serialize};

/// The most cards in a carousel and items in a list a bot may declare: the common ceiling of
/// the platforms that show them natively (Messenger generic templates, WhatsApp list rows).
pub const MAX_ELEMENTS: usize = 10;

/// One card: a title, optionally a subtitle and an image, and buttons that send their payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// One choice of a list. Choosing it sends `payload`, like pressing a button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListItem {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub payload: String,
}

/// `image = { url = "...", caption = "..." }` on an intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    pub url: String,
    #[serde(default)]
    pub caption: Option<String>,
}

/// `list = { text = "...", button = "...", items = [...] }` on an intent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListSpec {
    /// Shown above the list; the intent's response is used when absent.
    #[serde(default)]
    pub text: Option<String>,
    /// The label of the control that opens the list ("Options").
    pub button: String,
    pub items: Vec<ListItem>,
}

/// The rich replies an intent declares, in the order they are sent after its text reply.
pub fn intent_contents(image: Option<&ImageSpec>, cards: &[Card], list: Option<&ListSpec>, text: &str) -> Vec<Content> {
    let mut out = Vec::new();
    if let Some(i) = image {
        out.push(Content::Image {
            url: i.url.clone(),
            caption: i.caption.clone(),
        });
    }
    if !cards.is_empty() {
        out.push(Content::Cards { cards: cards.to_vec() });
    }
    if let Some(l) = list {
        out.push(Content::List {
            text: l.text.clone().unwrap_or_else(|| text.to_owned()),
            button: l.button.clone(),
            items: l.items.clone(),
        });
    }
    out
}

/// Checks an intent's rich parts; the error names what is wrong, for the bot's author.
pub fn validate(
    intent: &str,
    image: Option<&ImageSpec>,
    cards: &[Card],
    list: Option<&ListSpec>,
) -> Result<(), String> {
    let at = |what: &str| format!("intent `{intent}`: {what}");
    if let Some(i) = image {
        check_url(&i.url).map_err(|e| at(&format!("`image.url` {e}")))?;
    }
    if cards.len() > MAX_ELEMENTS {
        return Err(at(&format!("at most {MAX_ELEMENTS} cards, not {}", cards.len())));
    }
    for (n, c) in cards.iter().enumerate() {
        let n = n + 1;
        if c.title.trim().is_empty() {
            return Err(at(&format!("card {n} needs a title")));
        }
        if let Some(url) = &c.image_url {
            check_url(url).map_err(|e| at(&format!("card {n} `image_url` {e}")))?;
        }
        check_buttons(&c.buttons).map_err(|e| at(&format!("card {n}: {e}")))?;
    }
    if let Some(l) = list {
        if l.button.trim().is_empty() {
            return Err(at("`list.button` needs a label"));
        }
        if l.items.is_empty() || l.items.len() > MAX_ELEMENTS {
            return Err(at(&format!("`list.items` needs 1 to {MAX_ELEMENTS} items")));
        }
        for (n, item) in l.items.iter().enumerate() {
            if item.title.trim().is_empty() || item.payload.trim().is_empty() {
                return Err(at(&format!("list item {} needs a title and a payload", n + 1)));
            }
        }
    }
    Ok(())
}

fn check_buttons(buttons: &[Button]) -> Result<(), String> {
    if buttons.len() > MAX_ELEMENTS {
        return Err(format!("at most {MAX_ELEMENTS} buttons"));
    }
    match buttons
        .iter()
        .position(|b| b.title.trim().is_empty() || b.payload.is_empty())
    {
        Some(n) => Err(format!("button {} needs a title and a payload", n + 1)),
        None => Ok(()),
    }
}

/// Platforms fetch media themselves and most refuse plain HTTP, so only https URLs are allowed.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("must be an https URL, not {url:?}"))?;
    if rest.is_empty() || rest.starts_with('/') || url.chars().any(char::is_whitespace) {
        return Err(format!("is not a valid URL: {url:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(title: &str) -> Card {
        Card {
            title: title.into(),
            subtitle: None,
            image_url: Some("https://example.com/a.png".into()),
            buttons: vec![Button {
                title: "Buy".into(),
                payload: "BUY".into(),
            }],
        }
    }

    #[test]
    fn urls_titles_and_counts_are_checked() {
        let ok = ImageSpec {
            url: "https://example.com/x.png".into(),
            caption: None,
        };
        assert_eq!(validate("i", Some(&ok), &[card("A")], None), Ok(()));
        let http = ImageSpec {
            url: "http://example.com/x.png".into(),
            caption: None,
        };
        let err = validate("i", Some(&http), &[], None).expect_err("http refused");
        assert!(err.contains("https"), "{err}");
        assert!(validate("i", None, &[card(" ")], None).is_err());
        let many: Vec<Card> = (0..11).map(|n| card(&n.to_string())).collect();
        assert!(validate("i", None, &many, None).is_err());
        let list = ListSpec {
            text: None,
            button: "Menu".into(),
            items: Vec::new(),
        };
        assert!(validate("i", None, &[], Some(&list)).is_err());
    }

    #[test]
    fn an_intent_gives_image_then_cards_then_list() {
        let list = ListSpec {
            text: None,
            button: "Menu".into(),
            items: vec![ListItem {
                title: "Hours".into(),
                description: None,
                payload: "hours".into(),
            }],
        };
        let img = ImageSpec {
            url: "https://example.com/x.png".into(),
            caption: Some("Shop".into()),
        };
        let out = intent_contents(Some(&img), &[card("A")], Some(&list), "Here you go");
        let kinds: Vec<&str> = out.iter().map(Content::kind).collect();
        assert_eq!(kinds, ["image", "cards", "list"]);
        assert_eq!(out[2].understood_text(), "Here you go");
    }

    #[test]
    fn a_bot_definition_declares_rich_replies() {
        let src = r#"
name = "Shop"
fallback = ["Sorry?"]

[[intent]]
name = "menu"
examples = ["menu"]
responses = ["Here is what I can do."]
image = { url = "https://example.com/shop.png", caption = "Our shop" }
list = { button = "Options", items = [
  { title = "Opening hours", description = "When we are open", payload = "hours" },
  { title = "Talk to a person", payload = "human" },
] }

[[intent.card]]
title = "Tea"
subtitle = "Hot and fresh"
image_url = "https://example.com/tea.png"
buttons = [{ title = "Order", payload = "order tea" }]
"#;
        let spec = crate::BotSpec::from_toml(src).expect("valid");
        let menu = spec.intent("menu").expect("menu");
        assert_eq!(menu.cards.len(), 1);
        assert_eq!(menu.cards[0].buttons[0].payload, "order tea");
        assert_eq!(menu.list.as_ref().map(|l| l.items.len()), Some(2));
        let bad = src.replace("https://example.com/tea.png", "ftp://example.com/tea.png");
        let err = crate::BotSpec::from_toml(&bad).expect_err("ftp refused").to_string();
        assert!(err.contains("card 1 `image_url`"), "{err}");
    }
}
