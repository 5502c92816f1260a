//! Who a web chat end user is. The chat API's credential is a token, never a user id typed by
//! the client: `POST /v1/chat/{tenant}/sessions` hands one out, for a new anonymous visitor or
//! for a user the tenant vouches for, and every other chat call carries it.
//!
//! Tokens are stateless: `swc1.<payload>.<mac>`, the payload (tenant, user, whether the tenant
//! vouched for the user, expiry) signed with HMAC-SHA256 under a key derived from the master
//! key. Any instance sharing the master key verifies them without a store read, and starting a
//! session writes nothing, so a flood of new visitors fills no table. Rotating the master key
//! ends every chat session (the widget then starts a new one).
//!
//! A tenant vouches for its logged-in users with its identity secret (the tenant secret
//! [`IDENTITY_SECRET`]): its backend signs the user id (hex HMAC-SHA256), or signs a short-lived
//! HS256 JWT whose `sub` is the user id. Then the same person continues the same conversation
//! on any device.

use crate::app::App;
use crate::ingress::http::ApiError;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{KeyInit, Mac};
use serde::{Deserialize, Serialize};
use switchboard_core::TenantId;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The tenant secret that signs vouched-for user ids.
pub const IDENTITY_SECRET: &str = "chat_identity";
const PREFIX: &str = "swc1.";
/// Anonymous visitors' ids start with this; a vouched-for id may not, so that a tenant's user
/// can never be mapped onto a visitor's conversation.
pub const ANONYMOUS_PREFIX: &str = "anon_";
/// A vouching JWT may not live longer than this: it is meant to be minted per page view.
const MAX_JWT_LIFETIME_S: i64 = 24 * 3600;

/// The end user a valid token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatUser {
    pub user: String,
    /// The tenant vouched for this user id (else: an anonymous visitor).
    pub verified: bool,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    /// Tenant.
    t: String,
    /// User id.
    u: String,
    /// Vouched for by the tenant.
    #[serde(default)]
    v: bool,
    /// Expiry, epoch seconds.
    x: i64,
}

fn mac(key: &[u8; 32], signed: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(signed.as_bytes());
    mac
}

/// A token for `user` of `tenant`, valid until `expires_s` (epoch seconds).
pub fn issue(key: &[u8; 32], tenant: &TenantId, user: &ChatUser, expires_s: i64) -> String {
    let payload = Payload {
        t: tenant.as_str().to_owned(),
        u: user.user.clone(),
        v: user.verified,
        x: expires_s,
    };
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let signed = format!("{PREFIX}{}", B64URL.encode(json));
    let tag = B64URL.encode(mac(key, &signed).finalize().into_bytes());
    format!("{signed}.{tag}")
}

/// The user a token names, if it is genuine, unexpired and for `tenant`.
pub fn verify(key: &[u8; 32], token: &str, tenant: &TenantId, now_s: i64) -> Option<ChatUser> {
    let (signed, tag) = token.rsplit_once('.')?;
    let payload = signed.strip_prefix(PREFIX)?;
    let tag = B64URL.decode(tag).ok()?;
    mac(key, signed).verify_slice(&tag).ok()?;
    let p: Payload = serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()?;
    (p.t == tenant.as_str() && p.x > now_s).then_some(ChatUser {
        user: p.u,
        verified: p.v,
    })
}

/// The token a chat request carries: `Authorization: Bearer <token>` (any case of the scheme),
/// or `token` from the query where the caller allows it (the WebSocket: browsers cannot set
/// headers on it).
pub fn authenticate(
    app: &App,
    tenant: &TenantId,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<ChatUser, ApiError> {
    let header = headers.get(header::AUTHORIZATION).map(|v| {
        v.to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
    });
    let token = match (header, query_token) {
        (Some(Some(token)), _) => token,
        (Some(None), _) => {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be `Bearer <chat token>`".into(),
            ));
        }
        (None, Some(token)) => token,
        (None, None) => {
            return Err(ApiError::Unauthorized(format!(
                "a chat token is required: start a session with POST /v1/chat/{tenant}/sessions"
            )));
        }
    };
    verify(app.sealer.chat_key(), token, tenant, app.clock.now_ms() / 1000).ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "the chat token is not valid for tenant {tenant} or has expired: start a new session"
        ))
    })
}

/// Checks a user id as given, without changing it: a padded or otherwise altered id must never
/// quietly become someone else's.
pub fn check_user_id(user: &str, max_chars: usize) -> Result<(), ApiError> {
    let bad = |why: String| Err(ApiError::Unprocessable("invalid_user", why));
    if user.is_empty() {
        return bad("the user id must not be empty".into());
    }
    if user.chars().count() > max_chars {
        return bad(format!("the user id is longer than {max_chars} characters"));
    }
    if user.chars().any(|c| c.is_control()) {
        return bad("the user id must not contain control characters".into());
    }
    if user.trim() != user {
        return bad("the user id must not start or end with white space".into());
    }
    Ok(())
}

/// A new anonymous visitor id: 128 random bits.
pub fn new_visitor_id() -> String {
    format!("{ANONYMOUS_PREFIX}{:032x}", rand::random::<u128>())
}

/// How the tenant vouches for a user (the `identity` of a session request): an object, or
/// the JWT alone as a string.
#[derive(Deserialize, Debug)]
#[serde(from = "IdentityWire")]
pub struct Identity {
    pub user: Option<String>,
    /// HMAC-SHA256 of `user` under the tenant's identity secret: hex (as most backends print
    /// it), or base64; `sha256=` in front is allowed.
    pub signature: Option<String>,
    /// An HS256 JWT signed with the identity secret: `sub` is the user id, `exp` required.
    pub jwt: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum IdentityWire {
    Jwt(String),
    Fields(IdentityFields),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityFields {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default, alias = "token")]
    jwt: Option<String>,
}

impl From<IdentityWire> for Identity {
    fn from(w: IdentityWire) -> Identity {
        match w {
            IdentityWire::Jwt(jwt) => Identity {
                user: None,
                signature: None,
                jwt: Some(jwt),
            },
            IdentityWire::Fields(f) => Identity {
                user: f.user,
                signature: f.signature,
                jwt: f.jwt,
            },
        }
    }
}

/// The 32 bytes of a signature written in hex or base64 (standard or URL-safe, padded or not).
fn signature_bytes(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    let text = text.strip_prefix("sha256=").unwrap_or(text);
    if let Ok(b) = hex::decode(text) {
        return Some(b);
    }
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let unpadded = text.trim_end_matches('=');
    [STANDARD, URL_SAFE].iter().find_map(|engine| {
        engine
            .decode(format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4)))
            .ok()
    })
}

impl Identity {
    /// Either `user` and `signature`, or `jwt`: checked before the secret is looked up.
    pub fn check_shape(&self) -> Result<(), ApiError> {
        match (&self.user, &self.signature, &self.jwt) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => Ok(()),
            _ => Err(ApiError::Unprocessable(
                "invalid_identity",
                "`identity` takes either `user` and `signature`, or `jwt`".into(),
            )),
        }
    }
}

#[derive(Deserialize)]
struct JwtClaims {
    sub: String,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    /// When given, the tenant's id (a string, or a list holding it): a JWT minted for another
    /// tenant that shares the secret is not this one's.
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

/// The user id `identity` vouches for under `secret`, or why not.
pub fn vouched_user(
    identity: &Identity,
    tenant: &TenantId,
    secret: &[u8],
    max_chars: usize,
    now_s: i64,
) -> Result<String, ApiError> {
    let refused = |why: &str| ApiError::Forbidden("invalid_identity", why.to_owned());
    let user = match (&identity.user, &identity.signature, &identity.jwt) {
        (Some(user), Some(signature), None) => {
            let tag = signature_bytes(signature).ok_or_else(|| {
                refused("`identity.signature` must be the HMAC-SHA256 of the user id, in hex or base64")
            })?;
            let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
            mac.update(user.as_bytes());
            mac.verify_slice(&tag)
                .map_err(|_| refused("the signature does not match this user id"))?;
            user.clone()
        }
        (None, None, Some(jwt)) => {
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.leeway = 30;
            v.validate_exp = false;
            v.validate_aud = false;
            v.set_required_spec_claims(&["exp", "sub"]);
            let claims = jsonwebtoken::decode::<JwtClaims>(jwt, &jsonwebtoken::DecodingKey::from_secret(secret), &v)
                .map_err(|_| refused("the identity JWT is not signed with this tenant's identity secret"))?
                .claims;
            if claims.exp <= now_s {
                return Err(refused("the identity JWT has expired"));
            }
            if claims.exp > now_s + MAX_JWT_LIFETIME_S {
                return Err(refused("the identity JWT must expire within 24 hours"));
            }
            if claims.nbf.is_some_and(|nbf| nbf > now_s + 30) {
                return Err(refused("the identity JWT is not valid yet (nbf)"));
            }
            let for_us = |v: &serde_json::Value| v.as_str() == Some(tenant.as_str());
            let aud_ok = match &claims.aud {
                None => true,
                Some(serde_json::Value::Array(list)) => list.iter().any(for_us),
                Some(one) => for_us(one),
            };
            if !aud_ok {
                return Err(refused("the identity JWT's `aud` is not this tenant"));
            }
            claims.sub
        }
        _ => {
            return Err(ApiError::Unprocessable(
                "invalid_identity",
                "`identity` takes either `user` and `signature`, or `jwt`".into(),
            ));
        }
    };
    check_user_id(&user, max_chars)?;
    if user.starts_with(ANONYMOUS_PREFIX) {
        return Err(ApiError::Unprocessable(
            "invalid_user",
            format!("user ids starting with {ANONYMOUS_PREFIX:?} are reserved for anonymous visitors"),
        ));
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], user: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("key");
        mac.update(user.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn tokens_name_one_user_of_one_tenant_until_they_expire() {
        let key = [7u8; 32];
        let acme = TenantId::parse("acme").expect("id");
        let beta = TenantId::parse("beta").expect("id");
        let ana = ChatUser {
            user: "ana".into(),
            verified: true,
        };
        let token = issue(&key, &acme, &ana, 1_000);
        assert_eq!(verify(&key, &token, &acme, 999), Some(ana.clone()));
        assert_eq!(verify(&key, &token, &acme, 1_000), None, "expired");
        assert_eq!(verify(&key, &token, &beta, 10), None, "another tenant");
        assert_eq!(verify(&[8u8; 32], &token, &acme, 10), None, "another key");
        // Changing the payload (another user) breaks the signature.
        let (signed, tag) = token.rsplit_once('.').expect("tag");
        let forged_payload = B64URL.encode(br#"{"t":"acme","u":"victim","v":true,"x":99999}"#);
        assert_eq!(
            verify(&key, &format!("{PREFIX}{forged_payload}.{tag}"), &acme, 10),
            None
        );
        assert_eq!(verify(&key, signed, &acme, 10), None);
        for junk in ["", ".", "swc1..", "swc1.x.y", "Bearer", "swc1.%%%.%%%"] {
            assert_eq!(verify(&key, junk, &acme, 10), None, "{junk:?}");
        }
    }

    fn acme() -> TenantId {
        TenantId::parse("acme").expect("id")
    }

    #[test]
    fn vouching_takes_the_tenants_signature_or_jwt_only() {
        let secret = b"tenant-identity-secret";
        let id = |user: &str, signature: &str| Identity {
            user: Some(user.into()),
            signature: Some(signature.into()),
            jwt: None,
        };
        assert_eq!(
            vouched_user(&id("ana", &sign(secret, "ana")), &acme(), secret, 128, 0).expect("ok"),
            "ana"
        );
        assert!(vouched_user(&id("bob", &sign(secret, "ana")), &acme(), secret, 128, 0).is_err());
        assert!(vouched_user(&id("ana", &sign(b"other", "ana")), &acme(), secret, 128, 0).is_err());
        assert!(vouched_user(&id("ana", "zz"), &acme(), secret, 128, 0).is_err());
        let raw = hex::decode(sign(secret, "ana")).expect("hex");
        for written in [
            base64::engine::general_purpose::STANDARD.encode(&raw),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw),
            format!("sha256={}", sign(secret, "ana")),
            sign(secret, "ana").to_uppercase(),
        ] {
            assert!(
                vouched_user(&id("ana", &written), &acme(), secret, 128, 0).is_ok(),
                "{written}"
            );
        }
        assert!(vouched_user(&id(" ana", &sign(secret, " ana")), &acme(), secret, 128, 0).is_err());
        assert!(vouched_user(&id("anon_1", &sign(secret, "anon_1")), &acme(), secret, 128, 0).is_err());
        let jwt = |sub: &str, exp: i64, key: &[u8]| Identity {
            user: None,
            signature: None,
            jwt: Some(
                jsonwebtoken::encode(
                    &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                    &serde_json::json!({"sub": sub, "exp": exp}),
                    &jsonwebtoken::EncodingKey::from_secret(key),
                )
                .expect("jwt"),
            ),
        };
        let now = 1_800_000_000;
        assert_eq!(
            vouched_user(&jwt("ana", now + 600, secret), &acme(), secret, 128, now).expect("ok"),
            "ana"
        );
        assert!(
            vouched_user(&jwt("ana", now - 600, secret), &acme(), secret, 128, now).is_err(),
            "expired"
        );
        assert!(
            vouched_user(&jwt("ana", now + 90_000, secret), &acme(), secret, 128, now).is_err(),
            "too long"
        );
        assert!(
            vouched_user(&jwt("ana", now + 600, b"other"), &acme(), secret, 128, now).is_err(),
            "wrong key"
        );
    }

    #[test]
    fn user_ids_are_checked_not_trimmed() {
        assert!(check_user_id("ana", 8).is_ok());
        assert!(check_user_id("ana@example.com", 64).is_ok());
        for bad in ["", " ana", "ana ", "a\u{0}b", "a\nb", "123456789"] {
            assert!(check_user_id(bad, 8).is_err(), "{bad:?}");
        }
    }
}
