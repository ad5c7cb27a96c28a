//! Bias-free fully connected networks (SPEC §1): architecture, initialization, and the
//! safetensors interchange format (SPEC §7). The arithmetic lives in [`engine`].

mod activation;
pub mod engine;
mod io;

pub use activation::Activation;
pub use engine::Workspace;

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

impl Mlp {
    /// A network with `depth` weight matrices and `depth − 1` hidden layers of `width`,
    /// entries i.i.d. N(0, s²·v/fan_in) from the `Init` stream of `seed` (SPEC §1).
    pub fn random(
        input_shape: [usize; 3],
        width: usize,
        depth: usize,
        classes: usize,
        activation: Activation,
        init_scale: f64,
        seed: u64,
    ) -> Mlp {
        assert!(depth >= 1 && width >= 1 && classes >= 1);
        let d: usize = input_shape.iter().product();
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
        Mlp {
            activation,
            input_shape,
            dims,
            weights,
        }
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
