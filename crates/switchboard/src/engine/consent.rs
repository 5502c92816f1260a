//! The consent gate: before a message is understood, the person's consent state decides whether
//! it is answered at all. "stop" and "start" are honoured in every mode; a tenant that requires
//! consent asks for it first; a person who refused or opted out gets no answer and nothing of
//! their messages is kept, until they send "start".

use switchboard_core::{
    BotSpec, Button, ConsentText, ConsentWord, Content, consent::ACCEPT_PAYLOAD, consent::DECLINE_PAYLOAD, consent_word,
};
use switchboard_store::{ConsentDecision, ConsentRecord, Erase, NewConsent};

#[derive(Debug, PartialEq)]
pub enum Gate {
    /// The turn goes on to understanding and routing.
    Pass,
    /// The turn ends here.
    Done {
        replies: Vec<Content>,
        record: Option<NewConsent>,
        erase: Erase,
        reason: &'static str,
    },
}

/// `required` is the bot's `[consent] required` unless the tenant's settings override it.
pub fn gate(spec: &BotSpec, required: bool, latest: Option<&ConsentRecord>, text: &str, lang: &str) -> Gate {
    let consent = &spec.consent;
    let word = consent_word(text);
    let state = latest.map(|r| r.decision);
    let say = |which| consent.text(which, lang, &spec.default_language);
    let entry = |decision, shown: String| NewConsent {
        decision,
        text_version: consent.version().to_owned(),
        text: shown,
    };
    let silenced = state.is_some_and(ConsentDecision::silences);
    if word == Some(ConsentWord::Stop) {
        if silenced {
            return drop_message("already opted out");
        }
        let reply = say(ConsentText::Stopped);
        return Gate::Done {
            record: Some(entry(ConsentDecision::OptedOut, reply.clone())),
            replies: vec![Content::text(reply)],
            erase: Erase::Nothing,
            reason: "consent: the person opted out",
        };
    }
    if silenced {
        if word != Some(ConsentWord::Start) {
            return drop_message("consent: refused or opted out; the message is not kept");
        }
        let (replies, shown) = if required {
            let ask = ask(spec, lang);
            (vec![ask.0], ask.1)
        } else {
            let reply = say(ConsentText::Started);
            (vec![Content::text(reply.clone())], reply)
        };
        return Gate::Done {
            record: Some(entry(ConsentDecision::OptedIn, shown)),
            replies,
            erase: Erase::Nothing,
            reason: "consent: the person opted in again",
        };
    }
    let granted = latest.is_some_and(|r| r.decision == ConsentDecision::Granted && r.text_version == consent.version());
    if !required || granted {
        return Gate::Pass;
    }
    let asked = say(ConsentText::Ask);
    match word {
        Some(ConsentWord::Accept) => Gate::Done {
            record: Some(entry(ConsentDecision::Granted, asked)),
            replies: vec![Content::text(say(ConsentText::Granted))],
            erase: Erase::Nothing,
            reason: "consent: granted",
        },
        Some(ConsentWord::Decline) => Gate::Done {
            record: Some(entry(ConsentDecision::Refused, asked)),
            replies: vec![Content::text(say(ConsentText::Refused))],
            erase: Erase::Conversation,
            reason: "consent: refused; the conversation is erased",
        },
        _ => Gate::Done {
            replies: vec![ask(spec, lang).0],
            record: None,
            erase: Erase::Nothing,
            reason: "consent: required and not given yet",
        },
    }
}

fn drop_message(reason: &'static str) -> Gate {
    Gate::Done {
        replies: Vec::new(),
        record: None,
        erase: Erase::Message,
        reason,
    }
}

/// The consent question with its two buttons, and the text as shown (for the ledger).
fn ask(spec: &BotSpec, lang: &str) -> (Content, String) {
    let consent = &spec.consent;
    let say = |which| consent.text(which, lang, &spec.default_language);
    let text = say(ConsentText::Ask);
    let buttons = vec![
        Button {
            title: say(ConsentText::Accept),
            payload: ACCEPT_PAYLOAD.to_owned(),
        },
        Button {
            title: say(ConsentText::Decline),
            payload: DECLINE_PAYLOAD.to_owned(),
        },
    ];
    (
        Content::Text {
            text: text.clone(),
            buttons,
        },
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_core::{Channel, TenantId};

    fn spec(required: bool) -> BotSpec {
        BotSpec::from_toml(&format!(
            "name = \"t\"\nfallback = [\"?\"]\n[consent]\nrequired = {required}\nversion = \"v2\"\n"
        ))
        .expect("spec")
    }

    fn record(decision: ConsentDecision, version: &str) -> ConsentRecord {
        ConsentRecord {
            id: 1,
            tenant: TenantId::parse("t").expect("id"),
            channel: Channel::Webchat,
            user: "u".into(),
            decision,
            text_version: version.into(),
            text: "?".into(),
            created_at: 0,
        }
    }

    fn decision(g: &Gate) -> Option<ConsentDecision> {
        match g {
            Gate::Done { record, .. } => record.as_ref().map(|r| r.decision),
            Gate::Pass => None,
        }
    }

    #[test]
    fn required_consent_is_asked_until_answered() {
        let s = spec(true);
        let g = gate(&s, s.consent.required, None, "hello", "en");
        assert!(
            matches!(&g, Gate::Done { replies, record: None, .. } if matches!(&replies[0], Content::Text { buttons, .. } if buttons.len() == 2))
        );
        assert_eq!(
            decision(&gate(&s, s.consent.required, None, ACCEPT_PAYLOAD, "en")),
            Some(ConsentDecision::Granted)
        );
        let refused = gate(&s, s.consent.required, None, "No", "en");
        assert_eq!(decision(&refused), Some(ConsentDecision::Refused));
        assert!(matches!(
            refused,
            Gate::Done {
                erase: Erase::Conversation,
                ..
            }
        ));
        assert_eq!(
            gate(
                &s,
                s.consent.required,
                Some(&record(ConsentDecision::Granted, "v2")),
                "hello",
                "en"
            ),
            Gate::Pass
        );
        // A new wording asks again.
        assert!(matches!(
            gate(
                &s,
                s.consent.required,
                Some(&record(ConsentDecision::Granted, "v1")),
                "hello",
                "en"
            ),
            Gate::Done { record: None, .. }
        ));
    }

    #[test]
    fn refusers_and_opted_out_people_get_nothing_but_start() {
        for s in [spec(true), spec(false)] {
            for state in [ConsentDecision::Refused, ConsentDecision::OptedOut] {
                let latest = record(state, "v2");
                assert!(matches!(
                    gate(&s, s.consent.required, Some(&latest), "hello", "en"),
                    Gate::Done { erase: Erase::Message, ref replies, .. } if replies.is_empty()
                ));
                assert!(matches!(
                    gate(&s, s.consent.required, Some(&latest), "stop", "en"),
                    Gate::Done {
                        erase: Erase::Message,
                        ..
                    }
                ));
                assert_eq!(
                    decision(&gate(&s, s.consent.required, Some(&latest), "START", "en")),
                    Some(ConsentDecision::OptedIn)
                );
            }
        }
    }

    #[test]
    fn stop_works_without_consent_too() {
        let s = spec(false);
        assert_eq!(gate(&s, s.consent.required, None, "hello", "en"), Gate::Pass);
        assert_eq!(
            decision(&gate(&s, s.consent.required, None, "stop", "en")),
            Some(ConsentDecision::OptedOut)
        );
        assert_eq!(
            gate(
                &s,
                s.consent.required,
                Some(&record(ConsentDecision::OptedIn, "v2")),
                "hi",
                "en"
            ),
            Gate::Pass
        );
    }
}
