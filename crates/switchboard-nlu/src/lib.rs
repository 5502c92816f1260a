//! Understanding: which language a message is in and which intent it expresses.
//!
//! Pure functions and plain data; no I/O. The intent matcher here is a TF-IDF nearest-example
//! model, trained in microseconds from the bot definition's examples.

pub mod entities;
mod intent;
mod language;

pub use intent::{IntentMatch, IntentModel};
pub use language::{LanguageGuess, detect_language, iso639_1_supported};
