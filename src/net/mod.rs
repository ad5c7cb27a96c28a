//! Bias-free fully connected networks: architecture and its invariants (every layer at
//! least 1 wide, finite weights), initialization with size and memory checks, and the
//! safetensors interchange format. The arithmetic lives in [`engine`].

mod activation;
pub mod engine;
mod io;

pub use activation::Activation;
pub use engine::Workspace;
pub use io::{Layout, LoadOptions, LoadedModel};

use crate::error::{OccamError, Result};
use crate::limits::check_memory;
use crate::rng::{Stream, rng_for};
use rand::RngExt;
use rand_distr::StandardNormal;

/// `f(x) = W_L φ(W_{L−1} … φ(W_1 x))`. `dims = [d, width, …, width, classes]` has
/// `depth + 1` entries; `weights[l]` is row-major `[dims[l+1] × dims[l]]` (PyTorch's
/// `nn.Linear` layout).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    pub activation: Activation,
    /// Input image shape (height, width, channels); `dims[0]` is their product.
    pub input_shape: [usize; 3],
    pub dims: Vec<usize>,
    pub weights: Vec<Vec<f32>>,
}

/// Estimated bytes to train a network of these sizes, in f64 so that no product of user
/// sizes can overflow: the weights, a copy of the initial network, the gradients (twice,
/// for sharded batches), `optimizer_slots` more weight-shaped buffers of optimizer state
/// (momentum 1, Adam 2, L-BFGS about 30), and for one batch of `batch` examples the input
/// rows, every layer's activations and two back-propagation scratch buffers.
pub fn estimated_training_bytes(
    input_dim: usize,
    width: usize,
    depth: usize,
    classes: usize,
    batch: usize,
    optimizer_slots: usize,
) -> f64 {
    let (d, w, k, b) = (input_dim as f64, width as f64, classes as f64, batch as f64);
    let hidden = depth.saturating_sub(1) as f64;
    let weights = estimated_weight_count(input_dim, width, depth, classes);
    let weight_buffers = 4.0 + optimizer_slots as f64;
    let activations = b * (d + hidden * w + k + 2.0 * w.max(k));
    4.0 * (weight_buffers * weights + activations)
}

impl Mlp {
    /// A network with `depth` weight matrices and `depth − 1` hidden layers of `width`,
    /// entries i.i.d. N(0, s²·v/fan_in) from the `Init` stream of `seed`. Sizes come from
    /// the user, so each is checked: depth, width and classes at least 1, the input shape
    /// without a zero, and the weights' memory against what this machine has — before
    /// anything is allocated.
    pub fn try_random(
        input_shape: [usize; 3],
        width: usize,
        depth: usize,
        classes: usize,
        activation: Activation,
        init_scale: f64,
        seed: u64,
    ) -> Result<Mlp> {
        for (what, value) in [("depth", depth), ("width", width), ("classes", classes)] {
            if value == 0 {
                return Err(OccamError::config(format!(
                    "a network with {what} 0 cannot be built: {what} must be at least 1"
                )));
            }
        }
        let d =
            checked_input_dim(input_shape).map_err(|problem| OccamError::config(format!("a network's {problem}")))?;
        let estimate = 4.0 * estimated_weight_count(d, width, depth, classes);
        check_memory(
            &format!("a network of width {width} and depth {depth} on {d} inputs"),
            estimate,
        )?;
        let mut dims = vec![d];
        dims.extend(std::iter::repeat_n(width, depth - 1));
        dims.push(classes);
        let mut rng = rng_for(seed, Stream::Init);
        let weights = dims
            .windows(2)
            .map(|io| {
                let std = init_scale * (activation.init_gain() / io[0] as f64).sqrt();
                (0..io[0] * io[1])
                    .map(|_| (rng.sample::<f64, _>(StandardNormal) * std) as f32)
                    .collect()
            })
            .collect();
        Ok(Mlp {
            activation,
            input_shape,
            dims,
            weights,
        })
    }

    /// [`Mlp::try_random`] for sizes known to be valid (tests, benchmarks).
    ///
    /// # Panics
    /// On sizes [`Mlp::try_random`] refuses; input from a user goes through that instead.
    pub fn random(
        input_shape: [usize; 3],
        width: usize,
        depth: usize,
        classes: usize,
        activation: Activation,
        init_scale: f64,
        seed: u64,
    ) -> Mlp {
        Mlp::try_random(input_shape, width, depth, classes, activation, init_scale, seed)
            .unwrap_or_else(|e| panic!("Mlp::random: {e}"))
    }

    pub fn depth(&self) -> usize {
        self.weights.len()
    }
    pub fn input_dim(&self) -> usize {
        self.dims[0]
    }
    pub fn classes(&self) -> usize {
        *self.dims.last().unwrap()
    }
    /// Widths of the hidden layers, in order.
    pub fn hidden_dims(&self) -> &[usize] {
        &self.dims[1..self.dims.len() - 1]
    }
    pub fn param_count(&self) -> usize {
        self.weights.iter().map(Vec::len).sum()
    }
}

/// Number of weights of a network of these sizes, in f64 (cannot overflow).
fn estimated_weight_count(input_dim: usize, width: usize, depth: usize, classes: usize) -> f64 {
    let (d, w, k) = (input_dim as f64, width as f64, classes as f64);
    if depth <= 1 {
        d * k
    } else {
        d * w + (depth - 2) as f64 * w * w + w * k
    }
}

/// The product of an input shape: every entry at least 1, and no overflow. The error
/// names the shape (for the caller to prefix with where it came from).
pub(crate) fn checked_input_dim(shape: [usize; 3]) -> std::result::Result<usize, String> {
    let [h, w, c] = shape;
    if shape.contains(&0) {
        return Err(format!(
            "input shape {h},{w},{c} has a zero dimension: height, width and channels must each be at least 1"
        ));
    }
    h.checked_mul(w)
        .and_then(|hw| hw.checked_mul(c))
        .ok_or_else(|| format!("input shape {h},{w},{c} has more elements than this machine can address"))
}
