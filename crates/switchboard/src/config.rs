//! Configuration: the documented defaults in `config/default.toml`, then a TOML file, then
//! `SWITCHBOARD__*` environment variables, then flags. The defaults file is the single source:
//! `switchboard config default` prints it and the code parses it.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use switchboard_store::Synchronous;

pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub store: StoreConfig,
    pub queue: QueueConfig,
    pub delivery: DeliveryConfig,
    pub chat: ChatConfig,
    pub demo: DemoConfig,
    pub bots: BotsConfig,
    pub reminders: crate::engine::reminders::RemindersConfig,
    pub forms: crate::runtime::submissions::FormsConfig,
    pub events: crate::runtime::events::EventsConfig,
    pub log: LogConfig,
    pub llm: crate::engine::llm::LlmConfig,
    pub auth: crate::ingress::auth::AuthConfig,
    pub webhooks: WebhooksConfig,
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub tenants: Vec<TenantConfig>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub body_limit_bytes: usize,
    pub max_header_bytes: usize,
    pub header_read_timeout_ms: u64,
    pub body_read_timeout_ms: u64,
    pub public_base_url: String,
    /// Event webhooks and form actions may call private, loopback and link-local addresses.
    pub allow_private_targets: bool,
    /// Load balancers and proxies whose `X-Forwarded-For` names the client (see `client_ip`).
    pub trusted_proxies: Vec<String>,
}

/// Limits on the platform webhooks; each `*_per_second` (or `*_per_minute`) at 0 turns that
/// limit off.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebhooksConfig {
    pub per_ip_per_second: f64,
    pub per_ip_burst: u32,
    pub per_tenant_per_second: f64,
    pub per_tenant_burst: u32,
    pub failures_per_ip_per_minute: u32,
}

/// Where `/metrics` is served: on its own address, and/or on the public one to bearers of the
/// token. Neither set: nowhere.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    pub listen: String,
    pub token: String,
}

impl MetricsConfig {
    pub fn listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        let l = self.listen.trim();
        if l.is_empty() {
            return Ok(None);
        }
        l.parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("metrics.listen {l:?} is not an address like 127.0.0.1:9464: {e}"))
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub data_dir: PathBuf,
    /// Which database; empty is the embedded one in `data_dir` (see `store_url`).
    pub url: String,
    pub synchronous: Synchronous,
    /// PostgreSQL only: the pool's size, the most statements this instance runs at once.
    pub max_connections: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub workers: usize,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub turn_timeout_ms: u64,
    pub poll_interval_ms: u64,
}

/// How replies through a platform are retried: long enough to outlast an outage of hours.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    pub max_age_s: u64,
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    pub reply_wait_ms: u64,
    pub max_text_chars: usize,
    pub max_user_chars: usize,
    pub history_page_max: u32,
    /// How long an anonymous visitor's chat token lasts, and one for a user the tenant vouched
    /// for (the tenant's page vouches again on every visit).
    pub session_ttl_s: i64,
    pub identified_session_ttl_s: i64,
    /// Public surface limits (0: none): see `webchat::limits`.
    pub requests_per_ip_per_second: u32,
    pub sessions_per_ip_per_minute: u32,
    pub messages_per_user_per_second: u32,
    pub messages_per_tenant_per_second: u32,
    pub max_sockets_per_ip: u32,
    pub max_sockets_per_user: u32,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    pub enabled: bool,
    pub tenant: String,
    pub bot_dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BotsConfig {
    pub reload_interval_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub id: String,
    pub name: String,
    pub bot_dir: PathBuf,
}

impl Default for Config {
    fn default() -> Self {
        // The defaults file ships inside the binary and is checked by a test; it cannot fail.
        #[allow(clippy::expect_used)]
        Figment::from(Toml::string(DEFAULT_TOML))
            .extract()
            .expect("config/default.toml is valid")
    }
}

impl Config {
    /// Defaults, then `file` (if any), then `SWITCHBOARD__*` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(path) = file {
            if !path.exists() {
                anyhow::bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("SWITCHBOARD__").split("__"));
        fig.extract().map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))
    }

    pub fn store_url(&self) -> anyhow::Result<crate::store_url::StoreUrl> {
        crate::store_url::StoreUrl::parse(&self.store.url, &self.store.data_dir)
    }
}

#[cfg(test)]
// figment's test jail returns its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_parse_and_are_the_defaults() {
        let c = Config::default();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.store.synchronous, Synchronous::Full);
        assert_eq!(
            c.store_url().ok(),
            Some(crate::store_url::StoreUrl::Sqlite("data/switchboard.db".into())),
            "no URL keeps the database in the data directory"
        );
        assert!(c.demo.enabled);
        assert!(c.tenants.is_empty());
        assert_eq!(
            (c.delivery.max_age_s, c.delivery.backoff_max_ms),
            (86_400, 300_000),
            "platform replies outlast a day's outage, retried at least every five minutes"
        );
        assert_eq!(
            (c.metrics.listen_addr().ok().flatten(), c.metrics.token.as_str()),
            (None, ""),
            "metrics are served nowhere until asked"
        );
    }

    #[test]
    fn file_then_environment_override_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "sb.toml",
                "[server]\nlisten = \"127.0.0.1:9000\"\n[queue]\nworkers = 8\n[[tenants]]\nid = \"acme\"\nname = \"Acme\"\nbot_dir = \"bots/acme\"\n",
            )?;
            jail.set_env("SWITCHBOARD__QUEUE__WORKERS", "3");
            let c = Config::load(Some(Path::new("sb.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.server.listen.port(), 9000);
            assert_eq!(c.queue.workers, 3, "environment beats the file");
            assert_eq!(c.tenants[0].id, "acme");
            assert_eq!(c.chat.max_text_chars, 4000, "untouched keys keep their default");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_reported_with_their_key() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("SWITCHBOARD__QUEUE__WORKERS", "many");
            let err = Config::load(None).expect_err("invalid").to_string();
            assert!(err.to_lowercase().contains("queue.workers"), "{err}");
            Ok(())
        });
        assert!(Config::load(Some(Path::new("/nonexistent/x.toml"))).is_err());
    }
}
