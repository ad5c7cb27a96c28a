//! Profiles along trajectories (the paper's Figure 2): the Jacobian norm and the
//! transition density as functions of position on the loop, averaged over trajectories.
//! Trajectories are built a few at a time (one per thread), so their number does not
//! bound memory; sums run in trajectory order, so the thread count changes no bit.

use super::finite::{NonFinite, check_jacobians};
use super::jacobian::{JacobianPlan, PointJacobian};
use super::parallel::in_order_by_groups;
use super::trajectory::Trajectory;
use super::transitions::{ExactWalk, TRAJECTORY_BUDGET, TransitionCount, exact_transitions_by, sampled_transitions};
use crate::compute::Compute;
use crate::error::{OccamError, Result};
use crate::net::Mlp;
use std::ops::ControlFlow;

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
    /// Trajectories averaged.
    pub trajectories: usize,
    /// Anchor positions of the first trajectory (the data points it passes through).
    pub anchors: Vec<f64>,
    /// Mean transitions per trajectory.
    pub mean_transitions: f64,
    /// Set when a trajectory met non-finite arithmetic (`point` = its index); the profile
    /// then stops there and must not be reported.
    pub non_finite: Option<NonFinite>,
}

/// Where a profile's trajectories come from: how many, and the `i`-th of them.
pub struct Trajectories<'a> {
    /// How many trajectories.
    pub count: usize,
    /// Builds the `i`-th trajectory.
    pub build: &'a (dyn Fn(usize) -> Result<Trajectory> + Sync),
}

/// Profiles the trajectories of one kind on `bins` bins, counting transitions by `method`
/// (`k` samples when sampled); `on_each` is called after each trajectory (progress).
pub fn profile(
    net: &Mlp,
    compute: &Compute,
    trajectories: Trajectories,
    bins: usize,
    method: Method,
    k: usize,
    mut on_each: impl FnMut(),
) -> Result<Profile> {
    super::ranges::count("profile trajectories", trajectories.count)?;
    super::ranges::bins("profile bins", bins)?;
    if method == Method::Sampled {
        super::ranges::samples("samples per trajectory", k)?;
    }
    let position: Vec<f64> = (0..bins).map(|b| (b as f64 + 0.5) / bins as f64).collect();
    let mut jac = vec![0.0f64; bins];
    let mut density = vec![0.0f64; bins];
    let mut total = 0u64;
    let mut anchors = Vec::new();
    let mut non_finite = None;
    if method == Method::Exact && !net.activation().is_piecewise_linear() {
        return Err(OccamError::config(format!(
            "exact transitions need a piecewise-linear activation, not {}",
            net.activation()
        )));
    }
    // One trajectory per thread at a time, each on one thread (each exact walk with the
    // same memory budget at any thread count), folded in trajectory order.
    let group = compute.threads();
    let single = Compute::single();
    let jacobian = JacobianPlan::new(&single, net);
    let one = |i: usize| -> Result<(Trajectory, Vec<PointJacobian>, TransitionCount)> {
        let traj = (trajectories.build)(i)?;
        let x: Vec<f32> = position.iter().flat_map(|&p| traj.point_at(p)).collect();
        let points = jacobian.norms(&single, &x, None);
        let count = match method {
            Method::Exact => exact_transitions_by(net, &single, &traj, true, ExactWalk::Rank1, TRAJECTORY_BUDGET),
            Method::Sampled => sampled_transitions(net, &single, &traj, k, true),
        };
        Ok((traj, points, count))
    };
    in_order_by_groups(trajectories.count, group, one, |i, result| {
        let (traj, points, count) = result?;
        if i == 0 {
            anchors = traj.anchors.clone();
        }
        if let Err(bad) = check_jacobians(&points, 0, false) {
            non_finite = Some(bad.at(i));
            return Ok(ControlFlow::Break(()));
        }
        for (j, pj) in jac.iter_mut().zip(points) {
            *j += pj.jacobian_norm;
        }
        if let Some(bad) = count.non_finite {
            non_finite = Some(bad.at(i));
            return Ok(ControlFlow::Break(()));
        }
        total += count.total;
        for p in count.positions {
            density[((p * bins as f64) as usize).min(bins - 1)] += bins as f64;
        }
        on_each();
        Ok(ControlFlow::Continue(()))
    })?;
    let n = trajectories.count as f64;
    Ok(Profile {
        position,
        jacobian_norm: jac.iter().map(|v| v / n).collect(),
        transition_density: density.iter().map(|v| v / n).collect(),
        trajectories: trajectories.count,
        anchors,
        mean_transitions: total as f64 / n,
        non_finite,
    })
}
