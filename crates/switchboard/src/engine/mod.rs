//! Engine: one conversational turn, from its context (tenant, bot, conversation, message) to
//! what to store and what to send. Some folders here (knowledge, reminders, forms, assessment)
//! still carry their own background loops and CLIs; they stay whole for now.

pub mod assessment;
pub(crate) mod consent;
pub mod feedback;
pub mod forms;
pub(crate) mod handlers;
pub mod knowledge;
pub mod llm;
pub(crate) mod numbered;
pub mod pipeline;
pub mod reminders;
pub mod route;
pub(crate) mod smalltalk;
pub mod tenants;
