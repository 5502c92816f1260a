use super::*;
use proptest::prelude::*;
use switchboard_channels::VerifyError;
use switchboard_channels::meta::{self, SIGNATURE_HEADER};

const APP_SECRET: &str = "fake0meta0app0secret000000000001";
const VERIFY_TOKEN: &str = "fake-verify-token-123";
const MALFORMED: Result<(), VerifyError> = Err(VerifyError::MalformedHeader(SIGNATURE_HEADER));

/// The Meta vectors: both channels sign the same way.
fn meta_vectors() -> Vec<Value> {
    let mut all = vectors("whatsapp");
    all.extend(vectors("messenger"));
    all
}

fn signed(v: &Value) -> String {
    v["expected"]["X-Hub-Signature-256"]
        .as_str()
        .expect("sha256 signature")
        .to_owned()
}

#[test]
fn every_meta_vector_verifies_over_the_exact_bytes() {
    let all = meta_vectors();
    assert_eq!(all.len(), 7, "the SDK vector, four WhatsApp and two Messenger fixtures");
    for v in &all {
        let body = vector_body(v);
        let secret = v["secret"].as_str().expect("secret");
        assert_eq!(
            meta::verify(&headers(&[("X-Hub-Signature-256", &signed(v))]), &body, secret),
            Ok(()),
            "{}",
            v["id"]
        );
    }
    let sdk = all.iter().find(|v| v["body"] == "test").expect("the SDK vector");
    assert_eq!(sdk["secret"], "TEST_APP_SECRET");
}

#[test]
fn the_unicode_escaped_body_is_hashed_as_sent_not_re_encoded() {
    let v = vectors("whatsapp")
        .into_iter()
        .find(|v| v["id"].as_str().is_some_and(|id| id.contains("unicode_escaped")))
        .expect("the escaped vector");
    let body = vector_body(&v);
    let text = std::str::from_utf8(&body).expect("ascii on the wire");
    assert!(text.is_ascii() && text.contains(r"\u00e9") && text.contains(r"\ud83d\udce6"));
    let sig = headers(&[(SIGNATURE_HEADER, &signed(&v))]);
    assert_eq!(meta::verify(&sig, &body, APP_SECRET), Ok(()));
    // The same JSON re-serialised (escapes decoded to UTF-8) is different bytes and must fail.
    let decoded: Value = serde_json::from_slice(&body).expect("json");
    let reencoded = serde_json::to_vec(&decoded).expect("json");
    assert_ne!(reencoded, body);
    assert_eq!(
        meta::verify(&sig, &reencoded, APP_SECRET),
        Err(VerifyError::BadSignature)
    );
}

#[test]
fn tampering_the_wrong_secret_and_a_missing_secret_are_refused() {
    for v in meta_vectors() {
        let body = vector_body(&v);
        let sig = headers(&[(SIGNATURE_HEADER, &signed(&v))]);
        let secret = v["secret"].as_str().expect("secret");
        let mut tampered = body.clone();
        tampered[body.len() / 2] ^= 0x01;
        assert_eq!(meta::verify(&sig, &tampered, secret), Err(VerifyError::BadSignature));
        let mut longer = body.clone();
        longer.push(b' ');
        assert_eq!(meta::verify(&sig, &longer, secret), Err(VerifyError::BadSignature));
        assert_eq!(
            meta::verify(&sig, &body, "fake0meta0app0secret000000000002"),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(meta::verify(&sig, &body, ""), Err(VerifyError::NoSecret));
    }
}

#[test]
fn the_header_must_be_present_well_formed_and_sha256() {
    let v = &meta_vectors()[1];
    let body = vector_body(v);
    let good = signed(v);
    let hex = good.trim_start_matches("sha256=");
    assert_eq!(
        meta::verify(&headers(&[]), &body, APP_SECRET),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER))
    );
    let sha1 = v["expected"]["X-Hub-Signature"].as_str().expect("legacy signature");
    assert_eq!(
        meta::verify(&headers(&[("X-Hub-Signature", sha1)]), &body, APP_SECRET),
        Err(VerifyError::MissingHeader(SIGNATURE_HEADER)),
        "the legacy sha1 header alone is not enough"
    );
    let wrong = [
        sha1.to_owned(),
        hex.to_owned(),
        format!("sha1={hex}"),
        format!("SHA256={hex}"),
        format!("sha256:{hex}"),
        format!("sha256={}", &hex[..62]),
        format!("sha256={hex}00"),
        format!("sha256={}zz", &hex[..62]),
        "sha256=".to_owned(),
        String::new(),
    ];
    for w in &wrong {
        assert_eq!(
            meta::verify(&headers(&[(SIGNATURE_HEADER, w)]), &body, APP_SECRET),
            MALFORMED,
            "{w:?}"
        );
    }
    let upper = format!("sha256={}", hex.to_uppercase());
    assert_eq!(
        meta::verify(&headers(&[(SIGNATURE_HEADER, &upper)]), &body, APP_SECRET),
        Ok(()),
        "hex digits in either case"
    );
    let mut flipped = hex.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = format!("sha256={}", String::from_utf8(flipped).expect("ascii"));
    assert_eq!(
        meta::verify(&headers(&[(SIGNATURE_HEADER, &flipped)]), &body, APP_SECRET),
        Err(VerifyError::BadSignature)
    );
}

/// The query string and the expected reply of `whatsapp/verify_request.http`.
fn handshake_fixture() -> (String, String) {
    let raw = String::from_utf8(fixture("whatsapp/verify_request.http")).expect("utf-8");
    let target = raw
        .lines()
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .expect("request target");
    let query = target.split_once('?').expect("query").1.to_owned();
    let lines: Vec<&str> = raw.lines().collect();
    let blank = lines
        .iter()
        .rposition(|l| l.trim() == "#")
        .expect("blank line of the reply");
    let reply = lines[blank + 1].trim_start_matches('#').trim().to_owned();
    (query, reply)
}

#[test]
fn the_handshake_echoes_the_exact_challenge() {
    let (query, reply) = handshake_fixture();
    assert_eq!(reply, "1158201444");
    assert_eq!(meta::challenge(&query, VERIFY_TOKEN), Ok(reply.clone()));
    assert_eq!(meta::challenge(&format!("?{query}"), VERIFY_TOKEN), Ok(reply));
    // Parameter order does not matter and the challenge comes back decoded, byte for byte.
    assert_eq!(
        meta::challenge(
            "hub.verify_token=fake-verify-token-123&hub.challenge=a%20b%2Bc&hub.mode=subscribe",
            VERIFY_TOKEN
        ),
        Ok("a b+c".to_owned())
    );
}

#[test]
fn the_handshake_fails_closed() {
    let (query, _) = handshake_fixture();
    let bad_token = |r: Result<String, VerifyError>| matches!(r, Err(VerifyError::BadToken(_)));
    assert_eq!(meta::challenge(&query, ""), Err(VerifyError::NoSecret));
    assert!(bad_token(meta::challenge(&query, "fake-verify-token-124")));
    assert!(bad_token(meta::challenge(&query, "fake-verify-token-12")));
    assert!(bad_token(meta::challenge(
        &query.replace("subscribe", "unsubscribe"),
        VERIFY_TOKEN
    )));
    for q in [
        "",
        "hub.mode=subscribe&hub.challenge=1",
        "hub.mode=subscribe&hub.verify_token=fake-verify-token-123",
        "hub.mode=subscribe&hub.verify_token=fake-verify-token-123&hub.challenge=",
        "hub.challenge=1&hub.verify_token=fake-verify-token-123",
        "hub.mode=subscribe&hub.verify_token=x&hub.verify_token=fake-verify-token-123&hub.challenge=1",
    ] {
        assert!(bad_token(meta::challenge(q, VERIFY_TOKEN)), "{q:?}");
    }
}

proptest! {
    #[test]
    fn a_correct_signature_verifies_and_any_change_to_the_body_does_not(
        body in proptest::collection::vec(any::<u8>(), 0..256),
        secret in "[ -~]{1,40}",
        flip in any::<prop::sample::Index>(),
    ) {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(&body);
        let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let h = headers(&[(SIGNATURE_HEADER, &sig)]);
        prop_assert_eq!(meta::verify(&h, &body, &secret), Ok(()));
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.index(body.len())] ^= 0x80;
            prop_assert_eq!(meta::verify(&h, &changed, &secret), Err(VerifyError::BadSignature));
        }
    }

    #[test]
    fn verify_and_challenge_never_panic(
        value in proptest::collection::vec(any::<u8>(), 0..100),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        query in any::<String>(),
    ) {
        if let Ok(v) = http::HeaderValue::from_bytes(&value) {
            let mut h = http::HeaderMap::new();
            h.insert(SIGNATURE_HEADER, v);
            let _ = meta::verify(&h, &body, APP_SECRET);
        }
        let _ = meta::challenge(&query, VERIFY_TOKEN);
    }

    #[test]
    fn mutated_handshakes_never_panic(q in mutations(handshake_fixture().0.into_bytes())) {
        let _ = meta::challenge(&String::from_utf8_lossy(&q), VERIFY_TOKEN);
    }
}
