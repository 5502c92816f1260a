//! Whatever a user types, understanding it never panics and answers within bounds.

use proptest::prelude::*;
use std::sync::OnceLock;
use switchboard_core::BotSpec;
use switchboard_nlu::{IntentModel, detect_language};

fn model() -> &'static (BotSpec, IntentModel) {
    static M: OnceLock<(BotSpec, IntentModel)> = OnceLock::new();
    M.get_or_init(|| {
        let spec = BotSpec::from_toml(include_str!("../../../examples/demo-bot/bot.toml")).expect("demo bot");
        let model = IntentModel::train(&spec);
        (spec, model)
    })
}

fn check(text: &str) {
    let (spec, model) = model();
    let _ = detect_language(text, &spec.languages);
    for prefer in [None, Some("en"), Some("es"), Some("xx")] {
        let ranked = model.classify(text, prefer, 3);
        assert!(ranked.len() <= 3);
        for w in ranked.windows(2) {
            assert!(w[0].confidence >= w[1].confidence);
        }
        for m in &ranked {
            assert!((0.0..=1.0).contains(&m.confidence) && m.confidence.is_finite(), "{m:?}");
        }
    }
}

#[test]
fn edge_cases() {
    let rtl = "مرحبا كيف حالك שלום עולם";
    let long = "hello ".repeat(10 * 1024 / 6);
    let long_word = "a".repeat(10 * 1024);
    let emoji = "👋🏽 hi 🇪🇸 👨‍👩‍👧‍👦".repeat(300);
    for text in [
        "",
        " ",
        "\0",
        "\u{200b}",
        "!!!???",
        rtl,
        &long,
        &long_word,
        &emoji,
        "e\u{301}\u{301}\u{301}",
    ] {
        check(text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_is_classified_without_panicking(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn any_chars_including_controls_and_long_strings(chars in prop::collection::vec(any::<char>(), 0..10_240)) {
        let text: String = chars.into_iter().collect();
        check(&text);
    }
}
