//! First-order optimizers with the TensorFlow-1 semantics the paper used (docs/MODEL.md, Training).
//! Each has a parameter struct whose `Default` carries TF-1's coefficients.

use crate::net::Mlp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which optimizer trains a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Heavy-ball momentum (TF-1 `MomentumOptimizer`).
    Momentum,
    /// Adam with TF-1's folded bias correction.
    Adam,
    /// RMSProp with TF-1's accumulator starting at 1.
    Rmsprop,
    /// Full-batch L-BFGS; not a step-wise optimizer, see `train::lbfgs`.
    Lbfgs,
}

impl OptimizerKind {
    /// Every optimizer, in the order of the docs and the CLI help.
    pub const ALL: [OptimizerKind; 5] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adam,
        OptimizerKind::Rmsprop,
        OptimizerKind::Lbfgs,
    ];
    /// The name used on the command line, in files and in specs.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Lbfgs => "lbfgs",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.to_ascii_lowercase();
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "l-bfgs" && *k == OptimizerKind::Lbfgs))
            .ok_or_else(|| format!("unknown optimizer '{s}': expected sgd, momentum, adam, rmsprop or lbfgs"))
    }
}

/// A step-wise optimizer: updates `weights` in place from `grads` at learning rate `lr`.
pub trait Optimizer: Send {
    /// One update of every parameter buffer from its gradient (same shapes) at rate `lr`.
    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32);
}

/// One optimizer step on every parameter of `net` (weights, then biases when it has
/// them), for callers writing their own training loop. `grads` must have the layout of
/// [`Mlp::zero_params`] (as [`crate::net::engine::BatchGradient::compute`] fills it);
/// anything else is an error naming the first buffer that differs. The parameters may
/// become non-finite when training diverges: check the loss, as `train` does.
pub fn step_network(
    optimizer: &mut dyn Optimizer,
    net: &mut Mlp,
    grads: &[Vec<f32>],
    lr: f32,
) -> crate::error::Result<()> {
    let params = net.params();
    if grads.len() != params.len() {
        return Err(crate::error::OccamError::config(format!(
            "{} gradient buffers were given for a network with {} parameter buffers (weights, then biases)",
            grads.len(),
            params.len()
        )));
    }
    if let Some(i) = (0..params.len()).find(|&i| grads[i].len() != params[i].len()) {
        return Err(crate::error::OccamError::config(format!(
            "gradient buffer {i} has {} entries but the network's parameter buffer {i} has {}",
            grads[i].len(),
            params[i].len()
        )));
    }
    optimizer.step(net.params_mut(), grads, lr);
    Ok(())
}

/// Builds the step-wise optimizer for `kind`, with state shaped like `weights`.
/// Returns `None` for L-BFGS, which is not step-wise.
pub fn build(kind: OptimizerKind, weights: &[Vec<f32>]) -> Option<Box<dyn Optimizer>> {
    let zeros = || weights.iter().map(|w| vec![0.0f32; w.len()]).collect::<Vec<_>>();
    match kind {
        OptimizerKind::Sgd => Some(Box::new(Sgd)),
        OptimizerKind::Momentum => Some(Box::new(Momentum::new(weights))),
        OptimizerKind::Adam => Some(Box::new(Adam {
            params: AdamParams::default(),
            m: zeros(),
            v: zeros(),
            t: 0,
        })),
        OptimizerKind::Rmsprop => {
            let params = RmsPropParams::default();
            let ms = weights
                .iter()
                .map(|w| vec![params.initial_mean_square; w.len()])
                .collect();
            Some(Box::new(RmsProp { params, ms }))
        }
        OptimizerKind::Lbfgs => None,
    }
}

/// `w ← w − lr·g`.
pub struct Sgd;

impl Optimizer for Sgd {
    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        for (w, g) in weights.iter_mut().zip(grads) {
            w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * g);
        }
    }
}

/// Momentum's coefficient μ (TF-1 default 0.9).
#[derive(Debug, Clone, Copy)]
pub struct MomentumParams {
    /// μ in `m ← μ·m + g`.
    pub momentum: f32,
}
impl Default for MomentumParams {
    fn default() -> Self {
        MomentumParams { momentum: 0.9 }
    }
}

/// TF-1 `MomentumOptimizer` (non-Nesterov): `m ← μ·m + g; w ← w − lr·m`, m starting at 0.
pub struct Momentum {
    /// The coefficients.
    pub params: MomentumParams,
    velocity: Vec<Vec<f32>>,
}

impl Momentum {
    /// TF-1 defaults, velocity zero, shaped like `weights`.
    pub fn new(weights: &[Vec<f32>]) -> Self {
        Momentum {
            params: MomentumParams::default(),
            velocity: weights.iter().map(|w| vec![0.0; w.len()]).collect(),
        }
    }
}

impl Optimizer for Momentum {
    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        let mu = self.params.momentum;
        for ((w, g), m) in weights.iter_mut().zip(grads).zip(&mut self.velocity) {
            for ((w, g), m) in w.iter_mut().zip(g).zip(m.iter_mut()) {
                *m = mu * *m + g;
                *w -= lr * *m;
            }
        }
    }
}

/// Adam's coefficients (TF-1 defaults).
#[derive(Debug, Clone, Copy)]
pub struct AdamParams {
    /// Decay of the first-moment average.
    pub beta1: f64,
    /// Decay of the second-moment average.
    pub beta2: f64,
    /// Added to √v (uncorrected) in the denominator.
    pub epsilon: f32,
}
impl Default for AdamParams {
    fn default() -> Self {
        AdamParams {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// TF-1 `AdamOptimizer`: `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
/// `w ← w − lr_t·m / (√v + ε)` with `lr_t = lr·√(1−β2^t)/(1−β1^t)`. The bias correction is
/// folded into the step size, so ε is added to the *uncorrected* √v: this differs from
/// PyTorch's `Adam` (which adds ε to √v̂) exactly as TF-1 did.
pub struct Adam {
    /// The coefficients.
    pub params: AdamParams,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: i32,
}

impl Optimizer for Adam {
    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        let AdamParams { beta1, beta2, epsilon } = self.params;
        self.t += 1;
        let lr_t = (lr as f64 * (1.0 - beta2.powi(self.t)).sqrt() / (1.0 - beta1.powi(self.t))) as f32;
        let (b1, b2) = (beta1 as f32, beta2 as f32);
        for (((w, g), m), v) in weights.iter_mut().zip(grads).zip(&mut self.m).zip(&mut self.v) {
            for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *w -= lr_t * *m / (v.sqrt() + epsilon);
            }
        }
    }
}

/// RMSProp's coefficients (TF-1 defaults).
#[derive(Debug, Clone, Copy)]
pub struct RmsPropParams {
    /// ρ, the decay of the mean square.
    pub decay: f32,
    /// Added to the mean square under the root.
    pub epsilon: f32,
    /// TF-1 starts the mean-square accumulator at 1, not 0.
    pub initial_mean_square: f32,
}
impl Default for RmsPropParams {
    fn default() -> Self {
        RmsPropParams {
            decay: 0.9,
            epsilon: 1e-10,
            initial_mean_square: 1.0,
        }
    }
}

/// TF-1 `RMSPropOptimizer` with momentum 0: `ms ← ρ·ms + (1−ρ)·g²; w ← w − lr·g/√(ms+ε)`.
pub struct RmsProp {
    /// The coefficients.
    pub params: RmsPropParams,
    ms: Vec<Vec<f32>>,
}

impl Optimizer for RmsProp {
    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        let RmsPropParams { decay, epsilon, .. } = self.params;
        for ((w, g), ms) in weights.iter_mut().zip(grads).zip(&mut self.ms) {
            for ((w, &g), ms) in w.iter_mut().zip(g).zip(ms.iter_mut()) {
                *ms = decay * *ms + (1.0 - decay) * g * g;
                *w -= lr * g / (*ms + epsilon).sqrt();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` updates of one scalar weight from w0 with the given gradient sequence.
    fn run(kind: OptimizerKind, w0: f32, grads: &[f32], lr: f32) -> Vec<f32> {
        let mut w = vec![vec![w0]];
        let mut opt = build(kind, &w).unwrap();
        grads
            .iter()
            .map(|&g| {
                opt.step(&mut w, &[vec![g]], lr);
                w[0][0]
            })
            .collect()
    }

    fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            // f32 arithmetic (1 − 0.999 rounds to 0.00099998713 in f32): 1e-5 relative.
            assert!(
                (*g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
                "got {got:?}, want {want:?}"
            );
        }
    }

    // Every expected value below is worked out by hand from the update rule.

    #[test]
    fn sgd_steps() {
        // 1 − 0.1·2 = 0.8; 0.8 − 0.1·(−1) = 0.9
        close(&run(OptimizerKind::Sgd, 1.0, &[2.0, -1.0], 0.1), &[0.8, 0.9]);
    }

    #[test]
    fn momentum_steps() {
        // m1 = 2 → w = 1 − 0.2 = 0.8; m2 = 0.9·2 + 1 = 2.8 → w = 0.8 − 0.28 = 0.52;
        // m3 = 0.9·2.8 − 3 = −0.48 → w = 0.52 + 0.048 = 0.568
        close(
            &run(OptimizerKind::Momentum, 1.0, &[2.0, 1.0, -3.0], 0.1),
            &[0.8, 0.52, 0.568],
        );
    }

    #[test]
    fn adam_steps() {
        // t=1: m = 0.1·2 = 0.2, v = 0.001·4 = 0.004, lr_t = 0.1·√0.001/0.1 = √0.001,
        //      w = 1 − √0.001·0.2/(√0.004 + 1e-8) = 1 − 0.1·(1 − 1.58e-7) ≈ 0.9000000158
        // t=2: m = 0.18 + 0.1·1 = 0.28, v = 0.003996 + 0.001 = 0.004996,
        //      lr_t = 0.1·√(1 − 0.998001)/(1 − 0.81) = 0.1·0.0447102/0.19,
        //      w = w1 − lr_t·0.28/(√0.004996 + 1e-8)
        let w1 = 1.0 - 0.001f64.sqrt() * 0.2 / (0.004f64.sqrt() + 1e-8);
        let lr2 = 0.1 * (1.0 - 0.999f64 * 0.999).sqrt() / (1.0 - 0.81);
        let w2 = w1 - lr2 * 0.28 / (0.004996f64.sqrt() + 1e-8);
        close(&run(OptimizerKind::Adam, 1.0, &[2.0, 1.0], 0.1), &[w1, w2]);
        assert!((w1 - 0.9).abs() < 1e-6 && (w2 - (0.9 - 0.0932)).abs() < 1e-3);
    }

    #[test]
    fn rmsprop_starts_its_accumulator_at_one() {
        // ms = 0.9·1 + 0.1·4 = 1.3 → w = 1 − 0.1·2/√1.3;
        // ms = 0.9·1.3 + 0.1·1 = 1.27 → w −= 0.1·1/√1.27
        let w1 = 1.0 - 0.2 / 1.3f64.sqrt();
        let w2 = w1 - 0.1 / 1.27f64.sqrt();
        close(&run(OptimizerKind::Rmsprop, 1.0, &[2.0, 1.0], 0.1), &[w1, w2]);
    }

    #[test]
    fn names_parse() {
        for k in OptimizerKind::ALL {
            assert_eq!(k.name().parse::<OptimizerKind>().unwrap(), k);
        }
        assert!("nadam".parse::<OptimizerKind>().is_err());
    }
}
