//! Shared pieces of request verification. Every check fails closed and compares in constant
//! time; the error says why, for the log and the metric, never for the caller's body.

use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum VerifyError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} is malformed")]
    MalformedHeader(&'static str),
    #[error("the signature does not match")]
    BadSignature,
    #[error("the request timestamp is {0} s away from now, outside the allowed window")]
    StaleTimestamp(i64),
    #[error("the token is invalid: {0}")]
    BadToken(String),
    #[error("no secret is configured for this connector")]
    NoSecret,
}

impl VerifyError {
    /// A short stable label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            VerifyError::MissingHeader(_) => "missing_header",
            VerifyError::MalformedHeader(_) => "malformed_header",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::StaleTimestamp(_) => "stale_timestamp",
            VerifyError::BadToken(_) => "bad_token",
            VerifyError::NoSecret => "no_secret",
        }
    }
}

pub(crate) fn header<'a>(headers: &'a http::HeaderMap, name: &'static str) -> Result<&'a str, VerifyError> {
    headers
        .get(name)
        .ok_or(VerifyError::MissingHeader(name))?
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader(name))
}

pub(crate) fn equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Compares a hex signature (as sent, any case) with the expected bytes.
pub(crate) fn hex_matches(sent_hex: &str, expected: &[u8], name: &'static str) -> Result<(), VerifyError> {
    let sent = hex::decode(sent_hex.trim()).map_err(|_| VerifyError::MalformedHeader(name))?;
    if equal(&sent, expected) {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}
