//! Rendering the rich part of a reply (images, cards, lists), one module per channel, each
//! called by its channel's `render` when the reply has one. Each renders what the platform
//! shows natively within its limits and falls back to [`outbound::degrade`] for the rest.

pub(crate) mod discord;
pub(crate) mod messenger;
pub(crate) mod slack;
pub(crate) mod teams;
pub(crate) mod telegram;
pub(crate) mod text;
pub(crate) mod whatsapp;
