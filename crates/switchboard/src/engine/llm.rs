//! The language model client: any OpenAI-compatible `/chat/completions` endpoint, streamed as
//! server-sent events, with a per-tenant circuit breaker. Hand-written on the shared reqwest
//! client: the types are lenient (every field optional) so the quirks of OpenAI, Azure, Ollama,
//! vLLM and llama.cpp all parse, and no second HTTP or TLS stack is built.

use anyhow::{Context as _, anyhow, bail};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use switchboard_core::TenantId;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    pub enabled: bool,
    pub base_url: String,
    pub model: String,
    pub api_key: String,
    pub timeout_ms: u64,
    pub max_tokens: u32,
    pub temperature: f32,
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

/// One streamed chunk, or a whole answer from a server that ignored `stream`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Chunk {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Choice {
    delta: Option<Text>,
    message: Option<Text>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Text {
    content: Option<String>,
}

#[derive(Default)]
struct Breaker {
    failures: u32,
    open_until: Option<i64>,
}

pub struct Llm {
    pub config: LlmConfig,
    breakers: Mutex<HashMap<TenantId, Breaker>>,
}

/// Why the model was not used, for logs and the `result` label.
#[derive(Debug, PartialEq, Eq)]
pub enum Skip {
    Disabled,
    BreakerOpen,
}

impl Llm {
    pub fn new(config: LlmConfig) -> Llm {
        Llm {
            config,
            breakers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the model may be called for this tenant now. An open breaker lets one call
    /// through once its time is up (half-open); that call's outcome closes or reopens it.
    pub fn check(&self, tenant: &TenantId, now_ms: i64) -> Result<(), Skip> {
        if !self.config.enabled {
            return Err(Skip::Disabled);
        }
        let Ok(mut breakers) = self.breakers.lock() else {
            return Ok(());
        };
        let b = breakers.entry(tenant.clone()).or_default();
        match b.open_until {
            Some(until) if now_ms < until => Err(Skip::BreakerOpen),
            Some(_) => {
                // Half-open: a failure of this one call opens the breaker again at once.
                b.open_until = None;
                b.failures = self.config.breaker_failures.saturating_sub(1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Records the outcome of a call: failures in a row open the breaker, a success resets it.
    pub fn record(&self, tenant: &TenantId, now_ms: i64, ok: bool) {
        let Ok(mut breakers) = self.breakers.lock() else {
            return;
        };
        let b = breakers.entry(tenant.clone()).or_default();
        if ok {
            *b = Breaker::default();
            return;
        }
        b.failures += 1;
        if b.failures >= self.config.breaker_failures.max(1) {
            b.open_until = Some(now_ms + self.config.breaker_open_ms as i64);
            tracing::warn!(tenant = %tenant, failures = b.failures, "language model failing; circuit breaker open");
        }
    }

    /// Streams a chat completion, calling `on_delta` with each piece of text as it arrives.
    /// Returns the whole text and the token usage when the server reports it. The whole call
    /// is bounded by `timeout_ms`.
    pub async fn complete(
        &self,
        http: &reqwest::Client,
        messages: &[ChatMessage],
        on_delta: impl FnMut(&str),
    ) -> anyhow::Result<(String, Option<Usage>)> {
        let timeout = Duration::from_millis(self.config.timeout_ms);
        tokio::time::timeout(timeout, self.stream(http, messages, on_delta))
            .await
            .map_err(|_| anyhow!("the language model did not answer within {} ms", self.config.timeout_ms))?
    }

    async fn stream(
        &self,
        http: &reqwest::Client,
        messages: &[ChatMessage],
        mut on_delta: impl FnMut(&str),
    ) -> anyhow::Result<(String, Option<Usage>)> {
        let url = format!("{}/chat/completions", self.config.base_url.trim_end_matches('/'));
        let mut request = http.post(&url).json(&json!({
            "model": self.config.model,
            "messages": messages,
            "stream": true,
            "stream_options": { "include_usage": true },
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }));
        if !self.config.api_key.is_empty() {
            request = request
                .bearer_auth(&self.config.api_key)
                .header("api-key", &self.config.api_key);
        }
        let response = request.send().await.with_context(|| format!("calling {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            let snippet: String = body.chars().take(300).collect();
            bail!("{url} answered {status}: {snippet}");
        }
        let is_sse = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut text = String::new();
        let mut usage = None;
        if !is_sse {
            // A server that ignores `stream` answers with one JSON object.
            let chunk: Chunk = response
                .json()
                .await
                .with_context(|| format!("reading the answer of {url}"))?;
            if let Some(t) = chunk
                .choices
                .into_iter()
                .find_map(|c| c.message.and_then(|m| m.content))
            {
                on_delta(&t);
                text = t;
            }
            return Ok((text, chunk.usage));
        }
        let mut body = response.bytes_stream();
        let mut pending: Vec<u8> = Vec::new();
        'read: while let Some(bytes) = body.next().await {
            pending.extend_from_slice(&bytes.with_context(|| format!("reading the stream of {url}"))?);
            // Events are lines `data: {...}`; a chunk of bytes may end in the middle of one.
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim().strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    break 'read;
                }
                let chunk: Chunk = serde_json::from_str(data)
                    .with_context(|| format!("an event of {url} is not JSON: {data:.200}"))?;
                if chunk.usage.is_some() {
                    usage = chunk.usage;
                }
                for c in chunk.choices {
                    if let Some(delta) = c.delta.and_then(|d| d.content).filter(|d| !d.is_empty()) {
                        on_delta(&delta);
                        text.push_str(&delta);
                    }
                }
            }
        }
        if text.trim().is_empty() {
            bail!("{url} streamed no text");
        }
        Ok((text, usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm(failures: u32) -> Llm {
        let mut config = crate::config::Config::default().llm;
        config.enabled = true;
        config.breaker_failures = failures;
        config.breaker_open_ms = 1000;
        Llm::new(config)
    }

    #[test]
    fn the_breaker_opens_after_failures_in_a_row_and_half_opens_after_its_time() {
        let llm = llm(2);
        let t = TenantId::parse("acme").expect("id");
        let other = TenantId::parse("other").expect("id");
        assert_eq!(llm.check(&t, 0), Ok(()));
        llm.record(&t, 0, false);
        llm.record(&t, 0, true);
        llm.record(&t, 0, false);
        assert_eq!(llm.check(&t, 0), Ok(()), "a success in between resets the count");
        llm.record(&t, 10, false);
        assert_eq!(llm.check(&t, 500), Err(Skip::BreakerOpen));
        assert_eq!(llm.check(&other, 500), Ok(()), "per tenant");
        // Half-open: one call; its failure reopens at once.
        assert_eq!(llm.check(&t, 1010), Ok(()));
        llm.record(&t, 1010, false);
        assert_eq!(llm.check(&t, 1020), Err(Skip::BreakerOpen));
        assert_eq!(llm.check(&t, 2010), Ok(()));
        llm.record(&t, 2010, true);
        assert_eq!(llm.check(&t, 2011), Ok(()));
        let mut off = llm.config.clone();
        off.enabled = false;
        assert_eq!(Llm::new(off).check(&t, 0), Err(Skip::Disabled));
    }
}
