//! Profiles along trajectories (the paper's Figure 2): the Jacobian norm and the
//! transition density as functions of position on the loop, averaged over trajectories.

use super::jacobian::jacobian_norms;
use super::trajectory::Trajectory;
use super::transitions::{exact_transitions, sampled_transitions};
use crate::compute::Compute;
use crate::net::Mlp;

/// How transitions are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Closed-form crossings (piecewise-linear φ only).
    Exact,
    /// Codes at k equidistant points.
    Sampled,
}

/// Mean profile over several trajectories of one kind. Position ∈ [0, 1) runs once
/// around each loop; `bins` equal bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Bin centres.
    pub position: Vec<f64>,
    /// Mean ‖J‖_F at the bin centres.
    pub jacobian_norm: Vec<f64>,
    /// Mean crossings per unit of position (so its mean over the loop is the mean t(x)).
    pub transition_density: Vec<f64>,
    pub trajectories: usize,
    /// Anchor positions of the first trajectory (the data points it passes through).
    pub anchors: Vec<f64>,
    /// Mean transitions per trajectory.
    pub mean_transitions: f64,
}

/// Profiles `trajectories` of one kind on `bins` bins, counting transitions by `method`
/// (`k` samples when sampled); `on_each` is called after each trajectory (progress).
pub fn profile(
    net: &Mlp,
    compute: &Compute,
    trajectories: &[Trajectory],
    bins: usize,
    method: Method,
    k: usize,
    mut on_each: impl FnMut(),
) -> Profile {
    let position: Vec<f64> = (0..bins).map(|b| (b as f64 + 0.5) / bins as f64).collect();
    let mut jac = vec![0.0f64; bins];
    let mut density = vec![0.0f64; bins];
    let mut total = 0u64;
    for traj in trajectories {
        let x: Vec<f32> = position.iter().flat_map(|&p| traj.point_at(p)).collect();
        for (j, pj) in jac.iter_mut().zip(jacobian_norms(net, compute, &x, None)) {
            *j += pj.jacobian_norm;
        }
        let count = match method {
            Method::Exact => exact_transitions(net, compute, traj, true),
            Method::Sampled => sampled_transitions(net, compute, traj, k, true),
        };
        total += count.total;
        for p in count.positions {
            density[((p * bins as f64) as usize).min(bins - 1)] += bins as f64;
        }
        on_each();
    }
    let n = trajectories.len().max(1) as f64;
    Profile {
        position,
        jacobian_norm: jac.iter().map(|v| v / n).collect(),
        transition_density: density.iter().map(|v| v / n).collect(),
        trajectories: trajectories.len(),
        anchors: trajectories.first().map(|t| t.anchors.clone()).unwrap_or_default(),
        mean_transitions: total as f64 / n,
    }
}
