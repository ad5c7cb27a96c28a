//! First-order optimizers with the TensorFlow-1 semantics the paper used (docs/MODEL.md, Training).
//! Each has a parameter struct whose `Default` carries TF-1's coefficients.

use crate::compute::{Backend, Compute, UpdateRule};
use crate::net::Mlp;
use serde::{Deserialize, Serialize};
use std::borrow::{Borrow, BorrowMut};
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

/// Builds the step-wise optimizer for `kind` on the host (one thread), with state shaped
/// like `weights`. Returns `None` for L-BFGS, which is not step-wise.
pub fn build(kind: OptimizerKind, weights: &[Vec<f32>]) -> Option<Box<dyn Optimizer>> {
    let lens: Vec<usize> = weights.iter().map(Vec::len).collect();
    OptimizerState::on(&Compute::single(), kind, &lens).map(|s| Box::new(s) as Box<dyn Optimizer>)
}

/// The update rule of a step-wise optimizer with its coefficients.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Sgd,
    Momentum(MomentumParams),
    Adam(AdamParams),
    RmsProp(RmsPropParams),
}

impl Rule {
    /// The backend's update for step `step` (from 1) at rate `lr`.
    fn update(self, lr: f32, step: i32) -> UpdateRule {
        match self {
            Rule::Sgd => UpdateRule::Sgd { lr },
            Rule::Momentum(p) => UpdateRule::Momentum {
                lr,
                momentum: p.momentum,
            },
            Rule::Adam(AdamParams { beta1, beta2, epsilon }) => UpdateRule::Adam {
                lr_t: (lr as f64 * (1.0 - beta2.powi(step)).sqrt() / (1.0 - beta1.powi(step))) as f32,
                beta1: beta1 as f32,
                beta2: beta2 as f32,
                epsilon,
            },
            Rule::RmsProp(p) => UpdateRule::RmsProp {
                lr,
                decay: p.decay,
                epsilon: p.epsilon,
            },
        }
    }
}

/// A step-wise optimizer on a backend: its coefficients, its step count and its state
/// buffers (one set per parameter buffer) in the backend's memory. Every update is one
/// fused elementwise pass of [`Backend::update`].
pub struct OptimizerState<B: Backend = Compute> {
    rule: Rule,
    state: Vec<Vec<Box<B::Buf>>>,
    lens: Vec<usize>,
    steps: i32,
}

impl<B: Backend> OptimizerState<B> {
    /// TF-1's coefficients for `kind` and initial state for parameter buffers of `lens`
    /// elements; `None` for L-BFGS.
    pub fn on(backend: &B, kind: OptimizerKind, lens: &[usize]) -> Option<Self> {
        let rule = match kind {
            OptimizerKind::Sgd => Rule::Sgd,
            OptimizerKind::Momentum => Rule::Momentum(MomentumParams::default()),
            OptimizerKind::Adam => Rule::Adam(AdamParams::default()),
            OptimizerKind::Rmsprop => Rule::RmsProp(RmsPropParams::default()),
            OptimizerKind::Lbfgs => return None,
        };
        let initial = match rule {
            Rule::RmsProp(p) => p.initial_mean_square,
            _ => 0.0,
        };
        let buffers = rule.update(1.0, 1).state_buffers();
        let state = lens
            .iter()
            .map(|&len| {
                (0..buffers)
                    .map(|_| {
                        let mut b = backend.alloc(len);
                        backend.fill(&mut b, len, initial);
                        b
                    })
                    .collect()
            })
            .collect();
        Some(OptimizerState {
            rule,
            state,
            lens: lens.to_vec(),
            steps: 0,
        })
    }

    /// The rule of the next step at rate `lr` (Adam's bias correction folded in).
    fn next_rule(&mut self, lr: f32) -> UpdateRule {
        self.steps += 1;
        self.rule.update(lr, self.steps)
    }

    /// One update of every parameter buffer from its gradient at rate `lr`.
    pub fn step_on<P: BorrowMut<B::Buf>, G: Borrow<B::Buf>>(
        &mut self,
        backend: &B,
        params: &mut [P],
        grads: &[G],
        lr: f32,
    ) {
        let rule = self.next_rule(lr);
        for (((p, g), state), &len) in params.iter_mut().zip(grads).zip(&mut self.state).zip(&self.lens) {
            backend.update(rule, p.borrow_mut(), g.borrow(), state, len);
        }
    }
}

impl Optimizer for OptimizerState<Compute> {
    fn step(&mut self, weights: &mut [Vec<f32>], grads: &[Vec<f32>], lr: f32) {
        self.step_on(&Compute::single(), weights, grads, lr);
    }
}

/// Momentum's coefficient μ (TF-1 default 0.9). TF-1 `MomentumOptimizer` (non-Nesterov):
/// `m ← μ·m + g; w ← w − lr·m`, m starting at 0.
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

/// Adam's coefficients (TF-1 defaults). TF-1 `AdamOptimizer`: `m ← β1·m + (1−β1)·g`,
/// `v ← β2·v + (1−β2)·g²`, `w ← w − lr_t·m / (√v + ε)` with
/// `lr_t = lr·√(1−β2^t)/(1−β1^t)`. The bias correction is folded into the step size, so ε
/// is added to the *uncorrected* √v: this differs from PyTorch's `Adam` (which adds ε to
/// √v̂) exactly as TF-1 did.
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

/// RMSProp's coefficients (TF-1 defaults). TF-1 `RMSPropOptimizer` with momentum 0:
/// `ms ← ρ·ms + (1−ρ)·g²; w ← w − lr·g/√(ms+ε)`, ms starting at 1.
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
