//! Rich replies (an image, one card, a carousel, a list) as each channel renders them, as
//! snapshots to review, and the limits past which a channel degrades to what it can show.

use super::snapshots::{channels, target, view};
use serde_json::Value;
use switchboard_channels::outbound::{Body, Call, Reply, Rich, Target};
use switchboard_channels::{messenger, signal, telegram, twilio, whatsapp};
use switchboard_core::{Button, Card, ListItem};

fn button(title: &str, payload: &str) -> Button {
    Button {
        title: title.into(),
        payload: payload.into(),
    }
}

fn card(title: &str, image: bool, buttons: Vec<Button>) -> Card {
    Card {
        title: title.into(),
        subtitle: Some(format!("All about {title}")),
        image_url: image.then(|| format!("https://example.com/{}.png", title.to_lowercase())),
        buttons,
    }
}

fn item(n: usize) -> ListItem {
    ListItem {
        title: format!("Option number {n} with a long title"),
        description: (n % 2 == 1).then(|| format!("What option {n} does")),
        payload: format!("option_{n}"),
    }
}

fn rich(text: &str, rich: Rich) -> Reply {
    Reply {
        text: text.into(),
        buttons: Vec::new(),
        rich: Some(rich),
    }
}

fn rich_replies() -> [(&'static str, Reply); 4] {
    [
        (
            "image",
            rich(
                "Our shop on the corner",
                Rich::Image {
                    url: "https://example.com/shop.png".into(),
                },
            ),
        ),
        (
            "card",
            rich(
                "",
                Rich::Cards(vec![card(
                    "Tea",
                    true,
                    vec![button("Order", "order tea"), button("More", "more tea")],
                )]),
            ),
        ),
        (
            "carousel",
            rich(
                "",
                Rich::Cards(vec![
                    card("Tea", true, vec![button("Order", "order tea")]),
                    card("Cake", false, vec![button("Order", "order cake")]),
                ]),
            ),
        ),
        (
            "list",
            rich(
                "What can I help with?",
                Rich::List {
                    button: "See options".into(),
                    items: (1..=3).map(item).collect(),
                },
            ),
        ),
    ]
}

#[test]
fn rendered_rich_replies_per_channel() {
    for (name, render, to) in channels() {
        for (kind, reply) in rich_replies() {
            insta::assert_json_snapshot!(format!("{name}_rich_{kind}"), view(render(&reply, &to)));
        }
    }
}

fn json(call: &Call) -> &Value {
    match &call.body {
        Body::Json(v) => v,
        Body::Form(_) => panic!("expected a JSON body: {call:?}"),
    }
}

fn form(call: &Call) -> &[(String, String)] {
    match &call.body {
        Body::Form(f) => f,
        Body::Json(_) => panic!("expected a form body: {call:?}"),
    }
}

fn list(n: usize) -> Reply {
    rich(
        "Pick one",
        Rich::List {
            button: "A label far longer than twenty".into(),
            items: (1..=n).map(item).collect(),
        },
    )
}

#[test]
fn whatsapp_lists_fit_ten_rows_and_number_more() {
    let to = target("15557654321", "200000000000002");
    let calls = whatsapp::render(&list(10), &to);
    assert_eq!(calls.len(), 1);
    let body = json(&calls[0]);
    assert_eq!(body["interactive"]["type"], "list");
    assert_eq!(body["interactive"]["action"]["button"], "A label far longer t");
    let rows = body["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .expect("rows");
    assert_eq!(rows.len(), 10);
    assert!(
        rows.iter()
            .all(|r| r["title"].as_str().is_some_and(|t| t.chars().count() <= 24))
    );
    assert_eq!(rows[0]["id"], "option_1");

    let calls = whatsapp::render(&list(12), &to);
    assert_eq!(calls.len(), 1, "one text message with numbered options");
    let body = json(&calls[0]);
    assert_eq!(body["type"], "text");
    let text = body["text"]["body"].as_str().expect("text");
    assert!(text.starts_with("Pick one\n\n1. Option number 1"), "{text}");
    assert!(text.contains("\n12. Option number 12 with a long title"), "{text}");
}

#[test]
fn whatsapp_cards_with_more_than_three_buttons_become_image_and_list() {
    let to = target("15557654321", "200000000000002");
    let four: Vec<Button> = (1..=4).map(|n| button(&format!("B{n}"), &format!("b{n}"))).collect();
    let reply = rich(
        "",
        Rich::Cards(vec![
            card("Tea", true, four),
            card("Cake", true, vec![button("Order", "o")]),
        ]),
    );
    let calls = whatsapp::render(&reply, &to);
    let kinds: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            let b = json(c);
            let sub = b["interactive"]["type"].as_str().unwrap_or_default().to_owned();
            (b["type"].as_str().unwrap_or_default().to_owned(), sub)
        })
        .collect();
    let expected = [("image", ""), ("interactive", "list"), ("interactive", "button")];
    assert_eq!(
        kinds,
        expected.map(|(a, b)| (a.to_owned(), b.to_owned())),
        "the wide card degrades, the next keeps its image header"
    );
    assert_eq!(json(&calls[2])["interactive"]["header"]["type"], "image");
    assert!(json(&calls[0]).get("context").is_some() && json(&calls[1]).get("context").is_none());
}

#[test]
fn messenger_card_with_four_buttons_offers_them_as_quick_replies() {
    let to = target("4000000000000004", "300000000000003");
    let four: Vec<Button> = (1..=4).map(|n| button(&format!("B{n}"), &format!("b{n}"))).collect();
    let reply = rich(
        "",
        Rich::Cards(vec![card("Tea", true, four), card("Cake", true, vec![])]),
    );
    let calls = messenger::render(&reply, &to);
    assert_eq!(calls.len(), 2);
    let template = &json(&calls[0])["message"]["attachment"]["payload"];
    assert_eq!(template["template_type"], "generic");
    assert_eq!(template["elements"].as_array().map(Vec::len), Some(2));
    assert!(template["elements"][0].get("buttons").is_none());
    let quick = &json(&calls[1])["message"];
    assert_eq!(quick["text"], "Tea");
    assert_eq!(quick["quick_replies"].as_array().map(Vec::len), Some(4));

    // An element needs more than its title: a bare card is its title as text.
    let bare = Card {
        title: "Just a title".into(),
        subtitle: None,
        image_url: None,
        buttons: (1..=4).map(|n| button(&format!("B{n}"), &format!("b{n}"))).collect(),
    };
    let calls = messenger::render(&rich("", Rich::Cards(vec![bare])), &to);
    assert_eq!(calls.len(), 1);
    assert_eq!(json(&calls[0])["message"]["text"], "Just a title");
    assert_eq!(
        json(&calls[0])["message"]["quick_replies"].as_array().map(Vec::len),
        Some(4)
    );

    let calls = messenger::render(&list(14), &to);
    let text = json(&calls[0])["message"]["text"].as_str().expect("text");
    assert!(
        text.contains("14. Option number 14"),
        "over 13 quick replies is numbered: {text}"
    );
}

#[test]
fn sms_numbers_cards_and_lists_and_attaches_pictures() {
    let to = Target {
        endpoint: Some("+15550001111".into()),
        ..target("+15557654321", "AC00000000000000000000000000000001")
    };
    let calls = twilio::render(&list(2), &to);
    let body = form(&calls[0]);
    assert!(body.contains(&(
        "Body".into(),
        "Pick one\n\n1. Option number 1 with a long title – What option 1 does\n2. Option number 2 with a long title".into()
    )));
    let reply = rich(
        "",
        Rich::Cards(vec![card("Tea", true, vec![button("Order", "order tea")])]),
    );
    let calls = twilio::render(&reply, &to);
    let body = form(&calls[0]);
    assert!(body.contains(&("MediaUrl".into(), "https://example.com/tea.png".into())));
    assert!(body.contains(&("Body".into(), "Tea\nAll about Tea\n\n1. Order".into())));
}

#[test]
fn signal_keeps_pictures_as_links() {
    let to = target("+15557654321", "+15550002222");
    let reply = rich(
        "Our shop",
        Rich::Image {
            url: "https://example.com/shop.png".into(),
        },
    );
    let calls = signal::render(&reply, &to);
    assert_eq!(json(&calls[0])["message"], "Our shop\nhttps://example.com/shop.png");
}

#[test]
fn telegram_long_captions_follow_the_photo() {
    let to = target("100000001", "7000000001");
    let reply = rich(
        &"word ".repeat(300),
        Rich::Image {
            url: "https://example.com/shop.png".into(),
        },
    );
    let calls = telegram::render(&reply, &to);
    let paths: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["sendPhoto", "sendMessage"]);
    assert!(json(&calls[0]).get("caption").is_none());
}
