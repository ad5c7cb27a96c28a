//! The transitions metric: the mean number of linear-region boundaries crossed per
//! trajectory (exact for piecewise-linear activations, sampled otherwise).

use super::{Measured, Measurement, Metric, Scope, TrialContext};
use crate::measure::profile::Method;
use crate::measure::trajectory::{self, TrajectoryKind};
use crate::measure::transitions::{TransitionCount, exact_transitions, sampled_transitions};
use crate::net::Mlp;
use crate::sweep::spec::MeasureSpec;

pub const TRANSITIONS: Metric = Metric {
    name: "transitions",
    scope: Scope::Trial,
    description: "mean number of linear-region transitions per trajectory",
    ranks_generalization: true,
};

/// Counts transitions along the spec's trajectories.
pub struct Transitions;

impl Measurement for Transitions {
    fn metrics(&self) -> &'static [Metric] {
        &[TRANSITIONS]
    }

    fn not_measured(&self, spec: &MeasureSpec) -> Option<&'static str> {
        spec.transitions
            .is_none()
            .then_some("not measured: this study counts no transitions")
    }

    fn run(&self, ctx: &TrialContext, out: &mut Measured) -> Result<(), String> {
        let Some(t) = &ctx.spec.measure.transitions else {
            return Ok(());
        };
        let (splits, net) = (ctx.splits, ctx.net);
        let method = method_for(net, t.method);
        let count = trajectory_count(t.trajectory, t.count, &splits.test);
        let mut total = 0u64;
        for i in 0..count {
            let traj =
                trajectory::build(t.trajectory, &splits.test, &splits.train, i, ctx.seed).map_err(|e| e.to_string())?;
            let counted: TransitionCount = match method {
                Method::Exact => exact_transitions(net, ctx.compute, &traj, false),
                Method::Sampled => sampled_transitions(net, ctx.compute, &traj, t.samples, false),
            };
            if let Some(bad) = counted.non_finite {
                out.non_finite.push(format!(
                    "transitions along {} trajectory {i}: {bad}",
                    t.trajectory.name()
                ));
                return Ok(());
            }
            total += counted.total;
        }
        out.values.set(TRANSITIONS, total as f64 / count as f64);
        Ok(())
    }
}

/// Exact counting where the activation allows it, sampled otherwise.
pub fn method_for(net: &Mlp, method: Method) -> Method {
    if net.activation().is_piecewise_linear() {
        method
    } else {
        Method::Sampled
    }
}

/// Trajectories to use: `translate` has one per test point, so at most that many.
pub fn trajectory_count(kind: TrajectoryKind, count: usize, test: &crate::data::Dataset) -> usize {
    if kind == TrajectoryKind::Translate {
        count.min(test.len())
    } else {
        count
    }
}
