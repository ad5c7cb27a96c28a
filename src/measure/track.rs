//! Sensitivity over training: what is measured at each checkpoint of a tracked run (train
//! and test accuracy, their gap, the mean Jacobian norm on the first test points and the
//! mean transitions per trajectory), computed exactly as the final measurement of a sweep
//! trial computes them, so that the last checkpoint equals the trial's final metrics; and
//! the rows as `track.csv`.

use super::finite::check_jacobians;
use super::jacobian::jacobian_norms;
use super::profile::Method;
use super::trajectory::{self, TrajectoryKind};
use super::transitions::{exact_transitions, sampled_transitions};
use crate::compute::Compute;
use crate::data::{Dataset, Splits};
use crate::error::Result;
use crate::net::{Mlp, engine};

/// What to measure at each checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackSettings {
    /// Test points (the first ones) for the mean Jacobian norm; 0 = not measured.
    pub jacobian_points: usize,
    /// Transitions to count; `None` = not counted.
    pub transitions: Option<TrackTransitions>,
}

/// Transitions along `count` trajectories of one kind, as a sweep's final measurement
/// counts them: `translate` uses at most one trajectory per test point; activations that
/// are not piecewise linear are always sampled.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackTransitions {
    pub trajectory: TrajectoryKind,
    pub count: usize,
    pub method: Method,
    /// Samples per trajectory when sampled.
    pub samples: usize,
    /// Seed of random ellipses and training triplets.
    pub seed: u64,
}

/// The measurements at one checkpoint; NaN where not measured or non-finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackRow {
    pub step: usize,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    /// train_accuracy − test_accuracy.
    pub gap: f64,
    pub jacobian_norm: f64,
    pub transitions: f64,
}

/// Measures `net` at `step`. `train_set` is the set the run trains on (its accuracy is
/// the run's train accuracy); trajectories come from `splits` as in a final measurement.
/// An error is a trajectory that cannot be built (e.g. too few classes for a triplet).
pub fn measure_checkpoint(
    step: usize,
    net: &Mlp,
    compute: &Compute,
    train_set: &Dataset,
    splits: &Splits,
    settings: &TrackSettings,
) -> Result<TrackRow> {
    let train_accuracy = engine::evaluate(net, compute, train_set).accuracy;
    let test_accuracy = engine::evaluate(net, compute, &splits.test).accuracy;
    let jacobian_norm = match settings.jacobian_points {
        0 => f64::NAN,
        points => mean_jacobian_norm(net, compute, &splits.test, points),
    };
    let transitions = match &settings.transitions {
        Some(t) => mean_transitions(net, compute, splits, t)?,
        None => f64::NAN,
    };
    Ok(TrackRow {
        step,
        train_accuracy,
        test_accuracy,
        gap: train_accuracy - test_accuracy,
        jacobian_norm,
        transitions,
    })
}

/// Fails before any training if the trajectories cannot be built from these splits (a
/// triplet kind needs three examples of one class or of three classes; that does not
/// depend on the trajectory's index). An empty test split is left to training to refuse.
pub fn check_trajectories(splits: &Splits, settings: &TrackSettings) -> Result<()> {
    if let Some(t) = &settings.transitions
        && t.count > 0
        && !splits.test.is_empty()
    {
        trajectory::build(t.trajectory, &splits.test, &splits.train, 0, t.seed)?;
    }
    Ok(())
}

/// The mean ‖J‖_F over the first `points` test points (NaN if any result is non-finite).
fn mean_jacobian_norm(net: &Mlp, compute: &Compute, test: &Dataset, points: usize) -> f64 {
    let n = points.min(test.len());
    let d = test.dim();
    let jac = jacobian_norms(net, compute, &test.inputs[..n * d], Some(&test.labels[..n]));
    if check_jacobians(&jac, 0, true).is_err() {
        return f64::NAN;
    }
    jac.iter().map(|p| p.jacobian_norm).sum::<f64>() / n as f64
}

/// The mean transitions per trajectory (NaN if any count met non-finite arithmetic).
fn mean_transitions(net: &Mlp, compute: &Compute, splits: &Splits, t: &TrackTransitions) -> Result<f64> {
    let method = if net.activation().is_piecewise_linear() {
        t.method
    } else {
        Method::Sampled
    };
    let count = match t.trajectory {
        TrajectoryKind::Translate => t.count.min(splits.test.len()),
        _ => t.count,
    };
    let mut total = 0u64;
    for i in 0..count {
        let traj = trajectory::build(t.trajectory, &splits.test, &splits.train, i, t.seed)?;
        let counted = match method {
            Method::Exact => exact_transitions(net, compute, &traj, false),
            Method::Sampled => sampled_transitions(net, compute, &traj, t.samples, false),
        };
        if counted.non_finite.is_some() {
            return Ok(f64::NAN);
        }
        total += counted.total;
    }
    Ok(total as f64 / count as f64)
}

/// The CSV header of `track.csv`.
pub const CSV_HEADER: &str = "step,train_accuracy,test_accuracy,gap,jacobian_norm,transitions";

/// The rows as CSV; a value not measured or non-finite is an empty field, never 0.
pub fn to_csv(rows: &[TrackRow]) -> String {
    let field = |v: f64| if v.is_finite() { v.to_string() } else { String::new() };
    let mut out = format!("{CSV_HEADER}\n");
    for r in rows {
        out += &format!(
            "{},{},{},{},{},{}\n",
            r.step,
            field(r.train_accuracy),
            field(r.test_accuracy),
            field(r.gap),
            field(r.jacobian_norm),
            field(r.transitions)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_values_are_empty_fields_not_zero() {
        let row = TrackRow {
            step: 7,
            train_accuracy: 1.0,
            test_accuracy: 0.75,
            gap: 0.25,
            jacobian_norm: f64::NAN,
            transitions: 12.5,
        };
        assert_eq!(to_csv(&[row]), format!("{CSV_HEADER}\n7,1,0.75,0.25,,12.5\n"));
    }
}
