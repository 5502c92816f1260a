//! Understanding: which language a message is in, which intent it expresses and how sure we are.
//!
//! Pure functions and plain data; no I/O. Intents are classified by a linear model (squared hinge,
//! calibrated softmax) over TF-IDF word and character n-gram features, trained in-process from
//! the bot definition's examples, one model per language.

mod classifier;
pub mod entities;
mod eval;
mod features;
mod intent;
mod language;
mod linear;

pub use classifier::{Buffers, Classifier, ModelError, Scored, VERSION as MODEL_VERSION};
pub use eval::{Confusion, EvalOptions, IntentScore, OOS, Report, Row, Splits, evaluate, parse_jsonl};
pub use intent::{IntentMatch, IntentModel};
pub use language::{LanguageGuess, detect_language, iso639_1_supported};
pub use linear::TrainOptions;
