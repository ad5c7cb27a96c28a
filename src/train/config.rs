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
    /// Width of every hidden layer.
    pub width: usize,
    /// Number of weight matrices (depth 2 = one hidden layer).
    pub depth: usize,
    /// The activation of every hidden layer.
    pub activation: Activation,
    /// The init-std multiplier s of N(0, s²·v/fan_in).
    pub init_scale: f64,
    /// Which optimizer trains the network.
    pub optimizer: OptimizerKind,
    /// The (initial) learning rate.
    pub lr: f64,
    /// Mini-batch size (L-BFGS uses the whole training set).
    pub batch: usize,
    /// Step budget (for L-BFGS: the iteration cap, the paper's 2,684).
    pub steps: usize,
    /// L-BFGS only: its iteration cap, in place of `steps` (so that one sweep can give
    /// mini-batch optimizers 2^19 steps and L-BFGS the paper's 2,684 iterations). Ignored by
    /// the mini-batch optimizers; unset = `steps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lbfgs_steps: Option<usize>,
    /// Mini-batch optimizers only: keep a copy of the weights after this many steps; if the
    /// run later diverges (a non-finite loss), it ends with that copy, as `completed`, and
    /// the outcome says so (the paper's step-2^18 checkpoint of its 2^19-step runs). Unset =
    /// no copy. A value at or beyond the step budget never takes the copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_at: Option<usize>,
    /// Give every layer a bias, zero at initialization and trained like the weights (the
    /// weights' initialization is unchanged, so a seed gives the same weights either way).
    /// Left out of the JSON when false, so configurations without biases keep their
    /// fingerprints and trial ids.
    #[serde(default, skip_serializing_if = "is_false")]
    pub bias: bool,
    /// Multiply the learning rate by `lr_decay_factor` every this many epochs.
    pub lr_decay_epochs: usize,
    /// The factor applied every `lr_decay_epochs` epochs.
    pub lr_decay_factor: f64,
    /// Stop as soon as the whole training set is classified correctly.
    pub stop_at_100: bool,
    /// Replace every training label by a random class (seeded).
    pub random_labels: bool,
    /// Data augmentation applied to training batches.
    pub augment: Augmentation,
    /// Train on only the first N training examples (None: all 50,000).
    pub train_size: Option<usize>,
    /// The one seed of every random choice (initialization, shuffling, augmentation, labels).
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
            lbfgs_steps: None,
            fallback_at: None,
            bias: false,
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

/// For `skip_serializing_if`: a flag that is off is left out of the JSON.
pub(crate) fn is_false(flag: &bool) -> bool {
    !*flag
}

impl TrainConfig {
    /// Reads a TOML file whose keys are this struct's fields; unknown keys are errors.
    pub fn from_toml_file(path: &std::path::Path) -> Result<TrainConfig> {
        let text = crate::data::read_text_file(path, "a training config (TOML)")?;
        toml::from_str(&text).map_err(|e| OccamError::bad_file(path, format!("invalid training config: {e}")))
    }

    /// Rejects values that cannot describe a run, naming each setting by its field name
    /// (as in a `--config` TOML file).
    pub fn validate(&self) -> Result<()> {
        self.validate_named(&|field| field.to_string())
    }

    /// Like [`Self::validate`], naming each setting as `key(field)` says: the CLI names
    /// its options (`--lr-decay-factor`), a sweep spec its keys (`spec.toml: axes.lr`).
    pub fn validate_named(&self, key: &dyn Fn(&str) -> String) -> Result<()> {
        ranges::width(&key("width"), self.width)?;
        ranges::depth(&key("depth"), self.depth)?;
        ranges::batch(&key("batch"), self.batch)?;
        ranges::steps(&key("steps"), self.steps)?;
        ranges::lr(&key("lr"), self.lr)?;
        ranges::init_scale(&key("init_scale"), self.init_scale)?;
        ranges::lr_decay_epochs(&key("lr_decay_epochs"), self.lr_decay_epochs)?;
        ranges::lr_decay_factor(&key("lr_decay_factor"), self.lr_decay_factor)?;
        ranges::translate(&key("augment.translate"), self.augment.translate)?;
        if let Some(n) = self.train_size {
            ranges::train_size(&key("train_size"), n)?;
        }
        if let Some(n) = self.lbfgs_steps {
            ranges::steps(&key("lbfgs_steps"), n)?;
        }
        if let Some(n) = self.fallback_at {
            ranges::steps(&key("fallback_at"), n)?;
        }
        Ok(())
    }

    /// The number of steps (mini-batch) or iterations (L-BFGS) the run may take.
    pub fn step_budget(&self) -> usize {
        match self.optimizer {
            super::OptimizerKind::Lbfgs => self.lbfgs_steps.unwrap_or(self.steps),
            _ => self.steps,
        }
    }

    /// The step after which a fallback copy of the weights is kept, when it can be used:
    /// mini-batch optimizers, and a step before the end of the budget.
    pub fn fallback_step(&self) -> Option<usize> {
        self.fallback_at
            .filter(|&at| self.optimizer != super::OptimizerKind::Lbfgs && at < self.steps)
    }
}

/// The valid range of every numeric training setting, shared by `occam train`, `--config`
/// files and sweep specs (README, "Training options", lists them). Each check names the
/// setting as `what`, the value and the range.
pub mod ranges {
    use crate::error::{OccamError, Result};
    use crate::limits::in_range;

    /// Widest hidden layer: 2^20 units (memory is checked separately when the network is built).
    pub const MAX_WIDTH: usize = 1 << 20;
    /// Deepest network: 1,000 weight matrices.
    pub const MAX_DEPTH: usize = 1000;
    /// Largest batch: 2^20 examples (a batch larger than the training set uses all of it).
    pub const MAX_BATCH: usize = 1 << 20;
    /// Largest step budget: 10^9 steps (the paper's longest runs use 2^19).
    pub const MAX_STEPS: usize = 1_000_000_000;
    /// Largest decay period and training-set size: 10^9.
    pub const MAX_COUNT: usize = 1_000_000_000;
    /// Largest translation, in pixels, before the image size is known (then: the image side).
    pub const MAX_TRANSLATE: usize = 1024;

    /// A hidden width: 1 to [`MAX_WIDTH`].
    pub fn width(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_WIDTH)
    }
    /// A depth (weight matrices): 1 to [`MAX_DEPTH`].
    pub fn depth(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_DEPTH)
    }
    /// A batch size: 1 to [`MAX_BATCH`].
    pub fn batch(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_BATCH)
    }
    /// At least one step: a run that takes no step is not training.
    pub fn steps(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_STEPS)
    }
    /// A decay period in epochs: 1 to [`MAX_COUNT`].
    pub fn lr_decay_epochs(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_COUNT)
    }
    /// A training-set size: 1 to [`MAX_COUNT`].
    pub fn train_size(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_COUNT)
    }
    /// A translation in pixels: 0 to [`MAX_TRANSLATE`].
    pub fn translate(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 0, MAX_TRANSLATE)
    }
    /// A finite learning rate greater than 0.
    pub fn lr(what: &str, v: f64) -> Result<()> {
        positive_finite(what, v)
    }
    /// A finite init-std multiplier greater than 0.
    pub fn init_scale(what: &str, v: f64) -> Result<()> {
        positive_finite(what, v)
    }
    /// The decay factor must shrink the rate or keep it: finite, greater than 0, at most 1
    /// (a negative factor would turn descent into ascent, 0 would stop training).
    pub fn lr_decay_factor(what: &str, v: f64) -> Result<()> {
        if v.is_finite() && v > 0.0 && v <= 1.0 {
            return Ok(());
        }
        Err(OccamError::config(format!(
            "{what} = {v} is out of range: valid values are finite numbers greater than 0 and at most 1"
        )))
    }

    fn positive_finite(what: &str, v: f64) -> Result<()> {
        if v.is_finite() && v > 0.0 {
            return Ok(());
        }
        Err(OccamError::config(format!(
            "{what} = {v} is out of range: valid values are finite numbers greater than 0"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_range_names_the_setting_and_the_value() {
        let bad = [
            (
                "width",
                TrainConfig {
                    width: 0,
                    ..Default::default()
                },
                "0",
            ),
            (
                "width",
                TrainConfig {
                    width: 1 << 62,
                    ..Default::default()
                },
                "4611686018427387904",
            ),
            (
                "depth",
                TrainConfig {
                    depth: 1001,
                    ..Default::default()
                },
                "1001",
            ),
            (
                "batch",
                TrainConfig {
                    batch: 0,
                    ..Default::default()
                },
                "0",
            ),
            (
                "steps",
                TrainConfig {
                    steps: 0,
                    ..Default::default()
                },
                "0",
            ),
            (
                "lr",
                TrainConfig {
                    lr: f64::NAN,
                    ..Default::default()
                },
                "NaN",
            ),
            (
                "init_scale",
                TrainConfig {
                    init_scale: -1.0,
                    ..Default::default()
                },
                "-1",
            ),
            (
                "lr_decay_factor",
                TrainConfig {
                    lr_decay_factor: -1.0,
                    ..Default::default()
                },
                "-1",
            ),
            (
                "lr_decay_factor",
                TrainConfig {
                    lr_decay_factor: f64::NAN,
                    ..Default::default()
                },
                "NaN",
            ),
            (
                "lr_decay_factor",
                TrainConfig {
                    lr_decay_factor: f64::INFINITY,
                    ..Default::default()
                },
                "inf",
            ),
            (
                "lr_decay_factor",
                TrainConfig {
                    lr_decay_factor: 0.0,
                    ..Default::default()
                },
                "0",
            ),
            (
                "lr_decay_factor",
                TrainConfig {
                    lr_decay_factor: 1.5,
                    ..Default::default()
                },
                "1.5",
            ),
            (
                "lr_decay_epochs",
                TrainConfig {
                    lr_decay_epochs: 0,
                    ..Default::default()
                },
                "0",
            ),
            (
                "train_size",
                TrainConfig {
                    train_size: Some(0),
                    ..Default::default()
                },
                "0",
            ),
            (
                "fallback_at",
                TrainConfig {
                    fallback_at: Some(0),
                    ..Default::default()
                },
                "0",
            ),
            (
                "lbfgs_steps",
                TrainConfig {
                    lbfgs_steps: Some(0),
                    ..Default::default()
                },
                "0",
            ),
        ];
        for (field, config, value) in bad {
            let e = config.validate_named(&|f| format!("--{f}")).unwrap_err().to_string();
            assert!(e.contains(&format!("--{field} = {value} ")), "{field}: {e}");
            assert!(e.contains("valid values"), "{field}: {e}");
        }
        let mut c = TrainConfig::default();
        c.augment.translate = 5000;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("augment.translate = 5000")
        );
        assert!(
            TrainConfig {
                lr_decay_factor: 1.0,
                ..Default::default()
            }
            .validate()
            .is_ok()
        );
        assert!(TrainConfig::default().validate().is_ok());
    }
}
