//! The exported table: its typed columns and its rows, one per trial or one per stored
//! point, built from a store's trials. Every writer (CSV, JSON lines, Parquet) reads the
//! same table, so the three formats always carry the same columns and values.

use super::flatten::{drop_parents, flatten, full_template, merge_names};
use crate::sweep::metrics::{self, MetricValues, PointRow, Scope};
use crate::sweep::store::{TrialRecord, TrialStatus};
use serde_json::Value;
use std::collections::HashMap;

/// The version of Occam writing the export.
pub const OCCAM_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What one row of the export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// One row per trial: configuration and results.
    Trials,
    /// One row per stored per-point measurement, with its trial's configuration.
    Points,
}

/// The type of a column, as Parquet stores it (pandas: Int64, UInt64, float64, bool, object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Int64,
    /// Only for integers above 2^63 − 1 (never produced by a spec written in TOML).
    UInt64,
    Float64,
    Boolean,
    /// Text; arrays and objects are written as their JSON text.
    Utf8,
}

impl ColumnKind {
    /// The type of one non-null JSON value.
    fn of(v: &Value) -> Option<ColumnKind> {
        match v {
            Value::Null => None,
            Value::Bool(_) => Some(ColumnKind::Boolean),
            Value::Number(n) if n.is_i64() => Some(ColumnKind::Int64),
            Value::Number(n) if n.is_u64() => Some(ColumnKind::UInt64),
            Value::Number(_) => Some(ColumnKind::Float64),
            Value::String(_) | Value::Array(_) | Value::Object(_) => Some(ColumnKind::Utf8),
        }
    }

    /// The narrowest type holding values of both types.
    fn widen(self, other: ColumnKind) -> ColumnKind {
        use ColumnKind::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Int64, UInt64) | (UInt64, Int64) => UInt64,
            (Int64 | UInt64 | Float64, Int64 | UInt64 | Float64) => Float64,
            _ => Utf8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// A trial with its configuration values lined up with the table's configuration columns.
struct PreparedTrial<'a> {
    record: &'a TrialRecord,
    config: Vec<Value>,
    finished_at: Value,
}

type TrialValue = fn(&PreparedTrial) -> Value;
type PointValue = fn(&PreparedTrial, &PointRow) -> Value;
type TrialField = (&'static str, ColumnKind, TrialValue);
type PointField = (&'static str, ColumnKind, PointValue);

/// Columns before the configuration in a trial row.
const TRIAL_HEAD: [TrialField; 5] = [
    ("id", ColumnKind::Utf8, |t| Value::from(t.record.id.as_str())),
    ("sweep", ColumnKind::Utf8, |t| Value::from(t.record.sweep.as_str())),
    ("trial_index", ColumnKind::Int64, |t| Value::from(t.record.index)),
    ("status", ColumnKind::Utf8, |t| Value::from(t.record.status.name())),
    ("reason", ColumnKind::Utf8, |t| Value::from(reason(t.record))),
];

/// Columns after the configuration and before the metrics in a trial row.
const TRIAL_RESULTS: [TrialField; 2] = [
    ("param_count", ColumnKind::Int64, |t| positive(t.record.param_count)),
    ("steps", ColumnKind::Int64, |t| steps(t.record)),
];

/// Columns after the metrics in a trial row.
const TRIAL_TAIL: [TrialField; 6] = [
    ("train_seconds", ColumnKind::Float64, |t| number(t.record.train_seconds)),
    ("measure_seconds", ColumnKind::Float64, |t| {
        number(t.record.measure_seconds)
    }),
    ("threads", ColumnKind::Int64, |t| positive(t.record.threads)),
    ("host", ColumnKind::Utf8, |t| text(&t.record.host)),
    ("finished_at", ColumnKind::Utf8, |t| t.finished_at.clone()),
    ("occam_version", ColumnKind::Utf8, |_| Value::from(OCCAM_VERSION)),
];

/// Columns before the metrics in a point row.
const POINT_HEAD: [PointField; 6] = [
    ("id", ColumnKind::Utf8, |t, _| Value::from(t.record.id.as_str())),
    ("sweep", ColumnKind::Utf8, |t, _| Value::from(t.record.sweep.as_str())),
    ("trial_index", ColumnKind::Int64, |t, _| Value::from(t.record.index)),
    ("point_index", ColumnKind::Int64, |_, p| Value::from(p.index)),
    ("label", ColumnKind::Int64, |_, p| Value::from(p.label)),
    ("predicted", ColumnKind::Int64, |_, p| Value::from(p.predicted)),
];

/// Columns after the metrics and before the configuration in a point row.
const POINT_STATUS: [PointField; 1] = [("status", ColumnKind::Utf8, |t, _| Value::from(t.record.status.name()))];

/// Columns after the configuration in a point row.
const POINT_TAIL: [PointField; 1] = [("occam_version", ColumnKind::Utf8, |_, _| Value::from(OCCAM_VERSION))];

/// Where a column's values come from.
enum Source {
    Trial(TrialValue),
    Point(PointValue),
    /// The n-th configuration column.
    Config(usize),
    /// A per-trial metric, by name (registered, or found in the store).
    TrialMetric(String),
    /// A per-point metric, by name.
    PointMetric(String),
}

/// The metric columns: every registered metric of the scope, in registry order, then any
/// other name the trials hold (written by a newer Occam), so an export loses nothing.
fn metric_names<'r>(scope: Scope, stored: impl Iterator<Item = &'r MetricValues>) -> Vec<String> {
    let registered = match scope {
        Scope::Trial => metrics::TRIAL_METRICS,
        Scope::Point => metrics::POINT_METRICS,
    };
    let mut names: Vec<String> = registered.iter().map(|m| m.name.to_string()).collect();
    let mut extra: Vec<String> = Vec::new();
    for values in stored {
        for name in values.unregistered(scope) {
            if !extra.iter().any(|e| e == name) {
                extra.push(name.to_string());
            }
        }
    }
    extra.sort();
    names.extend(extra);
    names
}

/// A finite number, or null (a non-finite or missing metric is never a number).
fn number(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A count that is positive whenever it is known (0 is what the store holds for "none").
fn positive(n: usize) -> Value {
    if n == 0 { Value::Null } else { Value::from(n) }
}

fn text(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { Value::from(s) }
}

/// Steps taken; a trial that failed before training has none (null, not 0).
fn steps(r: &TrialRecord) -> Value {
    if r.status == TrialStatus::Failed && r.steps == 0 {
        Value::Null
    } else {
        Value::from(r.steps)
    }
}

/// Why the trial ended as it did: the stored reason, or for a trial without one a
/// sentence for its status, so the column is text in every row.
pub fn reason(r: &TrialRecord) -> String {
    if let Some(reason) = r.reason.as_deref().filter(|s| !s.is_empty()) {
        return reason.to_string();
    }
    match r.status {
        TrialStatus::Completed => "trained for the whole step budget and measured",
        TrialStatus::Reached100 => "stopped early at 100% training accuracy and measured",
        TrialStatus::Diverged => "the training loss became non-finite; not measured",
        TrialStatus::NonFinite => "a measurement gave a non-finite number",
        TrialStatus::Failed => "failed; no reason was recorded",
    }
    .to_string()
}

/// The rows of an export, with their columns.
pub struct Table<'a> {
    kind: RowKind,
    columns: Vec<Column>,
    sources: Vec<Source>,
    trials: Vec<PreparedTrial<'a>>,
}

impl<'a> Table<'a> {
    /// Builds the table of `trials`; `finished_at` maps trial ids to their storage time.
    pub fn new(kind: RowKind, trials: &'a [TrialRecord], finished_at: &HashMap<String, String>) -> Table<'a> {
        let flat: Vec<Vec<(String, Value)>> = trials.iter().map(|r| flatten(&r.spec)).collect();
        let template = flatten(&full_template());
        let mut names: Vec<String> = Vec::new();
        merge_names(&mut names, &template);
        for leaves in &flat {
            merge_names(&mut names, leaves);
        }
        drop_parents(&mut names);
        let config_columns: Vec<Column> = names
            .iter()
            .map(|name| Column {
                name: name.clone(),
                kind: config_kind(name, &flat, &template),
            })
            .collect();
        let prepared = trials
            .iter()
            .zip(flat)
            .map(|(record, leaves)| {
                let by_name: HashMap<String, Value> = leaves.into_iter().collect();
                PreparedTrial {
                    record,
                    config: names
                        .iter()
                        .map(|n| by_name.get(n).cloned().unwrap_or(Value::Null))
                        .collect(),
                    finished_at: finished_at
                        .get(&record.id)
                        .map_or(Value::Null, |t| Value::from(t.as_str())),
                }
            })
            .collect();
        let mut layout: Vec<(Column, Source)> = Vec::new();
        let mut add = |name: &str, kind: ColumnKind, source: Source| {
            layout.push((
                Column {
                    name: name.to_string(),
                    kind,
                },
                source,
            ))
        };
        let trial_fields = |fields: &[TrialField], add: &mut dyn FnMut(&str, ColumnKind, Source)| {
            for &(n, k, f) in fields {
                add(n, k, Source::Trial(f));
            }
        };
        let point_fields = |fields: &[PointField], add: &mut dyn FnMut(&str, ColumnKind, Source)| {
            for &(n, k, f) in fields {
                add(n, k, Source::Point(f));
            }
        };
        let configuration = |add: &mut dyn FnMut(&str, ColumnKind, Source)| {
            for (i, c) in config_columns.iter().enumerate() {
                add(&c.name, c.kind, Source::Config(i));
            }
        };
        match kind {
            RowKind::Trials => {
                trial_fields(&TRIAL_HEAD, &mut add);
                configuration(&mut add);
                trial_fields(&TRIAL_RESULTS, &mut add);
                for name in metric_names(Scope::Trial, trials.iter().map(|r| &r.metrics)) {
                    add(&name, ColumnKind::Float64, Source::TrialMetric(name.clone()));
                }
                trial_fields(&TRIAL_TAIL, &mut add);
            }
            RowKind::Points => {
                point_fields(&POINT_HEAD, &mut add);
                let stored = trials.iter().flat_map(|r| r.points.iter().map(|p| &p.values));
                for name in metric_names(Scope::Point, stored) {
                    add(&name, ColumnKind::Float64, Source::PointMetric(name.clone()));
                }
                point_fields(&POINT_STATUS, &mut add);
                configuration(&mut add);
                point_fields(&POINT_TAIL, &mut add);
            }
        }
        let (columns, sources) = layout.into_iter().unzip();
        Table {
            kind,
            columns,
            sources,
            trials: prepared,
        }
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self.kind {
            RowKind::Trials => self.trials.len(),
            RowKind::Points => self.trials.iter().map(|t| t.record.points.len()).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows, each a value per column (null for missing), produced one at a time.
    pub fn rows(&self) -> Box<dyn Iterator<Item = Vec<Value>> + '_> {
        match self.kind {
            RowKind::Trials => Box::new(self.trials.iter().map(|t| self.row(t, None))),
            RowKind::Points => Box::new(
                self.trials
                    .iter()
                    .flat_map(move |t| t.record.points.iter().map(move |p| self.row(t, Some(p)))),
            ),
        }
    }

    /// One row: of a trial, or of one of its points.
    fn row(&self, t: &PreparedTrial, point: Option<&PointRow>) -> Vec<Value> {
        self.sources
            .iter()
            .map(|source| match (source, point) {
                (Source::Trial(f), _) => f(t),
                (Source::Point(f), Some(p)) => f(t, p),
                (Source::Config(i), _) => t.config[*i].clone(),
                (Source::TrialMetric(name), _) => number(t.record.metrics.by_name(name)),
                (Source::PointMetric(name), Some(p)) => number(p.values.by_name(name)),
                (Source::Point(_) | Source::PointMetric(_), None) => Value::Null,
            })
            .collect()
    }
}

/// The type of a configuration column: that of its values in the trials, or, where
/// every trial leaves it out, that of the template's value.
fn config_kind(name: &str, flat: &[Vec<(String, Value)>], template: &[(String, Value)]) -> ColumnKind {
    let in_trials = flat
        .iter()
        .flat_map(|leaves| leaves.iter().filter(|(n, _)| n == name))
        .filter_map(|(_, v)| ColumnKind::of(v))
        .reduce(ColumnKind::widen);
    in_trials
        .or_else(|| {
            template
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, v)| ColumnKind::of(v))
        })
        .unwrap_or(ColumnKind::Utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_widen_to_hold_every_value() {
        use ColumnKind::*;
        assert_eq!(Int64.widen(Float64), Float64);
        assert_eq!(Int64.widen(UInt64), UInt64);
        assert_eq!(Boolean.widen(Int64), Utf8);
        assert_eq!(ColumnKind::of(&serde_json::json!(1.0)), Some(Float64));
        assert_eq!(ColumnKind::of(&serde_json::json!(u64::MAX)), Some(UInt64));
    }
}
