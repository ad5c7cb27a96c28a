//! The MLP arithmetic: batched forward pass (`z = W a + b`, the bias when the network has
//! one), softmax cross-entropy, and backward pass to the weight and bias gradients, all through [`Compute::matmul`] plus fused elementwise loops.
//! A NaN pre-activation (overflow, `inf − inf`) is carried through φ to the logits, so
//! overflow shows in the loss and in measurements instead of being clamped away.

use super::Mlp;
use crate::compute::{Backend, BatchLoss, Compute, NetParams};
use crate::data::Dataset;
use std::borrow::BorrowMut;
use std::ops::Range;

pub use crate::compute::{apply_keeping_nan, softmax_cross_entropy};

/// Scratch buffers for up to `capacity` examples, reused across steps so the training
/// loop allocates nothing. `acts[l]` holds layer l's output for the batch: φ(z) for hidden
/// layers (the derivative is recovered from it, see `Activation::derivative_from_output`),
/// the logits for the last layer.
pub struct Workspace<B: Backend = Compute> {
    capacity: usize,
    pub(crate) acts: Vec<Box<B::Buf>>,
    grad: [Box<B::Buf>; 2],
}

impl Workspace<Compute> {
    /// CPU buffers for batches of up to `capacity` examples of `net`.
    pub fn new(net: &Mlp, capacity: usize) -> Self {
        Workspace::on(&Compute::single(), net.dims(), capacity)
    }
}

impl<B: Backend> Workspace<B> {
    /// Buffers on `backend` for batches of up to `capacity` examples of a network with
    /// layer widths `dims` (input first).
    pub fn on(backend: &B, dims: &[usize], capacity: usize) -> Self {
        let widest = dims[1..].iter().copied().max().unwrap_or(0);
        Workspace {
            capacity,
            acts: dims[1..].iter().map(|&w| backend.alloc(capacity * w)).collect(),
            grad: [backend.alloc(capacity * widest), backend.alloc(capacity * widest)],
        }
    }
    /// The largest batch this workspace holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Layer `l`'s output buffer (hidden: φ(z); last: the logits).
    pub(crate) fn output(&self, l: usize) -> &B::Buf {
        &self.acts[l]
    }
}

/// Logits `f(x)` for `n` row-major inputs `x` (`n × d`); returns the `n × classes` slice
/// of the workspace. Hidden outputs stay in the workspace for [`loss_and_gradients`].
pub fn forward<'w>(net: &Mlp, compute: &Compute, x: &[f32], n: usize, ws: &'w mut Workspace) -> &'w [f32] {
    assert_eq!(x.len(), n * net.input_dim(), "input buffer does not hold {n} examples");
    forward_on(compute, net, x, n, ws);
    &ws.acts[net.depth() - 1][..n * net.classes()]
}

/// [`forward`] on any backend: the logits stay in the workspace's last buffer.
pub fn forward_on<B: Backend, P: NetParams<B> + ?Sized>(
    backend: &B,
    net: &P,
    x: &B::Buf,
    n: usize,
    ws: &mut Workspace<B>,
) {
    assert!(
        n <= ws.capacity,
        "batch of {n} exceeds workspace capacity {}",
        ws.capacity
    );
    let (dims, depth, act) = (net.dims(), net.depth(), net.activation());
    for l in 0..depth {
        let (before, rest) = ws.acts.split_at_mut(l);
        let input: &B::Buf = if l == 0 { x } else { &before[l - 1] };
        let hidden = (l + 1 < depth).then_some(act);
        backend.layer_forward(
            &mut rest[0],
            input,
            net.weight(l),
            net.bias(l),
            n,
            (dims[l], dims[l + 1]),
            hidden,
        );
    }
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

impl BatchStats {
    fn of(loss: BatchLoss, n: usize) -> Self {
        BatchStats {
            loss_sum: loss.loss_sum,
            correct: loss.correct,
            n,
        }
    }
}

/// One training step's arithmetic: the mean cross-entropy over the batch and its
/// gradient with respect to every parameter, written into `grads` (the layout of
/// [`Mlp::zero_params`]: the weight matrices, then the biases when the network has them).
/// The gradient with respect to the input is never formed.
pub fn loss_and_gradients(
    net: &Mlp,
    compute: &Compute,
    x: &[f32],
    labels: &[u16],
    ws: &mut Workspace,
    grads: &mut [Vec<f32>],
) -> BatchStats {
    assert_eq!(
        x.len(),
        labels.len() * net.input_dim(),
        "input buffer does not hold the batch"
    );
    loss_and_gradients_on(compute, net, x, labels, ws, grads)
}

/// [`loss_and_gradients`] on any backend, with `x` already in the backend's memory.
pub fn loss_and_gradients_on<B: Backend, P: NetParams<B> + ?Sized, G: BorrowMut<B::Buf>>(
    backend: &B,
    net: &P,
    x: &B::Buf,
    labels: &[u16],
    ws: &mut Workspace<B>,
    grads: &mut [G],
) -> BatchStats {
    let n = labels.len();
    let classes = *net.dims().last().expect("a network has layers");
    forward_on(backend, net, x, n, ws);
    // dL/dlogits = (softmax − onehot) / n, into grad[0].
    let loss = backend.softmax_cross_entropy(&ws.acts[net.depth() - 1], labels, classes, &mut ws.grad[0]);
    backward(backend, net, x, n, ws, grads);
    BatchStats::of(loss, n)
}

/// Back-propagates the output gradient held in the workspace (`n × classes`, from
/// [`loss_and_gradients_on`]) to every parameter: `dW_l = G_lᵀ · a_{l−1}`,
/// `db_l = Σ_rows G_l`, `G_{l−1} = (G_l · W_l) ∘ φ'(z_{l−1})`.
fn backward<B: Backend, P: NetParams<B> + ?Sized, G: BorrowMut<B::Buf>>(
    backend: &B,
    net: &P,
    x: &B::Buf,
    n: usize,
    ws: &mut Workspace<B>,
    grads: &mut [G],
) {
    let (dims, depth, act) = (net.dims(), net.depth(), net.activation());
    let has_biases = net.bias(0).is_some();
    let (weight_grads, bias_grads) = grads.split_at_mut(depth);
    let mut cur = 0;
    for l in (0..depth).rev() {
        let io = (dims[l], dims[l + 1]);
        let [g0, g1] = &mut ws.grad;
        let (g_cur, g_next) = if cur == 0 { (&**g0, g1) } else { (&**g1, g0) };
        let input: &B::Buf = if l == 0 { x } else { &ws.acts[l - 1] };
        let db = has_biases.then(|| bias_grads[l].borrow_mut());
        backend.weight_gradient(weight_grads[l].borrow_mut(), db, g_cur, input, n, io);
        if l > 0 {
            backend.input_gradient(g_next, g_cur, net.weight(l), &ws.acts[l - 1], n, io, act);
            cur ^= 1;
        }
    }
}

/// Mean loss gradients of a batch, computed either by one pass whose operations use every
/// thread, or by splitting the batch into `shards` row blocks processed in parallel, each
/// on one worker of the backend, and combined as `Σ_i (n_i/n)·grad_i` in shard order.
/// Training uses one shard: its bits do not depend on the thread count. Splitting is ~10%
/// faster for narrow networks at 2 threads (`occam bench train --shards 2`), but the shard
/// count is part of the arithmetic: the same shard count gives the same bits, another
/// count a differently rounded sum, which training amplifies (docs/BACKEND.md).
pub struct BatchGradient<B: Backend = Compute> {
    shards: Vec<Shard<B>>,
    whole: Workspace<B>,
    input: Box<B::Buf>,
    input_dim: usize,
    param_lens: Vec<usize>,
    loaded: usize,
}

/// One shard's buffers: its part of the batch, its workspace and its gradients.
struct Shard<B: Backend> {
    input: Box<B::Buf>,
    ws: Workspace<B>,
    grads: Vec<Box<B::Buf>>,
}

impl BatchGradient<Compute> {
    /// CPU buffers for batches of up to `batch` examples of `net`, split into `shards`
    /// (at least 1, at most `batch`).
    pub fn new(net: &Mlp, batch: usize, shards: usize) -> Self {
        BatchGradient::on(&Compute::single(), net, batch, shards)
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
        let d = net.input_dim();
        assert_eq!(x.len(), labels.len() * d, "input buffer does not hold the batch");
        if self.shards.is_empty() {
            return loss_and_gradients_on(compute, net, x, labels, &mut self.whole, grads);
        }
        self.load(compute, labels.len(), &mut |rows, dst| {
            dst.copy_from_slice(&x[rows.start * d..rows.end * d])
        });
        self.compute_loaded(compute, net, labels, grads)
    }
}

impl<B: Backend> BatchGradient<B> {
    /// Buffers on `backend` for batches of up to `batch` examples of `net`, split into
    /// `shards` (at least 1, at most `batch`).
    pub fn on(backend: &B, net: &Mlp, batch: usize, shards: usize) -> Self {
        let shards = shards.clamp(1, batch.max(1));
        let per = batch.div_ceil(shards);
        let d = net.input_dim();
        let alloc_params = || net.params().iter().map(|p| backend.alloc(p.len())).collect();
        BatchGradient {
            shards: if shards > 1 {
                (0..shards)
                    .map(|_| Shard {
                        input: backend.alloc(per * d),
                        ws: Workspace::on(backend, net.dims(), per),
                        grads: alloc_params(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            whole: Workspace::on(backend, net.dims(), if shards > 1 { 0 } else { batch }),
            input: backend.alloc(if shards > 1 { 0 } else { batch * d }),
            input_dim: d,
            param_lens: net.params().iter().map(Vec::len).collect(),
            loaded: 0,
        }
    }

    /// The row ranges of the shards for a batch of `n` examples (one range when unsplit).
    fn shard_rows(&self, n: usize) -> Vec<Range<usize>> {
        if self.shards.is_empty() {
            return std::iter::once(0..n).collect();
        }
        let per = n.div_ceil(self.shards.len());
        (0..self.shards.len())
            .map(|i| (i * per).min(n)..((i + 1) * per).min(n))
            .collect()
    }

    /// Writes a batch of `n` examples into the backend: `fill(rows, dst)` writes the
    /// inputs of batch rows `rows` into `dst` (`rows.len() × d`), once per shard.
    pub fn load(&mut self, backend: &B, n: usize, fill: &mut dyn FnMut(Range<usize>, &mut [f32])) {
        let d = self.input_dim;
        let ranges = self.shard_rows(n);
        if self.shards.is_empty() {
            backend.stage(&mut self.input, n * d, &mut |dst| fill(0..n, dst));
        } else {
            for (shard, rows) in self.shards.iter_mut().zip(ranges) {
                let len = rows.len() * d;
                backend.stage(&mut shard.input, len, &mut |dst| fill(rows.clone(), dst));
            }
        }
        self.loaded = n;
    }

    /// The loss and gradients of the batch written by [`Self::load`] (`labels` its labels).
    pub fn compute_loaded<P: NetParams<B> + Sync + ?Sized, G: BorrowMut<B::Buf>>(
        &mut self,
        backend: &B,
        net: &P,
        labels: &[u16],
        grads: &mut [G],
    ) -> BatchStats {
        let n = labels.len();
        assert_eq!(n, self.loaded, "labels for a batch of another size than was loaded");
        if self.shards.is_empty() {
            return loss_and_gradients_on(backend, net, &self.input, labels, &mut self.whole, grads);
        }
        let ranges = self.shard_rows(n);
        let stats: Vec<BatchStats> = {
            use rayon::prelude::*;
            self.shards
                .par_iter_mut()
                .zip(ranges)
                .map(|(shard, rows)| {
                    if rows.is_empty() {
                        return BatchStats::default();
                    }
                    let worker = backend.worker();
                    let labels = &labels[rows];
                    loss_and_gradients_on(&worker, net, &shard.input, labels, &mut shard.ws, &mut shard.grads)
                })
                .collect()
        };
        for (l, out) in grads.iter_mut().enumerate() {
            let len = self.param_lens[l];
            backend.fill(out.borrow_mut(), len, 0.0);
            for (shard, st) in self.shards.iter().zip(&stats) {
                if st.n > 0 {
                    backend.scale_add(out.borrow_mut(), &shard.grads[l], len, st.n as f32 / n as f32);
                }
            }
        }
        stats.iter().fold(BatchStats::default(), |a, b| BatchStats {
            loss_sum: a.loss_sum + b.loss_sum,
            correct: a.correct + b.correct,
            n: a.n + b.n,
        })
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
    evaluate_on(compute, net, data)
}

/// [`evaluate`] on any backend: each chunk's inputs go to the backend and its logits
/// come back to the host for the loss.
pub fn evaluate_on<B: Backend, P: NetParams<B> + ?Sized>(backend: &B, net: &P, data: &Dataset) -> Evaluation {
    const CHUNK: usize = 1000;
    let d = data.dim();
    let classes = *net.dims().last().expect("a network has layers");
    let capacity = CHUNK.min(data.len().max(1));
    let mut ws = Workspace::on(backend, net.dims(), capacity);
    let mut input = backend.alloc(capacity * d);
    let mut logits = vec![0.0f32; capacity * classes];
    let mut probs = vec![0.0f32; classes];
    let (mut loss_sum, mut correct, mut first_non_finite) = (0.0f64, 0usize, None);
    for start in (0..data.len()).step_by(CHUNK) {
        let n = CHUNK.min(data.len() - start);
        let rows = &data.inputs[start * d..(start + n) * d];
        backend.stage(&mut input, n * d, &mut |dst| dst.copy_from_slice(rows));
        forward_on(backend, net, &input, n, &mut ws);
        backend.read(ws.output(net.depth() - 1), &mut logits[..n * classes]);
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
