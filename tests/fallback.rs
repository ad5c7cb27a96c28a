//! The fallback checkpoint of long runs (the paper's large experiment used the step-2^18
//! weights of a 2^19-step run that did not finish) and the L-BFGS iteration cap of a mixed
//! sweep: through the library, `occam train` and a sweep trial.

mod common;
#[path = "support/json_schema.rs"]
mod json_schema;

use common::{ok, refused};
use occam::compute::Compute;
use occam::data::{DataSource, Splits};
use occam::net::Mlp;
use occam::sweep::{Store, TrialStatus};
use occam::train::{Fallback, OptimizerKind, Status, TrainConfig, train};
use std::path::Path;

/// A one-hidden-layer relu network whose momentum run at lr 1 diverges after a few
/// hundred steps on the fixture data.
fn diverging_config(data: &str) -> TrainConfig {
    TrainConfig {
        data: data.to_string(),
        width: 32,
        depth: 2,
        optimizer: OptimizerKind::Momentum,
        lr: 1.0,
        batch: 32,
        steps: 2000,
        ..Default::default()
    }
}

fn fixture(dir: &Path) -> (String, Splits) {
    common::write_mnist_like(&dir.join("d"), 400, 80, 6, false);
    let data = format!("mnist:{}", dir.join("d").display());
    let splits = DataSource::parse(&data).unwrap().load().unwrap();
    (data, splits)
}

fn bits(net: &Mlp) -> Vec<Vec<u32>> {
    net.weights()
        .iter()
        .map(|w| w.iter().map(|v| v.to_bits()).collect())
        .collect()
}

#[test]
fn a_diverged_run_ends_with_exactly_the_weights_of_its_fallback_step() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, splits) = fixture(tmp.path());
    let compute = Compute::new(2);
    let config = diverging_config(&data);
    let diverged = train(&config, &splits, &compute).unwrap();
    assert_eq!(diverged.status, Status::Diverged);
    assert!(diverged.fallback.is_none());
    let diverged_after = diverged.steps;
    assert!(
        diverged_after > 150,
        "diverges too early to test: step {diverged_after}"
    );

    let fell_back = train(
        &TrainConfig {
            fallback_at: Some(100),
            ..config.clone()
        },
        &splits,
        &compute,
    )
    .unwrap();
    assert_eq!(fell_back.status, Status::Completed);
    assert_eq!(
        fell_back.fallback,
        Some(Fallback {
            checkpoint_step: 100,
            diverged_after_step: diverged_after
        })
    );
    assert_eq!(fell_back.steps, 100);
    assert!(fell_back.train.loss.is_finite() && fell_back.test.loss.is_finite());

    // The same seed stopped at step 100: the very same weights, bit for bit.
    let stopped = train(
        &TrainConfig {
            steps: 100,
            ..config.clone()
        },
        &splits,
        &compute,
    )
    .unwrap();
    assert_eq!(stopped.status, Status::Completed);
    assert_eq!(bits(&fell_back.net), bits(&stopped.net));
    assert_eq!(fell_back.train.loss.to_bits(), stopped.train.loss.to_bits());
    assert_eq!(fell_back.test.accuracy.to_bits(), stopped.test.accuracy.to_bits());
    assert_eq!(fell_back.epochs, stopped.epochs);

    // A fallback step the run never reaches changes nothing: still diverged.
    let late = train(
        &TrainConfig {
            fallback_at: Some(diverged_after + 1),
            ..config.clone()
        },
        &splits,
        &compute,
    )
    .unwrap();
    assert_eq!((late.status, late.fallback), (Status::Diverged, None));
    assert_eq!(bits(&late.net), bits(&diverged.net));
}

#[test]
fn keeping_a_fallback_copy_does_not_change_a_run_that_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, splits) = fixture(tmp.path());
    let compute = Compute::new(2);
    let config = TrainConfig {
        lr: 0.05,
        steps: 300,
        ..diverging_config(&data)
    };
    let plain = train(&config, &splits, &compute).unwrap();
    let kept = train(
        &TrainConfig {
            fallback_at: Some(100),
            ..config
        },
        &splits,
        &compute,
    )
    .unwrap();
    assert_eq!((kept.status, kept.fallback, kept.steps), (Status::Completed, None, 300));
    assert_eq!(bits(&kept.net), bits(&plain.net));
}

#[test]
fn occam_train_reports_the_fallback_and_refuses_one_it_cannot_use() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = fixture(tmp.path());
    let out = tmp.path().join("run");
    let base = [
        "train", "--data", &data, "--width", "32", "--depth", "2", "--lr", "1", "--batch", "32", "--steps", "2000",
        "--quiet", "--out",
    ];
    let args = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        v.push(out.display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&'static str]| {
        let a = args(extra);
        common::occam(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let done = run(&["--fallback-at", "100"]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["status"], "completed");
    assert_eq!(metrics["steps"], 100);
    assert_eq!(metrics["fallback"]["checkpoint_step"], 100);
    assert!(metrics["fallback"]["diverged_after_step"].as_u64().unwrap() > 100);
    assert_eq!(metrics["config"]["fallback_at"], 100);
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/metrics.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let errors = json_schema::validate(&schema, &metrics);
    assert!(errors.is_empty(), "metrics.json with a fallback: {errors:#?}");

    refused(
        &run(&["--fallback-at", "0"]),
        &["--fallback-at = 0", "valid values are 1 to"],
    );
    refused(
        &run(&["--fallback-at", "2000"]),
        &["--fallback-at = 2000", "valid values are 1 to 1999", "--steps = 2000"],
    );
    refused(
        &run(&["--fallback-at", "10", "--optimizer", "lbfgs"]),
        &["--fallback-at = 10", "mini-batch optimizers"],
    );
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "fallback_at = 0\n").unwrap();
    let a = args(&[]);
    let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
    a.extend(["--config", config.to_str().unwrap()]);
    refused(&common::occam(&a), &["c.toml: fallback_at = 0"]);
}

fn write_spec(dir: &Path, data: &str, body: &str) -> (String, String) {
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"fb\"\n[axes]\ndata = [\"{data}\"]\nwidth = [32]\ndepth = [2]\nbatch = [32]\n{body}\n\
             [measure]\njacobian_points = 20\n"
        ),
    )
    .unwrap();
    (
        spec.display().to_string(),
        dir.join("store.sqlite").display().to_string(),
    )
}

#[test]
fn a_sweep_trial_that_falls_back_is_completed_measured_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = fixture(tmp.path());
    let (spec, store) = write_spec(
        tmp.path(),
        &data,
        "optimizer = [\"momentum\"]\nlr = [1.0]\nsteps = [2000]\n[fixed]\nfallback_at = 100\n",
    );
    ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
    let trials = Store::open_existing(Path::new(&store)).unwrap().trials().unwrap();
    assert_eq!(trials.len(), 1);
    let t = &trials[0];
    assert_eq!(t.status, TrialStatus::Completed);
    assert_eq!(t.steps, 100);
    assert!(
        t.metric(occam::sweep::metrics::JACOBIAN_NORM).is_finite(),
        "measured at the checkpoint"
    );
    let rows = tmp.path().join("rows.jsonl");
    ok(&["sweep", "export", &store, "--jsonl", rows.to_str().unwrap()]);
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/export-row.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let row: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&rows).unwrap().trim()).unwrap();
    assert_eq!(row["train.fallback_at"], 100);
    let errors = json_schema::validate(&schema, &row);
    assert!(errors.is_empty(), "an export row with fallback_at: {errors:#?}");
    let reason = t.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("diverged after step ") && reason.ends_with("; measured at the step-100 checkpoint"),
        "{reason}"
    );

    let (bad, _) = write_spec(tmp.path(), &data, "[fixed]\nfallback_at = 0\n");
    refused(
        &common::occam(&["sweep", "run", &bad, "--store", &store, "--quiet"]),
        &["spec.toml: fixed.fallback_at = 0"],
    );
}

#[test]
fn lbfgs_trials_of_a_mixed_sweep_run_at_most_lbfgs_steps_iterations() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = fixture(tmp.path());
    let count_lbfgs_steps = |fixed: &str| -> (usize, usize) {
        let (spec, store) = write_spec(
            tmp.path(),
            &data,
            &format!("optimizer = [\"sgd\", \"lbfgs\"]\nlr = [0.05]\nsteps = [40]\n{fixed}"),
        );
        let _ = std::fs::remove_file(&store);
        ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
        let trials = Store::open_existing(Path::new(&store)).unwrap().trials().unwrap();
        let steps_of = |kind: OptimizerKind| trials.iter().find(|t| t.spec.train.optimizer == kind).unwrap().steps;
        (steps_of(OptimizerKind::Sgd), steps_of(OptimizerKind::Lbfgs))
    };
    let (sgd, lbfgs) = count_lbfgs_steps("");
    assert_eq!(sgd, 40);
    assert!(
        lbfgs > 3,
        "L-BFGS stopped after {lbfgs} iterations without a cap: no test"
    );
    let (sgd, lbfgs) = count_lbfgs_steps("[fixed]\nlbfgs_steps = 3\n");
    assert_eq!(sgd, 40, "the cap is for L-BFGS only");
    assert!(lbfgs <= 3, "L-BFGS ran {lbfgs} iterations");
    let (bad, store) = write_spec(tmp.path(), &data, "[fixed]\nlbfgs_steps = 0\n");
    refused(
        &common::occam(&["sweep", "run", &bad, "--store", &store, "--quiet"]),
        &["spec.toml: fixed.lbfgs_steps = 0"],
    );
}
