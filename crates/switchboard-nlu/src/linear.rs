//! A linear classifier over sparse TF-IDF vectors: one-vs-rest squared hinge loss (the loss of
//! a linear SVM) trained by stochastic gradient descent, then stored as 8-bit weights. A softmax
//! with a fitted temperature turns the scores into calibrated probabilities.
//!
//! Why this model: on CLINC150 and BANKING77 it matched or beat logistic regression and
//! scikit-learn's LinearSVC on the same features, trains in about a second per 10k examples on
//! one core, and scores a message in a few microseconds.

use crate::features::Sparse;

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub epochs: u32,
    pub learning_rate: f32,
    /// L2 regularisation strength.
    pub l2: f32,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            epochs: 8,
            learning_rate: 0.5,
            l2: 1e-5,
            seed: 0x5eed,
        }
    }
}

/// Temperature used until one is fitted on held-out data; the value fitted on CLINC150 and
/// BANKING77 (0.15–0.2), since a bot definition has no held-out examples.
pub const DEFAULT_TEMPERATURE: f32 = 0.17;

#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub classes: usize,
    /// Row-major `features × classes`, so one feature's weights for every class are contiguous;
    /// quantised to 8 bits with one scale per feature (a quarter of the memory of f32, with no
    /// measurable loss of accuracy).
    pub weights: Vec<i8>,
    pub scales: Vec<f32>,
    pub bias: Vec<f32>,
    /// Softmax temperature; fitted by [`Linear::calibrate`].
    pub temperature: f32,
}

/// splitmix64: a deterministic shuffle needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

pub fn softmax(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

impl Linear {
    /// Trains on `xs` (unit-length sparse vectors over `features` ids) labelled `ys` (< `classes`).
    pub fn train(xs: &[Sparse], ys: &[u32], classes: usize, features: usize, opt: &TrainOptions) -> Linear {
        let mut w = vec![0f32; features * classes];
        let mut bias = vec![0f32; classes];
        // The weights are `scale * w`: L2 decay then costs one multiplication per step.
        let mut scale = 1f32;
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = Rng(opt.seed);
        let mut z = vec![0f32; classes];
        let mut active: Vec<(usize, f32)> = Vec::with_capacity(classes);
        let total = (opt.epochs as usize * xs.len()).max(1) as f32;
        let mut t = 0f32;
        for _ in 0..opt.epochs {
            rng.shuffle(&mut order);
            for &i in &order {
                // Linear decay: large steps first, then settling.
                let lr = opt.learning_rate * (1.0 - t / total).max(0.02);
                t += 1.0;
                let x = &xs[i];
                z.copy_from_slice(&bias);
                for &(f, v) in x {
                    let row = &w[f as usize * classes..][..classes];
                    let k = v * scale;
                    for (zc, wc) in z.iter_mut().zip(row) {
                        *zc += k * wc;
                    }
                }
                scale *= 1.0 - lr * opt.l2;
                if scale < 1e-3 {
                    w.iter_mut().for_each(|v| *v *= scale);
                    scale = 1.0;
                }
                // Squared hinge per class: target +1 for the label, -1 for the others; only
                // classes inside the margin have a gradient, and after the first epoch that is
                // a handful of them.
                let y = ys[i] as usize;
                active.clear();
                for (c, &zc) in z.iter().enumerate() {
                    let target = if c == y { 1.0 } else { -1.0 };
                    let margin = 1.0 - target * zc;
                    if margin > 0.0 {
                        active.push((c, -lr * target * margin));
                    }
                }
                for &(c, g) in &active {
                    bias[c] -= g;
                }
                for &(f, v) in x {
                    let row = &mut w[f as usize * classes..][..classes];
                    let k = v / scale;
                    for &(c, g) in &active {
                        row[c] -= g * k;
                    }
                }
            }
        }
        let mut scales = Vec::with_capacity(features);
        let mut weights = Vec::with_capacity(features * classes);
        for row in w.chunks_exact(classes.max(1)) {
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs())) * scale;
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            scales.push(s);
            weights.extend(row.iter().map(|v| (v * scale / s).round().clamp(-127.0, 127.0) as i8));
        }
        Linear {
            classes,
            weights,
            scales,
            bias,
            temperature: DEFAULT_TEMPERATURE,
        }
    }

    /// Raw class scores of `x` into `out`.
    pub fn scores(&self, x: &Sparse, out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for &(f, v) in x {
            let start = f as usize * self.classes;
            let (Some(row), Some(&s)) = (
                self.weights.get(start..start + self.classes),
                self.scales.get(f as usize),
            ) else {
                continue;
            };
            let k = v * s;
            for (o, &w) in out.iter_mut().zip(row) {
                *o += k * f32::from(w);
            }
        }
    }

    /// Calibrated class probabilities of `x` into `out`.
    pub fn probabilities(&self, x: &Sparse, out: &mut [f32]) {
        self.scores(x, out);
        let t = self.temperature;
        out.iter_mut().for_each(|v| *v /= t);
        softmax(out);
    }

    /// Picks the softmax temperature that minimises the negative log-likelihood of held-out
    /// examples: after it, "0.8" means right about 80% of the time on data like these.
    pub fn calibrate(&mut self, xs: &[Sparse], ys: &[u32]) {
        if xs.is_empty() {
            return;
        }
        let scores: Vec<Vec<f32>> = xs
            .iter()
            .map(|x| {
                let mut z = vec![0f32; self.classes];
                self.scores(x, &mut z);
                z
            })
            .collect();
        let nll = |t: f32| -> f32 {
            let mut p = vec![0f32; self.classes];
            let mut sum = 0f32;
            for (z, &y) in scores.iter().zip(ys) {
                p.iter_mut().zip(z).for_each(|(p, z)| *p = z / t);
                softmax(&mut p);
                sum -= p[y as usize].max(1e-12).ln();
            }
            sum
        };
        // Golden-section search on log(t) over [0.01, 10].
        let (mut a, mut b) = (0.01f32.ln(), 10f32.ln());
        let g = 0.618_034f32;
        for _ in 0..40 {
            let c = b - g * (b - a);
            let d = a + g * (b - a);
            if nll(c.exp()) < nll(d.exp()) {
                b = d;
            } else {
                a = c;
            }
        }
        self.temperature = ((a + b) / 2.0).exp();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_separable_classes_and_calibrates() {
        // Features 0 and 1 mark class 0, 2 and 3 class 1.
        let xs: Vec<Sparse> = vec![
            vec![(0, 0.8), (1, 0.6)],
            vec![(0, 1.0)],
            vec![(2, 0.6), (3, 0.8)],
            vec![(3, 1.0)],
        ];
        let ys = [0, 0, 1, 1];
        let mut m = Linear::train(&xs, &ys, 2, 4, &TrainOptions::default());
        let mut p = [0f32; 2];
        m.probabilities(&vec![(1, 1.0)], &mut p);
        assert!(p[0] > 0.8, "{p:?}");
        m.probabilities(&vec![(2, 1.0)], &mut p);
        assert!(p[1] > 0.8, "{p:?}");
        m.calibrate(&xs, &ys);
        assert!(m.temperature > 0.0 && m.temperature.is_finite());
        // Nothing known: no preference.
        m.probabilities(&Vec::new(), &mut p);
        assert!((p[0] - 0.5).abs() < 0.2, "{p:?}");
        // Ids beyond the model (a corrupt vector) are ignored, not a panic.
        m.probabilities(&vec![(99, 1.0)], &mut p);
    }
}
