//! A text classifier: TF-IDF features into a calibrated linear model, and its binary form.

use crate::features::{Scratch, Sparse, Vectorizer};
use crate::linear::{Linear, TrainOptions};

#[derive(Clone, Debug)]
pub struct Classifier {
    pub labels: Vec<String>,
    pub vectorizer: Vectorizer,
    pub linear: Linear,
}

/// Reusable buffers for [`Classifier::predict`]: with them, a prediction allocates nothing.
#[derive(Default)]
pub struct Buffers {
    scratch: Scratch,
    x: Sparse,
    probs: Vec<f32>,
}

/// One prediction: the label index and its confidence, best first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    pub label: u32,
    pub confidence: f32,
}

/// Above this many examples, features seen in a single example are dropped: they are mostly
/// typos and rare names, and dropping them halves a large model's memory. Below it, every
/// feature counts (a bot with five examples per intent needs them all).
const PRUNE_ABOVE: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not a Switchboard NLU model (bad magic)")]
    Magic,
    #[error("model format version {0} is not supported (expected {VERSION})")]
    Version(u32),
    #[error("the model file is truncated or corrupt: {0}")]
    Corrupt(&'static str),
}

const MAGIC: &[u8; 8] = b"SBNLU\0\0\0";
/// Bumped whenever features or the format change: a model from another version is refused,
/// and cached models are retrained.
pub const VERSION: u32 = 2;

impl Classifier {
    /// Trains on `(text, label)` pairs. Labels are kept in first-seen order.
    pub fn train<'a>(examples: impl IntoIterator<Item = (&'a str, &'a str)>, opt: &TrainOptions) -> Classifier {
        let examples: Vec<(&str, &str)> = examples.into_iter().collect();
        let mut labels: Vec<String> = Vec::new();
        let mut ys = Vec::with_capacity(examples.len());
        for (_, label) in &examples {
            let id = match labels.iter().position(|l| l == label) {
                Some(i) => i,
                None => {
                    labels.push((*label).to_owned());
                    labels.len() - 1
                }
            };
            ys.push(id as u32);
        }
        let min_df = if examples.len() > PRUNE_ABOVE { 2 } else { 1 };
        let vectorizer = Vectorizer::fit(examples.iter().map(|(t, _)| *t), min_df);
        let mut s = Scratch::default();
        let xs: Vec<Sparse> = examples
            .iter()
            .map(|(t, _)| {
                let mut x = Vec::new();
                vectorizer.transform(t, &mut s, &mut x);
                x
            })
            .collect();
        let linear = Linear::train(&xs, &ys, labels.len().max(1), vectorizer.len(), opt);
        Classifier {
            labels,
            vectorizer,
            linear,
        }
    }

    /// Fits the confidence calibration on held-out `(text, label)` pairs; labels the model does
    /// not know are ignored.
    pub fn calibrate<'a>(&mut self, examples: impl IntoIterator<Item = (&'a str, &'a str)>) {
        let mut s = Scratch::default();
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (text, label) in examples {
            if let Some(y) = self.labels.iter().position(|l| l == label) {
                let mut x = Vec::new();
                self.vectorizer.transform(text, &mut s, &mut x);
                xs.push(x);
                ys.push(y as u32);
            }
        }
        self.linear.calibrate(&xs, &ys);
    }

    /// The `top` most likely labels for `text`, best first; empty when the model knows no label.
    ///
    /// Confidence is the calibrated probability times the share of the message the model has
    /// seen words of: "book a table on Mars for my giraffe" is not confidently "book a table".
    /// With a single label there is no alternative to weigh: the share alone is the confidence.
    pub fn predict(&self, text: &str, top: usize, b: &mut Buffers, out: &mut Vec<Scored>) {
        out.clear();
        if self.labels.is_empty() {
            return;
        }
        let known = self.vectorizer.transform(text, &mut b.scratch, &mut b.x);
        b.probs.clear();
        b.probs.resize(self.linear.classes, 0.0);
        if self.labels.len() == 1 {
            b.probs[0] = 1.0;
        } else {
            self.linear.probabilities(&b.x, &mut b.probs);
        }
        for (i, &p) in b.probs.iter().enumerate() {
            let confidence = p * known;
            if out.len() < top || out.last().is_some_and(|l| confidence > l.confidence) {
                let at = out.partition_point(|s| s.confidence >= confidence);
                out.insert(
                    at,
                    Scored {
                        label: i as u32,
                        confidence,
                    },
                );
                out.truncate(top);
            }
        }
    }

    /// Heap size of the trained model, in bytes (the feature map counted at its capacity).
    pub fn memory_bytes(&self) -> usize {
        // hashbrown: key + value per bucket plus one control byte.
        let map = self.vectorizer.ids.capacity() * (8 + 4 + 1);
        map + self.vectorizer.weights.capacity() * 4
            + self.linear.weights.capacity()
            + self.linear.scales.capacity() * 4
            + self.linear.bias.capacity() * 4
            + self.labels.iter().map(|l| l.capacity() + 24).sum::<usize>()
    }

    /// The model as bytes, for [`Classifier::from_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.memory_bytes());
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, VERSION);
        put_u32(&mut out, self.labels.len() as u32);
        for l in &self.labels {
            put_u32(&mut out, l.len() as u32);
            out.extend_from_slice(l.as_bytes());
        }
        let mut ids: Vec<(u64, u32)> = self.vectorizer.ids.iter().map(|(f, id)| (*f, *id)).collect();
        ids.sort_unstable_by_key(|&(_, id)| id);
        put_u32(&mut out, ids.len() as u32);
        for (f, _) in &ids {
            out.extend_from_slice(&f.to_le_bytes());
        }
        self.vectorizer.weights.iter().for_each(|w| put_f32(&mut out, *w));
        put_f32(&mut out, self.vectorizer.unseen_idf);
        let l = &self.linear;
        put_u32(&mut out, l.classes as u32);
        put_f32(&mut out, l.temperature);
        l.bias.iter().for_each(|b| put_f32(&mut out, *b));
        l.scales.iter().for_each(|s| put_f32(&mut out, *s));
        out.extend(l.weights.iter().map(|w| *w as u8));
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, ModelError> {
        let mut r = Reader(bytes);
        if r.take(8)? != MAGIC {
            return Err(ModelError::Magic);
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(ModelError::Version(version));
        }
        let n = r.count(4)?;
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.count(1)?;
            let s = std::str::from_utf8(r.take(len)?).map_err(|_| ModelError::Corrupt("a label is not UTF-8"))?;
            labels.push(s.to_owned());
        }
        let features = r.count(12)?;
        let mut vectorizer = Vectorizer {
            ids: crate::features::FeatureMap::with_capacity_and_hasher(features, Default::default()),
            weights: Vec::with_capacity(features),
            unseen_idf: 0.0,
        };
        for id in 0..features {
            vectorizer.ids.insert(r.u64()?, id as u32);
        }
        for _ in 0..features {
            vectorizer.weights.push(r.f32()?);
        }
        vectorizer.unseen_idf = r.f32()?;
        let classes = r.count(4)?;
        if classes != labels.len().max(1) {
            return Err(ModelError::Corrupt("class count differs from the labels"));
        }
        let temperature = r.f32()?;
        let bias = (0..classes).map(|_| r.f32()).collect::<Result<_, _>>()?;
        let scales = (0..features).map(|_| r.f32()).collect::<Result<_, _>>()?;
        let size = features
            .checked_mul(classes)
            .ok_or(ModelError::Corrupt("weight matrix size"))?;
        let weights = r.take(size)?.iter().map(|b| *b as i8).collect();
        if !r.0.is_empty() {
            return Err(ModelError::Corrupt("trailing bytes"));
        }
        Ok(Classifier {
            labels,
            vectorizer,
            linear: Linear {
                classes,
                weights,
                scales,
                bias,
                temperature,
            },
        })
    }
}

pub(crate) fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if self.0.len() < n {
            return Err(ModelError::Corrupt("unexpected end"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u32(&mut self) -> Result<u32, ModelError> {
        self.array().map(u32::from_le_bytes)
    }

    pub fn u64(&mut self) -> Result<u64, ModelError> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        self.array().map(f32::from_le_bytes)
    }

    /// A length prefix, checked against the bytes left (each item at least `min_item` bytes) so
    /// that a corrupt length cannot make us allocate gigabytes.
    pub fn count(&mut self, min_item: usize) -> Result<usize, ModelError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(ModelError::Corrupt("a length exceeds the data"));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<(&'static str, &'static str)> {
        vec![
            ("book a table for two", "book"),
            ("reserve a table tonight", "book"),
            ("i want a reservation", "book"),
            ("cancel my booking", "cancel"),
            ("please cancel the reservation", "cancel"),
            ("i no longer need the table", "cancel"),
            ("what time do you open", "hours"),
            ("when do you close", "hours"),
            ("opening hours please", "hours"),
        ]
    }

    #[test]
    fn predicts_paraphrases_and_round_trips_through_bytes() {
        let m = Classifier::train(examples(), &TrainOptions::default());
        let mut b = Buffers::default();
        let mut out = Vec::new();
        m.predict("could you book me a table", 3, &mut b, &mut out);
        assert_eq!(m.labels[out[0].label as usize], "book");
        assert_eq!(out.len(), 3);
        assert!(out[0].confidence >= out[1].confidence && out[1].confidence >= out[2].confidence);
        let back = Classifier::from_bytes(&m.to_bytes()).expect("loads");
        let mut again = Vec::new();
        for text in ["cancel it", "when are you open", "zebra", ""] {
            m.predict(text, 3, &mut b, &mut out);
            back.predict(text, 3, &mut b, &mut again);
            assert_eq!(out, again, "{text}");
        }
    }

    #[test]
    fn corrupt_bytes_are_errors_not_panics() {
        let bytes = Classifier::train(examples(), &TrainOptions::default()).to_bytes();
        assert!(matches!(Classifier::from_bytes(b"nope"), Err(ModelError::Corrupt(_))));
        assert!(matches!(Classifier::from_bytes(&[0u8; 64]), Err(ModelError::Magic)));
        for cut in [9, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(Classifier::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut v2 = bytes.clone();
        v2[8] = 99;
        assert!(matches!(Classifier::from_bytes(&v2), Err(ModelError::Version(99))));
        let mut longer = bytes;
        longer.push(0);
        assert!(Classifier::from_bytes(&longer).is_err());
    }

    #[test]
    fn unknown_words_lower_confidence_and_one_label_is_not_always_sure() {
        let m = Classifier::train(examples(), &TrainOptions::default());
        let (mut b, mut out) = (Buffers::default(), Vec::new());
        m.predict("book a table for two", 1, &mut b, &mut out);
        let sure = out[0].confidence;
        m.predict("quantum giraffe xylophone", 1, &mut b, &mut out);
        assert!(out[0].confidence < sure / 3.0, "{} vs {sure}", out[0].confidence);
        let one = Classifier::train([("hello there", "greet")], &TrainOptions::default());
        one.predict("hello there", 1, &mut b, &mut out);
        assert!(out[0].confidence > 0.99);
        one.predict("what is the weather on mars", 1, &mut b, &mut out);
        assert!(out[0].confidence < 0.5, "{}", out[0].confidence);
        one.predict("hello there 0132-555", 1, &mut b, &mut out);
        assert!(
            out[0].confidence > 0.5,
            "numbers are one known word: {}",
            out[0].confidence
        );
    }
}
