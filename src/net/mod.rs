//! Fully connected networks, with or without a bias on every layer: architecture and its
//! invariants (every layer at least 1 wide, matching parameter shapes, finite values)
//! behind private fields and a checked constructor, initialization with size and memory
//! checks, and the safetensors interchange format. The arithmetic lives in [`engine`].

mod activation;
pub mod engine;
mod io;
mod transposed;

pub use activation::Activation;
pub use engine::Workspace;
pub use io::{Layout, LoadOptions, LoadedModel};

use crate::error::{OccamError, Result};
use crate::limits::check_memory;
use crate::rng::{Stream, rng_for};
use rand::RngExt;
use rand_distr::StandardNormal;
use transposed::TransposedWeights;

/// `f(x) = W_L φ(W_{L−1} … φ(W_1 x + b_1) … + b_{L−1}) + b_L`, the biases optional (all
/// layers have one or none has). `dims = [d, width, …, width, classes]` has `depth + 1`
/// entries; weight matrix `l` is row-major `[dims[l+1] × dims[l]]` (PyTorch's `nn.Linear`
/// layout) and bias `l` has `dims[l+1]` entries. The fields are private so that every
/// network satisfies these invariants: build one with [`Mlp::try_random`] or
/// [`Mlp::from_parts`].
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    activation: Activation,
    /// Input image shape (height, width, channels); `dims[0]` is their product.
    input_shape: [usize; 3],
    dims: Vec<usize>,
    /// The trainable parameters: the `depth` weight matrices, then, when `biased`, the
    /// `depth` bias vectors. One buffer list so that optimizers see them all alike.
    params: Vec<Vec<f32>>,
    biased: bool,
    /// The weight matrices transposed, computed on first use and dropped by
    /// [`Mlp::params_mut`].
    transposed: TransposedWeights,
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
            params: weights,
            biased: false,
            transposed: TransposedWeights::default(),
        })
    }

    /// A network from its parts, every invariant checked: at least one layer, every width
    /// at least 1, `dims[0]` the product of `input_shape`, one weight matrix per layer of
    /// `dims[l+1] × dims[l]` entries, when `biases` is given one vector of `dims[l+1]`
    /// entries per layer, and every value finite. Errors name the layer and what is wrong.
    ///
    /// ```
    /// use occam::net::{Activation, Mlp};
    /// // 2 inputs → 3 hidden units → 1 output, with biases.
    /// let weights = vec![vec![0.5; 6], vec![1.0; 3]];
    /// let biases = Some(vec![vec![0.1, 0.0, -0.1], vec![0.2]]);
    /// let net = Mlp::from_parts(Activation::Relu, [1, 2, 1], vec![2, 3, 1], weights, biases)?;
    /// assert_eq!(net.param_count(), 6 + 3 + 3 + 1);
    /// // A bias of the wrong length is an error naming the layer.
    /// let bad = Mlp::from_parts(Activation::Relu, [1, 2, 1], vec![2, 3, 1], net.weights().to_vec(), Some(vec![vec![0.0; 3], vec![0.0; 2]]));
    /// assert!(bad.unwrap_err().to_string().contains("layer 1's bias has 2 entries, expected 1"));
    /// # Ok::<(), occam::error::OccamError>(())
    /// ```
    pub fn from_parts(
        activation: Activation,
        input_shape: [usize; 3],
        dims: Vec<usize>,
        weights: Vec<Vec<f32>>,
        biases: Option<Vec<Vec<f32>>>,
    ) -> Result<Mlp> {
        let problem = |text: String| OccamError::config(format!("a network's parts do not fit: {text}"));
        if dims.len() < 2 {
            return Err(problem(format!(
                "dims {dims:?} has {} entries; a network needs at least [inputs, outputs]",
                dims.len()
            )));
        }
        if let Some(l) = dims.iter().position(|&w| w == 0) {
            return Err(problem(format!(
                "dims {dims:?} has width 0 at position {l}; every layer needs at least 1 unit"
            )));
        }
        let d = checked_input_dim(input_shape).map_err(problem)?;
        if d != dims[0] {
            return Err(problem(format!(
                "dims[0] = {} but the input shape {input_shape:?} has {d} elements",
                dims[0]
            )));
        }
        let depth = dims.len() - 1;
        if weights.len() != depth {
            return Err(problem(format!(
                "dims {dims:?} describe {depth} layers but {} weight matrices were given",
                weights.len()
            )));
        }
        for (l, w) in weights.iter().enumerate() {
            let (out, inp) = (dims[l + 1], dims[l]);
            if out.checked_mul(inp) != Some(w.len()) {
                return Err(problem(format!(
                    "layer {l}'s weight matrix has {} entries, expected {out} × {inp} = {} ([out, in] row-major)",
                    w.len(),
                    out.saturating_mul(inp)
                )));
            }
            check_finite_values(&format!("layer {l}'s weight matrix"), w).map_err(problem)?;
        }
        let biased = biases.is_some();
        let mut params = weights;
        if let Some(biases) = biases {
            if biases.len() != depth {
                return Err(problem(format!(
                    "dims {dims:?} describe {depth} layers but {} bias vectors were given",
                    biases.len()
                )));
            }
            for (l, b) in biases.iter().enumerate() {
                if b.len() != dims[l + 1] {
                    return Err(problem(format!(
                        "layer {l}'s bias has {} entries, expected {} (the layer's outputs)",
                        b.len(),
                        dims[l + 1]
                    )));
                }
                check_finite_values(&format!("layer {l}'s bias"), b).map_err(problem)?;
            }
            params.extend(biases);
        }
        Ok(Mlp {
            activation,
            input_shape,
            dims,
            params,
            biased,
            transposed: TransposedWeights::default(),
        })
    }

    /// This network with a zero bias on every layer (training with biases starts there);
    /// the weights are unchanged, so a seed gives the same weights with or without biases.
    /// A network that already has biases is returned as it is.
    pub fn with_zero_biases(mut self) -> Mlp {
        if !self.biased {
            let zeros: Vec<Vec<f32>> = self.dims[1..].iter().map(|&w| vec![0.0; w]).collect();
            self.params.extend(zeros);
            self.biased = true;
        }
        self
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

    /// The activation φ of every hidden layer.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Input image shape (height, width, channels); [`Mlp::input_dim`] is their product.
    pub fn input_shape(&self) -> [usize; 3] {
        self.input_shape
    }
    /// Layer widths `[inputs, hidden…, classes]`, `depth + 1` entries.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }
    /// The weight matrices, one per layer, row-major `[dims[l+1] × dims[l]]`.
    pub fn weights(&self) -> &[Vec<f32>] {
        &self.params[..self.depth()]
    }
    /// Weight matrix `l` transposed: row-major `[dims[l] × dims[l+1]]`, row i being column
    /// i of W_l. Computed on first use and kept until the parameters may change.
    pub fn weights_transposed(&self, l: usize) -> &[f32] {
        let (rows, cols) = (self.dims[l + 1], self.dims[l]);
        (self.transposed).get(l, self.depth(), &self.params[l], rows, cols)
    }
    /// The bias vectors, one of `dims[l+1]` entries per layer, or `None` for a bias-free
    /// network.
    pub fn biases(&self) -> Option<&[Vec<f32>]> {
        self.biased.then(|| &self.params[self.depth()..])
    }
    /// Whether every layer has a bias.
    pub fn has_biases(&self) -> bool {
        self.biased
    }
    /// Layer `l`'s bias, or `None` for a bias-free network.
    pub(crate) fn bias(&self, l: usize) -> Option<&[f32]> {
        self.biases().map(|b| b[l].as_slice())
    }
    /// Every trainable parameter buffer, weights then biases: the layout of gradients
    /// and optimizer state ([`Mlp::zero_params`]).
    pub fn params(&self) -> &[Vec<f32>] {
        &self.params
    }
    /// Mutable access to every parameter buffer (weights then biases), for training.
    /// Callers keep the lengths; values may become non-finite only transiently, as
    /// training's divergence check sees them.
    pub(crate) fn params_mut(&mut self) -> &mut [Vec<f32>] {
        self.transposed = TransposedWeights::default();
        &mut self.params
    }
    /// Zero buffers shaped like [`Mlp::params`]: gradients and optimizer state.
    pub fn zero_params(&self) -> Vec<Vec<f32>> {
        self.params.iter().map(|p| vec![0.0; p.len()]).collect()
    }
    /// Replaces the input shape by one with the same number of elements.
    pub(crate) fn set_input_shape(&mut self, shape: [usize; 3]) {
        debug_assert_eq!(checked_input_dim(shape).ok(), Some(self.input_dim()));
        self.input_shape = shape;
    }
    /// Number of weight matrices (layers).
    pub fn depth(&self) -> usize {
        self.dims.len() - 1
    }
    /// Number of inputs, `dims[0]`.
    pub fn input_dim(&self) -> usize {
        self.dims[0]
    }
    /// Number of outputs (logits).
    pub fn classes(&self) -> usize {
        *self.dims.last().expect("a network has at least two dims")
    }
    /// Widths of the hidden layers, in order.
    pub fn hidden_dims(&self) -> &[usize] {
        &self.dims[1..self.dims.len() - 1]
    }
    /// Number of trainable parameters, weights and biases.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(Vec::len).sum()
    }
}

/// Refuses a non-finite value, naming `what`, the first offending index and its value.
fn check_finite_values(what: &str, values: &[f32]) -> std::result::Result<(), String> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(format!(
            "{what} has the non-finite value {} at index {i}; every parameter must be finite",
            values[i]
        )),
        None => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_error(dims: Vec<usize>, weights: Vec<Vec<f32>>, biases: Option<Vec<Vec<f32>>>) -> String {
        Mlp::from_parts(Activation::Relu, [1, 2, 1], dims, weights, biases)
            .expect_err("invalid parts must be refused")
            .to_string()
    }

    #[test]
    fn from_parts_accepts_a_valid_network_with_and_without_biases() {
        let w = vec![vec![1.0; 6], vec![0.5; 3]];
        let plain = Mlp::from_parts(Activation::Tanh, [1, 2, 1], vec![2, 3, 1], w.clone(), None).unwrap();
        assert!(!plain.has_biases() && plain.biases().is_none());
        assert_eq!(plain.param_count(), 9);
        let biased = Mlp::from_parts(
            Activation::Tanh,
            [1, 2, 1],
            vec![2, 3, 1],
            w,
            Some(vec![vec![0.1; 3], vec![0.2]]),
        )
        .unwrap();
        assert_eq!(biased.biases().unwrap()[1], vec![0.2]);
        assert_eq!(biased.param_count(), 13);
        assert_eq!(plain.clone().with_zero_biases().weights(), plain.weights());
    }

    #[test]
    fn from_parts_names_the_broken_invariant() {
        let ok_w = || vec![vec![1.0; 6], vec![0.5; 3]];
        for (got, want) in [
            (parts_error(vec![2], vec![], None), "at least [inputs, outputs]"),
            (parts_error(vec![2, 0, 1], ok_w(), None), "width 0 at position 1"),
            (
                parts_error(vec![3, 3, 1], ok_w(), None),
                "dims[0] = 3 but the input shape [1, 2, 1] has 2",
            ),
            (
                parts_error(vec![2, 3, 1], vec![vec![1.0; 6]], None),
                "2 layers but 1 weight matrices",
            ),
            (
                parts_error(vec![2, 3, 1], vec![vec![1.0; 5], vec![0.5; 3]], None),
                "layer 0's weight matrix has 5 entries, expected 3 × 2 = 6",
            ),
            (
                parts_error(vec![2, 3, 1], vec![vec![1.0; 6], vec![f32::NAN, 0.0, 0.0]], None),
                "layer 1's weight matrix has the non-finite value NaN at index 0",
            ),
            (
                parts_error(vec![2, 3, 1], ok_w(), Some(vec![vec![0.0; 3]])),
                "2 layers but 1 bias vectors",
            ),
            (
                parts_error(vec![2, 3, 1], ok_w(), Some(vec![vec![0.0; 3], vec![0.0; 2]])),
                "layer 1's bias has 2 entries, expected 1",
            ),
            (
                parts_error(
                    vec![2, 3, 1],
                    ok_w(),
                    Some(vec![vec![0.0, f32::INFINITY, 0.0], vec![0.0]]),
                ),
                "layer 0's bias has the non-finite value inf at index 1",
            ),
        ] {
            assert!(got.contains(want), "{got:?} should contain {want:?}");
        }
    }
}
