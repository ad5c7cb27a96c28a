//! Running one trial: train, then measure what the spec asks for, into a [`TrialRecord`].
//! Errors and panics inside a trial become a `failed` record with the reason; a diverged
//! network is recorded with its training metrics and no sensitivity measurements.

use super::spec::TrialSpec;
use super::store::{PointRow, TrialRecord, TrialStatus};
use crate::compute::Compute;
use crate::data::Splits;
use crate::measure::jacobian_norms;
use crate::measure::profile::{Method, profile};
use crate::measure::regions::region_map;
use crate::measure::trajectory::{self, TrajectoryKind};
use crate::measure::transitions::{exact_transitions, sampled_transitions};
use crate::net::Mlp;
use crate::train::{self, Status, TrainOutcome};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Trains and measures one trial. Never panics: failures are recorded.
pub fn run_trial(
    sweep: &str,
    index: usize,
    spec: &TrialSpec,
    splits: &Splits,
    compute: &Compute,
    keep_models: Option<&Path>,
) -> TrialRecord {
    let mut record = TrialRecord {
        id: spec.id(),
        sweep: sweep.to_string(),
        index,
        spec: spec.clone(),
        status: TrialStatus::Failed,
        reason: None,
        param_count: 0,
        steps: 0,
        train_accuracy: f64::NAN,
        test_accuracy: f64::NAN,
        train_loss: f64::NAN,
        test_loss: f64::NAN,
        jacobian_norm: f64::NAN,
        logit_jacobian_norm: f64::NAN,
        transitions: f64::NAN,
        train_seconds: f64::NAN,
        measure_seconds: f64::NAN,
        threads: compute.threads(),
        host: hostname(),
        points: Vec::new(),
        artifacts: Vec::new(),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), String> {
        let outcome = train::train(&spec.train, splits, compute, false).map_err(|e| e.to_string())?;
        record.status = outcome.status.into();
        record.param_count = outcome.net.param_count();
        record.steps = outcome.steps;
        record.train_accuracy = outcome.train.accuracy;
        record.test_accuracy = outcome.test.accuracy;
        record.train_loss = outcome.train.loss;
        record.test_loss = outcome.test.loss;
        record.train_seconds = outcome.wall_seconds;
        if let Some(dir) = keep_models {
            outcome
                .net
                .save(&dir.join(format!("{}.safetensors", record.id)))
                .map_err(|e| e.to_string())?;
        }
        if outcome.status != Status::Diverged {
            let started = Instant::now();
            measure(spec, splits, compute, &outcome, &mut record);
            record.measure_seconds = started.elapsed().as_secs_f64();
        }
        Ok(())
    }));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            record.status = TrialStatus::Failed;
            record.reason = Some(reason);
        }
        Err(panic) => {
            record.status = TrialStatus::Failed;
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            record.reason = Some(format!("internal error: {}", text.unwrap_or_else(|| "panic".into())));
        }
    }
    record
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn measure(spec: &TrialSpec, splits: &Splits, compute: &Compute, outcome: &TrainOutcome, record: &mut TrialRecord) {
    let m = &spec.measure;
    let net = &outcome.net;
    let test = &splits.test;
    if m.jacobian_points > 0 {
        let n = m.jacobian_points.min(test.len());
        let d = test.dim();
        let jac = jacobian_norms(net, compute, &test.inputs[..n * d], Some(&test.labels[..n]));
        record.jacobian_norm = jac.iter().map(|p| p.jacobian_norm).sum::<f64>() / n as f64;
        record.logit_jacobian_norm = jac.iter().map(|p| p.logit_jacobian_norm).sum::<f64>() / n as f64;
        if m.per_point {
            record.points = jac
                .iter()
                .enumerate()
                .map(|(i, p)| PointRow {
                    index: i,
                    label: test.labels[i],
                    predicted: p.predicted,
                    loss: p.loss,
                    jacobian_norm: p.jacobian_norm,
                    logit_jacobian_norm: p.logit_jacobian_norm,
                    target_row_norm: p.target_row_norm,
                })
                .collect();
        }
    }
    let method_for = |method: Method| {
        if net.activation.is_piecewise_linear() {
            method
        } else {
            Method::Sampled
        }
    };
    if let Some(t) = &m.transitions {
        let count = if t.trajectory == TrajectoryKind::Translate {
            t.count.min(test.len())
        } else {
            t.count
        };
        let method = method_for(t.method);
        let total: u64 = (0..count)
            .map(|i| {
                let traj = trajectory::build(t.trajectory, test, &splits.train, i, spec.train.seed);
                match method {
                    Method::Exact => exact_transitions(net, compute, &traj, false).total,
                    Method::Sampled => sampled_transitions(net, compute, &traj, t.samples, false).total,
                }
            })
            .sum();
        record.transitions = total as f64 / count.max(1) as f64;
    }
    if let Some(p) = &m.profile {
        let method = method_for(Method::Exact);
        let mut curves = Vec::new();
        for &kind in &p.trajectories {
            let count = if kind == TrajectoryKind::Translate {
                p.count.min(test.len())
            } else {
                p.count
            };
            let trajs: Vec<_> = (0..count)
                .map(|i| trajectory::build(kind, test, &splits.train, i, spec.train.seed))
                .collect();
            let prof = profile(net, compute, &trajs, p.bins, method, 1 << 16, || {});
            curves.push(
                json!({"trajectory": kind.name(), "trajectories": prof.trajectories, "position": prof.position,
                "jacobian_norm": prof.jacobian_norm, "transition_density": prof.transition_density,
                "anchors": prof.anchors, "mean_transitions": prof.mean_transitions}),
            );
        }
        record.artifacts.push((
            "profile".into(),
            json!({"method": method, "curves": curves}).to_string(),
        ));
    }
    if let Some(r) = &m.regions {
        let same = r.triplet == TrajectoryKind::SameClassEllipse;
        let idx = trajectory::pick_triplet(&splits.train, same, spec.train.seed, 0);
        let x = [
            splits.train.input(idx[0]),
            splits.train.input(idx[1]),
            splits.train.input(idx[2]),
        ];
        let layer = net.depth().saturating_sub(2);
        if net.depth() >= 2 {
            let maps: Vec<_> = [&outcome.initial, net]
                .iter()
                .map(|n: &&Mlp| {
                    let map = region_map(n, compute, x, layer, r.grid);
                    json!({"regions": map.regions, "boundary": run_lengths(&map.boundary)})
                })
                .collect();
            let anchors: Vec<[f64; 2]> = crate::measure::trajectory::TRIANGLE_ANGLES
                .iter()
                .map(|t| {
                    [
                        crate::measure::regions::ANCHOR_RADIUS * t.cos(),
                        crate::measure::regions::ANCHOR_RADIUS * t.sin(),
                    ]
                })
                .collect();
            record.artifacts.push((
                "regions".into(),
                json!({"grid": r.grid, "layer": layer + 1, "training_points": idx, "anchors": anchors, "before": maps[0], "after": maps[1]})
                    .to_string(),
            ));
        }
    }
}

/// A boolean mask as alternating run lengths, starting with a run of `false`.
pub fn run_lengths(mask: &[bool]) -> Vec<usize> {
    let mut runs = Vec::new();
    let (mut current, mut len) = (false, 0usize);
    for &b in mask {
        if b == current {
            len += 1;
        } else {
            runs.push(len);
            current = b;
            len = 1;
        }
    }
    runs.push(len);
    runs
}

/// The inverse of [`run_lengths`].
pub fn from_run_lengths(runs: &[usize]) -> Vec<bool> {
    runs.iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat_n(i % 2 == 1, n))
        .collect()
}
