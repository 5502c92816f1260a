//! Discord's Gateway: ordinary messages (not slash commands) reach a bot only over this
//! WebSocket (discord.com/developers/docs `events/gateway`). One session per Discord connector
//! whose `gateway` setting is `on`: identify, heartbeat, hand `MESSAGE_CREATE` dispatches to the
//! same intake as webhooks, and resume after a drop so that no message is missed (a resumed
//! session replays what was missed; the intake drops what it already has).

use crate::app::App;
use crate::connectors::{self, Connector};
use anyhow::{Context as _, anyhow, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use switchboard_channels::discord;
use switchboard_core::{Channel, TenantId};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub const DEFAULT_URL: &str = "wss://gateway.discord.gg/?v=10&encoding=json";

/// GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT: messages in servers and in private, with
/// their text (MESSAGE_CONTENT is a privileged intent to enable in the developer portal).
const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);

/// Close codes after which reconnecting cannot help: bad token, bad or disallowed intents,
/// invalid shard, sharding required, invalid API version.
const FATAL: [u16; 6] = [4004, 4010, 4011, 4012, 4013, 4014];

/// What a session needs to resume where it stopped.
#[derive(Default)]
struct Resume {
    session_id: Option<String>,
    url: Option<String>,
    seq: Option<u64>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the connectors are looked at for new Gateway connectors.
const DISCOVER_EVERY: Duration = Duration::from_secs(10);

/// Runs a session for every Discord connector of every tenant with `gateway = "on"`, until
/// `stop`; a connector added while running gets its session within [`DISCOVER_EVERY`].
pub async fn run_all(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut set = tokio::task::JoinSet::new();
    let mut running: std::collections::HashSet<(TenantId, String)> = Default::default();
    loop {
        for tenant in app.tenants.ids() {
            let records = match app.store.connectors(&tenant).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(tenant = %tenant, error = %e, "cannot list connectors for the Discord Gateway");
                    continue;
                }
            };
            for record in records {
                let on = record.settings.get("gateway").and_then(Value::as_str) == Some("on");
                if record.channel != Channel::Discord || !on || !running.insert((tenant.clone(), record.id.clone())) {
                    continue;
                }
                let (app, stop, tenant) = (app.clone(), stop.clone(), tenant.clone());
                set.spawn(async move { run(app, tenant, record.id, stop).await });
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(DISCOVER_EVERY) => {}
            _ = stop.changed() => break,
        }
    }
    while set.join_next().await.is_some() {}
}

/// Keeps one connector's session up until `stop`, reconnecting with backoff.
async fn run(app: Arc<App>, tenant: TenantId, id: String, mut stop: watch::Receiver<bool>) {
    let mut resume = Resume::default();
    let mut failures = 0u32;
    loop {
        let connector = match connectors::load(app.store.as_ref(), &app.sealer, &tenant, &id).await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(tenant = %tenant, connector = %id, error = format!("{e:#}"), "Discord Gateway: cannot load the connector");
                return;
            }
        };
        let outcome = tokio::select! {
            r = session(&app, &tenant, &connector, &mut resume) => r,
            _ = stop.changed() => return,
        };
        match outcome {
            Ok(()) => failures = 0,
            Err(e) => {
                if let Some(code) = e.downcast_ref::<Fatal>() {
                    tracing::error!(tenant = %tenant, connector = %id, code = code.0, "Discord Gateway closed the session for good (check the bot token and the intents)");
                    return;
                }
                failures += 1;
                tracing::warn!(tenant = %tenant, connector = %id, error = format!("{e:#}"), "Discord Gateway session ended; reconnecting");
            }
        }
        ::metrics::counter!("switchboard_discord_gateway_reconnects_total", "tenant" => tenant.to_string())
            .increment(1);
        // Exponential backoff from 1 s to 60 s after failures; an orderly reconnect waits 1 s.
        let wait = Duration::from_secs(1 << failures.min(6)).min(Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

#[derive(Debug)]
struct Fatal(u16);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "closed with code {}", self.0)
    }
}

impl std::error::Error for Fatal {}

/// One connection, from hello to its end. `Ok` is an orderly end the Gateway asked for
/// (reconnect), after which the session resumes.
async fn session(app: &App, tenant: &TenantId, c: &Connector, resume: &mut Resume) -> anyhow::Result<()> {
    let base = c.setting("gateway_url").unwrap_or(DEFAULT_URL);
    let url = resume
        .url
        .as_deref()
        .filter(|_| resume.session_id.is_some())
        .unwrap_or(base);
    let url = with_query(url);
    let tcp = connect(&url, app.config.server.allow_private_targets)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let tls = <rustls::ClientConfig as rustls_platform_verifier::ConfigVerifierExt>::with_platform_verifier()
        .context("TLS configuration")?;
    let (mut ws, _) = tokio_tungstenite::client_async_tls_with_config(
        url.as_str(),
        tcp,
        None,
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(tls))),
    )
    .await
    .with_context(|| format!("connecting to {url}"))?;
    let token = c.secret("bot_token");
    let application_id = c.record.account_id.clone();

    let hello = next_json(&mut ws).await?.context("closed before hello")?;
    let interval = hello["d"]["heartbeat_interval"]
        .as_u64()
        .filter(|&ms| ms > 0)
        .ok_or_else(|| {
            anyhow!(
                "hello without a heartbeat interval: {}",
                crate::runtime::redact::reason(&hello.to_string())
            )
        })?;
    let interval = Duration::from_millis(interval);
    let opening = match (&resume.session_id, resume.seq) {
        (Some(session_id), Some(seq)) => json!({"op": 6, "d": {"token": token, "session_id": session_id, "seq": seq}}),
        _ => json!({"op": 2, "d": {
            "token": token,
            "intents": INTENTS,
            "properties": {"os": std::env::consts::OS, "browser": "switchboard", "device": "switchboard"},
        }}),
    };
    ws.send(Frame::text(opening.to_string())).await.context("identifying")?;

    // The first heartbeat goes after a random share of the interval, as the Gateway asks, so
    // that many bots reconnecting together do not beat in step.
    let mut next_beat = Instant::now() + interval.mul_f64(rand::random::<f64>());
    let mut acked = true;
    loop {
        let frame = tokio::select! {
            f = ws.next() => f,
            _ = sleep_until(next_beat) => {
                if !acked {
                    // No ack since the last beat: the connection is a zombie.
                    bail!("no heartbeat acknowledgement");
                }
                ws.send(Frame::text(json!({"op": 1, "d": resume.seq}).to_string())).await.context("heartbeat")?;
                acked = false;
                next_beat = Instant::now() + interval;
                continue;
            }
        };
        let text = match frame {
            None => bail!("the Gateway closed the connection"),
            Some(Err(e)) => return Err(e).context("reading from the Gateway"),
            Some(Ok(Frame::Text(t))) => t,
            Some(Ok(Frame::Close(close))) => {
                let code = close.as_ref().map_or(1000, |c| u16::from(c.code));
                if FATAL.contains(&code) {
                    return Err(Fatal(code).into());
                }
                if matches!(close.map(|c| c.code), Some(CloseCode::Normal | CloseCode::Away)) {
                    // Closed on purpose: a normal close invalidates the session.
                    *resume = Resume::default();
                }
                bail!("the Gateway closed the connection with code {code}");
            }
            Some(Ok(_)) => continue,
        };
        let v: Value = serde_json::from_str(&text).context("a Gateway frame that is not JSON")?;
        if let Some(seq) = v["s"].as_u64() {
            resume.seq = Some(seq);
        }
        match v["op"].as_u64() {
            Some(0) => match v["t"].as_str() {
                Some("READY") => {
                    resume.session_id = v["d"]["session_id"].as_str().map(str::to_owned);
                    resume.url = v["d"]["resume_gateway_url"].as_str().map(str::to_owned);
                }
                Some("MESSAGE_CREATE") => match discord::parse_gateway_message(text.as_bytes(), &application_id) {
                    Ok(Some(event)) => {
                        if let Err(e) = crate::ingress::webhooks::accept(app, tenant, c, vec![event], None).await {
                            // Not stored: the session is dropped without acking, and the resume
                            // replays the message.
                            bail!("storing a Discord message failed: {e:?}");
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "Discord Gateway: unreadable message"),
                },
                _ => {}
            },
            Some(1) => {
                ws.send(Frame::text(json!({"op": 1, "d": resume.seq}).to_string()))
                    .await
                    .context("heartbeat")?;
            }
            Some(7) => {
                let _ = ws.close(None).await;
                return Ok(());
            }
            Some(9) => {
                if v["d"].as_bool() != Some(true) {
                    *resume = Resume::default();
                }
                let _ = ws.close(None).await;
                bail!("the Gateway invalidated the session");
            }
            Some(11) => acked = true,
            _ => {}
        }
    }
}

/// A TCP connection to one of the public addresses of `url`'s host. Both the connector's
/// `gateway_url` and the resume URL the Gateway hands out are someone else's choice; connecting
/// to an address checked here (instead of letting the WebSocket client resolve the name again)
/// keeps them off the server's own network.
async fn connect(url: &str, allow_private: bool) -> anyhow::Result<tokio::net::TcpStream> {
    let parsed = reqwest::Url::parse(url)?;
    let addrs = crate::runtime::egress::addresses(&parsed, allow_private)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) => last = Some(anyhow::Error::from(e).context(addr)),
            Err(_) => last = Some(anyhow!("{addr}: no connection within {CONNECT_TIMEOUT:?}")),
        }
    }
    Err(last.unwrap_or_else(|| anyhow!("no address to connect to")))
}

/// The Gateway's resume URL comes without the version and encoding query.
fn with_query(url: &str) -> String {
    if url.contains('?') {
        url.to_owned()
    } else {
        format!("{}/?v=10&encoding=json", url.trim_end_matches('/'))
    }
}

async fn next_json<S>(ws: &mut S) -> anyhow::Result<Option<Value>>
where
    S: futures_util::Stream<Item = Result<Frame, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(frame) = ws.next().await {
        match frame.context("reading from the Gateway")? {
            Frame::Text(t) => {
                return Ok(Some(
                    serde_json::from_str(&t).context("a Gateway frame that is not JSON")?,
                ));
            }
            Frame::Close(_) => return Ok(None),
            _ => {}
        }
    }
    Ok(None)
}
