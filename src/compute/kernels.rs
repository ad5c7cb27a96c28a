//! The CPU backend's elementwise kernels: the epilogues fused into a product's output
//! bands (bias and φ, φ' masks, bias gradients), softmax cross-entropy, the optimizer
//! updates, the Jacobian's starting cotangents and per-point Gram matrices, region codes.

use super::backend::{BatchLoss, UpdateRule};
use super::cpu::{BandMut, SharedMut, run_parallel, split};
use crate::net::Activation;

/// Elementwise work below this many elements per thread runs on one thread.
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// φ(z), except that NaN stays NaN (φ's clamps, e.g. `relu(NaN) = 0`, would hide it).
/// ±inf goes through φ: it is the rounded limit of a large finite value.
#[inline(always)]
pub fn apply_keeping_nan(act: Activation, z: f32) -> f32 {
    if z.is_nan() { z } else { act.apply(z) }
}

/// Adds the bias of each output column and applies φ (when given) on one band.
pub(super) fn bias_and_activation(band: &mut BandMut, bias: Option<&[f32]>, activation: Option<Activation>) {
    if bias.is_none() && activation.is_none() {
        return;
    }
    let (rows, cols) = (band.band().rows.clone(), band.band().cols.clone());
    let bias = bias.map(|b| &b[cols]);
    for r in rows {
        let row = band.row(r);
        if let Some(b) = bias {
            row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
        }
        if let Some(act) = activation {
            row.iter_mut().for_each(|v| *v = apply_keeping_nan(act, *v));
        }
    }
}

/// Multiplies each element of a band of a `rows × width` output by φ' of the matching
/// activation: output row `r` is masked by row `r / group` of `acts` (`group` rows share
/// one activation row: the classes of one point).
pub(super) fn mask_by_derivative(band: &mut BandMut, acts: &[f32], width: usize, group: usize, act: Activation) {
    let (rows, cols) = (band.band().rows.clone(), band.band().cols.clone());
    for r in rows {
        let a = &acts[(r / group) * width..][cols.clone()];
        band.row(r)
            .iter_mut()
            .zip(a)
            .for_each(|(g, &a)| *g *= act.derivative_from_output(a));
    }
}

/// `db[o] = Σ_i g[i·outputs + o]` for the output rows of a weight-gradient band that
/// starts at column 0 (exactly one band holds each row there).
///
/// # Safety
/// `db` must point to at least `outputs` floats that only this product writes.
pub(super) unsafe fn bias_gradient(band: &mut BandMut, db: SharedMut, g: &[f32], outputs: usize) {
    if band.band().cols.start != 0 {
        return;
    }
    let rows = band.band().rows.clone();
    // SAFETY: `rows` ⊆ 0..outputs and no other band writes these entries (caller).
    let db = unsafe { std::slice::from_raw_parts_mut(db.ptr().add(rows.start), rows.len()) };
    db.fill(0.0);
    for row in g.chunks_exact(outputs) {
        db.iter_mut().zip(&row[rows.clone()]).for_each(|(d, g)| *d += g);
    }
}

/// Cross-entropy of one logit row against `label`, with the softmax written to `probs`.
/// Returns (loss, predicted class); the prediction takes the lowest index on ties.
pub fn softmax_cross_entropy(logits: &[f32], label: usize, probs: &mut [f32]) -> (f64, usize) {
    let mut predicted = 0;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[predicted] {
            predicted = i;
        }
    }
    let max = logits[predicted] as f64;
    let mut sum = 0.0f64;
    for (p, &v) in probs.iter_mut().zip(logits) {
        let e = (v as f64 - max).exp();
        *p = e as f32;
        sum += e;
    }
    let inv = 1.0 / sum;
    probs.iter_mut().for_each(|p| *p = (*p as f64 * inv) as f32);
    let loss = sum.ln() + max - logits[label] as f64;
    (loss, predicted)
}

/// `grad = (softmax − onehot)/n` for a batch of `labels.len()` logit rows, with the loss.
pub(super) fn softmax_cross_entropy_batch(
    logits: &[f32],
    labels: &[u16],
    classes: usize,
    grad: &mut [f32],
) -> BatchLoss {
    let n = labels.len();
    let mut out = BatchLoss::default();
    for (i, &label) in labels.iter().enumerate() {
        let row = &mut grad[i * classes..(i + 1) * classes];
        let (loss, predicted) = softmax_cross_entropy(&logits[i * classes..(i + 1) * classes], label as usize, row);
        out.loss_sum += loss;
        out.correct += (predicted == label as usize) as usize;
        row[label as usize] -= 1.0;
        row.iter_mut().for_each(|v| *v /= n as f32);
    }
    out
}

/// One optimizer update, split into contiguous ranges over up to `threads` threads (an
/// elementwise rule: the result does not depend on the split).
pub(super) fn update(
    threads: usize,
    rule: UpdateRule,
    param: &mut [f32],
    grad: &[f32],
    state: &mut [Box<[f32]>],
    len: usize,
) {
    assert_eq!(state.len(), rule.state_buffers(), "optimizer state buffers");
    let parts = if len >= 2 * PARALLEL_MIN_ELEMENTS { threads } else { 1 };
    let ranges = split(len, parts, 64);
    let (p, s0, s1) = (
        SharedMut(param.as_mut_ptr()),
        state.first_mut().map(|s| SharedMut(s.as_mut_ptr())),
        state.get_mut(1).map(|s| SharedMut(s.as_mut_ptr())),
    );
    run_parallel(ranges, |range| {
        // SAFETY: the ranges are disjoint parts of buffers of at least `len` elements
        // (the state buffers are shaped like the parameter), exclusively borrowed here.
        let part = |ptr: SharedMut| unsafe { std::slice::from_raw_parts_mut(ptr.ptr().add(range.start), range.len()) };
        let (w, g) = (part(p), &grad[range.clone()]);
        match rule {
            UpdateRule::Sgd { lr } => w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * g),
            UpdateRule::Momentum { lr, momentum } => {
                let m = part(s0.expect("momentum state"));
                for ((w, g), m) in w.iter_mut().zip(g).zip(m) {
                    *m = momentum * *m + g;
                    *w -= lr * *m;
                }
            }
            UpdateRule::Adam {
                lr_t,
                beta1,
                beta2,
                epsilon,
            } => {
                let (m, v) = (part(s0.expect("adam m")), part(s1.expect("adam v")));
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m).zip(v) {
                    *m = beta1 * *m + (1.0 - beta1) * g;
                    *v = beta2 * *v + (1.0 - beta2) * g * g;
                    *w -= lr_t * *m / (v.sqrt() + epsilon);
                }
            }
            UpdateRule::RmsProp { lr, decay, epsilon } => {
                let ms = part(s0.expect("rmsprop state"));
                for ((w, &g), ms) in w.iter_mut().zip(g).zip(ms) {
                    *ms = decay * *ms + (1.0 - decay) * g * g;
                    *w -= lr * g / (*ms + epsilon).sqrt();
                }
            }
        }
    });
}

/// `h[(p·classes + i)·width + c] = W_last[i·width + c] · φ'(acts[p·width + c])`.
pub(super) fn cotangent_start(
    h: &mut [f32],
    w_last: &[f32],
    acts: &[f32],
    points: usize,
    classes: usize,
    width: usize,
    act: Activation,
) {
    for p in 0..points {
        let deriv = &acts[p * width..(p + 1) * width];
        for i in 0..classes {
            let row = &mut h[(p * classes + i) * width..(p * classes + i + 1) * width];
            let wrow = &w_last[i * width..(i + 1) * width];
            for ((h, &w), &a) in row.iter_mut().zip(wrow).zip(deriv) {
                *h = w * act.derivative_from_output(a);
            }
        }
    }
}

/// `K_p[i][k] = ⟨y_(p,i), right_(p,k)⟩` in f64, for every point, in point order.
pub(super) fn point_grams(y: &[f32], right: &[f32], points: usize, classes: usize, cols: usize) -> Vec<f64> {
    let mut grams = vec![0.0f64; points * classes * classes];
    for p in 0..points {
        for i in 0..classes {
            let yi = &y[(p * classes + i) * cols..(p * classes + i + 1) * cols];
            for k in 0..classes {
                let rk = &right[(p * classes + k) * cols..(p * classes + k + 1) * cols];
                grams[(p * classes + i) * classes + k] = dot64(yi, rk);
            }
        }
    }
    grams
}

fn dot64(a: &[f32], b: &[f32]) -> f64 {
    // Four f32 lanes accumulated in f64 at the end of each block of 64: fast and accurate.
    let mut total = 0.0f64;
    for (ca, cb) in a.chunks(64).zip(b.chunks(64)) {
        let mut acc = [0.0f32; 4];
        let mut i = 0;
        while i + 4 <= ca.len() {
            for l in 0..4 {
                acc[l] += ca[i + l] * cb[i + l];
            }
            i += 4;
        }
        let mut s = (acc[0] + acc[1]) as f64 + (acc[2] + acc[3]) as f64;
        for j in i..ca.len() {
            s += (ca[j] * cb[j]) as f64;
        }
        total += s;
    }
    total
}

/// The region code of every pre-activation, then φ applied in place; the first
/// non-finite value (index, value) instead when there is one.
pub(super) fn region_codes(z: &mut [f32], act: Activation) -> Result<Vec<u8>, (usize, f32)> {
    if let Some(i) = z.iter().position(|v| !v.is_finite()) {
        return Err((i, z[i]));
    }
    let codes = z.iter().map(|&v| act.code(v)).collect();
    z.iter_mut().for_each(|v| *v = act.apply(*v));
    Ok(codes)
}
