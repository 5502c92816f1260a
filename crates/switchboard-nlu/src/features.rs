//! Text to sparse TF-IDF vectors: word unigrams, word pairs and character 3–4-grams of the
//! whole lower-cased text (the character n-grams make the model forgiving of typos, inflections
//! and languages without spaces between words).
//!
//! Features are 64-bit hashes of their kind and text, so no string is allocated per feature; a
//! vocabulary built at training time maps the hashes seen in training to dense ids.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hashed feature: kind in the low byte, FNV-1a of the text above it.
pub type Feature = u64;

const WORD: u8 = 1;
const PAIR: u8 = 2;
const CHARS: u8 = 3;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

fn feature(kind: u8, h: u64) -> Feature {
    // Finalise so that the kind byte does not share bits with the text's hash.
    let h = (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (h & !0xff) | u64::from(kind)
}

/// The features' kinds could weigh differently; on CLINC150 and BANKING77 equal weights did best
/// once character n-grams cross word boundaries (0.5 for characters was best inside words).
fn kind_weight(_: Feature) -> f32 {
    1.0
}

/// Lower-cased words: runs of letters and digits. Apostrophes are dropped inside words so that
/// "what's" and "whats" agree.
fn words(text: &str, out: &mut String, bounds: &mut Vec<(usize, usize)>) {
    out.clear();
    bounds.clear();
    let mut start = None;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(out.len());
            }
            for l in c.to_lowercase() {
                out.push(l);
            }
        } else if (c == '\'' || c == '’') && start.is_some() {
            continue;
        } else if let Some(s) = start.take() {
            bounds.push((s, out.len()));
            out.push(' ');
        }
    }
    if let Some(s) = start {
        bounds.push((s, out.len()));
    }
}

/// Scratch space reused across calls, so that featurising allocates nothing once warm.
#[derive(Default)]
pub struct Scratch {
    text: String,
    bounds: Vec<(usize, usize)>,
    padded: String,
    chars: Vec<usize>,
    features: Vec<Feature>,
}

/// All features of `text`, with repeats (term frequency is counted by the caller).
pub fn extract<'a>(text: &str, s: &'a mut Scratch) -> &'a [Feature] {
    words(text, &mut s.text, &mut s.bounds);
    s.features.clear();
    s.padded.clear();
    let t = s.text.as_bytes();
    // Every number is the same word: "transfer 20 dollars" and "transfer 50 dollars" say the
    // same thing, and a phone number must not read as a dozen unknown letter groups.
    let word = |(a, b): (usize, usize)| -> &[u8] {
        if t[a..b].iter().any(u8::is_ascii_digit) {
            b"#"
        } else {
            &t[a..b]
        }
    };
    for (wi, &(a, b)) in s.bounds.iter().enumerate() {
        let w = word((a, b));
        s.features.push(feature(WORD, fnv(FNV_OFFSET, w)));
        // Pairs of neighbours and of words one apart ("book a table" -> "book table"): word
        // order matters, articles in between do not.
        for d in 1..=2.min(wi) {
            let h = fnv(
                fnv(FNV_OFFSET, word(s.bounds[wi - d])),
                if d == 1 { b" " } else { b"_" },
            );
            s.features.push(feature(PAIR, fnv(h, w)));
        }
        s.padded.push(' ');
        s.padded.push_str(std::str::from_utf8(w).unwrap_or("#"));
    }
    // Character n-grams of " the words ", by char, not byte, across word boundaries: they
    // see inflections ("booking"/"booked"), typos, and the seam between two words.
    s.padded.push(' ');
    s.chars.clear();
    s.chars.extend(s.padded.char_indices().map(|(i, _)| i));
    s.chars.push(s.padded.len());
    let n = s.chars.len() - 1;
    let p = s.padded.as_bytes();
    for len in 3..=4.min(n) {
        for i in 0..=n - len {
            s.features
                .push(feature(CHARS, fnv(FNV_OFFSET, &p[s.chars[i]..s.chars[i + len]])));
        }
    }
    &s.features
}

/// Features are hashes already: the map needs only a cheap spread of their bits.
#[derive(Default, Clone, Copy)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // The low byte is the feature's kind (three values), and the table indexes by low bits:
        // one multiplication spreads the hash over all of them.
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub type FeatureMap<V> = HashMap<Feature, V, BuildHasherDefault<IdentityHasher>>;

/// A sparse vector: (feature id, value).
pub type Sparse = Vec<(u32, f32)>;

/// Maps features to ids with their inverse document frequency.
#[derive(Clone, Debug, Default)]
pub struct Vectorizer {
    pub ids: FeatureMap<u32>,
    /// Inverse document frequency times the kind's weight, per id.
    pub weights: Vec<f32>,
    /// The weight given to a feature never seen in training: it counts in the vector's norm, so
    /// a message made of unknown words has a short known part and scores low everywhere.
    pub unseen_idf: f32,
}

impl Vectorizer {
    /// Learns the vocabulary from `docs`; features in fewer than `min_df` documents are dropped.
    pub fn fit<'a>(docs: impl Iterator<Item = &'a str>, min_df: u32) -> Vectorizer {
        let mut df: FeatureMap<u32> = FeatureMap::default();
        let mut s = Scratch::default();
        let mut uniq: Vec<Feature> = Vec::new();
        let mut n = 0u32;
        for doc in docs {
            n += 1;
            uniq.clear();
            uniq.extend_from_slice(extract(doc, &mut s));
            uniq.sort_unstable();
            uniq.dedup();
            for &f in &uniq {
                *df.entry(f).or_default() += 1;
            }
        }
        let mut kept: Vec<(Feature, u32)> = df.into_iter().filter(|&(_, d)| d >= min_df).collect();
        kept.sort_unstable();
        let idf = |d: u32| ((1.0 + n as f32) / (1.0 + d as f32)).ln() + 1.0;
        let mut v = Vectorizer {
            ids: FeatureMap::with_capacity_and_hasher(kept.len(), Default::default()),
            weights: Vec::with_capacity(kept.len()),
            unseen_idf: idf(0),
        };
        for (i, (f, d)) in kept.into_iter().enumerate() {
            v.ids.insert(f, i as u32);
            v.weights.push(idf(d) * kind_weight(f));
        }
        v
    }

    pub fn len(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// The L2-normalised TF-IDF vector of `text` (sublinear term frequency) into `out`. Returns
    /// the fraction of the vector's weight that comes from known features (0 for nothing known).
    pub fn transform(&self, text: &str, s: &mut Scratch, out: &mut Sparse) -> f32 {
        out.clear();
        let mut unseen = 0f32;
        extract(text, s);
        let mut sorted = std::mem::take(&mut s.features);
        sorted.sort_unstable();
        let mut i = 0;
        while i < sorted.len() {
            let f = sorted[i];
            let mut j = i + 1;
            while j < sorted.len() && sorted[j] == f {
                j += 1;
            }
            let tf = 1.0 + ((j - i) as f32).ln();
            match self.ids.get(&f) {
                Some(&id) => out.push((id, tf * self.weights[id as usize])),
                None => {
                    let w = tf * self.unseen_idf * kind_weight(f);
                    unseen += w * w;
                }
            }
            i = j;
        }
        s.features = sorted;
        let known: f32 = out.iter().map(|(_, w)| w * w).sum();
        let norm = (known + unseen).sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        for (_, w) in out.iter_mut() {
            *w /= norm;
        }
        known.sqrt() / norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lowercased_and_split_on_punctuation() {
        let mut t = String::new();
        let mut b = Vec::new();
        words("What's the TIME, Señor?", &mut t, &mut b);
        let w: Vec<&str> = b.iter().map(|&(a, z)| &t[a..z]).collect();
        assert_eq!(w, ["whats", "the", "time", "señor"]);
    }

    #[test]
    fn same_text_same_features_and_typos_share_most() {
        let mut s = Scratch::default();
        let a: Vec<Feature> = extract("hello", &mut s).to_vec();
        assert_eq!(a, extract("HELLO!", &mut s));
        let b: Vec<Feature> = extract("helo", &mut s).to_vec();
        let shared = a.iter().filter(|f| b.contains(f)).count();
        assert!(shared >= 4, "{shared}");
        assert!(extract("", &mut s).is_empty());
        assert!(extract("🙂 ?!", &mut s).is_empty());
        assert!(!extract("日本語", &mut s).is_empty());
    }

    #[test]
    fn vectors_are_unit_length_and_unknown_words_shrink_the_known_part() {
        let docs = ["book a table", "cancel my table", "what time is it"];
        let v = Vectorizer::fit(docs.iter().copied(), 1);
        let mut s = Scratch::default();
        let mut out = Vec::new();
        let known = v.transform("book a table", &mut s, &mut out);
        let len: f32 = out.iter().map(|(_, w)| w * w).sum();
        assert!((len - 1.0).abs() < 1e-4 && (known - 1.0).abs() < 1e-4);
        let known = v.transform("book zebra quantum xylophone", &mut s, &mut out);
        assert!(known < 0.6, "{known}");
        assert_eq!(v.transform("", &mut s, &mut out), 0.0);
        assert!(out.is_empty());
    }
}
