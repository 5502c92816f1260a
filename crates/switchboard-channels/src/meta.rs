//! What WhatsApp Cloud API and Messenger share: both are Meta Graph webhooks, signed the same way
//! with the app secret and registered with the same GET handshake.
//!
//! Verification: `X-Hub-Signature-256: sha256=<hex>` is HMAC-SHA256(app secret, raw body). Meta
//! signs the body exactly as sent, non-ASCII text escaped as `\uXXXX`, so the bytes must be hashed
//! before any parsing and never re-serialised. There is no timestamp in the signature and so no
//! replay window: retries are normal and the parsers' event ids are the dedup keys.

use crate::verify::{VerifyError, equal, header, hex_matches, hmac_sha256};
use serde::Deserialize;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Checks a webhook POST. The legacy `X-Hub-Signature: sha1=` header is never consulted: a request
/// that only carries that one is refused, so a weaker digest cannot stand in for the real one.
pub fn verify(headers: &http::HeaderMap, body: &[u8], app_secret: &str) -> Result<(), VerifyError> {
    if app_secret.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let sent = header(headers, SIGNATURE_HEADER)?;
    let hex = sent
        .trim()
        .strip_prefix("sha256=")
        .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
    // A digest of the wrong length is a malformed header, not a near miss worth comparing.
    if hex.len() != 64 {
        return Err(VerifyError::MalformedHeader(SIGNATURE_HEADER));
    }
    let expected = hmac_sha256(app_secret.as_bytes(), &[body]);
    hex_matches(hex, &expected, SIGNATURE_HEADER)
}

#[derive(Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Answers the GET handshake Meta sends when the callback URL is saved. `query` is the request's
/// query string (a leading `?` is tolerated). On success the caller replies 200 with the returned
/// string as the whole body; on any error it should reply 403.
pub fn challenge(query: &str, verify_token: &str) -> Result<String, VerifyError> {
    if verify_token.is_empty() {
        return Err(VerifyError::NoSecret);
    }
    let query = query.strip_prefix('?').unwrap_or(query);
    // A repeated parameter fails here too, so there is no guessing which copy counts.
    let h: Handshake =
        serde_urlencoded::from_str(query).map_err(|e| VerifyError::BadToken(format!("unreadable query: {e}")))?;
    if h.mode.as_deref() != Some("subscribe") {
        return Err(VerifyError::BadToken("hub.mode is not subscribe".into()));
    }
    let sent = h.verify_token.unwrap_or_default();
    if !equal(sent.as_bytes(), verify_token.as_bytes()) {
        return Err(VerifyError::BadToken("hub.verify_token does not match".into()));
    }
    // Meta documents the challenge as a number but nothing promises it, so it goes back verbatim.
    match h.challenge {
        Some(c) if !c.is_empty() => Ok(c),
        _ => Err(VerifyError::BadToken("hub.challenge is missing".into())),
    }
}

/// A Graph API error answer: `{"error":{"message","code","error_subcode","error_data":{"details"}}}`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GraphError {
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    /// The message, with `error_data.details` appended when Meta gives one (WhatsApp does).
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorAnswer {
    error: Option<ErrorBody>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    message: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorData {
    details: Option<String>,
}

/// Reads the error of a Graph API answer, if it has one.
pub(crate) fn graph_error(body: &[u8]) -> Option<GraphError> {
    let e = serde_json::from_slice::<ErrorAnswer>(body).ok()?.error?;
    let mut message = e.message.unwrap_or_default();
    if let Some(details) = e.error_data.and_then(|d| d.details) {
        message = if message.is_empty() {
            details
        } else {
            format!("{message}: {details}")
        };
    }
    Some(GraphError {
        code: e.code,
        subcode: e.error_subcode,
        message,
    })
}
