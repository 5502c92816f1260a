//! TF-IDF nearest-example intent matching over word unigrams, word bigrams and character
//! trigrams (the trigrams make it forgiving of typos such as "helo").
//!
//! Confidence is the cosine similarity between the message and the closest example of an
//! intent. Words never seen in any example still count in the message's norm, so a message
//! full of unknown words scores low and falls through to the fallback.

use std::collections::HashMap;
use switchboard_core::BotSpec;

#[derive(Clone, Debug, PartialEq)]
pub struct IntentMatch {
    pub intent: String,
    pub confidence: f32,
    /// The language of the closest example.
    pub language: String,
}

#[derive(Debug, Default)]
pub struct IntentModel {
    vocab: HashMap<Feature, u32>,
    idf: Vec<f32>,
    /// Inverted index: feature -> (example, weight in the example's normalised vector).
    postings: Vec<Vec<(u32, f32)>>,
    /// Per example: (intent index, language).
    examples: Vec<(u32, String)>,
    intents: Vec<String>,
    /// idf given to a feature no example has.
    unseen_idf: f32,
}

/// A feature is a hash of its kind and text: no string is allocated per feature, which keeps
/// classification allocation-light on the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Feature(u64);

const WORD: u8 = b'w';
const PAIR: u8 = b'b';
const TRIGRAM: u8 = b'c';

impl Feature {
    fn new(kind: u8, parts: &[&str]) -> Feature {
        // FNV-1a: tiny, fast, and collisions are irrelevant at these vocabulary sizes.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |b: u8| {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        };
        eat(kind);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                eat(b' ');
            }
            p.bytes().for_each(&mut eat);
        }
        Feature(h & !0xff | u64::from(kind))
    }

    /// Whole words and word pairs say more than letter trigrams.
    fn weight(self) -> f32 {
        if self.0 as u8 == TRIGRAM { 0.35 } else { 1.0 }
    }
}

fn features(text: &str, out: &mut Vec<Feature>) {
    out.clear();
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut padded = String::new();
    for w in &words {
        out.push(Feature::new(WORD, &[w]));
        padded.clear();
        padded.push('^');
        padded.push_str(w);
        padded.push('$');
        let bounds: Vec<usize> = padded.char_indices().map(|(i, _)| i).chain([padded.len()]).collect();
        for win in bounds.windows(4) {
            out.push(Feature::new(TRIGRAM, &[&padded[win[0]..win[3]]]));
        }
    }
    for pair in words.windows(2) {
        out.push(Feature::new(PAIR, &[pair[0], pair[1]]));
    }
}

impl IntentModel {
    pub fn train(spec: &BotSpec) -> IntentModel {
        let mut model = IntentModel::default();
        let mut docs: Vec<Vec<u32>> = Vec::new();
        let mut buf = Vec::new();
        for (i, intent) in spec.intents.iter().enumerate() {
            model.intents.push(intent.name.clone());
            for (lang, text) in intent.examples.iter(&spec.default_language) {
                features(text, &mut buf);
                let ids = buf
                    .iter()
                    .map(|f| {
                        let next = model.vocab.len() as u32;
                        *model.vocab.entry(*f).or_insert(next)
                    })
                    .collect();
                docs.push(ids);
                model.examples.push((i as u32, lang.to_owned()));
            }
        }
        let n = docs.len() as f32;
        let mut df = vec![0u32; model.vocab.len()];
        for doc in &docs {
            let mut uniq = doc.clone();
            uniq.sort_unstable();
            uniq.dedup();
            for f in uniq {
                df[f as usize] += 1;
            }
        }
        model.idf = df.iter().map(|&d| ((n + 1.0) / (d as f32 + 1.0)).ln() + 1.0).collect();
        model.unseen_idf = (n + 1.0).ln() + 1.0;
        let kinds: Vec<f32> = {
            let mut k = vec![1.0; model.vocab.len()];
            for (f, &id) in &model.vocab {
                k[id as usize] = f.weight();
            }
            k
        };
        model.postings = vec![Vec::new(); model.vocab.len()];
        for (e, doc) in docs.iter().enumerate() {
            let mut tf: HashMap<u32, f32> = HashMap::new();
            for &f in doc {
                *tf.entry(f).or_default() += 1.0;
            }
            let weights: Vec<(u32, f32)> = tf
                .into_iter()
                .map(|(f, c)| (f, c * model.idf[f as usize] * kinds[f as usize]))
                .collect();
            let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                for (f, w) in weights {
                    model.postings[f as usize].push((e as u32, w / norm));
                }
            }
        }
        model
    }

    /// The intents ranked by confidence, best first, at most `top` of them.
    pub fn classify(&self, text: &str, top: usize) -> Vec<IntentMatch> {
        let mut buf = Vec::new();
        features(text, &mut buf);
        let mut tf: HashMap<Feature, f32> = HashMap::with_capacity(buf.len());
        for f in &buf {
            *tf.entry(*f).or_default() += 1.0;
        }
        let mut scores = vec![0f32; self.examples.len()];
        let mut norm = 0f32;
        for (f, c) in tf {
            match self.vocab.get(&f) {
                Some(&id) => {
                    let w = c * self.idf[id as usize] * f.weight();
                    norm += w * w;
                    for &(e, ew) in &self.postings[id as usize] {
                        scores[e as usize] += w * ew;
                    }
                }
                None => {
                    let w = c * self.unseen_idf * f.weight();
                    norm += w * w;
                }
            }
        }
        if norm == 0.0 {
            return Vec::new();
        }
        let norm = norm.sqrt();
        let mut best: Vec<Option<(f32, usize)>> = vec![None; self.intents.len()];
        for (e, s) in scores.iter().enumerate() {
            let intent = self.examples[e].0 as usize;
            if best[intent].is_none_or(|(b, _)| *s > b) {
                best[intent] = Some((*s, e));
            }
        }
        let mut out: Vec<IntentMatch> = best
            .into_iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let (s, e) = b?;
                (s > 0.0).then(|| IntentMatch {
                    intent: self.intents[i].clone(),
                    confidence: (s / norm).clamp(0.0, 1.0),
                    language: self.examples[e].1.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out.truncate(top);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BotSpec {
        BotSpec::from_toml(
            r#"
name = "t"
languages = ["en", "es"]
fallback = ["?"]
[[intent]]
name = "greet"
examples.en = ["hello", "hi there", "good morning"]
examples.es = ["hola", "buenos días"]
responses = ["hi"]
[[intent]]
name = "hours"
examples = ["when are you open", "what are your opening hours", "what time do you close"]
responses = ["9-5"]
[[intent]]
name = "joke"
examples = ["tell me a joke", "make me laugh"]
responses = ["ha"]
"#,
        )
        .expect("valid spec")
    }

    #[test]
    fn matches_examples_paraphrases_and_typos() {
        let m = IntentModel::train(&spec());
        let top = |t: &str| m.classify(t, 3).into_iter().next().expect("a match");
        assert_eq!(top("hello").intent, "greet");
        assert!(top("hello").confidence > 0.99);
        assert_eq!(top("helo").intent, "greet");
        assert_eq!(top("what are the opening hours?").intent, "hours");
        assert_eq!(top("could you tell me a joke").intent, "joke");
        let hola = top("hola");
        assert_eq!((hola.intent.as_str(), hola.language.as_str()), ("greet", "es"));
    }

    #[test]
    fn unrelated_text_scores_low() {
        let m = IntentModel::train(&spec());
        let conf = m
            .classify("my parcel arrived damaged yesterday", 1)
            .first()
            .map_or(0.0, |x| x.confidence);
        assert!(conf < 0.35, "confidence {conf}");
        assert!(m.classify("", 3).is_empty());
        assert!(m.classify("!!!", 3).is_empty());
    }

    #[test]
    fn ranks_are_sorted_and_bounded() {
        let m = IntentModel::train(&spec());
        let r = m.classify("hello, when are you open", 2);
        assert_eq!(r.len(), 2);
        assert!(r[0].confidence >= r[1].confidence);
    }
}
