//! One validation layer for numbers: every number a user types (options, `--config` keys,
//! sweep spec keys) is refused outside its range with a message naming it, its value and
//! the range; and non-finite arithmetic is an error (CLI) or a `non_finite` trial with
//! NULL metrics (sweeps), never a number.

mod common;

use common::occam;
use occam::net::{Activation, Mlp};
use occam::sweep::{Store, TrialStatus};
use std::path::Path;
use std::time::{Duration, Instant};

fn dataset(dir: &Path) -> String {
    common::write_mnist_like(&dir.join("data"), 120, 40, 6, false);
    format!("mnist:{}", dir.join("data").display())
}

/// A network for the fixture data (6×6 images, 10 classes), every weight times `scale`.
fn model(dir: &Path, name: &str, depth: usize, scale: f32) -> String {
    let base = Mlp::random([6, 6, 1], 12, depth, 10, Activation::Relu, 1.0, 3);
    let weights = base
        .weights()
        .iter()
        .map(|w| w.iter().map(|v| v * scale).collect())
        .collect();
    let net = Mlp::from_parts(
        base.activation(),
        base.input_shape(),
        base.dims().to_vec(),
        weights,
        None,
    )
    .unwrap();
    let path = dir.join(name);
    net.save(&path).unwrap();
    path.display().to_string()
}

#[test]
fn train_options_and_config_keys_out_of_range_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let out_dir = tmp.path().join("run").display().to_string();
    let cases: [(&[&str], &[&str]); 11] = [
        (
            &["--width", "4611686018427387904"],
            &["--width = 4611686018427387904", "1 to 1048576"],
        ),
        (&["--width", "0"], &["--width = 0", "1 to 1048576"]),
        (&["--depth", "1001"], &["--depth = 1001", "1 to 1000"]),
        (&["--steps", "0"], &["--steps = 0", "valid values"]),
        (&["--batch", "0"], &["--batch = 0", "valid values"]),
        (&["--train-size", "0"], &["--train-size = 0", "valid values"]),
        (
            &["--lr-decay-factor", "-1"],
            &["--lr-decay-factor = -1", "greater than 0 and at most 1"],
        ),
        (
            &["--lr-decay-factor", "nan"],
            &["--lr-decay-factor = NaN", "greater than 0 and at most 1"],
        ),
        (
            &["--lr-decay-factor", "inf"],
            &["--lr-decay-factor = inf", "greater than 0 and at most 1"],
        ),
        (&["--lr", "-0.5"], &["--lr = -0.5", "greater than 0"]),
        (&["--translate", "7"], &["--translate", "translate = 7", "0 to 6"]),
    ];
    for (args, wanted) in cases {
        let base = ["train", "--data", &data, "-q", "--out", &out_dir];
        let t = Instant::now();
        common::refused(&occam(&[&base[..], args].concat()), wanted);
        assert!(t.elapsed() < Duration::from_secs(30), "{args:?} ran on");
        assert!(!tmp.path().join("run/model.safetensors").exists(), "{args:?} trained");
    }
    let config = tmp.path().join("cfg.toml");
    std::fs::write(&config, "lr_decay_factor = -1.0\nwidth = 8\n").unwrap();
    let config = config.display().to_string();
    let args = ["train", "--config", &config, "--data", &data, "-q", "--out", &out_dir];
    common::refused(&occam(&args), &["cfg.toml: lr_decay_factor = -1", "at most 1"]);
}

#[test]
fn measure_options_out_of_range_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let net = model(tmp.path(), "m.safetensors", 3, 1.0);
    let out_dir = tmp.path().join("out").display().to_string();
    let max = u64::MAX.to_string();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["jacobian", "--limit", "0"], vec!["--limit = 0", "1 to 1000000"]),
        (vec!["profile", "--limit", "0", "--out", &out_dir], vec!["--limit = 0"]),
        (
            vec!["transitions", "--trajectory", "random-ellipse", "--limit", "100000000"],
            vec!["--limit = 100000000", "1 to 1000000"],
        ),
        (
            vec![
                "transitions",
                "--trajectory",
                "translate",
                "--method",
                "sampled",
                "--points",
                "0",
            ],
            vec!["--points = 0", "2 to 1073741824"],
        ),
        (
            vec![
                "transitions",
                "--trajectory",
                "translate",
                "--method",
                "sampled",
                "--points",
                "1",
            ],
            vec!["--points = 1", "2 to 1073741824"],
        ),
        (
            vec![
                "transitions",
                "--trajectory",
                "translate",
                "--method",
                "sampled",
                "--points",
                &max,
            ],
            vec!["--points = 18446744073709551615"],
        ),
        (
            vec!["profile", "--method", "sampled", "--points", "1", "--out", &out_dir],
            vec!["--points = 1"],
        ),
        (
            vec!["profile", "--bins", "0", "--out", &out_dir],
            vec!["--bins = 0", "2 to 4096"],
        ),
        (
            vec!["profile", "--bins", "5000", "--out", &out_dir],
            vec!["--bins = 5000", "2 to 4096"],
        ),
        (
            vec!["regions", "--grid", "0", "--out", &out_dir],
            vec!["--grid = 0", "2 to 4096"],
        ),
        (
            vec!["regions", "--grid", "1", "--out", &out_dir],
            vec!["--grid = 1", "2 to 4096"],
        ),
        (
            vec!["regions", "--grid", "1000000", "--out", &out_dir],
            vec!["--grid = 1000000"],
        ),
        (
            vec!["regions", "--points", "0", "0", "0", "--out", &out_dir],
            vec!["--points 0 0 0", "must be different"],
        ),
        (
            vec!["regions", "--points", "3", "5", "3", "--out", &out_dir],
            vec!["--points 3 5 3", "must be different"],
        ),
    ];
    for (args, wanted) in cases {
        let t = Instant::now();
        let common = ["--model", net.as_str(), "--data", data.as_str(), "-q"];
        common::refused(&occam(&[&["measure"][..], &args, &common].concat()), &wanted);
        assert!(t.elapsed() < Duration::from_secs(30), "{args:?} ran on");
    }
}

#[test]
fn regions_refuse_three_points_that_span_no_plane() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    // Make training image 1 a copy of image 0 (raw IDX: a 16-byte header, 36 bytes each).
    let images = tmp.path().join("data/train-images-idx3-ubyte");
    let mut bytes = std::fs::read(&images).unwrap();
    bytes.copy_within(16..16 + 36, 16 + 36);
    std::fs::write(&images, bytes).unwrap();
    let net = model(tmp.path(), "m.safetensors", 3, 1.0);
    let out_dir = tmp.path().join("out").display().to_string();
    let out = occam(&[
        "measure", "regions", "--model", &net, "--data", &data, "--points", "0", "1", "2", "--out", &out_dir,
    ]);
    common::refused(&out, &["--points 0 1 2", "span no plane"]);
    assert!(!tmp.path().join("out/regions.png").exists());
}

#[test]
fn an_overflowing_network_is_an_error_in_every_measurement_never_a_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let out_dir = tmp.path().join("out").display().to_string();
    for depth in [1, 3] {
        // Finite weights of 1e30: products overflow f32 (inf, then inf − inf = NaN).
        let huge = model(tmp.path(), &format!("huge{depth}.safetensors"), depth, 1e30);
        let common = ["--model", huge.as_str(), "--data", data.as_str(), "-q"];
        let mut commands: Vec<Vec<&str>> = vec![vec!["measure", "jacobian", "--limit", "5"]];
        if depth > 1 {
            // (One layer's logits, about 1e30, and its loss stay finite: evaluate is right.)
            commands.extend([
                vec!["evaluate"],
                vec!["measure", "transitions", "--trajectory", "translate", "--limit", "2"],
                vec![
                    "measure",
                    "transitions",
                    "--trajectory",
                    "random-ellipse",
                    "--limit",
                    "2",
                ],
                vec![
                    "measure",
                    "transitions",
                    "--trajectory",
                    "random-ellipse",
                    "--limit",
                    "2",
                    "--method",
                    "sampled",
                    "--points",
                    "64",
                ],
                vec!["measure", "profile", "--limit", "2", "--bins", "8", "--out", &out_dir],
                vec!["measure", "regions", "--grid", "8", "--out", &out_dir],
            ]);
        }
        for cmd in commands {
            let args: Vec<&str> = if cmd[0] == "evaluate" {
                vec!["evaluate", "--model", &huge, "--data", &data]
            } else {
                [&cmd[..], &common].concat()
            };
            let err = common::refused(&occam(&args), &[&format!("huge{depth}.safetensors"), "non-finite"]);
            assert!(err.contains("NaN") || err.contains("inf"), "{cmd:?}: {err}");
            let location = ["at point ", "trajectory ", "grid pixel "];
            assert!(
                location.iter().any(|l| err.contains(l)),
                "{cmd:?} names no point: {err}"
            );
        }
    }
    assert!(!tmp.path().join("out/profile.csv").exists() && !tmp.path().join("out/regions.png").exists());
}

fn write_spec(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn bad_sweep_specs_are_refused_by_run_and_status_before_any_training() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let axes = format!("[axes]\ndata = [\"{data}\"]\nwidth = [8]\ndepth = [2]\nsteps = [5]\nbatch = [16]\n");
    let thousand = (1..=1000).map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
    let transitions = "[measure.transitions]\ntrajectory = \"random-ellipse\"\ncount = 2\nmethod = \"sampled\"";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("name = \"../../../x\"\n{axes}"),
            vec!["name = \"../../../x\"", "not a valid sweep name"],
        ),
        (
            format!("name = \"\"\n{axes}"),
            vec!["name = \"\"", "1 to 64 characters"],
        ),
        (
            format!("name = \"g\"\n[axes]\nwidth = [{thousand}]\nbatch = [{thousand}]\nseed = [{thousand}]\n"),
            vec![
                "1000000000 trials",
                "width 1000 × batch 1000 × seed 1000",
                "at most 1000000",
            ],
        ),
        (
            format!("name = \"s\"\n{axes}{transitions}\nsamples = 1\n"),
            vec!["measure.transitions.samples = 1", "2 to 1073741824"],
        ),
        (
            format!("name = \"c\"\n{axes}[measure.transitions]\ntrajectory = \"random-ellipse\"\ncount = 0\n"),
            vec!["measure.transitions.count = 0"],
        ),
        (
            format!("name = \"r\"\n{axes}[measure.regions]\ngrid = 0\n"),
            vec!["measure.regions.grid = 0", "2 to 4096"],
        ),
        (
            format!("name = \"d\"\n{axes}[fixed]\nlr_decay_factor = -1.0\n"),
            vec!["fixed.lr_decay_factor = -1", "at most 1"],
        ),
        (
            format!("name = \"n\"\n{axes}[fixed]\nlr_decay_factor = nan\n"),
            vec!["fixed.lr_decay_factor = NaN", "at most 1"],
        ),
    ];
    for (i, (body, wanted)) in cases.iter().enumerate() {
        let spec = write_spec(tmp.path(), &format!("spec{i}.toml"), body);
        let store = tmp.path().join(format!("store{i}.sqlite"));
        let store_arg = store.display().to_string();
        let file = format!("spec{i}.toml: ");
        let wanted: Vec<&str> = [&[file.as_str()][..], wanted].concat();
        let t = Instant::now();
        common::refused(&occam(&["sweep", "run", &spec, "--store", &store_arg, "-q"]), &wanted);
        common::refused(&occam(&["sweep", "status", &spec]), &wanted);
        assert!(t.elapsed() < Duration::from_secs(30), "case {i} took {:?}", t.elapsed());
        assert!(!store.exists(), "case {i}: a store was created, so work started");
    }
    assert!(!tmp.path().join("../../x").exists());
}

#[test]
fn a_sweep_trial_whose_jacobian_overflows_is_stored_non_finite_with_null_metrics() {
    let fashion = "/usr/share/datasets/fashion-mnist";
    assert!(
        Path::new(fashion).join("train-images-idx3-ubyte.gz").is_file(),
        "Fashion-MNIST is missing: run the README's set-up command (apt-get install dataset-fashion-mnist)"
    );
    let tmp = tempfile::tempdir().unwrap();
    // One layer at init_scale 1e30: training stays finite (the softmax saturates), but the
    // Jacobian's Gram matrix overflows; before, that was stored as jacobian_norm 0.0.
    let spec = write_spec(
        tmp.path(),
        "huge.toml",
        &format!(
            "name = \"huge\"\n[axes]\ndata = [\"fashion-mnist:{fashion}\"]\nwidth = [16]\ndepth = [1]\n\
             init_scale = [1e30]\nsteps = [10]\nbatch = [32]\n[fixed]\ntrain_size = 200\n\
             [measure]\njacobian_points = 20\n"
        ),
    );
    let store = tmp.path().join("s.sqlite");
    let run = occam(&["sweep", "run", &spec, "--store", store.to_str().unwrap(), "-q"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!err.contains("panicked") && run.status.code().is_some(), "{err}");
    let trials = Store::open_existing(&store).unwrap().trials().unwrap();
    assert_eq!(trials.len(), 1);
    let t = &trials[0];
    assert_eq!(t.status, TrialStatus::NonFinite, "{:?}", t.reason);
    assert!(
        t.metric(occam::sweep::metrics::JACOBIAN_NORM).is_nan()
            && t.metric(occam::sweep::metrics::LOGIT_JACOBIAN_NORM).is_nan()
    );
    let reason = t.reason.clone().unwrap_or_default();
    assert!(
        reason.contains("Jacobian") && reason.contains("point 0") && reason.contains("NaN"),
        "{reason}"
    );
    let jsonl = tmp.path().join("t.jsonl");
    let export = occam(&[
        "sweep",
        "export",
        store.to_str().unwrap(),
        "--jsonl",
        jsonl.to_str().unwrap(),
    ]);
    assert!(export.status.success());
    let row: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&jsonl).unwrap().trim()).unwrap();
    assert_eq!(row["status"], "non_finite");
    assert!(row["jacobian_norm"].is_null(), "{row}");
}

#[test]
fn training_on_an_empty_split_is_an_error_not_an_accuracy_of_zero() {
    use occam::compute::Compute;
    use occam::data::{Dataset, Splits};
    let set = |n: usize| Dataset {
        inputs: common::lcg_vec(5, n * 4),
        labels: (0..n).map(|i| (i % 2) as u16).collect(),
        shape: [2, 2, 1],
        classes: 2,
    };
    let config = occam::train::TrainConfig {
        width: 4,
        depth: 2,
        steps: 3,
        batch: 2,
        ..Default::default()
    };
    for (train, test, empty) in [(set(0), set(4), "training"), (set(4), set(0), "test")] {
        let splits = Splits {
            name: "tiny".into(),
            train,
            validation: None,
            test,
        };
        let e = occam::train::train(&config, &splits, &Compute::single())
            .err()
            .unwrap_or_else(|| panic!("training with an empty {empty} split succeeded"))
            .to_string();
        assert!(e.contains(&format!("the {empty} split has no examples")), "{e}");
    }
}

#[test]
fn bench_refuses_sample_counts_that_cannot_form_a_loop() {
    for k in ["0", "1"] {
        let out = occam(&["bench", "transitions", "--quick", "--sample-k", k]);
        common::refused(&out, &[&format!("--sample-k = {k}"), "2 to 1073741824"]);
    }
    common::refused(
        &occam(&["bench", "train", "--quick", "--shards", "0"]),
        &["--shards = 0"],
    );
}
