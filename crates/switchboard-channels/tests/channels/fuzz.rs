//! Random and mutated payloads never panic a parser or a verifier.

use super::*;
use proptest::prelude::*;
use switchboard_channels::telegram;

fn mutations(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = seed.len().max(1);
    proptest::collection::vec((0..len, any::<u8>(), 0u8..3), 0..8).prop_map(move |edits| {
        let mut body = seed.clone();
        for (at, byte, op) in edits {
            let at = at.min(body.len());
            match op {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ if at < body.len() => {
                    body.remove(at);
                }
                _ => {}
            }
        }
        body
    })
}

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
