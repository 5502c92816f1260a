//! Evaluation on labelled datasets: train on the train split, tune the out-of-scope threshold and
//! the calibration on the validation split, score the test split.

use crate::classifier::{Buffers, Classifier, Scored};
use crate::linear::TrainOptions;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Instant;

/// The label of out-of-scope rows in a dataset.
pub const OOS: &str = "oos";

#[derive(Clone, Debug, Deserialize)]
pub struct Row {
    pub text: String,
    pub intent: String,
    pub split: String,
}

#[derive(Debug, Default)]
pub struct Splits {
    pub train: Vec<Row>,
    pub val: Vec<Row>,
    pub test: Vec<Row>,
}

/// Parses JSON Lines of `{"text", "intent", "split"}` with split `train`, `val` or `test`.
pub fn parse_jsonl(src: &str) -> Result<Splits, String> {
    let mut s = Splits::default();
    for (n, line) in src.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        match row.split.as_str() {
            "train" => s.train.push(row),
            "val" | "validation" | "dev" => s.val.push(row),
            "test" => s.test.push(row),
            other => return Err(format!("line {}: unknown split {other:?} (train, val or test)", n + 1)),
        }
    }
    if s.train.is_empty() {
        return Err("no rows in the train split".into());
    }
    if s.test.is_empty() {
        return Err("no rows in the test split".into());
    }
    Ok(s)
}

#[derive(Clone, Debug, Serialize)]
pub struct IntentScore {
    pub intent: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Confusion {
    pub expected: String,
    pub predicted: String,
    pub count: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub train_rows: usize,
    pub val_rows: usize,
    pub test_rows: usize,
    pub intents: usize,
    pub train_seconds: f64,
    /// Accuracy on the in-scope test rows, always taking the best intent (no threshold).
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Confidence below which the answer is "out of scope", tuned on the validation split (0
    /// when the data has no out-of-scope rows).
    pub threshold: f32,
    /// With the threshold: in-scope rows answered with the right intent.
    pub in_scope_accuracy: Option<f64>,
    /// With the threshold: out-of-scope rows recognised as such.
    pub oos_recall: Option<f64>,
    pub temperature: f32,
    pub model_bytes: usize,
    /// Time to classify one test message, microseconds.
    pub latency_us_p50: f64,
    pub latency_us_p99: f64,
    pub per_intent: Vec<IntentScore>,
    pub confused: Vec<Confusion>,
}

#[derive(Clone, Debug)]
pub struct EvalOptions {
    pub train: TrainOptions,
    /// The out-of-scope threshold is the one that meets this recall of out-of-scope rows on the
    /// validation split while answering the most in-scope rows right.
    pub target_oos_recall: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            train: TrainOptions::default(),
            target_oos_recall: 0.85,
        }
    }
}

/// Trains, tunes and tests. `progress` hears what is happening, for long runs.
pub fn evaluate(s: &Splits, opt: &EvalOptions, progress: &mut dyn FnMut(&str)) -> Report {
    let in_scope = |r: &&Row| r.intent != OOS;
    progress(&format!("training on {} rows", s.train.iter().filter(in_scope).count()));
    let started = Instant::now();
    let mut model = Classifier::train(
        s.train
            .iter()
            .filter(in_scope)
            .map(|r| (r.text.as_str(), r.intent.as_str())),
        &opt.train,
    );
    let train_seconds = started.elapsed().as_secs_f64();
    if !s.val.is_empty() {
        progress("calibrating on the validation split");
        model.calibrate(
            s.val
                .iter()
                .filter(in_scope)
                .map(|r| (r.text.as_str(), r.intent.as_str())),
        );
    }
    let has_oos = s.val.iter().chain(&s.test).any(|r| r.intent == OOS);
    let threshold = if has_oos {
        progress("tuning the out-of-scope threshold on the validation split");
        tune_threshold(&model, &s.val, opt.target_oos_recall)
    } else {
        0.0
    };
    progress(&format!("testing on {} rows", s.test.len()));
    // One untimed pass first: latency is measured in the steady state of a running server,
    // where the model is already in the caches, not on first touch of each weight row.
    let _ = predict_all(&model, &s.test);
    let (predictions, mut micros) = predict_all(&model, &s.test);
    let mut report = score(&model, s, &predictions, threshold, has_oos, train_seconds);
    micros.sort_unstable_by(f64::total_cmp);
    let pct = |p: f64| {
        micros
            .get(((micros.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    report.latency_us_p50 = pct(0.5);
    report.latency_us_p99 = pct(0.99);
    report
}

/// Top predictions of `rows`, and the time each took (microseconds): one message at a time, as
/// in production.
fn predict_all(model: &Classifier, rows: &[Row]) -> (Vec<Scored>, Vec<f64>) {
    let mut b = Buffers::default();
    let mut out = Vec::new();
    let mut micros = Vec::with_capacity(rows.len());
    let preds = rows
        .iter()
        .map(|r| {
            let at = Instant::now();
            model.predict(&r.text, 1, &mut b, &mut out);
            micros.push(at.elapsed().as_secs_f64() * 1e6);
            out.first().copied().unwrap_or(Scored {
                label: u32::MAX,
                confidence: 0.0,
            })
        })
        .collect();
    (preds, micros)
}

/// The threshold, on `val`, that reaches `target_recall` of out-of-scope rows with the best
/// in-scope accuracy (the highest recall when the target cannot be reached).
fn tune_threshold(model: &Classifier, val: &[Row], target_recall: f64) -> f32 {
    let (preds, _) = predict_all(model, val);
    let label = |p: &Scored| model.labels.get(p.label as usize).map(String::as_str);
    let mut best = (f64::MIN, 0.0f32);
    for step in 0..=200 {
        let t = step as f32 / 200.0;
        let (mut ok_in, mut n_in, mut ok_oos, mut n_oos) = (0usize, 0usize, 0usize, 0usize);
        for (r, p) in val.iter().zip(&preds) {
            let accepted = p.confidence >= t;
            if r.intent == OOS {
                n_oos += 1;
                ok_oos += usize::from(!accepted);
            } else {
                n_in += 1;
                ok_in += usize::from(accepted && label(p) == Some(r.intent.as_str()));
            }
        }
        if n_in == 0 || n_oos == 0 {
            return 0.0;
        }
        let (in_acc, recall) = (ok_in as f64 / n_in as f64, ok_oos as f64 / n_oos as f64);
        // Meet the recall target first, then answer as many in-scope rows as possible.
        let objective = if recall >= target_recall { in_acc } else { recall - 1.0 };
        if objective > best.0 {
            best = (objective, t);
        }
    }
    best.1
}

fn score(
    model: &Classifier,
    s: &Splits,
    preds: &[Scored],
    threshold: f32,
    has_oos: bool,
    train_seconds: f64,
) -> Report {
    let label = |p: &Scored| model.labels.get(p.label as usize).map_or(OOS, String::as_str);
    // Closed-set counts over in-scope rows.
    let mut tp: HashMap<&str, usize> = HashMap::new();
    let mut predicted: HashMap<&str, usize> = HashMap::new();
    let mut support: HashMap<&str, usize> = HashMap::new();
    let mut confused: HashMap<(&str, &str), usize> = HashMap::new();
    let (mut correct, mut n_in, mut ok_in, mut n_oos, mut ok_oos) = (0usize, 0usize, 0usize, 0usize, 0usize);
    for (r, p) in s.test.iter().zip(preds) {
        let got = label(p);
        let accepted = p.confidence >= threshold;
        if r.intent == OOS {
            n_oos += 1;
            ok_oos += usize::from(!accepted);
            continue;
        }
        n_in += 1;
        *support.entry(&r.intent).or_default() += 1;
        *predicted.entry(got).or_default() += 1;
        if got == r.intent {
            correct += 1;
            *tp.entry(got).or_default() += 1;
            ok_in += usize::from(accepted);
        } else {
            *confused.entry((r.intent.as_str(), got)).or_default() += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut per_intent: Vec<IntentScore> = support
        .iter()
        .map(|(&intent, &n)| {
            let t = tp.get(intent).copied().unwrap_or(0);
            let precision = ratio(t, predicted.get(intent).copied().unwrap_or(0));
            let recall = ratio(t, n);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            IntentScore {
                intent: intent.to_owned(),
                precision,
                recall,
                f1,
                support: n,
            }
        })
        .collect();
    per_intent.sort_by(|a, b| a.f1.total_cmp(&b.f1).then_with(|| a.intent.cmp(&b.intent)));
    let macro_f1 = per_intent.iter().map(|i| i.f1).sum::<f64>() / per_intent.len().max(1) as f64;
    let mut confused: Vec<Confusion> = confused
        .into_iter()
        .map(|((e, p), count)| Confusion {
            expected: e.to_owned(),
            predicted: p.to_owned(),
            count,
        })
        .collect();
    confused.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.expected.cmp(&b.expected))
            .then_with(|| a.predicted.cmp(&b.predicted))
    });
    confused.truncate(10);
    Report {
        train_rows: s.train.iter().filter(|r| r.intent != OOS).count(),
        val_rows: s.val.len(),
        test_rows: s.test.len(),
        intents: model.labels.len(),
        train_seconds,
        accuracy: ratio(correct, n_in),
        macro_f1,
        threshold,
        in_scope_accuracy: has_oos.then(|| ratio(ok_in, n_in)),
        oos_recall: has_oos.then(|| ratio(ok_oos, n_oos)),
        temperature: model.linear.temperature,
        model_bytes: model.memory_bytes(),
        latency_us_p50: 0.0,
        latency_us_p99: 0.0,
        per_intent,
        confused,
    }
}
