//! The Bot Framework's signing keys (to verify inbound activities) and access tokens (to send
//! replies), fetched and cached.

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

/// How long fetching one document of keys may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

pub struct KeyCache {
    http: reqwest::Client,
    allow_private: bool,
    entries: Mutex<HashMap<String, Fetched>>,
}

impl KeyCache {
    /// A connector's `openid_metadata_url` is the tenant's choice, and the `jwks_uri` in it
    /// the choice of whoever serves it: both are held to the public-address policy of `egress`.
    pub fn new(allow_private: bool) -> anyhow::Result<KeyCache> {
        crate::runtime::tls::init();
        let http = crate::runtime::egress::client(allow_private).context("HTTP client")?;
        Ok(KeyCache {
            http,
            allow_private,
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
        crate::runtime::egress::check_url(metadata_url, self.allow_private).map_err(anyhow::Error::msg)?;
        let meta: OpenIdMetadata = self
            .http
            .get(metadata_url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("fetching {metadata_url}"))?
            .json()
            .await
            .with_context(|| format!("reading {metadata_url}"))?;
        crate::runtime::egress::check_url(&meta.jwks_uri, self.allow_private).map_err(anyhow::Error::msg)?;
        let jwks: Jwks = self
            .http
            .get(&meta.jwks_uri)
            .timeout(FETCH_TIMEOUT)
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

pub const DEFAULT_TOKEN_URL: &str = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// Access tokens for calling the Bot Connector, obtained with the app id and password (OAuth
/// client credentials) and reused until five minutes before they expire.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<(String, String), (Instant, String)>>,
}

impl TokenCache {
    /// `token_url` is a connector setting: held to `egress`'s policy like any tenant URL.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        allow_private: bool,
        token_url: &str,
        app_id: &str,
        password: &str,
    ) -> anyhow::Result<String> {
        crate::runtime::egress::check_url(token_url, allow_private).map_err(anyhow::Error::msg)?;
        // The password is part of the key: tenants share this cache, and an app id is public, so
        // a token may only ever serve the credential that obtained it.
        let key = (
            token_url.to_owned(),
            format!(
                "{app_id}\n{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(password.as_bytes()))
            ),
        );
        if let Some((until, token)) = self.entries.lock().ok().and_then(|e| e.get(&key).cloned())
            && Instant::now() < until
        {
            return Ok(token);
        }
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", app_id),
            ("client_secret", password),
            ("scope", "https://api.botframework.com/.default"),
        ];
        let res: TokenResponse = http
            .post(token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form)?)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("requesting a Bot Framework token from {token_url}"))?
            .json()
            .await
            .context("reading the Bot Framework token")?;
        let until = Instant::now() + Duration::from_secs(res.expires_in.saturating_sub(300));
        if let Ok(mut e) = self.entries.lock() {
            e.insert(key, (until, res.access_token.clone()));
        }
        Ok(res.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token endpoint that issues a token per password, counting its calls.
    async fn token_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use axum::routing::post;
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let app = axum::Router::new().route(
            "/token",
            post(move |body: String| {
                let counted = counted.clone();
                async move {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
                    let secret = form.get("client_secret").cloned().unwrap_or_default();
                    axum::Json(serde_json::json!({"access_token": format!("token-for-{secret}"), "expires_in": 3600}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/token", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, calls)
    }

    #[tokio::test]
    async fn a_cached_token_serves_only_the_password_that_obtained_it() {
        let (url, calls) = token_server().await;
        let cache = TokenCache::default();
        let http = reqwest::Client::new();
        let victim = cache
            .token(&http, true, &url, "app-123", "victim-pass")
            .await
            .expect("token");
        assert_eq!(victim, "token-for-victim-pass");
        // Another tenant naming the same (public) app id with a password of its own.
        let other = cache.token(&http, true, &url, "app-123", "guess").await.expect("token");
        assert_eq!(other, "token-for-guess");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        // The right password is served from the cache.
        let again = cache
            .token(&http, true, &url, "app-123", "victim-pass")
            .await
            .expect("token");
        assert_eq!(again, victim);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
