//! Connectors: a tenant's bot accounts on the platforms. Secrets are sealed before they are
//! stored (see `secrets`) and opened only when a webhook or a send needs them.

use crate::secrets::Sealer;
use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use switchboard_core::{Channel, TenantId};
use switchboard_store::ConnectorRecord;
use switchboard_store::Store;

/// The secrets each channel needs, by name.
pub fn required_secrets(channel: Channel) -> &'static [&'static str] {
    match channel {
        Channel::Telegram => &["bot_token", "webhook_secret"],
        Channel::Whatsapp => &["access_token", "app_secret", "verify_token"],
        Channel::Messenger => &["page_token", "app_secret", "verify_token"],
        Channel::Slack => &["bot_token", "signing_secret"],
        Channel::Discord => &["bot_token", "public_key"],
        Channel::Teams => &["app_password"],
        Channel::Twilio => &["auth_token"],
        Channel::Signal => &["shared_secret"],
        Channel::Webchat | Channel::Api => &[],
    }
}

/// The settings that are URLs the server calls (see `egress`).
pub const URL_SETTINGS: [&str; 4] = ["api_base", "token_url", "openid_metadata_url", "gateway_url"];

/// A connector id: lowercase letters, digits and dashes, as it appears in the webhook URL.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub struct Connector {
    pub record: ConnectorRecord,
    pub secrets: BTreeMap<String, String>,
}

impl Connector {
    pub fn secret(&self, name: &str) -> &str {
        self.secrets.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn setting(&self, name: &str) -> Option<&str> {
        self.record.settings.get(name).and_then(|v| v.as_str())
    }
}

pub struct NewConnector {
    pub tenant: TenantId,
    pub id: String,
    pub channel: Channel,
    pub account_id: String,
    pub secrets: BTreeMap<String, String>,
    pub settings: BTreeMap<String, String>,
}

pub async fn save(store: &dyn Store, sealer: &Sealer, c: NewConnector) -> anyhow::Result<()> {
    if !valid_id(&c.id) {
        bail!(
            "connector id {:?} must be 1-64 lowercase letters, digits or dashes",
            c.id
        );
    }
    if matches!(c.channel, Channel::Webchat | Channel::Api) {
        bail!("{} needs no connector", c.channel.as_str());
    }
    if c.account_id.trim().is_empty() {
        bail!("the account id (the bot's id on {}) is required", c.channel.as_str());
    }
    let missing: Vec<&str> = required_secrets(c.channel)
        .iter()
        .copied()
        .filter(|k| c.secrets.get(*k).is_none_or(|v| v.is_empty()))
        .collect();
    if !missing.is_empty() {
        bail!(
            "a {} connector needs the secrets: {}",
            c.channel.as_str(),
            missing.join(", ")
        );
    }
    let sealed = sealer.seal(&serde_json::to_vec(&c.secrets)?)?;
    let record = ConnectorRecord {
        tenant: c.tenant,
        id: c.id,
        channel: c.channel,
        account_id: c.account_id,
        secrets: sealed,
        settings: serde_json::to_value(&c.settings)?,
        enabled: true,
        created_at: 0,
        updated_at: 0,
    };
    store.upsert_connector(&record).await.context("saving the connector")?;
    Ok(())
}

pub async fn load(
    store: &dyn Store,
    sealer: &Sealer,
    tenant: &TenantId,
    id: &str,
) -> anyhow::Result<Option<Connector>> {
    let Some(record) = store.connector(tenant, id).await? else {
        return Ok(None);
    };
    let plain = sealer
        .open(&record.secrets)
        .with_context(|| format!("opening the secrets of connector {id}"))?;
    let secrets = serde_json::from_slice(&plain).context("the connector's secrets are not a JSON map")?;
    Ok(Some(Connector { record, secrets }))
}
