//! `occam train` / `occam evaluate` end to end, as a user runs them, on a fixture dataset
//! written in the real IDX format.

mod common;

use common::{occam, ok};

use serde_json::Value;
use std::path::Path;

fn metrics(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap()
}

fn fixture() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    common::write_mnist_like(&tmp.path().join("data"), 600, 200, 8, true);
    let spec = format!("mnist:{}", tmp.path().join("data").display());
    (tmp, spec)
}

fn numbers_without_timing(mut m: Value) -> Value {
    m.as_object_mut().unwrap().remove("wall_seconds");
    m
}

#[test]
fn train_writes_model_and_metrics_and_is_reproducible() {
    let (tmp, data) = fixture();
    let run = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        ok(&[
            "train",
            "--data",
            &data,
            "--width",
            "32",
            "--depth",
            "3",
            "--steps",
            "120",
            "--batch",
            "32",
            "--seed",
            seed,
            "--augment",
            "--save-init",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    };
    let (a, b, c) = (run("a", "1"), run("b", "1"), run("c", "2"));
    let m = metrics(&a);
    for key in [
        "train_accuracy",
        "test_accuracy",
        "train_loss",
        "test_loss",
        "generalization_gap",
        "steps",
        "status",
        "wall_seconds",
        "config",
    ] {
        assert!(m.get(key).is_some(), "metrics.json lacks {key}");
    }
    assert_eq!(m["status"], "completed");
    assert_eq!(m["steps"], 120);
    assert_eq!(m["config"]["augment"]["translate"], 4);
    let gap = m["train_accuracy"].as_f64().unwrap() - m["test_accuracy"].as_f64().unwrap();
    assert!((m["generalization_gap"].as_f64().unwrap() - gap).abs() < 1e-12);
    assert!(a.join("model.safetensors").is_file() && a.join("model_init.safetensors").is_file());
    assert_eq!(numbers_without_timing(metrics(&a)), numbers_without_timing(metrics(&b)));
    assert_eq!(
        std::fs::read(a.join("model.safetensors")).unwrap(),
        std::fs::read(b.join("model.safetensors")).unwrap()
    );
    assert_ne!(metrics(&a)["train_loss"], metrics(&c)["train_loss"]);

    // `occam evaluate` on the saved network reproduces the training run's evaluation.
    let out = ok(&[
        "evaluate",
        "--model",
        a.join("model.safetensors").to_str().unwrap(),
        "--data",
        &data,
    ]);
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["train_accuracy", "test_accuracy", "train_loss", "test_loss"] {
        assert_eq!(e[key], m[key], "{key}");
    }
}

#[test]
fn options_come_from_toml_and_the_command_line_wins() {
    let (tmp, data) = fixture();
    let cfg = tmp.path().join("run.toml");
    std::fs::write(&cfg, format!("data = \"{data}\"\nwidth = 16\ndepth = 2\noptimizer = \"adam\"\nlr = 0.001\nsteps = 30\nbatch = 16\n[augment]\nhflip = true\n")).unwrap();
    let out = tmp.path().join("r");
    ok(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--steps",
        "40",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let c = &metrics(&out)["config"];
    assert_eq!(
        (c["width"].as_u64(), c["optimizer"].as_str(), c["steps"].as_u64()),
        (Some(16), Some("adam"), Some(40))
    );
    assert_eq!(c["augment"]["hflip"], true);
}

#[test]
fn every_optimizer_trains_and_a_diverging_run_is_a_result() {
    let (tmp, data) = fixture();
    for (opt, lr) in [
        ("sgd", "0.05"),
        ("momentum", "0.01"),
        ("adam", "0.001"),
        ("rmsprop", "0.001"),
        ("lbfgs", "1"),
    ] {
        let out = tmp.path().join(opt);
        ok(&[
            "train",
            "--data",
            &data,
            "--width",
            "16",
            "--depth",
            "2",
            "--optimizer",
            opt,
            "--lr",
            lr,
            "--steps",
            "60",
            "--batch",
            "32",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ]);
        let m = metrics(&out);
        assert_ne!(m["status"], "diverged", "{opt}");
        assert!(m["train_accuracy"].as_f64().unwrap() > 0.3, "{opt} did not learn: {m}");
    }
    let out = tmp.path().join("diverge");
    ok(&[
        "train",
        "--data",
        &data,
        "--width",
        "64",
        "--depth",
        "3",
        "--init-scale",
        "1e25",
        "--optimizer",
        "sgd",
        "--lr",
        "0.01",
        "--steps",
        "200",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let m = metrics(&out);
    assert_eq!(m["status"], "diverged", "{m}");
    assert!((m["steps"].as_u64().unwrap()) < 200);
}

#[test]
fn stop_at_100_ends_early_on_a_fittable_set() {
    let (tmp, data) = fixture();
    let out = tmp.path().join("fit");
    ok(&[
        "train",
        "--data",
        &data,
        "--train-size",
        "64",
        "--width",
        "128",
        "--depth",
        "2",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--batch",
        "32",
        "--steps",
        "5000",
        "--stop-at-100",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let m = metrics(&out);
    assert_eq!(m["status"], "reached_100", "{m}");
    assert_eq!(m["train_accuracy"], 1.0);
    assert!(m["steps"].as_u64().unwrap() < 5000);
    assert_eq!(m["train_examples"], 64);
}

#[test]
fn bad_input_fails_cleanly_naming_the_culprit() {
    let (tmp, data) = fixture();
    let out = tmp.path().join("x");
    let o = out.to_str().unwrap();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec!["--data".into(), "mnist:/no/such/dir".into()],
            "/no/such/dir".into(),
        ),
        (
            vec!["--data".into(), data.clone(), "--depth".into(), "0".into()],
            "--depth = 0 is out of range: valid values are 1 to 1000".into(),
        ),
        (
            vec!["--data".into(), data.clone(), "--activation".into(), "swish".into()],
            "unknown activation 'swish'".into(),
        ),
        (vec!["--config".into(), "/no/such.toml".into()], "/no/such.toml".into()),
    ];
    for (extra, want) in cases {
        let mut args = vec!["train".to_string(), "--quiet".into(), "--out".into(), o.into()];
        args.extend(extra);
        let res = occam(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&res.stderr);
        assert!(!res.status.success(), "{args:?} should fail");
        assert!(err.contains(&want), "{args:?}: '{err}' should mention '{want}'");
        assert!(!err.contains("panicked"), "{err}");
    }
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "widht = 3\n").unwrap();
    let res = occam(&["train", "--config", cfg.to_str().unwrap(), "--out", o]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        !res.status.success() && err.contains("bad.toml") && err.contains("widht"),
        "{err}"
    );
    let res = occam(&["evaluate", "--model", cfg.to_str().unwrap(), "--data", &data]);
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        !res.status.success() && err.contains("bad.toml") && err.contains("not a safetensors file"),
        "{err}"
    );
}

#[test]
fn train_log_records_intervals_without_changing_the_run() {
    let (tmp, data) = fixture();
    let run = |name: &str, every: &str| {
        let out = tmp.path().join(name);
        ok(&[
            "train",
            "--data",
            &data,
            "--width",
            "16",
            "--depth",
            "2",
            "--steps",
            "95",
            "--batch",
            "32",
            "--log-every",
            every,
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        out
    };
    let (logged, silent) = (run("logged", "10"), run("silent", "0"));
    let model = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert_eq!(model(&logged), model(&silent), "logging must not change the run");
    assert!(!silent.join("train_log.csv").exists());
    let text = std::fs::read_to_string(logged.join("train_log.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,epoch,loss,batch_accuracy,lr"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let steps: Vec<f64> = rows.iter().map(|r| r[0]).collect();
    let want: Vec<f64> = (1..=9).map(|k| 10.0 * k as f64).chain([95.0]).collect();
    assert_eq!(steps, want);
    // 600 examples in batches of 32: 18 steps an epoch.
    assert_eq!(rows.last().unwrap()[1], (95 / 18) as f64);
    assert!(
        rows.iter()
            .all(|r| r[2].is_finite() && r[2] > 0.0 && (0.0..=1.0).contains(&r[3]) && r[4] == 0.005)
    );
    assert!(rows.last().unwrap()[2] < rows[0][2], "the loss falls: {text}");
}

#[test]
fn help_shows_every_default_and_defaults_never_override_a_config_file() {
    let help = String::from_utf8(ok(&["train", "--help"]).stdout).unwrap();
    for want in [
        "[default: 256]",
        "[default: 0.005]",
        "[default: momentum]",
        "[default: 0.1]",
        "[default: all]",
        "[default: fashion-mnist]",
    ] {
        assert!(help.contains(want), "train --help lacks {want}:\n{help}");
    }
    let (tmp, data) = fixture();
    let config = tmp.path().join("c.toml");
    std::fs::write(
        &config,
        format!("data = \"{data}\"\nwidth = 12\nlr = 0.02\nsteps = 5\n"),
    )
    .unwrap();
    let out = tmp.path().join("o");
    ok(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let m = metrics(&out);
    assert_eq!(
        (m["config"]["width"].as_u64(), m["config"]["lr"].as_f64()),
        (Some(12), Some(0.02))
    );
}

#[test]
fn a_reader_that_goes_away_stops_occam_quietly_not_with_a_panic() {
    // `occam evaluate … | head -c 0`: the pipe's read end is closed before occam prints.
    let (tmp, data) = fixture();
    let out = tmp.path().join("r");
    ok(&[
        "train",
        "--data",
        &data,
        "--width",
        "8",
        "--depth",
        "2",
        "--steps",
        "5",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let model = out.join("model.safetensors");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_occam"))
        .args(["evaluate", "--model", model.to_str().unwrap(), "--data", &data])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(done.status.code(), Some(141), "{err}");
}
