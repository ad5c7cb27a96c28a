//! Jacobian-norm metrics: the mean Frobenius norm of the input-output Jacobian of the
//! softmax output (and of the logits) over the first test points, and, for the per-point
//! study, each point's loss, norms and the norm of its target class's row. They run on the
//! trial's device (the CPU, or its GPU stream in `sweep run --device cuda`).

use super::{Measured, Measurement, Metric, MetricValues, PointRow, Scope, TrialContext};
use crate::sweep::spec::MeasureSpec;

const fn metric(name: &'static str, scope: Scope, description: &'static str) -> Metric {
    Metric {
        name,
        scope,
        description,
        ranks_generalization: false,
    }
}

pub const JACOBIAN_NORM: Metric = Metric {
    ranks_generalization: true,
    ..metric(
        "jacobian_norm",
        Scope::Trial,
        "mean Frobenius norm ‖J‖_F of the softmax output's input Jacobian over the test points",
    )
};
pub const LOGIT_JACOBIAN_NORM: Metric = Metric {
    ranks_generalization: true,
    ..metric(
        "logit_jacobian_norm",
        Scope::Trial,
        "mean Frobenius norm of the logits' input Jacobian over the test points",
    )
};
pub const POINT_LOSS: Metric = metric("loss", Scope::Point, "cross-entropy at the point");
pub const POINT_JACOBIAN_NORM: Metric = metric(
    "jacobian_norm",
    Scope::Point,
    "Frobenius norm ‖J‖_F of the softmax output's input Jacobian at the point",
);
pub const POINT_LOGIT_JACOBIAN_NORM: Metric = metric(
    "logit_jacobian_norm",
    Scope::Point,
    "Frobenius norm of the logits' input Jacobian at the point",
);
pub const TARGET_ROW_NORM: Metric = metric(
    "target_row_norm",
    Scope::Point,
    "norm ‖J_y‖ of the Jacobian row of the point's true class",
);

/// Jacobian norms over the first `jacobian_points` test points.
pub struct JacobianNorms;

impl Measurement for JacobianNorms {
    fn metrics(&self) -> &'static [Metric] {
        &[
            JACOBIAN_NORM,
            LOGIT_JACOBIAN_NORM,
            POINT_LOSS,
            POINT_JACOBIAN_NORM,
            POINT_LOGIT_JACOBIAN_NORM,
            TARGET_ROW_NORM,
        ]
    }

    fn not_measured(&self, spec: &MeasureSpec) -> Option<&'static str> {
        (spec.jacobian_points == 0).then_some("not measured: this study computes no Jacobian norms")
    }

    fn run(&self, ctx: &TrialContext, out: &mut Measured) -> Result<(), String> {
        let m = &ctx.spec.measure;
        if m.jacobian_points == 0 {
            return Ok(());
        }
        let test = &ctx.splits.test;
        let n = m.jacobian_points.min(test.len());
        let (jac, non_finite) = ctx
            .backend
            .jacobian_norms(ctx.net, ctx.inputs(), n)
            .map_err(|e| e.to_string())?;
        if let Some(bad) = non_finite {
            out.non_finite
                .push(format!("Jacobian at test point {}: {bad}", bad.point));
            return Ok(());
        }
        let mean =
            |f: &dyn Fn(&crate::measure::jacobian::PointJacobian) -> f64| jac.iter().map(f).sum::<f64>() / n as f64;
        out.values.set(JACOBIAN_NORM, mean(&|p| p.jacobian_norm));
        out.values.set(LOGIT_JACOBIAN_NORM, mean(&|p| p.logit_jacobian_norm));
        if m.per_point {
            out.points = jac
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut values = MetricValues::default();
                    values.set(POINT_LOSS, p.loss);
                    values.set(POINT_JACOBIAN_NORM, p.jacobian_norm);
                    values.set(POINT_LOGIT_JACOBIAN_NORM, p.logit_jacobian_norm);
                    values.set(TARGET_ROW_NORM, p.target_row_norm);
                    PointRow {
                        index: i,
                        label: test.labels[i],
                        predicted: p.predicted,
                        values,
                    }
                })
                .collect();
        }
        Ok(())
    }
}
