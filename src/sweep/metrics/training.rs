//! Training metrics: accuracy and cross-entropy on the training and test sets after
//! training, and the generalization gap between the accuracies. Training sets them, so no
//! measurement is registered for them.

use super::{Metric, Scope};

const fn trial(name: &'static str, description: &'static str) -> Metric {
    Metric {
        name,
        scope: Scope::Trial,
        description,
        ranks_generalization: false,
    }
}

pub const TRAIN_ACCURACY: Metric = trial("train_accuracy", "accuracy on the training set after training (0 to 1)");
pub const TEST_ACCURACY: Metric = trial("test_accuracy", "accuracy on the test set after training (0 to 1)");
pub const TRAIN_LOSS: Metric = trial("train_loss", "mean cross-entropy on the training set after training");
pub const TEST_LOSS: Metric = Metric {
    ranks_generalization: true,
    ..trial("test_loss", "mean cross-entropy on the test set after training")
};
pub const GENERALIZATION_GAP: Metric = trial(
    "generalization_gap",
    "train_accuracy − test_accuracy, the generalization gap the sensitivity metrics predict",
);

/// The gap of two accuracies; NaN when either is.
pub fn gap(train_accuracy: f64, test_accuracy: f64) -> f64 {
    train_accuracy - test_accuracy
}
