use super::*;
use proptest::prelude::*;
use switchboard_channels::twilio::{self, SIGNATURE_HEADER};
use switchboard_channels::{AttachmentKind, DeliveryState, EventKind, Fetch, InboundEvent, Membership, VerifyError};

const ACCOUNT: &str = "AC00000000000000000000000000000001";
const FIXTURE_TOKEN: &str = "fake0twilio0auth0token0000000001";
const FORM: &str = "application/x-www-form-urlencoded";

fn one(file: &str) -> InboundEvent {
    let mut events = twilio::parse(&fixture(&format!("twilio/{file}")), ACCOUNT).expect("parses");
    assert_eq!(events.len(), 1, "{file}: {events:?}");
    events.remove(0)
}

fn signed(sig: &str) -> http::HeaderMap {
    headers(&[("X-Twilio-Signature", sig)])
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// The URL, body and content type a vector's request had.
fn request(v: &serde_json::Value) -> (String, Vec<u8>, &'static str) {
    let url = str_of(v, "url");
    if v["content_type"] == "application/json" {
        let hash = str_of(&v["expected"], "bodySHA256");
        (format!("{url}&bodySHA256={hash}"), vector_body(v), "application/json")
    } else if let Some(params) = v["params"].as_array() {
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|p| (p[0].as_str().expect("name"), p[1].as_str().expect("value")))
            .collect();
        let body = serde_urlencoded::to_string(pairs).expect("form");
        (url.to_owned(), body.into_bytes(), FORM)
    } else {
        (url.to_owned(), vector_body(v), FORM)
    }
}

#[test]
fn every_twilio_vector_verifies() {
    let all = vectors("twilio");
    let ids: Vec<&str> = all.iter().map(|v| str_of(v, "id")).collect();
    for wanted in [
        "twilio-docs-worked-example",
        "twilio-sdk-test-form",
        "twilio-sdk-test-duplicates",
        "twilio-sdk-test-port-443",
        "twilio-sdk-test-json-body",
        "twilio-fixture-sms.form",
    ] {
        assert!(ids.contains(&wanted), "{wanted} missing from {ids:?}");
    }
    for v in &all {
        let (url, body, content_type) = request(v);
        let sig = str_of(&v["expected"], "X-Twilio-Signature");
        assert_eq!(
            twilio::verify(&signed(sig), &url, &body, content_type, str_of(v, "secret")),
            Ok(()),
            "{}",
            v["id"]
        );
    }
}

#[test]
fn the_default_port_may_be_added_or_removed() {
    let all = vectors("twilio");
    let find = |id: &str| all.iter().find(|v| v["id"] == id).expect("vector").clone();
    let with_port = find("twilio-sdk-test-port-443");
    let without_port = find("twilio-sdk-test-form");
    let (url_443, body, _) = request(&with_port);
    let (url_plain, body_plain, _) = request(&without_port);
    assert_eq!(body, body_plain, "same params, different URL");
    let sig_443 = str_of(&with_port["expected"], "X-Twilio-Signature");
    let sig_plain = str_of(&without_port["expected"], "X-Twilio-Signature");
    assert_ne!(sig_443, sig_plain);
    for (url, sig) in [(&url_plain, sig_443), (&url_443, sig_plain)] {
        assert_eq!(twilio::verify(&signed(sig), url, &body, FORM, "12345"), Ok(()), "{url}");
    }
    // Credentials are not part of the signed URL.
    let with_credentials = url_plain.replacen("https://", "https://user:pw@", 1);
    assert_eq!(
        twilio::verify(&signed(sig_plain), &with_credentials, &body, FORM, "12345"),
        Ok(())
    );
    // Another host or path is another URL.
    let elsewhere = url_plain.replace("myapp.php", "other.php");
    assert_eq!(
        twilio::verify(&signed(sig_plain), &elsewhere, &body, FORM, "12345"),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn tampering_a_wrong_token_or_a_missing_header_fail_closed() {
    let v = vectors("twilio")
        .into_iter()
        .find(|v| v["id"] == "twilio-fixture-sms.form")
        .expect("sms vector");
    let (url, body, _) = request(&v);
    let sig = str_of(&v["expected"], "X-Twilio-Signature");
    assert_eq!(twilio::verify(&signed(sig), &url, &body, FORM, FIXTURE_TOKEN), Ok(()));
    let text = String::from_utf8(body.clone()).expect("utf8");
    let tampered = text.replace("order+8812", "order+8813");
    assert_ne!(tampered, text);
    assert_eq!(
        twilio::verify(&signed(sig), &url, tampered.as_bytes(), FORM, FIXTURE_TOKEN),
        Err(VerifyError::BadSignature)
    );
    let added = format!("{text}&Extra=1");
    assert_eq!(
        twilio::verify(&signed(sig), &url, added.as_bytes(), FORM, FIXTURE_TOKEN),
        Err(VerifyError::BadSignature),
        "an added param is signed too"
    );
    assert_eq!(
        twilio::verify(&signed(sig), &url, &body, FORM, "fake0twilio0auth0token0000000002"),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        twilio::verify(&headers(&[]), &url, &body, FORM, FIXTURE_TOKEN),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
    );
    assert_eq!(
        twilio::verify(&signed("not base64!"), &url, &body, FORM, FIXTURE_TOKEN),
        Err(VerifyError::MalformedHeader(SIGNATURE_HEADER))
    );
    assert_eq!(
        twilio::verify(&signed(sig), &url, &body, FORM, ""),
        Err(VerifyError::NoSecret),
        "no token, no entry"
    );
}

#[test]
fn param_order_in_the_body_does_not_matter_but_the_values_do() {
    // The docs example lists its params unsorted; sorting is the verifier's job.
    let v = vectors("twilio")
        .into_iter()
        .find(|v| v["id"] == "twilio-docs-worked-example")
        .expect("docs vector");
    let (url, body, _) = request(&v);
    let sig = str_of(&v["expected"], "X-Twilio-Signature");
    let text = String::from_utf8(body).expect("utf8");
    let mut parts: Vec<&str> = text.split('&').collect();
    parts.reverse();
    let reversed = parts.join("&");
    assert_eq!(
        twilio::verify(&signed(sig), &url, reversed.as_bytes(), FORM, "12345"),
        Ok(())
    );
    let empty_added = format!("{text}&Empty=");
    assert_eq!(
        twilio::verify(&signed(sig), &url, empty_added.as_bytes(), FORM, "12345"),
        Err(VerifyError::BadSignature),
        "empty params are signed as their name"
    );
}

#[test]
fn json_bodies_are_bound_by_their_hash() {
    let v = vectors("twilio")
        .into_iter()
        .find(|v| v["id"] == "twilio-sdk-test-json-body")
        .expect("json vector");
    let (url, body, content_type) = request(&v);
    let sig = str_of(&v["expected"], "X-Twilio-Signature");
    let ok =
        |url: &str, body: &[u8], content_type: &str| twilio::verify(&signed(sig), url, body, content_type, "12345");
    assert_eq!(ok(&url, &body, content_type), Ok(()));
    assert_eq!(
        ok(&url, &body, "application/json; charset=utf-8"),
        Ok(()),
        "content type parameters are ignored"
    );
    assert_eq!(
        ok(&url, br#"{"property": "value", "boolean": false}"#, content_type),
        Err(VerifyError::BadSignature),
        "another body does not hash to bodySHA256"
    );
    assert_eq!(
        ok(&url, b"", FORM),
        Err(VerifyError::BadSignature),
        "claiming a form body does not skip the hash"
    );
    let plain_url = str_of(&v, "url");
    assert_eq!(
        ok(plain_url, &body, content_type),
        Err(VerifyError::BadSignature),
        "a JSON body without a hash in the URL is not bound to the signature"
    );
    let bad_hash = format!("{plain_url}&bodySHA256=zz");
    assert_eq!(ok(&bad_hash, &body, content_type), Err(VerifyError::BadSignature));
}

#[test]
fn sms_and_mms() {
    let sms = one("sms.form");
    assert_eq!(
        (sms.kind, sms.event_id.as_str(), sms.account_id.as_str()),
        (EventKind::Message, "SM00000000000000000000000000000001", ACCOUNT)
    );
    assert_eq!(
        (sms.conversation_id.as_str(), sms.sender.id.as_str()),
        ("+15557654321", "+15557654321")
    );
    assert_eq!(sms.text.as_deref(), Some("Hi! Is order 8812 shipped? \u{1f44d}"));
    assert_eq!(sms.message_id.as_deref(), Some("SM00000000000000000000000000000001"));
    assert_eq!((sms.timestamp_ms, sms.sender.display_name.clone()), (0, None));
    assert!(sms.attachments.is_empty() && sms.interactive.is_none());

    let mms = one("mms.form");
    assert_eq!(mms.event_id, "MM00000000000000000000000000000002");
    assert_eq!(mms.text.as_deref(), Some("damaged box"));
    assert_eq!(mms.attachments.len(), 1);
    let a = &mms.attachments[0];
    assert_eq!((a.kind, a.mime.as_deref()), (AttachmentKind::Image, Some("image/jpeg")));
    assert_eq!(
        a.fetch,
        Fetch::Url(
            "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages/MM00000000000000000000000000000002/Media/ME00000000000000000000000000000002".into()
        )
    );
}

#[test]
fn media_kinds_come_from_the_mime_type_in_index_order() {
    let body = "AccountSid=AC00000000000000000000000000000001&MessageSid=MM1&From=%2B1555&NumMedia=4\
        &MediaUrl1=https%3A%2F%2Fm%2F1&MediaContentType1=audio%2Fogg\
        &MediaUrl0=https%3A%2F%2Fm%2F0&MediaContentType0=video%2Fmp4\
        &MediaUrl2=https%3A%2F%2Fm%2F2&MediaContentType2=application%2Fpdf\
        &MediaUrl3=https%3A%2F%2Fm%2F3";
    let e = twilio::parse(body.as_bytes(), ACCOUNT).expect("parses").remove(0);
    let kinds: Vec<AttachmentKind> = e.attachments.iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            AttachmentKind::Video,
            AttachmentKind::Audio,
            AttachmentKind::File,
            AttachmentKind::File
        ]
    );
    assert_eq!(e.attachments[3].mime, None);
    assert_eq!(e.text, None, "no Body, no text");
}

#[test]
fn whatsapp_messages_and_button_replies() {
    let w = one("whatsapp_inbound.form");
    assert_eq!(w.kind, EventKind::Message);
    assert_eq!(
        (w.conversation_id.as_str(), w.sender.id.as_str()),
        ("whatsapp:+15557654321", "whatsapp:+15557654321")
    );
    assert_eq!(w.sender.display_name.as_deref(), Some("Grace Hopper"));
    assert_eq!(w.text.as_deref(), Some("Hola, \u{bf}tienen env\u{ed}o?"));

    let b = one("whatsapp_button_reply.form");
    assert_eq!(
        (b.kind, b.event_id.as_str()),
        (EventKind::Interactive, "SM00000000000000000000000000000004")
    );
    let i = b.interactive.clone().expect("interactive");
    assert_eq!(
        (i.payload.as_str(), i.title.as_deref()),
        ("CONFIRM_APPOINTMENT", Some("Confirm"))
    );
    assert_eq!(
        i.source_message_id.as_deref(),
        Some("SM00000000000000000000000000000099")
    );
    assert_eq!(
        b.reply_to_message_id.as_deref(),
        Some("SM00000000000000000000000000000099")
    );
    assert_eq!(b.text.as_deref(), Some("Confirm"));
}

#[test]
fn whatsapp_locations_become_location_attachments() {
    let body = "AccountSid=AC00000000000000000000000000000001&MessageSid=SM9&From=whatsapp%3A%2B1555\
        &Latitude=40.4168&Longitude=-3.7038&Label=Sol&Address=Puerta+del+Sol&Body=";
    let e = twilio::parse(body.as_bytes(), ACCOUNT).expect("parses").remove(0);
    let loc = e.attachments[0].location.clone().expect("location");
    assert_eq!((loc.latitude, loc.longitude), (40.4168, -3.7038));
    assert_eq!(
        (loc.name.as_deref(), loc.address.as_deref()),
        (Some("Sol"), Some("Puerta del Sol"))
    );
}

#[test]
fn status_callbacks() {
    let d = one("message_status_delivered.form");
    assert_eq!(
        (d.kind, d.event_id.as_str()),
        (EventKind::Status, "SM00000000000000000000000000000005:delivered")
    );
    assert_eq!(
        d.conversation_id, "+15557654321",
        "the person is the recipient of our message"
    );
    let s = d.status.expect("status");
    assert_eq!(
        (s.message_id.as_str(), s.state, s.error_code),
        ("SM00000000000000000000000000000005", DeliveryState::Delivered, None)
    );

    let f = one("message_status_failed.form");
    assert_eq!(f.event_id, "SM00000000000000000000000000000006:undelivered");
    assert_eq!(f.conversation_id, "whatsapp:+15557654321");
    let s = f.status.expect("status");
    assert_eq!(
        (s.state, s.error_code.as_deref()),
        (DeliveryState::Failed, Some("30008"))
    );

    let state = |status: &str| {
        let body = format!("AccountSid={ACCOUNT}&MessageSid=SM7&MessageStatus={status}&To=%2B1555&ErrorMessage=Oops");
        twilio::parse(body.as_bytes(), ACCOUNT)
            .expect("parses")
            .first()
            .and_then(|e| e.status.clone())
            .map(|s| s.state)
    };
    for (status, want) in [
        ("queued", Some(DeliveryState::Sent)),
        ("sending", Some(DeliveryState::Sent)),
        ("sent", Some(DeliveryState::Sent)),
        ("delivered", Some(DeliveryState::Delivered)),
        ("read", Some(DeliveryState::Read)),
        ("failed", Some(DeliveryState::Failed)),
        ("undelivered", Some(DeliveryState::Failed)),
        ("scheduled", None),
        ("some-future-status", None),
    ] {
        assert_eq!(state(status), want, "{status}");
    }
    let body = format!(
        "AccountSid={ACCOUNT}&MessageSid=SM7&MessageStatus=failed&To=%2B1555&ErrorCode=30003&ErrorMessage=Unreachable"
    );
    let s = twilio::parse(body.as_bytes(), ACCOUNT).expect("parses")[0]
        .status
        .clone()
        .expect("status");
    assert_eq!(
        (s.error_code.as_deref(), s.error_message.as_deref()),
        (Some("30003"), Some("Unreachable"))
    );
}

#[test]
fn voice_calls_gathers_and_hang_ups() {
    let call = one("voice_incoming.form");
    assert_eq!(
        (call.kind, call.event_id.as_str(), call.text.clone()),
        (EventKind::Message, "CA00000000000000000000000000000007:call", None)
    );
    assert_eq!(call.conversation_id, "+15557654321");
    assert_eq!(call.message_id.as_deref(), Some("CA00000000000000000000000000000007"));

    let digits = one("voice_gather_result.form");
    assert_eq!((digits.kind, digits.text.as_deref()), (EventKind::Message, Some("2")));
    assert!(
        digits
            .event_id
            .starts_with("CA00000000000000000000000000000007:digits:")
    );

    let speech = one("voice_gather_speech.form");
    assert_eq!(speech.text.as_deref(), Some("Track my order."));
    assert!(
        speech
            .event_id
            .starts_with("CA00000000000000000000000000000007:speech:")
    );
    assert_eq!(
        one("voice_gather_speech.form").event_id,
        speech.event_id,
        "a retried webhook dedups"
    );
    let other = String::from_utf8(fixture("twilio/voice_gather_speech.form"))
        .expect("utf8")
        .replace("Track+my+order.", "Cancel+it.");
    let other = twilio::parse(other.as_bytes(), ACCOUNT).expect("parses").remove(0);
    assert_ne!(
        other.event_id, speech.event_id,
        "another utterance in the same call is new"
    );

    let ended = String::from_utf8(fixture("twilio/voice_incoming.form"))
        .expect("utf8")
        .replace("CallStatus=ringing", "CallStatus=completed");
    let ended = twilio::parse(ended.as_bytes(), ACCOUNT).expect("parses").remove(0);
    assert_eq!(
        (ended.kind, ended.membership, ended.event_id.as_str()),
        (
            EventKind::Membership,
            Some(Membership::BotRemoved),
            "CA00000000000000000000000000000007:completed"
        )
    );
    assert_eq!(ended.conversation_id, "+15557654321");

    let no_input = String::from_utf8(fixture("twilio/voice_gather_result.form"))
        .expect("utf8")
        .replace("Digits=2", "Digits=");
    let no_input = twilio::parse(no_input.as_bytes(), ACCOUNT).expect("parses").remove(0);
    assert_eq!(
        (no_input.event_id.as_str(), no_input.text.clone()),
        ("CA00000000000000000000000000000007:noinput", None)
    );

    let outbound = format!(
        "AccountSid={ACCOUNT}&CallSid=CA8&CallStatus=in-progress&Direction=outbound-api&From=%2B1000&To=%2B1999&SpeechResult=yes"
    );
    let outbound = twilio::parse(outbound.as_bytes(), ACCOUNT).expect("parses").remove(0);
    assert_eq!(outbound.conversation_id, "+1999", "on calls we placed the person is To");
}

#[test]
fn payloads_for_another_account_are_refused() {
    let sms = fixture("twilio/sms.form");
    assert!(twilio::parse(&sms, "AC00000000000000000000000000000002").is_err());
    assert!(twilio::parse(&sms, "").is_err());
    let without = String::from_utf8(sms)
        .expect("utf8")
        .replace("AccountSid=AC00000000000000000000000000000001&", "");
    assert!(
        twilio::parse(without.as_bytes(), ACCOUNT).is_err(),
        "no AccountSid, no account"
    );
    assert!(twilio::parse(format!("AccountSid={ACCOUNT}&From=x").as_bytes(), ACCOUNT).is_err());
    assert!(
        twilio::parse(
            format!("AccountSid={ACCOUNT}&Body=a&Body=b&MessageSid=S&From=x").as_bytes(),
            ACCOUNT
        )
        .is_err(),
        "repeated fields are ambiguous"
    );
}

const FIXTURES: [&str; 9] = [
    "sms.form",
    "mms.form",
    "whatsapp_inbound.form",
    "whatsapp_button_reply.form",
    "message_status_delivered.form",
    "message_status_failed.form",
    "voice_incoming.form",
    "voice_gather_result.form",
    "voice_gather_speech.form",
];

proptest! {
    #[test]
    fn twilio_never_panics_on_random_bytes(body in proptest::collection::vec(any::<u8>(), 0..512), url in ".{0,64}", ct in ".{0,32}") {
        let _ = twilio::parse(&body, ACCOUNT);
        let _ = twilio::verify(&signed("RSOYDt4T1cUTdK1PDd93/VVr8B8="), &url, &body, &ct, "12345");
    }

    #[test]
    fn twilio_survives_mutated_fixtures(i in 0usize..FIXTURES.len(), edits in mutations(fixture("twilio/mms.form")), pick in any::<bool>()) {
        let body = if pick { edits } else { fixture(&format!("twilio/{}", FIXTURES[i])) };
        let _ = twilio::parse(&body, ACCOUNT);
        let _ = twilio::verify(&signed("RSOYDt4T1cUTdK1PDd93/VVr8B8="), "https://bots.example.com:8443/x?bodySHA256=00", &body, FORM, FIXTURE_TOKEN);
    }

    #[test]
    fn twilio_mutated_voice_and_status_never_panic(voice in mutations(fixture("twilio/voice_gather_speech.form")), status in mutations(fixture("twilio/message_status_failed.form"))) {
        let _ = twilio::parse(&voice, ACCOUNT);
        let _ = twilio::parse(&status, ACCOUNT);
    }
}
