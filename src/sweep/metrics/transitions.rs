//! The transitions metric: the mean number of linear-region boundaries crossed per
//! trajectory (exact for piecewise-linear activations, sampled otherwise).

use super::{Measured, Measurement, Metric, Scope, TrialContext};
use crate::measure::profile::Method;
use crate::measure::{MeasureRequest, TrajectoryRequest, measure};
use crate::net::Mlp;
use crate::sweep::spec::MeasureSpec;
use std::ops::ControlFlow;

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
        let request = MeasureRequest {
            transitions: Some(TrajectoryRequest {
                kind: t.trajectory,
                count: t.count,
                method: Some(method_for(ctx.net, t.method)),
                samples: t.samples,
                seed: ctx.seed,
            }),
            ..Default::default()
        };
        let measured = measure(ctx.net, ctx.compute, ctx.inputs(), &request, &mut |_| {
            ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
        let counted = measured.transitions.expect("transitions were requested");
        if let Some(bad) = counted.non_finite {
            out.non_finite.push(format!(
                "transitions along {} trajectory {}: {bad}",
                t.trajectory.name(),
                bad.point
            ));
            return Ok(());
        }
        out.values.set(TRANSITIONS, counted.mean());
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
