//! `occam::store::read`, the library's typed reading of a sweep store, against the
//! command's own export of the same store (tests/fixtures/store-v1/, a real store): the
//! same columns in the same order, and in every row the same value — a float column's
//! NaN exactly where the export has null.

mod common;

use common::ok;
use occam::store::{self, Rows, Values};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn copy_of_fixture(dir: &Path) -> PathBuf {
    let store = dir.join("store.sqlite");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1/store-v1.sqlite");
    std::fs::copy(fixture, &store).unwrap();
    store
}

/// The export's rows, each as (column name, value) in the export's column order.
fn export_rows(store: &Path, points: bool) -> Vec<Vec<(String, Value)>> {
    let s = store.to_str().unwrap();
    let args: Vec<&str> = if points {
        vec!["sweep", "export", s, "--points", "--jsonl", "-"]
    } else {
        vec!["sweep", "export", s, "--jsonl", "-"]
    };
    let text = String::from_utf8(ok(&args).stdout).unwrap();
    text.lines()
        .map(|line| {
            let row: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
            row.into_iter().collect()
        })
        .collect()
}

/// Whether the typed value at `row` equals the export's JSON value.
fn same(values: &Values, row: usize, json: &Value) -> bool {
    match values {
        Values::Float(v) => match json.as_f64() {
            Some(x) => v[row] == x,
            None => json.is_null() && v[row].is_nan(),
        },
        Values::Int(v) => v[row] == json.as_i64(),
        Values::UInt(v) => v[row] == json.as_u64(),
        Values::Bool(v) => v[row] == json.as_bool(),
        Values::Text(v) => match (&v[row], json) {
            (None, Value::Null) => true,
            (Some(s), Value::String(j)) => s == j,
            (Some(s), other) => !other.is_null() && s.as_str() == other.to_string().as_str(),
            (None, _) => false,
        },
    }
}

fn check_against_export(rows: Rows, points: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of_fixture(dir.path());
    let table = store::read(&path, rows).unwrap();
    let exported = export_rows(&path, points);
    assert!(!exported.is_empty());
    assert_eq!(table.len(), exported.len(), "row count");
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    for (i, row) in exported.iter().enumerate() {
        // JSON-lines rows leave out nothing: every column is named in every row.
        let export_names: Vec<&str> = row.iter().map(|(n, _)| n.as_str()).collect();
        let mut sorted_names = names.clone();
        sorted_names.sort();
        let mut sorted_export = export_names.clone();
        sorted_export.sort();
        assert_eq!(sorted_names, sorted_export, "columns of row {i}");
        for (name, value) in row {
            let column = table.column(name).unwrap();
            assert!(
                same(&column.values, i, value),
                "row {i}, column {name}: library {:?} vs export {value}",
                column.values
            );
        }
    }
    // A float column with a missing value reads as NaN, never as a number.
    let has_float = table.columns.iter().any(|c| matches!(c.values, Values::Float(_)));
    assert!(has_float, "the fixture has float columns");
}

#[test]
fn the_trials_table_equals_the_export() {
    check_against_export(Rows::Trials, false);
}

#[test]
fn the_points_table_equals_the_points_export() {
    check_against_export(Rows::Points, true);
}

#[test]
fn reading_is_read_only_and_bad_paths_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of_fixture(dir.path());
    let before = std::fs::read(&path).unwrap();
    store::read(&path, Rows::Trials).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before, "reading changed the store");

    let missing = dir.path().join("nope.sqlite");
    let e = store::read(&missing, Rows::Trials).unwrap_err().to_string();
    assert!(e.contains("nope.sqlite") && e.contains("no such store"), "{e}");

    let not_a_store = dir.path().join("notes.txt");
    std::fs::write(&not_a_store, "hello, this is not SQLite at all, just some text").unwrap();
    let e = store::read(&not_a_store, Rows::Points).unwrap_err().to_string();
    assert!(e.contains("notes.txt"), "{e}");
}
