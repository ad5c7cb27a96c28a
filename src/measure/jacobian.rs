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

use crate::compute::{Backend, Compute, NetParams, Operand};
use crate::net::Mlp;
use crate::net::engine::{Workspace, forward_on, softmax_cross_entropy};

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

/// Floats of scratch per chunk (two cotangent buffers); bounds memory per worker.
const SCRATCH_FLOATS: usize = 1 << 22;
const MAX_CHUNK: usize = 256;
/// Chunks are at most 1/CHUNKS_PER_CALL of the points (but at least MIN_CHUNK points), so
/// that many workers have chunks to share.
const CHUNKS_PER_CALL: usize = 64;
const MIN_CHUNK: usize = 16;

/// Computes [`PointJacobian`] for each of the `x.len() / d` row-major inputs. Overflow
/// shows as NaN or infinite values (see [`super::finite::check_jacobians`]), never as 0.
///
/// The points are split into chunks whose size depends on the network and the number of
/// points only; each chunk is one batch of GEMMs on one worker (one thread on the CPU), so
/// the result is the same bits at every thread count.
pub fn jacobian_norms(net: &Mlp, compute: &Compute, x: &[f32], labels: Option<&[u16]>) -> Vec<PointJacobian> {
    jacobian_norms_on(compute, net, x, labels)
}

/// [`jacobian_norms`] on any backend, for a network in its memory.
pub fn jacobian_norms_on<B: Backend, P: NetParams<B> + Sync + ?Sized>(
    backend: &B,
    net: &P,
    x: &[f32],
    labels: Option<&[u16]>,
) -> Vec<PointJacobian> {
    JacobianPlan::new(backend, net).norms(backend, x, labels)
}

/// A network prepared for Jacobian norms: what depends on the network alone (the first
/// layer's Gram matrix `W₁W₁ᵀ`, when it is used) is computed once, for any number of
/// calls — e.g. one per trajectory of a profile.
pub struct JacobianPlan<'n, B: Backend, P: ?Sized> {
    net: &'n P,
    first: FirstLayer<B>,
}

impl<'n, B: Backend, P: NetParams<B> + Sync + ?Sized> JacobianPlan<'n, B, P> {
    /// Prepares `net` on `backend`.
    pub fn new(backend: &B, net: &'n P) -> Self {
        JacobianPlan {
            net,
            first: FirstLayer::new(backend, net),
        }
    }

    /// [`jacobian_norms`] of the `x.len() / d` row-major inputs, on `backend` (the one the
    /// plan was made on, or one sharing its memory).
    pub fn norms(&self, backend: &B, x: &[f32], labels: Option<&[u16]>) -> Vec<PointJacobian> {
        chunked_norms(backend, self.net, &self.first, x, labels)
    }
}

fn chunked_norms<B: Backend, P: NetParams<B> + Sync + ?Sized>(
    backend: &B,
    net: &P,
    first: &FirstLayer<B>,
    x: &[f32],
    labels: Option<&[u16]>,
) -> Vec<PointJacobian> {
    let dims = net.dims();
    let d = dims[0];
    let n_points = x.len() / d;
    assert_eq!(x.len(), n_points * d);
    if let Some(l) = labels {
        assert_eq!(l.len(), n_points);
    }
    if n_points == 0 {
        return Vec::new();
    }
    let shape = ChunkShape::of(dims, n_points);
    let chunks: Vec<usize> = (0..n_points).step_by(shape.chunk).collect();
    let workers = backend.workers().min(chunks.len()).max(1);
    let run_worker = |worker: &B, w: usize| -> Vec<(usize, Vec<PointJacobian>)> {
        let mut scratch = ChunkScratch::new(worker, dims, &shape);
        chunks
            .iter()
            .skip(w)
            .step_by(workers)
            .map(|&start| {
                let b = shape.chunk.min(n_points - start);
                let labels = labels.map(|l| &l[start..start + b]);
                let out = chunk_norms(worker, net, &x[start * d..(start + b) * d], labels, first, &mut scratch);
                (start, out)
            })
            .collect()
    };
    let mut parts: Vec<(usize, Vec<PointJacobian>)> = if workers > 1 {
        use rayon::prelude::*;
        (0..workers)
            .into_par_iter()
            .flat_map_iter(|w| run_worker(&backend.worker(), w))
            .collect()
    } else {
        run_worker(backend, 0)
    };
    parts.sort_by_key(|(start, _)| *start);
    parts.into_iter().flat_map(|(_, p)| p).collect()
}

/// The chunk size and scratch sizes of one call.
struct ChunkShape {
    chunk: usize,
    classes: usize,
    /// Columns of the widest cotangent buffer.
    widest: usize,
}

impl ChunkShape {
    fn of(dims: &[usize], n_points: usize) -> Self {
        let (d, classes) = (dims[0], *dims.last().expect("layers"));
        let depth = dims.len() - 1;
        let widest = dims[1..depth].iter().copied().max().unwrap_or(1).max(d.min(dims[1]));
        let chunk = (SCRATCH_FLOATS / (2 * classes * widest))
            .clamp(1, MAX_CHUNK)
            .min(n_points.div_ceil(CHUNKS_PER_CALL).max(MIN_CHUNK))
            .min(n_points);
        ChunkShape {
            chunk,
            classes,
            widest: widest.max(d),
        }
    }
}

/// One worker's buffers: the chunk's inputs, the forward workspace, two cotangent buffers.
struct ChunkScratch<B: Backend> {
    input: Box<B::Buf>,
    ws: Workspace<B>,
    bufs: [Box<B::Buf>; 2],
    logits: Vec<f32>,
}

impl<B: Backend> ChunkScratch<B> {
    fn new(backend: &B, dims: &[usize], shape: &ChunkShape) -> Self {
        let cot = shape.chunk * shape.classes * shape.widest;
        ChunkScratch {
            input: backend.alloc(shape.chunk * dims[0]),
            ws: Workspace::on(backend, dims, shape.chunk),
            bufs: [backend.alloc(cot), backend.alloc(cot)],
            logits: vec![0.0; shape.chunk * shape.classes],
        }
    }
}

/// The Jacobian quantities of one chunk of `x.len() / d` points.
fn chunk_norms<B: Backend, P: NetParams<B> + ?Sized>(
    backend: &B,
    net: &P,
    x: &[f32],
    labels: Option<&[u16]>,
    first: &FirstLayer<B>,
    scratch: &mut ChunkScratch<B>,
) -> Vec<PointJacobian> {
    let (dims, depth) = (net.dims(), net.depth());
    let n = dims[depth];
    let b = x.len() / dims[0];
    backend.stage(&mut scratch.input, x.len(), &mut |dst| dst.copy_from_slice(x));
    forward_on(backend, net, &scratch.input, b, &mut scratch.ws);
    let logits = &mut scratch.logits[..b * n];
    backend.read(scratch.ws.output(depth - 1), logits);
    let grams = class_grams(backend, net, &scratch.ws, b, first, &mut scratch.bufs);
    let mut probs = vec![0.0f32; n];
    (0..b)
        .map(|p| {
            let label = labels.map(|l| l[p] as usize);
            let row = &logits[p * n..(p + 1) * n];
            let (loss, predicted) = softmax_cross_entropy(row, label.unwrap_or(0), &mut probs);
            let sigma: Vec<f64> = softmax64(row);
            let (j2, g2, row2) = norms_from_gram(&grams[p * n * n..(p + 1) * n * n], &sigma, label);
            PointJacobian {
                jacobian_norm: j2.sqrt(),
                logit_jacobian_norm: g2.sqrt(),
                target_row_norm: row2.map_or(f64::NAN, f64::sqrt),
                loss: if label.is_some() { loss } else { f64::NAN },
                predicted,
            }
        })
        .collect()
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
struct FirstLayer<B: Backend> {
    gram: Option<Box<B::Buf>>,
}

impl<B: Backend> FirstLayer<B> {
    fn new<P: NetParams<B> + ?Sized>(backend: &B, net: &P) -> Self {
        let (w1, d) = (net.dims()[1], net.dims()[0]);
        let use_gram = net.depth() == 1 || d > w1;
        let gram = use_gram.then(|| {
            let w = Operand::new(net.weight(0), w1, d);
            let mut m = backend.alloc(w1 * w1);
            backend.gemm(&mut m, w, w.t(), false);
            m
        });
        FirstLayer { gram }
    }
}

/// The per-point class Gram matrices `K_b = G_b G_bᵀ` (b × n × n, f64) for the chunk
/// whose forward pass is in `ws`.
fn class_grams<B: Backend, P: NetParams<B> + ?Sized>(
    backend: &B,
    net: &P,
    ws: &Workspace<B>,
    b: usize,
    first: &FirstLayer<B>,
    bufs: &mut [Box<B::Buf>; 2],
) -> Vec<f64> {
    let dims = net.dims();
    let depth = net.depth();
    let n = dims[depth];
    let act = net.activation();
    if depth == 1 {
        // G = W₁ for every point: K = W₁W₁ᵀ.
        let m = first.gram.as_ref().expect("depth 1 uses the Gram matrix");
        let mut k = vec![0.0f32; n * n];
        backend.read(m, &mut k);
        return (0..b).flat_map(|_| k.iter().map(|&v| v as f64)).collect();
    }
    // H starts as W_L with columns scaled by φ'(a_{L−1}) of each point.
    let w_last = dims[depth - 1];
    backend.cotangent_start(
        &mut bufs[0],
        net.weight(depth - 1),
        ws.output(depth - 2),
        b,
        n,
        w_last,
        act,
    );
    let mut cur = 0;
    for j in (1..depth - 1).rev() {
        let [b0, b1] = bufs;
        let (src, dst) = if cur == 0 { (&**b0, b1) } else { (&**b1, b0) };
        backend.cotangent_backward(
            dst,
            src,
            net.weight(j),
            ws.output(j - 1),
            b,
            n,
            (dims[j], dims[j + 1]),
            act,
        );
        cur ^= 1;
    }
    let (w1, d) = (dims[1], dims[0]);
    let [b0, b1] = bufs;
    let (h, scratch) = if cur == 0 { (&**b0, b1) } else { (&**b1, b0) };
    let hv = Operand::new(h, b * n, w1);
    // Y = H·M (then K = Y Hᵀ per point) or Y = G = H·W₁ (then K = G Gᵀ).
    match &first.gram {
        Some(m) => {
            backend.gemm(scratch, hv, Operand::new(&**m, w1, w1), false);
            backend.point_grams(scratch, h, b, n, w1)
        }
        None => {
            backend.gemm(scratch, hv, Operand::new(net.weight(0), w1, d), false);
            backend.point_grams(&**scratch, &**scratch, b, n, d)
        }
    }
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
