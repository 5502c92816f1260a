//! The bot's own entities: regular expressions and lookup lists with synonyms.

use super::EntityError;
use regex::Regex;
use serde_json::json;
use std::collections::HashMap;
use switchboard_core::{Entity, EntityKind, EntitySource, EntitySpec};

#[derive(Debug)]
pub(super) struct Custom {
    name: String,
    source: EntitySource,
    regex: Regex,
    /// Lookup only: each value and synonym, lowercased with single spaces, to its canonical value.
    canonical: HashMap<String, String>,
}

impl Custom {
    pub(super) fn compile(spec: &EntitySpec) -> Result<Custom, EntityError> {
        let fail = |source| EntityError::Pattern {
            name: spec.name.clone(),
            source: Box::new(source),
        };
        match spec.kind {
            EntityKind::Regex => Ok(Custom {
                name: spec.name.clone(),
                source: EntitySource::Regex,
                regex: Regex::new(spec.pattern.as_deref().unwrap_or_default()).map_err(fail)?,
                canonical: HashMap::new(),
            }),
            EntityKind::Lookup => {
                let mut canonical = HashMap::new();
                for v in &spec.values {
                    for word in std::iter::once(&v.value).chain(&v.synonyms) {
                        canonical.insert(key(word), v.value.clone());
                    }
                }
                let mut words: Vec<&String> = canonical.keys().collect();
                // Longest first, so that "extra large" wins over "large".
                words.sort_by_key(|w| std::cmp::Reverse(w.len()));
                let alternatives: Vec<String> = words.iter().map(|w| bounded(w)).collect();
                let pattern = format!("(?i)(?:{})", alternatives.join("|"));
                Ok(Custom {
                    name: spec.name.clone(),
                    source: EntitySource::Lookup,
                    regex: Regex::new(&pattern).map_err(fail)?,
                    canonical,
                })
            }
        }
    }

    pub(super) fn find(&self, text: &str, out: &mut Vec<Entity>) {
        for c in self.regex.captures_iter(text) {
            let Some(m) = c.get(0).filter(|m| !m.is_empty()) else {
                continue;
            };
            let value = match self.source {
                EntitySource::Lookup => match self.canonical.get(&key(m.as_str())) {
                    Some(v) => v.clone(),
                    // Unicode case folding can match what lowercasing does not map back.
                    None => continue,
                },
                // The first capture group when the pattern has one ("#([0-9]+)" gives the number).
                _ => c.get(1).unwrap_or(m).as_str().to_owned(),
            };
            out.push(Entity {
                entity: self.name.clone(),
                start: m.start(),
                end: m.end(),
                raw: m.as_str().to_owned(),
                value: json!(value),
                source: self.source,
            });
        }
    }
}

fn key(word: &str) -> String {
    word.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// A lookup word as a pattern: whole words only (`\b` where the word starts or ends with a
/// letter or digit, so that "c++" can still be a value), any run of spaces between its parts.
fn bounded(word: &str) -> String {
    let parts: Vec<String> = word.split(' ').map(regex::escape).collect();
    let edge = |c: Option<char>| {
        if c.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            r"\b"
        } else {
            ""
        }
    };
    format!(
        "{}{}{}",
        edge(word.chars().next()),
        parts.join(r"\s+"),
        edge(word.chars().next_back())
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Entities, EntitySource};
    use switchboard_core::{EntityKind, EntitySpec, LookupValue};

    fn lookup(values: &[(&str, &[&str])]) -> Entities {
        Entities::new(&[EntitySpec {
            name: "size".into(),
            kind: EntityKind::Lookup,
            pattern: None,
            values: values
                .iter()
                .map(|(v, s)| LookupValue {
                    value: (*v).into(),
                    synonyms: s.iter().map(|s| (*s).into()).collect(),
                })
                .collect(),
        }])
        .expect("compiles")
    }

    #[test]
    fn lookup_values_and_synonyms_map_to_the_canonical_value() {
        let e = lookup(&[("large", &["big", "XL", "extra  large"]), ("small", &[]), ("c++", &[])]);
        let c = ctx_in("UTC", "en");
        let found: Vec<_> = e
            .extract("A BIG one, an Extra Large, small-ish, xl; bigger; c++", &c)
            .into_iter()
            .filter(|e| e.entity == "size")
            .map(|e| (e.raw, e.value, e.source))
            .collect();
        let v = |raw: &str, value: &str| (raw.to_owned(), serde_json::json!(value), EntitySource::Lookup);
        assert_eq!(
            found,
            [
                v("BIG", "large"),
                v("Extra Large", "large"),
                v("small", "small"),
                v("xl", "large"),
                v("c++", "c++")
            ]
        );
    }

    #[test]
    fn regex_entities_give_their_first_group() {
        let e = Entities::new(&[EntitySpec {
            name: "order".into(),
            kind: EntityKind::Regex,
            pattern: Some(r"(?i)\bord-([0-9]+)\b|x*".into()),
            values: vec![],
        }])
        .expect("compiles");
        let found = e.extract("status of ORD-42?", &ctx_in("UTC", "en"));
        let order: Vec<_> = found.iter().filter(|e| e.entity == "order").collect();
        assert_eq!(order.len(), 1, "empty matches are dropped: {found:?}");
        assert_eq!(
            (order[0].raw.as_str(), &order[0].value),
            ("ORD-42", &serde_json::json!("42"))
        );
        assert_eq!(order[0].source, EntitySource::Regex);
    }
}
