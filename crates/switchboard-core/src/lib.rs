//! Domain types shared by every Switchboard crate. No I/O lives here.

pub mod assessment;
pub mod bot;
pub mod clock;
pub mod context;
pub mod ids;
pub mod message;
pub mod reminders;

pub use assessment::{AssessmentSpec, BandSpec, FeedbackSpec, OptionSpec, QuestionKind, QuestionSpec};
pub use bot::{
    BUILTIN_ENTITIES, BotError, BotSpec, EntityKind, EntitySpec, HandlerKind, IntentSpec, Localized, LookupValue,
};
pub use clock::Clock;
pub use context::{ConversationContext, HistoryEntry, Mode};
pub use ids::{ConversationId, IdError, MessageId, TenantId};
pub use message::{
    Button, Channel, Content, Conversation, ConversationStatus, Direction, Entity, EntitySource, Message,
    MessageStatus, Processed,
};
pub use reminders::{QuietHours, ReminderAction, RemindersSpec};
