//! Sweep specifications (TOML): hyper-parameter axes as a grid or random samples, optional
//! paired designs (one binary factor flipped), and what to measure after training. A spec
//! expands into a list of trials, each identified by a hash of its full configuration.
//! A spec is validated completely when it is read — its name, every axis value, the fixed
//! and measurement settings, and the number of trials it expands to — so that nothing it
//! says can fail a trial after training has started.

use crate::data::Augmentation;
use crate::error::{OccamError, Result};
use crate::measure::profile::Method;
use crate::measure::trajectory::TrajectoryKind;
use crate::net::Activation;
use crate::train::{OptimizerKind, TrainConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;

mod design;
mod validate;
pub use design::{MAX_SHARE, MIN_SHARE, small_first_shares};
pub use validate::MAX_TRIALS;

/// How the axes are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every combination of the axes.
    #[default]
    Grid,
    /// `samples` random combinations (distinct), seeded by `seed`.
    Random,
    /// `samples` random base combinations (seeded by `seed`), each varied along one axis
    /// at a time over all of that axis's values (not the seed), so that groups of networks
    /// differing in one hyper-parameter exist for the granulated Kendall τ.
    Granulated,
}

/// Named augmentation settings, so an axis can list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AugmentPreset {
    None,
    /// Translation by up to 4 pixels (wrap-around) and horizontal flips.
    Standard,
    /// Translation by up to 1 pixel (wrap-around), no flips: an augmentation small
    /// networks on a small training set still fit and gain test accuracy from (the quick
    /// augmentation study).
    Mild,
    /// Standard plus vertical flips and ±90° rotations (the paper's Figure 3 network).
    Strong,
}

impl AugmentPreset {
    pub fn settings(self) -> Augmentation {
        match self {
            AugmentPreset::None => Augmentation::default(),
            AugmentPreset::Standard => Augmentation::standard(),
            AugmentPreset::Mild => Augmentation {
                translate: 1,
                ..Augmentation::default()
            },
            AugmentPreset::Strong => Augmentation {
                vflip: true,
                rotate90: true,
                ..Augmentation::standard()
            },
        }
    }
}

/// Declares the sweep axes once: the spec's `[axes]` table (field, value type, default
/// taken from `occam train`'s), their names and lengths, and how a value sets a training
/// configuration. Expansion, validation, status messages and reports all go through this.
macro_rules! sweep_axes {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = |$t:ident| $default:expr, |$cfg:ident, $v:ident| $apply:expr,
        |$c:ident| $text:expr;)*) => {
        /// The hyper-parameter axes; each lists the values to combine.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Axes {
            $($(#[$doc])* pub $name: Vec<$ty>,)*
        }

        impl Default for Axes {
            fn default() -> Self {
                let defaults = TrainConfig::default();
                Axes { $($name: vec![{ let $t = &defaults; $default }],)* }
            }
        }

        impl Axes {
            /// The axes' names, in expansion order.
            pub const NAMES: [&'static str; AXIS_COUNT] = [$(stringify!($name)),*];

            /// (name, number of values) of every axis, in expansion order.
            pub fn lengths(&self) -> [(&'static str, usize); AXIS_COUNT] {
                [$((stringify!($name), self.$name.len())),*]
            }

            /// Sets `cfg`'s field of axis `axis` to that axis's value number `value`.
            pub fn apply(&self, axis: usize, value: usize, cfg: &mut TrainConfig) {
                let mut k = 0;
                $(
                    if k == axis {
                        let ($cfg, $v) = (&mut *cfg, &self.$name[value]);
                        $apply;
                    }
                    k += 1;
                )*
                debug_assert!(axis < k, "axis {axis} of {k}");
            }

            /// The value of axis `axis` in a configuration, as text (equal settings give
            /// equal text), for grouping networks by their settings.
            pub fn value_text(axis: usize, config: &TrainConfig) -> String {
                let mut k = 0;
                $(
                    if k == axis {
                        let $c = config;
                        return $text;
                    }
                    k += 1;
                )*
                panic!("axis {axis} of {k}")
            }
        }
    };
}

/// The number of sweep axes.
pub const AXIS_COUNT: usize = 12;

sweep_axes! {
    data: String = |t| t.data.clone(), |c, v| c.data = v.clone(), |c| c.data.clone();
    width: usize = |t| t.width, |c, v| c.width = *v, |c| c.width.to_string();
    depth: usize = |t| t.depth, |c, v| c.depth = *v, |c| c.depth.to_string();
    activation: Activation = |t| t.activation, |c, v| c.activation = *v, |c| c.activation.name().to_string();
    init_scale: f64 = |t| t.init_scale, |c, v| c.init_scale = *v, |c| c.init_scale.to_string();
    optimizer: OptimizerKind = |t| t.optimizer, |c, v| c.optimizer = *v, |c| c.optimizer.name().to_string();
    lr: f64 = |t| t.lr, |c, v| c.lr = *v, |c| c.lr.to_string();
    batch: usize = |t| t.batch, |c, v| c.batch = *v, |c| c.batch.to_string();
    steps: usize = |t| t.steps, |c, v| c.steps = *v, |c| c.steps.to_string();
    /// Named augmentation settings: none, standard, mild or strong.
    augment: AugmentPreset = |_t| AugmentPreset::None, |c, v| c.augment = v.settings(), |c| format!("{:?}", c.augment);
    random_labels: bool = |t| t.random_labels, |c, v| c.random_labels = *v, |c| c.random_labels.to_string();
    seed: u64 = |t| t.seed, |c, v| c.seed = *v, |c| c.seed.to_string();
}

/// Settings shared by every trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fixed {
    pub stop_at_100: bool,
    pub train_size: Option<usize>,
    pub lr_decay_epochs: usize,
    pub lr_decay_factor: f64,
    /// Keep the weights after this step and end with them if the run later diverges.
    /// (Settings added after the first release are left out of the spec's JSON when unset,
    /// so a spec that does not use them keeps its fingerprint and resumes its store.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_at: Option<usize>,
    /// L-BFGS trials' iteration cap, in place of the steps axis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lbfgs_steps: Option<usize>,
    /// Every trial's network has biases (zero at initialization).
    #[serde(skip_serializing_if = "crate::train::is_false")]
    pub bias: bool,
}

impl Default for Fixed {
    fn default() -> Self {
        let t = TrainConfig::default();
        Fixed {
            stop_at_100: false,
            train_size: None,
            lr_decay_epochs: t.lr_decay_epochs,
            lr_decay_factor: t.lr_decay_factor,
            fallback_at: None,
            lbfgs_steps: None,
            bias: false,
        }
    }
}

/// The binary factor a paired design flips (the paper's §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    /// true vs random labels ("on" = random).
    RandomLabels,
    /// with vs without augmentation ("on" = no augmentation, the arm expected to generalize worse).
    NoAugmentation,
    /// relu vs hard_sigmoid ("on" = hard_sigmoid).
    HardSigmoid,
    /// mini-batch optimizer vs full-batch L-BFGS ("on" = L-BFGS).
    FullBatch,
}

impl Factor {
    pub fn name(self) -> &'static str {
        match self {
            Factor::RandomLabels => "random_labels",
            Factor::NoAugmentation => "no_augmentation",
            Factor::HardSigmoid => "hard_sigmoid",
            Factor::FullBatch => "full_batch",
        }
    }
    /// Human-readable names of the two arms (off, on).
    pub fn arms(self) -> (&'static str, &'static str) {
        match self {
            Factor::RandomLabels => ("true labels", "random labels"),
            Factor::NoAugmentation => ("augmentation", "no augmentation"),
            Factor::HardSigmoid => ("relu", "hard_sigmoid"),
            Factor::FullBatch => ("mini-batch", "full-batch L-BFGS"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pairing {
    pub factor: Factor,
    /// L-BFGS iteration cap for the full-batch arm (the paper's 2,684).
    #[serde(default = "default_lbfgs_steps")]
    pub lbfgs_steps: usize,
}

fn default_lbfgs_steps() -> usize {
    2684
}

/// Transitions to count after training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    pub trajectory: TrajectoryKind,
    /// Number of trajectories (test points for `translate`).
    pub count: usize,
    #[serde(default = "default_method")]
    pub method: Method,
    /// Samples per trajectory when sampled.
    #[serde(default = "default_samples")]
    pub samples: usize,
}

fn default_method() -> Method {
    Method::Exact
}
fn default_samples() -> usize {
    1 << 20
}

/// Profiles along trajectories (Figure 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    pub trajectories: Vec<TrajectoryKind>,
    pub count: usize,
    #[serde(default = "default_bins")]
    pub bins: usize,
}

fn default_bins() -> usize {
    256
}

/// Region maps before and after training (Figure 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    #[serde(default = "default_grid")]
    pub grid: usize,
    /// Triplet kind: same-class-ellipse or different-class-ellipse.
    #[serde(default = "default_triplet")]
    pub triplet: TrajectoryKind,
    /// The most regions an exact map may have (piecewise-linear activations); a map with
    /// more is drawn from the grid. Unset: 1,000,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_regions: Option<usize>,
}

fn default_grid() -> usize {
    300
}
fn default_triplet() -> TrajectoryKind {
    TrajectoryKind::DifferentClassEllipse
}

/// What to measure on each trained network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeasureSpec {
    /// Test points for the mean Jacobian norm (0 = skip).
    pub jacobian_points: usize,
    /// Keep per-point Jacobian norms and losses (the §4.4 per-point study).
    pub per_point: bool,
    pub transitions: Option<TransitionSpec>,
    pub profile: Option<ProfileSpec>,
    pub regions: Option<RegionSpec>,
    /// Seed of the random ellipses and the training triplets of data ellipses, as
    /// `occam measure --seed`; unset = the trial's training seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Also measure at this many log-spaced training steps, 2 to 1000 (docs/METRICS.md,
    /// "Tracking"); stored as the `track` artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<usize>,
}

impl Default for MeasureSpec {
    fn default() -> Self {
        MeasureSpec {
            jacobian_points: 1000,
            per_point: false,
            transitions: None,
            profile: None,
            regions: None,
            seed: None,
            track: None,
        }
    }
}

/// A whole sweep, as written in its TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub mode: Mode,
    /// Random mode: number of configurations; granulated mode: number of base configurations.
    #[serde(default)]
    pub samples: usize,
    /// Random and granulated modes: seed of the configuration sampler.
    #[serde(default = "one")]
    pub seed: u64,
    /// Random and granulated modes: draw small widths and depths more often (the paper
    /// sampled small networks more often), each value's share ∝ value^(−α) with α the
    /// largest in [0, 1] keeping every share between 1% and 25% (see [`small_first_shares`]).
    #[serde(default)]
    pub prefer_small: bool,
    #[serde(default)]
    pub axes: Axes,
    #[serde(default)]
    pub fixed: Fixed,
    pub pair: Option<Pairing>,
    #[serde(default)]
    pub measure: MeasureSpec,
}

fn one() -> u64 {
    1
}

/// One unit of work: a training configuration, what to measure, and its place in a pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialSpec {
    pub train: TrainConfig,
    pub measure: MeasureSpec,
    /// Pair identity (hash of the shared configuration) and factor, for paired designs.
    pub pair: Option<PairSlot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairSlot {
    pub group: String,
    pub factor: Factor,
    /// false = the "off" arm, true = the "on" arm (see [`Factor::arms`]).
    pub on: bool,
}

impl TrialSpec {
    /// The seed of the trajectories measured on this trial: `[measure] seed`, else the
    /// training seed (the same seed `occam measure --seed` takes).
    pub fn measure_seed(&self) -> u64 {
        crate::measure::measurement_seed(self.measure.seed, self.train.seed)
    }

    /// A stable identifier: FNV-1a (128-bit) of the canonical JSON (sorted keys).
    pub fn id(&self) -> String {
        stable_hash(&canonical_json(self))
    }
}

/// JSON with object keys sorted, so equal configurations give equal text.
pub fn canonical_json<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).expect("serializable").to_string()
}

/// 128-bit FNV-1a, hex: stable across platforms and versions (unlike `std::hash`).
pub fn stable_hash(text: &str) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in text.bytes() {
        h ^= b as u128;
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("{h:032x}")
}

impl SweepSpec {
    /// Reads and validates a spec file (see [`SweepSpec::validate`]).
    pub fn from_toml_file(path: &Path) -> Result<SweepSpec> {
        let text = crate::data::read_text_file(path, "a sweep spec (TOML)")?;
        let spec: SweepSpec =
            toml::from_str(&text).map_err(|e| OccamError::bad_file(path, format!("invalid sweep spec: {e}")))?;
        spec.validate(&path.display().to_string())?;
        Ok(spec)
    }

    /// The number of values on each axis, by name.
    fn axis_lengths(&self) -> [(&'static str, usize); AXIS_COUNT] {
        self.axes.lengths()
    }

    /// Combinations of the axes; `None` when the count overflows.
    fn combinations(&self) -> Option<usize> {
        self.axis_lengths()
            .iter()
            .try_fold(1usize, |n, (_, len)| n.checked_mul(*len))
    }

    /// The number of trials the spec expands to, at most (pairs that coincide are merged
    /// on expansion); `None` when it overflows.
    pub fn trial_count(&self) -> Option<usize> {
        let combos = self.combinations()?;
        let base = match self.mode {
            Mode::Grid => combos,
            Mode::Random => self.samples.min(combos),
            Mode::Granulated => self.granulated_count()?,
        };
        base.checked_mul(if self.pair.is_some() { 2 } else { 1 })
    }

    /// The configuration every trial starts from: the fixed settings, and `occam train`'s
    /// defaults for the rest (each axis then sets its own field).
    fn base_config(&self) -> TrainConfig {
        TrainConfig {
            stop_at_100: self.fixed.stop_at_100,
            train_size: self.fixed.train_size,
            lr_decay_epochs: self.fixed.lr_decay_epochs,
            lr_decay_factor: self.fixed.lr_decay_factor,
            fallback_at: self.fixed.fallback_at,
            lbfgs_steps: self.fixed.lbfgs_steps,
            bias: self.fixed.bias,
            ..TrainConfig::default()
        }
    }

    /// Every base configuration (before pairing), in a fixed order.
    fn base_configs(&self) -> Vec<TrainConfig> {
        let fixed = self.base_config();
        self.design()
            .iter()
            .map(|ix| {
                let mut cfg = fixed.clone();
                for (axis, &value) in ix.iter().enumerate() {
                    self.axes.apply(axis, value, &mut cfg);
                }
                cfg
            })
            .collect()
    }

    /// Expands the spec into trials (pairs give two trials per base configuration).
    pub fn trials(&self) -> Vec<TrialSpec> {
        let mut out = Vec::new();
        for base in self.base_configs() {
            match &self.pair {
                None => out.push(TrialSpec {
                    train: base,
                    measure: self.measure.clone(),
                    pair: None,
                }),
                Some(p) => {
                    let (off, on) = self.arms(&base, p);
                    let group = stable_hash(&canonical_json(&(&off, &on)));
                    for (cfg, is_on) in [(off, false), (on, true)] {
                        out.push(TrialSpec {
                            train: cfg,
                            measure: self.measure.clone(),
                            pair: Some(PairSlot {
                                group: group.clone(),
                                factor: p.factor,
                                on: is_on,
                            }),
                        });
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        out.retain(|t| seen.insert(t.id()));
        out
    }

    fn arms(&self, base: &TrainConfig, p: &Pairing) -> (TrainConfig, TrainConfig) {
        let (mut off, mut on) = (base.clone(), base.clone());
        match p.factor {
            Factor::RandomLabels => {
                off.random_labels = false;
                on.random_labels = true;
            }
            Factor::NoAugmentation => {
                if off.augment.is_identity() {
                    off.augment = Augmentation::standard();
                }
                on.augment = Augmentation::default();
            }
            Factor::HardSigmoid => {
                off.activation = Activation::Relu;
                on.activation = Activation::HardSigmoid;
            }
            Factor::FullBatch => {
                on.optimizer = OptimizerKind::Lbfgs;
                on.steps = p.lbfgs_steps;
                on.augment = Augmentation::default();
                off.augment = Augmentation::default();
            }
        }
        (off, on)
    }
}
