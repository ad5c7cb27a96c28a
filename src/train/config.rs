//! The training configuration: every option of `occam train`, settable from TOML.

use super::OptimizerKind;
use crate::data::Augmentation;
use crate::error::{OccamError, Result};
use crate::net::Activation;
use serde::{Deserialize, Serialize};

/// Everything that defines a training run. Two runs with equal configurations (and the
/// same thread count) produce identical numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Dataset name as on the command line (`fashion-mnist`, `cifar10:DIR`, …).
    pub data: String,
    pub width: usize,
    /// Number of weight matrices (depth 2 = one hidden layer).
    pub depth: usize,
    pub activation: Activation,
    /// The init-std multiplier s of N(0, s²·v/fan_in).
    pub init_scale: f64,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub batch: usize,
    /// Step budget (for L-BFGS: the iteration cap, the paper's 2,684).
    pub steps: usize,
    /// Multiply the learning rate by `lr_decay_factor` every this many epochs.
    pub lr_decay_epochs: usize,
    pub lr_decay_factor: f64,
    /// Stop as soon as the whole training set is classified correctly.
    pub stop_at_100: bool,
    /// Replace every training label by a random class (seeded).
    pub random_labels: bool,
    pub augment: Augmentation,
    /// Train on only the first N training examples (None: all 50,000).
    pub train_size: Option<usize>,
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            data: "fashion-mnist".into(),
            width: 256,
            depth: 3,
            activation: Activation::Relu,
            init_scale: 1.0,
            optimizer: OptimizerKind::Momentum,
            lr: 0.005,
            batch: 256,
            steps: 20_000,
            lr_decay_epochs: 500,
            lr_decay_factor: 0.1,
            stop_at_100: false,
            random_labels: false,
            augment: Augmentation::default(),
            train_size: None,
            seed: 1,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file whose keys are this struct's fields; unknown keys are errors.
    pub fn from_toml_file(path: &std::path::Path) -> Result<TrainConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| OccamError::io(path, e))?;
        toml::from_str(&text).map_err(|e| OccamError::bad_file(path, format!("invalid training config: {e}")))
    }

    /// Rejects values that cannot describe a run.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(OccamError::config(m));
        if self.width == 0 {
            return bad("width must be at least 1".into());
        }
        if self.depth == 0 {
            return bad("depth must be at least 1 (depth = number of weight matrices)".into());
        }
        if self.batch == 0 {
            return bad("batch must be at least 1".into());
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("learning rate must be positive, got {}", self.lr));
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return bad(format!("init_scale must be positive, got {}", self.init_scale));
        }
        if self.lr_decay_epochs == 0 {
            return bad("lr_decay_epochs must be at least 1".into());
        }
        if self.train_size == Some(0) {
            return bad("train_size must be at least 1".into());
        }
        Ok(())
    }
}
