//! The [`Backend`] trait: the operations training and measurement need, on buffers the
//! backend owns. Matrices are dense row-major `f32`; every operation names its shapes, and
//! a buffer may be longer than the matrix it holds (the matrix is its prefix).

use crate::net::Activation;

/// A GEMM operand: the first `rows × cols` matrix of a buffer, or (when `transposed`) the
/// transpose of the `cols × rows` matrix stored there.
pub struct Operand<'a, B: Backend> {
    /// The buffer holding the matrix.
    pub buf: &'a B::Buf,
    /// Rows of the operand as used in the product.
    pub rows: usize,
    /// Columns of the operand as used in the product.
    pub cols: usize,
    /// Whether the operand is the transpose of what is stored.
    pub transposed: bool,
}

impl<'a, B: Backend> Operand<'a, B> {
    /// The row-major `rows × cols` matrix at the start of `buf`.
    pub fn new(buf: &'a B::Buf, rows: usize, cols: usize) -> Self {
        Operand {
            buf,
            rows,
            cols,
            transposed: false,
        }
    }
    /// The transpose, without copying.
    pub fn t(self) -> Self {
        Operand {
            buf: self.buf,
            rows: self.cols,
            cols: self.rows,
            transposed: !self.transposed,
        }
    }
}

impl<B: Backend> Clone for Operand<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: Backend> Copy for Operand<'_, B> {}

/// One optimizer update, applied elementwise to a parameter buffer, its gradient and the
/// optimizer's state buffers (TF-1 semantics; see `train::optim`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UpdateRule {
    /// `w ← w − lr·g`. No state.
    Sgd {
        /// Learning rate.
        lr: f32,
    },
    /// `m ← μ·m + g; w ← w − lr·m`. State: `[m]`.
    Momentum {
        /// Learning rate.
        lr: f32,
        /// μ.
        momentum: f32,
    },
    /// `m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; w ← w − lr_t·m/(√v + ε)`, with the
    /// bias correction folded into `lr_t`. State: `[m, v]`.
    Adam {
        /// The bias-corrected step size of this step.
        lr_t: f32,
        /// β1.
        beta1: f32,
        /// β2.
        beta2: f32,
        /// ε.
        epsilon: f32,
    },
    /// `ms ← ρ·ms + (1−ρ)·g²; w ← w − lr·g/√(ms + ε)`. State: `[ms]`.
    RmsProp {
        /// Learning rate.
        lr: f32,
        /// ρ.
        decay: f32,
        /// ε.
        epsilon: f32,
    },
}

impl UpdateRule {
    /// How many state buffers (each shaped like the parameter) the rule reads and writes.
    pub fn state_buffers(&self) -> usize {
        match self {
            UpdateRule::Sgd { .. } => 0,
            UpdateRule::Momentum { .. } | UpdateRule::RmsProp { .. } => 1,
            UpdateRule::Adam { .. } => 2,
        }
    }
}

/// The loss of a batch as the backend reports it to the host.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatchLoss {
    /// Sum over the batch of per-example cross-entropy (f64; NaN or infinite on overflow).
    pub loss_sum: f64,
    /// Examples whose arg-max logit (lowest index on ties) is the label.
    pub correct: usize,
}

/// A compute device. Buffers belong to the backend that made them (and to its
/// [`Backend::worker`]s, which share its memory). Operations never allocate host memory
/// per call except where they return results to the host (losses, Gram matrices, codes).
///
/// Results are deterministic for a given backend and thread count; what may change with
/// the thread count is documented by each implementation (`docs/BACKEND.md`).
pub trait Backend: Send + Sync + Sized {
    /// A buffer of `f32` in the backend's memory, owned as `Box<Buf>` (the CPU's is `[f32]`,
    /// so host slices are CPU buffers as they are, without copies).
    type Buf: ?Sized + Send + Sync;

    /// A short description for logs and benchmark output (e.g. "cpu, 2 threads").
    fn describe(&self) -> String;
    /// How many independent work items (batch shards, chunks of points) the caller should
    /// give the backend at once, each on its own [`Backend::worker`]: the CPU's thread
    /// count; 1 for a device that is filled by one item.
    fn workers(&self) -> usize;
    /// The backend that runs one of those work items; it shares this backend's memory.
    fn worker(&self) -> Self;
    /// The CPU backend for the host-side algorithms with data-dependent control flow
    /// (L-BFGS, the exact transition walk), with the threads this backend may use there.
    fn host(&self) -> super::Compute;

    /// A buffer of `len` zeros.
    fn alloc(&self, len: usize) -> Box<Self::Buf>;
    /// A buffer holding a copy of `host`.
    fn upload(&self, host: &[f32]) -> Box<Self::Buf>;
    /// Fills the first `len` elements of `dst` by calling `fill` on host memory of that
    /// length (the buffer itself on the CPU, a staging copy that is then uploaded on a
    /// device): how the training loop writes a batch without an extra copy on the CPU.
    fn stage(&self, dst: &mut Self::Buf, len: usize, fill: &mut dyn FnMut(&mut [f32]));
    /// Copies `host` into the first `host.len()` elements of `dst`.
    fn write(&self, dst: &mut Self::Buf, host: &[f32]);
    /// Copies the first `host.len()` elements of `src` into `host`.
    fn read(&self, src: &Self::Buf, host: &mut [f32]);
    /// Sets the first `len` elements of `dst` to `value`.
    fn fill(&self, dst: &mut Self::Buf, len: usize, value: f32);
    /// `dst[..len] += weight · src[..len]`.
    fn scale_add(&self, dst: &mut Self::Buf, src: &Self::Buf, len: usize, weight: f32);

    /// `dst = a · b`, or `dst += a · b` when `accumulate`; `dst` is `a.rows × b.cols`.
    fn gemm(&self, dst: &mut Self::Buf, a: Operand<'_, Self>, b: Operand<'_, Self>, accumulate: bool);

    /// One layer's forward pass for `n` rows: `out = φ(input · Wᵀ + bias)` with `W`
    /// `outputs × inputs` and `dims = (inputs, outputs)`, `φ` skipped when `activation` is `None` (the logits). A NaN
    /// pre-activation stays NaN (φ's clamps would hide it).
    #[allow(clippy::too_many_arguments)]
    fn layer_forward(
        &self,
        out: &mut Self::Buf,
        input: &Self::Buf,
        weight: &Self::Buf,
        bias: Option<&Self::Buf>,
        n: usize,
        dims: (usize, usize),
        activation: Option<Activation>,
    );

    /// Softmax cross-entropy of `n` logit rows against `labels`: writes
    /// `(softmax − onehot)/n` into `grad` (`n × classes`) and returns the loss and the
    /// number of correct predictions.
    fn softmax_cross_entropy(
        &self,
        logits: &Self::Buf,
        labels: &[u16],
        classes: usize,
        grad: &mut Self::Buf,
    ) -> BatchLoss;

    /// A layer's parameter gradients from its output gradient `g` (`n × outputs`) and its
    /// input (`n × inputs`): `dW = gᵀ · input`, and `db = Σ_rows g` when `db` is given.
    fn weight_gradient(
        &self,
        dw: &mut Self::Buf,
        db: Option<&mut Self::Buf>,
        g: &Self::Buf,
        input: &Self::Buf,
        n: usize,
        dims: (usize, usize),
    );

    /// The gradient with respect to a hidden layer's output, masked by φ':
    /// `dst = (g · W) ∘ φ'(a)` with `g` `n × outputs`, `W` `outputs × inputs` and `a` the
    /// layer's input activations (`n × inputs`, the output of φ).
    #[allow(clippy::too_many_arguments)]
    fn input_gradient(
        &self,
        dst: &mut Self::Buf,
        g: &Self::Buf,
        weight: &Self::Buf,
        acts: &Self::Buf,
        n: usize,
        dims: (usize, usize),
        activation: Activation,
    );

    /// One optimizer update of `len` parameters from their gradient; `state` holds
    /// [`UpdateRule::state_buffers`] buffers.
    fn update(
        &self,
        rule: UpdateRule,
        param: &mut Self::Buf,
        grad: &Self::Buf,
        state: &mut [Box<Self::Buf>],
        len: usize,
    );

    /// The Jacobian's starting cotangents for `points` points and `classes` classes: row
    /// `(p, i)` of `h` is row `i` of `W_last` (`classes × width`) times `φ'(a_p)`, with `a`
    /// the last hidden layer's activations (`points × width`).
    #[allow(clippy::too_many_arguments)]
    fn cotangent_start(
        &self,
        h: &mut Self::Buf,
        w_last: &Self::Buf,
        acts: &Self::Buf,
        points: usize,
        classes: usize,
        width: usize,
        activation: Activation,
    );

    /// One step of the Jacobian's cotangents down a hidden layer:
    /// `dst = (src · W) ∘ φ'(a_p)` per point, with `src` `(points·classes) × outputs`,
    /// `W` `outputs × inputs` and `a` `points × inputs` (each point's row masks its
    /// `classes` rows).
    #[allow(clippy::too_many_arguments)]
    fn cotangent_backward(
        &self,
        dst: &mut Self::Buf,
        src: &Self::Buf,
        weight: &Self::Buf,
        acts: &Self::Buf,
        points: usize,
        classes: usize,
        dims: (usize, usize),
        activation: Activation,
    );

    /// The per-point Gram matrices `K_p = Y_p R_pᵀ` (`classes × classes`, f64, returned to
    /// the host in point order) of `Y` and `R`, both `(points·classes) × cols`.
    fn point_grams(&self, y: &Self::Buf, right: &Self::Buf, points: usize, classes: usize, cols: usize) -> Vec<f64>;

    /// The region codes of `n × width` pre-activations `z` (the number of φ's breakpoints
    /// strictly below each value, row-major, returned to the host), with φ then applied to
    /// `z` in place (NaN kept). Returns the first non-finite pre-activation's index instead
    /// when there is one.
    fn region_codes(&self, z: &mut Self::Buf, len: usize, activation: Activation) -> Result<Vec<u8>, (usize, f32)>;
}

/// A network's parameters in a backend's memory: the weights, then the biases when the
/// network has them (the layout of [`crate::net::Mlp::params`]).
pub struct DeviceNet<B: Backend> {
    params: Vec<Box<B::Buf>>,
    dims: Vec<usize>,
    activation: Activation,
    has_biases: bool,
}

impl<B: Backend> DeviceNet<B> {
    /// Uploads `net`'s parameters.
    pub fn upload(backend: &B, net: &crate::net::Mlp) -> Self {
        DeviceNet {
            params: net.params().iter().map(|p| backend.upload(p)).collect(),
            dims: net.dims().to_vec(),
            activation: net.activation(),
            has_biases: net.has_biases(),
        }
    }
    /// Copies the parameters back into `net` (which must have this shape).
    pub fn read_into(&self, backend: &B, net: &mut crate::net::Mlp) {
        for (host, buf) in net.params_mut().iter_mut().zip(&self.params) {
            backend.read(&**buf, host);
        }
    }
    /// Every parameter buffer, weights then biases.
    pub fn params_mut(&mut self) -> &mut [Box<B::Buf>] {
        &mut self.params
    }
}

/// A network's shape and parameters as a backend reads them: a [`DeviceNet`] on any
/// backend, or an [`crate::net::Mlp`] itself on the CPU (its vectors are CPU buffers).
pub trait NetParams<B: Backend> {
    /// Layer widths, input first.
    fn dims(&self) -> &[usize];
    /// The activation.
    fn activation(&self) -> Activation;
    /// Layer `l`'s weight matrix (`dims[l+1] × dims[l]`).
    fn weight(&self, l: usize) -> &B::Buf;
    /// Layer `l`'s bias, when the network has biases.
    fn bias(&self, l: usize) -> Option<&B::Buf>;
    /// Number of weight layers.
    fn depth(&self) -> usize {
        self.dims().len() - 1
    }
}

impl<B: Backend> NetParams<B> for DeviceNet<B> {
    fn dims(&self) -> &[usize] {
        &self.dims
    }
    fn activation(&self) -> Activation {
        self.activation
    }
    fn weight(&self, l: usize) -> &B::Buf {
        &self.params[l]
    }
    fn bias(&self, l: usize) -> Option<&B::Buf> {
        self.has_biases.then(|| &*self.params[self.dims.len() - 1 + l])
    }
}

impl NetParams<super::Compute> for crate::net::Mlp {
    fn dims(&self) -> &[usize] {
        crate::net::Mlp::dims(self)
    }
    fn activation(&self) -> Activation {
        crate::net::Mlp::activation(self)
    }
    fn weight(&self, l: usize) -> &[f32] {
        &self.weights()[l]
    }
    fn bias(&self, l: usize) -> Option<&[f32]> {
        crate::net::Mlp::bias(self, l)
    }
}
