//! `switchboard loadtest`: many concurrent conversations against a running server over real
//! HTTP. Every reply is checked; the report gives throughput, latency percentiles and errors.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    /// Conversations (end users), each with its own user id.
    #[arg(long, default_value_t = 100)]
    pub conversations: usize,
    /// Conversations in progress at once (default: all of them).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Messages each conversation sends, one after the other (each waits for its replies).
    #[arg(long, default_value_t = 10)]
    pub messages: usize,
    /// Offered load in messages per second across all conversations: message `i` of
    /// conversation `c` is sent at `(i * conversations + c) / rate` seconds after the start (or
    /// as soon as the previous one is answered, if later). Without it every conversation sends
    /// as fast as it is answered.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Send signed platform webhooks instead of web chat messages: telegram, whatsapp,
    /// messenger, slack, twilio, signal or discord (button presses in direct messages, signed
    /// with the Ed25519 seed given as `--secret` in hex)
    /// (to `/v1/webhooks/{tenant}/{connector}`). Measures the acknowledgement latency.
    #[arg(long, requires_all = ["connector", "secret"])]
    pub webhook: Option<String>,
    /// The connector receiving the webhooks.
    #[arg(long)]
    pub connector: Option<String>,
    /// The connector's webhook secret (Telegram), app secret (WhatsApp, Messenger), signing
    /// secret (Slack), auth token (Twilio) or shared secret (Signal).
    #[arg(long)]
    pub secret: Option<String>,
    /// The connector's account id (WhatsApp phone number id, Slack team id).
    #[arg(long, default_value = "")]
    pub account_id: String,
    /// Texts to send, in turn. Default: phrases the demo bot understands.
    #[arg(long = "text")]
    pub texts: Vec<String>,
    /// Send `GET <url><path>` instead of chat messages (each "message" is one request), e.g.
    /// `/v1/tenants/demo/conversations?limit=20`, to measure the management API.
    #[arg(long, conflicts_with = "webhook")]
    pub get: Option<String>,
    /// With `--get`: `Authorization: Bearer <token>` (an access token or an API key).
    #[arg(long, requires = "get")]
    pub bearer: Option<String>,
    /// Per-request timeout in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

const DEMO_TEXTS: &[&str] = &[
    "hello",
    "what can you do",
    "tell me a joke",
    "when are you open",
    "thanks",
    "bye",
];

#[derive(Serialize, Debug)]
pub struct Report {
    pub conversations: usize,
    pub concurrency: usize,
    pub offered_rate: Option<f64>,
    pub messages_sent: usize,
    pub answered: usize,
    pub errors: usize,
    pub error_kinds: BTreeMap<String, usize>,
    pub elapsed_s: f64,
    pub messages_per_s: f64,
    pub latency_ms: Percentiles,
}

#[derive(Serialize, Debug, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Deserialize)]
struct Answer {
    conversation_id: String,
    seq: i64,
    status: String,
    replies: Vec<serde_json::Value>,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: BTreeMap<String, usize>,
    answered: usize,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let report = drive(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} conversations ({} at once) x {} messages: {} answered, {} errors in {:.2} s\n\
             throughput: {:.0} messages/s{}\n\
             latency ms: p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
            report.conversations,
            report.concurrency,
            args.messages,
            report.answered,
            report.errors,
            report.elapsed_s,
            report.messages_per_s,
            report
                .offered_rate
                .map(|r| format!(" (offered {r:.0}/s)"))
                .unwrap_or_default(),
            report.latency_ms.p50,
            report.latency_ms.p95,
            report.latency_ms.p99,
            report.latency_ms.max
        );
        for (kind, n) in &report.error_kinds {
            println!("  error {kind}: {n}");
        }
    }
    Ok(if report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A new anonymous chat session's token, or the kind of error that prevented it.
async fn start_session(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let res = client.post(url).send().await.map_err(|_| "connect".to_owned())?;
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.map_err(|_| "session bad body".to_owned())?;
    if status != 201 {
        // Said like a refused message: a wrong tenant reads the same either way.
        return Err(match body["error"]["code"].as_str() {
            Some(code) => format!("http {status} {code}"),
            None => format!("http {status}"),
        });
    }
    body["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "session bad body".to_owned())
}

pub async fn drive(args: &Args) -> anyhow::Result<Report> {
    crate::runtime::tls::init();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(args.timeout_ms))
        .pool_max_idle_per_host(args.concurrency.unwrap_or(args.conversations))
        .tcp_nodelay(true)
        .build()
        .context("building the HTTP client")?;
    let url = match &args.get {
        Some(path) => format!("{}{path}", args.url.trim_end_matches('/')),
        None => format!("{}/v1/chat/{}/messages", args.url.trim_end_matches('/'), args.tenant),
    };
    let get = args.get.is_some();
    let sessions = format!("{}/v1/chat/{}/sessions", args.url.trim_end_matches('/'), args.tenant);
    let bearer = args.bearer.clone();
    let texts: Arc<Vec<String>> = Arc::new(if args.texts.is_empty() {
        DEMO_TEXTS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        args.texts.clone()
    });
    let run_id = uuid_like();
    let hook = match &args.webhook {
        Some(kind) => Some(Arc::new(Webhook::new(kind, args, &run_id)?)),
        None => None,
    };
    let concurrency = args.concurrency.unwrap_or(args.conversations).max(1);
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(args.conversations);
    for c in 0..args.conversations {
        let (client, url, texts, tally) = (client.clone(), url.clone(), texts.clone(), tally.clone());
        let sessions = sessions.clone();
        let hook = hook.clone();
        let bearer = bearer.clone();
        let permits = permits.clone();
        let n = args.messages;
        let (rate, total) = (args.rate, args.conversations);
        tasks.push(tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return;
            };
            let mut local = Tally::default();
            // Each simulated person is a web chat visitor with a token of its own (not timed).
            let token = if hook.is_none() && !get {
                match start_session(&client, &sessions).await {
                    Ok(t) => Some(t),
                    Err(kind) => {
                        *tally.lock().await.errors.entry(kind).or_default() += n;
                        return;
                    }
                }
            } else {
                None
            };
            let mut conversation: Option<String> = None;
            let mut last_seq = 0;
            for i in 0..n {
                if let Some(rate) = rate.filter(|r| *r > 0.0) {
                    let due = started + Duration::from_secs_f64((i * total + c) as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let text = &texts[(c + i) % texts.len()];
                let t0 = Instant::now();
                let request = match &hook {
                    Some(h) => h.request(&client, c, i, text),
                    None if get => match &bearer {
                        Some(token) => client.get(&url).bearer_auth(token),
                        None => client.get(&url),
                    },
                    None => {
                        let body = serde_json::json!({ "text": text, "client_msg_id": format!("m{i}") });
                        client
                            .post(&url)
                            .bearer_auth(token.as_deref().unwrap_or(""))
                            .json(&body)
                    }
                };
                let result = request.send().await;
                let outcome = match result {
                    Err(e) => Err(if e.is_timeout() {
                        "timeout".to_owned()
                    } else {
                        "connect".to_owned()
                    }),
                    Ok(res) if res.status() != 200 => {
                        let status = res.status().as_u16();
                        let body = res.json::<serde_json::Value>().await.unwrap_or_default();
                        Err(match body["error"]["code"].as_str() {
                            Some(code) => format!("http {status} {code}"),
                            None => format!("http {status}"),
                        })
                    }
                    Ok(_) if hook.is_some() || get => Ok(()),
                    Ok(res) => match res.json::<Answer>().await {
                        Err(_) => Err("bad body".to_owned()),
                        Ok(a) => check(&a, &mut conversation, &mut last_seq),
                    },
                };
                local.latencies_us.push(t0.elapsed().as_micros() as u64);
                match outcome {
                    Ok(()) => local.answered += 1,
                    Err(kind) => *local.errors.entry(kind).or_default() += 1,
                }
            }
            let mut t = tally.lock().await;
            t.latencies_us.extend(local.latencies_us);
            t.answered += local.answered;
            for (k, v) in local.errors {
                *t.errors.entry(k).or_default() += v;
            }
        }));
    }
    for t in tasks {
        t.await.context("a load task panicked")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut t = std::mem::take(&mut *tally.lock().await);
    t.latencies_us.sort_unstable();
    let pct = |p: f64| -> f64 {
        if t.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((p / 100.0) * (t.latencies_us.len() - 1) as f64).round() as usize;
        t.latencies_us[i] as f64 / 1000.0
    };
    let sent = t.latencies_us.len();
    Ok(Report {
        conversations: args.conversations,
        concurrency,
        offered_rate: args.rate,
        messages_sent: sent,
        answered: t.answered,
        errors: t.errors.values().sum(),
        error_kinds: t.errors.clone(),
        elapsed_s: elapsed,
        messages_per_s: sent as f64 / elapsed.max(1e-9),
        latency_ms: Percentiles {
            p50: pct(50.0),
            p95: pct(95.0),
            p99: pct(99.0),
            max: pct(100.0),
        },
    })
}

/// A reply is right when it answers, in the same conversation, after the previous message,
/// with at least one non-empty text.
fn check(a: &Answer, conversation: &mut Option<String>, last_seq: &mut i64) -> Result<(), String> {
    if a.status != "answered" {
        return Err(format!("status {}", a.status));
    }
    if a.replies.is_empty() || a.replies.iter().any(|r| r["text"].as_str().is_none_or(str::is_empty)) {
        return Err("empty reply".into());
    }
    match conversation {
        Some(c) if *c != a.conversation_id => return Err("conversation changed".into()),
        None => *conversation = Some(a.conversation_id.clone()),
        _ => {}
    }
    if a.seq <= *last_seq {
        return Err("seq went backwards".into());
    }
    *last_seq = a.seq;
    Ok(())
}

fn uuid_like() -> String {
    format!("{:x}", rand::random::<u64>())
}

/// Signed platform webhooks, built the way each platform sends them.
struct Webhook {
    kind: WebhookKind,
    url: String,
    secret: String,
    account: String,
    run: String,
}

#[derive(Clone, Copy)]
enum WebhookKind {
    Telegram,
    Whatsapp,
    Messenger,
    Slack,
    Twilio,
    Signal,
    Discord,
}

fn hmac_hex(key: &[u8], parts: &[&[u8]]) -> String {
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    for p in parts {
        mac.update(p);
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Discord's signature: Ed25519 over the timestamp followed by the body, with the key whose seed
/// is `seed_hex` (32 bytes in hex). An unusable seed signs nothing, and the server refuses it.
fn discord_signature(seed_hex: &str, timestamp: &[u8], body: &[u8]) -> String {
    use ed25519_dalek::Signer as _;
    let Some(seed) = hex::decode(seed_hex).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
        return String::new();
    };
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mut signed = timestamp.to_vec();
    signed.extend_from_slice(body);
    hex::encode(key.sign(&signed).to_bytes())
}

fn hmac_sha1_base64(key: &[u8], data: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::{KeyInit, Mac};
    let Ok(mut mac) = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Webhook {
    fn new(kind: &str, args: &Args, run: &str) -> anyhow::Result<Webhook> {
        let kind = match kind {
            "telegram" => WebhookKind::Telegram,
            "whatsapp" => WebhookKind::Whatsapp,
            "messenger" => WebhookKind::Messenger,
            "slack" => WebhookKind::Slack,
            "twilio" => WebhookKind::Twilio,
            "signal" => WebhookKind::Signal,
            "discord" => WebhookKind::Discord,
            other => {
                anyhow::bail!("--webhook {other:?}: telegram, whatsapp, messenger, slack, twilio, signal or discord")
            }
        };
        let connector = args.connector.clone().unwrap_or_default();
        Ok(Webhook {
            kind,
            url: format!(
                "{}/v1/webhooks/{}/{connector}",
                args.url.trim_end_matches('/'),
                args.tenant
            ),
            secret: args.secret.clone().unwrap_or_default(),
            account: args.account_id.clone(),
            run: run.to_owned(),
        })
    }

    fn request(&self, client: &reqwest::Client, conversation: usize, i: usize, text: &str) -> reqwest::RequestBuilder {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // Numeric ids unique to this run: a random base plus the conversation and message.
        let base = u64::from_str_radix(&self.run[..self.run.len().min(8)], 16).unwrap_or(0) % 1_000_000;
        let user = base * 100_000 + conversation as u64;
        let id = format!("{}-{conversation}-{i}", self.run);
        let post = |body: serde_json::Value| {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            (client.post(&self.url).header("content-type", "application/json"), bytes)
        };
        match self.kind {
            WebhookKind::Telegram => {
                let update = user * 1000 + i as u64;
                let (req, body) = post(serde_json::json!({"update_id": update, "message": {
                    "message_id": i + 1, "from": {"id": user, "is_bot": false, "first_name": "Load"},
                    "chat": {"id": user, "type": "private"}, "date": now, "text": text}}));
                req.header("x-telegram-bot-api-secret-token", &self.secret).body(body)
            }
            WebhookKind::Whatsapp => {
                let (req, body) = post(
                    serde_json::json!({"object": "whatsapp_business_account", "entry": [{"id": "1",
                    "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "1", "phone_number_id": self.account},
                    "contacts": [{"profile": {"name": "Load"}, "wa_id": user.to_string()}],
                    "messages": [{"from": user.to_string(), "id": format!("wamid.{id}"), "timestamp": now.to_string(),
                    "type": "text", "text": {"body": text}}]}}]}]}),
                );
                let sig = format!("sha256={}", hmac_hex(self.secret.as_bytes(), &[&body]));
                req.header("x-hub-signature-256", sig).body(body)
            }
            WebhookKind::Messenger => {
                let ms = now * 1000;
                let (req, body) = post(serde_json::json!({"object": "page", "entry": [{"id": self.account,
                    "time": ms, "messaging": [{"sender": {"id": user.to_string()}, "recipient": {"id": self.account},
                    "timestamp": ms, "message": {"mid": format!("m_{id}"), "text": text}}]}]}));
                let sig = format!("sha256={}", hmac_hex(self.secret.as_bytes(), &[&body]));
                req.header("x-hub-signature-256", sig).body(body)
            }
            WebhookKind::Twilio => {
                let mut form = vec![
                    ("AccountSid", self.account.clone()),
                    ("Body", text.to_owned()),
                    ("From", format!("+1555{user:07}")),
                    ("MessageSid", format!("SM{id}")),
                    ("NumMedia", "0".to_owned()),
                    ("To", "+15550001111".to_owned()),
                ];
                form.sort();
                let body = serde_urlencoded::to_string(&form).unwrap_or_default();
                // Twilio signs the URL it called followed by every field, sorted, name then value.
                let mut signed = self.url.clone();
                for (k, v) in &form {
                    signed.push_str(k);
                    signed.push_str(v);
                }
                let sig = hmac_sha1_base64(self.secret.as_bytes(), signed.as_bytes());
                client
                    .post(&self.url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", sig)
                    .body(body)
            }
            WebhookKind::Signal => {
                let ms = now * 1000 + i as u64;
                let number = format!("+1555{user:07}");
                let (req, body) = post(
                    serde_json::json!({"envelope": {"source": number, "sourceNumber": number,
                    "sourceName": "Load", "sourceDevice": 1, "timestamp": ms,
                    "dataMessage": {"timestamp": ms, "message": text}}, "account": self.account}),
                );
                req.header("x-switchboard-signal-secret", &self.secret).body(body)
            }
            WebhookKind::Discord => {
                // A button press in a direct message: an interaction, answered within 3 s.
                let snowflake = |n: u64| (1_400_000_000_000_000_000u64 + n).to_string();
                let (req, body) = post(serde_json::json!({"id": snowflake(user * 1000 + i as u64),
                    "application_id": self.account, "type": 3, "token": format!("load-{id}"), "version": 1,
                    "channel_id": snowflake(user), "channel": {"id": snowflake(user), "type": 1},
                    "user": {"id": snowflake(user), "username": "load", "discriminator": "0"},
                    "data": {"component_type": 2, "custom_id": text}}));
                let timestamp = now.to_string();
                let signature = discord_signature(&self.secret, timestamp.as_bytes(), &body);
                req.header("x-signature-ed25519", signature)
                    .header("x-signature-timestamp", timestamp)
                    .body(body)
            }
            WebhookKind::Slack => {
                let (req, body) = post(serde_json::json!({"type": "event_callback", "team_id": self.account,
                    "api_app_id": "A0LOAD", "event_id": format!("Ev{id}"), "event_time": now, "event": {
                    "type": "message", "channel": format!("D{user}"), "user": format!("U{user}"), "text": text,
                    "ts": format!("{now}.{i:06}"), "channel_type": "im"}}));
                let ts = now.to_string();
                let sig = format!(
                    "v0={}",
                    hmac_hex(self.secret.as_bytes(), &[b"v0:", ts.as_bytes(), b":", &body])
                );
                req.header("x-slack-request-timestamp", ts)
                    .header("x-slack-signature", sig)
                    .body(body)
            }
        }
    }
}
