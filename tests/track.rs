//! Sensitivity over training (`occam train --track K`, `[measure] track = K`): tracking
//! never changes a run, the checkpoints follow the log-spaced rule, the last checkpoint is
//! the final network and equals the final metrics bit for bit, a sweep stores the `track`
//! artifact and reads it back, and bad checkpoint counts are refused by name.

mod common;

use common::{occam, ok, ok_json, refused};

use occam::compute::Compute;
use occam::data::{DataSource, Splits};
use occam::sweep::artifact::Artifact;
use occam::sweep::{Store, SweepSpec};
use occam::train::observe::{Checkpoint, Observer, log_spaced_steps};
use occam::train::{OptimizerKind, Status, TrainConfig};
use std::path::Path;

fn fixture() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    common::write_mnist_like(&tmp.path().join("data"), 600, 200, 8, true);
    let data = format!("mnist:{}", tmp.path().join("data").display());
    (tmp, data)
}

fn bits(weights: &[Vec<f32>]) -> Vec<u32> {
    weights.iter().flatten().map(|w| w.to_bits()).collect()
}

/// Trains with an observer; returns the outcome and the (step, weight bits) it saw.
fn observed(
    config: &TrainConfig,
    splits: &Splits,
    compute: &Compute,
    k: usize,
) -> (occam::train::TrainOutcome, Vec<(usize, Vec<u32>)>) {
    let mut seen = Vec::new();
    let mut on_checkpoint = |c: Checkpoint<'_>| seen.push((c.step, bits(c.net.weights())));
    let mut observer = Observer::new(log_spaced_steps(config.steps, k), &mut on_checkpoint);
    let outcome = occam::train::train_with(
        config,
        splits,
        compute,
        occam::train::TrainHooks {
            observer: Some(&mut observer),
            ..Default::default()
        },
    )
    .unwrap();
    (outcome, seen)
}

#[test]
fn tracking_leaves_every_kind_of_run_bit_identical_and_ends_on_the_final_network() {
    let (_tmp, data) = fixture();
    let splits = DataSource::parse(&data).unwrap().load().unwrap();
    let compute = Compute::new(2);
    let base = TrainConfig {
        data: data.clone(),
        width: 32,
        depth: 3,
        batch: 32,
        lr: 0.01,
        ..TrainConfig::default()
    };
    let runs = [
        // The full budget, mini-batch.
        (
            TrainConfig {
                steps: 300,
                ..base.clone()
            },
            Status::Completed,
        ),
        // Stopped early at 100% on a small training set: the last step is not the budget.
        (
            TrainConfig {
                optimizer: OptimizerKind::Adam,
                width: 128,
                depth: 2,
                train_size: Some(64),
                steps: 5000,
                stop_at_100: true,
                ..base.clone()
            },
            Status::Reached100,
        ),
        // Full-batch L-BFGS: checkpoints are iterates replayed after the solver.
        (
            TrainConfig {
                optimizer: OptimizerKind::Lbfgs,
                steps: 40,
                ..base.clone()
            },
            Status::Completed,
        ),
    ];
    for (config, status) in runs {
        let plain = occam::train::train(&config, &splits, &compute).unwrap();
        let (tracked, seen) = observed(&config, &splits, &compute, 8);
        let name = config.optimizer.name();
        assert_eq!(plain.status, status, "{name}");
        assert_eq!(
            bits(plain.net.weights()),
            bits(tracked.net.weights()),
            "{name}: weights changed"
        );
        assert_eq!((plain.steps, plain.status), (tracked.steps, tracked.status), "{name}");
        assert_eq!(
            plain.train.accuracy.to_bits(),
            tracked.train.accuracy.to_bits(),
            "{name}"
        );
        // The chosen steps the run reached, then the final network at its last step.
        let planned = log_spaced_steps(config.steps, 8);
        let steps: Vec<usize> = seen.iter().map(|(s, _)| *s).collect();
        let mut expected: Vec<usize> = planned.iter().copied().filter(|&s| s < tracked.steps).collect();
        expected.push(tracked.steps);
        assert_eq!(steps, expected, "{name}: planned {planned:?}");
        assert_eq!(
            seen.last().unwrap().1,
            bits(tracked.net.weights()),
            "{name}: last checkpoint"
        );
        // Earlier checkpoints are earlier networks, not copies of the final one.
        assert_ne!(seen[0].1, bits(tracked.net.weights()), "{name}: first checkpoint");
        assert_ne!(
            seen[0].1,
            bits(tracked.initial.weights()),
            "{name}: first checkpoint is step 1"
        );
    }
}

fn csv_rows(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    (
        header,
        lines.map(|l| l.split(',').map(str::to_string).collect()).collect(),
    )
}

#[test]
fn train_track_writes_track_csv_whose_last_row_is_the_final_measurement() {
    let (tmp, data) = fixture();
    let run = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        let mut args = vec![
            "train", "--data", &data, "--width", "24", "--depth", "3", "--batch", "32", "--steps", "200", "--seed",
            "3", "--quiet", "--out",
        ];
        let out_text = out.display().to_string();
        args.push(&out_text);
        args.extend_from_slice(extra);
        ok(&args);
        out
    };
    let plain = run("plain", &[]);
    let tracked = run(
        "tracked",
        &[
            "--track",
            "6",
            "--track-points",
            "150",
            "--track-trajectory",
            "random-ellipse",
            "--track-trajectories",
            "4",
        ],
    );
    assert!(!plain.join("track.csv").exists());
    let model = |dir: &Path| std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(model(&plain), model(&tracked), "--track changed the trained network");

    let (header, rows) = csv_rows(&tracked.join("track.csv"));
    assert_eq!(
        header,
        "step,train_accuracy,test_accuracy,gap,jacobian_norm,transitions"
    );
    let steps: Vec<usize> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(steps, log_spaced_steps(200, 6));
    assert_eq!(steps, vec![1, 3, 8, 24, 69, 200]);
    let last: Vec<f64> = rows.last().unwrap()[1..].iter().map(|v| v.parse().unwrap()).collect();
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tracked.join("metrics.json")).unwrap()).unwrap();
    let model_path = tracked.join("model.safetensors").display().to_string();
    let jacobian = ok_json(&[
        "measure",
        "jacobian",
        "--model",
        &model_path,
        "--data",
        &data,
        "--limit",
        "150",
        "--json",
        "--quiet",
    ]);
    let transitions = ok_json(&[
        "measure",
        "transitions",
        "--model",
        &model_path,
        "--data",
        &data,
        "--trajectory",
        "random-ellipse",
        "--limit",
        "4",
        "--seed",
        "3",
        "--json",
        "--quiet",
    ]);
    let want = [
        &metrics["train_accuracy"],
        &metrics["test_accuracy"],
        &metrics["generalization_gap"],
        &jacobian["mean_jacobian_norm"],
        &transitions["mean_transitions"],
    ]
    .map(|v| v.as_f64().unwrap());
    for (column, (got, want)) in ["train_accuracy", "test_accuracy", "gap", "jacobian_norm", "transitions"]
        .iter()
        .zip(last.iter().zip(want))
    {
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{column}: track.csv {got} vs final {want}"
        );
    }
    // Without --track-trajectory the transitions column is empty, never 0.
    let no_transitions = run("no-transitions", &["--track", "2"]);
    let (_, rows) = csv_rows(&no_transitions.join("track.csv"));
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r.len() == 6 && r[5].is_empty() && !r[4].is_empty()),
        "{rows:?}"
    );
}

#[test]
fn bad_checkpoint_counts_and_track_options_are_refused_by_name() {
    let (tmp, data) = fixture();
    let out = tmp.path().join("out").display().to_string();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--data", &data, "--steps", "10", "--quiet", "--out", &out];
        args.extend_from_slice(extra);
        occam(&args)
    };
    for k in ["0", "1", "1001"] {
        refused(&train(&["--track", k]), &["--track", &format!("= {k}"), "2 to 1000"]);
    }
    refused(
        &train(&["--track", "3", "--track-points", "1000001"]),
        &["--track-points", "1000001", "0 to"],
    );
    refused(
        &train(&[
            "--track",
            "3",
            "--track-trajectory",
            "translate",
            "--track-trajectories",
            "0",
        ]),
        &["--track-trajectories", "= 0", "1 to"],
    );
    // Trajectories that cannot be built are refused before training, not after it.
    refused(
        &train(&[
            "--track",
            "3",
            "--train-size",
            "2",
            "--track-trajectory",
            "same-class-ellipse",
        ]),
        &["--track-trajectory", "no class with three examples"],
    );
    // The measurement options mean nothing without --track.
    refused(&train(&["--track-points", "5"]), &["--track"]);
    assert!(
        !Path::new(&out).join("model.safetensors").exists(),
        "refused runs must not train"
    );

    for k in ["1", "5000"] {
        let spec = tmp.path().join(format!("spec{k}.toml"));
        std::fs::write(
            &spec,
            format!("name = \"t\"\n[axes]\ndata = [\"{data}\"]\nsteps = [10]\n[measure]\ntrack = {k}\n"),
        )
        .unwrap();
        let store = tmp.path().join("store.sqlite").display().to_string();
        let spec_text = spec.display().to_string();
        let out = occam(&["sweep", "run", &spec_text, "--store", &store, "--quiet"]);
        refused(&out, &[&spec_text, "measure.track", &format!("= {k}"), "2 to 1000"]);
    }
}

#[test]
fn a_tracked_sweep_stores_the_artifact_and_its_last_checkpoint_is_the_trial() {
    let (tmp, data) = fixture();
    let spec = tmp.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"tracked\"\n[axes]\ndata = [\"{data}\"]\nwidth = [16]\ndepth = [2, 3]\n\
             optimizer = [\"momentum\", \"lbfgs\"]\nbatch = [32]\nsteps = [150]\n\
             [measure]\njacobian_points = 50\ntrack = 5\n\
             [measure.transitions]\ntrajectory = \"translate\"\ncount = 3\n"
        ),
    )
    .unwrap();
    let store = tmp.path().join("store.sqlite");
    ok(&[
        "sweep",
        "run",
        spec.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--quiet",
    ]);
    let trials = Store::open_existing(&store).unwrap().trials().unwrap();
    assert_eq!(trials.len(), 4);
    for r in &trials {
        assert!(r.status.is_measured(), "{:?} {:?}", r.status, r.reason);
        let tracks: Vec<_> = r
            .artifacts
            .iter()
            .filter_map(|a| match a {
                Artifact::Track(t) => Some(t),
                _ => None,
            })
            .collect();
        assert_eq!(tracks.len(), 1, "one track artifact per trial");
        let t = tracks[0];
        let n = t.steps.len();
        assert!(
            n >= 2
                && [
                    &t.train_accuracy,
                    &t.test_accuracy,
                    &t.gap,
                    &t.jacobian_norm,
                    &t.transitions
                ]
                .iter()
                .all(|c| c.len() == n)
        );
        let planned = log_spaced_steps(150, 5);
        assert_eq!(&t.steps[..n - 1], &planned[..n - 1], "{:?}", t.steps);
        assert_eq!(t.steps[n - 1], r.steps);
        // The last checkpoint is the trial's final measurement, bit for bit.
        let pairs = [
            (
                "train_accuracy",
                t.train_accuracy[n - 1],
                r.metric(occam::sweep::metrics::TRAIN_ACCURACY),
            ),
            (
                "test_accuracy",
                t.test_accuracy[n - 1],
                r.metric(occam::sweep::metrics::TEST_ACCURACY),
            ),
            ("gap", t.gap[n - 1], r.generalization_gap()),
            (
                "jacobian_norm",
                t.jacobian_norm[n - 1],
                r.metric(occam::sweep::metrics::JACOBIAN_NORM),
            ),
            (
                "transitions",
                t.transitions[n - 1],
                r.metric(occam::sweep::metrics::TRANSITIONS),
            ),
        ];
        for (what, tracked, final_value) in pairs {
            assert!(tracked.is_finite(), "{what}");
            assert_eq!(
                tracked.to_bits(),
                final_value.to_bits(),
                "{what}: {tracked} vs {final_value}"
            );
        }
        // Training got somewhere between the first and the last checkpoint.
        assert!(t.train_accuracy[n - 1] > t.train_accuracy[0], "{:?}", t.train_accuracy);
        let stored = Artifact::Track(t.clone());
        assert_eq!(Artifact::from_stored("track", &stored.to_json()).unwrap(), stored);
    }
    // A spec without `track` serializes without it (its trial ids do not change) and
    // stores no track artifact.
    let parsed = SweepSpec::from_toml_file(&spec).unwrap();
    assert!(
        serde_json::to_string(&parsed.trials()[0])
            .unwrap()
            .contains("\"track\":5")
    );
    let plain = SweepSpec {
        measure: occam::sweep::spec::MeasureSpec {
            track: None,
            ..parsed.measure.clone()
        },
        ..parsed
    };
    assert!(!serde_json::to_string(&plain.trials()[0]).unwrap().contains("track"));
}
