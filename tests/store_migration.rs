//! A store written by the schema-v1 release (tests/fixtures/store-v1/, written by Occam
//! 0.1 from the three specs beside it, with its exports of that time) stays readable
//! read-only, is migrated to v2 by the first writer, and reads the same numbers before
//! and after: the exports of each equal the exports v1 wrote, value for value.

mod common;

use common::{occam, ok, ok_json, refused};
use occam::sweep::store::SchemaVersion;
use occam::sweep::{Store, TrialRecord};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/store-v1")
        .join(name)
}

/// A private copy of the v1 store.
fn copy_of_v1(dir: &Path) -> PathBuf {
    let store = dir.join("store.sqlite");
    std::fs::copy(fixture("store-v1.sqlite"), &store).unwrap();
    store
}

/// Rows of a JSON-lines export by trial id, without the exporting version's column.
fn rows_by_id(text: &str) -> TrialRows {
    text.lines()
        .map(|line| {
            let mut row: BTreeMap<String, Value> = serde_json::from_str(line).unwrap();
            row.remove("occam_version");
            (row["id"].as_str().unwrap().to_string(), row)
        })
        .collect()
}

fn export_jsonl(store: &Path) -> TrialRows {
    let out = ok(&["sweep", "export", store.to_str().unwrap(), "--jsonl", "-"]);
    rows_by_id(&String::from_utf8(out.stdout).unwrap())
}

/// The per-point CSV export as (trial id, point index) → column → cell text.
fn export_points(store: &Path) -> PointRows {
    let out = ok(&["sweep", "export", store.to_str().unwrap(), "--points", "--csv", "-"]);
    points_by_key(&String::from_utf8(out.stdout).unwrap())
}

fn points_by_key(text: &str) -> PointRows {
    let mut reader = csv_lines(text);
    let header = reader.remove(0);
    reader
        .into_iter()
        .map(|cells| {
            let row: BTreeMap<String, String> = header
                .iter()
                .cloned()
                .zip(cells)
                .filter(|(h, _)| h != "occam_version")
                .collect();
            ((row["id"].clone(), row["point_index"].clone()), row)
        })
        .collect()
}

/// CSV without quoted commas (the fixture's point rows have none; a list column would).
fn csv_lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Trial rows by id; point rows by (trial id, point index).
type TrialRows = BTreeMap<String, BTreeMap<String, Value>>;
type PointRows = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Asserts that an export holds every value the v1 export held, and that each column
/// added since (configuration fields of later releases) is empty for these trials.
fn assert_same_values<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    now: &BTreeMap<K, BTreeMap<String, V>>,
    v1: &BTreeMap<K, BTreeMap<String, V>>,
    empty: impl Fn(&V) -> bool,
    what: &str,
) {
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        v1.keys().collect::<Vec<_>>(),
        "{what}: rows"
    );
    for (key, old) in v1 {
        let new = &now[key];
        for (column, value) in old {
            assert_eq!(new.get(column), Some(value), "{what} {key:?}: column {column}");
        }
        for (column, value) in new.iter().filter(|(c, _)| !old.contains_key(*c)) {
            assert!(
                empty(value),
                "{what} {key:?}: new column {column} = {value:?}, expected empty"
            );
        }
    }
}

fn same_trials(now: &TrialRows, v1: &TrialRows) {
    assert_same_values(now, v1, Value::is_null, "trial export");
}

fn same_points(now: &PointRows, v1: &PointRows) {
    assert_same_values(now, v1, String::is_empty, "point export");
}

fn v1_exports() -> (TrialRows, PointRows) {
    let trials = rows_by_id(&std::fs::read_to_string(fixture("trials-v1.jsonl")).unwrap());
    let points = points_by_key(&std::fs::read_to_string(fixture("points-v1.csv")).unwrap());
    (trials, points)
}

#[test]
fn a_v1_store_reads_the_same_numbers_read_only_and_after_migration() {
    let dir = tempfile::tempdir().unwrap();
    let store = copy_of_v1(dir.path());
    let (v1_trials, v1_points) = v1_exports();
    assert_eq!(v1_trials.len(), 7);
    assert_eq!(v1_points.len(), 40);
    // The fixture has a measured metric, a metric a spec did not measure (transitions of
    // the paired sweep) and a diverged trial (no measurements): all three must survive.
    assert!(v1_trials.values().any(|r| r["transitions"].is_f64()));
    assert!(
        v1_trials
            .values()
            .any(|r| r["transitions"].is_null() && r["jacobian_norm"].is_f64())
    );
    assert!(
        v1_trials
            .values()
            .any(|r| r["status"] == "diverged" && r["jacobian_norm"].is_null())
    );

    // Read-only: the file is not changed, and the exports equal v1's.
    let before = std::fs::read(&store).unwrap();
    let read_only = Store::open_existing(&store).unwrap();
    assert_eq!(read_only.schema_version(), SchemaVersion::V1);
    let as_v1: Vec<TrialRecord> = read_only.trials().unwrap();
    drop(read_only);
    same_trials(&export_jsonl(&store), &v1_trials);
    same_points(&export_points(&store), &v1_points);
    assert_eq!(std::fs::read(&store).unwrap(), before, "a reader must not write");

    // A writer migrates it; every record, metric and point reads back equal.
    let migrated = Store::open(&store).unwrap();
    assert_eq!(migrated.schema_version(), SchemaVersion::V2);
    // Compared as text: a NaN (a timing the diverged trial lacks) is never `==` itself.
    let same = format!("{:?}", migrated.trials().unwrap()) == format!("{as_v1:?}");
    assert!(same, "the migrated store reads differently from the v1 store");
    assert!(as_v1.iter().any(|r| !r.points.is_empty() && !r.artifacts.is_empty()));
    drop(migrated);
    let conn = rusqlite::Connection::open(&store).unwrap();
    let schema: String = conn
        .query_row("SELECT value FROM occam_meta WHERE key = 'schema'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(schema, "occam-store-v2");
    let old_columns: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('trials') WHERE name = 'jacobian_norm'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_columns, 0, "v2 keeps metrics as rows, not columns");
    // The SQL view has a column per axis and per metric, with the v1 numbers.
    let (width, jacobian): (String, f64) = conn
        .query_row(
            "SELECT width, jacobian_norm FROM trials_wide WHERE sweep = 'v1-fixture' AND trial_index = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let v1_row = v1_trials
        .values()
        .find(|r| r["sweep"] == "v1-fixture" && r["trial_index"] == 1)
        .unwrap();
    assert_eq!(width, "16");
    assert_eq!(jacobian, v1_row["jacobian_norm"].as_f64().unwrap());
    drop(conn);
    same_trials(&export_jsonl(&store), &v1_trials);
    same_points(&export_points(&store), &v1_points);

    // The migrated store resumes its sweep: every trial is found done.
    let run = ok_json(&[
        "sweep",
        "run",
        fixture("v1.toml").to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
    ]);
    assert_eq!(run["summary"]["ran"], 0, "{run}");
    assert_eq!(run["summary"]["already_done"], 2, "{run}");
}

#[test]
fn a_store_of_an_unknown_schema_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = copy_of_v1(dir.path());
    let conn = rusqlite::Connection::open(&store).unwrap();
    conn.execute(
        "UPDATE occam_meta SET value = 'occam-store-v9' WHERE key = 'schema'",
        [],
    )
    .unwrap();
    drop(conn);
    let before = std::fs::read(&store).unwrap();
    for args in [
        vec!["sweep", "export", store.to_str().unwrap(), "--csv", "-"],
        vec![
            "sweep",
            "run",
            fixture("v1.toml").to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
    ] {
        refused(&occam(&args), &["store.sqlite", "occam-store-v9", "occam-store-v2"]);
    }
    assert_eq!(std::fs::read(&store).unwrap(), before);
}

#[test]
fn metrics_a_store_does_not_know_get_their_row_and_column_and_are_exported() {
    // A trial carrying metrics this build has not registered (as one merged from a store
    // of a newer Occam would): the store adds what it needs and loses nothing.
    let dir = tempfile::tempdir().unwrap();
    let store = copy_of_v1(dir.path());
    let mut s = Store::open(&store).unwrap();
    let mut trial = s.trials().unwrap().into_iter().find(|t| !t.points.is_empty()).unwrap();
    trial.id = "0123456789abcdef0123456789abcdef".into();
    trial.metrics.set_named("sharpness", 2.5);
    for (i, p) in trial.points.iter_mut().enumerate() {
        p.values.set_named("curvature", i as f64 + 0.5);
    }
    s.insert(&trial).unwrap();
    drop(s);
    let rows = export_jsonl(&store);
    assert_eq!(rows[&trial.id]["sharpness"], 2.5);
    assert!(
        rows.values()
            .filter(|r| r["id"] != trial.id.as_str())
            .all(|r| r["sharpness"].is_null())
    );
    let points = export_points(&store);
    assert_eq!(points[&(trial.id.clone(), "3".to_string())]["curvature"], "3.5");
    let back = Store::open_existing(&store).unwrap().trials().unwrap();
    let read = back.iter().find(|t| t.id == trial.id).unwrap();
    assert_eq!(read.points[1].values.by_name("curvature"), 1.5);
}
