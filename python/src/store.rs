//! A sweep store read as columns: the same tables `occam export` writes (one row per
//! trial, or one row per stored point), each column with its type, ready for pandas.

use crate::errors::{IntoPy, invalid};
use numpy::IntoPyArray;
use occam::sweep::export::{ColumnKind, RowKind, Table};
use occam::sweep::store::Store;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;
use std::path::PathBuf;

fn kind_name(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::Int64 => "int64",
        ColumnKind::UInt64 => "uint64",
        ColumnKind::Float64 => "float64",
        ColumnKind::Boolean => "bool",
        ColumnKind::Utf8 => "str",
    }
}

/// SQLite's `datetime('now')` text (`2026-11-27 15:01:34`, UTC) as RFC 3339
/// (`2026-11-27T15:01:34Z`), as `occam sweep export` writes it.
fn rfc3339_utc(sqlite_time: &str) -> String {
    let b = sqlite_time.as_bytes();
    if b.len() == 19 && b[10] == b' ' && b[4] == b'-' && b[13] == b':' {
        format!("{}T{}Z", &sqlite_time[..10], &sqlite_time[11..])
    } else {
        sqlite_time.to_string()
    }
}

/// A value as Python sees it: None for null, and arrays or objects as their JSON text
/// (as the export writes them).
fn to_python<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    match v {
        Value::Null => Ok(py.None().into_bound(py)),
        Value::Bool(b) => b.into_bound_py_any(py),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_bound_py_any(py),
            (None, Some(u)) => u.into_bound_py_any(py),
            _ => n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py),
        },
        Value::String(s) => s.into_bound_py_any(py),
        other => other.to_string().into_bound_py_any(py),
    }
}

/// The table of `rows` ('trials' or 'points') of the store at `path`: a list of
/// (name, type) and a list of columns, float64 columns as NumPy arrays (null = NaN),
/// every other column as a list (null = None).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn read_store<'py>(
    py: Python<'py>,
    path: PathBuf,
    rows: &str,
) -> PyResult<(Vec<(String, &'static str)>, Bound<'py, PyList>)> {
    let kind = match rows {
        "trials" => RowKind::Trials,
        "points" => RowKind::Points,
        other => {
            return Err(invalid(format!(
                "rows: '{other}' is not a table: use 'trials' or 'points'"
            )));
        }
    };
    let (trials, finished_at) = py
        .detach(|| -> occam::Result<_> {
            let store = Store::open_existing(&path)?;
            Ok((store.trials()?, store.finished_at()?))
        })
        .py_err()?;
    let finished_at = finished_at.into_iter().map(|(id, at)| (id, rfc3339_utc(&at))).collect();
    let table = Table::new(kind, &trials, &finished_at);
    let columns: Vec<(String, &'static str)> = table
        .columns()
        .iter()
        .map(|c| (c.name.clone(), kind_name(c.kind)))
        .collect();
    let mut cells: Vec<Vec<Value>> = vec![Vec::with_capacity(table.len()); columns.len()];
    for row in table.rows() {
        for (column, value) in cells.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let out = PyList::empty(py);
    for (column, values) in table.columns().iter().zip(&cells) {
        if column.kind == ColumnKind::Float64 {
            let floats: Vec<f64> = values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
            out.append(floats.into_pyarray(py))?;
        } else {
            let list = PyList::empty(py);
            for v in values {
                list.append(to_python(py, v)?)?;
            }
            out.append(list)?;
        }
    }
    Ok((columns, out))
}
