use super::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use switchboard_channels::VerifyError;
use switchboard_channels::teams_auth::{ISSUER, Jwk, Jwks, key_id, verify};

const APP: &str = "00000000-0000-4000-8000-00000000a001";
const SERVICE: &str = "https://smba.trafficmanager.net/emea/";
const NOW: i64 = 1_767_225_600;

fn keys() -> Vec<Jwk> {
    serde_json::from_slice::<Jwks>(&fixture("teams-keys/jwks.json"))
        .expect("jwks")
        .keys
}

fn token(claims: serde_json::Value, kid: &str) -> String {
    let key = EncodingKey::from_rsa_pem(&fixture("teams-keys/test-signing-key.pem")).expect("pem");
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.to_owned());
    encode(&h, &claims, &key).expect("sign")
}

fn claims() -> serde_json::Value {
    serde_json::json!({"iss": ISSUER, "aud": APP, "exp": NOW + 3600, "nbf": NOW - 60, "serviceurl": SERVICE})
}

fn check(claims: serde_json::Value, kid: &str, channel: &str, now: i64) -> Result<(), VerifyError> {
    let t = token(claims, kid);
    verify(
        &headers(&[("authorization", &format!("Bearer {t}"))]),
        &keys(),
        APP,
        channel,
        SERVICE,
        now,
    )
}

#[test]
fn a_connector_token_for_this_bot_is_accepted() {
    assert_eq!(check(claims(), "test-key-1", "msteams", NOW), Ok(()));
    let t = token(claims(), "test-key-1");
    assert_eq!(
        key_id(&headers(&[("authorization", &format!("Bearer {t}"))])),
        Ok("test-key-1".to_owned())
    );
}

#[test]
fn every_rule_is_enforced() {
    let bad = |c: Result<(), VerifyError>, why: &str| {
        assert!(matches!(c, Err(VerifyError::BadToken(_))), "{why}: {c:?}");
    };
    let mut c = claims();
    c["aud"] = "someone-else".into();
    bad(check(c, "test-key-1", "msteams", NOW), "wrong audience");
    let mut c = claims();
    c["iss"] = "https://sts.windows.net/x/".into();
    bad(check(c, "test-key-1", "msteams", NOW), "wrong issuer");
    let mut c = claims();
    c["serviceurl"] = "https://evil.example.com/".into();
    bad(check(c, "test-key-1", "msteams", NOW), "serviceUrl mismatch");
    bad(
        check(claims(), "test-key-1", "skype", NOW),
        "channel not endorsed by the key",
    );
    bad(check(claims(), "other-key", "msteams", NOW), "unknown key");
    bad(
        check(claims(), "test-key-1", "msteams", NOW + 3600 + 301),
        "expired by more than 5 minutes",
    );
    assert_eq!(
        check(claims(), "test-key-1", "msteams", NOW + 3600 + 299),
        Ok(()),
        "clock skew is tolerated"
    );
    bad(
        check(claims(), "test-key-1", "msteams", NOW - 60 - 301),
        "not valid yet",
    );
    let t = token(claims(), "test-key-1");
    let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    let forged = parts.join(".");
    assert!(
        verify(
            &headers(&[("authorization", &format!("Bearer {forged}"))]),
            &keys(),
            APP,
            "msteams",
            SERVICE,
            NOW
        )
        .is_err()
    );
}

#[test]
fn missing_or_malformed_authorization_fails_closed() {
    assert_eq!(
        verify(&headers(&[]), &keys(), APP, "msteams", SERVICE, NOW),
        Err(VerifyError::MissingHeader("authorization"))
    );
    assert_eq!(
        verify(
            &headers(&[("authorization", "Basic abc")]),
            &keys(),
            APP,
            "msteams",
            SERVICE,
            NOW
        ),
        Err(VerifyError::MalformedHeader("authorization"))
    );
    assert!(
        verify(
            &headers(&[("authorization", "Bearer not.a.jwt")]),
            &keys(),
            APP,
            "msteams",
            SERVICE,
            NOW
        )
        .is_err()
    );
    let t = token(claims(), "test-key-1");
    assert_eq!(
        verify(
            &headers(&[("authorization", &format!("Bearer {t}"))]),
            &keys(),
            "",
            "msteams",
            SERVICE,
            NOW
        ),
        Err(VerifyError::NoSecret)
    );
}
