//! Domain types shared by every Switchboard crate. No I/O lives here.

pub mod assessment;
pub mod bot;
pub mod clock;
pub mod consent;
pub mod context;
pub mod forms;
pub mod ids;
pub mod message;
pub mod reminders;
pub mod rich;

pub use assessment::{AssessmentSpec, BandSpec, FeedbackSpec, OptionSpec, QuestionKind, QuestionSpec};
pub use bot::{
    BUILTIN_ENTITIES, BotError, BotSpec, EntityKind, EntitySpec, HandlerKind, IntentSpec, Localized, LookupValue,
    SmallTalkSpec,
};
pub use clock::Clock;
pub use consent::{ConsentSpec, ConsentText, ConsentWord, consent_word};
pub use context::{ConversationContext, HistoryEntry, Mode};
pub use forms::{FormAction, FormSpec, SlotEntity, SlotSpec};
pub use ids::{ConversationId, IdError, MessageId, TenantId};
pub use message::{
    Button, Channel, Content, Conversation, ConversationStatus, Direction, Entity, EntitySource, Handoff,
    HandoffStatus, Message, MessageStatus, Processed,
};
pub use reminders::{QuietHours, ReminderAction, RemindersSpec};
pub use rich::{Card, ImageSpec, ListItem, ListSpec};
