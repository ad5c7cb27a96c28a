//! What a sweep will spend its time on, before anything runs: the number of trials, how
//! many trials take each value of every axis (counted on the expanded trial list), and an
//! estimate of the floating-point operations of training and measuring them. Nothing is
//! loaded: dataset sizes come from the dataset's name.

use super::spec::{AugmentPreset, Axes, MeasureSpec, SweepSpec, TrialSpec};
use crate::data::DatasetKind;
use crate::error::{OccamError, Result};
use crate::measure::profile::Method;
use crate::measure::trajectory::TrajectoryKind;
use crate::train::{OptimizerKind, TrainConfig};
use serde::Serialize;
use std::collections::BTreeMap;

/// Examples in the test split of every supported dataset.
const TEST_SIZE: usize = 10_000;

/// The plan of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub sweep: String,
    pub trials: usize,
    /// Per axis (by its spec key), the number of trials per value (by its spec text).
    pub axes: BTreeMap<&'static str, BTreeMap<String, usize>>,
    /// Total estimated floating-point operations: the sum of `flops`.
    pub estimated_flops: f64,
    pub flops: FlopEstimate,
}

/// Estimated floating-point operations by part of the work, summed over the trials.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct FlopEstimate {
    /// Forward and backward passes of training (the whole step budget).
    pub training: f64,
    /// Final train and test accuracy and loss.
    pub evaluation: f64,
    /// Input-Jacobian norms on the test points.
    pub jacobian: f64,
    /// Transitions along the trajectories.
    pub transitions: f64,
    /// Profiles along trajectories.
    pub profiles: f64,
    /// Region maps before and after training.
    pub regions: f64,
}

impl FlopEstimate {
    fn total(&self) -> f64 {
        self.training + self.evaluation + self.jacobian + self.transitions + self.profiles + self.regions
    }

    fn add(&mut self, o: &FlopEstimate) {
        self.training += o.training;
        self.evaluation += o.evaluation;
        self.jacobian += o.jacobian;
        self.transitions += o.transitions;
        self.profiles += o.profiles;
        self.regions += o.regions;
    }
}

/// The sizes of a dataset that the cost depends on.
#[derive(Debug, Clone, Copy)]
struct DataSizes {
    input_dim: f64,
    /// Image side (a translation trajectory has one segment per pixel of it).
    side: f64,
    classes: f64,
    /// Examples in the full training split.
    train: usize,
}

/// The sizes of a dataset named as on the command line (`cifar10`, `cifar10:DIR`, …).
fn data_sizes(source: &str, data: &str) -> Result<DataSizes> {
    let kind = DatasetKind::of_spec(data).ok_or_else(|| {
        let names: Vec<&str> = DatasetKind::ALL.iter().map(|d| d.name()).collect();
        OccamError::config(format!(
            "{source}: axes.data = {data:?} is not a known dataset: valid values are {}, optionally followed by :DIR",
            names.join(", ")
        ))
    })?;
    let [height, width, channels] = kind.input_shape();
    Ok(DataSizes {
        input_dim: (height * width * channels) as f64,
        side: width as f64,
        classes: kind.classes() as f64,
        train: crate::data::TRAIN_SIZE,
    })
}

/// Expands the spec (in memory) and counts and estimates its trials. `source` names the
/// spec in errors.
pub fn plan(spec: &SweepSpec, source: &str) -> Result<Plan> {
    let trials = spec.trials();
    let mut flops = FlopEstimate::default();
    for t in &trials {
        flops.add(&trial_flops(t, data_sizes(source, &t.train.data)?));
    }
    Ok(Plan {
        sweep: spec.name.clone(),
        trials: trials.len(),
        axes: count_axis_values(spec, &trials),
        estimated_flops: flops.total(),
        flops,
    })
}

/// The trials per value of every axis. A value is labelled as the spec writes it; values
/// a pair's arm sets that the axis does not list (e.g. the L-BFGS arm's optimizer) are
/// labelled by the configuration's own text.
fn count_axis_values(spec: &SweepSpec, trials: &[TrialSpec]) -> BTreeMap<&'static str, BTreeMap<String, usize>> {
    let listed = serde_json::to_value(&spec.axes).expect("axes serialize");
    let mut out = BTreeMap::new();
    for (axis, name) in Axes::NAMES.iter().enumerate() {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        let reference = TrainConfig::default();
        for (value, label) in listed[name].as_array().into_iter().flatten().enumerate() {
            let mut cfg = reference.clone();
            spec.axes.apply(axis, value, &mut cfg);
            let label = label.as_str().map_or_else(|| label.to_string(), str::to_string);
            labels.insert(Axes::value_text(axis, &cfg), label);
        }
        if *name == "augment" {
            for preset in [AugmentPreset::None, AugmentPreset::Standard, AugmentPreset::Strong] {
                let cfg = TrainConfig {
                    augment: preset.settings(),
                    ..reference.clone()
                };
                let label = serde_json::to_value(preset).expect("preset serializes");
                labels
                    .entry(Axes::value_text(axis, &cfg))
                    .or_insert_with(|| label.as_str().unwrap_or_default().to_string());
            }
        }
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for t in trials {
            let text = Axes::value_text(axis, &t.train);
            let label = labels.get(&text).cloned().unwrap_or(text);
            *counts.entry(label).or_default() += 1;
        }
        out.insert(*name, counts);
    }
    out
}

/// Weights of the network a configuration trains.
fn parameters(cfg: &TrainConfig, data: DataSizes) -> f64 {
    let (d, w, k) = (data.input_dim, cfg.width as f64, data.classes);
    if cfg.depth <= 1 {
        d * k
    } else {
        d * w + (cfg.depth - 2) as f64 * w * w + w * k
    }
}

/// The cost model (docs/SWEEPS.md, "Planning"): with P weights, a forward pass costs 2P
/// per example and a backward pass 4P. Training with a first-order optimizer costs
/// 6·P·batch per step over the whole step budget (an upper bound with `stop_at_100`);
/// L-BFGS costs 6·P·(training-set size) per iteration, up to `lbfgs_steps` when set (one objective and gradient
/// evaluation per iteration; line searches that need more cost more).
fn trial_flops(t: &TrialSpec, data: DataSizes) -> FlopEstimate {
    let cfg = &t.train;
    let p = parameters(cfg, data);
    let train = cfg.train_size.unwrap_or(data.train).min(data.train) as f64;
    let test = TEST_SIZE as f64;
    let examples_per_step = match cfg.optimizer {
        OptimizerKind::Lbfgs => train,
        _ => (cfg.batch as f64).min(train),
    };
    let mut est = FlopEstimate {
        training: 6.0 * p * examples_per_step * cfg.step_budget() as f64,
        evaluation: 2.0 * p * (train + test),
        ..FlopEstimate::default()
    };
    measurement_flops(&t.measure, cfg, data, p, &mut est);
    est
}

/// Measurements: a Jacobian point costs a forward pass and one backward pass per class,
/// 2P·(1 + classes). A trajectory counted exactly costs 2P per basis vector (2 for a
/// segment, 3 for an ellipse) per piece, where pieces are the trajectory's own (one per
/// pixel of the image side for a translation, one for an ellipse) plus one per transition;
/// the transitions are not known in advance and are taken as the number of hidden neurons.
/// A sampled trajectory costs a forward pass per sample. A region map costs a forward pass
/// per grid pixel, twice (before and after training).
fn measurement_flops(m: &MeasureSpec, cfg: &TrainConfig, data: DataSizes, p: f64, est: &mut FlopEstimate) {
    let forward = 2.0 * p;
    let jacobian_point = forward * (1.0 + data.classes);
    est.jacobian = m.jacobian_points.min(TEST_SIZE) as f64 * jacobian_point;
    let hidden = (cfg.width * cfg.depth.saturating_sub(1)) as f64;
    let exact = |kind: TrajectoryKind| match kind {
        TrajectoryKind::Translate => 2.0 * forward * (data.side + hidden),
        _ => 3.0 * forward * (1.0 + hidden),
    };
    let piecewise_linear = cfg.activation.is_piecewise_linear();
    if let Some(t) = &m.transitions {
        let count = match t.trajectory {
            TrajectoryKind::Translate => t.count.min(TEST_SIZE),
            _ => t.count,
        } as f64;
        let per = if t.method == Method::Exact && piecewise_linear {
            exact(t.trajectory)
        } else {
            t.samples as f64 * forward
        };
        est.transitions = count * per;
    }
    if let Some(pr) = &m.profile {
        let per_kind: f64 = pr
            .trajectories
            .iter()
            .map(|&kind| {
                let counting = if piecewise_linear {
                    exact(kind)
                } else {
                    (1u64 << 16) as f64 * forward
                };
                counting + pr.bins as f64 * jacobian_point
            })
            .sum();
        est.profiles = pr.count as f64 * per_kind;
    }
    if let Some(r) = &m.regions {
        est.regions = 2.0 * (r.grid * r.grid) as f64 * forward;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_flops_follow_the_stated_model() {
        // fashion-mnist (784 inputs, 10 classes), width 10, depth 3: P = 784·10 + 10·10 +
        // 10·10 = 8040. Momentum, batch 100, 50 steps: 6·8040·100·50 = 241,200,000.
        // Evaluation on 1,000 training and 10,000 test examples: 2·8040·11000 = 176,880,000.
        // Jacobian on 10 points: 10·2·8040·11 = 1,768,800.
        let spec: SweepSpec = toml::from_str(
            "name = \"x\"\n[axes]\nwidth = [10]\ndepth = [3]\nbatch = [100]\nsteps = [50]\n\
             [fixed]\ntrain_size = 1000\n[measure]\njacobian_points = 10\n",
        )
        .unwrap();
        let p = plan(&spec, "x.toml").unwrap();
        assert_eq!(p.flops.training, 241_200_000.0);
        assert_eq!(p.flops.evaluation, 176_880_000.0);
        assert_eq!(p.flops.jacobian, 1_768_800.0);
        assert_eq!(p.estimated_flops, 241_200_000.0 + 176_880_000.0 + 1_768_800.0);
        // L-BFGS uses the whole training set (1,000) per iteration: 10× the batch of 100.
        let spec: SweepSpec = toml::from_str(
            "name = \"x\"\n[axes]\nwidth = [10]\ndepth = [3]\nbatch = [100]\nsteps = [50]\n\
             optimizer = [\"lbfgs\"]\n[fixed]\ntrain_size = 1000\n",
        )
        .unwrap();
        assert_eq!(plan(&spec, "x.toml").unwrap().flops.training, 2_412_000_000.0);
        // With `lbfgs_steps = 5` the budget is 5 iterations, not the 50 steps: a tenth.
        let spec: SweepSpec = toml::from_str(
            "name = \"x\"\n[axes]\nwidth = [10]\ndepth = [3]\nbatch = [100]\nsteps = [50]\n\
             optimizer = [\"lbfgs\"]\n[fixed]\ntrain_size = 1000\nlbfgs_steps = 5\n",
        )
        .unwrap();
        assert_eq!(plan(&spec, "x.toml").unwrap().flops.training, 241_200_000.0);
    }

    #[test]
    fn cifar_inputs_are_the_centre_crop_occam_trains_on() {
        // CIFAR-10 is read as 24×24×3 = 1728 inputs (not 32×32×3): width 10, depth 3,
        // P = 1728·10 + 10·10 + 10·10 = 17,480; momentum, batch 100, 50 steps:
        // 6·17,480·100·50 = 524,400,000.
        let spec: SweepSpec = toml::from_str(
            "name = \"x\"\n[axes]\ndata = [\"cifar10\"]\nwidth = [10]\ndepth = [3]\nbatch = [100]\n\
             steps = [50]\n[fixed]\ntrain_size = 1000\n",
        )
        .unwrap();
        assert_eq!(plan(&spec, "x.toml").unwrap().flops.training, 524_400_000.0);
    }

    #[test]
    fn an_unknown_dataset_is_named() {
        let spec: SweepSpec = toml::from_str("name = \"x\"\n[axes]\ndata = [\"imagenet\"]\n").unwrap();
        let e = plan(&spec, "x.toml").unwrap_err().to_string();
        assert!(
            e.contains("x.toml: axes.data = \"imagenet\"") && e.contains("cifar100"),
            "{e}"
        );
    }
}
