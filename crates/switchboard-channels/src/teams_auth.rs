//! Bot Framework (Teams) request authentication: `Authorization: Bearer <JWT>` issued by the
//! Bot Connector, checked against the keys of its OpenID metadata (the caller fetches and caches
//! them; this module does no I/O).
//!
//! Checks, after learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-
//! authentication: RS256 signature by a published key; issuer `https://api.botframework.com`;
//! audience = the bot's app id; not expired and already valid, with 5 minutes of clock skew
//! allowed; the key endorses the activity's channel (`msteams`); the token's `serviceurl` claim
//! equals the activity's `serviceUrl`. The token's own checks ([`verify_token`]) come before the
//! body is parsed; the last two need the activity and follow it ([`VerifiedToken::matches`]).

use crate::verify::{VerifyError, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

pub const ISSUER: &str = "https://api.botframework.com";
pub const DEFAULT_METADATA_URL: &str = "https://login.botframework.com/v1/.well-known/openidconfiguration";
const SKEW_S: i64 = 300;

/// One signing key of the OpenID metadata's JWKS.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Jwk {
    pub kid: String,
    #[serde(default)]
    pub kty: String,
    pub n: String,
    pub e: String,
    #[serde(default)]
    pub endorsements: Vec<String>,
}

#[derive(Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The part of the OpenID metadata document we use.
#[derive(Deserialize)]
pub struct OpenIdMetadata {
    pub jwks_uri: String,
}

#[derive(Deserialize)]
struct Claims {
    exp: i64,
    nbf: Option<i64>,
    #[serde(default)]
    serviceurl: Option<String>,
}

/// The key id a token names, to look its key up (and refresh the keys when it is unknown).
pub fn key_id(headers: &http::HeaderMap) -> Result<String, VerifyError> {
    let token = bearer(headers)?;
    let h = decode_header(token).map_err(|e| VerifyError::BadToken(format!("unreadable header: {e}")))?;
    h.kid
        .ok_or_else(|| VerifyError::BadToken("the token names no key".into()))
}

fn bearer(headers: &http::HeaderMap) -> Result<&str, VerifyError> {
    let value = header(headers, "authorization")?;
    // Auth schemes are case-insensitive (RFC 9110 section 11.1).
    value
        .trim_start()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty())
        .ok_or(VerifyError::MalformedHeader("authorization"))
}

/// Verifies the request's token for `app_id`, given the metadata's keys, the activity's
/// `channelId` and `serviceUrl`, and the time now (seconds).
pub fn verify(
    headers: &http::HeaderMap,
    keys: &[Jwk],
    app_id: &str,
    channel_id: &str,
    service_url: &str,
    now_s: i64,
) -> Result<(), VerifyError> {
    verify_token(headers, keys, app_id, now_s)?.matches(channel_id, service_url)
}

/// A token the Bot Connector signed for this bot and that is valid now: what it still says
/// about the activity, to be checked once the body is read ([`VerifiedToken::matches`]).
#[derive(Debug)]
pub struct VerifiedToken {
    kid: String,
    endorsements: Vec<String>,
    service_url: Option<String>,
}

/// The token's own checks (signature, issuer, audience, time), which need nothing of the body:
/// an unauthenticated request is refused before its body is parsed.
pub fn verify_token(
    headers: &http::HeaderMap,
    keys: &[Jwk],
    app_id: &str,
    now_s: i64,
) -> Result<VerifiedToken, VerifyError> {
    if app_id.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let token = bearer(headers)?;
    let kid = key_id(headers)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| VerifyError::BadToken(format!("unknown key {kid}")))?;
    let decoding = DecodingKey::from_rsa_components(&key.n, &key.e)
        .map_err(|e| VerifyError::BadToken(format!("unusable key {kid}: {e}")))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[app_id]);
    // Time is checked below against the injected clock, not the system's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Claims>(token, &decoding, &validation)
        .map_err(|e| VerifyError::BadToken(e.to_string()))?
        .claims;
    if claims.exp + SKEW_S < now_s {
        return Err(VerifyError::BadToken("the token has expired".into()));
    }
    if claims.nbf.is_some_and(|nbf| nbf - SKEW_S > now_s) {
        return Err(VerifyError::BadToken("the token is not valid yet".into()));
    }
    Ok(VerifiedToken {
        endorsements: key.endorsements.clone(),
        kid,
        service_url: claims.serviceurl,
    })
}

impl VerifiedToken {
    /// The activity's `channelId` is one the signing key is endorsed for, and its `serviceUrl`
    /// is the one the token names (replies go there: a token for one service must not send
    /// our replies to another).
    pub fn matches(&self, channel_id: &str, service_url: &str) -> Result<(), VerifyError> {
        if !self.endorsements.iter().any(|e| e == channel_id) {
            return Err(VerifyError::BadToken(format!(
                "key {} is not endorsed for channel {channel_id:?}",
                self.kid
            )));
        }
        let same_service = self
            .service_url
            .as_deref()
            .is_some_and(|s| s.trim_end_matches('/') == service_url.trim_end_matches('/'));
        if !same_service {
            return Err(VerifyError::BadToken(
                "the token's serviceurl is not the activity's serviceUrl".into(),
            ));
        }
        Ok(())
    }
}
