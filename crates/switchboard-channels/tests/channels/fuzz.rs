//! Random and mutated payloads never panic a parser or a verifier.

use super::*;
use proptest::prelude::*;
use switchboard_channels::telegram;

fn telegram_fixtures() -> Vec<Vec<u8>> {
    [
        "text_message.json",
        "callback_query.json",
        "photo_message.json",
        "my_chat_member_blocked.json",
        "edited_message.json",
    ]
    .iter()
    .map(|f| fixture(&format!("telegram/{f}")))
    .collect()
}

proptest! {
    #[test]
    fn telegram_never_panics(i in 0usize..5, body in proptest::collection::vec(any::<u8>(), 0..512), pick in any::<bool>()) {
        let fixtures = telegram_fixtures();
        let input = if pick { body } else { fixtures[i].clone() };
        let _ = telegram::parse(&input, "1");
    }

    #[test]
    fn telegram_survives_mutated_fixtures(body in mutations(fixture("telegram/photo_message.json"))) {
        let _ = telegram::parse(&body, "1");
    }
}
