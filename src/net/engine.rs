//! The MLP arithmetic: batched forward pass (`z = W a + b`, the bias when the network has
//! one), softmax cross-entropy, and backward pass to the weight and bias gradients, all through [`Compute::matmul`] plus fused elementwise loops.
//! A NaN pre-activation (overflow, `inf − inf`) is carried through φ to the logits, so
//! overflow shows in the loss and in measurements instead of being clamped away.

use super::Mlp;
use crate::compute::{Compute, MatRef};
use crate::data::Dataset;

/// Scratch buffers for up to `capacity` examples, reused across steps so the training
/// loop allocates nothing. `acts[l]` holds layer l's output for the batch: φ(z) for hidden
/// layers (the derivative is recovered from it, see `Activation::derivative_from_output`),
/// the logits for the last layer.
#[derive(Debug, Clone)]
pub struct Workspace {
    capacity: usize,
    pub(crate) acts: Vec<Vec<f32>>,
    grad: [Vec<f32>; 2],
}

impl Workspace {
    /// Buffers for batches of up to `capacity` examples of `net`.
    pub fn new(net: &Mlp, capacity: usize) -> Self {
        let widest = net.dims[1..].iter().copied().max().unwrap_or(0);
        Workspace {
            capacity,
            acts: net.dims[1..].iter().map(|&w| vec![0.0; capacity * w]).collect(),
            grad: [vec![0.0; capacity * widest], vec![0.0; capacity * widest]],
        }
    }
    /// The largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Logits `f(x)` for `n` row-major inputs `x` (`n × d`); returns the `n × classes` slice
/// of the workspace. Hidden outputs stay in the workspace for [`backward`].
pub fn forward<'w>(net: &Mlp, compute: &Compute, x: &[f32], n: usize, ws: &'w mut Workspace) -> &'w [f32] {
    assert!(
        n <= ws.capacity,
        "batch of {n} exceeds workspace capacity {}",
        ws.capacity
    );
    assert_eq!(x.len(), n * net.input_dim(), "input buffer does not hold {n} examples");
    let depth = net.depth();
    for l in 0..depth {
        let (before, rest) = ws.acts.split_at_mut(l);
        let input = if l == 0 { x } else { &before[l - 1][..n * net.dims[l]] };
        let out = &mut rest[0][..n * net.dims[l + 1]];
        let w = MatRef::rows(&net.weights()[l], net.dims[l + 1], net.dims[l]);
        compute.matmul(out, MatRef::rows(input, n, net.dims[l]), w.t(), false);
        if let Some(bias) = net.bias(l) {
            for row in out.chunks_exact_mut(bias.len()) {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        if l + 1 < depth {
            let act = net.activation;
            out.iter_mut().for_each(|v| *v = apply_keeping_nan(act, *v));
        }
    }
    &ws.acts[depth - 1][..n * net.classes()]
}

/// φ(z), except that NaN stays NaN (φ's clamps, e.g. `relu(NaN) = 0`, would hide it).
/// ±inf goes through φ: it is the rounded limit of a large finite value.
#[inline(always)]
pub fn apply_keeping_nan(act: crate::net::Activation, z: f32) -> f32 {
    if z.is_nan() { z } else { act.apply(z) }
}

/// Mean softmax cross-entropy over a batch, and its statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchStats {
    /// Sum over the batch of per-example cross-entropy.
    pub loss_sum: f64,
    /// Examples whose arg-max logit is the label.
    pub correct: usize,
    /// Examples in the batch.
    pub n: usize,
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

/// One training step's arithmetic: the mean cross-entropy over the batch and its
/// gradient with respect to every parameter, written into `grads` (the layout of
/// [`Mlp::zero_params`]: the weight matrices, then the biases when the network has them). The gradient with respect to the input is never formed.
pub fn loss_and_gradients(
    net: &Mlp,
    compute: &Compute,
    x: &[f32],
    labels: &[u16],
    ws: &mut Workspace,
    grads: &mut [Vec<f32>],
) -> BatchStats {
    let n = labels.len();
    let classes = net.classes();
    forward(net, compute, x, n, ws);
    // dL/dlogits = (softmax − onehot) / n, into grad[0].
    let mut stats = BatchStats {
        n,
        ..Default::default()
    };
    let logits = &ws.acts[net.depth() - 1];
    let g = &mut ws.grad[0];
    for i in 0..n {
        let row = &mut g[i * classes..(i + 1) * classes];
        let (loss, predicted) = softmax_cross_entropy(&logits[i * classes..(i + 1) * classes], labels[i] as usize, row);
        stats.loss_sum += loss;
        stats.correct += (predicted == labels[i] as usize) as usize;
        row[labels[i] as usize] -= 1.0;
        row.iter_mut().for_each(|v| *v /= n as f32);
    }
    backward(net, compute, x, n, ws, grads);
    stats
}

/// Mean loss gradients of a batch, computed either by one pass whose products use every
/// thread, or by splitting the batch into `shards` row blocks processed in parallel on one
/// thread each and combined as `Σ_i (n_i/n)·grad_i` in shard order. Splitting wins for
/// small widths, where one product is too small to share (see `docs/PERFORMANCE.md`).
/// The shard count is part of the arithmetic: the same shard count gives the same bits.
pub struct BatchGradient {
    shards: Vec<(Workspace, Vec<Vec<f32>>)>,
    whole: Workspace,
}

impl BatchGradient {
    /// Buffers for batches of up to `batch` examples of `net`, split into `shards` (at least 1, at most `batch`).
    pub fn new(net: &Mlp, batch: usize, shards: usize) -> Self {
        let shards = shards.clamp(1, batch.max(1));
        let per = batch.div_ceil(shards);
        BatchGradient {
            shards: if shards > 1 {
                (0..shards)
                    .map(|_| (Workspace::new(net, per), net.zero_params()))
                    .collect()
            } else {
                Vec::new()
            },
            whole: Workspace::new(net, if shards > 1 { 0 } else { batch }),
        }
    }

    /// The shard count a network and batch should use on `threads` threads: one shard per
    /// thread when a layer's product is too small to split well inside the GEMM.
    pub fn auto_shards(net: &Mlp, batch: usize, threads: usize) -> usize {
        let widest_hidden = net.hidden_dims().iter().copied().max().unwrap_or(net.classes());
        if threads > 1 && widest_hidden < 256 && batch >= 32 * threads {
            threads
        } else {
            1
        }
    }

    /// Like [`loss_and_gradients`], for a batch of `labels.len()` examples.
    pub fn compute(
        &mut self,
        net: &Mlp,
        compute: &Compute,
        x: &[f32],
        labels: &[u16],
        grads: &mut [Vec<f32>],
    ) -> BatchStats {
        if self.shards.is_empty() {
            return loss_and_gradients(net, compute, x, labels, &mut self.whole, grads);
        }
        let n = labels.len();
        let d = net.input_dim();
        let per = n.div_ceil(self.shards.len());
        let single = Compute::single();
        let stats: Vec<BatchStats> = {
            use rayon::prelude::*;
            self.shards
                .par_iter_mut()
                .enumerate()
                .map(|(i, (ws, g))| {
                    let (lo, hi) = ((i * per).min(n), ((i + 1) * per).min(n));
                    if lo == hi {
                        g.iter_mut().for_each(|v| v.fill(0.0));
                        return BatchStats::default();
                    }
                    loss_and_gradients(net, &single, &x[lo * d..hi * d], &labels[lo..hi], ws, g)
                })
                .collect()
        };
        for (l, out) in grads.iter_mut().enumerate() {
            out.fill(0.0);
            for ((_, g), st) in self.shards.iter().zip(&stats) {
                let weight = st.n as f32 / n as f32;
                out.iter_mut().zip(&g[l]).for_each(|(o, v)| *o += weight * v);
            }
        }
        stats.iter().fold(BatchStats::default(), |a, b| BatchStats {
            loss_sum: a.loss_sum + b.loss_sum,
            correct: a.correct + b.correct,
            n: a.n + b.n,
        })
    }
}

/// Back-propagates the output gradient held in the workspace (`n × classes`, from
/// [`loss_and_gradients`]) to every parameter: `dW_l = G_lᵀ · a_{l−1}`, `db_l = Σ_rows G_l`,
/// `G_{l−1} = (G_l · W_l) ∘ φ'(z_{l−1})`.
fn backward(net: &Mlp, compute: &Compute, x: &[f32], n: usize, ws: &mut Workspace, grads: &mut [Vec<f32>]) {
    let act = net.activation;
    let mut cur = 0;
    for l in (0..net.depth()).rev() {
        let (out_dim, in_dim) = (net.dims[l + 1], net.dims[l]);
        let [g0, g1] = &mut ws.grad;
        let (g_cur, g_next) = if cur == 0 { (&*g0, g1) } else { (&*g1, g0) };
        let g_view = MatRef::rows(&g_cur[..n * out_dim], n, out_dim);
        let input = if l == 0 { x } else { &ws.acts[l - 1][..n * in_dim] };
        compute.matmul(&mut grads[l], g_view.t(), MatRef::rows(input, n, in_dim), false);
        if net.has_biases() {
            let db = &mut grads[net.depth() + l];
            db.fill(0.0);
            for row in g_cur[..n * out_dim].chunks_exact(out_dim) {
                db.iter_mut().zip(row).for_each(|(d, g)| *d += g);
            }
        }
        if l > 0 {
            let next = &mut g_next[..n * in_dim];
            compute.matmul(next, g_view, MatRef::rows(&net.weights()[l], out_dim, in_dim), false);
            for (g, &a) in next.iter_mut().zip(&ws.acts[l - 1][..n * in_dim]) {
                *g *= act.derivative_from_output(a);
            }
            cur ^= 1;
        }
    }
}

/// Accuracy and mean loss over a whole dataset.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// NaN for an empty dataset (never 0.0).
    pub accuracy: f64,
    /// NaN for an empty dataset; NaN or infinite when any example's loss is.
    pub loss: f64,
    /// Examples whose arg-max logit is the label.
    pub correct: usize,
    /// Examples evaluated.
    pub n: usize,
    /// The first example whose loss is NaN or infinite, if any, and that loss.
    #[serde(skip)]
    pub first_non_finite: Option<(usize, f64)>,
}

/// Evaluates `net` on every example of `data`, in chunks that fit a modest workspace.
pub fn evaluate(net: &Mlp, compute: &Compute, data: &Dataset) -> Evaluation {
    const CHUNK: usize = 1000;
    let d = data.dim();
    let classes = net.classes();
    let mut ws = Workspace::new(net, CHUNK.min(data.len().max(1)));
    let mut probs = vec![0.0f32; classes];
    let (mut loss_sum, mut correct, mut first_non_finite) = (0.0f64, 0usize, None);
    for start in (0..data.len()).step_by(CHUNK) {
        let n = CHUNK.min(data.len() - start);
        let logits = forward(net, compute, &data.inputs[start * d..(start + n) * d], n, &mut ws);
        for i in 0..n {
            let label = data.labels[start + i] as usize;
            let (loss, predicted) = softmax_cross_entropy(&logits[i * classes..(i + 1) * classes], label, &mut probs);
            if !loss.is_finite() && first_non_finite.is_none() {
                first_non_finite = Some((start + i, loss));
            }
            loss_sum += loss;
            correct += (predicted == label) as usize;
        }
    }
    let n = if data.is_empty() { f64::NAN } else { data.len() as f64 };
    Evaluation {
        accuracy: correct as f64 / n,
        loss: loss_sum / n,
        correct,
        n: data.len(),
        first_non_finite,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;

    #[test]
    fn a_nan_pre_activation_reaches_the_logits_and_the_loss() {
        let mut net = Mlp::random([1, 2, 1], 3, 2, 2, Activation::Relu, 1.0, 1);
        net.params_mut()[0][0] = f32::NAN;
        let x = [1.0f32, 1.0];
        let mut ws = Workspace::new(&net, 1);
        let logits = forward(&net, &Compute::single(), &x, 1, &mut ws).to_vec();
        assert!(
            logits.iter().any(|v| v.is_nan()),
            "relu(NaN) must not become 0: {logits:?}"
        );
    }

    #[test]
    fn an_empty_dataset_evaluates_to_nan_not_zero() {
        let net = Mlp::random([1, 2, 1], 3, 2, 2, Activation::Relu, 1.0, 1);
        let empty = Dataset {
            inputs: vec![],
            labels: vec![],
            shape: [1, 2, 1],
            classes: 2,
        };
        let e = evaluate(&net, &Compute::single(), &empty);
        assert!(e.accuracy.is_nan() && e.loss.is_nan() && e.n == 0, "{e:?}");
    }
}
