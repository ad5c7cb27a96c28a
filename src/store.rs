//! Reading a sweep store (the SQLite file `occam sweep run` writes) as typed tables: the
//! same two tables `occam sweep export` writes, one row per trial or one row per stored
//! point, with the same columns in the same order (configuration axes, status, every
//! registered metric, …). A column has one type; a missing value is `None` (NaN in a
//! float column), never a number.
//!
//! ```no_run
//! use occam::store::{self, Rows, Values};
//!
//! let trials = store::read("sweep.sqlite".as_ref(), Rows::Trials)?;
//! if let Some(Values::Float(gap)) = trials.column("generalization_gap").map(|c| &c.values) {
//!     println!("{} trials, first gap {:?}", trials.len(), gap.first());
//! }
//! # Ok::<(), occam::OccamError>(())
//! ```

use crate::error::Result;
use crate::sweep::export::{ColumnKind, Table as ExportTable, finished_at_rfc3339};
use crate::sweep::store::Store;
use serde_json::Value;
use std::path::Path;

pub use crate::sweep::export::RowKind as Rows;

/// One table of a store: its columns, all of the same length.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The columns, in the export's order.
    pub columns: Vec<Column>,
    rows: usize,
}

/// One named column and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name, as in `occam sweep export` (e.g. `width`, `test_accuracy`).
    pub name: String,
    /// Its values, one per row.
    pub values: Values,
}

/// A column's values. Integers that fit are `Int`; only values above 2^63 − 1 make a
/// column `UInt`. Arrays and objects (e.g. an augmentation list) are their JSON text.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Signed integers; `None` where the row has no value.
    Int(Vec<Option<i64>>),
    /// Unsigned integers; `None` where the row has no value.
    UInt(Vec<Option<u64>>),
    /// Floats; NaN where the row has no value (a non-finite result is never stored).
    Float(Vec<f64>),
    /// Booleans; `None` where the row has no value.
    Bool(Vec<Option<bool>>),
    /// Text; `None` where the row has no value.
    Text(Vec<Option<String>>),
}

impl Table {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }
    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }
    /// The column called `name`, if the table has one.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads one table of the store at `path`. The store is opened read-only (an older store
/// is read as it is, not migrated); a missing file or a file that is not an Occam store is
/// an error naming it. A points table of a store without per-point rows is empty.
pub fn read(path: &Path, rows: Rows) -> Result<Table> {
    let store = Store::open_existing(path)?;
    let trials = store.trials()?;
    let finished_at = finished_at_rfc3339(&store)?;
    let table = ExportTable::new(rows, &trials, &finished_at);
    let mut cells: Vec<Vec<Value>> = vec![Vec::with_capacity(table.len()); table.columns().len()];
    for row in table.rows() {
        for (column, value) in cells.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let columns = table
        .columns()
        .iter()
        .zip(cells)
        .map(|(c, values)| Column {
            name: c.name.clone(),
            values: typed(c.kind, values),
        })
        .collect();
    Ok(Table {
        columns,
        rows: table.len(),
    })
}

/// A column's JSON cells as values of its type (the export chose the type from them).
fn typed(kind: ColumnKind, cells: Vec<Value>) -> Values {
    match kind {
        ColumnKind::Int64 => Values::Int(cells.iter().map(Value::as_i64).collect()),
        ColumnKind::UInt64 => Values::UInt(cells.iter().map(Value::as_u64).collect()),
        ColumnKind::Float64 => Values::Float(cells.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect()),
        ColumnKind::Boolean => Values::Bool(cells.iter().map(Value::as_bool).collect()),
        ColumnKind::Utf8 => Values::Text(
            cells
                .into_iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect(),
        ),
    }
}
