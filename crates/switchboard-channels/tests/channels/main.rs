//! Channel tests over the fixtures in `tests/fixtures` (copied from the project's shared channel
//! fixtures; see `tests/fixtures/README.md` for the platform document each follows) and the
//! signature vectors in `tests/fixtures/signature-vectors.json`.

mod discord;
mod fuzz;
mod messenger;
mod meta;
mod outbound_a;
mod outbound_b;
mod rich;
mod signal;
mod slack;
mod snapshots;
mod teams;
mod teams_auth;
mod telegram;
mod twilio;
mod whatsapp;

use serde_json::Value;
use std::path::PathBuf;

pub fn fixture(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Signature vectors of one channel. `body_file` paths are rewritten to read from our copy.
pub fn vectors(channel: &str) -> Vec<Value> {
    let all: Value = serde_json::from_slice(&fixture("signature-vectors.json")).expect("vectors json");
    all["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .filter(|v| v["channel"] == channel)
        .cloned()
        .collect()
}

/// The body a vector signs: inline `body`, or the bytes of its fixture file.
pub fn vector_body(v: &Value) -> Vec<u8> {
    match (v["body"].as_str(), v["body_file"].as_str()) {
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, Some(f)) => fixture(f.trim_start_matches("shared/fixtures/channels/")),
        _ => panic!("vector without a body: {v}"),
    }
}

/// Byte-level edits of a fixture (replace, insert, delete): for parsers that must never panic.
pub fn mutations(seed: Vec<u8>) -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
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

pub fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            http::HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}
