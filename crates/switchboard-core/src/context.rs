//! The conversation context: what the bot remembers between turns. It lives in the store, never
//! only in memory, so that a conversation survives restarts and can move between instances.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Normal,
    Assessment,
    Workflow,
    Form,
    /// A human owns the conversation; the bot stays silent.
    Handoff,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `user` or `bot`.
    pub role: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    pub at: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConversationContext {
    pub mode: Mode,
    /// The handler that owns the conversation while a multi-turn mode is active.
    pub handler: Option<String>,
    /// Handler-private state (e.g. the current question of an assessment).
    pub state: serde_json::Value,
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// The last turns, newest last, bounded by [`ConversationContext::HISTORY_LEN`].
    pub history: VecDeque<HistoryEntry>,
    pub language: Option<String>,
    /// After this instant (epoch ms) the context is stale and starts over.
    pub expires_at: Option<i64>,
    /// Consecutive turns that ended in the fallback handler.
    pub fallback_streak: u32,
    pub turns: u64,
}

impl ConversationContext {
    pub const HISTORY_LEN: usize = 20;
    /// Longest text kept per history entry, in characters: the context is rewritten on every
    /// turn, so its size is paid on every message.
    pub const HISTORY_TEXT_MAX: usize = 500;

    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_ms)
    }

    /// Forget the flow state but keep what is known about the person (language, variables).
    pub fn reset_flow(&mut self) {
        self.mode = Mode::Normal;
        self.handler = None;
        self.state = serde_json::Value::Null;
        self.fallback_streak = 0;
    }

    pub fn push_history(&mut self, mut entry: HistoryEntry) {
        if let Some((cut, _)) = entry.text.char_indices().nth(Self::HISTORY_TEXT_MAX) {
            entry.text.truncate(cut);
        }
        self.history.push_back(entry);
        while self.history.len() > Self::HISTORY_LEN {
            self.history.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_bounded_and_expiry_checked() {
        let mut c = ConversationContext::default();
        for i in 0..30 {
            c.push_history(HistoryEntry {
                role: "user".into(),
                text: i.to_string(),
                intent: None,
                at: i,
            });
        }
        assert_eq!(c.history.len(), ConversationContext::HISTORY_LEN);
        assert_eq!(c.history.front().map(|h| h.text.as_str()), Some("10"));
        c.push_history(HistoryEntry {
            role: "user".into(),
            text: "é".repeat(900),
            intent: None,
            at: 0,
        });
        assert_eq!(
            c.history.back().map(|h| h.text.chars().count()),
            Some(ConversationContext::HISTORY_TEXT_MAX)
        );
        c.expires_at = Some(100);
        assert!(!c.is_expired(99));
        assert!(c.is_expired(100));
    }

    #[test]
    fn old_contexts_with_missing_fields_still_load() {
        let c: ConversationContext = serde_json::from_str(r#"{"mode":"handoff"}"#).expect("parses");
        assert_eq!(c.mode, Mode::Handoff);
        assert!(c.history.is_empty());
    }
}
