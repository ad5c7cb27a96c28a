//! A sweep store read as columns through the library's `occam::store::read`: the same
//! tables `occam sweep export` writes (one row per trial, or one row per stored point),
//! each column with its type, ready for pandas.

use crate::errors::{IntoPy, invalid};
use numpy::IntoPyArray;
use occam::store::{self, Rows, Values};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyList;
use std::path::PathBuf;

/// A column of optional values as a Python list (None where the row has no value).
fn list<'py, T: IntoPyObjectExt<'py> + Clone>(py: Python<'py>, values: &[Option<T>]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for v in values {
        match v {
            Some(v) => out.append(v.clone().into_bound_py_any(py)?)?,
            None => out.append(py.None())?,
        }
    }
    Ok(out)
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
        "trials" => Rows::Trials,
        "points" => Rows::Points,
        other => {
            return Err(invalid(format!(
                "rows: '{other}' is not a table: use 'trials' or 'points'"
            )));
        }
    };
    let table = py.detach(|| store::read(&path, kind)).py_err()?;
    let mut names = Vec::with_capacity(table.columns.len());
    let out = PyList::empty(py);
    for column in table.columns {
        let kind = match column.values {
            Values::Int(v) => {
                out.append(list(py, &v)?)?;
                "int64"
            }
            Values::UInt(v) => {
                out.append(list(py, &v)?)?;
                "uint64"
            }
            Values::Float(v) => {
                out.append(v.into_pyarray(py))?;
                "float64"
            }
            Values::Bool(v) => {
                out.append(list(py, &v)?)?;
                "bool"
            }
            Values::Text(v) => {
                out.append(list(py, &v)?)?;
                "str"
            }
        };
        names.push((column.name, kind));
    }
    Ok((names, out))
}
