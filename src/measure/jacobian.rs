//! Input-Jacobian norms: per point, ‖J‖_F of the softmax Jacobian
//! `J = ∂σ/∂xᵀ = (diag σ − σσᵀ)·G`, ‖G‖_F of the logit Jacobian `G = ∂f/∂xᵀ`, and the
//! target-class row ‖J_y‖, with the point's loss and prediction.
//!
//! Method (exact, batched reverse mode): identity cotangents for all n classes of all
//! points in a chunk are back-propagated together as GEMMs down to the first hidden
//! layer, giving `H_b` (n × w₁) with `G_b = H_b·W₁`. Then only the n × n Gram matrix
//! `K_b = G_b G_bᵀ` is needed: ‖G‖² = tr K, ‖J‖² = tr(A K A), ‖J_y‖² = (A K A)_yy with
//! `A = diag σ − σσᵀ`. When d > w₁, `K_b = H_b (W₁W₁ᵀ) H_bᵀ` with the w₁ × w₁ Gram matrix
//! of W₁ computed once per network, which avoids the n × d product per point.

use crate::compute::{Compute, MatRef};
use crate::net::Mlp;
use crate::net::engine::{Workspace, forward, softmax_cross_entropy};

/// The Jacobian quantities of one input point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointJacobian {
    /// ‖∂σ/∂x‖_F, σ = softmax(f(x)).
    pub jacobian_norm: f64,
    /// ‖∂f/∂x‖_F.
    pub logit_jacobian_norm: f64,
    /// ‖∂σ_y/∂x‖ for the label y (NaN when no label is given).
    pub target_row_norm: f64,
    /// Cross-entropy at the label (NaN when no label is given).
    pub loss: f64,
    /// The arg-max logit (the lowest index on ties).
    pub predicted: usize,
}

/// Floats of scratch per chunk (two cotangent buffers); bounds memory for wide networks.
const SCRATCH_FLOATS: usize = 1 << 24;
const MAX_CHUNK: usize = 256;

/// Computes [`PointJacobian`] for each of the `x.len() / d` row-major inputs. Overflow
/// shows as NaN or infinite values (see [`super::finite::check_jacobians`]), never as 0.
pub fn jacobian_norms(net: &Mlp, compute: &Compute, x: &[f32], labels: Option<&[u16]>) -> Vec<PointJacobian> {
    let d = net.input_dim();
    let n_points = x.len() / d;
    assert_eq!(x.len(), n_points * d);
    if let Some(l) = labels {
        assert_eq!(l.len(), n_points);
    }
    let n = net.classes();
    let widest = net.dims()[1..net.depth()]
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .max(d.min(net.dims()[1]));
    let chunk = (SCRATCH_FLOATS / (2 * n * widest))
        .clamp(1, MAX_CHUNK)
        .min(n_points.max(1));
    let first_gram = FirstLayer::new(net, compute);
    let mut ws = Workspace::new(net, chunk);
    let mut bufs = [
        vec![0.0f32; chunk * n * widest.max(d)],
        vec![0.0f32; chunk * n * widest.max(d)],
    ];
    let mut out = Vec::with_capacity(n_points);
    for start in (0..n_points).step_by(chunk) {
        let b = chunk.min(n_points - start);
        let logits = forward(net, compute, &x[start * d..(start + b) * d], b, &mut ws).to_vec();
        let grams = class_grams(net, compute, &ws, b, &first_gram, &mut bufs);
        let mut probs = vec![0.0f32; n];
        for p in 0..b {
            let label = labels.map(|l| l[start + p] as usize);
            let (loss, predicted) = softmax_cross_entropy(&logits[p * n..(p + 1) * n], label.unwrap_or(0), &mut probs);
            let sigma: Vec<f64> = softmax64(&logits[p * n..(p + 1) * n]);
            let (j2, g2, row2) = norms_from_gram(&grams[p * n * n..(p + 1) * n * n], &sigma, label);
            out.push(PointJacobian {
                jacobian_norm: j2.sqrt(),
                logit_jacobian_norm: g2.sqrt(),
                target_row_norm: row2.map_or(f64::NAN, f64::sqrt),
                loss: if label.is_some() { loss } else { f64::NAN },
                predicted,
            });
        }
    }
    out
}

fn softmax64(logits: &[f32]) -> Vec<f64> {
    let m = logits.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    let e: Vec<f64> = logits.iter().map(|&v| (v as f64 - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// From `K = G Gᵀ` (n × n, row-major) and σ: (‖J‖², ‖G‖², ‖J_y‖²) with `J = A G`,
/// `A = diag σ − σσᵀ` (symmetric), so `‖J‖² = Σ_i (A K A)_ii`.
pub fn norms_from_gram(k: &[f64], sigma: &[f64], label: Option<usize>) -> (f64, f64, Option<f64>) {
    let n = sigma.len();
    let a = |i: usize, j: usize| {
        if i == j {
            sigma[i] - sigma[i] * sigma[i]
        } else {
            -sigma[i] * sigma[j]
        }
    };
    // T = K A, then (A K A)_ii = Σ_j A_ij T_ji.
    let mut t = vec![0.0f64; n * n];
    for r in 0..n {
        for c in 0..n {
            t[r * n + c] = (0..n).map(|m| k[r * n + m] * a(m, c)).sum();
        }
    }
    let row = |i: usize| (0..n).map(|j| a(i, j) * t[j * n + i]).sum::<f64>();
    let j2: f64 = (0..n).map(row).sum();
    let g2: f64 = (0..n).map(|i| k[i * n + i]).sum();
    (zero_if_negative(j2), g2, label.map(|y| zero_if_negative(row(y))))
}

/// Clears the tiny negative values rounding can leave in a sum of squares. NaN passes
/// through (unlike `f64::max`, which would turn it into 0.0 and hide an overflow).
fn zero_if_negative(v: f64) -> f64 {
    if v < 0.0 { 0.0 } else { v }
}

/// How `K_b` is formed from `H_b`: through the Gram matrix of W₁ (when d > w₁) or through
/// the explicit product `G_b = H_b W₁`.
struct FirstLayer {
    gram: Option<Vec<f32>>,
}

impl FirstLayer {
    fn new(net: &Mlp, compute: &Compute) -> Self {
        let (w1, d) = (net.dims()[1], net.dims()[0]);
        let use_gram = net.depth() == 1 || d > w1;
        let gram = use_gram.then(|| {
            let w = MatRef::rows(&net.weights()[0], w1, d);
            let mut m = vec![0.0f32; w1 * w1];
            compute.matmul(&mut m, w, w.t(), false);
            m
        });
        FirstLayer { gram }
    }
}

/// The per-point class Gram matrices `K_b = G_b G_bᵀ` (b × n × n, f64) for the chunk
/// whose forward pass is in `ws`.
fn class_grams(
    net: &Mlp,
    compute: &Compute,
    ws: &Workspace,
    b: usize,
    first: &FirstLayer,
    bufs: &mut [Vec<f32>; 2],
) -> Vec<f64> {
    let n = net.classes();
    let depth = net.depth();
    let act = net.activation();
    let mut grams = vec![0.0f64; b * n * n];
    if depth == 1 {
        // G = W₁ for every point: K = W₁W₁ᵀ.
        let m = first.gram.as_ref().expect("depth 1 uses the Gram matrix");
        for p in 0..b {
            grams[p * n * n..(p + 1) * n * n]
                .iter_mut()
                .zip(m)
                .for_each(|(g, &v)| *g = v as f64);
        }
        return grams;
    }
    // H starts as W_L with columns scaled by φ'(a_{L−1}) of each point.
    let w_last = net.dims()[depth - 1];
    {
        let h = &mut bufs[0][..b * n * w_last];
        let acts = &ws.acts[depth - 2];
        for p in 0..b {
            let deriv = &acts[p * w_last..(p + 1) * w_last];
            for i in 0..n {
                let row = &mut h[(p * n + i) * w_last..(p * n + i + 1) * w_last];
                let wrow = &net.weights()[depth - 1][i * w_last..(i + 1) * w_last];
                for ((h, &w), &a) in row.iter_mut().zip(wrow).zip(deriv) {
                    *h = w * act.derivative_from_output(a);
                }
            }
        }
    }
    let mut cur = 0;
    for j in (1..depth - 1).rev() {
        let (out_dim, in_dim) = (net.dims()[j + 1], net.dims()[j]);
        let [b0, b1] = bufs;
        let (src, dst) = if cur == 0 { (&*b0, b1) } else { (&*b1, b0) };
        let dst = &mut dst[..b * n * in_dim];
        compute.matmul(
            dst,
            MatRef::rows(&src[..b * n * out_dim], b * n, out_dim),
            MatRef::rows(&net.weights()[j], out_dim, in_dim),
            false,
        );
        let acts = &ws.acts[j - 1];
        for p in 0..b {
            let deriv = &acts[p * in_dim..(p + 1) * in_dim];
            for row in dst[p * n * in_dim..(p + 1) * n * in_dim].chunks_exact_mut(in_dim) {
                row.iter_mut()
                    .zip(deriv)
                    .for_each(|(h, &a)| *h *= act.derivative_from_output(a));
            }
        }
        cur ^= 1;
    }
    let (w1, d) = (net.dims()[1], net.dims()[0]);
    let [b0, b1] = bufs;
    let (h, scratch) = if cur == 0 { (&*b0, b1) } else { (&*b1, b0) };
    let h = &h[..b * n * w1];
    // Y = H·M (then K = Y Hᵀ per point) or Y = G = H·W₁ (then K = G Gᵀ).
    let (y, right, cols) = match &first.gram {
        Some(m) => {
            let y = &mut scratch[..b * n * w1];
            compute.matmul(y, MatRef::rows(h, b * n, w1), MatRef::rows(m, w1, w1), false);
            (&*y, h, w1)
        }
        None => {
            let y = &mut scratch[..b * n * d];
            compute.matmul(
                y,
                MatRef::rows(h, b * n, w1),
                MatRef::rows(&net.weights()[0], w1, d),
                false,
            );
            (&*y, &*y, d)
        }
    };
    for p in 0..b {
        for i in 0..n {
            let yi = &y[(p * n + i) * cols..(p * n + i + 1) * cols];
            for k in 0..n {
                let rk = &right[(p * n + k) * cols..(p * n + k + 1) * cols];
                grams[(p * n + i) * n + k] = dot64(yi, rk);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_in_the_gram_matrix_stays_nan() {
        // A saturated softmax (A = 0) times an overflowed Gram entry: 0 · inf = NaN.
        let k = [f64::INFINITY, 0.0, 0.0, 1.0];
        let (j2, g2, row) = norms_from_gram(&k, &[1.0, 0.0], Some(0));
        assert!(
            j2.is_nan() && g2.is_infinite() && row.unwrap().is_nan(),
            "{j2} {g2} {row:?}"
        );
        let (j2, _, _) = norms_from_gram(&[1.0, 0.0, 0.0, 1.0], &[0.5, 0.5], None);
        assert!(j2 > 0.0);
    }
}
