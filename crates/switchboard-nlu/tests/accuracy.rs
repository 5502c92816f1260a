//! Accuracy floors on the public datasets in `datasets/intent/`: a change that makes the
//! classifier worse fails here. Figures, and how they compare with other classifiers, are in
//! BENCHMARKS.md; the floors sit about one point below the measured values.

use switchboard_nlu::{EvalOptions, Report, evaluate, parse_jsonl};

fn run(file: &str) -> Report {
    let path = format!("{}/../../datasets/intent/{file}", env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let splits = parse_jsonl(&src).expect("dataset parses");
    evaluate(&splits, &EvalOptions::default(), &mut |_| {})
}

#[test]
fn clinc150_in_scope_accuracy_and_out_of_scope_detection_stay_above_their_floors() {
    let r = run("clinc150/clinc150.jsonl");
    assert_eq!((r.intents, r.test_rows), (150, 5500));
    assert!(r.accuracy >= 0.92, "in-scope accuracy {:.4}", r.accuracy);
    let in_scope = r.in_scope_accuracy.expect("has out-of-scope rows");
    let recall = r.oos_recall.expect("has out-of-scope rows");
    assert!(in_scope >= 0.89, "in-scope accuracy at the threshold {in_scope:.4}");
    assert!(recall >= 0.83, "out-of-scope recall {recall:.4}");
    assert!(r.macro_f1 >= 0.92, "macro-F1 {:.4}", r.macro_f1);
    assert!(r.model_bytes < 20 << 20, "model {} bytes", r.model_bytes);
}

#[test]
fn banking77_accuracy_stays_above_its_floor() {
    let r = run("banking77/banking77.jsonl");
    assert_eq!(r.intents, 77);
    assert!(r.accuracy >= 0.905, "accuracy {:.4}", r.accuracy);
    assert_eq!((r.in_scope_accuracy, r.oos_recall), (None, None));
}
