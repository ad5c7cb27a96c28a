//! Non-finite arithmetic in a measurement: which point and which quantity was NaN or
//! infinite. The CLI turns it into an error naming the model; a sweep records the trial as
//! `non_finite` with the affected metrics NULL. A non-finite value is never averaged or
//! reported as a number.

use super::jacobian::PointJacobian;

/// The quantity that came out non-finite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// The softmax output's Jacobian norm.
    JacobianNorm,
    /// The logits' Jacobian norm.
    LogitJacobianNorm,
    /// The norm of the true class's Jacobian row.
    TargetRowNorm,
    /// The cross-entropy.
    Loss,
    /// A pre-activation of hidden layer `layer` (1-based) along a trajectory.
    PreActivation {
        /// The hidden layer, 1-based.
        layer: usize,
    },
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantity::JacobianNorm => write!(f, "the Jacobian norm"),
            Quantity::LogitJacobianNorm => write!(f, "the logit Jacobian norm"),
            Quantity::TargetRowNorm => write!(f, "the target-row norm"),
            Quantity::Loss => write!(f, "the loss"),
            Quantity::PreActivation { layer } => write!(f, "a pre-activation of hidden layer {layer}"),
        }
    }
}

/// Where a measurement first became non-finite: the index of the point (or trajectory,
/// or grid pixel) within the measured set, the quantity and its value. It displays as
/// the quantity and value; callers say where.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NonFinite {
    /// Index of the point, trajectory or grid pixel within the measured set.
    pub point: usize,
    /// What was non-finite.
    pub quantity: Quantity,
    /// Its value (NaN or infinite).
    pub value: f64,
}

impl std::fmt::Display for NonFinite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is {} (the network's arithmetic overflowed: its weights or inputs are too large)",
            self.quantity, self.value
        )
    }
}

impl NonFinite {
    /// The same finding, at point `point` of a larger set.
    pub fn at(self, point: usize) -> NonFinite {
        NonFinite { point, ..self }
    }
}

/// The first non-finite quantity among per-point Jacobian results (`first_index` is the
/// index of `points[0]`); the loss and target row are checked only when `labelled`.
pub fn check_jacobians(points: &[PointJacobian], first_index: usize, labelled: bool) -> Result<(), NonFinite> {
    for (i, p) in points.iter().enumerate() {
        let mut quantities = vec![
            (Quantity::JacobianNorm, p.jacobian_norm),
            (Quantity::LogitJacobianNorm, p.logit_jacobian_norm),
        ];
        if labelled {
            quantities.push((Quantity::TargetRowNorm, p.target_row_norm));
            quantities.push((Quantity::Loss, p.loss));
        }
        if let Some(&(quantity, value)) = quantities.iter().find(|(_, v)| !v.is_finite()) {
            return Err(NonFinite {
                point: first_index + i,
                quantity,
                value,
            });
        }
    }
    Ok(())
}
