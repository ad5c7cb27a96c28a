//! `occam sweep export`: every configuration field in its own column, read back through a
//! real CSV parser, the Rust Parquet reader and (when installed) pandas; per-point rows;
//! `-` for standard output; real outputs validated against the JSON Schemas in docs/.

mod common;
#[path = "support/json_schema.rs"]
mod json_schema;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use common::{occam, ok};
use occam::sweep::metrics as m;
use occam::sweep::{Store, TrialRecord, TrialStatus};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

const FASHION: &str = "/usr/share/datasets/fashion-mnist";

/// A store with two tiny sweeps: one unpaired, augmented, per-point sweep where the
/// init_scale 1e30 trial ends `non_finite`, and one paired sweep that counts transitions.
fn store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        assert!(
            Path::new(FASHION).join("train-images-idx3-ubyte.gz").is_file(),
            "Fashion-MNIST is missing: run the README's set-up command (apt-get install dataset-fashion-mnist)"
        );
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = dir.join("store.sqlite");
        let specs = [
            (
                "single.toml",
                "name = \"single\"\n[axes]\ndata = [\"fashion-mnist\"]\nwidth = [8]\ndepth = [1]\n\
                 init_scale = [1.0, 1e30]\nsteps = [20]\nbatch = [32]\naugment = [\"strong\"]\n\
                 [fixed]\ntrain_size = 200\nlr_decay_epochs = 3\nlr_decay_factor = 0.5\n\
                 [measure]\njacobian_points = 12\nper_point = true\n",
            ),
            (
                "paired.toml",
                "name = \"paired\"\n[axes]\ndata = [\"fashion-mnist\"]\nwidth = [8]\ndepth = [2]\nsteps = [20]\n\
                 batch = [32]\n[fixed]\ntrain_size = 100\n[pair]\nfactor = \"random_labels\"\n\
                 [measure]\njacobian_points = 10\n[measure.transitions]\ntrajectory = \"translate\"\ncount = 2\n",
            ),
        ];
        for (file, text) in specs {
            let spec = dir.join(file);
            std::fs::write(&spec, text).unwrap();
            ok(&["sweep", "run", s(&spec), "--store", s(&store), "--quiet"]);
        }
        store
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn trials() -> Vec<TrialRecord> {
    Store::open_existing(store()).unwrap().trials().unwrap()
}

/// Every leaf of the trial's configuration, by dotted name, from its plain serde JSON
/// (an independent flattening: sorted keys, recursion over objects).
fn config_leaves(r: &TrialRecord) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    walk(&format!("{prefix}{k}."), child, out);
                }
            }
            leaf => {
                out.insert(prefix.trim_end_matches('.').to_string(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", &serde_json::to_value(&r.spec).unwrap(), &mut out);
    out
}

/// The columns the brief names; each must exist in every export.
const CONFIG_COLUMNS: [&str; 32] = [
    "train.data",
    "train.width",
    "train.depth",
    "train.activation",
    "train.init_scale",
    "train.optimizer",
    "train.lr",
    "train.batch",
    "train.steps",
    "train.lr_decay_epochs",
    "train.lr_decay_factor",
    "train.stop_at_100",
    "train.random_labels",
    "train.augment.translate",
    "train.augment.hflip",
    "train.augment.vflip",
    "train.augment.rotate90",
    "train.train_size",
    "train.seed",
    "measure.jacobian_points",
    "measure.per_point",
    "measure.transitions.trajectory",
    "measure.transitions.count",
    "measure.transitions.method",
    "measure.transitions.samples",
    "measure.profile.trajectories",
    "measure.profile.count",
    "measure.regions.grid",
    "measure.regions.triplet",
    "pair.group",
    "pair.factor",
    "pair.on",
];

const RESULT_COLUMNS: [&str; 17] = [
    "status",
    "reason",
    "param_count",
    "steps",
    "train_accuracy",
    "test_accuracy",
    "train_loss",
    "test_loss",
    "generalization_gap",
    "jacobian_norm",
    "logit_jacobian_norm",
    "transitions",
    "train_seconds",
    "measure_seconds",
    "threads",
    "host",
    "finished_at",
];

fn export(args: &[&str]) -> Output {
    let mut all = vec!["sweep", "export", s(store())];
    all.extend_from_slice(args);
    ok(&all)
}

fn read_csv(text: &[u8]) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(text);
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

/// The CSV text a configuration value must have: empty for null, JSON text for arrays.
fn csv_cell_matches(cell: &str, want: &Value) -> bool {
    match want {
        Value::Null => cell.is_empty(),
        Value::String(s) => cell == s,
        Value::Bool(b) => cell == b.to_string(),
        Value::Number(n) => cell.parse::<f64>().ok() == n.as_f64(),
        other => serde_json::from_str::<Value>(cell).ok().as_ref() == Some(other),
    }
}

fn metric_cell(cell: &str) -> f64 {
    if cell.is_empty() {
        f64::NAN
    } else {
        cell.parse().unwrap()
    }
}

#[test]
fn csv_round_trip_has_every_configuration_field_equal_to_the_stored_spec() {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("t.csv");
    export(&["--csv", s(&csv_path)]);
    let (header, rows) = read_csv(&std::fs::read(&csv_path).unwrap());
    for column in CONFIG_COLUMNS.iter().chain(&RESULT_COLUMNS).chain(&["occam_version"]) {
        assert!(
            header.iter().any(|h| h == column),
            "column {column} missing from {header:?}"
        );
    }
    assert!(
        !header.iter().any(|h| h == "measure.transitions" || h == "pair"),
        "{header:?}"
    );
    let stored = trials();
    assert_eq!(rows.len(), stored.len());
    for r in &stored {
        let row = rows.iter().find(|row| row["id"] == r.id).expect("every trial exported");
        for (name, want) in config_leaves(r) {
            match row.get(&name) {
                Some(cell) => assert!(
                    csv_cell_matches(cell, &want),
                    "{name}: CSV has '{cell}', the store {want}"
                ),
                None => {
                    // An absent optional part (no transitions, no pair): every column
                    // under it exists and is empty.
                    assert!(want.is_null(), "no column {name}");
                    let under: Vec<&String> = header.iter().filter(|h| h.starts_with(&format!("{name}."))).collect();
                    assert!(!under.is_empty(), "{name} has no columns");
                    assert!(under.iter().all(|h| row[*h].is_empty()), "{name}: {row:?}");
                }
            }
        }
        assert_eq!(row["status"], r.status.name());
        assert!(!row["reason"].is_empty(), "reason is text in every row: {row:?}");
        for (name, stored) in [
            ("test_accuracy", r.metric(m::TEST_ACCURACY)),
            ("jacobian_norm", r.metric(m::JACOBIAN_NORM)),
            ("transitions", r.metric(m::TRANSITIONS)),
        ] {
            let cell = metric_cell(&row[name]);
            assert!(
                cell == stored || (cell.is_nan() && stored.is_nan()),
                "{name}: {cell} vs {stored}"
            );
        }
        assert!(
            row["finished_at"].ends_with('Z') && row["finished_at"].contains('T'),
            "{row:?}"
        );
        assert_eq!(row["occam_version"], env!("CARGO_PKG_VERSION"));
    }
    let non_finite = stored
        .iter()
        .find(|r| r.status == TrialStatus::NonFinite)
        .expect("the 1e30 trial");
    let row = rows.iter().find(|row| row["id"] == non_finite.id).unwrap();
    assert_eq!(row["jacobian_norm"], "", "a NaN metric is an empty cell, never 0");
    assert_eq!(row["train.augment.translate"], "4");
    assert_eq!(row["train.augment.rotate90"], "true");
    assert_eq!(row["train.lr_decay_factor"], "0.5");
    assert_eq!(row["train.train_size"], "200");
}

/// The rows of a small Parquet file (one row group: the writer makes one per 65,536 rows).
fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let mut batches: Vec<RecordBatch> = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    assert_eq!(batches.len(), 1, "one record batch expected");
    batches.remove(0)
}

#[test]
fn parquet_has_typed_columns_and_nulls_for_missing_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    export(&["--parquet", s(&path)]);
    let batch = read_parquet(&path);
    let stored = trials();
    assert_eq!(batch.num_rows(), stored.len());
    let schema = batch.schema();
    let kind = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();
    for (name, want) in [
        ("train.width", DataType::Int64),
        ("train.train_size", DataType::Int64),
        ("train.lr", DataType::Float64),
        ("train.init_scale", DataType::Float64),
        ("train.stop_at_100", DataType::Boolean),
        ("train.augment.hflip", DataType::Boolean),
        ("train.data", DataType::Utf8),
        ("measure.transitions.count", DataType::Int64),
        ("measure.regions.grid", DataType::Int64),
        ("pair.on", DataType::Boolean),
        ("status", DataType::Utf8),
        ("reason", DataType::Utf8),
        ("param_count", DataType::Int64),
        ("jacobian_norm", DataType::Float64),
        ("transitions", DataType::Float64),
    ] {
        assert_eq!(kind(name), want, "{name}");
    }
    for column in CONFIG_COLUMNS.iter().chain(&RESULT_COLUMNS) {
        assert!(schema.field_with_name(column).is_ok(), "{column} missing");
    }
    let ids = batch.column_by_name("id").unwrap().as_string::<i32>();
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let (width, jacobian, accuracy) = (column("train.width"), column("jacobian_norm"), column("test_accuracy"));
    let (pair_on, regions, reason) = (column("pair.on"), column("measure.regions.grid"), column("reason"));
    for (i, id) in ids.iter().enumerate() {
        let r = stored.iter().find(|r| Some(r.id.as_str()) == id).unwrap();
        assert_eq!(width.as_primitive::<Int64Type>().value(i), r.spec.train.width as i64);
        assert!(regions.is_null(i), "no region maps were asked for");
        assert!(!reason.is_null(i));
        match &r.spec.pair {
            Some(p) => assert_eq!(pair_on.as_boolean().value(i), p.on),
            None => assert!(pair_on.is_null(i)),
        }
        if r.metric(m::JACOBIAN_NORM).is_nan() {
            assert!(jacobian.is_null(i), "a NaN metric is null in Parquet");
        } else {
            assert_eq!(
                jacobian.as_primitive::<Float64Type>().value(i),
                r.metric(m::JACOBIAN_NORM)
            );
        }
        assert_eq!(
            accuracy.as_primitive::<Float64Type>().value(i),
            r.metric(m::TEST_ACCURACY)
        );
    }
    assert!(stored.iter().any(|r| r.status == TrialStatus::NonFinite));
    assert!(jacobian.null_count() > 0);
}

#[test]
fn points_export_has_one_row_per_stored_point_with_its_trial_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_path, jsonl, parquet) = (
        dir.path().join("p.csv"),
        dir.path().join("p.jsonl"),
        dir.path().join("p.parquet"),
    );
    let out = export(&[
        "--points",
        "--csv",
        s(&csv_path),
        "--jsonl",
        s(&jsonl),
        "--parquet",
        s(&parquet),
    ]);
    let stored = trials();
    let points: usize = stored.iter().map(|r| r.points.len()).sum();
    assert!(points >= 12, "the per-point sweep stores its points ({points})");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"], points);
    let (header, rows) = read_csv(&std::fs::read(&csv_path).unwrap());
    assert_eq!(rows.len(), points);
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), points);
    assert_eq!(read_parquet(&parquet).num_rows(), points);
    for column in [
        "id",
        "sweep",
        "trial_index",
        "point_index",
        "label",
        "predicted",
        "loss",
        "target_row_norm",
    ]
    .iter()
    .chain(&CONFIG_COLUMNS)
    {
        assert!(header.iter().any(|h| h == column), "{column} missing");
    }
    let r = stored.iter().find(|r| !r.points.is_empty()).unwrap();
    let p = &r.points[1];
    let row = rows
        .iter()
        .find(|row| row["id"] == r.id && row["point_index"] == p.index.to_string())
        .unwrap();
    assert_eq!(row["label"], p.label.to_string());
    assert_eq!(row["predicted"], p.predicted.to_string());
    let cell = metric_cell(&row["loss"]);
    let loss = p.values.get(m::POINT_LOSS);
    assert!(cell == loss || (cell.is_nan() && loss.is_nan()));
    assert_eq!(row["train.width"], r.spec.train.width.to_string());
    assert_eq!(row["train.seed"], r.spec.train.seed.to_string());
}

#[test]
fn points_of_a_store_without_per_point_rows_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("s.toml");
    std::fs::write(
        &spec,
        "name = \"nopoints\"\n[axes]\ndata = [\"fashion-mnist\"]\nwidth = [4]\ndepth = [2]\nsteps = [5]\n\
         batch = [32]\n[fixed]\ntrain_size = 50\n[measure]\njacobian_points = 4\n",
    )
    .unwrap();
    let store = dir.path().join("s.sqlite");
    ok(&["sweep", "run", s(&spec), "--store", s(&store), "--quiet"]);
    let target = dir.path().join("p.csv");
    let out = occam(&["sweep", "export", s(&store), "--points", "--csv", s(&target)]);
    common::refused(&out, &[s(&store), "per_point = true"]);
    assert!(!target.exists());
}

#[test]
fn a_dash_writes_to_standard_output_and_the_summary_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let run_in_dir = |args: &[&str]| {
        let mut all = vec!["sweep", "export", s(store())];
        all.extend_from_slice(args);
        std::process::Command::new(env!("CARGO_BIN_EXE_occam"))
            .args(&all)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run_in_dir(&["--csv", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (header, rows) = read_csv(&out.stdout);
    assert_eq!(header[0], "id");
    assert_eq!(rows.len(), trials().len());
    let summary: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(summary["csv"], "-");
    assert!(
        !dir.path().join("-").exists(),
        "`-` is standard output, not a file named '-'"
    );

    let out = run_in_dir(&["--jsonl", "-", "--csv", "t.csv"]);
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), trials().len());
    assert!(dir.path().join("t.csv").is_file());

    // Standard output here is a pipe, so Parquet may go there.
    let out = run_in_dir(&["--parquet", "-"]);
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"PAR1") && out.stdout.ends_with(b"PAR1"));

    common::refused(
        &run_in_dir(&["--csv", "-", "--jsonl", "-"]),
        &["--csv and --jsonl", "standard output"],
    );
    assert!(!dir.path().join("-").exists());
}

#[test]
fn export_options_are_checked_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let st = s(store());
    common::refused(
        &occam(&["sweep", "export", st]),
        &["--csv FILE", "--jsonl FILE", "--parquet FILE"],
    );
    let same = dir.path().join("same");
    common::refused(
        &occam(&["sweep", "export", st, "--csv", s(&same), "--parquet", s(&same)]),
        &["--csv and --parquet", s(&same)],
    );
    assert!(!same.exists());
    common::refused(
        &occam(&["sweep", "export", st, "--parquet", s(dir.path())]),
        &[s(dir.path()), "--parquet", "directory"],
    );
    let help = ok(&["sweep", "export", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--parquet") && help.contains("--points"), "{help}");
}

#[test]
fn pandas_reads_reason_as_text_and_every_column_when_installed() {
    let dir = tempfile::tempdir().unwrap();
    let (csv_path, parquet) = (dir.path().join("t.csv"), dir.path().join("t.parquet"));
    export(&["--csv", s(&csv_path), "--parquet", s(&parquet)]);
    // The first Python on PATH may be a private one (pyenv) without pandas; Debian's
    // python3-pandas lives beside /usr/bin/python3.
    let has = |python: &str, module: &str| {
        std::process::Command::new(python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let Some(python) = ["python3", "/usr/bin/python3"].into_iter().find(|p| has(p, "pandas")) else {
        println!("skipped: no python3 with pandas is installed");
        return;
    };
    let columns = CONFIG_COLUMNS.join(",");
    let script = "import sys, pandas as pd\n\
        df = pd.read_csv(sys.argv[1])\n\
        assert df['reason'].dtype == object, df['reason'].dtype\n\
        assert all(isinstance(v, str) and v for v in df['reason']), list(df['reason'])\n\
        missing = [c for c in sys.argv[3].split(',') if c not in df.columns]\n\
        assert not missing, missing\n\
        assert df['train.stop_at_100'].dtype == bool, df['train.stop_at_100'].dtype\n\
        assert df['train.width'].dtype == 'int64'\n\
        nf = df[df['status'] == 'non_finite']\n\
        assert len(nf) == 1 and nf['jacobian_norm'].isna().all()\n\
        try:\n    import pyarrow\nexcept ImportError:\n    print('pyarrow: not installed'); sys.exit(0)\n\
        pq = pd.read_parquet(sys.argv[2])\n\
        assert list(pq.columns) == list(df.columns)\n\
        assert str(pq['train.width'].dtype) == 'int64' and str(pq['train.lr'].dtype) == 'float64'\n\
        assert pq['pair.on'].isna().sum() == 2 and pq['jacobian_norm'].isna().sum() == 1\n\
        print('pyarrow: checked')\n";
    let out = std::process::Command::new(python)
        .args(["-c", script, s(&csv_path), s(&parquet), &columns])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pandas: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

fn schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn assert_valid(schema: &Value, value: &Value, what: &str) {
    let errors = json_schema::validate(schema, value);
    assert!(errors.is_empty(), "{what} does not match its schema: {errors:#?}");
}

#[test]
fn real_outputs_validate_against_the_documented_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("train");
    ok(&[
        "train",
        "--out",
        s(&out),
        "--data",
        "fashion-mnist",
        "--width",
        "8",
        "--depth",
        "2",
        "--steps",
        "20",
        "--batch",
        "32",
        "--train-size",
        "100",
        "--augment",
        "--quiet",
    ]);
    let metrics: Value = serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_valid(&schema("metrics.json"), &metrics, "metrics.json");

    let (trials_path, points_path) = (dir.path().join("t.jsonl"), dir.path().join("p.jsonl"));
    export(&["--jsonl", s(&trials_path)]);
    export(&["--points", "--jsonl", s(&points_path)]);
    for (file, schema_name) in [(&trials_path, "export-row.json"), (&points_path, "point-row.json")] {
        let schema = schema(schema_name);
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.lines().count() >= 4);
        for line in text.lines() {
            assert_valid(&schema, &serde_json::from_str(line).unwrap(), schema_name);
        }
    }

    // The validator itself rejects what the schemas forbid.
    let schema = schema("export-row.json");
    let row: Value =
        serde_json::from_str(std::fs::read_to_string(&trials_path).unwrap().lines().next().unwrap()).unwrap();
    let mut bad = row.clone();
    bad["train.width"] = Value::from("eight");
    bad["status"] = Value::from("finished");
    bad["an.undocumented.column"] = Value::from(1);
    bad.as_object_mut().unwrap().remove("reason");
    let errors = json_schema::validate(&schema, &bad).join("\n");
    for want in [
        "train.width",
        "finished",
        "an.undocumented.column",
        "'reason' is missing",
    ] {
        assert!(errors.contains(want), "the validator missed {want}: {errors}");
    }
}

#[test]
fn a_merged_store_exports_the_time_each_trial_finished_not_the_merge_time() {
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("merged.sqlite");
    // SQLite stores times to the second: merge in a later second than the trials finished.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&["sweep", "collect", "--out", s(&merged), s(store())]);
    let times = |store: &Path| -> BTreeMap<String, String> {
        let out = ok(&["sweep", "export", s(store), "--csv", "-"]);
        read_csv(&out.stdout)
            .1
            .into_iter()
            .map(|row| (row["id"].clone(), row["finished_at"].clone()))
            .collect()
    };
    let original = times(store());
    assert_eq!(original.len(), trials().len());
    assert_eq!(times(&merged), original);
}
