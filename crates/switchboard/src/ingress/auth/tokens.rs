//! The secrets of authentication: password hashes (argon2id), access tokens (JWT, HS256, short
//! lived), refresh tokens and API keys (random, prefixed, stored as SHA-256 hashes).

use anyhow::{Context as _, anyhow};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use switchboard_store::Role;

/// The visible start of every API key: secret scanners look for it.
pub const API_KEY_PREFIX: &str = "sbk_";
/// The visible start of every refresh token.
pub const REFRESH_PREFIX: &str = "sbr_";
const KEY_ID_LEN: usize = 8;

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow!("hashing the password: {e}"))
}

/// Constant-time inside argon2; a malformed stored hash is a mismatch, not an error.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash to verify against when the email is unknown, so that an unknown email costs the same
/// time as a wrong password and does not reveal who has an account.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password that matches nothing").unwrap_or_default())
}

/// The password policy: 12 to 128 characters, not only letters or only digits, not the email.
pub fn check_password_policy(password: &str, email: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(12..=128).contains(&n) {
        return Err("the password must be 12 to 128 characters long".into());
    }
    let letters = password.chars().any(char::is_alphabetic);
    let others = password.chars().any(|c| !c.is_alphabetic());
    if !(letters && others) {
        return Err("the password must mix letters with digits or symbols".into());
    }
    if password.eq_ignore_ascii_case(email) {
        return Err("the password must not be the email".into());
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The session (refresh family) the token belongs to.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

pub fn issue_access(key: &[u8; 32], claims: &Claims) -> anyhow::Result<String> {
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key))
        .context("signing the access token")
}

/// Checks signature, algorithm and expiry (no leeway: our own clock issued it).
pub fn verify_access(key: &[u8; 32], token: &str, now_s: i64) -> Option<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 0;
    v.validate_exp = false;
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key), &v)
        .ok()?
        .claims;
    (claims.exp > now_s).then_some(claims)
}

fn random_text(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    B64URL.encode(raw)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn new_refresh_token() -> String {
    format!("{REFRESH_PREFIX}{}", random_text(32))
}

/// A new API key: `sbk_<8 id chars>_<secret>`. Returns (key, prefix to look it up by).
pub fn new_api_key() -> (String, String) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let id: String = (0..KEY_ID_LEN)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    let prefix = format!("{API_KEY_PREFIX}{id}");
    (format!("{prefix}_{}", random_text(32)), prefix)
}

/// The lookup prefix of something that looks like an API key.
pub fn api_key_prefix(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(API_KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == KEY_ID_LEN && !secret.is_empty()).then(|| &key[..API_KEY_PREFIX.len() + KEY_ID_LEN])
}

/// Compares two hashes in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_verify_and_follow_the_policy() {
        let h = hash_password("correct horse 9").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse 9", &h));
        assert!(!verify_password("correct horse 8", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(check_password_policy("short1", "a@b.c").is_err());
        assert!(check_password_policy("onlyletterslong", "a@b.c").is_err());
        assert!(check_password_policy("a@example.com1", "A@example.com1").is_err());
        assert!(check_password_policy("long enough 1", "a@b.c").is_ok());
    }

    #[test]
    fn access_tokens_expire_and_need_the_key() {
        let key = [3u8; 32];
        let claims = Claims {
            sub: "u1".into(),
            role: Role::Agent,
            tenant: Some("acme".into()),
            sid: "f".into(),
            iat: 100,
            exp: 200,
        };
        let t = issue_access(&key, &claims).expect("token");
        assert_eq!(verify_access(&key, &t, 199).map(|c| c.sub), Some("u1".into()));
        assert!(verify_access(&key, &t, 200).is_none(), "expired");
        assert!(verify_access(&[4u8; 32], &t, 150).is_none(), "wrong key");
        let mut forged = t.clone();
        forged.push('x');
        assert!(verify_access(&key, &forged, 150).is_none());
        // An unsigned token is never accepted.
        let none = format!(
            "{}.{}.",
            B64URL.encode(r#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap_or("")
        );
        assert!(verify_access(&key, &none, 150).is_none());
    }

    #[test]
    fn api_keys_are_prefixed_and_found_by_prefix() {
        let (key, prefix) = new_api_key();
        assert!(key.starts_with("sbk_") && key.len() > 50, "{key}");
        assert_eq!(api_key_prefix(&key), Some(prefix.as_str()));
        assert_eq!(api_key_prefix("sbk_short_x"), None);
        assert_eq!(api_key_prefix("eyJhbGciOi"), None);
        assert!(same_hash(&sha256_hex(&key), &sha256_hex(&key)));
        assert!(!same_hash(&sha256_hex(&key), &sha256_hex("other")));
    }
}
