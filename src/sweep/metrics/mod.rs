//! The metric registry: every number a trial or a stored point carries is a [`Metric`]
//! registered here by name, and every measurement that produces metrics after training is
//! a [`Measurement`] registered here. The store (one row per value), the exports (one
//! column per metric) and the report (rank correlations, "not measured" reasons) read these
//! lists, so a new metric is its own file plus one line in [`TRIAL_METRICS`] or
//! [`POINT_METRICS`] (and, if it is measured after training, one line in [`MEASUREMENTS`]).

pub mod jacobian;
pub mod training;
pub mod transitions;

pub use jacobian::{
    JACOBIAN_NORM, JacobianNorms, LOGIT_JACOBIAN_NORM, POINT_JACOBIAN_NORM, POINT_LOGIT_JACOBIAN_NORM, POINT_LOSS,
    TARGET_ROW_NORM,
};
pub use training::{GENERALIZATION_GAP, TEST_ACCURACY, TEST_LOSS, TRAIN_ACCURACY, TRAIN_LOSS, gap};
pub use transitions::{TRANSITIONS, Transitions};

use super::spec::{MeasureSpec, TrialSpec};
use crate::compute::Compute;
use crate::data::Splits;
use crate::net::Mlp;
use std::collections::BTreeMap;

/// What a metric describes: a whole trained network, or one evaluated point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Trial,
    Point,
}

/// A registered metric: its stable name (the store's and the exports' key), what it is,
/// and how the report uses it.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// Stable name: the store key and the export column (never renamed).
    pub name: &'static str,
    pub scope: Scope,
    /// One line for docs and help: what the number is.
    pub description: &'static str,
    /// Whether the report ranks networks' generalization gaps by it (rank correlations).
    pub ranks_generalization: bool,
}

impl PartialEq for Metric {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.scope == other.scope
    }
}

impl Eq for Metric {}

/// Every per-trial metric, in the order exports and reports list them.
pub const TRIAL_METRICS: &[Metric] = &[
    TRAIN_ACCURACY,
    TEST_ACCURACY,
    TRAIN_LOSS,
    TEST_LOSS,
    GENERALIZATION_GAP,
    JACOBIAN_NORM,
    LOGIT_JACOBIAN_NORM,
    TRANSITIONS,
];

/// Every per-point metric, in the order exports list them.
pub const POINT_METRICS: &[Metric] = &[
    POINT_LOSS,
    POINT_JACOBIAN_NORM,
    POINT_LOGIT_JACOBIAN_NORM,
    TARGET_ROW_NORM,
];

/// Every measurement run after training, in the order a trial runs them.
pub const MEASUREMENTS: &[&dyn Measurement] = &[&JacobianNorms, &Transitions];

/// The registered metric of this scope and name.
pub fn find(scope: Scope, name: &str) -> Option<Metric> {
    let list = match scope {
        Scope::Trial => TRIAL_METRICS,
        Scope::Point => POINT_METRICS,
    };
    list.iter().copied().find(|m| m.name == name)
}

/// Why a metric has no value for trials of this measurement spec: `Some(reason)` when the
/// spec does not measure it, `None` when it does (or it is a training metric).
pub fn not_measured(metric: Metric, spec: &MeasureSpec) -> Option<&'static str> {
    MEASUREMENTS
        .iter()
        .find(|m| m.metrics().contains(&metric))
        .and_then(|m| m.not_measured(spec))
}

/// Metric values by name. A metric that was not measured, or came out non-finite, is
/// absent: [`MetricValues::get`] gives NaN for it and the store holds no row for it.
/// Names not registered in this build (a store written by a newer Occam) are kept, so an
/// export loses nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricValues(BTreeMap<String, f64>);

impl MetricValues {
    /// The value, or NaN when it is absent.
    pub fn get(&self, metric: Metric) -> f64 {
        self.by_name(metric.name)
    }

    /// The value stored under a name, or NaN when it is absent.
    pub fn by_name(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(f64::NAN)
    }

    /// Sets a value; a non-finite value is dropped (it is never stored as a number).
    pub fn set(&mut self, metric: Metric, value: f64) {
        self.set_named(metric.name, value);
    }

    /// Sets a value by name (as read from a store); non-finite values are dropped.
    pub fn set_named(&mut self, name: &str, value: f64) {
        if value.is_finite() {
            self.0.insert(name.to_string(), value);
        } else {
            self.0.remove(name);
        }
    }

    /// The finite values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Names present that are not registered for this scope (from a newer Occam).
    pub fn unregistered(&self, scope: Scope) -> impl Iterator<Item = &str> {
        self.0
            .keys()
            .map(String::as_str)
            .filter(move |n| find(scope, n).is_none())
    }
}

/// Per-point measurements of one trial (the per-point study): which point, its label and
/// prediction, and the registered per-point metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct PointRow {
    pub index: usize,
    pub label: u16,
    pub predicted: usize,
    pub values: MetricValues,
}

/// What a trial's measurements need: the trained network and where to measure it.
pub struct TrialContext<'a> {
    pub spec: &'a TrialSpec,
    pub splits: &'a Splits,
    /// The CPU backend of the host-side measurements (transitions, profiles, region maps).
    pub compute: &'a Compute,
    /// Where the Jacobian norms run (the CPU or the trial's GPU stream).
    pub backend: &'a dyn crate::sweep::device::TrialBackend,
    pub net: &'a Mlp,
    /// Seeds the trajectories (random ellipses, data triplets).
    pub seed: u64,
}

impl TrialContext<'_> {
    /// The points a trial is measured on: the test split (true labels), with the
    /// training split supplying the triplets of data ellipses.
    pub fn inputs(&self) -> crate::measure::MeasureInputs<'_> {
        crate::measure::MeasureInputs {
            points: &self.splits.test,
            labelled: true,
            train: &self.splits.train,
        }
    }
}

/// What measurements write: per-trial values, per-point rows, and what came out
/// non-finite (each finding makes the trial `non_finite`).
#[derive(Debug, Default)]
pub struct Measured {
    pub values: MetricValues,
    pub points: Vec<PointRow>,
    pub non_finite: Vec<String>,
}

/// A measurement run after training that produces registered metrics.
pub trait Measurement: Sync {
    /// The metrics it sets.
    fn metrics(&self) -> &'static [Metric];
    /// `Some(why)` when this measurement spec does not ask for it.
    fn not_measured(&self, spec: &MeasureSpec) -> Option<&'static str>;
    /// Measures; an `Err` fails the trial, a non-finite result is a finding in `out`.
    fn run(&self, ctx: &TrialContext, out: &mut Measured) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_a_scope() {
        for list in [TRIAL_METRICS, POINT_METRICS] {
            let mut names: Vec<&str> = list.iter().map(|m| m.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), list.len());
        }
    }

    #[test]
    fn every_measured_metric_is_registered() {
        for m in MEASUREMENTS {
            for metric in m.metrics() {
                assert_eq!(find(metric.scope, metric.name), Some(*metric), "{}", metric.name);
            }
        }
    }

    #[test]
    fn non_finite_values_are_absent_not_numbers() {
        let mut v = MetricValues::default();
        v.set(JACOBIAN_NORM, 1.5);
        v.set(TRANSITIONS, f64::INFINITY);
        assert_eq!(v.get(JACOBIAN_NORM), 1.5);
        assert!(v.get(TRANSITIONS).is_nan());
        v.set(JACOBIAN_NORM, f64::NAN);
        assert_eq!(v.iter().count(), 0);
    }

    #[test]
    fn docs_list_every_registered_metric() {
        let docs = include_str!("../../../docs/METRICS.md");
        let table = &docs[docs.find("## Registered metrics").expect("section")..];
        for m in TRIAL_METRICS.iter().chain(POINT_METRICS) {
            let scope = match m.scope {
                Scope::Trial => "trial",
                Scope::Point => "point",
            };
            let row = format!("| `{}` | {scope} |", m.name);
            assert!(table.contains(&row), "docs/METRICS.md lacks the row {row}");
        }
    }

    #[test]
    fn a_spec_without_transitions_says_so() {
        let spec = MeasureSpec::default();
        assert!(not_measured(TRANSITIONS, &spec).is_some());
        assert!(not_measured(TEST_ACCURACY, &spec).is_none());
    }
}
