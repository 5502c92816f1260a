//! The Bot Framework's signing keys, fetched from its OpenID metadata and cached.

use anyhow::Context as _;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_channels::teams_auth::{Jwk, Jwks, OpenIdMetadata};

/// Keys are re-read daily, as the Bot Framework documents; an unknown key id forces a refresh,
/// at most once per `MIN_REFRESH` so that forged key ids cannot make us hammer the endpoint.
const TTL: Duration = Duration::from_secs(24 * 3600);
const MIN_REFRESH: Duration = Duration::from_secs(60);

/// Keys of one metadata URL and when they were fetched.
type Fetched = (Instant, Arc<Vec<Jwk>>);

pub struct KeyCache {
    http: reqwest::Client,
    entries: Mutex<HashMap<String, Fetched>>,
}

impl KeyCache {
    pub fn new() -> anyhow::Result<KeyCache> {
        crate::tls::init();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("HTTP client")?;
        Ok(KeyCache {
            http,
            entries: Mutex::default(),
        })
    }

    /// The keys of `metadata_url`; refreshed when stale, or when `kid` is unknown.
    pub async fn keys(&self, metadata_url: &str, kid: &str) -> anyhow::Result<Arc<Vec<Jwk>>> {
        let cached = self.entries.lock().ok().and_then(|e| e.get(metadata_url).cloned());
        if let Some((at, keys)) = &cached {
            let known = keys.iter().any(|k| k.kid == kid);
            if at.elapsed() < TTL && (known || at.elapsed() < MIN_REFRESH) {
                return Ok(keys.clone());
            }
        }
        let meta: OpenIdMetadata = self
            .http
            .get(metadata_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("fetching {metadata_url}"))?
            .json()
            .await
            .with_context(|| format!("reading {metadata_url}"))?;
        let jwks: Jwks = self
            .http
            .get(&meta.jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("fetching {}", meta.jwks_uri))?
            .json()
            .await
            .with_context(|| format!("reading {}", meta.jwks_uri))?;
        let keys = Arc::new(jwks.keys);
        if let Ok(mut e) = self.entries.lock() {
            e.insert(metadata_url.to_owned(), (Instant::now(), keys.clone()));
        }
        Ok(keys)
    }
}
